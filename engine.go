package firebreak

// The incident engine: the Board's lifecycle state machine, in one place.
//
// The engine is plain data and functions of now: it has no lock, no
// goroutine, no clock and no I/O. Each step — [engine.report] for a signal,
// [engine.advance] for the timers, the actions in actions.go for people —
// changes the state and returns the notifications it causes, each carrying
// an immutable snapshot of its incident (snapshot.go). The Board (board.go)
// is the concurrent shell around it: it owns the lock, reads the clock, runs
// the timer loop off the deadline heap (deadline.go), hands notifications to
// the queues and serves the views.
//
// The state machine, per incident:
//
//	signal fires, new group key      → Detected, in its group wait (notifyAt)
//	group wait passes, held, > None  → announced (EventDetected), response clock runs
//	every alert clears in group wait → forgotten: a flap, nobody hears of it
//	alert grade or escalation rule   → severity rises (EventEscalated); never falls by itself
//	ResponseDue passes unacked       → Breached, escalated to the next role (EventBreached)
//	RenotifyEvery passes unacked     → reminder (EventRenotify)
//	  (both only while an alert graded at the severity holds it, or the
//	  severity came from a rule or a person: see warranted)
//	persistence rule's After passes  → severity rises (unless Mitigated)
//	nothing holds it (all clear, or
//	  only None-graded once graded)  → resolve hold-down (clearSince)
//	hold-down passes                 → Resolved (EventResolved); its alerts are released
//	graded signal within ReopenWindow → reopened (EventReopened): Detected, a new response clock
//	None-graded signal when resolved → recorded, not reopened
//	ReopenWindow passes              → the group key starts a new incident next time
//	person: Acknowledge / Mitigate / Resolve / SetSeverity / CloseWith
//
// Alerts (alerts.go) are the signals' identities. An incident keeps the
// first MaxAlertsPerIncident of them in full; the rest are counted per kind
// in an aggregate. The engine tracks at most maxAlerts alerts at once and
// evicts what matters least before it refuses anything (see admit).

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"slices"
	"time"
)

// MaxAlertsPerIncident is how many alerts one incident keeps in full (labels,
// values, trace IDs), in its snapshots and therefore in every notification
// and webhook body. Beyond it, alerts are kept per kind in one aggregate
// entry ([AlertRef].Aggregated): "and 9,000 more alerts of kind X".
const MaxAlertsPerIncident = 100

const (
	maxAutoEvidence = MaxEvidence / 2 // evidence the board collects on its own per incident
	overflowQuiet   = 5 * time.Minute // the overflow alert clears this long after the last refusal
)

// engine is the incident state machine. It is not safe for concurrent use:
// the Board calls it under its lock.
type engine struct {
	plan      *Plan
	grade     grader // the plan's rules, compiled
	service   string
	env       string
	retention int
	maxAlerts int
	maxLines  int
	seed      maphash.Seed
	idPrefix  string // "INC-" by default; with a store "INC-<replica>-" (fleet_sync.go)

	alerts    map[uint64]*alert    // tracked alerts by fingerprint; see admit
	incidents map[string]*incident // by ID
	byGroup   map[string]*incident // the incident each group key attaches to
	groupKeys map[string]string    // group keys by fault domain, a bounded cache
	finished  []*incident          // resolved or closed, oldest first, for retention
	seq       int
	due       deadlines
	evictable [classes]alertList
	out       []pending // notifications of the current step

	flaps, refused, evicted int64
	overflowFiring          bool
	lastRefusal             time.Time

	mute muting // silences, maintenance windows, inhibition (silence.go)
}

