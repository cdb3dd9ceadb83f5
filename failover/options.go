package failover

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/firebreak-go/firebreak"
)

// common is what every constructor in the package accepts.
type common struct {
	component     *firebreak.Component
	meterProvider metric.MeterProvider
}

// Option configures any of the package's constructors: it is a
// [RetryOption], [FallbackOption], [FailoverOption], [ShedOption],
// [DegraderOption], [RolloutOption] and [TimeoutOption] at once.
type Option interface {
	RetryOption
	FallbackOption
	FailoverOption
	ShedOption
	DegraderOption
	RolloutOption
	TimeoutOption
}

type commonOption func(*common)

func (f commonOption) applyRetry(c *retryConfig)       { f(&c.common) }
func (f commonOption) applyFallback(c *fallbackConfig) { f(&c.common) }
func (f commonOption) applyFailover(c *failoverConfig) { f(&c.common) }
func (f commonOption) applyShed(c *shedConfig)         { f(&c.common) }
func (f commonOption) applyDegrader(c *degraderConfig) { f(&c.common) }
func (f commonOption) applyRollout(c *rolloutConfig)   { f(&c.common) }
func (f commonOption) applyTimeout(c *timeoutConfig)   { f(&c.common) }

// WithComponent sets the identity the policy reports under when it is used on
// its own. A [firebreak.Pipeline] binds its own component, so inside a
// pipeline this option is not needed; if both are given they must agree.
// Without it a standalone policy reports nothing.
func WithComponent(c firebreak.Component) Option {
	return commonOption(func(o *common) { o.component = &c })
}

// WithMeterProvider sets where the policy's metrics go. The default is the
// global provider, otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option {
	return commonOption(func(o *common) { o.meterProvider = mp })
}

// ---------------------------------------------------------------- retry

// RetryOption configures [NewRetry].
type RetryOption interface{ applyRetry(*retryConfig) }

type retryOption func(*retryConfig)

func (f retryOption) applyRetry(c *retryConfig) { f(c) }

type retryConfig struct {
	common
	maxAttempts     int
	maxElapsed      time.Duration
	initialInterval time.Duration
	maxInterval     time.Duration
	multiplier      float64
	jitter          float64
	jitterSet       bool
	retryIf         func(error) bool
	budgetRatio     float64
	budgetWindow    time.Duration
	budgetMin       int
	noBudget        bool
	onRetry         func(RetryEvent)
	maxRetryAfter   time.Duration
}

// WithMaxAttempts limits the attempts of one call, the first included. The
// default is 3; 1 disables retrying.
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

// WithMaxRetryAfter caps the wait a server may ask for with Retry-After
// ([RetryAfterOf]): a longer request is clamped to d. Whatever the cap, a
// wait that would end after the [WithMaxElapsed] limit or the caller's
// deadline is not started: the retry gives up at once. Default: 1 minute.
func WithMaxRetryAfter(d time.Duration) RetryOption {
	return retryOption(func(c *retryConfig) { c.maxRetryAfter = d })
}

// WithBackoff sets the exponential backoff between attempts: the first delay,
// the largest delay and the growth factor (at least 1). The defaults are
// 100ms, 10s and 2.
func WithBackoff(initial, max time.Duration, multiplier float64) RetryOption {
	return retryOption(func(c *retryConfig) {
		c.initialInterval, c.maxInterval, c.multiplier = initial, max, multiplier
	})
}

// WithJitter sets the randomisation factor of the backoff, from 0 (no jitter)
// to 1: each delay is drawn from [d·(1−f), d·(1+f)]. The default is 0.5.
func WithJitter(f float64) RetryOption {
	return retryOption(func(c *retryConfig) { c.jitter, c.jitterSet = f, true })
}

// WithRetryIf sets which errors are worth another attempt. By default every
// error is. Whatever the classifier says, local rejections ([IsRejection]:
// an open breaker, a shed request) and the caller's cancellation are never
// retried.
func WithRetryIf(retryable func(error) bool) RetryOption {
	return retryOption(func(c *retryConfig) { c.retryIf = retryable })
}

