package firebreak_test

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

const chainPlan = `{
  "response": {"fatal": {
    "escalation": [
      {"after": "5m", "notify": "technical lead"},
      {"after": "10m", "notify": "executive on call"},
      {"after": "20m", "notify": "cto-pager"}
    ],
    "repeat": true
  }},
  "route": {
    "receiver": "chat",
    "routes": [
      {"matchers": [{"name": "escalation_target", "value": "executive on call"}], "receiver": "exec"}
    ]
  }
}`

// A three-step chain fires at 5, 10 and 20 minutes of an unacknowledged
// Fatal outage, starts over (25, 30 minutes), and stops at the
// acknowledgement at 32 minutes. The breach at 10 minutes is recorded but
// pages nobody on its own; the step naming a role reaches the route that
// matches it; the step naming a receiver reaches that receiver.
func TestEscalationChain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sinks := routedBoard(t, mustPlan(t, chainPlan), "chat", "exec", "cto-pager")
		start := time.Now()
		fatal := signalFor(firebreak.Fatal)
		routeTraffic(b, 32*time.Minute, 10*time.Millisecond, fatal)
		id := only(t, b).ID
		if err := b.Acknowledge(id, "alice"); err != nil {
			t.Fatal(err)
		}
		routeTraffic(b, 30*time.Minute, 10*time.Millisecond, fatal)
		synctest.Wait()

		inc := only(t, b)
		type step struct {
			at     time.Duration
			n      int
			target string
		}
		var got []step
		for _, e := range inc.Timeline {
			if e.Event == firebreak.EventEscalationStep {
				got = append(got, step{at: e.At.Sub(start), target: e.Note[strings.LastIndex(e.Note, "paged ")+6:]})
			}
		}
		want := []step{{5 * time.Minute, 0, "technical lead"}, {10 * time.Minute, 0, "executive on call"}, {20 * time.Minute, 0, "cto-pager"},
			{25 * time.Minute, 0, "technical lead"}, {30 * time.Minute, 0, "executive on call"}}
		if !slices.Equal(got, want) {
			t.Fatalf("timeline steps %v, want %v", got, want)
		}
		if !inc.Breached || inc.EscalationStep != 5 || inc.EscalatedTo != "executive on call" {
			t.Errorf("breached %v, step %d, escalated to %q; want true, 5, executive on call", inc.Breached, inc.EscalationStep, inc.EscalatedTo)
		}
		if ack := inc.Timeline[slices.IndexFunc(inc.Timeline, func(e firebreak.Entry) bool { return e.Event == firebreak.EventAcknowledged })]; !strings.Contains(ack.Note, "escalation chain stopped after step 5") {
			t.Errorf("acknowledgement note %q does not say the chain stopped", ack.Note)
		}

		// The notifications: every step to the chat (the default route)
		// except those the exec route took; exec only its own; the CTO's
		// pager its step, by name.
		var chatSteps []int
		steps, _ := sinks["chat"].got(event(firebreak.EventEscalationStep))
		for _, n := range steps {
			chatSteps = append(chatSteps, n.EscalationStep)
		}
		if want := []int{1, 3, 4}; !slices.Equal(chatSteps, want) {
			t.Errorf("chat got steps %v, want %v", chatSteps, want)
		}
		exec, at := sinks["exec"].got(nil)
		if len(exec) != 2 || exec[0].EscalationStep != 2 || exec[1].EscalationStep != 5 || at[0].Sub(start) != 10*time.Minute || at[1].Sub(start) != 30*time.Minute {
			t.Errorf("exec got %d notifications; want steps 2 and 5 at 10m and 30m", len(exec))
		}
		cto, at := sinks["cto-pager"].got(nil)
		if len(cto) != 1 || cto[0].Event != firebreak.EventEscalationStep || cto[0].EscalationTarget != "cto-pager" || at[0].Sub(start) != 20*time.Minute {
			t.Errorf("cto-pager got %d notifications; want step 3 at 20m", len(cto))
		}
		if n, _ := sinks["chat"].got(event(firebreak.EventBreached)); len(n) != 0 {
			t.Errorf("chat got %d breach notifications: with a chain the steps page", len(n))
		}
	})
}

// Without repeat the chain ends with its last step; without a chain the
// breach at response_within pages as before (TestResponseDeadlineBreach).
func TestEscalationChainWithoutRepeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan := mustPlan(t, `{"response": {"severe": {"escalation": [{"after": "15m", "notify": "command centre"}, {"after": "30m", "notify": "executive on call"}]}}}`)
		b, s := newBoard(t, firebreak.WithPlan(plan))
		routeTraffic(b, 3*time.Hour, 100*time.Millisecond, signalFor(firebreak.Severe))
		synctest.Wait()
		if got := s.count(firebreak.EventEscalationStep); got != 2 {
			t.Errorf("steps notified = %d, want 2", got)
		}
		if inc := only(t, b); inc.EscalatedTo != "executive on call" || !inc.Breached {
			t.Errorf("escalated to %q, breached %v", inc.EscalatedTo, inc.Breached)
		}
	})
}

