package firebreak_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// These tests play a fleet of Boards sharing a MemoryStore inside a
// synctest bubble, with the default plan's real timers. The fleet package
// plays the same scenarios against a real redis-server.

type replica struct {
	b *firebreak.Board
	s *sink
}

func memStore(t *testing.T) *firebreak.MemoryStore {
	t.Helper()
	m, err := firebreak.NewMemoryStore(2*time.Second, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newReplica(t *testing.T, st firebreak.Store, opts ...firebreak.BoardOption) *replica {
	t.Helper()
	s := &sink{}
	b, err := firebreak.NewBoard("checkout", append([]firebreak.BoardOption{firebreak.WithEnv("prod"), firebreak.WithNotifier(s), firebreak.WithStore(st)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	return &replica{b: b, s: s}
}

func newFleet(t *testing.T, st firebreak.Store, n int, opts ...firebreak.BoardOption) []*replica {
	t.Helper()
	out := make([]*replica, n)
	for i := range out {
		out[i] = newReplica(t, st, opts...)
	}
	return out
}

// count counts the notifications of event ev across the fleet.
func count(fleet []*replica, ev firebreak.Event) int {
	n := 0
	for _, r := range fleet {
		n += r.s.count(ev)
	}
	return n
}

// openOn returns replica r's open incident, or fails.
func openOn(t *testing.T, r *replica) firebreak.Incident {
	t.Helper()
	incs := r.b.List(firebreak.Filter{OpenOnly: true})
	if len(incs) != 1 {
		t.Fatalf("replica %s: %d open incidents, want 1: %v", r.b.Replica(), len(incs), ids(incs))
	}
	return incs[0]
}

func ids(incs []firebreak.Incident) []string {
	var out []string
	for _, inc := range incs {
		out = append(out, inc.ID+"("+inc.FaultDomain+","+inc.State.String()+")")
	}
	return out
}

// TestFleetOneOutageOneAck is the outside run of issue 13 on the default
// plan: 20 replicas see one outage, replica 7's ops API acknowledges it
// after 2 minutes. One announcement for the fleet, no breach, no reminder,
// no escalation anywhere; one ID; the acknowledgement on every replica
// within a second.
func TestFleetOneOutageOneAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFleet(t, memStore(t), 20)
		for _, r := range fleet {
			r.b.Report(signalFor(firebreak.Fatal))
		}
		time.Sleep(2 * time.Minute)
		id := openOn(t, fleet[7]).ID
		if err := fleet[7].b.Acknowledge(id, "ana"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		for i, r := range fleet {
			inc := openOn(t, r)
			if inc.ID != id {
				t.Errorf("replica %d calls it %s, replica 7 %s", i, inc.ID, id)
			}
			if inc.AcknowledgedBy != "ana" || inc.State != firebreak.Acknowledged {
				t.Errorf("replica %d, 1s after the acknowledgement: %s by %q", i, inc.State, inc.AcknowledgedBy)
			}
		}
		time.Sleep(15 * time.Minute)
		synctest.Wait()
		if n := count(fleet, firebreak.EventDetected); n != 1 {
			t.Errorf("%d announcements across the fleet, want 1", n)
		}
		for _, ev := range []firebreak.Event{firebreak.EventBreached, firebreak.EventRenotify, firebreak.EventEscalated, firebreak.EventEscalationStep} {
			if n := count(fleet, ev); n != 0 {
				t.Errorf("%d %s notifications across the fleet, want 0", n, ev)
			}
		}
		if n := count(fleet, firebreak.EventAcknowledged); n != 1 {
			t.Errorf("%d acknowledgement notifications, want 1 (from replica 7)", n)
		}
		for i, r := range fleet {
			if inc := openOn(t, r); inc.Breached || inc.EscalatedTo != "" {
				t.Errorf("replica %d: breached %v, escalated to %q", i, inc.Breached, inc.EscalatedTo)
			}
		}
		if !strings.HasPrefix(id, "INC-") || len(id) < len("INC-XXXXXXXX-0001") {
			t.Errorf("fleet ID %q, want INC-<replica>-<n>", id)
		}
	})
}

// TestFleetUnacknowledgedBreachesOnce: without an acknowledgement the
// fleet breaches, reminds and escalates once, not once per replica.
func TestFleetUnacknowledgedBreachesOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFleet(t, memStore(t), 5)
		for i, r := range fleet {
			r.b.Report(signalFor(firebreak.Fatal))
			time.Sleep(time.Duration(i) * time.Second) // replicas see it at different times
		}
		time.Sleep(11 * time.Minute)
		synctest.Wait()
		if n := count(fleet, firebreak.EventDetected); n != 1 {
			t.Errorf("%d announcements, want 1", n)
		}
		if n := count(fleet, firebreak.EventBreached); n != 1 {
			t.Errorf("%d breaches, want 1", n)
		}
		if n := count(fleet, firebreak.EventRenotify); n != 1 {
			t.Errorf("%d reminders in 11 minutes (every 5, the one at 10 absorbed by the breach), want 1", n)
		}
	})
}