type incident struct {
	Incident
	seq          int
	alerts       []*alert          // alerts kept in full, in order of joining
	full         map[uint64]*alert // the same by fingerprint, tracked or released
	light        []*alert          // tracked alerts kept only in an aggregate
	aggs         []*aggregate      // per kind, in order of creation
	aggregated   int               // alerts that joined only an aggregate
	firingGraded int               // firing alerts graded above None
	firingNone   int               // firing alerts graded None
	firingMuted  int               // of firingGraded, those muted (silence.go)
	notifyAt     time.Time         // end of the group wait; zero once it has passed
	waitOver     bool              // the group wait has passed
	clockStart   time.Time         // when the current response clock started
	clearSince   time.Time         // when the last alert holding it open stopped; zero while one holds
	graded       bool              // an alert graded above None has joined it
	byRule       bool              // the severity came from an escalation rule or a person, not an alert's grade
	ackSeverity  Severity          // severity at acknowledgement; -1 if none
	renotifyAt   time.Time
	persisted    map[int]bool // persistence rules already applied
	spread       bool
	omitted      int
	autoEvidence int
	stateBefore  State    // state before resolution, for reopen
	org          orgState // category derivation (org.go)
	chainFired   int      // escalation steps fired since the response clock started (escalation.go)

	dueAt   time.Time // its earliest timer, while in the deadline heap
	heapIdx int       // index in the deadline heap; -1 when not in it
	dirty   bool      // changed since view was built
	view    *snapshot // immutable; see snapshot.go
}

func newEngine(service, env string, plan *Plan, retention, maxAlerts, maxLines int) *engine {
	e := &engine{
		plan: plan, grade: newGrader(plan), service: service, env: env,
		retention: retention, maxAlerts: maxAlerts, maxLines: maxLines,
		seed:      maphash.MakeSeed(),
		alerts:    make(map[uint64]*alert),
		incidents: make(map[string]*incident),
		byGroup:   make(map[string]*incident),
	}
	e.initMute()
	return e
}

// report takes one signal, already made finite and timed, at now. It returns
// the notifications to send.
func (e *engine) report(s *Signal, now time.Time) []Notification {
	fp := e.fingerprint(s)
	if a := e.alerts[fp]; a != nil && e.repeat(a, s) {
		return nil
	}
	e.reportSlow(fp, s, now, false)
	return e.flush()
}

// repeat handles the common case: an open alert fires again and nothing that
// grades it changed. It does not allocate.
func (e *engine) repeat(a *alert, s *Signal) bool {
	if !s.Firing || !a.ref.Firing || a.ref.Fallback != s.Fallback || a.ref.Tier != s.Tier || !a.inc.State.Open() {
		return false
	}
	if !a.evidence && a.snapshots < maxSnapshots && (len(s.Metrics) > 0 || len(s.TraceIDs) > 0) {
		return false // a new firing episode's evidence is taken on the slow path
	}
	if (a.ref.Value != s.Value || len(s.Metrics) > 0) && e.grade.classify(s) != a.ref.Severity {
		return false
	}
	a.ref.Value = s.Value
	a.touch(s)
	if s.Summary != "" {
		a.ref.Summary = s.Summary
	}
	a.inc.dirty = true
	return true
}

// stale reports whether inc is over for good: closed, or resolved longer
// ago than the reopen window.
func (e *engine) stale(inc *incident, now time.Time) bool {
	return inc.State == Closed || (inc.State == Resolved && now.Sub(inc.ResolvedAt) >= time.Duration(e.plan.Timers.ReopenWindow))
}

