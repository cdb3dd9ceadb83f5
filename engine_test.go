package firebreak

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func testEngine(maxAlerts int) *engine {
	return newEngine("checkout", "prod", DefaultPlan(), 1000, maxAlerts, 500)
}

// engineStep is one row of a step table: at a time after t0, the timers run,
// then a signal (if any) or an action (if any) is applied; what follows is
// the state of incident INC-0001 and the events notified in that step.
type engineStep struct {
	at     time.Duration
	sig    *Signal
	act    string // "ack", "mitigate", "resolve", "lower" (to General)
	state  State
	sev    Severity
	events []Event
}

func core(kind Kind, firing bool) *Signal {
	return &Signal{Kind: kind, Component: "checkout-api", Dependency: "payments-db", Tier: Core, Firing: firing}
}

func runSteps(t *testing.T, e *engine, steps []engineStep) {
	t.Helper()
	for i, st := range steps {
		now := t0.Add(st.at)
		notes := e.advance(now)
		if st.sig != nil {
			s := *st.sig
			s.Time = now
			notes = append(notes, e.report(&s, now)...)
		}
		if st.act != "" {
			var err error
			var n []Notification
			n, err = e.act("INC-0001", now, func(inc *incident) (Event, error) {
				switch st.act {
				case "ack":
					return e.acknowledge(inc, "alice", now)
				case "mitigate":
					return e.mitigate(inc, "alice", "failed over", now)
				case "resolve":
					return e.resolveByHand(inc, "alice", "", now)
				case "lower":
					return e.setSeverity(inc, "alice", General, "false alarm", now)
				}
				return "", fmt.Errorf("unknown action %q", st.act)
			})
			if err != nil {
				t.Fatalf("step %d (%v): %s: %v", i, st.at, st.act, err)
			}
			notes = append(notes, n...)
		}
		var evs []Event
		for _, n := range notes {
			evs = append(evs, n.Event)
		}
		inc := e.incidents["INC-0001"]
		if inc == nil {
			t.Fatalf("step %d (%v): no incident", i, st.at)
		}
		if inc.State != st.state || inc.Severity != st.sev || !slices.Equal(evs, st.events) {
			t.Fatalf("step %d (%v): %s %s %v; want %s %s %v", i, st.at, inc.State, inc.Severity, evs, st.state, st.sev, st.events)
		}
	}
}

func TestEngineSteps(t *testing.T) {
	fatal := core(KindBreakerOpen, true)
	fatalClear := core(KindBreakerOpen, false)
	general := &Signal{Kind: KindBreakerOpen, Component: "checkout-api", Dependency: "payments-db", Tier: Core, Firing: true, Fallback: true}
	for name, steps := range map[string][]engineStep{
		"group wait, breach, renotify, ack, resolve, reopen": {
			{at: 0, sig: fatal, state: Detected, sev: Fatal},
			{at: 30 * time.Second, state: Detected, sev: Fatal, events: []Event{EventDetected}},
			// The breach pages; the reminder due at the same instant waits
			// a full interval.
			{at: 10 * time.Minute, state: Detected, sev: Fatal, events: []Event{EventBreached}},
			{at: 11 * time.Minute, act: "ack", state: Acknowledged, sev: Fatal, events: []Event{EventAcknowledged}},
			{at: 12 * time.Minute, sig: fatalClear, state: Acknowledged, sev: Fatal, events: []Event{EventSignal}},
			{at: 17 * time.Minute, state: Resolved, sev: Fatal, events: []Event{EventResolved}},
			// A reopened incident is a new episode: it needs a response
			// again, within the plan's time, and is breached without one.
			{at: 20 * time.Minute, sig: fatal, state: Detected, sev: Fatal, events: []Event{EventReopened, EventSignal}},
			{at: 25 * time.Minute, state: Detected, sev: Fatal, events: []Event{EventRenotify}},
			{at: 30 * time.Minute, state: Detected, sev: Fatal, events: []Event{EventBreached}},
		},
		"announced when the group wait passes": {
			{at: 0, sig: general, state: Detected, sev: General},
			{at: 30 * time.Second, state: Detected, sev: General, events: []Event{EventDetected}},
		},
		"severity rises with the grade and never falls by itself": {
			{at: 0, sig: general, state: Detected, sev: General},
			{at: 30 * time.Second, state: Detected, sev: General, events: []Event{EventDetected}},
			{at: time.Minute, sig: fatal, state: Detected, sev: Fatal, events: []Event{EventEscalated}},
			{at: 2 * time.Minute, sig: general, state: Detected, sev: Fatal},
			{at: 3 * time.Minute, act: "lower", state: Detected, sev: General, events: []Event{EventDowngraded}},
			{at: 4 * time.Minute, sig: general, state: Detected, sev: General},
		},
		"persistence: General unmitigated for an hour becomes Severe": {
			{at: 0, sig: general, state: Detected, sev: General},
			{at: 30 * time.Second, state: Detected, sev: General, events: []Event{EventDetected}},
			{at: 10 * time.Minute, act: "ack", state: Acknowledged, sev: General, events: []Event{EventAcknowledged}},
			{at: time.Hour, state: Acknowledged, sev: Severe, events: []Event{EventEscalated}},
		},
		"mitigated does not persist upwards and resolves when clear": {
			{at: 0, sig: general, state: Detected, sev: General},
			{at: 30 * time.Second, state: Detected, sev: General, events: []Event{EventDetected}},
			{at: time.Minute, act: "mitigate", state: Mitigated, sev: General, events: []Event{EventMitigated}},
			{at: 2 * time.Hour, state: Mitigated, sev: General},
			{at: 2*time.Hour + time.Second, sig: &Signal{Kind: general.Kind, Component: general.Component, Dependency: general.Dependency, Tier: Core, Fallback: true},
				state: Mitigated, sev: General, events: []Event{EventSignal}},
			{at: 2*time.Hour + 5*time.Minute + time.Second, state: Resolved, sev: General, events: []Event{EventResolved}},
		},
	} {
		t.Run(name, func(t *testing.T) { runSteps(t, testEngine(10000), steps) })
	}
}