// WithBudget caps retries at ratio (0 to 1) of the calls made over the last
// window, with minRetries allowed per window whatever the traffic, so a
// failing dependency sees at most (1+ratio)× its normal load instead of
// MaxAttempts×. The default is 0.2 over 10s with a floor of 10. A zero ratio
// or window takes its default; minRetries 0 means no floor.
func WithBudget(ratio float64, window time.Duration, minRetries int) RetryOption {
	return retryOption(func(c *retryConfig) {
		c.budgetRatio, c.budgetWindow, c.budgetMin = ratio, window, minRetries
	})
}

// WithoutBudget removes the retry budget: every retryable failure is retried
// up to the attempt and time limits.
func WithoutBudget() RetryOption {
	return retryOption(func(c *retryConfig) { c.noBudget = true })
}

// WithOnRetry sets a function called before each retry with the attempt that
// failed and the delay chosen. It runs on the caller's goroutine, holding no
// lock; it must not block.
func WithOnRetry(f func(RetryEvent)) RetryOption {
	return retryOption(func(c *retryConfig) { c.onRetry = f })
}

// ---------------------------------------------------------------- fallback

// FallbackOption configures [NewFallback].
type FallbackOption interface{ applyFallback(*fallbackConfig) }

type fallbackOption func(*fallbackConfig)

func (f fallbackOption) applyFallback(c *fallbackConfig) { f(c) }