// TestFleetReplicaRestart: a replica that restarts mid-incident takes it
// up with its acknowledgement, its own signal joins it, and nothing is
// announced again.
func TestFleetReplicaRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := memStore(t)
		fleet := newFleet(t, st, 3)
		for _, r := range fleet {
			r.b.Report(signalFor(firebreak.Fatal))
		}
		time.Sleep(time.Minute)
		id := openOn(t, fleet[0]).ID
		if err := fleet[0].b.Acknowledge(id, "ana"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		fleet[2].b.Close(context.Background())
		gone := &replica{s: fleet[2].s}
		fleet[2] = newReplica(t, st)
		if inc := openOn(t, fleet[2]); inc.ID != id || inc.AcknowledgedBy != "ana" {
			t.Fatalf("restarted replica after Start: %s acknowledged by %q, want %s by ana", inc.ID, inc.AcknowledgedBy, id)
		}
		fleet[2].b.Report(signalFor(firebreak.Fatal))
		time.Sleep(20 * time.Minute)
		synctest.Wait()
		inc := openOn(t, fleet[2])
		if inc.ID != id || len(inc.Alerts) != 1 {
			t.Errorf("restarted replica: %s with %d alerts, want %s with its own alert", inc.ID, len(inc.Alerts), id)
		}
		all := append(fleet, gone)
		if n := count(all, firebreak.EventDetected) + count(all, firebreak.EventReopened); n != 1 {
			t.Errorf("%d announcements and reopenings, want the one announcement", n)
		}
		if n := count(all, firebreak.EventBreached); n != 0 {
			t.Errorf("%d breaches, want 0", n)
		}
	})
}

// TestFleetStoreDown: the store fails mid-incident. Every replica raises
// shared_state_degraded and pages on its own for a new fault; when the
// store returns without its data, the replicas reconcile into one
// incident per fault, keeping the acknowledgement made before.
func TestFleetStoreDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := memStore(t)
		fleet := newFleet(t, st, 4)
		for _, r := range fleet {
			r.b.Report(signalFor(firebreak.Fatal))
		}
		time.Sleep(time.Minute)
		first := openOn(t, fleet[1]).ID
		if err := fleet[1].b.Acknowledge(first, "ana"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)

		st.SetDown(true, false)
		time.Sleep(2 * time.Second)
		other := firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "checkout-api", Dependency: "inventory", Tier: firebreak.Core, Firing: true}
		for _, r := range fleet {
			r.b.Report(other)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		for i, r := range fleet {
			if !r.b.FleetStats().Degraded {
				t.Errorf("replica %d not degraded with the store down", i)
			}
			if n := r.s.count(firebreak.EventDetected); n < 2 {
				// its own inventory page, and its shared_state_degraded page
				t.Errorf("replica %d: %d announcements while the store is down, want its own pages", i, n)
			}
		}
		degraded := 0
		for _, r := range fleet {
			for _, n := range r.s.all() {
				if n.Event == firebreak.EventDetected && n.Incident.FaultDomain == "shared-state" {
					degraded++
				}
			}
		}
		if degraded != len(fleet) {
			t.Errorf("%d shared_state_degraded announcements, want one per replica (%d)", degraded, len(fleet))
		}

		st.SetDown(false, true) // back, without its data
		time.Sleep(2 * time.Second)
		synctest.Wait()
		byDomain := map[string]map[string]bool{}
		for i, r := range fleet {
			if r.b.FleetStats().Degraded {
				t.Errorf("replica %d still degraded", i)
			}
			for _, inc := range r.b.List(firebreak.Filter{OpenOnly: true}) {
				if byDomain[inc.FaultDomain] == nil {
					byDomain[inc.FaultDomain] = map[string]bool{}
				}
				byDomain[inc.FaultDomain][inc.ID] = true
				if inc.FaultDomain == "payments-db" && (inc.ID != first || inc.AcknowledgedBy != "ana") {
					t.Errorf("replica %d after reconcile: %s acknowledged by %q, want %s by ana", i, inc.ID, inc.AcknowledgedBy, first)
				}
			}
		}
		for domain, set := range byDomain {
			if len(set) != 1 {
				t.Errorf("fault domain %s: IDs %v across the fleet, want one", domain, set)
			}
		}
		// A replica that starts now takes the acknowledgement up too.
		late := newReplica(t, st)
		for _, inc := range late.b.List(firebreak.Filter{OpenOnly: true}) {
			if inc.FaultDomain == "payments-db" && inc.AcknowledgedBy != "ana" {
				t.Errorf("new replica after reconcile: %s acknowledged by %q, want ana", inc.ID, inc.AcknowledgedBy)
			}
		}
	})
}