// A flap: everything clears within the group wait; the incident is forgotten
// and nobody hears of it.
func TestEngineFlap(t *testing.T) {
	e := testEngine(10000)
	s := *core(KindBreakerOpen, true)
	e.report(&s, t0)
	s.Firing = false
	if n := e.report(&s, t0.Add(10*time.Second)); n != nil || len(e.incidents) != 0 || e.flaps != 1 || len(e.alerts) != 0 || len(e.due) != 0 {
		t.Fatalf("flap: notes %v, %d incidents, %d flaps, %d alerts, %d timers", n, len(e.incidents), e.flaps, len(e.alerts), len(e.due))
	}
}

// FuzzEngine plays sequences of signals, time and actions through the engine
// and checks its invariants after every step.
func FuzzEngine(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 200, 4, 5, 250, 6, 7})
	f.Add([]byte{10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 255})
	f.Add([]byte("fire and clear, ack and lower, all over the place"))
	f.Fuzz(fuzzBody)
}

func fuzzBody(t *testing.T, ops []byte) {
	kinds := []Kind{KindBreakerOpen, KindHealthFailed, KindLoadShed, KindErrorBudgetBurn, KindRollbackFailed, "custom_thing"}
	tiers := []Tier{Core, Standard, Auxiliary}
	const maxAlerts = 12
	{
		if len(ops) > 400 {
			ops = ops[:400]
		}
		e := newEngine("svc", "", DefaultPlan(), 8, maxAlerts, 20)
		now := t0
		sev := map[string]Severity{}
		signal := func(b byte, firing bool) Signal {
			return Signal{Kind: kinds[int(b)%len(kinds)], Component: fmt.Sprintf("c%d", b>>3&3), Dependency: fmt.Sprintf("d%d", b>>5&1),
				Tier: tiers[int(b>>2)%len(tiers)], Firing: firing, Fallback: b&0x40 != 0, Value: float64(b % 7),
				Labels: map[string]string{"i": fmt.Sprint(b >> 6)}, Time: now}
		}
		var seen []byte
		check := func(op string, lowered string) {
			t.Helper()
			for id, inc := range e.incidents {
				if inc.Severity < sev[id] && id != lowered {
					t.Fatalf("%s: %s fell from %s to %s by itself", op, id, sev[id], inc.Severity)
				}
				sev[id] = inc.Severity
				routine := 0
				for _, l := range inc.Timeline {
					if l.Event == EventSignal {
						routine++
					}
				}
				if len(inc.alerts) > MaxAlertsPerIncident || routine > 20 {
					t.Fatalf("%s: %s holds %d alerts, %d routine entries", op, id, len(inc.alerts), routine)
				}
				if inc.heapIdx >= 0 && e.due[inc.heapIdx] != inc {
					t.Fatalf("%s: heap index of %s is wrong", op, id)
				}
				g, n := 0, 0
				for _, a := range append(slices.Clone(inc.alerts), inc.light...) {
					if a.ref.Firing && a.inc == inc {
						if a.ref.Severity > None {
							g++
						} else {
							n++
						}
					}
				}
				if g != inc.firingGraded || n != inc.firingNone {
					t.Fatalf("%s: %s counts %d/%d firing, has %d/%d", op, id, inc.firingGraded, inc.firingNone, g, n)
				}
			}
			// Past the cap only alerts kept in full (graded General or
			// above when admitted) are tracked: memory stays bounded by the
			// cap plus MaxAlertsPerIncident per incident.
			full := 0
			for _, inc := range e.incidents {
				full += len(inc.alerts)
			}
			if len(e.alerts) > maxAlerts && len(e.alerts) > full {
				t.Fatalf("%s: %d alerts tracked, cap %d, %d kept in full", op, len(e.alerts), maxAlerts, full)
			}
			if len(e.due) > len(e.incidents) || len(e.finished) > 8 {
				t.Fatalf("%s: %d timers, %d finished for %d incidents", op, len(e.due), len(e.finished), len(e.incidents))
			}
		}
		for _, b := range ops {
			switch op := b % 8; {
			case op < 4:
				s := signal(b, true)
				seen = append(seen, b)
				e.report(&s, now)
				check("fire", "")
			case op < 6:
				s := signal(b, false)
				e.report(&s, now)
				check("clear", "")
			case op == 6:
				now = now.Add(time.Duration(b) * 7 * time.Second)
				e.advance(now)
				check("advance", "")
			default:
				id := fmt.Sprintf("INC-%04d", 1+int(b>>3)%max(e.seq, 1))
				e.act(id, now, func(inc *incident) (Event, error) {
					switch b >> 6 {
					case 0:
						return e.acknowledge(inc, "a", now)
					case 1:
						return e.mitigate(inc, "a", "x", now)
					case 2:
						return e.setSeverity(inc, "a", General, "r", now)
					}
					return e.resolveByHand(inc, "a", "", now)
				})
				check("act", id)
			}
		}
		// Everything clears: every incident resolves after the hold-down.
		for _, b := range seen {
			s := signal(b, false)
			e.report(&s, now)
		}
		for range 3 {
			now = now.Add(6 * time.Minute)
			e.advance(now)
		}
		check("end", "")
		for id, inc := range e.incidents {
			if inc.State.Open() {
				t.Fatalf("%s still %s after every signal cleared (%d/%d firing)", id, inc.State, inc.firingGraded, inc.firingNone)
			}
		}
	}
}