func (e *engine) reportSlow(fp uint64, s *Signal, now time.Time, self bool) {
	sev := e.grade.classify(s)
	a := e.alerts[fp]
	if a != nil && s.Firing && e.stale(a.inc, now) {
		// The alert's incident is over: this is a new episode, a new alert
		// in a new incident. The old incident keeps its record.
		e.untrack(a)
		a = nil
	}
	var inc *incident
	if a == nil {
		if !s.Firing {
			return // a clear for an alert we do not track
		}
		key, domain := e.groupKey(s)
		inc = e.byGroup[key]
		if inc != nil && e.stale(inc, now) {
			inc = nil
		}
		if !self && !e.admit(sev, now) {
			e.refuse(now)
			return
		}
		if inc == nil {
			inc = e.newIncident(key, domain, now)
			inc.Drill = s.Drill // the group key holds the drill: every alert of inc has it
		}
		if old := inc.full[fp]; old != nil {
			a = old // released earlier, returning to the same incident
		} else {
			a = e.newAlert(fp, s, inc)
		}
		e.track(a)
	}
	inc = cmp.Or(a.inc, inc)
	inc.dirty = true
	defer e.schedule(inc)
	wasFiring, joined := a.ref.Firing, a.inc == nil
	if !joined {
		inc.count(a, -1)
	}
	a.ref.Firing, a.ref.Severity = s.Firing, sev
	a.ref.Fallback, a.ref.Value, a.ref.Tier = s.Fallback, s.Value, s.Tier
	if s.Summary != "" {
		a.ref.Summary = s.Summary
	}
	a.touch(s)

	if !s.Firing {
		inc.count(a, +1)
		e.relist(a)
		if !wasFiring {
			return
		}
		a.ref.ClearedAt = now
		a.evidence = false
		e.cleared(a, s, now)
		e.inhibitChanged(a, now)
		return
	}
	if joined {
		a.inc = inc
	}
	a.muted, a.symptom = e.muteFor(a, now)
	inc.count(a, +1)
	e.relist(a)
	if inc.State == Resolved {
		if sev == None && inc.graded || a.muted != "" {
			// A signal the plan grades None — a ticket tier still burning
			// after an outage — is recorded, but does not reopen an
			// incident that paged.
			e.recordQuiet(inc, a, joined, wasFiring, now)
			e.muteNote(inc, a, now)
			e.inhibitChanged(a, now)
			return
		}
		e.reopen(inc, now)
	}
	coreBefore := inc.CoreAffected
	if joined {
		e.attach(inc, a, now)
	} else if !wasFiring {
		a.ref.ClearedAt = time.Time{}
		e.line(inc, now, EventSignal, systemActor, fmt.Sprintf("%s fires again for %s", a.ref.Kind, alertWho(&a.ref)), false)
	}
	if fresh := joined || !wasFiring; fresh {
		e.muteNote(inc, a, now)
	}
	if sev > None {
		inc.graded = true
	}
	if a.agg == nil && !a.evidence && a.snapshots < maxSnapshots && (len(s.Metrics) > 0 || len(s.TraceIDs) > 0) {
		// One snapshot per firing episode, for the first few episodes.
		a.evidence = true
		a.snapshots++
		if inc.autoEvidence < maxAutoEvidence && len(inc.Evidence) < MaxEvidence {
			inc.autoEvidence++
			inc.Evidence = append(inc.Evidence, Evidence{At: now, Kind: "signal", Source: string(s.Kind) + " " + alertWho(&a.ref),
				TraceIDs: uniq(s.TraceIDs), Metrics: finiteMetrics(s.Metrics), Note: s.Summary})
		}
	}
	fresh := joined || !wasFiring
	e.regrade(inc, a, joined, fresh, coreBefore, now)
	e.hold(inc, now)
	if fresh {
		defer e.inhibitChanged(a, now)
	}
	if !inc.notified() && inc.waitOver && inc.State.Open() && inc.Severity > None && inc.held() && !inc.muted() {
		// What paged cleared within the group wait and now fires again.
		e.announce(inc, now)
		return
	}
	if fresh && inc.notified() && inc.holds(a) && !a.quiet() {
		e.emitChange(inc, now, a, s, true)
	}
}

// recordQuiet attaches a firing alert to a resolved incident without
// reopening it: the timeline says it was seen, nobody is notified.
func (e *engine) recordQuiet(inc *incident, a *alert, joined, wasFiring bool, now time.Time) {
	switch {
	case joined:
		e.attach(inc, a, now)
	case !wasFiring:
		a.ref.ClearedAt = time.Time{}
		e.line(inc, now, EventSignal, systemActor, fmt.Sprintf("%s fires again for %s, graded none: recorded, not reopened", a.ref.Kind, alertWho(&a.ref)), false)
	}
}

