package firebreak

import (
	"container/heap"
	"time"
)

// deadlines is the engine's timer queue: a min-heap of the incidents that
// have a timer pending, ordered by the earliest one (incident.dueAt). The
// timer loop pops only what is due instead of scanning every incident.
type deadlines []*incident

func (d deadlines) Len() int           { return len(d) }
func (d deadlines) Less(i, j int) bool { return d[i].dueAt.Before(d[j].dueAt) }
func (d deadlines) Swap(i, j int) {
	d[i], d[j] = d[j], d[i]
	d[i].heapIdx, d[j].heapIdx = i, j
}
func (d *deadlines) Push(x any) {
	inc := x.(*incident)
	inc.heapIdx = len(*d)
	*d = append(*d, inc)
}
func (d *deadlines) Pop() any {
	old := *d
	inc := old[len(old)-1]
	old[len(old)-1] = nil
	*d = old[:len(old)-1]
	inc.heapIdx = -1
	return inc
}

// schedule puts inc in the heap at its earliest pending timer, or takes it
// out when it has none. Call it after every change to inc.
func (e *engine) schedule(inc *incident) {
	if e.incidents[inc.ID] != inc {
		e.unschedule(inc) // forgotten
		return
	}
	at := e.nextTimer(inc)
	switch {
	case at.IsZero() && inc.heapIdx >= 0:
		heap.Remove(&e.due, inc.heapIdx)
	case at.IsZero():
	case inc.heapIdx >= 0:
		inc.dueAt = at
		heap.Fix(&e.due, inc.heapIdx)
	default:
		inc.dueAt = at
		heap.Push(&e.due, inc)
	}
}

// unschedule takes inc out of the heap.
func (e *engine) unschedule(inc *incident) {
	if inc.heapIdx >= 0 {
		heap.Remove(&e.due, inc.heapIdx)
	}
}

// next returns when the engine next has something to do, or zero.
func (e *engine) next() time.Time {
	var at time.Time
	if len(e.due) > 0 {
		at = e.due[0].dueAt
	}
	if m := e.mute.nextAt; !m.IsZero() && (at.IsZero() || m.Before(at)) {
		at = m
	}
	if e.overflowFiring {
		if q := e.lastRefusal.Add(overflowQuiet); at.IsZero() || q.Before(at) {
			at = q
		}
	}
	return at
}

// nextTimer returns the earliest timer pending on inc, due or not, or zero.
func (e *engine) nextTimer(inc *incident) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	consider(inc.notifyAt)
	if inc.State == Resolved && e.byGroup[inc.GroupKey] == inc {
		consider(inc.ResolvedAt.Add(time.Duration(e.plan.Timers.ReopenWindow)))
	}
	if !inc.State.Open() {
		return next
	}
	if inc.needsResponse() && inc.notified() && inc.clearSince.IsZero() && inc.warranted() {
		if !inc.Breached {
			consider(inc.ResponseDue)
		}
		consider(inc.renotifyAt)
		consider(e.chainDue(inc))
	}
	if inc.State != Mitigated && !inc.muted() {
		for i, pr := range e.plan.Escalation.Persistence {
			if !inc.persisted[i] && inc.Severity == pr.From {
				consider(inc.DetectedAt.Add(time.Duration(pr.After)))
			}
		}
	}
	if !inc.clearSince.IsZero() {
		consider(inc.clearSince.Add(time.Duration(e.plan.Timers.ResolveHoldDown)))
	}
	return next
}

func fixDue(d *deadlines, inc *incident) { heap.Fix(d, inc.heapIdx) }