// A hand-off changes the owner, is recorded and notified as a lifecycle
// event that routes can match on the owner; it does not acknowledge.
func TestHandOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan := mustPlan(t, `{"route": {"receiver": "chat", "routes": [
			{"matchers": [{"name": "owner", "value": "database team"}], "receiver": "dba", "continue": true}]}}`)
		b, sinks := routedBoard(t, plan, "chat", "dba")
		routeTraffic(b, time.Minute, 10*time.Millisecond, signalFor(firebreak.Severe))
		id := only(t, b).ID
		for _, tc := range []struct{ by, to string }{{"", "bob"}, {"alice", " "}, {"alice", strings.Repeat("x", firebreak.MaxTextLen+1)}} {
			if err := b.HandOff(id, tc.by, tc.to, ""); err == nil {
				t.Errorf("HandOff(by %q, to %q) succeeded", tc.by, tc.to)
			}
		}
		if err := b.HandOff("INC-9999", "alice", "bob", ""); err == nil {
			t.Error("HandOff of an unknown incident succeeded")
		}
		if err := b.HandOff(id, "alice", "database team", "the pool is exhausted"); err != nil {
			t.Fatal(err)
		}
		if err := b.HandOff(id, "alice", "database team", ""); err == nil {
			t.Error("a hand-off to the owner succeeded")
		}
		synctest.Wait()
		inc := only(t, b)
		last := inc.Timeline[len(inc.Timeline)-1]
		if inc.Owner != "database team" || inc.State != firebreak.Detected || last.Event != firebreak.EventHandedOff || last.Actor != "alice" ||
			last.Note != "handed off from technical lead to database team: the pool is exhausted" {
			t.Errorf("owner %q state %s, last entry %+v", inc.Owner, inc.State, last)
		}
		if n, _ := sinks["dba"].got(event(firebreak.EventHandedOff)); len(n) != 1 || n[0].Incident.Owner != "database team" {
			t.Errorf("dba got %d hand-offs, want 1", len(n))
		}
		if n, _ := sinks["chat"].got(event(firebreak.EventHandedOff)); len(n) != 0 {
			t.Errorf("chat got %d hand-offs: the dba route took it", len(n))
		}
		if err := b.Resolve(id, "alice", "pool resized"); err != nil {
			t.Fatal(err)
		}
		if err := b.HandOff(id, "alice", "bob", ""); err == nil {
			t.Error("a hand-off of a resolved incident succeeded")
		}
	})
}

func TestHandOffOpsAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		routeTraffic(b, time.Minute, 10*time.Millisecond, signalFor(firebreak.Fatal))
		id := only(t, b).ID
		h := rolesServer(t, b)
		if rec := do(h, "POST", "/incidents/"+id+"/handoff", viewerToken, `{"to": "bob"}`); rec.Code != 403 {
			t.Errorf("viewer hand-off: %d %s", rec.Code, rec.Body.String())
		}
		if inc := only(t, b); inc.Owner != "" {
			t.Fatalf("a viewer's refused hand-off changed the owner to %q", inc.Owner)
		}
		for body, code := range map[string]int{`{"to": ""}`: 400, `{"to": "bob", "x": 1}`: 400, `{"to": 5}`: 400} {
			if rec := do(h, "POST", "/incidents/"+id+"/handoff", token, body); rec.Code != code {
				t.Errorf("%s: %d, want %d", body, rec.Code, code)
			}
		}
		if rec := do(h, "POST", "/incidents/INC-9999/handoff", token, `{"to": "bob"}`); rec.Code != 404 {
			t.Errorf("unknown incident: %d", rec.Code)
		}
		rec := do(h, "POST", "/incidents/"+id+"/handoff", token, `{"to": "bob", "note": "end of shift"}`)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"owner": "bob"`) {
			t.Fatalf("responder hand-off: %d %s", rec.Code, rec.Body.String())
		}
		synctest.Wait()
		last := only(t, b).Timeline
		if e := last[len(last)-1]; e.Event != firebreak.EventHandedOff || e.Actor != "alice" || !strings.HasSuffix(e.Note, "to bob: end of shift") {
			t.Errorf("timeline: %+v", e)
		}
		if s.count(firebreak.EventHandedOff) != 1 {
			t.Errorf("hand-off notifications = %d, want 1", s.count(firebreak.EventHandedOff))
		}
	})
}