// hold starts the resolve hold-down of an open incident once no alert holds
// it, and stops it while one does.
func (e *engine) hold(inc *incident, now time.Time) {
	switch {
	case !inc.State.Open():
	case inc.held():
		inc.clearSince = time.Time{}
	case inc.clearSince.IsZero():
		inc.clearSince = now
	}
}

func (e *engine) newIncident(key, domain string, now time.Time) *incident {
	e.seq++
	inc := &incident{seq: e.seq, ackSeverity: -1, persisted: map[int]bool{}, full: map[uint64]*alert{}, heapIdx: -1}
	inc.Incident = Incident{
		ID:          fmt.Sprintf("%s%04d", cmp.Or(e.idPrefix, "INC-"), e.seq),
		Service:     e.service,
		Env:         e.env,
		FaultDomain: domain,
		GroupKey:    key,
		State:       Detected,
		DetectedAt:  now,
	}
	inc.notifyAt = now.Add(time.Duration(e.plan.Timers.GroupWait))
	e.incidents[inc.ID] = inc
	e.byGroup[key] = inc
	return inc
}

// attach records that a joined inc: its component, its tier, a line.
func (e *engine) attach(inc *incident, a *alert, now time.Time) {
	if !slices.Contains(inc.Components, a.ref.Component) {
		// Copy on write: snapshots share the slice.
		c := make([]string, 0, len(inc.Components)+1)
		c = append(append(c, inc.Components...), a.ref.Component)
		slices.Sort(c)
		inc.Components = c
	}
	if a.ref.Tier == Core {
		inc.CoreAffected = true
	}
	e.line(inc, now, EventSignal, systemActor, fmt.Sprintf("%s from %s (%s tier), graded %s", a.ref.Kind, alertWho(&a.ref), a.ref.Tier, a.ref.Severity), false)
}

// Why severity rose, for regrade.
const (
	byGrade = iota
	byCore
	bySpread
	byRollback
)

// regrade raises the incident's severity to what its alerts and the
// escalation rules demand. Severity never falls here. An alert's grade counts
// only above what a person accepted when lowering the severity (a.waived);
// the escalation rules raise one level above the incident's severity before
// the alert arrived.
func (e *engine) regrade(inc *incident, a *alert, joined, fresh, coreBefore bool, now time.Time) {
	e.categorize(inc, a, now)
	target, why := None, byGrade
	if a.ref.Severity > a.waived {
		target = a.ref.Severity
	}
	if a.muted != "" {
		// A muted alert raises nothing (silence.go); it is graded again
		// when it stops being muted.
		if inc.Title == "" {
			inc.Title = fmt.Sprintf("%s: %s", a.ref.Kind.AlertName(), alertWho(&a.ref))
		}
		return
	}
	esc := e.plan.Escalation
	if joined && inc.size() > 1 {
		if esc.CoreJoins && a.ref.Tier == Core && !coreBefore {
			if up := min(inc.Severity+1, Fatal); up > target {
				target, why = up, byCore
			}
		}
		if n := esc.SpreadComponents; n > 0 && !inc.spread && len(inc.Components) >= n {
			inc.spread = true
			limit := Severe
			if inc.CoreAffected {
				limit = Fatal
			}
			if up := min(inc.Severity+1, limit); up > target {
				target, why = up, bySpread
			}
		}
	}
	if esc.RollbackFailed && a.ref.Kind == KindRollbackFailed && fresh {
		if up := min(inc.Severity+1, Fatal); up > target {
			target, why = up, byRollback
		}
	}
	if target > inc.Severity || inc.Title == "" {
		// The title names the alert that made the incident what it is.
		inc.Title = fmt.Sprintf("%s: %s", a.ref.Kind.AlertName(), alertWho(&a.ref))
	}
	if target <= inc.Severity {
		return
	}
	var reason string
	switch why {
	case byCore:
		reason = fmt.Sprintf("core component %s joined", a.ref.Component)
	case bySpread:
		reason = fmt.Sprintf("spread to %d components", len(inc.Components))
	case byRollback:
		reason = "a rollback failed"
	default:
		reason = fmt.Sprintf("%s graded %s by the plan", a.ref.Kind, a.ref.Severity)
	}
	inc.byRule = why != byGrade
	e.escalate(inc, target, systemActor, reason, now)
}

