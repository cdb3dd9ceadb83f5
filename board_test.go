package firebreak_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// sink is a Notifier that records what it is told.
type sink struct {
	mu    sync.Mutex
	notes []firebreak.Notification
}

func (s *sink) Notify(_ context.Context, n firebreak.Notification) error {
	s.mu.Lock()
	s.notes = append(s.notes, n)
	s.mu.Unlock()
	return nil
}

func (s *sink) all() []firebreak.Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]firebreak.Notification(nil), s.notes...)
}

func (s *sink) events() []firebreak.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []firebreak.Event
	for _, n := range s.notes {
		out = append(out, n.Event)
	}
	return out
}

func (s *sink) count(ev firebreak.Event) int {
	n := 0
	for _, e := range s.events() {
		if e == ev {
			n++
		}
	}
	return n
}

func newBoard(t *testing.T, opts ...firebreak.BoardOption) (*firebreak.Board, *sink) {
	t.Helper()
	s := &sink{}
	b, err := firebreak.NewBoard("checkout", append([]firebreak.BoardOption{firebreak.WithEnv("prod"), firebreak.WithNotifier(s)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	b.Start(context.Background())
	t.Cleanup(func() {
		if err := b.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b, s
}

// signals that the default plan grades at each severity for a core component.
func signalFor(sev firebreak.Severity) firebreak.Signal {
	s := firebreak.Signal{Component: "checkout-api", Dependency: "payments-db", Tier: firebreak.Core, Firing: true}
	switch sev {
	case firebreak.Fatal:
		s.Kind, s.Value, s.Metrics = firebreak.KindErrorBudgetBurn, 1000, map[string]float64{"error_ratio_now": 1}
		s.Labels = map[string]string{"slo": "availability"}
	case firebreak.Severe:
		// An open breaker without a fallback is Fatal for a core component,
		// Severe for a standard one.
		s.Kind, s.Tier = firebreak.KindBreakerOpen, firebreak.Standard
	case firebreak.General:
		s.Kind, s.Fallback = firebreak.KindBreakerOpen, true
	}
	return s
}

func only(t *testing.T, b *firebreak.Board) firebreak.Incident {
	t.Helper()
	list := b.List(firebreak.Filter{})
	if len(list) != 1 {
		t.Fatalf("want 1 incident, got %d", len(list))
	}
	return list[0]
}

func TestResponseDeadlineBreach(t *testing.T) {
	for _, tc := range []struct {
		sev    firebreak.Severity
		within time.Duration
		level  int
		next   string
	}{
		{firebreak.Fatal, 10 * time.Minute, 1, "executive on call"},
		{firebreak.Severe, 15 * time.Minute, 2, "command centre (all hands)"},
		{firebreak.General, 30 * time.Minute, 3, "technical lead"},
	} {
		t.Run(tc.sev.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, s := newBoard(t)
				start := time.Now()
				b.Report(signalFor(tc.sev))
				synctest.Wait()
				inc := only(t, b)
				if inc.Severity != tc.sev || inc.Level != tc.level {
					t.Fatalf("severity %s level %d, want %s level %d", inc.Severity, inc.Level, tc.sev, tc.level)
				}
				if want := start.Add(tc.within); !inc.ResponseDue.Equal(want) {
					t.Fatalf("ResponseDue = %v, want %v", inc.ResponseDue, want)
				}
				time.Sleep(tc.within - time.Nanosecond)
				synctest.Wait()
				if inc := only(t, b); inc.Breached || s.count(firebreak.EventBreached) != 0 {
					t.Fatalf("breached %v before the deadline", tc.within-time.Nanosecond)
				}
				time.Sleep(time.Nanosecond)
				synctest.Wait()
				inc = only(t, b)
				if !inc.Breached || inc.EscalatedTo != tc.next {
					t.Fatalf("at the deadline: breached=%v escalated to %q, want true, %q", inc.Breached, inc.EscalatedTo, tc.next)
				}
				if got := s.count(firebreak.EventBreached); got != 1 {
					t.Fatalf("breach notifications = %d, want 1", got)
				}
			})
		})
	}
}

func TestAcknowledgedInTimeIsNotBreached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		b.Report(signalFor(firebreak.Fatal))
		time.Sleep(9 * time.Minute)
		id := only(t, b).ID
		if err := b.Acknowledge(id, "alice"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		inc := only(t, b)
		if inc.Breached || inc.State != firebreak.Acknowledged || inc.AcknowledgedBy != "alice" {
			t.Fatalf("got breached=%v state=%s by=%q", inc.Breached, inc.State, inc.AcknowledgedBy)
		}
		if s.count(firebreak.EventBreached) != 0 {
			t.Fatal("breach notified after acknowledgement")
		}
		if err := b.Acknowledge(id, "bob"); err == nil {
			t.Fatal("second acknowledgement accepted")
		}
	})
}

