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
// changed since the last one (incident.dirty). The timeline, evidence,
// findings and components are shared with the engine, which only appends to
// them (or copies on write), so a snapshot's clipped slices never change.
// The alerts are kept in immutable chunks of refChunk: a rebuild compares
// each chunk with the alerts as they are now and copies only the chunks
// that changed, so a fire or clear in an incident of any size copies one
// chunk. The flat Incident.Alerts slice, and the "recent failing requests"
// evidence, are made only when somebody reads the snapshot — a notifier, on
// its queue's goroutine, or a caller of [Board.List] or [Board.Get] — after
// the Board's lock is released ([snapshot.full]). Every notification of one
// step shares its incident's snapshot.

// refChunk is how many alerts one immutable chunk of a snapshot holds.
const refChunk = 16

// maxTraceIDs bounds the recent failing trace IDs a snapshot names.
const maxTraceIDs = 16

// snapshot is one immutable view of an incident.
type snapshot struct {
	inc     Incident     // Alerts is nil: see chunks; Evidence lacks the trace entry
	chunks  [][]AlertRef // the alerts, in order, refChunk to a chunk
	traces  []string     // recent failing trace IDs
	seq     int
	omitted int // routine timeline entries omitted
}

// full returns the snapshot's incident with its alerts and the trace
// evidence filled in. The result shares the snapshot's other slices and the
// alerts' label maps: treat them as read-only.
func (v *snapshot) full(extra ...[]AlertRef) Incident {
	s := v.inc
	n := 0
	for _, c := range v.chunks {
		n += len(c)
	}
	for _, x := range extra {
		n += len(x)
	}
	if n == 0 {
		return s
	}
	s.Alerts = make([]AlertRef, 0, n)
	for _, c := range v.chunks {
		s.Alerts = append(s.Alerts, c...)
	}
	for _, x := range extra {
		s.Alerts = append(s.Alerts, x...)
	}
	if len(v.traces) > 0 {
		s.Evidence = append(slices.Clip(s.Evidence), Evidence{At: s.Alerts[0].LastSeen, Kind: "trace", Source: "recent failing requests", TraceIDs: v.traces})
	}
	return s
}

// pending is a notification of the current step; its Incident is filled in
// from the incident's snapshot when the step ends.
type pending struct {
	inc *incident
	n   Notification
}

// materialize fills in a notification's incident from its snapshot: the
// alerts, the trace evidence and, when the alert that changed is kept only
// in an aggregate, that alert too. The queues call it on their goroutines,
// before the notifier sees the notification; it is idempotent.
func (n *Notification) materialize() {
	v := n.view
	if v == nil {
		return
	}
	n.view = nil
	var in Incident
	if n.extra {
		in = v.full(n.Fired, n.Resolved)
		n.extra = false
	} else {
		in = v.full()
	}
	n.Incident.Alerts, n.Incident.Evidence = in.Alerts, in.Evidence
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
	n.extra = a.agg != nil
}

// flush ends a step: it returns its notifications, each with its incident's
// snapshot as it stands after the step.
func (e *engine) flush() []Notification {
	if len(e.out) == 0 {
		return nil
	}
	notes := make([]Notification, len(e.out))
	for i := range e.out {
		v := e.view(e.out[i].inc)
		notes[i] = e.out[i].n
		notes[i].Incident = v.inc // its alerts are filled in on delivery
		notes[i].view = v
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
	old := inc.view
	v := &snapshot{inc: inc.Incident, seq: inc.seq, omitted: inc.omitted}
	s := &v.inc
	s.Alerts = nil
	s.Components = slices.Clip(inc.Components)
	s.Timeline = slices.Clip(inc.Timeline)
	s.Evidence = slices.Clip(inc.Evidence)
	s.Findings = slices.Clip(inc.Findings)
	n := len(inc.alerts) + len(inc.aggs)
	v.chunks = make([][]AlertRef, 0, (n+refChunk-1)/refChunk)
	for start := 0; start < n; start += refChunk {
		end := min(start+refChunk, n)
		j := start / refChunk
		if old != nil && j < len(old.chunks) && inc.unchanged(old.chunks[j], start, end) {
			v.chunks = append(v.chunks, old.chunks[j]) // unchanged: share it
			continue
		}
		c := make([]AlertRef, end-start)
		for i := start; i < end; i++ {
			c[i-start] = inc.ref(i)
		}
		v.chunks = append(v.chunks, c)
	}
	if n > 0 {
		v.traces = inc.traceIDs()
	}
	inc.view, inc.dirty = v, false
	return v
}

// ref returns the snapshot entry of inc's i-th alert: its alerts in full,
// then its aggregates.
func (inc *incident) ref(i int) AlertRef {
	if i < len(inc.alerts) {
		return inc.alerts[i].snapshot()
	}
	return inc.aggs[i-len(inc.alerts)].snapshot()
}

// unchanged reports whether chunk c still holds inc's alerts start..end as
// they are now, comparing in place (no copy). An alert's fingerprint fixes
// its kind, component, dependency, labels and first sighting; the rest is
// compared. An aggregate entry is compared through a fresh copy: there is at
// most one per kind.
func (inc *incident) unchanged(c []AlertRef, start, end int) bool {
	if len(c) != end-start {
		return false
	}
	for i := start; i < end; i++ {
		x := &c[i-start]
		if i >= len(inc.alerts) {
			if y := inc.aggs[i-len(inc.alerts)].snapshot(); !sameRef(x, &y, y.Peak) {
				return false
			}
			continue
		}
		if a := inc.alerts[i]; !sameRef(x, &a.ref, a.peak) {
			return false
		}
	}
	return true
}

// sameRef reports whether snapshot entry x still shows y (whose peak is
// kept apart, as alert.peak).
func sameRef(x, y *AlertRef, peak float64) bool {
	return x.Count == y.Count && x.LastSeen == y.LastSeen && x.Firing == y.Firing && x.Severity == y.Severity &&
		x.Value == y.Value && x.Peak == peak && x.ClearedAt == y.ClearedAt && x.Aggregated == y.Aggregated &&
		x.Fallback == y.Fallback && x.Tier == y.Tier && x.Fingerprint == y.Fingerprint && x.Kind == y.Kind &&
		x.Summary == y.Summary && x.FirstSeen.Equal(y.FirstSeen)
}

// traceIDs returns the distinct recent failing trace IDs of inc's alerts,
// at most maxTraceIDs.
func (inc *incident) traceIDs() []string {
	var ids []string
	for _, a := range inc.alerts {
		n := min(a.traceN, traceRing)
		for i := range n {
			id := a.traces[(a.traceN-n+i)%traceRing]
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
				if len(ids) == maxTraceIDs {
					return ids
				}
			}
		}
	}
	return ids
}

// copy returns a deep copy of the snapshot for a caller, who may change it.
// The Board calls it outside its lock.
func (v *snapshot) copy() Incident {
	s := v.full()
	s.Components = slices.Clone(s.Components)
	s.Timeline = slices.Clone(s.Timeline)
	if v.omitted > 0 && len(s.Timeline) > 0 {
		s.Timeline = append(s.Timeline, Entry{At: s.Timeline[len(s.Timeline)-1].At, Event: EventSignal, Actor: systemActor,
			Severity: s.Severity, State: s.State, Note: fmt.Sprintf("%s (%d)", omittedNote, v.omitted)})
	}
	for i := range s.Alerts { // full made s.Alerts afresh
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