// escalate raises severity to sev and restarts what the plan demands at the
// new level. It notifies if the incident is to be heard of: an escalation
// once announced, or the announcement itself when a recorded-only (None)
// incident becomes one that pages.
func (e *engine) escalate(inc *incident, sev Severity, actor, reason string, now time.Time) {
	from := inc.Severity
	inc.Severity = sev
	inc.MaxSeverity = max(inc.MaxSeverity, sev)
	inc.Level = sev.Level()
	inc.Lead = e.plan.Response[sev].Lead
	if inc.needsResponse() {
		e.restartClock(inc, from, now)
	}
	note := fmt.Sprintf("%s → %s: %s", from, sev, reason)
	if from == None && len(inc.Timeline) <= 1 {
		note = fmt.Sprintf("graded %s (level %d): %s", sev, sev.Level(), reason)
	}
	if !inc.ResponseDue.IsZero() && inc.needsResponse() {
		note += fmt.Sprintf("; %s to respond by %s", inc.Lead, inc.ResponseDue.UTC().Format(time.RFC3339))
	}
	e.line(inc, now, EventEscalated, actor, note, true)
	if !inc.notified() {
		if inc.waitOver && inc.State.Open() && sev > None && !inc.muted() {
			e.announce(inc, now)
		}
		return
	}
	n := e.emit(inc, EventEscalated, now)
	n.PreviousSeverity = from
	n.PreviousAlertSeverity = e.plan.Response[from].AlertSeverity
}

// restartClock sets the response deadline for the incident's current
// severity. The clock runs from when somebody was first asked to respond to
// this episode: detection, or when a recorded-only incident started to page,
// or when it rose above the level at which it was acknowledged.
func (e *engine) restartClock(inc *incident, from Severity, now time.Time) {
	continuing := inc.ackSeverity < from && from > None && !inc.clockStart.IsZero()
	if !continuing {
		inc.clockStart = now
	}
	rp := e.plan.Response[inc.Severity]
	inc.ResponseDue = inc.clockStart.Add(time.Duration(rp.Within))
	// Breach again at the new level if its deadline has passed too: the
	// timers page the new level's escalation target.
	inc.Breached = false
	inc.EscalatedTo = ""
	inc.chainFired, inc.EscalationStep = 0, 0
	inc.renotifyAt = time.Time{}
	if rp.RenotifyEvery > 0 {
		inc.renotifyAt = now.Add(time.Duration(rp.RenotifyEvery))
	}
}

func (e *engine) announce(inc *incident, now time.Time) {
	inc.NotifiedAt = now
	note := fmt.Sprintf("announced at %s (level %d)", inc.Severity, inc.Level)
	if inc.needsResponse() {
		note += fmt.Sprintf(", %s to respond by %s", inc.Lead, inc.ResponseDue.UTC().Format(time.RFC3339))
	}
	e.line(inc, now, EventDetected, systemActor, note, true)
	e.emit(inc, EventDetected, now).Fired = inc.firing()
}

func (e *engine) cleared(a *alert, s *Signal, now time.Time) {
	inc := a.inc
	e.line(inc, now, EventSignal, systemActor, fmt.Sprintf("%s cleared for %s", a.ref.Kind, alertWho(&a.ref)), false)
	if !inc.notified() && !inc.waitOver && !inc.anyFiring() {
		// Everything cleared within the group wait: a flap. Nobody hears of it.
		e.flaps++
		e.forget(inc)
		return
	}
	e.hold(inc, now)
	if inc.notified() && inc.State.Open() && !a.quiet() {
		e.emitChange(inc, now, a, s, false)
	}
}

