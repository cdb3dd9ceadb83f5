// Package firebreak turns an organisation's emergency plan for system
// maintenance into code. Its sub-packages sense and act —
// [github.com/firebreak-go/firebreak/breaker] isolates a failing dependency,
// [github.com/firebreak-go/firebreak/tracing] measures latency and error rate
// against SLOs, [github.com/firebreak-go/firebreak/health] probes,
// [github.com/firebreak-go/firebreak/failover] keeps serving,
// [github.com/firebreak-go/firebreak/failover/rollout] rolls a bad version
// back and [github.com/firebreak-go/firebreak/drill] rehearses it all — and
// all of them report [Signal]s into one incident model, here, that tells
// operations staff what is broken, how badly, who must act and by when, and
// writes the report afterwards.
//
// One [Component] names a call — the calling component, the dependency, its
// [Tier], the [Reporter] its signals go to — and a [Pipeline] hands it to
// each of its policies through Bind, under the one rule of [Binding]:
//
//	payments := firebreak.Component{Name: "checkout-api", Dependency: "payments", Tier: firebreak.Core, Reporter: board}
//	pay, err := firebreak.NewPipeline(payments, []firebreak.Policy[*Receipt]{observer, retry, breaker})
//	receipt, err := pay.Execute(ctx, chargeCard)
//
//	board, err := firebreak.NewBoard("checkout", firebreak.WithNotifier(firebreak.SlogNotifier(nil)))
//	if err != nil { ... }
//	board.Start(ctx) // optional: the first signal starts it
//	defer board.Close(context.Background())
//	board.Report(firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "checkout-api",
//		Dependency: "payments-db", Tier: firebreak.Core, Firing: true})
//
// # Severity and the plan
//
// [Severity] has the plan's three response levels and None:
//
//	Severity  Level  Response within  Led by                      Afterwards
//	Fatal     1      10 minutes       command centre, all hands   postmortem
//	Severe    2      15 minutes       technical lead              postmortem
//	General   3      30 minutes       on-duty engineer            report-back
//	None      -      -                recorded only               -
//
// A [Plan] holds these response policies, the rules that grade signals by the
// [Tier] of the component that saw them, the escalation rules and the
// lifecycle timers. [DefaultPlan] grades as follows (core / standard /
// auxiliary; the first matching rule wins):
//
//	breaker_open, fallback serving          general / general / none
//	breaker_open, no fallback               fatal   / severe  / general
//	health_failed                           general / general / none
//	error_budget_burn, no fallback, and
//	error_ratio_now >= 0.5 (an outage)      fatal   / severe  / general
//	error_budget_burn, tier >= 14.4x        severe  / severe  / general
//	error_budget_burn, tier >= 6x           general / general / none
//	error_budget_burn, ticket tiers         none
//	latency_slo_burn, tier >= 14.4x         severe  / general / none
//	latency_slo_burn, tier >= 6x            general / general / none
//
// A burn's tier is its "burn_rate_threshold" metric (the tracing package
// sets it): a burn is graded by the tier that fires, as the SRE Workbook
// pages on its fast tiers and tickets on its slow ones, not by how high the
// burn rate itself has climbed. error_ratio_now is the error ratio over the
// last minute.
//
//	rollback, phase=promoted                severe  / severe  / general
//	rollback (canary)                       general / general / none
//	rollback_failed                         fatal   / severe  / severe
//	analysis_inconclusive, degraded,
//	fallback_active, failover, load_shed,
//	user_feedback                           general / general / none
//	board_overflow (the Board refused
//	signals)                                general / general / general
//	shared_state_degraded (the fleet's
//	store is unreachable)                   general / general / general
//
// Load your own plan from JSON with [ParsePlan] or [LoadPlan]; every problem
// in it is reported with its field path in a [PlanError]. A document's rules
// are exactly what it says (a rule inherits nothing from the default rules),
// and each needs a built-in kind or one declared in "custom_kinds"; a partial
// response policy is filled field by field from that severity's default;
// omitted sections take the default's. Documents over 1 MiB are refused.
//
// # Signals, alerts and incidents
//
// A [Board] is the default [Reporter]. Signals with the same identity (kind,
// component, dependency, labels, plus the board's service and env) are one
// alert, fingerprinted exactly as Alertmanager does ([Fingerprint]). Alerts
// with the same group key — service, env and fault domain (the dependency, or
// the component when there is none) — are one [Incident]. Report never blocks,
// and for a signal that repeats an open alert it does not allocate.
//
// # Lifecycle, deadlines and escalation
//
// An incident goes Detected → Acknowledged → Mitigated → Resolved → Closed.
// It is announced after the plan's group wait (30 s by default); if all its
// signals clear within it, nobody is notified. Its response is due at
// detection plus the severity's response time; if nobody acknowledges by then
// it is marked breached and escalated: notified again, to the next level
// (on-duty → technical lead → all hands → executive). Severity rises on its
// own — when a General incident stays unmitigated for an hour, when it spreads
// to three components, when a core component joins, when a rollback fails —
// and only a person lowers it ([Board.SetSeverity]). When every signal has
// been clear for the resolve hold-down (5 min) it resolves; a signal that
// returns within the reopen window (30 min) reopens it. [Board.CloseWith]
// files the report and closes it. Every change is an [Entry] in its timeline.
//
// What pages follows what fires. An alert graded None (a ticket-tier burn)
// neither holds open nor reopens an incident that paged. Reminders and the
// breach wait while nothing firing is graded at the incident's severity
// (unless a rule or a person set it): a Fatal outage that ended stops paging
// even while a slower burn still fires. A reopened incident is a new episode,
// Detected again with a new response clock.
//
// The timers run on the goroutine that [Board.Start] starts; [Board.Close]
// stops it and flushes the notifiers.
//
// # The engine
//
// The lifecycle is a pure state machine, in engine.go (its table is at the
// top of that file): plain data and functions of now that return what to
// notify, with no lock, goroutine or I/O. The Board is the concurrent shell
// around it: the lock, a deadline heap for the timers, the notifier queues
// and the views. Readers never hold the lock while they copy: [Board.List]
// and [Board.Get] take immutable per-incident snapshots under it and copy
// them after, so Report never waits for a reader.
//
// Memory is bounded without going blind. An incident keeps
// [MaxAlertsPerIncident] (100) alerts in full; the rest are counted per kind
// in one aggregate entry ("and 9,900 more alerts of kind breaker_open"), in
// snapshots, notifications and webhook bodies alike. The Board tracks at most
// [WithMaxAlerts] alerts; a resolved incident releases its own. At the cap it
// evicts what matters least — cleared alerts, then firing ones graded None —
// and it never refuses a signal the plan grades General or above. A refused
// signal is counted, logged at most once a minute, and raises a
// [KindBoardOverflow] alert, which the default plan grades General.
//
// # Silences, maintenance and inhibition
//
// Planned work pages nobody. Three things mute an alert; a muted alert is
// recorded on its incident (its signals, a timeline note saying why) and
// holds it open while it fires, but it does not raise the incident's
// severity, announce it, remind, breach or escalate it, and its own firing
// and clearing are not notified. An incident whose firing graded alerts are
// all muted pages nobody; if it was announced already, its pages stop. When
// an alert stops being muted it is graded again as if it had just fired: a
// still-firing fault is announced within the group wait (the response clock
// of an announced incident keeps running, so an overdue one breaches).
//
//   - A [Silence] ([Board.Silence], [Board.ExpireSilence], or POST/DELETE
//     /silences on the ops API) mutes the alerts its [Matchers] select,
//     from its start to its end (at most [MaxSilenceDuration]), when it
//     expires by itself. Note: "silenced by S-1 (comment)". [Board.Silences]
//     is the audit list: who made and who expired each, and when.
//   - A [MaintenanceWindow] (the plan's "maintenance", or
//     [Board.ScheduleMaintenance]) mutes the alerts of its components while
//     active — once, or weekly ({"weekday": "sunday", "start": "02:00",
//     "duration": "2h", "timezone": "Europe/Berlin"}). The public status
//     shows those components as under_maintenance, and lists the active and
//     upcoming windows (name, components, start, end; never the reason). A
//     dependent's alert on a component under maintenance still pages: only
//     the listed components are muted.
//   - An [InhibitRule] (the plan's "inhibit", Alertmanager semantics): while
//     a source alert fires, target alerts with the same values of the equal
//     labels do not page on their own (note: "inhibited by …"). A target in
//     the source's own incident is a symptom: its grade still counts toward
//     the incident's severity — a Fatal burn beside a Severe breaker makes
//     the incident Fatal — but its firing is not notified by itself. A
//     target in another incident is muted. The default plan inhibits a
//     dependency's latency_slo_burn and error_budget_burn while a
//     breaker_open on that dependency fires (equal: dependency), and general
//     and severe alerts in a fault domain with a fatal one (equal:
//     fault_domain). A document's "inhibit" replaces these; [] removes them.
//
// Matchers test [AlertRef.MatchLabels] plus "fault_domain".
//
// # Reports
//
// [BuildReport] writes a postmortem (Fatal, Severe) or a report-back
// (General) from the timeline: summary, impact, the response outcome,
// detection, isolation and mitigation, evidence, findings, root cause and
// action items, as JSON or [Report.Markdown]. The outcome is met, breached,
// pending (not yet due) or none; a breach is read from the timeline, so it
// stays in the report after a downgrade or a late acknowledgement. Markdown
// escapes everything people and signals wrote: it cannot forge headings,
// links, HTML or table cells.
//
// # Organisation, verification and the archive
//
// The plan sorts faults into categories, each answered by its own group:
// hardware (hardware maintenance group), software (software repair group),
// network (network group) and data (data recovery group); the command centre
// still decides severity through the rules. [Plan].Categories maps signal
// kinds to categories (see [DefaultCategories]); a signal's "category" label
// overrides it ([LabelCategory]). An incident's [Incident].Category is that
// of its worst-graded categorised alert, and [Incident].Group the group
// responsible, shown in every notification and in the report;
// [Board.SetCategory] sets it by hand, for good. [Incident.MatchLabels]
// gives routes service, env, fault_domain, severity, level, category, group
// and state to match with [Matchers].
//
// [Plan].Directory lists people, experts and outside vendors;
// [Directory.Find] looks up a role or skill, [Directory.Resolve] a person or
// a role, for escalation steps that name either.
//
// Where the plan asks for it ([ResponsePolicy].Verify for one severity,
// [Plan].VerifyBeforeClose for all), a resolved incident closes only after
// the business owner confirms the fix with [Board.Verify]: [Board.CloseWith]
// returns [ErrNotVerified] until then, and "verified by … at …" is in the
// timeline and the report. A reopened incident needs verifying again.
//
// [WithArchive] stores every closed incident and its report in an
// [Archive] — [DirArchive] writes <id>.json and <id>.md atomically — off
// the board's lock, on a goroutine of its own; failures are retried, logged
// and counted ([Board.ArchiveStats]). [Board.Get] and [Board.IncidentReport]
// fall back to the archive for incidents the board has forgotten, a new
// Board numbers its incidents after the archived ones, and the ops API
// serves GET /archive and GET /archive/{id}.
//
// # Notifiers
//
// A [Notifier] receives a [Notification] for each event. Each notifier has a
// bounded queue and its own goroutine, so a slow one delays nobody; what a
// full queue drops is counted in [BoardStats]. [SlogNotifier] logs;
// [Webhook] posts the Alertmanager webhook payload (version 4), at most 100
// alerts per POST ([WithMaxAlertsPerMessage]), retries with exponential
// backoff on network errors, 5xx, 408 and 429, never follows a redirect, and
// masks URL tokens and header values in every error and log line.
//
// Lifecycle events — announce, escalate, breach, acknowledge, mitigate,
// resolve, close, reopen, reminders — are delivered before routine updates
// and dropped only as a last resort; routine updates of one incident
// coalesce into the latest ([Event.Routine], [WithQueueSize]).
//
// Three notifiers hand incidents to the tools operations already run.
// [NewAlertmanager] posts each alert to Alertmanager's /api/v2/alerts (every
// peer of an HA cluster), with the plan's severity label, re-sending firing
// alerts every [WithResendInterval] so they stay alive and resolving them
// with endsAt = now; replicas post identical labels, so Alertmanager keeps
// one alert; [Board.Close] closes it (used on its own, call its Close). [NewPagerDuty] sends Events API v2
// triggers, acknowledgements and resolutions keyed by the incident's group
// key. [NewSlack] posts one Block Kit message per incident with the Web API
// and threads every later event under it. All retry like the webhook, follow
// no redirect, bound what they send and read, and never show a routing key,
// token or URL credentials in errors or logs.
//
// # Routing, escalation chains and hand-offs
//
// Without a route every notifier hears of everything. Name notifiers with
// [WithNotifierNamed] and give the plan a "route" ([Plan].Route, or
// [WithRoute]) to send each notification only where it belongs, as
// Alertmanager does: the root's receiver takes what nothing else matched;
// child routes are tried in order and the first that matches wins unless it
// says continue; their [Matchers] test the incident's severity, level,
// state, event, components, fault domain, owner, the kinds and labels of its
// alerts (a signal's "category" included) and an escalation step's target
// (see [RouteLabelSeverity]). A route's group_interval lets at most one
// routine update per incident per interval reach its receiver, the latest
// state, in the receiver's own queue; lifecycle events are never held back.
// Its repeat_interval throttles reminders to that receiver
// ([BoardStats].NotifyThrottled counts what it withheld). Notifiers added
// with [WithNotifier] keep hearing of everything. A route naming a receiver
// that does not exist is an error from [NewBoard], with its path.
//
//	{"route": {"receiver": "chat", "group_interval": "5m", "repeat_interval": "30m", "routes": [
//	  {"matchers": [{"name": "severity", "value": "fatal"}], "receiver": "pager", "continue": true},
//	  {"matchers": [{"name": "severity", "op": "=~", "value": "general|severe|fatal"}], "receiver": "chat"}]}}
//
// A severity's response policy may carry an escalation chain,
// "escalation": [{"after": "10m", "notify": "executive on call"}, ...] with
// "repeat": true or false: each step pages its target ([EventEscalationStep],
// carrying the step and target) once the incident has been unacknowledged
// that long since its response clock started, the chain starts over if it
// repeats, every step is in the timeline, and acknowledgement stops it.
// Without a chain, the breach at response_within pages escalate_to, as
// before. [Board.HandOff] (POST /incidents/{id}/handoff) hands an incident to
// another person or role: Incident.Owner, a timeline entry, and an
// [EventHandedOff] notification.
//
// # A fleet of replicas
//
// Each replica of a service has its own Board. [WithStore] makes them one:
// one incident per (service, env, fault domain) across the fleet, with one
// ID; a person's action through any replica applied on all within about
// twice [WithSyncInterval]; deadlines, reminders and escalations on the
// fleet's clock, each notification sent once for the fleet; a replica
// that starts takes up the open incidents. The [Store] is a small
// contract: [MemoryStore] implements it in memory (replicas in one
// process, tests in a synctest bubble) and
// [github.com/firebreak-go/firebreak/fleet] on Redis. Report never waits
// for the store; when it fails the Board works alone and raises
// [KindSharedStateDegraded], and reconciles when it returns. Without
// WithStore nothing is shared.
//
// # HTTP
//
// [OpsHandler] is the operations API: list (paged with ?limit=, default 50,
// at most 500, and an opaque cursor), get, acknowledge, mitigate, resolve,
// findings, evidence, severity, close, report and stats. Every request needs
// an [Authorizer]: [BearerTokensWithRoles] gives each token a role — a
// [Viewer] reads, a [Responder] also acts — and compares in constant time;
// the principal it names is the actor recorded in the timeline. What people
// may add to one incident is bounded ([MaxFindings], [MaxEvidence],
// [MaxPersonEntries], [MaxTextLen]). [StatusHandler] is the public status:
// only the components declared with [WithComponents], in plain words, with no
// error text, hostnames, versions or incident detail.
//
// # Pages
//
// [StatusPage] is the public status page built on [Board.PublicStatus]:
// HTML, a Statuspage-compatible summary.json and an Atom feed, with the
// incident updates people post ([StatusPage.PostUpdate], or POST
// /status/updates on the ops API with [WithStatusUpdates]), maintenance
// ahead of time and 90 days of history, rendered on its own goroutine and
// served from a cache that never takes the Board's lock. [Feedback] is the
// users' channel: a rate-limited form whose reports are user_feedback
// signals and evidence, with replies and "what we changed" notes on the
// status page. [Console] is the ops console, authorised like the ops API,
// with CSRF-protected forms and the service at a glance from the sources
// the user registers ([WithDependencies], [WithSwitches], …).
// examples/pages serves all three.
//
// # Policies and pipelines
//
// Every firebreak policy implements [Policy]. A [Pipeline] wraps calls to one
// dependency in several policies, built once for a [Component] (name,
// dependency, tier, reporter) that it hands to each policy, in the default
// order outermost first: tracing → fallback → retry → breaker → shedding →
// timeout → the call. The pipeline adds no allocation per call.
//
// # Testing
//
// [Recorder] is a Reporter that keeps what it is told, for assertions. The
// Board works inside testing/synctest bubbles, so a test can let a
// ten-minute deadline pass in microseconds.
package firebreak