type fallbackConfig struct {
	common
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

// WithMaxKeys bounds how many keys [WithLastGood] keeps a value for. When it
// is full, a new key evicts one not used since the clock hand last passed it
// (the CLOCK approximation of least recently used), preferring values too
// old to serve. Default: [DefaultMaxKeys].
func WithMaxKeys(n int) FallbackOption {
	return fallbackOption(func(c *fallbackConfig) { c.maxKeys = n })
}

// WithFallbackIf sets which errors get a fallback. By default every error
// does, except the caller's own cancellation.
func WithFallbackIf(f func(error) bool) FallbackOption {
	return fallbackOption(func(c *fallbackConfig) { c.fallbackIf = f })
}

// ---------------------------------------------------------------- failover

// FailoverOption configures [NewFailover].
type FailoverOption interface{ applyFailover(*failoverConfig) }

type failoverOption func(*failoverConfig)

func (f failoverOption) applyFailover(c *failoverConfig) { f(c) }

type failoverConfig struct {
	common
	ejectAfter   int
	ejectFor     time.Duration
	maxEjected   float64
	failoverIf   func(error) bool
	maxEjectedOn bool
}

// WithEjection sets passive outlier ejection: an endpoint that fails
// consecutive calls in a row is taken out of rotation for the given time,
// and at most maxShare (0 to 1) of the endpoints may be out at once — at
// least one is always allowed, as in Envoy. The defaults are 5 failures, 30s
// and 0.5.
func WithEjection(consecutive int, ejectFor time.Duration, maxShare float64) FailoverOption {
	return failoverOption(func(c *failoverConfig) {
		c.ejectAfter, c.ejectFor, c.maxEjected, c.maxEjectedOn = consecutive, ejectFor, maxShare, true
	})
}

// WithFailoverIf sets which errors move the call to the next endpoint. By
// default every error does, except the caller's own cancellation.
func WithFailoverIf(f func(error) bool) FailoverOption {
	return failoverOption(func(c *failoverConfig) { c.failoverIf = f })
}

// ---------------------------------------------------------------- shedding

// ShedOption configures [NewShedder].
type ShedOption interface{ applyShed(*shedConfig) }

type shedOption func(*shedConfig)

func (f shedOption) applyShed(c *shedConfig) { f(c) }

type shedConfig struct {
	common
	maxConcurrent   int
	criticalReserve float64
	reserveSet      bool
	sustain         time.Duration
	quiet           time.Duration
	requestPriority func(*http.Request) Priority
}

// WithMaxConcurrent limits the calls in flight. The default, 0, is no limit.
func WithMaxConcurrent(n int) ShedOption {
	return shedOption(func(c *shedConfig) { c.maxConcurrent = n })
}

// WithCriticalReserve sets the share (0 to less than 1) of the burst and of
// the concurrency limit that only [PriorityCritical] traffic may use, so
// critical calls keep flowing when the rest is shed: the other classes may
// not take the last share×burst tokens of the bucket (rounded down; at least
// one token is left to them, so a burst of 1 has no reserve) nor more than
// (1−share) of the places in flight. Critical calls are admitted first from
// every token that refills, up to the whole rate; see [Shedder]. A larger
// burst gives the reserve more room for critical calls arriving together.
// 0 means no reserve: all classes alike. Default: 0.2.
func WithCriticalReserve(share float64) ShedOption {
	return shedOption(func(c *shedConfig) { c.criticalReserve, c.reserveSet = share, true })
}

// WithSustain sets when shedding counts as sustained: the load_shed signal
// fires once requests have been shed for at least after without a pause of
// quiet, and clears after quiet without a shed. The defaults are 10s and 10s.
func WithSustain(after, quiet time.Duration) ShedOption {
	return shedOption(func(c *shedConfig) { c.sustain, c.quiet = after, quiet })
}

// WithRequestPriority sets how the HTTP middleware classifies a request. By
// default it uses the priority in the request's context
// ([PriorityFromContext]).
func WithRequestPriority(f func(*http.Request) Priority) ShedOption {
	return shedOption(func(c *shedConfig) { c.requestPriority = f })
}

// ---------------------------------------------------------------- degradation

// DegraderOption configures [NewDegrader].
type DegraderOption interface{ applyDegrader(*degraderConfig) }

type degraderOption func(*degraderConfig)

func (f degraderOption) applyDegrader(c *degraderConfig) { f(c) }

type degraderConfig struct {
	common
	switches []string
	rule     func(firebreak.Incident) Mode
}

// WithSwitches declares the named kill switches, all on (the feature enabled)
// at start. Switches are fixed at construction so that reading one is a map
// read and an atomic load.
func WithSwitches(names ...string) DegraderOption {
	return degraderOption(func(c *degraderConfig) { c.switches = append(c.switches, names...) })
}

// WithModeRule sets the mode an open incident calls for. The default,
// [DefaultModeRule], asks for Minimal on a Fatal incident affecting a core
// component, Degraded on any other Fatal or Severe incident, and Normal
// otherwise.
func WithModeRule(rule func(firebreak.Incident) Mode) DegraderOption {
	return degraderOption(func(c *degraderConfig) { c.rule = rule })
}

// ---------------------------------------------------------------- rollout

// RolloutOption configures [NewRollout].
type RolloutOption interface{ applyRollout(*rolloutConfig) }

type rolloutOption func(*rolloutConfig)

func (f rolloutOption) applyRollout(c *rolloutConfig) { f(c) }

type rolloutConfig struct {
	common
	hooks        []namedHook
	hookAttempts int
	hookBackoff  time.Duration
}

type namedHook struct {
	name string
	fn   RollbackHook
}

// WithRollbackHook adds a step of the rollback: redeploy the stable version,
// flip a flag, move traffic. Hooks run in the order given; a hook that fails
// is retried (see [WithHookRetries]) and, if it still fails, the rollback
// fails and the steps after it are not run. Without hooks a rollback only
// moves the registry's current version back.
func WithRollbackHook(name string, hook RollbackHook) RolloutOption {
	return rolloutOption(func(c *rolloutConfig) { c.hooks = append(c.hooks, namedHook{name, hook}) })
}

// WithHookRetries sets how many times each rollback hook is tried and the
// first backoff delay between tries (doubling, with jitter). The defaults are
// 3 and 1s.
func WithHookRetries(attempts int, initial time.Duration) RolloutOption {
	return rolloutOption(func(c *rolloutConfig) { c.hookAttempts, c.hookBackoff = attempts, initial })
}

// ---------------------------------------------------------------- timeout

// TimeoutOption configures [NewTimeout].
type TimeoutOption interface{ applyTimeout(*timeoutConfig) }

type timeoutOption func(*timeoutConfig)

func (f timeoutOption) applyTimeout(c *timeoutConfig) { f(c) }

type timeoutConfig struct {
	common
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