// forget drops inc and releases its alerts.
func (e *engine) forget(inc *incident) {
	e.release(inc)
	e.unschedule(inc)
	delete(e.incidents, inc.ID)
	if e.byGroup[inc.GroupKey] == inc {
		delete(e.byGroup, inc.GroupKey)
	}
}

func (e *engine) reopen(inc *incident, now time.Time) {
	// The fault is back after the incident resolved: a new episode, which
	// needs a response within the plan's time like the first, even if the
	// first was acknowledged.
	inc.State = Detected
	inc.ackSeverity = -1
	if inc.Severity > None {
		e.restartClock(inc, None, now)
	}
	inc.ResolvedAt = time.Time{}
	inc.ReopenCount++
	inc.clearSince = time.Time{}
	inc.VerifiedAt, inc.VerifiedBy = time.Time{}, "" // the fix did not hold
	e.finished = slices.DeleteFunc(e.finished, func(x *incident) bool { return x == inc })
	e.line(inc, now, EventReopened, systemActor, fmt.Sprintf("signals fired again within the reopen window (reopen %d)", inc.ReopenCount), true)
	switch {
	case inc.notified():
		e.emit(inc, EventReopened, now)
	case inc.waitOver && inc.Severity > None && !inc.muted():
		e.announce(inc, now)
	case !inc.waitOver:
		// Resolved within its group wait: it gets a group wait again.
		inc.notifyAt = now.Add(time.Duration(e.plan.Timers.GroupWait))
	}
}

// line appends a timeline entry. Routine entries (important=false) are
// omitted once the timeline is full. The timeline is append-only, so that
// snapshots share it.
func (e *engine) line(inc *incident, now time.Time, ev Event, actor, note string, important bool) {
	if !important && len(inc.Timeline) >= e.maxLines {
		inc.omitted++
		return
	}
	inc.Timeline = append(inc.Timeline, Entry{At: now, Event: ev, Actor: actor, Severity: inc.Severity, State: inc.State, Note: note})
}

// advance runs the timers due at or before now and returns the
// notifications they cause.
func (e *engine) advance(now time.Time) []Notification {
	if !e.mute.nextAt.IsZero() && !now.Before(e.mute.nextAt) {
		e.muteTick(now)
	} else if e.mute.stale {
		e.mute.stale = false
		e.remute(now) // an inhibiting source resolved or was released
	}
	for len(e.due) > 0 && !e.due[0].dueAt.After(now) {
		inc := e.due[0]
		for range 3 {
			e.advanceIncident(inc, now)
			if _, ok := e.incidents[inc.ID]; !ok || e.nextTimer(inc).After(now) || e.nextTimer(inc).IsZero() {
				break
			}
		}
		if inc.heapIdx >= 0 && !inc.dueAt.After(now) {
			// Never expected: a timer that handling does not consume. Look
			// again in a second rather than spin.
			inc.dueAt = now.Add(time.Second)
			fixDue(&e.due, inc)
		}
	}
	if e.overflowFiring && !now.Before(e.lastRefusal.Add(overflowQuiet)) {
		e.overflowFiring = false
		s := e.overflowSignal(false, now)
		e.reportSlow(e.fingerprint(&s), &s, now, true)
	}
	return e.flush()
}

