// Package failover keeps a service serving while something it depends on is
// broken: it retries what is worth retrying, answers with a fallback, moves
// traffic to a standby, sheds load it cannot carry, switches optional
// features off, and rolls a bad version back — and reports each of these as a
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
// hands it the component it reports under; each also works on its own
// through its Execute method (pass [WithComponent] to have it report).
//
// # Retry
//
// [Retry] retries a failed call after an exponential backoff with jitter
// (computed by github.com/cenkalti/backoff/v4), within a limit of attempts, a
// limit of elapsed time and the caller's deadline. Only retryable errors are
// retried: a classifier decides ([WithRetryIf]), but local rejections —
// errors implementing [firebreak.Rejecter] (an open breaker, a shed request,
// a feature switched off) or gobreaker's sentinels ([IsRejection]) — and the
// caller's cancellation never are. A server's Retry-After is honoured, up to
// [WithMaxRetryAfter] (1 minute by default) and never past the time limit,
// which holds with or without a deadline on the context: [CheckResponse]
// turns a failed HTTP response into a [*StatusError] carrying it,
// [RetryHTTP] retries only the statuses worth retrying, and any error with a
// RetryAfter() time.Duration method ([RetryAfterError]) works the same. A
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
// call: the call's error is returned. A caller learns that its answer came
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
// When a standby takes the traffic, [firebreak.KindFailover] fires. A
// Failover never refuses a call locally: when every endpoint is ejected or
// unhealthy it tries them anyway, so its errors are the endpoints' failures,
// never a [firebreak.Rejecter].
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
// shedder bound to one (that dependency is its "guards" label): shedding is
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
// # Rollback
//
// A [Registry] records versions (current, last known good, history). A
// [Rollout] judges the current one with an [Analysis] in the manner of Argo
// Rollouts — [Metric]s measured at intervals against success and failure
// conditions, with failure, inconclusive and consecutive-error limits, a
// minimum sample count and a no-data policy, fed by any [Measure] function,
// such as one reading a tracing Observer's Snapshot —
// and acts: success promotes the version to last known good; failure marks it
// bad and runs the [RollbackHook]s with retries, reporting
// [firebreak.KindRollback], or [firebreak.KindRollbackFailed] if the rollback
// fails; an inconclusive result holds the version and reports
// [firebreak.KindAnalysisInconclusive] for a person to decide.
//
// # Metrics
//
// All policies count what they do on one OpenTelemetry counter,
// firebreak.failover.events ({event}), from the meter
// "github.com/firebreak-go/firebreak/failover" of the provider given with
// [WithMeterProvider] (the global one by default). Its attributes are
// firebreak.policy (retry, timeout, fallback, failover, shed, degrade,
// rollout), firebreak.event (for example retry, gave_up_budget, timed_out,
// abandoned, abandoned_panic, fallback_served,
// switched, ejected, readmitted, shed_rate_limited, shed_overloaded,
// mode_minimal, switch_off, rolled_back, rollback_failed, held, promoted),
// firebreak.component and firebreak.dependency. Nothing is recorded on the
// success path.
//
// # Concurrency
//
// Every type in the package is safe for concurrent use. No policy calls a
// Reporter, a hook or a callback while holding a lock, and none starts a
// goroutine outside a call (an [Analysis] runs its metrics in goroutines that
// end before Run returns), except a [Timeout] with [WithAbandon], whose
// abandoned calls run on until they return; a panic in one is recovered.
package failover
