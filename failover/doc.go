// Package failover keeps a service serving while something it depends on is
// broken: it retries what is worth retrying, answers with a fallback, moves
// traffic to a standby, sheds load it cannot carry and switches optional
// features off (and, in [github.com/firebreak-go/firebreak/failover/rollout],
// rolls a bad version back) — and reports each of these as a
// [firebreak.Signal], so that it lands in the incident it belongs to.
//
//	retry, _ := failover.NewRetry[Quote](failover.WithMaxAttempts(3))
//	timeout, _ := failover.NewTimeout[Quote](2 * time.Second)
//	fallback, _ := failover.NewFallback(failover.Static(Quote{}), failover.WithLastGood(5*time.Minute, failover.FallbackKey))
//	pipe, _ := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "pricing", Reporter: board},
//		[]firebreak.Policy[Quote]{retry, timeout, fallback})
//	q, err := pipe.Execute(failover.WithFallbackKey(ctx, sku), pricing.Quote)
//
// Every policy implements [firebreak.Policy], [firebreak.Binder] and
// [firebreak.Staged], so a [firebreak.Pipeline] puts it in its place and
// binds it to the component it reports under. Each also works on its own
// through its Execute method; bind it first with its Bind method to have it
// report (unbound, it works and reports to [firebreak.Discard]). Bind
// follows [firebreak.Binding]'s rule: the first identity stays, the same one
// again is a no-op, another is an [*firebreak.AlreadyBoundError]. A
// [Shedder] and a [Degrader] guard the whole service: their identity is the
// service, so they may sit in the pipelines of many dependencies of one
// service, but not of two services.
//
// # Jobs
//
// The package keeps a service serving through nine jobs, one file each, with
// their errors side by side in errors.go and their options in options.go:
//
//   - retry.go: [Retry], calling again what failed (and the HTTP helpers
//     [CheckResponse] and [RetryHTTP] that feed it a server's Retry-After);
//   - hedge.go: [Hedge], a second attempt at a slow idempotent call, on the
//     retry budget;
//   - timeout.go: [Timeout], a deadline the breaker counts;
//   - fallback.go: [Fallback], an answer in place of a failed call;
//   - failover.go: [Failover], moving a call to a standby endpoint, with
//     statistical outlier ejection in outlier.go ([OutlierEjection]);
//   - shed.go: [Shedder] and [Shed], load shedding with priorities;
//   - bulkhead.go: [Bulkhead], a fixed limit of calls in flight to one
//     dependency, with a bounded queue;
//   - adaptive.go: [AdaptiveLimiter], a limit of calls in flight that
//     follows the dependency's latency, with priorities, frozen while an
//     incident on the dependency is open;
//   - degrade.go: [Degrader] and [Gate], service modes and kill switches.
//
// These are what a call to a dependency is wrapped in, so one import serves
// a pipeline. Judging a new version and rolling it back stands apart: it
// watches a deployment, not a call, and most users of the policies need
// none of it. It lives in the sub-package
// [github.com/firebreak-go/firebreak/failover/rollout] (the versions of a
// service, rollout analysis, rollback hooks).
//
// # Retry
//
// [Retry] retries a failed call after an exponential backoff with jitter
// (computed by github.com/cenkalti/backoff/v4), within a limit of attempts, a
// limit of elapsed time and the caller's deadline. Only retryable errors are
// retried: a classifier decides ([WithRetryIf]), but local rejections —
// errors implementing [firebreak.Rejecter] (an open breaker, a shed request,
// a feature switched off; [firebreak.IsRejected]) or gobreaker's sentinels — and the
// caller's cancellation never are. A server's Retry-After is honoured, up to
// [WithMaxRetryAfter] (1 minute by default) and never past the time limit,
// which holds with or without a deadline on the context: [CheckResponse]
// turns a failed HTTP response into a [*StatusError] carrying it,
// [RetryHTTP] retries only the statuses worth retrying, and any error with a
// RetryAfter() time.Duration method ([RetryAfterError]) works the same. A
// retry that gives up returns a [*RetryError] wrapping the last attempt's
// error. A
// retry budget ([WithBudget]: by default retries are at most 20% of the
// calls over 10s) stops retry storms. A first attempt that succeeds costs no
// allocation.
//
// # Timeout
//
// [Timeout] runs the rest of the pipeline under a deadline
// ([firebreak.StageTimeout]: inside the breaker, so the breaker counts what
// timed out). A call its deadline ends fails with a [*TimeoutError]
// matching [ErrTimeout] — a dependency failure, not a rejection; a caller
// whose own context ended first gets its own error. By default the timeout
// waits for a call that ignores its context; [WithAbandon] returns at the
// deadline and lets the call finish on its own goroutine.
//
// # Fallback
//
// [Fallback] answers a failed call with the last good result of a call with
// the same key while it is fresh ([WithLastGood]: keys from the context with
// [WithFallbackKey] and [FallbackKey], from a function of your own, or one
// value for all with [SharedLastGood]; at most [WithMaxKeys] keys), else
// with a function or a [Static] value. A call is never answered with a value
// kept for another key; a call without a key gets no last good value. A
// fallback function returns [ErrNoFallback] to say it has nothing for this
// call: the call's error is returned; a fallback function that fails makes
// a [*FallbackError] holding both errors. A caller learns that its answer came
// from the fallback with [WithServedRecord] and [Served], at no cost to the
// success path. While fallbacks are served, a
// [firebreak.KindFallbackActive] signal fires; the first real result clears
// it.
//
// # Failover
//
// [Failover] sends calls to endpoints in priority order, primary first, and
// moves a failed call on to the next endpoint. Endpoints failing repeatedly
// are ejected for a while, with a cap on the share ejected at once
// ([WithEjection]); an [Endpoint.Healthy] function, if given, is consulted.
// [WithOutlierEjection] adds Envoy's statistical outlier ejection
// (success rate and failure percentage over an interval, ejections growing
// with each re-ejection up to a cap, a dry run), reported as
// [KindOutlierEjected]. Calls go to endpoints in priority order, so the
// success-rate trigger, which compares endpoints, applies only where
// several carry calls; the failure-percentage trigger judges each on its
// own. When a standby takes the traffic, [firebreak.KindFailover] fires. A
// Failover never refuses a call locally: when every endpoint is ejected or
// unhealthy it tries them anyway, so its errors are the endpoints' failures,
// never a [firebreak.Rejecter].
//
// # Hedging
//
// [Hedge] starts a second attempt when a call has not answered after a
// delay (fixed, or from the observed latency with [WithHedgeDelayFunc]),
// takes the first success and cancels the others. Hedges draw on a retry
// budget ([WithRetryBudget] shares the pipeline's [Retry]'s), so they stop
// when a dependency is slow for everyone; only calls that may be sent twice
// are hedged ([WithIdempotent], [ContextWithIdempotent]).
//
// # Concurrency limits
//
// A [Bulkhead] admits at most a fixed number of calls to a dependency at
// once, with an optional first-in first-out queue ([WithQueue]); an
// [AdaptiveLimiter] moves its limit with the dependency's latency
// (Gradient2), keeps a share for [PriorityCritical] calls, and, registered
// on the Board as a [firebreak.Notifier], holds still while an incident on
// the dependency is open. Their rejections, [*BulkheadError] and
// [*LimitError], are [firebreak.RejectOverload] rejections that no breaker
// counts and no retry repeats; sustained rejections report
// [firebreak.KindLoadShed] under the component with the policy and the
// guarded dependency as labels.
//
// # Load shedding
//
// A [Shedder] admits requests through a token bucket (rate in
// golang.org/x/time/rate's units, admitted with one lock-free
// compare-and-swap) and a concurrency limit, keeping a reserve of both for
// [PriorityCritical] traffic ([ContextWithPriority], [WithCriticalReserve]):
// under overload critical requests are admitted first, up to the whole rate,
// and the others get what is left; without critical traffic the others have
// it all. A rejection is a [*ShedError] matching [ErrShed], a
// [firebreak.RejectOverload] rejection that no breaker counts;
// [Shedder.Middleware] answers it with 429 or 503 and Retry-After; [NewShed]
// makes a shedder a pipeline policy. Sustained shedding reports
// [firebreak.KindLoadShed]. The signal names no dependency, even from a
// shedder bound through a dependency's pipeline (the first such dependency
// is its "guards" label): shedding is
// the service protecting itself, so the incident is the component's, never
// one against the dependency, and no breaker counts a shed call.
//
// # Degradation
//
// A [Degrader] holds the service [Mode] (normal → degraded → minimal) and
// named kill switches, set by hand or, as a [firebreak.Notifier] registered on
// the incident board, from the open incidents ([DefaultModeRule]: a Fatal
// incident on a core component means minimal). Each change reports
// [firebreak.KindDegraded] under the fault domain of the incident that caused
// it, so the board files it in that incident's timeline; the degrader steps
// back to normal when the incident's own signals clear. A [Gate] skips an optional feature's calls while
// it is off, so the fallback around it answers.
//
// # Metrics
//
// All policies count what they do on one OpenTelemetry counter,
// firebreak.failover.events ({event}), from the meter
// "github.com/firebreak-go/firebreak/failover" of the provider given with
// [WithMeterProvider] (the global one by default). Its attributes are
// firebreak.policy (retry, hedge, timeout, fallback, failover, shed,
// bulkhead, adaptive_limit, degrade; the
// rollout package's controller adds rollout on its own meter),
// firebreak.event (for example retry, gave_up_budget, timed_out,
// abandoned, abandoned_panic, fallback_served,
// switched, ejected, readmitted, outlier_ejected, outlier_dry_run,
// hedged, hedge_won, hedge_budget, bulkhead_full, bulkhead_queue_timeout,
// limited, limit_frozen, limit_thawed, shed_rate_limited, shed_overloaded,
// mode_minimal, switch_off), and the bound identity: firebreak.component,
// firebreak.dependency (when there is one) and firebreak.tier. Nothing is
// recorded on the success path.
//
// # Errors
//
// Every error is declared in errors.go. Local refusals ([*ShedError],
// [*BulkheadError], [*LimitError], [*DegradedError]) implement
// [firebreak.Rejecter]: ask
// [firebreak.IsRejected] or [firebreak.RejectionOf]. Errors the tracing
// package should name implement ErrorType() string, returning one of the
// ErrorType constants ([ErrorTypeTimeout], [ErrorTypeRateLimited],
// [ErrorTypeOverloaded], [ErrorTypeBulkheadFull],
// [ErrorTypeConcurrencyLimited], [ErrorTypeDegraded],
// [ErrorTypeFallbackFailed], [ErrorTypeDependencyUnavailable]).
//
// # Concurrency
//
// Every type in the package is safe for concurrent use. No policy calls a
// Reporter, a hook or a callback while holding a lock, and none starts a
// goroutine outside a call, except a [Timeout] with [WithAbandon], whose
// abandoned calls run on until they return, and a [Hedge], whose losing
// attempts run on until they honour their cancelled context; a panic in
// either is recovered.
// Nothing runs in the background, so no type has a Start or a Close.
package failover
