package firebreak

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"
)

// The engine's side of what people do. Each action checks that it applies to
// the incident's state, changes it and says which event to notify; the Board
// validates the arguments first and notifies after its lock is released.

// act runs fn on incident id at now and returns the notifications: fn's own
// (an escalation, an announcement) or, if it made none, one for the event it
// returns, once the incident has been announced.
func (e *engine) act(id string, now time.Time, fn func(inc *incident) (Event, error)) ([]Notification, error) {
	inc, ok := e.incidents[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	prev := inc.Severity
	inc.dirty = true
	ev, err := fn(inc)
	e.schedule(inc)
	if err != nil {
		return e.flush(), err
	}
	if ev != "" && len(e.out) == 0 && inc.notified() {
		n := e.emit(inc, ev, now)
		if ev == EventEscalated || ev == EventDowngraded {
			n.PreviousSeverity = prev
			n.PreviousAlertSeverity = e.plan.Response[prev].AlertSeverity
		}
	}
	return e.flush(), nil
}

func transitionError(inc *incident, action string) error {
	return fmt.Errorf("%w: cannot %s incident %s: it is %s", ErrTransition, action, inc.ID, inc.State)
}

func (e *engine) acknowledge(inc *incident, by string, now time.Time) (Event, error) {
	if !inc.State.Open() || inc.ackSeverity >= inc.Severity {
		return "", transitionError(inc, "acknowledge")
	}
	e.ack(inc, by, now)
	return EventAcknowledged, nil
}

func (e *engine) ack(inc *incident, by string, now time.Time) {
	inc.ackSeverity = inc.Severity
	inc.renotifyAt = time.Time{}
	if inc.AcknowledgedAt.IsZero() {
		inc.AcknowledgedAt = now
		inc.AcknowledgedBy = by
	}
	if inc.State == Detected {
		inc.State = Acknowledged
	}
	note := fmt.Sprintf("acknowledged at %s", inc.Severity)
	if !inc.ResponseDue.IsZero() {
		if now.After(inc.ResponseDue) {
			note += fmt.Sprintf(", %s after the deadline", now.Sub(inc.ResponseDue).Round(time.Second))
		} else {
			note += ", within the deadline"
		}
	}
	note += chainAckNote(inc)
	e.line(inc, now, EventAcknowledged, by, note, true)
}

func (e *engine) mitigate(inc *incident, by, action string, now time.Time) (Event, error) {
	if inc.State != Detected && inc.State != Acknowledged {
		return "", transitionError(inc, "mitigate")
	}
	if inc.ackSeverity < inc.Severity {
		e.ack(inc, by, now)
	}
	inc.State = Mitigated
	inc.MitigatedAt = now
	e.line(inc, now, EventMitigated, by, action, true)
	return EventMitigated, nil
}

func (e *engine) resolveByHand(inc *incident, by, note string, now time.Time) (Event, error) {
	if !inc.State.Open() {
		return "", transitionError(inc, "resolve")
	}
	e.resolve(inc, now, by, cmp.Or(note, "resolved by hand"))
	return EventResolved, nil
}

func (e *engine) setSeverity(inc *incident, by string, sev Severity, reason string, now time.Time) (Event, error) {
	if !inc.State.Open() {
		return "", transitionError(inc, "change the severity of")
	}
	switch {
	case sev > inc.Severity:
		inc.byRule = true
		e.escalate(inc, sev, by, "by "+by+": "+reason, now)
		return EventEscalated, nil
	case sev < inc.Severity:
		from := inc.Severity
		inc.Severity = sev
		inc.byRule = true
		inc.Level = sev.Level()
		inc.Lead = e.plan.Response[sev].Lead
		// The person has seen the alerts' grades: only worse evidence raises
		// the severity again. Alerts kept only in an aggregate are waived at
		// the aggregate's worst grade.
		for _, a := range inc.alerts {
			a.waived = max(a.waived, a.ref.Severity)
		}
		for _, a := range inc.light {
			a.waived = max(a.waived, a.ref.Severity, a.agg.sev)
		}
		if inc.needsResponse() {
			e.restartClock(inc, from, now)
		} else {
			inc.Breached = false
			inc.EscalatedTo = ""
			inc.renotifyAt = time.Time{}
			if sev == None {
				inc.ResponseDue = time.Time{}
			}
		}
		e.line(inc, now, EventDowngraded, by, fmt.Sprintf("%s → %s: %s", from, sev, reason), true)
		return EventDowngraded, nil
	}
	return "", nil
}

func (e *engine) addFinding(inc *incident, by string, f Finding, now time.Time) (Event, error) {
	if inc.State == Closed {
		return "", transitionError(inc, "add a finding to")
	}
	if len(inc.Findings) >= MaxFindings {
		return "", fmt.Errorf("%w: incident %s already holds %d findings", ErrLimit, inc.ID, MaxFindings)
	}
	f.At = cmp.Or(f.At, now)
	f.Author = cmp.Or(f.Author, by)
	inc.Findings = append(inc.Findings, f)
	e.line(inc, now, EventFinding, by, f.Hypothesis, true)
	return EventFinding, nil
}

func (e *engine) addEvidence(inc *incident, by string, ev Evidence, now time.Time) (Event, error) {
	if inc.State == Closed {
		return "", transitionError(inc, "add evidence to")
	}
	if len(inc.Evidence) >= MaxEvidence {
		return "", fmt.Errorf("%w: incident %s already holds %d pieces of evidence", ErrLimit, inc.ID, MaxEvidence)
	}
	ev.At = cmp.Or(ev.At, now)
	ev.TraceIDs = slices.Clone(ev.TraceIDs)
	ev.Metrics = maps.Clone(ev.Metrics)
	inc.Evidence = append(inc.Evidence, ev)
	e.line(inc, now, EventEvidence, by, cmp.Or(ev.Note, ev.Kind+" evidence from "+cmp.Or(ev.Source, by)), false)
	return "", nil
}

// closeWith files the report and closes a resolved incident. It returns the
// filed report, which the engine keeps and never changes.
func (e *engine) closeWith(inc *incident, by string, in ReportInput, now time.Time) (*Report, error) {
	if inc.State != Resolved {
		return nil, transitionError(inc, "close")
	}
	if err := e.checkVerified(inc); err != nil {
		return nil, err
	}
	in.Author = cmp.Or(in.Author, by)
	r := BuildReport(e.view(inc).copy(), e.plan, in, now)
	inc.State = Closed
	inc.ClosedAt = now
	e.line(inc, now, EventClosed, by, fmt.Sprintf("%s filed", r.Kind), true)
	r.State = Closed
	r.Timeline = slices.Clone(inc.Timeline)
	inc.Report = r
	inc.dirty = true
	e.release(inc)
	return r, nil
}
