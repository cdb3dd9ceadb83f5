package failover

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/sony/gobreaker/v2"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover/internal/event"
)

// Retry calls again what failed with a retryable error, after an exponential
// backoff with jitter, within a limit of attempts, a limit of elapsed time,
// the caller's deadline and a retry budget. Build one with [NewRetry] per
// dependency; it is safe for concurrent use. A pipeline binds it; used on its
// own, bind it with [Retry.Bind] or its events carry no identity.
//
// A first attempt that succeeds costs no allocation: the backoff state is
// created only when a retry is needed.
type Retry[T any] struct {
	b firebreak.Binding
	m event.Meter

	maxAttempts     int
	maxElapsed      time.Duration
	initialInterval time.Duration
	maxInterval     time.Duration
	multiplier      float64
	jitter          float64
	retryIf         func(error) bool
	onRetry         func(RetryEvent)
	maxRetryAfter   time.Duration

	budget      *budgetWindow // nil without a budget
	budgetRatio float64
	budgetMin   int64
}

var (
	_ firebreak.Policy[int] = (*Retry[int])(nil)
	_ firebreak.Binder      = (*Retry[int])(nil)
	_ firebreak.Staged      = (*Retry[int])(nil)
)

// RetryEvent describes a retry about to happen, for [WithOnRetry].
type RetryEvent struct {
	Attempt int           // the attempt that failed, from 1
	Err     error         // its error
	Delay   time.Duration // the wait before the next attempt
}

// defaultMaxRetryAfter is the longest wait a server's Retry-After gets by
// default ([WithMaxRetryAfter]).
const defaultMaxRetryAfter = time.Minute

// NewRetry returns a retry policy. Without options it makes up to 3 attempts
// within 30s, waiting 100ms, then 200ms (±50% jitter), retrying every error
// but local rejections and cancellation, with a budget of 20% of the calls
// over 10s (at least 10 retries per window), honouring a server's
// Retry-After up to 1 minute.
func NewRetry[T any](opts ...RetryOption) (*Retry[T], error) {
	c := retryConfig{
		maxAttempts: 3, maxElapsed: 30 * time.Second,
		initialInterval: 100 * time.Millisecond, maxInterval: 10 * time.Second, multiplier: 2,
		jitter: 0.5, budgetRatio: 0.2, budgetWindow: 10 * time.Second, budgetMin: 10,
		maxRetryAfter: defaultMaxRetryAfter,
	}
	if err := apply("NewRetry", opts, func(o RetryOption) { o.applyRetry(&c) }); err != nil {
		return nil, err
	}
	// Zero means the default; negative or out-of-range values are errors.
	var errs []error
	check := func(bad bool, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf("failover: NewRetry: "+format, args...))
		}
	}
	def := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	if c.maxAttempts == 0 {
		c.maxAttempts = 3
	}
	def(&c.maxElapsed, 30*time.Second)
	def(&c.initialInterval, 100*time.Millisecond)
	def(&c.maxInterval, 10*time.Second)
	def(&c.budgetWindow, 10*time.Second)
	def(&c.maxRetryAfter, defaultMaxRetryAfter)
	if c.multiplier == 0 {
		c.multiplier = 2
	}
	if c.budgetRatio == 0 && !c.noBudget {
		c.budgetRatio = 0.2
	}
	check(c.maxAttempts < 1, "WithMaxAttempts %d must be at least 1", c.maxAttempts)
	check(c.maxElapsed < 0, "WithMaxElapsed %v must be positive", c.maxElapsed)
	check(c.maxRetryAfter < 0, "WithMaxRetryAfter %v must be positive", c.maxRetryAfter)
	check(c.initialInterval < 0, "WithBackoff initial %v must be positive", c.initialInterval)
	check(c.maxInterval < c.initialInterval, "WithBackoff max %v must be at least initial %v", c.maxInterval, c.initialInterval)
	// NaN fails every comparison: test for the valid range, not the invalid.
	check(!(c.multiplier >= 1) || math.IsInf(c.multiplier, 0), "WithBackoff multiplier %v must be a finite number of at least 1", c.multiplier)
	check(!(c.jitter >= 0 && c.jitter <= 1), "WithJitter %v must be between 0 and 1", c.jitter)
	check(!(c.budgetRatio >= 0 && c.budgetRatio <= 1), "WithBudget ratio %v must be between 0 and 1", c.budgetRatio)
	// The backoff draws a delay of up to max × (1+jitter) in float64 and
	// converts it to a Duration: past the largest Duration the conversion
	// gives a negative delay, a retry without any wait.
	check(c.jitter >= 0 && float64(c.maxInterval)*(1+c.jitter) >= math.MaxInt64,
		"WithBackoff max %v with WithJitter %v overflows a time.Duration: max × (1+jitter) must be below %v", c.maxInterval, c.jitter, time.Duration(math.MaxInt64))
	check(c.budgetWindow < 0, "WithBudget window %v must be positive", c.budgetWindow)
	check(c.budgetMin < 0, "WithBudget minRetries %d must not be negative", c.budgetMin)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := event.NewMeter(scope, "retry", c.meterProvider)
	if err != nil {
		return nil, fmt.Errorf("failover: NewRetry: %w", err)
	}
	r := &Retry[T]{
		m: m, maxAttempts: c.maxAttempts, maxElapsed: c.maxElapsed,
		initialInterval: c.initialInterval, maxInterval: c.maxInterval, multiplier: c.multiplier,
		jitter: c.jitter, retryIf: c.retryIf, onRetry: c.onRetry, maxRetryAfter: c.maxRetryAfter,
		budgetRatio: c.budgetRatio, budgetMin: int64(c.budgetMin),
	}
	if !c.noBudget {
		r.budget = newBudgetWindow(c.budgetWindow)
	}
	return r, nil
}