// TestFleetActions: each action made on one replica applies on all, and
// is notified once.
func TestFleetActions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFleet(t, memStore(t), 3)
		for _, r := range fleet {
			r.b.Report(signalFor(firebreak.Severe))
		}
		time.Sleep(time.Minute)
		id := openOn(t, fleet[0]).ID
		steps := []struct {
			name string
			on   int
			do   func(b *firebreak.Board) error
			ok   func(inc firebreak.Incident) bool
		}{
			{"mitigate", 1, func(b *firebreak.Board) error { return b.Mitigate(id, "ana", "failed over to the standby") },
				func(inc firebreak.Incident) bool {
					return inc.State == firebreak.Mitigated && inc.AcknowledgedBy == "ana"
				}},
			{"finding", 2, func(b *firebreak.Board) error {
				return b.AddFinding(id, "bo", firebreak.Finding{Hypothesis: "connection pool exhausted"})
			}, func(inc firebreak.Incident) bool {
				return len(inc.Findings) == 1 && inc.Findings[0].Hypothesis == "connection pool exhausted"
			}},
			{"severity", 0, func(b *firebreak.Board) error {
				return b.SetSeverity(id, "ana", firebreak.General, "only retries affected")
			},
				func(inc firebreak.Incident) bool { return inc.Severity == firebreak.General }},
			{"resolve", 1, func(b *firebreak.Board) error { return b.Resolve(id, "ana", "pool resized") },
				func(inc firebreak.Incident) bool { return inc.State == firebreak.Resolved }},
			{"close", 2, func(b *firebreak.Board) error {
				_, err := b.CloseWith(id, "bo", firebreak.ReportInput{RootCause: "pool too small"})
				return err
			}, func(inc firebreak.Incident) bool { return inc.State == firebreak.Closed && inc.Report != nil }},
		}
		for _, st := range steps {
			if err := st.do(fleet[st.on].b); err != nil {
				t.Fatalf("%s on replica %d: %v", st.name, st.on, err)
			}
			time.Sleep(time.Second)
			for i, r := range fleet {
				inc, err := r.b.Get(id)
				if err != nil || !st.ok(inc) {
					t.Errorf("%s made on replica %d, replica %d 1s later: %v %s sev %s", st.name, st.on, i, err, inc.State, inc.Severity)
				}
			}
		}
		synctest.Wait()
		for _, ev := range []firebreak.Event{firebreak.EventDetected, firebreak.EventMitigated, firebreak.EventFinding, firebreak.EventDowngraded, firebreak.EventResolved, firebreak.EventClosed} {
			if n := count(fleet, ev); n != 1 {
				t.Errorf("%d %s notifications, want 1", n, ev)
			}
		}
	})
}

// TestFleetResolvesWhenAllClear: a replica whose alerts clear keeps the
// incident open while another replica's still fire; the resolution is
// notified once, when the last clears.
func TestFleetResolvesWhenAllClear(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFleet(t, memStore(t), 2)
		for _, r := range fleet {
			r.b.Report(signalFor(firebreak.General))
		}
		time.Sleep(time.Minute)
		clear := signalFor(firebreak.General)
		clear.Firing = false
		fleet[0].b.Report(clear)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if inc := openOn(t, fleet[0]); inc.State.Open() == false {
			t.Fatalf("replica 0 resolved while replica 1 still fires")
		}
		fleet[1].b.Report(clear)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		for i, r := range fleet {
			if incs := r.b.List(firebreak.Filter{OpenOnly: true}); len(incs) != 0 {
				t.Errorf("replica %d: %v still open", i, ids(incs))
			}
		}
		if n := count(fleet, firebreak.EventResolved); n != 1 {
			t.Errorf("%d resolutions notified, want 1", n)
		}
	})
}

