package failover

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/firebreak-go/firebreak"
)

// Each constructor takes its own option type: [RetryOption],
// [FallbackOption], [FailoverOption], [ShedderOption], [DegraderOption],
// [TimeoutOption], [BulkheadOption], [HedgeOption] and [LimiterOption]. An
// [Option] is all of them at once.

// Option configures any constructor of the package: it is a [RetryOption],
// [FallbackOption], [FailoverOption], [ShedderOption], [DegraderOption],
// [TimeoutOption], [BulkheadOption], [HedgeOption] and [LimiterOption] at
// once. [WithMeterProvider] is one.
type Option interface {
	RetryOption
	FallbackOption
	FailoverOption
	ShedderOption
	DegraderOption
	TimeoutOption
	BulkheadOption
	HedgeOption
	LimiterOption
}

// scope is the instrumentation scope of the package's meter.
const scope = "github.com/firebreak-go/firebreak/failover"

// shared is what every constructor accepts.
type shared struct {
	meterProvider metric.MeterProvider
}

type sharedOption func(*shared)

func (f sharedOption) applyRetry(c *retryConfig)       { f(&c.shared) }
func (f sharedOption) applyFallback(c *fallbackConfig) { f(&c.shared) }
func (f sharedOption) applyFailover(c *failoverConfig) { f(&c.shared) }
func (f sharedOption) applyShedder(c *shedderConfig)   { f(&c.shared) }
func (f sharedOption) applyDegrader(c *degraderConfig) { f(&c.shared) }
func (f sharedOption) applyTimeout(c *timeoutConfig)   { f(&c.shared) }

// WithMeterProvider sets where the policy's metrics go; nil means the global
// provider. Default: otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option {
	return sharedOption(func(o *shared) { o.meterProvider = mp })
}

// apply applies opts in order; a nil option is an error naming its index.
func apply[O any](fn string, opts []O, do func(O)) error {
	for i, o := range opts {
		if any(o) == nil {
			return fmt.Errorf("failover: %s: option %d is nil", fn, i)
		}
		do(o)
	}
	return nil
}

// ---------------------------------------------------------------- retry

// RetryOption configures [NewRetry].
type RetryOption interface{ applyRetry(*retryConfig) }

type retryOption func(*retryConfig)

func (f retryOption) applyRetry(c *retryConfig) { f(c) }

type retryConfig struct {
	shared
	maxAttempts     int
	maxElapsed      time.Duration
	initialInterval time.Duration
	maxInterval     time.Duration
	multiplier      float64
	jitter          float64
	retryIf         func(error) bool
	budgetRatio     float64
	budgetWindow    time.Duration
	budgetMin       int
	noBudget        bool
	onRetry         func(RetryEvent)
	maxRetryAfter   time.Duration
}

// WithMaxAttempts limits the attempts of one call, the first included; 1
// disables retrying, 0 keeps the default. Default: 3.
func WithMaxAttempts(n int) RetryOption {
	return retryOption(func(c *retryConfig) { c.maxAttempts = n })
}

// WithMaxElapsed limits the time, counted from the end of the first
// attempt, after which no further attempt starts (so that a first attempt
// that succeeds reads no clock; the caller's deadline bounds the whole call).
// It holds without a deadline on the context: no wait, backoff or
// Retry-After, is started that would end past it. Default: 30s.
func WithMaxElapsed(d time.Duration) RetryOption {
	return retryOption(func(c *retryConfig) { c.maxElapsed = d })
}

// WithMaxRetryAfter caps the wait a server may ask for with Retry-After (an
// error with a RetryAfter() time.Duration method): a longer request is
// clamped to d. Whatever the cap, a wait that would end after the
// [WithMaxElapsed] limit or the caller's deadline is not started: the retry
// gives up at once. Default: 1 minute.
func WithMaxRetryAfter(d time.Duration) RetryOption {
	return retryOption(func(c *retryConfig) { c.maxRetryAfter = d })
}