// Bind implements [firebreak.Binder]: the first Bind fixes the identity the
// retry reports under; binding again to the same one does nothing, to
// another is an [*firebreak.AlreadyBoundError].
func (r *Retry[T]) Bind(c firebreak.Component) error {
	_, err := r.b.Bind("failover: retry", c)
	return err
}

// Stage implements [firebreak.Staged]: [firebreak.StageRetry].
func (r *Retry[T]) Stage() firebreak.Stage { return firebreak.StageRetry }

// Execute runs fn under the policy, for use without a pipeline.
func (r *Retry[T]) Execute(ctx context.Context, fn firebreak.Func[T]) (T, error) {
	return r.Apply(ctx, firebreak.Call(fn))
}

// Apply implements [firebreak.Policy].
func (r *Retry[T]) Apply(ctx context.Context, next firebreak.Next[T]) (T, error) {
	if r.budget != nil {
		// One clock reading serves the budget and the policies inside.
		now := next.Now()
		r.budget.call(now)
		next = next.At(now)
	}
	v, err := next.Call(ctx)
	if err == nil {
		return v, nil
	}
	return r.retry(ctx, next, v, err)
}

// retry is the slow path, entered after a failed first attempt. The time
// limit counts from here: the first attempt's own duration is not included.
func (r *Retry[T]) retry(ctx context.Context, next firebreak.Next[T], v T, err error) (T, error) {
	start := time.Now()
	var bo *backoff.ExponentialBackOff
	for attempt := 1; ; attempt++ {
		if !r.retryable(ctx, err) {
			return v, err
		}
		if attempt >= r.maxAttempts {
			return v, r.stop(attempt, StopAttempts, err, nil)
		}
		if bo == nil {
			bo = backoff.NewExponentialBackOff(
				backoff.WithInitialInterval(r.initialInterval),
				backoff.WithMaxInterval(r.maxInterval),
				backoff.WithMultiplier(r.multiplier),
				backoff.WithRandomizationFactor(r.jitter),
				backoff.WithMaxElapsedTime(0), // elapsed time is checked below, from the first failure
			)
		}
		delay := bo.NextBackOff()
		if ra, ok := retryAfterOf(err); ok && ra > delay {
			delay = max(delay, min(ra, r.maxRetryAfter))
		}
		// Compare the wait with what is left rather than adding it to the
		// time spent: a server's wait can be near the largest Duration,
		// and the sum would overflow into a negative that passes.
		now := time.Now()
		if delay > r.maxElapsed-now.Sub(start) {
			return v, r.stop(attempt, StopElapsed, err, nil)
		}
		if dl, ok := ctx.Deadline(); ok && delay > dl.Sub(now) {
			return v, r.stop(attempt, StopDeadline, err, nil)
		}
		if r.budget != nil && !r.budget.takeRetry(now.Sub(r.budget.base), r.budgetRatio, r.budgetMin) {
			return v, r.stop(attempt, StopBudget, err, nil)
		}
		if r.onRetry != nil {
			r.onRetry(RetryEvent{Attempt: attempt, Err: err, Delay: delay})
		}
		r.m.Add(&r.b, "retry")
		if cerr := event.Sleep(ctx, delay); cerr != nil {
			return v, r.stop(attempt, StopContext, err, cerr)
		}
		// After the wait, the policies inside read the clock themselves.
		v, err = next.At(0).Call(ctx)
		if err == nil {
			return v, nil
		}
	}
}