func TestPersistenceEscalatesGeneralToSevere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		b.Report(signalFor(firebreak.General))
		id := only(t, b).ID
		time.Sleep(20 * time.Minute)
		if err := b.Acknowledge(id, "on-duty"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(40*time.Minute - time.Nanosecond)
		synctest.Wait()
		if got := only(t, b).Severity; got != firebreak.General {
			t.Fatalf("before 60m: %s", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		inc := only(t, b)
		if inc.Severity != firebreak.Severe || inc.MaxSeverity != firebreak.Severe {
			t.Fatalf("after 60m: %s", inc.Severity)
		}
		if inc.ResponseDue != time.Now().Add(15*time.Minute) {
			t.Fatalf("re-acknowledgement due %v, want now+15m", inc.ResponseDue)
		}
		if s.count(firebreak.EventEscalated) != 1 {
			t.Fatalf("escalation notifications: %v", s.events())
		}
		// The technical lead must take it again.
		if err := b.Acknowledge(id, "tech-lead"); err != nil {
			t.Fatalf("re-acknowledge: %v", err)
		}
	})
}

func TestMitigatedIncidentDoesNotPersistUpwards(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		b.Report(signalFor(firebreak.General))
		id := only(t, b).ID
		time.Sleep(5 * time.Minute)
		if err := b.Mitigate(id, "on-duty", "switched to the standby database"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if inc := only(t, b); inc.Severity != firebreak.General || inc.State != firebreak.Mitigated {
			t.Fatalf("got %s %s", inc.Severity, inc.State)
		}
	})
}

func TestFlapWithinGroupWaitNotifiesNobody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		sig := signalFor(firebreak.Fatal)
		b.Report(sig)
		time.Sleep(29 * time.Second)
		sig.Firing = false
		b.Report(sig)
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(s.events()); n != 0 {
			t.Fatalf("notified %d times: %v", n, s.events())
		}
		if n := len(b.List(firebreak.Filter{})); n != 0 {
			t.Fatalf("%d incidents kept for a flap", n)
		}
		if st := b.Stats(); st.Flaps != 1 {
			t.Fatalf("Flaps = %d", st.Flaps)
		}
	})
}

func TestGroupWaitThenNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		b.Report(signalFor(firebreak.Severe))
		time.Sleep(30*time.Second - time.Nanosecond)
		synctest.Wait()
		if len(s.events()) != 0 {
			t.Fatal("notified within the group wait")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got := s.events(); len(got) != 1 || got[0] != firebreak.EventDetected {
			t.Fatalf("events = %v, want [detected]", got)
		}
	})
}

func TestIdenticalSignalsMakeOneIncident(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		for range 10000 {
			b.Report(signalFor(firebreak.Severe))
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		inc := only(t, b)
		if len(inc.Alerts) != 1 || inc.Alerts[0].Count != 10000 {
			t.Fatalf("alerts %d, count %d", len(inc.Alerts), inc.Alerts[0].Count)
		}
		if got := s.count(firebreak.EventDetected); got != 1 {
			t.Fatalf("detected notifications = %d", got)
		}
		if len(s.events()) != 1 {
			t.Fatalf("events = %v", s.events())
		}
	})
}

func TestGroupingByFaultDomain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		a := signalFor(firebreak.General)
		a.Tier = firebreak.Standard
		c := a
		c.Component = "orders-api"
		d := a
		d.Dependency = "search"
		b.Report(a)
		b.Report(c)
		b.Report(d)
		list := b.List(firebreak.Filter{})
		if len(list) != 2 {
			t.Fatalf("want 2 incidents (payments-db, search), got %d", len(list))
		}
		inc, _ := b.List(firebreak.Filter{Component: "orders-api"})[0], 0
		if inc.FaultDomain != "payments-db" || len(inc.Components) != 2 {
			t.Fatalf("incident %+v", inc)
		}
		if want := `{}:{env="prod", fault_domain="payments-db", service="checkout"}`; inc.GroupKey != want {
			t.Fatalf("GroupKey = %s, want %s", inc.GroupKey, want)
		}
	})
}