// WithBackoff sets the exponential backoff between attempts: the first delay,
// the largest delay and the growth factor (at least 1); zero keeps a value's
// default. Default: 100ms, 10s and 2.
func WithBackoff(initial, max time.Duration, multiplier float64) RetryOption {
	return retryOption(func(c *retryConfig) {
		c.initialInterval, c.maxInterval, c.multiplier = initial, max, multiplier
	})
}

// WithJitter sets the randomisation factor of the backoff, from 0 (no jitter)
// to 1: each delay is drawn from [d·(1−f), d·(1+f)]. Default: 0.5.
func WithJitter(f float64) RetryOption {
	return retryOption(func(c *retryConfig) { c.jitter = f })
}

// WithRetryIf sets which errors are worth another attempt. Whatever the
// classifier says, local rejections ([firebreak.IsRejected]: an open
// breaker, a shed request, a feature switched off; also gobreaker's
// ErrOpenState and ErrTooManyRequests), [backoff.Permanent] errors and the
// caller's cancellation are never retried. Default: every other error is.
//
// [backoff.Permanent]: https://pkg.go.dev/github.com/cenkalti/backoff/v4#Permanent
func WithRetryIf(retryable func(error) bool) RetryOption {
	return retryOption(func(c *retryConfig) { c.retryIf = retryable })
}

// WithBudget caps retries at ratio (0 to 1) of the calls made over the last
// window, with minRetries allowed per window whatever the traffic, so a
// failing dependency sees at most (1+ratio)× its normal load instead of
// MaxAttempts×. A zero ratio or window keeps its default; minRetries 0
// means no floor. Default: 0.2 over 10s with a floor of 10.
func WithBudget(ratio float64, window time.Duration, minRetries int) RetryOption {
	return retryOption(func(c *retryConfig) {
		c.budgetRatio, c.budgetWindow, c.budgetMin = ratio, window, minRetries
	})
}

// WithoutBudget removes the retry budget: every retryable failure is retried
// up to the attempt and time limits. Default: the budget of [WithBudget].
func WithoutBudget() RetryOption {
	return retryOption(func(c *retryConfig) { c.noBudget = true })
}

// WithOnRetry sets a function called before each retry with the attempt that
// failed and the delay chosen. It runs on the caller's goroutine, holding no
// lock; it must not block. Default: none.
func WithOnRetry(f func(RetryEvent)) RetryOption {
	return retryOption(func(c *retryConfig) { c.onRetry = f })
}

// ---------------------------------------------------------------- fallback

// FallbackOption configures [NewFallback].
type FallbackOption interface{ applyFallback(*fallbackConfig) }

type fallbackOption func(*fallbackConfig)

func (f fallbackOption) applyFallback(c *fallbackConfig) { f(c) }

type fallbackConfig struct {
	shared
	lastGoodMaxAge time.Duration
	lastGoodSet    bool
	key            func(context.Context) string
	maxKeys        int
	fallbackIf     func(error) bool
}

// WithLastGood serves, for a failed call, the last successful result of a
// call with the same key, if it is at most maxAge old, before trying the
// fallback function. key gives a call's key — what the call asks for, such
// as a SKU or a user ID — and is required, so that one request is never
// answered with another's data:
//
//   - [FallbackKey] reads the key the caller put in the context with
//     [WithFallbackKey];
//   - a function of your own can derive it from the context;
//   - [SharedLastGood] keeps one value for every call, for calls that all
//     ask the same thing (a configuration document, a price list): an
//     explicit choice, never a default.
//
// A call whose key is "" neither stores nor gets a last-good value: it goes
// to the fallback function, or returns its error. The values kept are bounded
// by [WithMaxKeys]; each is refreshed at most every maxAge/100 (and at least
// every second), so keeping them costs the success path no allocation once a
// key is known. Default: off.
func WithLastGood(maxAge time.Duration, key func(context.Context) string) FallbackOption {
	return fallbackOption(func(c *fallbackConfig) { c.lastGoodMaxAge, c.key, c.lastGoodSet = maxAge, key, true })
}

