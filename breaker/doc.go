// Package breaker isolates a failing dependency: a circuit breaker, built on
// [github.com/sony/gobreaker/v2]'s state machine, that fails calls fast while
// the dependency is down and reports its state changes into firebreak's
// incident model.
//
//	b, err := breaker.New[*Order](breaker.WithComponent(firebreak.Component{
//		Name: "checkout", Dependency: "orders-db", Tier: firebreak.Core, Reporter: board,
//	}))
//	...
//	order, err := b.Execute(ctx, func(ctx context.Context) (*Order, error) {
//		return db.Order(ctx, id)
//	})
//	if errors.Is(err, breaker.ErrOpen) { /* serve a fallback */ }
//
// A [Breaker] is also a [firebreak.Policy]: put it in a [firebreak.Pipeline]
// and it takes the pipeline's component, tier and Reporter, and its place in
// the default order (inside retries and fallbacks).
//
// # States
//
// Closed: calls go through and their outcomes are counted. Open: calls are
// rejected at once with an error matching [ErrOpen], for the open timeout.
// Half-open: after the timeout a bounded number of trial calls go through; if
// they all succeed the breaker closes, if one fails it opens again. Forced
// open: rejected until a person releases it (see Isolation by hand).
//
// # Trip rules and defaults
//
// The breaker opens when either rule holds (each can be turned off, not both):
//
//   - failure ratio: at least [DefaultFailureRatio] (50%) of the calls in the
//     rolling window failed, once the window holds [DefaultMinCalls] (20)
//     calls with an outcome ([WithFailureRatio]). The window is gobreaker's
//     bucketed rolling window, [DefaultWindow] (1 minute) of [DefaultBucket]
//     (10 s) buckets ([WithWindow]): old buckets leave it, so a failure onset
//     after hours of success is detected within one window.
//   - consecutive failures: [DefaultConsecutiveFailures] (5) failures in a row
//     ([WithConsecutiveFailures]), for dependencies with too little traffic
//     to fill the window.
//
// It stays open [DefaultOpenTimeout] (1 minute, [WithOpenTimeout]) and then
// lets [DefaultHalfOpenCalls] (1, [WithHalfOpenCalls]) trial calls through.
//
// # Outcomes
//
// Every call is counted as exactly one of:
//
//   - success: fn returned nil, or an error [WithIsFailure] does not count;
//   - failure: fn returned an error that counts (by default, any), or panicked;
//   - slow: fn succeeded but took the [WithSlowCall] threshold or longer (off
//     by default); it counts as a failure, and the caller still gets the
//     result;
//   - excluded: fn returned an error after the caller cancelled ctx
//     ([context.Canceled]: the caller gave up, which says nothing about the
//     dependency), or an error [WithIsExcluded] names. Excluded calls are
//     neither success nor failure and do not use up a half-open trial. A
//     deadline ([context.DeadlineExceeded]) is a failure: the dependency was
//     too slow.
//   - rejected: the breaker did not run fn.
//
// # Signals
//
// Every state change is reported as exactly one [firebreak.KindBreakerOpen]
// signal, in order: Firing while the breaker is not closed (open, half-open,
// forced open), cleared when it closes. The signal carries the component,
// dependency and tier, Fallback from [WithFallback], the failure ratio that
// tripped it as Value, a Summary for people, and Metrics "state" (0 closed, 1
// half-open, 2 open, 3 forced open) plus, when it tripped, "failure_ratio",
// "failures", "calls" and "consecutive_failures". Breakers of a [Group] add
// the label "key".
//
// gobreaker announces state changes while holding its mutex. The breaker only
// queues them there; the goroutine whose call caused the change reports them
// before its Execute returns, outside every lock. A Reporter may therefore call
// back into the breaker (read its state, run calls, force it open) without
// deadlock. A Reporter must still not block, as firebreak requires.
//
// # Isolation by hand
//
// [Breaker.ForceOpen] isolates the dependency with a reason — the plan's
// "isolate the fault source" — and [Breaker.Release] ends it, closing the
// breaker with fresh counts. Both are reported with the reason in the
// summary; calls rejected meanwhile get an [*OpenError] carrying the reason.
//
// # Keyed groups
//
// A [Group] keeps one breaker per key (host, tenant, endpoint) and at most a
// fixed number of them, evicting by the CLOCK algorithm (approximately least
// recently used). [Group.Policy] makes it a pipeline policy that takes the key
// from the call's context.
//
// # Metrics
//
// Through the OpenTelemetry metric API, from the [WithMeterProvider] provider
// (the global one by default), instrumentation scope
// "github.com/firebreak-go/firebreak/breaker":
//
//   - firebreak.breaker.calls (counter, {call}): calls by
//     firebreak.breaker.outcome = success | failure | slow | excluded |
//     rejected.
//   - firebreak.breaker.state (up-down counter, {breaker}): 1 for the state
//     the breaker is in, 0 for the others, by firebreak.breaker.state =
//     closed | half_open | open | forced_open. An evicted breaker leaves it.
//   - firebreak.breaker.transitions (counter, {transition}): state changes,
//     by firebreak.breaker.from and firebreak.breaker.to (state names).
//
// Every instrument also carries firebreak.component, firebreak.dependency
// and firebreak.breaker.name. Recording a call allocates nothing: the
// attribute sets are built once per breaker.
//
// # Errors
//
// A rejected call returns an [*OpenError] with the breaker's name. It matches
// [ErrOpen] with [errors.Is], and also gobreaker's own sentinels:
// [gobreaker.ErrOpenState] when open or forced open,
// [gobreaker.ErrTooManyRequests] when half-open with every trial call in
// flight.
//
// # Testing
//
// [Breaker.SetState] puts a breaker in any state — closed, half-open, open or
// forced open — reported like a real change and going on from there as usual,
// so tests can check how code behaves when its dependency is cut off or on
// trial;
// [firebreak.Recorder] collects the signals. gobreaker reads the wall clock,
// which is virtual inside a [testing/synctest] bubble: there a test can sleep
// through an open timeout or an hour of traffic in microseconds.
//
// # Performance
//
// The success path adds a few atomic loads and a metric Add to gobreaker's
// own cost (two mutex round trips and two clock reads) and allocates nothing,
// with the no-op or the SDK meter; the clock is read once more only when
// slow-call counting is on. A rejection allocates nothing either.
// BenchmarkExecute and BenchmarkExecuteOpen compare it with gobreaker's
// CircuitBreaker.Execute under the same settings.
package breaker
