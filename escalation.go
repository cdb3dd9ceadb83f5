package firebreak

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Escalation chains and hand-offs.
//
// A severity's response policy may carry an escalation chain: ordered steps,
// each naming whom to page once the incident has been unacknowledged for
// After since its response clock started. Without a chain the plan's single
// breach at response_within pages escalate_to, as before. With one, the
// breach is still recorded when response_within passes (Incident.Breached),
// but the steps do the paging: each is an [EventEscalationStep]
// notification carrying the step's number and target, which routes match
// as "escalation_step" and "escalation_target", and which reaches the
// receiver of that name directly if there is one. With Repeat the chain
// starts over after its last step, one cycle every last-step After, until
// somebody acknowledges; acknowledgement stops it, and a rise in severity
// starts the new severity's chain on the same clock.

// Events of escalation chains and hand-offs; both are lifecycle events.
const (
	EventEscalationStep Event = "escalation_step" // a step of the severity's escalation chain fired
	EventHandedOff      Event = "handed_off"      // a person handed the incident to another person or role
)

// ActionHandOff is the [Authorizer] action of POST /incidents/{id}/handoff.
const ActionHandOff = "handoff"

// EscalationStep is one step of an escalation chain.
type EscalationStep struct {
	// After is how long the incident may stay unacknowledged, counted from
	// when its response clock started — detection, like the plan's
	// response deadline, not the announcement a group wait later — before
	// this step fires. Required;
	// each step's After is longer than the one before.
	After Duration `json:"after"`
	// Notify is whom the step pages: a role ("executive on call") or the
	// name of a receiver (see [WithNotifierNamed]). Required.
	Notify string `json:"notify"`
}

// maxChainAfter bounds a step's After, so that repeated cycles never
// overflow a time.Duration.
const maxChainAfter = Duration(7 * 24 * time.Hour)

// validateEscalationChains checks each severity's chain.
func validateEscalationChains(p *Plan, add func(path, format string, args ...any)) {
	for _, sev := range []Severity{None, General, Severe, Fatal} {
		rp, ok := p.Response[sev]
		if !ok {
			continue
		}
		path := "response." + sev.String()
		if sev == None && (len(rp.Escalation) > 0 || rp.Repeat) {
			add(path+".escalation", "none-graded incidents page nobody: no escalation chain")
			continue
		}
		if rp.Repeat && len(rp.Escalation) == 0 {
			add(path+".repeat", "needs an escalation chain to repeat")
		}
		var prev Duration
		for i, st := range rp.Escalation {
			sp := fmt.Sprintf("%s.escalation[%d]", path, i)
			switch {
			case st.After <= 0:
				add(sp+".after", "must be longer than 0, got %s", time.Duration(st.After))
			case st.After > maxChainAfter:
				add(sp+".after", "must be at most %s, got %s", time.Duration(maxChainAfter), time.Duration(st.After))
			case i > 0 && st.After <= prev:
				add(sp+".after", "%s is not after the previous step's %s: steps must be in order", time.Duration(st.After), time.Duration(prev))
			}
			if st.After > prev {
				prev = st.After
			}
			if strings.TrimSpace(st.Notify) == "" {
				add(sp+".notify", "required: the role or receiver the step pages")
			}
		}
	}
}

// chain returns the escalation chain of inc's severity.
func (e *engine) chain(inc *incident) (steps []EscalationStep, repeat bool) {
	rp := e.plan.Response[inc.Severity]
	return rp.Escalation, rp.Repeat
}

// chainDue returns when inc's next escalation step fires, or zero when its
// chain has none left (or there is no chain).
func (e *engine) chainDue(inc *incident) time.Time {
	steps, repeat := e.chain(inc)
	if len(steps) == 0 || inc.clockStart.IsZero() || (!repeat && inc.chainFired >= len(steps)) {
		return time.Time{}
	}
	cycle, i := inc.chainFired/len(steps), inc.chainFired%len(steps)
	return inc.clockStart.Add(time.Duration(cycle)*time.Duration(steps[len(steps)-1].After) + time.Duration(steps[i].After))
}