// WithMaxKeys bounds how many keys [WithLastGood] keeps a value for; 0 keeps
// the default. When it is full, a new key evicts one not used since the
// clock hand last passed it (the CLOCK approximation of least recently
// used), preferring values too old to serve. It must be at most 1<<24: the
// cache is allocated up front. Default: 1024.
func WithMaxKeys(n int) FallbackOption {
	return fallbackOption(func(c *fallbackConfig) { c.maxKeys = n })
}

// WithFallbackIf sets which errors get a fallback. The caller's own
// cancellation never does. Default: every other error.
func WithFallbackIf(f func(error) bool) FallbackOption {
	return fallbackOption(func(c *fallbackConfig) { c.fallbackIf = f })
}

// ---------------------------------------------------------------- failover

// FailoverOption configures [NewFailover].
type FailoverOption interface{ applyFailover(*failoverConfig) }

type failoverOption func(*failoverConfig)

func (f failoverOption) applyFailover(c *failoverConfig) { f(c) }

type failoverConfig struct {
	shared
	ejectAfter   int
	ejectFor     time.Duration
	maxEjected   float64
	failoverIf   func(error) bool
	maxEjectedOn bool
	outlier      *OutlierEjection
}

// WithOutlierEjection adds statistical outlier ejection in Envoy's manner
// (success-rate and failure-percentage triggers over an interval, ejection
// time growing with each re-ejection up to a cap, with jitter, and a dry-run
// mode); see [OutlierEjection] for the fields and their defaults. The share
// of endpoints out at once is [WithEjection]'s maxShare. Default: off, only
// consecutive-failure ejection.
func WithOutlierEjection(o OutlierEjection) FailoverOption {
	return failoverOption(func(c *failoverConfig) { c.outlier = &o })
}

// WithEjection sets passive outlier ejection: an endpoint that fails
// consecutive calls in a row is taken out of rotation for ejectFor, and at
// most maxShare (0 to 1) of the endpoints may be out at once — at least one
// is always allowed, as in Envoy. A zero consecutive or ejectFor keeps its
// default. Default: 5 failures, 30s and 0.5.
func WithEjection(consecutive int, ejectFor time.Duration, maxShare float64) FailoverOption {
	return failoverOption(func(c *failoverConfig) {
		c.ejectAfter, c.ejectFor, c.maxEjected, c.maxEjectedOn = consecutive, ejectFor, maxShare, true
	})
}

// WithFailoverIf sets which errors move the call to the next endpoint. The
// caller's own cancellation never does. Default: every other error.
func WithFailoverIf(f func(error) bool) FailoverOption {
	return failoverOption(func(c *failoverConfig) { c.failoverIf = f })
}

// ---------------------------------------------------------------- shedding

// ShedderOption configures [NewShedder].
type ShedderOption interface{ applyShedder(*shedderConfig) }

type shedderOption func(*shedderConfig)

func (f shedderOption) applyShedder(c *shedderConfig) { f(c) }

type shedderConfig struct {
	shared
	maxConcurrent   int
	criticalReserve float64
	sustain         time.Duration
	quiet           time.Duration
	requestPriority func(*http.Request) Priority
	admitter        Admitter
	admitterSet     bool
}

// Admitter is a limit the shedder consults after its own: a fleet-wide rate
// limit shared by every replica (fleet.Limiter), say. Allow takes one unit
// and reports whether the limit had it; it must be fast and never block (no
// network call on the request path). It must be safe for concurrent use.
type Admitter interface{ Allow() bool }

// WithAdmitter makes the shedder consult a after its own limits: a request
// its own rate and concurrency limits admit is shed as rate_limited when a
// refuses it. [PriorityCritical] requests take their unit from a but are
// never refused by it, so that the shared limit sheds the other classes
// first and critical traffic keeps the local reserve's guarantee. Default:
// none.
func WithAdmitter(a Admitter) ShedderOption {
	return shedderOption(func(c *shedderConfig) { c.admitter = a; c.admitterSet = true })
}

