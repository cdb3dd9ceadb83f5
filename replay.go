package firebreak

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ReplayStep is one moment of a scripted scenario replayed by [ReplayPlan]:
// a signal arriving, or a person acting on the newest open incident.
type ReplayStep struct {
	// At is when the step happens, from the start of the scenario.
	At time.Duration `json:"at"`
	// Signal, if set, is reported at At (its Time is ignored).
	Signal *Signal `json:"signal,omitempty"`
	// By names the person acting; Action is "acknowledge", "mitigate" or
	// "resolve", on the newest open incident. Note is the mitigation or
	// resolution note.
	By     string `json:"by,omitempty"`
	Action string `json:"action,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Replay is what a plan made of a scenario.
type Replay struct {
	Start         time.Time      // the scenario's virtual start
	Incidents     []Incident     // oldest first, as they stood at the end
	Notifications []Notification // in order
}

// ReplayEpoch is the virtual start of every [ReplayPlan]: replays of the
// same scenario are identical.
var ReplayEpoch = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// ReplayPlan replays steps through a copy of plan in virtual time, for a
// tabletop exercise: no Board, no clock, no notifier, nothing of
// production is touched. Timers — group waits, response deadlines,
// escalations, resolution — run as the plan says, up to until. It returns
// an error for an invalid plan or step.
func ReplayPlan(service string, plan *Plan, steps []ReplayStep, until time.Duration) (*Replay, error) {
	if plan == nil {
		plan = DefaultPlan()
	} else if err := plan.Validate(); err != nil {
		return nil, err
	}
	if service == "" {
		return nil, errors.New("firebreak: ReplayPlan: service name is required")
	}
	steps = slices.Clone(steps)
	slices.SortStableFunc(steps, func(a, b ReplayStep) int { return cmp.Compare(a.At, b.At) })
	for i, s := range steps {
		switch {
		case s.At < 0 || s.At > until:
			return nil, fmt.Errorf("firebreak: ReplayPlan: step %d at %s is outside the scenario (0 to %s)", i, s.At, until)
		case s.Signal == nil && s.Action == "":
			return nil, fmt.Errorf("firebreak: ReplayPlan: step %d has neither a signal nor an action", i)
		case s.Signal != nil && !s.Signal.Kind.Valid():
			return nil, fmt.Errorf("firebreak: ReplayPlan: step %d: kind %q is not valid", i, s.Signal.Kind)
		case s.Action != "" && !slices.Contains([]string{"acknowledge", "mitigate", "resolve"}, s.Action):
			return nil, fmt.Errorf("firebreak: ReplayPlan: step %d: action %q is not acknowledge, mitigate or resolve", i, s.Action)
		case s.Action != "" && strings.TrimSpace(s.By) == "":
			return nil, fmt.Errorf("firebreak: ReplayPlan: step %d: the person acting must be named", i)
		}
	}
	p := plan.Clone()
	e := newEngine(service, "tabletop", p, defaultRetention, defaultMaxAlerts, defaultTimeline)
	r := &Replay{Start: ReplayEpoch}
	runTo := func(t time.Time) {
		for {
			nx := e.next()
			if nx.IsZero() || nx.After(t) {
				return
			}
			r.Notifications = append(r.Notifications, e.advance(nx)...)
		}
	}
	for i, s := range steps {
		now := ReplayEpoch.Add(s.At)
		runTo(now)
		if s.Signal != nil {
			sig := *s.Signal
			sig.Time, sig.Value = now, finite(sig.Value)
			r.Notifications = append(r.Notifications, e.report(&sig, now)...)
			continue
		}
		id := newestOpen(e)
		if id == "" {
			return nil, fmt.Errorf("firebreak: ReplayPlan: step %d (%s by %s at %s): no incident is open", i, s.Action, s.By, s.At)
		}
		notes, err := e.act(id, now, func(inc *incident) (Event, error) {
			switch s.Action {
			case "acknowledge":
				return e.acknowledge(inc, s.By, now)
			case "mitigate":
				return e.mitigate(inc, s.By, cmp.Or(s.Note, "mitigated"), now)
			}
			return e.resolveByHand(inc, s.By, s.Note, now)
		})
		if err != nil {
			return nil, fmt.Errorf("firebreak: ReplayPlan: step %d: %w", i, err)
		}
		r.Notifications = append(r.Notifications, notes...)
	}
	runTo(ReplayEpoch.Add(until))
	for _, inc := range e.incidents {
		r.Incidents = append(r.Incidents, e.view(inc).copy())
	}
	slices.SortFunc(r.Incidents, func(a, b Incident) int {
		return cmp.Or(a.DetectedAt.Compare(b.DetectedAt), strings.Compare(a.ID, b.ID))
	})
	for i := range r.Notifications {
		r.Notifications[i].materialize()
	}
	return r, nil
}

func newestOpen(e *engine) string {
	var best *incident
	for _, inc := range e.incidents {
		if inc.State.Open() && (best == nil || inc.seq > best.seq) {
			best = inc
		}
	}
	if best == nil {
		return ""
	}
	return best.ID
}