func (e *engine) advanceIncident(inc *incident, now time.Time) {
	inc.dirty = true
	defer func() {
		if _, ok := e.incidents[inc.ID]; ok {
			e.schedule(inc)
		}
	}()
	if !inc.notifyAt.IsZero() && !now.Before(inc.notifyAt) {
		inc.notifyAt = time.Time{}
		inc.waitOver = true
		// What paged may have cleared within the wait while an alert graded
		// None still fires: then nobody is paged, and the incident resolves
		// after the hold-down unannounced.
		if inc.State.Open() && inc.Severity > None && inc.held() && !inc.muted() {
			e.announce(inc, now)
		}
	}
	if e.stale(inc, now) {
		// Resolved incidents leave their group once the reopen window passes.
		if e.byGroup[inc.GroupKey] == inc {
			delete(e.byGroup, inc.GroupKey)
		}
		e.release(inc)
		return
	}
	if !inc.State.Open() {
		return
	}
	// Nobody is paged again for an incident whose signals have all cleared
	// (it is in its resolve hold-down), nor while what still fires no longer
	// warrants its severity (see warranted).
	unacked := inc.needsResponse() && inc.notified() && inc.clearSince.IsZero() && inc.warranted()
	breached := false
	if steps, _ := e.chain(inc); unacked && len(steps) > 0 {
		if !inc.Breached && !inc.ResponseDue.IsZero() && !now.Before(inc.ResponseDue) {
			inc.Breached = true
			e.breachChained(inc, now)
		}
		e.advanceChain(inc, now)
	} else if unacked && !inc.Breached && !inc.ResponseDue.IsZero() && !now.Before(inc.ResponseDue) {
		inc.Breached = true
		inc.EscalatedTo = e.plan.Response[inc.Severity].EscalateTo
		e.line(inc, now, EventBreached, systemActor, fmt.Sprintf("no acknowledgement within %s of %s: escalated to %s",
			time.Duration(e.plan.Response[inc.Severity].Within), inc.Severity, inc.EscalatedTo), true)
		e.emit(inc, EventBreached, now)
		breached = true
	}
	if unacked && !inc.renotifyAt.IsZero() && (breached || !now.Before(inc.renotifyAt)) {
		if every := time.Duration(e.plan.Response[inc.Severity].RenotifyEvery); every > 0 {
			// The next reminder comes a full interval after this page: after
			// a breach (not in the same instant, and not a catch-up after a
			// silence), and after a reminder delayed because its signals
			// had cleared at its time (a grid would page again sooner).
			inc.renotifyAt = now.Add(every)
			if !breached {
				e.emit(inc, EventRenotify, now)
			}
		} else {
			inc.renotifyAt = time.Time{}
		}
	}
	if inc.State != Mitigated && !inc.muted() {
		for i, pr := range e.plan.Escalation.Persistence {
			if !inc.persisted[i] && inc.Severity == pr.From && !now.Before(inc.DetectedAt.Add(time.Duration(pr.After))) {
				inc.persisted[i] = true
				inc.byRule = true
				e.escalate(inc, pr.To, systemActor, fmt.Sprintf("not mitigated %s after detection", time.Duration(pr.After)), now)
			}
		}
	}
	if !inc.clearSince.IsZero() && !now.Before(inc.clearSince.Add(time.Duration(e.plan.Timers.ResolveHoldDown))) {
		e.resolve(inc, now, systemActor, fmt.Sprintf("all signals clear for %s", time.Duration(e.plan.Timers.ResolveHoldDown)))
		if inc.notified() {
			e.emit(inc, EventResolved, now)
		}
	}
}

// resolve marks inc resolved, clears its alerts and releases them: a
// returning signal finds the incident by its group key.
func (e *engine) resolve(inc *incident, now time.Time, actor, note string) {
	inc.dirty = true
	inc.stateBefore = inc.State
	inc.State = Resolved
	inc.ResolvedAt = now
	inc.clearSince = time.Time{}
	inc.notifyAt = time.Time{}
	for _, a := range inc.alerts {
		if a.ref.Firing {
			inc.count(a, -1)
			a.ref.Firing = false
			a.ref.ClearedAt = now
			a.evidence = false
		}
	}
	e.release(inc)
	e.line(inc, now, EventResolved, actor, note, true)
	e.finished = append(e.finished, inc)
	for len(e.finished) > e.retention {
		old := e.finished[0]
		e.finished = e.finished[1:]
		e.forget(old)
	}
	e.schedule(inc)
}