// advanceChain fires the steps of inc's chain that are due at now; the
// caller has checked that inc is unacknowledged and still warrants paging.
// A clock that is already late (a rise to a worse severity on a running
// clock) fires every step it passed, at most one cycle.
func (e *engine) advanceChain(inc *incident, now time.Time) {
	steps, _ := e.chain(inc)
	for range len(steps) {
		at := e.chainDue(inc)
		if at.IsZero() || now.Before(at) {
			return
		}
		st := steps[inc.chainFired%len(steps)]
		inc.chainFired++
		inc.EscalationStep = inc.chainFired
		inc.EscalatedTo = st.Notify
		cycle := ""
		if inc.chainFired > len(steps) {
			cycle = fmt.Sprintf(", repeat %d", (inc.chainFired-1)/len(steps))
		}
		e.line(inc, now, EventEscalationStep, systemActor, fmt.Sprintf("escalation step %d of %d%s: unacknowledged %s at %s, paged %s",
			(inc.chainFired-1)%len(steps)+1, len(steps), cycle, now.Sub(inc.clockStart).Round(time.Second), inc.Severity, st.Notify), true)
		n := e.emit(inc, EventEscalationStep, now)
		n.EscalationStep, n.EscalationTarget = inc.chainFired, st.Notify
	}
}

// breachChained records a passed response deadline for an incident whose
// severity has an escalation chain: the chain does the paging.
func (e *engine) breachChained(inc *incident, now time.Time) {
	e.line(inc, now, EventBreached, systemActor, fmt.Sprintf("no acknowledgement within %s of %s: the escalation chain pages",
		time.Duration(e.plan.Response[inc.Severity].Within), inc.Severity), true)
}

// chainAckNote says, for the timeline, that an acknowledgement stopped a
// running chain.
func chainAckNote(inc *incident) string {
	if inc.chainFired == 0 {
		return ""
	}
	return fmt.Sprintf("; escalation chain stopped after step %d", inc.chainFired)
}

// HandOff hands incident id to another person or role, to: the incident's
// Owner becomes to, the timeline records who handed it from whom and why,
// and the notifiers are told ([EventHandedOff], a lifecycle event; routes
// match the new owner as "owner"). It does not acknowledge the incident.
func (b *Board) HandOff(id, by, to, note string) error {
	if err := requireActor(by); err != nil {
		return err
	}
	to = strings.TrimSpace(to)
	var errs []error
	if to == "" {
		errs = append(errs, errors.New("firebreak: HandOff: to is required: the person or role taking the incident"))
	}
	if err := checkText("to", to); err != nil {
		errs = append(errs, err)
	}
	if err := checkText("note", note); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return b.actionOp(id, SharedAction{Op: OpHandOff, By: by, To: to, Note: note}, func(inc *incident, now time.Time) (Event, error) { return b.eng.handOff(inc, by, to, note, now) })
}

func (e *engine) handOff(inc *incident, by, to, note string, now time.Time) (Event, error) {
	if !inc.State.Open() {
		return "", transitionError(inc, "hand off")
	}
	from := cmp.Or(inc.Owner, inc.AcknowledgedBy, inc.Lead)
	if from == to {
		return "", fmt.Errorf("%w: incident %s is already with %s", ErrTransition, inc.ID, to)
	}
	inc.Owner = to
	line := fmt.Sprintf("handed off from %s to %s", from, to)
	if s := strings.TrimSpace(note); s != "" {
		line += ": " + s
	}
	e.line(inc, now, EventHandedOff, by, line, true)
	return EventHandedOff, nil
}

func (api *opsAPI) handoff(w http.ResponseWriter, r *http.Request, who string) {
	var body struct {
		To   string `json:"to"`
		Note string `json:"note"`
	}
	if decode(w, r, &body) && textOK(w, "to", body.To) && textOK(w, "note", body.Note) {
		api.done(w, r, api.b.HandOff(r.PathValue("id"), who, body.To, body.Note))
	}
}