// WithMaxConcurrent limits the calls in flight; 0 is no limit. Default: no
// limit.
func WithMaxConcurrent(n int) ShedderOption {
	return shedderOption(func(c *shedderConfig) { c.maxConcurrent = n })
}

// WithCriticalReserve sets the share (0 to less than 1) of the burst and of
// the concurrency limit that only [PriorityCritical] traffic may use, so
// critical calls keep flowing when the rest is shed: the other classes may
// not take the last share×burst tokens of the bucket (rounded down; at least
// one token is left to them, so a burst of 1 has no reserve) nor more than
// (1−share) of the places in flight. Critical calls are admitted first from
// every token that refills, up to the whole rate; see [Shedder]. A larger
// burst gives the reserve more room for critical calls arriving together.
//
// For an [AdaptiveLimiter] it is the share of the limit that only critical
// calls may use: normal calls may fill (1−share) of it and low calls half
// of that. 0 means no reserve: all classes alike. Default: 0.2.
func WithCriticalReserve(share float64) ReserveOption {
	return reserveOption(share)
}

// WithSustain sets when shedding counts as sustained: the load_shed signal
// fires once requests have been shed for at least after without a pause of
// quiet, and clears after quiet without a shed. For a [Bulkhead] and an
// [AdaptiveLimiter] it applies to their rejections in the same way. Zero
// keeps a value's default. Default: 10s and 10s.
func WithSustain(after, quiet time.Duration) SustainOption {
	return sustainOption{after, quiet}
}

// WithRequestPriority sets how [Shedder.Middleware] classifies a request.
// Default: the priority in the request's context ([PriorityFromContext]).
func WithRequestPriority(f func(*http.Request) Priority) ShedderOption {
	return shedderOption(func(c *shedderConfig) { c.requestPriority = f })
}

// ---------------------------------------------------------------- degradation

// DegraderOption configures [NewDegrader].
type DegraderOption interface{ applyDegrader(*degraderConfig) }

type degraderOption func(*degraderConfig)

func (f degraderOption) applyDegrader(c *degraderConfig) { f(c) }

type degraderConfig struct {
	shared
	switches []string
	rule     func(firebreak.Incident) Mode
}

// WithSwitches declares the named kill switches, all on (the feature enabled)
// at start. Switches are fixed at construction so that reading one is a map
// read and an atomic load. Default: none.
func WithSwitches(names ...string) DegraderOption {
	return degraderOption(func(c *degraderConfig) { c.switches = append(c.switches, names...) })
}

// WithModeRule sets the mode an open incident calls for. Default:
// [DefaultModeRule], Minimal on a Fatal incident affecting a core component,
// Degraded on any other Fatal or Severe incident, and Normal otherwise.
func WithModeRule(rule func(firebreak.Incident) Mode) DegraderOption {
	return degraderOption(func(c *degraderConfig) { c.rule = rule })
}

// ---------------------------------------------------------------- timeout

// TimeoutOption configures [NewTimeout].
type TimeoutOption interface{ applyTimeout(*timeoutConfig) }

type timeoutOption func(*timeoutConfig)

func (f timeoutOption) applyTimeout(c *timeoutConfig) { f(c) }

type timeoutConfig struct {
	shared
	abandon bool
}

// WithAbandon makes the timeout return at its deadline even when the call
// ignores its context: the call runs on a goroutine of its own, and when the
// deadline passes first the caller gets a [*TimeoutError] wrapping
// [context.DeadlineExceeded] while the call finishes unwatched (its result
// is dropped, a panic in it is recovered and counted as abandoned_panic).
// It costs a goroutine and two allocations more per call, and abandoned
// calls still hold what they hold until they end, so prefer calls that
// honour their context. Default: off, the timeout waits for the call.
func WithAbandon() TimeoutOption {
	return timeoutOption(func(c *timeoutConfig) { c.abandon = true })
}

// ---------------------------------------------------------------- shared by the overload policies

