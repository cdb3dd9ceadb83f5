package firebreak

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Snapshots: what readers and notifiers see of an incident.
//
// An incident's snapshot is immutable. It is rebuilt only when the incident
// changed since the last one (incident.dirty), and rebuilding it costs at
// most MaxAlertsPerIncident alert copies: the timeline, evidence, findings
// and components are shared with the engine, which only appends to them (or
// copies on write), so a snapshot's clipped slices never change. Every
// notification of one step shares its incident's snapshot. Readers ([Board.List],
// [Board.Get]) take the snapshot pointers under the lock and make their deep
// copies after releasing it.

// snapshot is one immutable view of an incident.
type snapshot struct {
	inc     Incident
	seq     int
	omitted int // routine timeline entries omitted
}

// pending is a notification of the current step; its Incident is filled in
// from the incident's snapshot when the step ends.
type pending struct {
	inc   *incident
	n     Notification
	extra bool // the alert that changed is kept only in an aggregate: list it too
}

// emit records a notification of the current step. The pointer is valid
// until the next emit.
func (e *engine) emit(inc *incident, ev Event, now time.Time) *Notification {
	e.out = append(e.out, pending{inc: inc, n: Notification{Event: ev, At: now, AlertSeverity: e.plan.Response[inc.Severity].AlertSeverity}})
	return &e.out[len(e.out)-1].n
}

// emitChange records an EventSignal notification for one alert that fired
// or cleared. An alert kept only in an aggregate is also listed in the
// notification's incident, so that notifiers that speak in alerts send it.
func (e *engine) emitChange(inc *incident, now time.Time, a *alert, s *Signal, fired bool) {
	r := e.fullRef(a, s)
	n := e.emit(inc, EventSignal, now)
	if fired {
		n.Fired = []AlertRef{r}
	} else {
		n.Resolved = []AlertRef{r}
	}
	e.out[len(e.out)-1].extra = a.agg != nil
}

// flush ends a step: it returns its notifications, each with its incident's
// snapshot as it stands after the step.
func (e *engine) flush() []Notification {
	if len(e.out) == 0 {
		return nil
	}
	notes := make([]Notification, len(e.out))
	for i := range e.out {
		notes[i] = e.out[i].n
		notes[i].Incident = e.view(e.out[i].inc).inc
		if e.out[i].extra {
			in := &notes[i].Incident
			in.Alerts = append(slices.Clip(in.Alerts), append(notes[i].Fired, notes[i].Resolved...)...)
		}
	}
	clear(e.out)
	e.out = e.out[:0]
	return notes
}

// view returns inc's snapshot, rebuilding it if inc changed.
func (e *engine) view(inc *incident) *snapshot {
	if inc.view != nil && !inc.dirty {
		return inc.view
	}
	v := &snapshot{inc: inc.Incident, seq: inc.seq, omitted: inc.omitted}
	s := &v.inc
	s.Components = slices.Clip(inc.Components)
	s.Timeline = slices.Clip(inc.Timeline)
	s.Evidence = slices.Clip(inc.Evidence)
	s.Findings = slices.Clip(inc.Findings)
	s.Alerts = make([]AlertRef, 0, len(inc.alerts)+len(inc.aggs))
	for _, a := range inc.alerts {
		s.Alerts = append(s.Alerts, a.snapshot())
	}
	for _, g := range inc.aggs {
		s.Alerts = append(s.Alerts, g.snapshot())
	}
	if len(s.Alerts) > 0 {
		if ids := inc.traceIDs(); len(ids) > 0 {
			s.Evidence = append(s.Evidence, Evidence{At: s.Alerts[0].LastSeen, Kind: "trace", Source: "recent failing requests", TraceIDs: ids})
		}
	}
	inc.view, inc.dirty = v, false
	return v
}

func (inc *incident) traceIDs() []string {
	var ids []string
	for _, a := range inc.alerts {
		n := min(a.traceN, traceRing)
		for i := range n {
			id := a.traces[(a.traceN-n+i)%traceRing]
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// copy returns a deep copy of the snapshot for a caller, who may change it.
// The Board calls it outside its lock.
func (v *snapshot) copy() Incident {
	s := v.inc
	s.Components = slices.Clone(s.Components)
	s.Timeline = slices.Clone(s.Timeline)
	if v.omitted > 0 && len(s.Timeline) > 0 {
		s.Timeline = append(s.Timeline, Entry{At: s.Timeline[len(s.Timeline)-1].At, Event: EventSignal, Actor: systemActor,
			Severity: s.Severity, State: s.State, Note: fmt.Sprintf("%s (%d)", omittedNote, v.omitted)})
	}
	s.Alerts = slices.Clone(s.Alerts)
	for i := range s.Alerts {
		s.Alerts[i].Labels = maps.Clone(s.Alerts[i].Labels)
	}
	s.Evidence = cloneEvidence(s.Evidence)
	s.Findings = slices.Clone(s.Findings)
	s.Report = s.Report.clone()
	return s
}

func cloneEvidence(in []Evidence) []Evidence {
	out := slices.Clone(in)
	for i := range out {
		out[i].TraceIDs = slices.Clone(out[i].TraceIDs)
		out[i].Metrics = maps.Clone(out[i].Metrics)
	}
	return out
}