// TestFleetEveryReplica: a notifier marked EveryReplica hears the
// announcement on every replica.
func TestFleetEveryReplica(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := memStore(t)
		var local []*sink
		var fleet []*replica
		for range 3 {
			s := &sink{}
			local = append(local, s)
			fleet = append(fleet, newReplica(t, st, firebreak.WithNotifier(firebreak.EveryReplica(s))))
		}
		for _, r := range fleet {
			r.b.Report(signalFor(firebreak.Fatal))
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		for i, s := range local {
			if n := s.count(firebreak.EventDetected); n != 1 {
				t.Errorf("replica %d's EveryReplica notifier: %d announcements, want 1", i, n)
			}
		}
		if n := count(fleet, firebreak.EventDetected); n != 1 {
			t.Errorf("paging notifiers: %d announcements, want 1", n)
		}
	})
}

func TestWithStoreErrors(t *testing.T) {
	st := memStore(t)
	for _, tc := range []struct {
		name string
		opts []firebreak.BoardOption
		want string
	}{
		{"nil store", []firebreak.BoardOption{firebreak.WithStore(nil)}, "WithStore: store is nil"},
		{"interval without store", []firebreak.BoardOption{firebreak.WithSyncInterval(time.Second)}, "WithSyncInterval: needs WithStore"},
		{"interval too short", []firebreak.BoardOption{firebreak.WithStore(st), firebreak.WithSyncInterval(time.Millisecond)}, "between 10ms and 10s, got 1ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := firebreak.NewBoard("checkout", tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		hold, ttl time.Duration
		want      string
	}{{0, time.Hour, "hold 0s must be positive"}, {time.Minute, time.Second, "ttl 1s must be at least hold 1m0s"}} {
		if _, err := firebreak.NewMemoryStore(tc.hold, tc.ttl); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewMemoryStore(%v, %v) = %v, want %q", tc.hold, tc.ttl, err, tc.want)
		}
	}
}

// TestWithoutStoreUnchanged: a board without a store keeps its IDs and
// shares nothing.
func TestWithoutStoreUnchanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		b.Report(signalFor(firebreak.Fatal))
		if id := b.List(firebreak.Filter{})[0].ID; id != "INC-0001" {
			t.Errorf("ID %q, want INC-0001", id)
		}
		if b.Replica() != "" || b.FleetStats() != (firebreak.FleetStats{}) {
			t.Errorf("a board without a store has fleet state: %q %+v", b.Replica(), b.FleetStats())
		}
	})
}

// panicStore panics on every call: the sharing loop survives it, degraded.
type panicStore struct{ firebreak.Store }

func (panicStore) Sync(context.Context, firebreak.SyncRequest) ([]firebreak.SharedIncident, error) {
	panic("store bug")
}

func (panicStore) Claim(context.Context, firebreak.SharedIncident) (firebreak.SharedIncident, error) {
	panic("store bug")
}

func (panicStore) Lease(context.Context, string, time.Duration) (bool, error) {
	return false, errors.New("down")
}

func TestFleetStorePanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReplica(t, panicStore{})
		r.b.Report(signalFor(firebreak.Fatal))
		time.Sleep(time.Minute)
		synctest.Wait()
		if !r.b.FleetStats().Degraded {
			t.Error("a panicking store should leave the board degraded")
		}
		if n := r.s.count(firebreak.EventDetected); n != 2 {
			t.Errorf("%d announcements, want 2 (the outage and shared_state_degraded)", n)
		}
	})
}

// stuckStore answers nothing until its caller gives up.
type stuckStore struct{}

func (stuckStore) Claim(ctx context.Context, _ firebreak.SharedIncident) (firebreak.SharedIncident, error) {
	<-ctx.Done()
	return firebreak.SharedIncident{}, ctx.Err()
}
func (stuckStore) Append(ctx context.Context, _ firebreak.SharedAction) error {
	<-ctx.Done()
	return ctx.Err()
}
func (stuckStore) Sync(ctx context.Context, _ firebreak.SyncRequest) ([]firebreak.SharedIncident, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (stuckStore) Lease(ctx context.Context, _ string, _ time.Duration) (bool, error) {
	<-ctx.Done()
	return false, ctx.Err()
}

// TestReportNeverWaitsForTheStore: with a store that never answers,
// Report, the views and the actions return at once (in a synctest bubble,
// "at once" is no virtual time at all), and Close returns within its ctx.
func TestReportNeverWaitsForTheStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := firebreak.NewBoard("checkout", firebreak.WithStore(stuckStore{}), firebreak.WithNotifier(&sink{}))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for range 100 {
			b.Report(signalFor(firebreak.Fatal))
		}
		incs := b.List(firebreak.Filter{})
		if len(incs) != 1 {
			t.Fatalf("%d incidents", len(incs))
		}
		if err := b.Acknowledge(incs[0].ID, "ana"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Get(incs[0].ID); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("Report, List, Acknowledge and Get took %v of virtual time with a stuck store, want 0", d)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.Close(ctx)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Close took %v", d)
		}
	})
}
