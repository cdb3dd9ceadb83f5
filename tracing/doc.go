// Package tracing observes calls to dependencies: it traces each call on the
// OpenTelemetry API, keeps RED statistics (rate, errors, duration) per
// operation in fixed memory, and watches SLOs with the SRE Workbook's
// multiwindow, multi-burn-rate alerts, reporting burns as [firebreak.Signal]s
// graded by the incident plan.
//
//	obs, err := tracing.New[*Order](tracing.WithSLO(tracing.SLO{Availability: 0.999}))
//	pipe, err := firebreak.NewPipeline(component, []firebreak.Policy[*Order]{obs, brk})
//	order, err := pipe.Execute(ctx, fetchOrder)
//	fmt.Println(obs.Snapshot().P99)
//
// The package links only the OpenTelemetry API and otelhttp: it records on
// the providers the service set up. The SDK and its exporters are in
// [github.com/firebreak-go/firebreak/tracing/otelsetup], for services that
// want one set up from the OTEL_* variables.
//
// # Spans
//
// An [Observer] is a [firebreak.Policy]; in a pipeline it runs outermost
// ([firebreak.StageObserve]) and the pipeline binds it to its component.
// Used on its own it is bound by its user with [Observer.Bind] and runs
// calls with [Observer.Execute]. Bind follows the rule of every firebreak
// policy ([firebreak.Binding]): the first Bind fixes the identity, the same
// identity again does nothing, another one is an error. An unbound Observer
// works anonymously: its spans are named "call" and carry no identity, and
// its SLO signals go to [firebreak.Discard].
//
// Each call gets a span named after the dependency (kind client) or,
// without one, after the component (kind internal), with the attributes
// firebreak.component, firebreak.dependency and firebreak.tier
// ([AttrComponent], [AttrDependency], [AttrTier]).
//
// Outcomes follow the OpenTelemetry conventions for recording errors. On
// success the span status stays Unset. On failure the status is Error with
// the error's message, the span gets error.type and one "exception" event.
// error.type is low-cardinality: see [ErrorType]. Errors name their own type
// by implementing [ErrorTyper] with a constant declared next to them
// (breaker.ErrorTypeCircuitOpen, "circuit_open", for an open breaker); this
// package declares only the types it recognises itself: [ErrorTypeTimeout],
// [ErrorTypeCanceled], [ErrorTypePanic] and [ErrorTypeOther] ("_OTHER").
//
// # Metrics
//
// Instruments come from the [metric.MeterProvider] given by
// [WithMeterProvider] (the global one by default), scope [ScopeName]:
//
//   - firebreak.call.duration (histogram, unit "s"): one measurement per call
//     through an Observer, with firebreak.component, firebreak.dependency
//     (when set), firebreak.tier, and error.type on failures only.
//
// A call's duration, in this histogram and in the RED statistics, is its
// span's when the span is one of the OpenTelemetry SDK: from the span's start
// to its end, read from the span, so that a trace and the metrics agree and
// the observer reads no clock of its own (the span's own work, about a
// microsecond, is inside it). Without such a span (the no-op provider, an
// unrecorded span, inside a testing/synctest bubble) the observer reads the
// monotonic clock once at the start and once at the end. With the no-op
// meter provider nothing is recorded into the histogram.
//
// [Handler] and [Transport] leave HTTP metrics to otelhttp
// (http.server.request.duration, http.client.request.duration, …).
//
// # RED statistics
//
// [Stats] keeps request and error counts and a latency histogram over a
// rolling window (one minute by default, see [WithStatsWindow]), cut into six
// slots so that old calls age out. The histogram has fixed log-linear
// buckets: 8 per power of two from 1µs to 137s, so that a quantile is within
// 12.5% and recording is one atomic add, with no lock and no allocation.
// Each processor (up to four) records the slot being filled into a stripe
// of its own, so that cores do not contend for a bucket's cache line; a
// slot that is over keeps only its nonzero buckets. [Stats.Snapshot]
// returns a [Snapshot] with counts, rate, error ratio and p50/p90/p99, for
// dashboards and for rollout analysis (the failover package reads it to
// decide a rollback). The statistics of one operation take about 3.5 KiB
// on two processors (1 KiB more a processor, up to four), SLO windows
// about 3 KiB more, however long it runs.
//
// # SLOs and burn rates
//
// An [SLO] has an availability objective (e.g. 99.9% of calls succeed), a
// latency objective (e.g. 99% of calls take under 300ms), or both. Their
// budgets are watched with the tiers of [WorkbookWindows]: page at 14.4×
// over 1h and 5m or 6× over 6h and 30m; ticket at 3× over 24h and 2h or 1×
// over 3d and 6h. A tier fires when both its windows burn faster than its
// rate and its long window holds at least SLO.MinRequests calls. A tier
// whose rate the objective cannot reach (a total outage burns 1/(1-objective):
// 10× for 90%) is an error, so the workbook's tiers need an objective above
// 93.1%; give a looser one SLO.Windows of its own.
//
// Each SLO objective is one alert: its signal's labels are "slo" (the SLO's
// name, "availability" or "latency" by default) and, for HTTP, "route" —
// never the tier. The firing tier is the first that fires, in order of
// burn rate; it is in the Summary and in the metrics tier (0 for the
// fastest tier) and burn_rate_threshold. The signal fires when a tier starts
// firing and clears only when no tier fires; in between it is reported
// again, with the same identity, when
//
//   - the firing tier changes (after a total outage the 1h/5m tier gives way
//     to 6h/30m when the 5m window is clean, and so on down);
//   - within a tier, Value (the tier's long-window burn rate) reaches a band
//     edge above any reported at that tier: each tier's threshold times 1,
//     2, 5 and 10 (with the workbook: 1, 2, 3, 5, 6, 10, 12, 14.4, 15, 28.8,
//     30, 60, 72, 144);
//   - within a tier, error_ratio_now reaches a band edge above any reported
//     at that tier: 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99;
//   - within a tier, error_ratio_now falls under half the lower edge of the
//     band last reported, when that edge is 0.1 or more (and the fast window
//     saw calls): an outage that ends is reported within about a minute, so
//     the grade the plan reads on it (Fatal at 0.5) drops while the slower
//     windows still burn.
//
// Otherwise bands only ratchet up within a tier; that is the hysteresis: a
// value wobbling on an edge is reported once, and the burn rate falling back
// is reported with the next tier change or the clear. There is at most one
// report per objective per evaluation, and at most two per band edge per
// tier in an episode.
//
// error_ratio_now is the bad ratio (failed calls for availability, slow
// calls for latency) over the fast window, a fifth of the shortest short
// window: 1 minute with the workbook's windows; it scales with
// [ScaleWindows]. It says how much of the service is down now: the default
// plan grades an error_budget_burn of a core component Fatal on
// error_ratio_now >= 0.5.
//
// What the detector reports, at 1000 calls/s with a 99.9% availability SLO
// and the workbook's windows (TestBurnDetectionTable and the TestBurn tests
// play these):
//
//	traffic                          first report             error_ratio_now
//	after a warm hour, 100% errors   1h/5m tier after 55 s    0.92, 1.0 at 60 s
//	after a warm hour, 50% errors    1h/5m tier after 1m45s   0.5
//	after a warm hour, 10% errors    1h/5m tier after 8m40s   0.1
//	after a warm hour, 2% errors     1h/5m tier after 43m     0.02
//	fresh process, 100% errors       1h/5m tier after 55 s    1.0
//	fresh process, 10 s of 2% errors nothing                  -
//
// The 1h/5m tier needs 1h × 14.4 × 0.1% / ratio of errors (52 s at 100%),
// evaluated every 5 s. After a 10-minute total outage the page tiers give
// way to the 24h/2h ticket tier about 30 minutes after recovery (the 6h/30m
// tier's short window), and the alert clears about 6 hours after recovery,
// when the 3d/6h tier's 6h window is clean: the outage spent 23% of the
// month's budget, which the ticket tiers report; the default plan grades
// them None, which pages nobody.
//
// # Warm-up
//
// A young process has seen less than its windows. While an operation is
// younger than a window, that window's burn rate is computed as if the
// unobserved rest of the window had been healthy traffic at the observed
// rate: burn = bad/total × observed/window / budget. So 10 s of 2% errors
// right after a deploy reads 0.056× over the first hour, as it would over a
// real hour, not 20×; and a total outage from the first call still pages the
// 1h/5m tier after 52 s, as it would after a warm hour. SLO.MinRequests
// applies to the calls the long window has observed. The metric
// observed_ratio says how much of the firing tier's long window was
// observed. error_ratio, error_ratio_short and error_ratio_now are plain
// ratios of what was observed.
//
// # Signals
//
// Firing and clearing are reported to the component's [firebreak.Reporter]
// as [firebreak.KindErrorBudgetBurn] or [firebreak.KindLatencySLOBurn]
// signals, with Fallback set when the observer runs inside a fallback stage
// of a pipeline. Value is the firing tier's long-window burn rate; Metrics
// hold burn_rate_<window> for both of its windows, burn_rate_threshold,
// tier, error_ratio (long window), error_ratio_<short> and error_ratio_short
// (the short window, under a name that does not change with the windows),
// error_ratio_now, observed_ratio, slow_ratio (latency SLOs), p99_seconds,
// requests, rejected (long window) and objective; TraceIDs hold the latest
// sampled failing calls, as evidence. A cleared signal describes the last
// firing tier.
//
// # Rejections
//
// A call whose error carries [firebreak.RejectIsolated] (an open breaker, no
// endpoint left: users see the dependency down) counts as failed. A call
// refused by overload protection or a degradation mode
// ([firebreak.RejectOverload], [firebreak.RejectDisabled]) is not the
// dependency's failure: it is left out of the requests, the error ratio, the
// latency histogram and the budgets, and counted in Snapshot.Rejected and
// the rejected metric (see [Stats.RecordRejected] and [Stats.RecordErr]).
// The shedder's own load_shed signal reports the overload.
//
// A call that ends after its caller's context ended is judged by the hang
// rule the breaker applies too ([firebreak.Hung] with
// [firebreak.DefaultHangThreshold] and [firebreak.DefaultHangBudget]): if it
// ran 500 ms or more, or used up a deadline that had given it at least 20 ms,
// the dependency hung and the call failed; otherwise the caller gave up
// early — a user closed the page, a deadline was all but spent on arrival —
// and the call is counted in Snapshot.GaveUp only, outside the requests, the
// error ratio and the budgets.
//
// A [firebreak.Reporter] that panics is recovered, logged once with its
// stack and counted ([Stats.ReporterPanics]): it never kills the evaluation
// goroutine nor fails the call that ran an evaluation.
//
// Each window is kept as 13 cumulative samples and read by linear
// interpolation, so a 3-day window costs as little memory as a 5-minute one.
//
// Burn rates are evaluated at most once per evaluation interval (shortest
// short window / 60, 5 s for the workbook's windows, see
// [WithEvaluationInterval]), on the call that finds an evaluation due, which
// then reports without holding any lock. Call [Observer.Start] (and
// [Observer.Close]) to evaluate on a goroutine as well, so that alerts clear
// when calls stop; the same holds for a [Handler] and a [Transport].
//
// # HTTP
//
// [NewHandler] and [NewTransport] are not pipeline policies, so they take
// their [firebreak.Component] as their required argument, positionally,
// where a policy takes it from Bind. They wrap otelhttp, which makes the spans and
// carries trace context across the hop, and add RED statistics and the SLO
// per route: a 5xx response is an error for a server; a transport error, a
// 5xx or a 429 for a client (a transport error that is a local overload or
// disabled rejection is counted as rejected). Without [WithPropagators] they
// use the global propagator if one was set, and W3C trace context and
// baggage while the global propagator is OpenTelemetry's default, which
// carries no fields; so traces do not break at the hop without an SDK set
// up.
// Client spans are named by the method ("GET"); server spans by method and
// route ("GET /orders/{id}"), with http.route set once the ServeMux has
// matched.
//
// # Options
//
// [New] takes [Option]s; [NewHandler] and [NewTransport] take
// [HTTPOption]s. The options that apply to all three ([WithTracerProvider],
// [WithMeterProvider], [WithStatsWindow], [WithSLO],
// [WithEvaluationInterval]) are [SharedOption]s, which are both; an option
// that does not apply to a constructor does not compile there. A nil option
// is an error naming its index; a bad value is an error naming the option.
package tracing
