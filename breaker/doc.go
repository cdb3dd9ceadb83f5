// Package breaker isolates a failing dependency: a circuit breaker, built on
// [github.com/sony/gobreaker/v2]'s state machine, that fails calls fast while
// the dependency is down and reports its state changes into firebreak's
// incident model.
//
//	cb, err := breaker.New[*Order]()
//	p, err := firebreak.NewPipeline(firebreak.Component{
//		Name: "checkout", Dependency: "orders-db", Tier: firebreak.Core, Reporter: board,
//	}, []firebreak.Policy[*Order]{cb})
//	order, err := p.Execute(ctx, func(ctx context.Context) (*Order, error) {
//		return db.Order(ctx, id)
//	})
//	if errors.Is(err, breaker.ErrOpen) { /* serve a fallback */ }
//
// A [Breaker] is a [firebreak.Policy]: in a [firebreak.Pipeline] it takes the
// pipeline's component, tier and Reporter, and its place in the default order
// (inside retries and fallbacks). Used on its own, it runs calls with
// [Breaker.Execute].
//
// # Identity
//
// A breaker learns what it protects in one way, through [Breaker.Bind]: a
// pipeline binds it, or its user does. No option names a component. The
// first Bind fixes the identity (component, dependency, tier and Reporter);
// binding again to the same identity does nothing, so the first Reporter
// stays; binding to another is an [*firebreak.AlreadyBoundError], because a
// breaker's counts belong to one dependency of one component. Bind names the
// breaker after the dependency unless [WithName] named it, and takes
// Fallback from the first component it is bound to. An unbound breaker works
// and reports to [firebreak.Discard]; its errors name it "breaker".
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
// The defaults are chosen for the traffic breakers see, so that a dead
// dependency is isolated at any rate and a degraded one is never turned into
// an outage. Two rules, each of which can be turned off (not both):
//
//   - failure ratio: at least [DefaultFailureRatio] (50%) of the calls in the
//     rolling window failed, once the window holds [DefaultMinCalls] (100)
//     calls with an outcome ([WithFailureRatio]). The window is gobreaker's
//     bucketed rolling window, [DefaultWindow] (30 s) of [DefaultBucket]
//     (5 s) buckets ([WithWindow]): old buckets leave it, so a failure onset
//     after hours of success is detected within half a window or so.
//   - consecutive failures: [DefaultConsecutiveFailures] (10) failures in a
//     row ([WithConsecutiveFailures]), only while the window holds fewer than
//     the ratio's minimum number of calls — low traffic, or the first moments
//     after a reset. At high traffic runs of failures come by chance from any
//     partial failure (the old default of 5 in a row opened the breaker 11
//     times in 30 minutes at 10% errors and 1000 calls/s, rejecting 40% of
//     calls), so there only the ratio decides.
//
// It stays open [DefaultOpenTimeout] (1 minute, [WithOpenTimeout]) and then
// lets [DefaultHalfOpenCalls] (1, [WithHalfOpenCalls]) trial calls through.
//
// What the defaults do, measured by TestDetectionTable,
// TestRandomErrorsNeverTrip and TestHungDependencyTrips after an hour of
// healthy traffic, in virtual time:
//
//	fault                                 1 call/s   10 calls/s   100 calls/s   1000 calls/s
//	100% errors (outage)                  10 s       15 s         15 s          15 s
//	hung, callers time out at 1 s         10 s       -            15 s          15 s
//	hung, callers time out at 250 ms      -          -            15 s          -
//	hung, callers cancel at 1 s           -          -            15 s          -
//	10%, 20% or 30% random errors         never opens (30 minutes, every rate)
//
// At 1 call/s the window never holds 100 calls and ten failures in a row
// decide; from about 4 calls/s up the ratio decides, once the failures
// outweigh the successes still in the window: about 15 s whatever the rate
// (up to 20 s, by where the onset falls in a bucket).
//
// # Outcomes
//
// Every call is counted as exactly one of:
//
//   - success: fn returned nil, or an error [WithIsFailure] does not count;
//   - failure: fn returned an error that counts (by default, any), or
//     panicked. An error returned while the caller's context is alive is
//     the dependency's, whatever it is: a timeout policy's own timeout
//     inside the breaker, or a context error from the dependency's side;
//   - slow: fn succeeded but took the [WithSlowCall] threshold or longer (off
//     by default); it counts as a failure, and the caller still gets the
//     result;
//   - hung: fn returned an error after the caller's context ended
//     (cancelled or past its deadline, whoever gave up first) and the call
//     had run [DefaultHangThreshold] (500 ms) or longer, or ran out a
//     deadline that had left it at least [DefaultHangBudget] (20 ms)
//     ([WithHangThreshold]); it counts as a failure: a dependency that never
//     answers trips the breaker even though every caller gives up first;
//   - excluded: fn returned an error after the caller's context ended and
//     the call was not hung (the caller gave up early, or arrived with
//     almost no time left: that says nothing about the dependency); or fn's
//     error is a local rejection ([firebreak.IsRejected]: a shedder,
//     bulkhead or inner breaker inside this one refused the call), whatever
//     the classifiers say; or [WithIsExcluded] names the error. Excluded
//     calls are neither success nor failure and do not use up a half-open
//     trial.
//   - rejected: the breaker did not run fn. Its error is an [*OpenError],
//     a [firebreak.Rejecter] reporting [firebreak.RejectIsolated].
//
// # Signals
//
// Every state change is reported as exactly one [firebreak.KindBreakerOpen]
// signal, in order: Firing while the breaker is not closed (open, half-open,
// forced open), cleared when it closes. The signal carries the component,
// dependency and tier, Fallback from the bound component (or
// [Breaker.SetFallback]), the failure ratio that
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
// A [Group] keeps one breaker per key (host, tenant, endpoint) within a
// bound, and the bound never ends isolation: it evicts only closed breakers,
// clean ones first (by the CLOCK algorithm, approximately least recently
// used), keeps breakers with recent failures past the bound up to a hard cap
// of twice the bound, and never evicts an open, half-open or forced-open
// breaker. A handle kept from before an eviction still acts on its key.
// [Group.Policy] makes it a pipeline policy that takes the key from the
// call's context.
//
// # Metrics
//
// Through the OpenTelemetry metric API, from the [WithMeterProvider] provider
// (the global one by default), instrumentation scope
// "github.com/firebreak-go/firebreak/breaker":
//
//   - firebreak.breaker.calls (counter, {call}): calls by
//     firebreak.breaker.outcome = success | failure | slow | hung |
//     excluded | rejected.
//   - firebreak.breaker.state (up-down counter, {breaker}): 1 for the state
//     the breaker is in, 0 for the others, by firebreak.breaker.state =
//     closed | half_open | open | forced_open. An evicted (closed) breaker
//     leaves it.
//   - firebreak.breaker.transitions (counter, {transition}): state changes,
//     by firebreak.breaker.from and firebreak.breaker.to (state names).
//
// Every instrument also carries firebreak.breaker.name and, once the breaker
// is bound, firebreak.component, firebreak.dependency and firebreak.tier, the
// keys the tracing package uses. Bind moves the state gauge from the unbound
// series to the bound one. Recording a call allocates nothing: the
// attribute sets are built once per breaker.
//
// # Errors
//
// A rejected call returns an [*OpenError] with the breaker's name, in one
// sentence: `breaker "payments": circuit open`. It matches [ErrOpen] with
// [errors.Is], and also gobreaker's own sentinels: [gobreaker.ErrOpenState]
// when open or forced open, [gobreaker.ErrTooManyRequests] when half-open
// with every trial call in flight. It is a [firebreak.Rejecter]
// ([firebreak.RejectIsolated]), so no outer breaker counts it and no retry
// repeats it, and its ErrorType is [ErrorTypeCircuitOpen], which tracing
// records as error.type. An invalid option is an error naming the option, a
// nil one an error naming its index (`breaker: New: option 2 is nil`).
//
// # Imports
//
// The package links about 227 packages (gobreaker alone: 68). Two parts
// weigh the same, and each pulls net/http on its own: the root firebreak
// package (198, for its Board's HTTP notifiers and ops API) and
// OpenTelemetry's global MeterProvider, the default as OpenTelemetry's
// convention asks (go.opentelemetry.io/otel, 217, through otel/propagation).
// The metric API the breaker records through is 76.
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
// gobreaker keeps its counts under one mutex, taken twice a call with two
// wall-and-monotonic clock reads, so that a breaker on it gets slower with
// a second core. This breaker keeps gobreaker as its state machine (open,
// half-open, close, generations, state-change events) but counts the closed
// state itself: a successful closed call takes no lock, reads the monotonic
// clock once ([firebreak.Nanotime], or the reading a pipeline's outer
// policy passed, [firebreak.Next.Now]) and adds twice to a counter of the
// current bucket: one counter while calls come one at a time, per-processor
// counters from the first contention on. The lock is taken on a bucket rollover, a
// failure or exclusion (which may trip), a call finishing in a later bucket
// than it started in, and in the half-open state. The counts are gobreaker's,
// one call at a time; calls racing a rollover may count one bucket late, and
// none is lost. An open breaker rejects without a lock until its open
// timeout. Nothing allocates, with the no-op or the SDK meter; the clock is
// read a second time only for slow-call counting or a call whose context
// ended. BenchmarkExecute and BenchmarkExecuteOpen compare it with
// gobreaker's CircuitBreaker.Execute under the same settings, serial and
// parallel.
//
// A breaker in a [Group] costs under 1 KB of heap (TestGroupMemoryPerBreaker
// measures 100,000 keys): the group's breakers share its configuration,
// binding and component, and a breaker makes its per-processor counters, its
// errors of rejection and its metric attributes only when first needed.
package breaker
