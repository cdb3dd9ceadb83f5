package failover

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/firebreak-go/firebreak"
)

// Retry calls again what failed with a retryable error, after an exponential
// backoff with jitter, within a limit of attempts, a limit of elapsed time,
// the caller's deadline and a retry budget. Build one with [NewRetry] per
// dependency; it is safe for concurrent use.
//
// A first attempt that succeeds costs no allocation: the backoff state is
// created only when a retry is needed.
type Retry[T any] struct {
	b binding
	m meter

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

// DefaultMaxRetryAfter is the longest wait a server's Retry-After gets by
// default ([WithMaxRetryAfter]).
const DefaultMaxRetryAfter = time.Minute

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
		maxRetryAfter: DefaultMaxRetryAfter,
	}
	for _, o := range opts {
		if o != nil {
			o.applyRetry(&c)
		}
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
	def(&c.maxRetryAfter, DefaultMaxRetryAfter)
	if c.multiplier == 0 {
		c.multiplier = 2
	}
	if c.budgetRatio == 0 && !c.noBudget {
		c.budgetRatio = 0.2
	}
	check(c.maxAttempts < 1, "MaxAttempts %d must be at least 1", c.maxAttempts)
	check(c.maxElapsed < 0, "MaxElapsed %v must be positive", c.maxElapsed)
	check(c.maxRetryAfter < 0, "MaxRetryAfter %v must be positive", c.maxRetryAfter)
	check(c.initialInterval < 0, "backoff initial %v must be positive", c.initialInterval)
	check(c.maxInterval < c.initialInterval, "backoff max %v must be at least initial %v", c.maxInterval, c.initialInterval)
	check(c.multiplier < 1, "backoff multiplier %v must be at least 1", c.multiplier)
	check(c.jitter < 0 || c.jitter > 1, "jitter %v must be between 0 and 1", c.jitter)
	check(c.budgetRatio < 0 || c.budgetRatio > 1, "budget ratio %v must be between 0 and 1", c.budgetRatio)
	check(c.budgetWindow < 0, "budget window %v must be positive", c.budgetWindow)
	check(c.budgetMin < 0, "budget minRetries %d must not be negative", c.budgetMin)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := newMeter("retry", c.meterProvider)
	if err != nil {
		return nil, err
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
	r.b.init(c.component)
	return r, nil
}

// Bind implements [firebreak.Binder].
func (r *Retry[T]) Bind(c firebreak.Component) error { return r.b.bind("retry", c) }

// Stage implements [firebreak.Staged]: [firebreak.StageRetry].
func (r *Retry[T]) Stage() firebreak.Stage { return firebreak.StageRetry }

// Execute runs fn under the policy, for use without a pipeline.
func (r *Retry[T]) Execute(ctx context.Context, fn firebreak.Func[T]) (T, error) {
	return r.Apply(ctx, firebreak.Call(fn))
}

// Apply implements [firebreak.Policy].
func (r *Retry[T]) Apply(ctx context.Context, next firebreak.Next[T]) (T, error) {
	if r.budget != nil {
		r.budget.call()
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
		if ra, ok := RetryAfterOf(err); ok && ra > delay {
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
		r.m.add(&r.b, "retry")
		if cerr := sleep(ctx, delay); cerr != nil {
			return v, r.stop(attempt, StopContext, err, cerr)
		}
		v, err = next.Call(ctx)
		if err == nil {
			return v, nil
		}
	}
}

func (r *Retry[T]) retryable(ctx context.Context, err error) bool {
	if isCancellation(ctx, err) || IsRejection(err) {
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
	r.m.add(&r.b, "gave_up_"+string(reason))
	return &RetryError{Attempts: attempts, Reason: reason, Err: err, Cause: cause}
}

// StopReason says why a [Retry] stopped trying.
type StopReason string

// The reasons a retry stops.
const (
	StopAttempts StopReason = "attempts" // the attempt limit was reached
	StopElapsed  StopReason = "elapsed"  // the next attempt would start after the time limit
	StopDeadline StopReason = "deadline" // the next attempt would start after the caller's deadline
	StopBudget   StopReason = "budget"   // the retry budget is spent
	StopContext  StopReason = "context"  // the caller gave up while waiting
)

// ErrRetriesExhausted matches every [RetryError].
var ErrRetriesExhausted = errors.New("failover: retries exhausted")

// RetryError is returned when a retryable failure could not be mended: it
// wraps the last attempt's error (and, for [StopContext], the context's
// error), so errors.Is sees both, and it matches [ErrRetriesExhausted].
type RetryError struct {
	Attempts int        // attempts made
	Reason   StopReason // why no further attempt was made
	Err      error      // the last attempt's error
	Cause    error      // the context's error for StopContext, else nil
}

// Error implements error.
func (e *RetryError) Error() string {
	return fmt.Sprintf("failover: gave up after %d attempts (%s): %v", e.Attempts, e.Reason, e.Err)
}

// Unwrap returns the last attempt's error and, if any, the cause.
func (e *RetryError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// Is reports whether target is [ErrRetriesExhausted].
func (e *RetryError) Is(target error) bool { return target == ErrRetriesExhausted }