func (r *Retry[T]) retryable(ctx context.Context, err error) bool {
	if isCancellation(ctx, err) || rejected(err) {
		return false
	}
	var perm *backoff.PermanentError
	if errors.As(err, &perm) {
		return false
	}
	if r.retryIf != nil {
		return r.retryIf(err)
	}
	return true
}

func (r *Retry[T]) stop(attempts int, reason StopReason, err, cause error) error {
	r.m.Add(&r.b, "gave_up_"+string(reason))
	return &RetryError{Attempts: attempts, Reason: reason, Err: err, Cause: cause}
}

// rejected reports whether err is a local rejection, which is never retried:
// anywhere in its tree an error implementing [firebreak.Rejecter] (a
// [*ShedError], a [*DegradedError], an open breaker), or gobreaker's
// ErrOpenState or ErrTooManyRequests, which breakers built directly on
// gobreaker return. Retrying a local rejection only adds load to what is
// already protecting itself. It does not allocate.
func rejected(err error) bool {
	return firebreak.IsRejected(err) ||
		errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests)
}

// retryAfterOf returns the wait requested by the first error in err's tree
// that has a RetryAfter() time.Duration method, such as [RetryAfterError],
// [StatusError] and [ShedError].
func retryAfterOf(err error) (time.Duration, bool) {
	var d time.Duration
	found := walk(err, func(e error) bool {
		if ra, ok := e.(interface{ RetryAfter() time.Duration }); ok {
			d = ra.RetryAfter()
			return true
		}
		return false
	})
	return d, found
}

// CheckResponse returns nil for a response with a status below 400 and a
// [*StatusError] otherwise, with the Retry-After header parsed (relative to
// now): either delay-seconds or an HTTP date. A Retry-After that is neither,
// or is negative, or overflows a duration, is ignored. It does not read or
// close the body.
func CheckResponse(resp *http.Response) error {
	if resp.StatusCode < 400 {
		return nil
	}
	e := &StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
	if e.Status == "" {
		e.Status = fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	if v := resp.Header.Get("Retry-After"); v != "" {
		if d, err := parseRetryAfter(v, time.Now()); err == nil {
			e.After = d
		}
	}
	return e
}

// RetryHTTP is a classifier for [WithRetryIf]: an HTTP [StatusError] is
// retried only if it is temporary (408, 429, most 5xx); any other error (a
// transport error: a reset connection, a timeout) is retried.
func RetryHTTP(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	return true
}

// parseRetryAfter parses the value of an HTTP Retry-After header, either
// delay-seconds ("120") or an HTTP date, relative to now. A date in the past
// gives 0. A negative number of seconds, or one too large for a
// [time.Duration] (more than 9223372036, about 292 years), is an error,
// never a negative or wrapped-around duration.
func parseRetryAfter(value string, now time.Time) (time.Duration, error) {
	value = strings.TrimSpace(value)
	if rest := strings.TrimLeft(strings.TrimPrefix(value, "-"), "0123456789"); rest == "" && value != "" && value != "-" {
		if value[0] == '-' {
			return 0, fmt.Errorf("failover: Retry-After %q is negative", value)
		}
		secs, err := strconv.ParseInt(value, 10, 64)
		if err != nil || secs > maxRetryAfterSeconds {
			return 0, fmt.Errorf("failover: Retry-After %q seconds overflows a duration (at most %d)", value, maxRetryAfterSeconds)
		}
		return time.Duration(secs) * time.Second, nil
	}
	t, err := http.ParseTime(value)
	if err != nil {
		return 0, fmt.Errorf("failover: Retry-After %q is neither seconds nor an HTTP date", value)
	}
	return max(t.Sub(now), 0), nil
}

// maxRetryAfterSeconds is the largest delay-seconds a Duration holds.
const maxRetryAfterSeconds = int64(math.MaxInt64 / time.Second)
