// Package drill runs the emergency plan's drills as code: fault injection
// with a safety guard, tabletop replays through a copy of the plan, drill
// reports against the plan's 10/15/30-minute deadlines, and the plan's
// calendar of drills and inspections.
//
//	inj, _ := drill.NewInjector("payments-down", drill.Error(errors.New("connection refused")))
//	pol, _ := drill.NewPolicy[*Receipt](inj)
//	pipe, _ := firebreak.NewPipeline(payments, []firebreak.Policy[*Receipt]{pol, br, obs})
//	d, _ := drill.New(board, drill.Spec{ID: "gd-2026-03", Scope: drill.Scope{Dependencies: []string{"payments"}},
//		Dose: drill.Ramp(2*time.Minute, 1, 5, 20), End: time.Now().Add(30 * time.Minute),
//		Expect: drill.Expect{Severity: firebreak.Fatal}}, []*drill.Injector{inj})
//	_ = d.Start(ctx)
//	<-d.Done()
//	fmt.Print(d.Report(drill.ReportInput{}).Markdown())
//
// # Injectors
//
// An [Injector] does one [Fault] — an error ([Error]), an HTTP status
// ([HTTPStatus]), latency honouring the context ([Latency]), a hang until
// the context ends ([Blackhole]) or a hook ([Behavior]) — as a pipeline
// policy ([NewPolicy], at [StageInject], inside every other policy so they
// all see the fault as real), as HTTP server middleware
// ([Injector.Middleware]) or as an HTTP client transport
// ([Injector.Transport]). It is off unless a drill arms it: unarmed, a call
// costs one atomic load and allocates nothing (BenchmarkUnarmed).
//
// # Scope and dose
//
// A [Scope] limits a drill to components and dependencies (the injectors'
// bound identities) and, from the request ([Request], [Propagate]),
// endpoints, tenants and a header, so only drill traffic is hit. A [Dose]
// is a percentage or a ramp of steps; which requests it hits is chosen from
// the trace ID (the OpenTelemetry span in the context, or a W3C
// traceparent), so a request is faulted consistently in every service it
// crosses. A drill has a mandatory end: past it, injectors inject nothing
// even if the drill's goroutine has not yet turned them off.
//
// # The guard
//
// A drill registers with the Board ([firebreak.Board.BeginDrill]): signals
// in its scope carry its ID ([firebreak.Signal].Drill), so its incidents are
// its own, graded and timed exactly like real ones, routed only to its
// participants, titled "[DRILL]", kept out of the real incident list and
// the public status, the real incident list (ask with [firebreak.Filter].Drill
// or GET /incidents?drill=<id>), the archive's real history and
// [firebreak.BoardStats].Open (they count in OpenDrills); their reports say
// "Drill: <id>". The Board trips the drill's guard — every injector off at
// once, on the reporting goroutine — when a real (non-drill) signal graded
// above none arrives, when a real SLO burns past Spec.AbortBurn (even if the
// plan grades the burn none), or when a real incident is announced. A real
// signal that people muted — a silence or a maintenance window covers it —
// pages nobody and does not trip the guard; if it still fires when the
// muting ends, its announcement does. A drill's alerts never inhibit real
// ones. The drill also aborts at Spec.MaxDuration, and a person aborts it
// with [Drill.Abort] or the ops API. An abort is a timeline entry and a
// [firebreak.KindDrillAborted] signal on the drill's incident; an abort
// before anything was detected leaves that record resolved, nothing open. A
// production board refuses drills unless the plan's drills.allow_production
// says otherwise.
//
// # Steady state
//
// [WithSteadyStateFrom] samples the tracing statistics of the calls in
// scope (a tracing Observer's Stats()) during the drill: the burn rate
// against an availability objective, the error ratio and p99
// ([SteadyStateOf]); the report compares the worst with Spec.SteadyState.
// [WithSteadyState] takes any function instead.
//
// # Reports, tabletops and the calendar
//
// [Drill.Report] measures injection → detection → announcement →
// acknowledgement → mitigation → recovery, the severity reached against the
// expected one, each deadline met or missed, the steady state against the
// hypothesis, and scores pass/fail per criterion, with a sign-off field.
// [Tabletop] replays a [Scenario] through a copy of the plan in virtual
// time ([firebreak.ReplayPlan]) and scores its decisions. [Calendar] keeps
// the plan's cadences and raises [firebreak.KindDrillOverdue]. [Manager]
// and [OpsHandler] serve start, status, abort and report over HTTP.
package drill