// SustainOption is what [WithSustain] returns: it configures a [Shedder], a
// [Bulkhead] and an [AdaptiveLimiter].
type SustainOption interface {
	ShedderOption
	BulkheadOption
	LimiterOption
}

type sustainOption struct{ after, quiet time.Duration }

func (o sustainOption) applyShedder(c *shedderConfig) { c.sustain, c.quiet = o.after, o.quiet }
func (o sustainOption) applyBulkhead(c *bulkheadConfig) {
	c.sustain, c.quiet = o.after, o.quiet
}
func (o sustainOption) applyLimiter(c *limiterConfig) { c.sustain, c.quiet = o.after, o.quiet }

// sustainConfig is when rejections count as sustained ([WithSustain]).
type sustainConfig struct{ sustain, quiet time.Duration }

func defaultSustain() sustainConfig {
	return sustainConfig{sustain: 10 * time.Second, quiet: 10 * time.Second}
}

// check fills zero values with their default and returns what is invalid.
func (c *sustainConfig) check(fn string) []error {
	if c.sustain < 0 || c.quiet < 0 {
		return []error{fmt.Errorf("failover: %s: WithSustain(%v, %v): durations must be positive", fn, c.sustain, c.quiet)}
	}
	if c.sustain == 0 {
		c.sustain = 10 * time.Second
	}
	if c.quiet == 0 {
		c.quiet = 10 * time.Second
	}
	return nil
}

// ReserveOption is what [WithCriticalReserve] returns: it configures a
// [Shedder] and an [AdaptiveLimiter].
type ReserveOption interface {
	ShedderOption
	LimiterOption
}

type reserveOption float64

func (o reserveOption) applyShedder(c *shedderConfig) { c.criticalReserve = float64(o) }
func (o reserveOption) applyLimiter(c *limiterConfig) {
	c.criticalReserve, c.reserveSet = float64(o), true
}

// ---------------------------------------------------------------- bulkhead

// BulkheadOption configures [NewBulkhead].
type BulkheadOption interface{ applyBulkhead(*bulkheadConfig) }

type bulkheadOption func(*bulkheadConfig)

func (f bulkheadOption) applyBulkhead(c *bulkheadConfig) { f(c) }

func (f sharedOption) applyBulkhead(c *bulkheadConfig) { f(&c.shared) }

type bulkheadConfig struct {
	shared
	sustainConfig
	queueSize int
	maxWait   time.Duration
}

// WithQueue lets up to size calls wait, first in first out, for a place in
// a full bulkhead, each for at most maxWait (which must be positive) and
// its context. A call that finds the queue full, or waits maxWait in vain,
// is rejected. Default: no queue, a call finding the bulkhead full is
// rejected at once.
func WithQueue(size int, maxWait time.Duration) BulkheadOption {
	return bulkheadOption(func(c *bulkheadConfig) { c.queueSize, c.maxWait = size, maxWait })
}

// ---------------------------------------------------------------- hedging

// HedgeOption configures [NewHedge].
type HedgeOption interface{ applyHedge(*hedgeConfig) }

type hedgeOption func(*hedgeConfig)

func (f hedgeOption) applyHedge(c *hedgeConfig) { f(c) }

func (f sharedOption) applyHedge(c *hedgeConfig) { f(&c.shared) }

type hedgeConfig struct {
	shared
	maxHedges    int
	delayFunc    func() time.Duration
	idempotent   bool
	budget       *budgetWindow
	ratio        float64
	minRetries   int64
	sharedBudget bool   // budget is a Retry's: the Retry counts the calls
	budgetErr    string // what is wrong with WithRetryBudget's argument
}

// WithMaxHedges sets how many hedged attempts one call may start, each a
// delay after the one before, while the earlier ones still run; 0 keeps the
// default. Default: 1.
func WithMaxHedges(n int) HedgeOption {
	return hedgeOption(func(c *hedgeConfig) { c.maxHedges = n })
}