func TestSeverityRises(t *testing.T) {
	t.Run("core joins", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b, _ := newBoard(t)
			a := signalFor(firebreak.General)
			a.Tier = firebreak.Standard
			b.Report(a)
			c := a
			c.Component, c.Tier = "ledger", firebreak.Core
			b.Report(c)
			if inc := only(t, b); inc.Severity != firebreak.Severe || !inc.CoreAffected {
				t.Fatalf("severity %s core %v", inc.Severity, inc.CoreAffected)
			}
		})
	})
	t.Run("spread", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b, _ := newBoard(t)
			for i := range 3 {
				s := signalFor(firebreak.General)
				s.Tier = firebreak.Standard
				s.Component = fmt.Sprintf("api-%d", i)
				b.Report(s)
				if i == 1 && only(t, b).Severity != firebreak.General {
					t.Fatal("rose with two components")
				}
			}
			if inc := only(t, b); inc.Severity != firebreak.Severe {
				t.Fatalf("three components: %s", inc.Severity)
			}
		})
	})
	t.Run("rollback failed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b, _ := newBoard(t)
			// A standard component's breaker opens without a fallback: Severe.
			b.Report(firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "checkout-api", Dependency: "payments-db", Tier: firebreak.Standard, Firing: true})
			// The rollback meant to mend it fails (graded Severe on its own):
			// one level up.
			s := firebreak.Signal{Kind: firebreak.KindRollbackFailed, Component: "checkout-api", Dependency: "payments-db", Tier: firebreak.Standard, Firing: true}
			b.Report(s)
			if inc := only(t, b); inc.Severity != firebreak.Fatal {
				t.Fatalf("rollback failed on a severe incident: %s", inc.Severity)
			}
		})
	})
	t.Run("rollback failed alone is graded, not raised twice", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b, _ := newBoard(t)
			s := firebreak.Signal{Kind: firebreak.KindRollbackFailed, Component: "checkout-api", Tier: firebreak.Standard, Firing: true}
			b.Report(s)
			b.Report(s) // reported again: no further rise
			if inc := only(t, b); inc.Severity != firebreak.Severe {
				t.Fatalf("rollback failed for a standard component: %s, want the plan's severe", inc.Severity)
			}
		})
	})
	t.Run("never falls on its own", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b, _ := newBoard(t)
			s := signalFor(firebreak.Fatal)
			b.Report(s)
			s.Value, s.Metrics = 7, map[string]float64{"error_ratio_now": 0.007}
			b.Report(s)
			if inc := only(t, b); inc.Severity != firebreak.Fatal {
				t.Fatalf("fell to %s", inc.Severity)
			}
			id := only(t, b).ID
			if err := b.SetSeverity(id, "ic", firebreak.General, "false alarm: synthetic traffic"); err != nil {
				t.Fatal(err)
			}
			if inc := only(t, b); inc.Severity != firebreak.General || inc.MaxSeverity != firebreak.Fatal {
				t.Fatalf("after downgrade: %s (max %s)", inc.Severity, inc.MaxSeverity)
			}
		})
	})
}

func TestLifecycleResolveReopenClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		sig := signalFor(firebreak.Severe)
		b.Report(sig)
		time.Sleep(time.Minute)
		id := only(t, b).ID
		if err := b.Acknowledge(id, "lead"); err != nil {
			t.Fatal(err)
		}
		if err := b.Mitigate(id, "lead", "forced the breaker open and served cached prices"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.CloseWith(id, "lead", firebreak.ReportInput{}); err == nil {
			t.Fatal("closed an unresolved incident")
		}
		sig.Firing = false
		b.Report(sig)
		time.Sleep(5*time.Minute - time.Nanosecond)
		synctest.Wait()
		if only(t, b).State != firebreak.Mitigated {
			t.Fatal("resolved before the hold-down")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if only(t, b).State != firebreak.Resolved {
			t.Fatalf("state %s after the hold-down", only(t, b).State)
		}
		// Fires again within the reopen window: the same incident reopens.
		time.Sleep(10 * time.Minute)
		sig.Firing = true
		b.Report(sig)
		// The fault is back: a new episode that needs a response again
		// (it used to go straight to Acknowledged, and was never chased).
		inc := only(t, b)
		if inc.State != firebreak.Detected || inc.ReopenCount != 1 || !inc.ResponseDue.After(time.Now()) {
			t.Fatalf("reopen: state %s count %d due %v", inc.State, inc.ReopenCount, inc.ResponseDue)
		}
		if err := b.Resolve(id, "lead", "database failover completed"); err != nil {
			t.Fatal(err)
		}
		// After the reopen window a new signal starts a new incident.
		time.Sleep(31 * time.Minute)
		b.Report(sig)
		if n := len(b.List(firebreak.Filter{})); n != 2 {
			t.Fatalf("incidents = %d, want 2", n)
		}
		rep, err := b.CloseWith(id, "lead", firebreak.ReportInput{RootCause: "connection pool exhausted",
			ActionItems: []firebreak.ActionItem{{Description: "alert on pool saturation", Owner: "dba", Type: "detect"}}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Kind != firebreak.Postmortem || !rep.Response.Met || rep.RootCause == "" {
			t.Fatalf("report %+v", rep)
		}
		got, _ := b.Get(id)
		if got.State != firebreak.Closed || got.Report == nil {
			t.Fatalf("after close: %s", got.State)
		}
		synctest.Wait()
		if s.count(firebreak.EventClosed) != 1 || s.count(firebreak.EventReopened) != 1 {
			t.Fatalf("events %v", s.events())
		}
	})
}

func TestActionsValidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		b.Report(signalFor(firebreak.General))
		id := only(t, b).ID
		for name, err := range map[string]error{
			"no actor":       b.Acknowledge(id, " "),
			"unknown id":     b.Acknowledge("INC-9999", "x"),
			"no action":      b.Mitigate(id, "x", ""),
			"bad severity":   b.SetSeverity(id, "x", firebreak.Severity(9), "r"),
			"no reason":      b.SetSeverity(id, "x", firebreak.None, ""),
			"no hypothesis":  b.AddFinding(id, "x", firebreak.Finding{}),
			"no kind":        b.AddEvidence(id, "x", firebreak.Evidence{}),
			"resolve closed": b.Resolve("nope", "x", ""),
		} {
			if err == nil {
				t.Errorf("%s: no error", name)
			}
		}
	})
}

func TestRetentionBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithRetention(5))
		for i := range 20 {
			s := signalFor(firebreak.General)
			s.Dependency = fmt.Sprintf("dep-%d", i)
			b.Report(s)
			time.Sleep(time.Minute)
			if err := b.Resolve(b.List(firebreak.Filter{OpenOnly: true})[0].ID, "x", ""); err != nil {
				t.Fatal(err)
			}
		}
		// A resolved incident releases its alerts (they used to count
		// against WithMaxAlerts until retention dropped the incident, which
		// made the board blind): none is tracked, five incidents are kept.
		if st := b.Stats(); st.Incidents != 5 || st.Alerts != 0 {
			t.Fatalf("kept %d incidents, %d alerts; want 5, 0", st.Incidents, st.Alerts)
		}
	})
}

func TestNewBoardRejectsBadOptions(t *testing.T) {
	bad := firebreak.DefaultPlan()
	bad.Timers.GroupWait = -1
	for name, opts := range map[string][]firebreak.BoardOption{
		"plan":      {firebreak.WithPlan(bad)},
		"retention": {firebreak.WithRetention(0)},
		"queue":     {firebreak.WithQueueSize(0)},
		"notifier":  {firebreak.WithNotifier(nil)},
	} {
		if _, err := firebreak.NewBoard("svc", opts...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := firebreak.NewBoard(""); err == nil {
		t.Error("empty service accepted")
	}
}

func TestReportAfterCloseIsIgnored(t *testing.T) {
	b, err := firebreak.NewBoard("svc")
	if err != nil {
		t.Fatal(err)
	}
	b.Start(context.Background())
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.Report(signalFor(firebreak.Fatal))
	if n := len(b.List(firebreak.Filter{})); n != 0 {
		t.Fatalf("%d incidents after close", n)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal("second Close:", err)
	}
}

// A board with a notifier that nobody started starts itself on its first
// signal: the page is delivered, not silently held.
func TestBoardStartsOnFirstSignal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &sink{}
		b, err := firebreak.NewBoard("checkout", firebreak.WithNotifier(s))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close(context.Background())
		b.Report(signalFor(firebreak.Fatal))
		time.Sleep(time.Minute) // virtual: past the group wait
		synctest.Wait()
		if s.count(firebreak.EventDetected) != 1 {
			t.Fatalf("events %v: an unstarted board must still announce", s.events())
		}
		if err := b.Start(context.Background()); err != nil {
			t.Errorf("Start after the lazy start: %v", err)
		}
	})
}

func TestBoardStartAfterClose(t *testing.T) {
	b, err := firebreak.NewBoard("checkout", firebreak.WithNotifier(&sink{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); !errors.Is(err, firebreak.ErrClosed) {
		t.Errorf("Start after Close = %v; want ErrClosed", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b2, _ := firebreak.NewBoard("checkout")
	if err := b2.Start(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a cancelled ctx = %v", err)
	}
	b2.Close(context.Background())
}
