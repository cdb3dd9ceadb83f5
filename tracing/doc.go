// Package tracing observes calls to dependencies: it traces each call on the
// OpenTelemetry API, keeps RED statistics (rate, errors, duration) per
// operation in fixed memory, and watches SLOs with the SRE Workbook's
// multiwindow, multi-burn-rate alerts, reporting burns as [firebreak.Signal]s
// graded by the incident plan.
//
//	obs, err := tracing.New[*Order](tracing.WithSLO(tracing.SLO{
//		Availability:  0.999,
//		Latency:       300 * time.Millisecond,
//		LatencyTarget: 0.99,
//	}))
//	pipe, err := firebreak.NewPipeline(component, []firebreak.Policy[*Order]{obs, brk})
//	order, err := pipe.Execute(ctx, fetchOrder)
//	fmt.Println(obs.Snapshot().P99)
//
// # Spans
//
// An [Observer] is a [firebreak.Policy]; in a pipeline it runs outermost
// ([firebreak.StageObserve]) and takes the pipeline's component as its
// identity. Used on its own it needs [WithComponent] and runs calls with
// [Observer.Execute]. Each call gets a span named after the dependency (kind
// client) or, without one, after the component (kind internal), with the
// attributes firebreak.component, firebreak.dependency and firebreak.tier.
//
// Outcomes follow the OpenTelemetry conventions for recording errors. On
// success the span status stays Unset. On failure the status is Error with
// the error's message, the span gets error.type and one "exception" event.
// error.type is low-cardinality: one of [ErrorTypeCircuitOpen]
// ("circuit_open"), [ErrorTypeBulkheadFull], [ErrorTypeRateLimited],
// [ErrorTypeLoadShed], [ErrorTypeOverloaded], [ErrorTypeDegraded], [ErrorTypeTimeout], [ErrorTypeCanceled],
// [ErrorTypeHealthCheckFailed], [ErrorTypeFallbackFailed],
// [ErrorTypeDependencyUnavailable], [ErrorTypePanic], or [ErrorTypeOther]
// ("_OTHER"); see [ErrorType]. Errors name their own type by implementing
// [ErrorTyper], as a breaker's open-state error or a load shedder's
// rejection should.
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
// [Handler] and [Transport] leave HTTP metrics to otelhttp
// (http.server.request.duration, http.client.request.duration, …).
//
// # RED statistics
//
// [Stats] keeps request and error counts and a latency histogram over a
// rolling window (one minute by default, see [WithWindow]), cut into six
// slots so that old calls age out. The histogram has fixed log-linear
// buckets: 8 per power of two from 1µs to 137s, so that a quantile is within
// 12.5% and recording is one atomic add, with no lock and no allocation.
// [Stats.Snapshot] returns a [Snapshot] with counts, rate, error ratio and
// p50/p90/p99, for dashboards and for rollout analysis (the failover
// package reads it to decide a rollback). The statistics of one operation,
// SLO windows included, take about 10 KiB however long it runs.
//
// # SLOs and burn rates
//
// An [SLO] has an availability objective (e.g. 99.9% of calls succeed), a
// latency objective (e.g. 99% of calls take under 300ms), or both. Their
// budgets are watched with the tiers of [WorkbookWindows]: page at 14.4×
// over 1h and 5m or 6× over 6h and 30m; ticket at 3× over 24h and 2h or 1×
// over 3d and 6h. A tier fires when both its windows burn faster than its
// rate and its long window holds at least SLO.MinRequests calls. Only the
// highest firing tier is reported: when it clears while a lower one still
// burns, the lower tier fires as the higher one clears. At 99.9%, a complete
// outage after steady traffic fires the 1h/5m tier after about 52 s
// (0.1% × 14.4 × 1h), and the tier clears about 5 minutes after recovery.
//
// Each long window is kept as 13 cumulative samples and read by linear
// interpolation, so a 3-day window costs as little memory as a 5-minute one.
// While an operation is younger than a window, the window counts what it has
// seen since the start.
//
// Firing and clearing are reported to the component's [firebreak.Reporter]
// as [firebreak.KindErrorBudgetBurn] or [firebreak.KindLatencySLOBurn]
// signals. Value is the long window's burn rate; Labels are "slo" (the SLO's
// name, "availability" or "latency" by default), "window" (e.g. "1h/5m") and,
// for HTTP, "route"; Metrics hold burn_rate_<window> for both windows,
// burn_rate_threshold, error_ratio (long window), error_ratio_<short> and error_ratio_short
// (the short window, under a name that does not change with the windows: the
// default plan grades a core outage Fatal on it),
// slow_ratio (latency SLOs), p99_seconds, requests and objective; TraceIDs
// hold the latest sampled failing calls, as evidence.
//
// Burn rates are evaluated at most once per evaluation interval (shortest
// short window / 60, 5 s for the workbook's windows, see
// [WithEvaluationInterval]), on the call that finds an evaluation due, which
// then reports without holding any lock. Call [Observer.Start] (and Close) to
// evaluate on a goroutine as well, so that alerts clear when calls stop.
//
// # HTTP
//
// [NewHandler] and [NewTransport] wrap otelhttp, which makes the spans and
// carries W3C trace context across the hop, and add RED statistics and the
// SLO per route: a 5xx response is an error for a server; a transport error,
// a 5xx or a 429 for a client.
//
// # Setup
//
// [Setup] builds the SDK's tracer and meter providers from the standard
// OTEL_* environment variables: OTLP/HTTP when an endpoint is set, one line
// per span on stdout otherwise. It is the only place firebreak imports the
// SDK.
package tracing