// WithHedgeDelayFunc sets where the hedge delay comes from: f is called at
// most once a second, by a call, and its answer is the delay until the next
// refresh; an answer of zero or less keeps the fixed delay given to
// [NewHedge]. Use it to hedge at a quantile of the observed latency, for
// example the p90 of the tracing statistics of the dependency:
// func() time.Duration { return stats.Snapshot().P90 }. Default: the fixed
// delay.
func WithHedgeDelayFunc(f func() time.Duration) HedgeOption {
	return hedgeOption(func(c *hedgeConfig) { c.delayFunc = f })
}

// WithIdempotent says that every call through the hedge may safely be sent
// more than once, so every call is hedged. Without it only calls whose
// context says so ([ContextWithIdempotent]) are; a context saying false
// overrides it. Default: calls are not idempotent unless their context
// says so.
func WithIdempotent() HedgeOption {
	return hedgeOption(func(c *hedgeConfig) { c.idempotent = true })
}

// WithRetryBudget makes hedges draw on r's retry budget ([WithBudget]), so
// that retries and hedges together add at most the budget's share of
// load: when a dependency slows down for everyone, the hedges stop with the
// retries instead of doubling its load. r must have a budget. Default: a
// budget of the hedge's own, 20% of the calls over 10s with a floor of 10.
func WithRetryBudget[T any](r *Retry[T]) HedgeOption {
	return hedgeOption(func(c *hedgeConfig) {
		switch {
		case r == nil:
			c.budgetErr = "WithRetryBudget: retry is nil"
		case r.budget == nil:
			c.budgetErr = "WithRetryBudget: the retry has no budget (WithoutBudget)"
		default:
			c.budget, c.ratio, c.minRetries, c.sharedBudget = r.budget, r.budgetRatio, r.budgetMin, true
		}
	})
}

// ---------------------------------------------------------------- adaptive concurrency limit

// LimiterOption configures [NewAdaptiveLimiter].
type LimiterOption interface{ applyLimiter(*limiterConfig) }

type limiterOption func(*limiterConfig)

func (f limiterOption) applyLimiter(c *limiterConfig) { f(c) }

func (f sharedOption) applyLimiter(c *limiterConfig) { f(&c.shared) }

type limiterConfig struct {
	shared
	sustainConfig
	initial, min, max int
	tolerance         float64
	window            time.Duration
	minSamples        int
	criticalReserve   float64
	reserveSet        bool
	freezeIf          func(firebreak.Incident) bool
}

// WithLimits sets the limit's starting value and the range it moves in
// (1 ≤ min ≤ initial ≤ max); zero keeps a value's default. Default: 20, 1
// and 1000.
func WithLimits(initial, min, max int) LimiterOption {
	return limiterOption(func(c *limiterConfig) { c.initial, c.min, c.max = initial, min, max })
}

// WithLatencyTolerance sets how much slower than its long-run latency the
// dependency may answer before the limit falls: at a ratio of recent to
// long-run latency up to f the limit keeps growing, past it the limit
// shrinks in proportion (Netflix's Gradient2). f must be at least 1.
// Default: 1.5.
func WithLatencyTolerance(f float64) LimiterOption {
	return limiterOption(func(c *limiterConfig) { c.tolerance = f })
}

// WithSampleWindow sets how often the limit is recomputed: every d, from
// the calls that finished in it, if there were at least minSamples; zero
// keeps a value's default. While fewer calls ended, the window runs on.
// Default: 100ms and 10.
func WithSampleWindow(d time.Duration, minSamples int) LimiterOption {
	return limiterOption(func(c *limiterConfig) { c.window, c.minSamples = d, minSamples })
}

// WithFreezeIf sets which incidents freeze the limit, for a limiter
// registered on a Board as a [firebreak.Notifier]; it is called with each
// incident the Board notifies about. Default: an open incident whose fault
// domain is the bound dependency.
func WithFreezeIf(f func(firebreak.Incident) bool) LimiterOption {
	return limiterOption(func(c *limiterConfig) { c.freezeIf = f })
}
