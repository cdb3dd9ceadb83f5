package drill_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/drill"
	"github.com/firebreak-go/firebreak/internal/race"
)

func liveSpec(id string, dose drill.Dose, end time.Duration) drill.Spec {
	return drill.Spec{
		ID:           id,
		Hypothesis:   "payments down: the breaker opens, the board pages the command centre at Fatal within 10 minutes",
		Scope:        drill.Scope{Components: []string{"checkout"}, Dependencies: []string{"payments"}},
		Dose:         dose,
		End:          time.Now().Add(end),
		Participants: []string{"drill-team"},
		Expect:       drill.Expect{Severity: firebreak.Fatal, DetectWithin: time.Minute},
		Owner:        "ana",
	}
}

// A live drill injecting 100% errors into a core dependency produces a
// drill incident graded Fatal, graded and timed like a real one, and a
// report with the measured times; nothing shows publicly or in the real
// list.
func TestLiveDrillCoreOutageIsFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(t, drill.Error(errors.New("payments: injected outage")))
		stop := s.traffic()
		defer stop()
		time.Sleep(5 * time.Minute) // steady traffic first
		start := time.Now()
		d, err := drill.New(s.board, liveSpec("gd-1", drill.Percent(100), 20*time.Minute), []*drill.Injector{s.inject})
		if err != nil {
			t.Fatal(err)
		}
		defer closeDrill(t, d)
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute)
		incs := s.board.List(firebreak.Filter{Drill: "gd-1"})
		if len(incs) != 1 {
			t.Fatalf("drill incidents: %d, want 1: %+v", len(incs), incs)
		}
		inc := incs[0]
		if inc.Severity != firebreak.Fatal || inc.Drill != "gd-1" || inc.NotifiedAt.IsZero() {
			t.Fatalf("drill incident: severity %s, drill %q, notified %v; want Fatal, gd-1, announced", inc.Severity, inc.Drill, inc.NotifiedAt)
		}
		if want := inc.DetectedAt.Add(10 * time.Minute); !inc.ResponseDue.Equal(want) {
			t.Errorf("response due %v, want detection + 10 min (%v): timed like a real Fatal", inc.ResponseDue, want)
		}
		if real := s.board.List(firebreak.Filter{}); len(real) != 0 {
			t.Errorf("the real list shows %d incidents during a drill", len(real))
		}
		if st := s.board.PublicStatus(); st.Status != firebreak.StatusOperational {
			t.Errorf("public status %q during a drill, want operational", st.Status)
		}
		if err := s.board.Acknowledge(inc.ID, "ana"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		if err := s.board.Mitigate(inc.ID, "ana", "payments switched to the standby"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20*time.Minute - 3*time.Minute - time.Since(start) + 20*time.Minute) // past the end, and recovery
		if st := d.State(); st != drill.StateCompleted {
			t.Fatalf("state %s, want completed", st)
		}
		rep := d.Report(drill.ReportInput{})
		m := rep.Measured
		if m.Injection.IsZero() || m.Detection.IsZero() || m.Announcement.IsZero() || m.Acknowledgement.IsZero() || m.Mitigation.IsZero() || m.Recovery.IsZero() {
			t.Fatalf("measured times missing: %+v", m)
		}
		if m.ToDetect <= 0 || time.Duration(m.ToDetect) > time.Minute {
			t.Errorf("time to detect %s, want within the breaker's 15 s or so", time.Duration(m.ToDetect))
		}
		if got := time.Duration(m.ToAnnounce - m.ToDetect); got != 30*time.Second {
			t.Errorf("announcement %s after detection, want the plan's 30 s group wait", got)
		}
		if rep.Reached != firebreak.Fatal || rep.Level != 1 {
			t.Errorf("reached %s level %d, want fatal level 1", rep.Reached, rep.Level)
		}
		for _, c := range rep.Criteria {
			if !c.Pass {
				t.Errorf("criterion failed: %+v", c)
			}
		}
		if len(rep.Deadlines) == 0 || !rep.Deadlines[0].Met || time.Duration(rep.Deadlines[0].Within) != 10*time.Minute {
			t.Errorf("deadlines %+v, want the 10-minute Fatal deadline met", rep.Deadlines)
		}
		md := rep.Markdown()
		for _, want := range []string{"gd-1", "Time to detect", "fatal", "10m0s", "Sign-off"} {
			if !strings.Contains(md, want) {
				t.Errorf("markdown report lacks %q:\n%s", want, md)
			}
		}
	})
}

// A real fault on another component during the drill aborts it within one
// second — every injector off — and restores normal traffic.
func TestRealFaultAbortsDrill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(t, drill.Error(errors.New("payments: injected")))
		stop := s.traffic()
		defer stop()
		time.Sleep(time.Minute)
		// 20%: the payments breaker does not open, so the traffic the
		// injector spares shows when the drill stops.
		d, err := drill.New(s.board, liveSpec("gd-2", drill.Percent(20), 30*time.Minute), []*drill.Injector{s.inject})
		if err != nil {
			t.Fatal(err)
		}
		defer closeDrill(t, d)
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute)
		if _, fail := s.counts(); fail == 0 {
			t.Fatal("the drill injected nothing")
		}
		s.idxDep.down.Store(true) // a real fault, elsewhere
		for s.realAt.Load() == 0 {
			time.Sleep(100 * time.Millisecond)
		}
		realAt := time.Unix(0, s.realAt.Load())
		time.Sleep(time.Second)
		synctest.Wait()
		if d.State() != drill.StateAborted || s.inject.Armed() {
			t.Fatalf("1 s after a real fault: state %s, armed %v; want aborted, disarmed", d.State(), s.inject.Armed())
		}
		st := d.Status()
		if !st.EndedAt.Before(realAt.Add(time.Second)) || !strings.Contains(st.AbortReason, "real incident") {
			t.Fatalf("ended %v (real fault %v), reason %q", st.EndedAt, realAt, st.AbortReason)
		}
		if st.Timeline[len(st.Timeline)-1].Event != "aborted" {
			t.Errorf("the abort is not the timeline's last entry: %+v", st.Timeline)
		}
		s.counts()
		time.Sleep(time.Second)
		if ok, fail := s.counts(); fail != 0 || ok < 90 {
			t.Errorf("in the second after the abort: %d ok, %d failed; want normal traffic", ok, fail)
		}
		// The abort is a signal on the board, in the drill's record.
		found := false
		for _, inc := range s.board.List(firebreak.Filter{Drill: "gd-2"}) {
			for _, a := range inc.Alerts {
				found = found || a.Kind == firebreak.KindDrillAborted
			}
		}
		if !found {
			t.Error("no drill_aborted signal on the board")
		}
		if real := s.board.List(firebreak.Filter{}); len(real) != 1 || real[0].Drill != "" {
			t.Errorf("the real fault should be one real incident, got %+v", real)
		}
		s.idxDep.down.Store(false)
	})
}

// A drill past its end stops by itself: injectors off, traffic normal, the
// board no longer counts it running.
func TestDrillStopsAtItsEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(t, drill.Error(errors.New("injected")))
		stop := s.traffic()
		defer stop()
		d, err := drill.New(s.board, liveSpec("gd-3", drill.Percent(10), 2*time.Minute), []*drill.Injector{s.inject})
		if err != nil {
			t.Fatal(err)
		}
		defer closeDrill(t, d)
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		if !s.inject.Armed() || len(s.board.RunningDrills()) != 1 {
			t.Fatal("not running mid-drill")
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if s.inject.Armed() || d.State() != drill.StateCompleted || len(s.board.RunningDrills()) != 0 {
			t.Fatalf("at its end: armed %v, state %s, running %q", s.inject.Armed(), d.State(), s.board.RunningDrills())
		}
		s.counts()
		time.Sleep(10 * time.Second)
		if ok, fail := s.counts(); fail != 0 || ok == 0 {
			t.Errorf("after the end: %d ok, %d failed", ok, fail)
		}
		select {
		case <-d.Done():
		default:
			t.Error("Done is not closed")
		}
	})
}

// Drill notifications reach only the drill's participants: never the
// default route, nor an unrouted (audit) notifier; and they say [DRILL].
func TestDrillNotificationsStayWithParticipants(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(t, drill.Error(errors.New("injected")))
		stop := s.traffic()
		defer stop()
		d, err := drill.New(s.board, liveSpec("gd-4", drill.Percent(100), 10*time.Minute), []*drill.Injector{s.inject})
		if err != nil {
			t.Fatal(err)
		}
		defer closeDrill(t, d)
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Minute) // through the breach, the end, recovery and resolution
		synctest.Wait()
		team := s.team.all()
		if len(team) < 3 {
			t.Fatalf("the drill team heard of %d events, want the announcement, breach, and resolution", len(team))
		}
		events := map[firebreak.Event]bool{}
		for _, n := range team {
			events[n.Event] = true
			if n.Incident.Drill != "gd-4" || !strings.HasPrefix(n.Incident.Title, "[DRILL] ") {
				t.Errorf("drill notification not marked: %q, drill %q", n.Incident.Title, n.Incident.Drill)
			}
		}
		for _, ev := range []firebreak.Event{firebreak.EventDetected, firebreak.EventBreached, firebreak.EventResolved} {
			if !events[ev] {
				t.Errorf("the drill team missed %s", ev)
			}
		}
		if p, a := s.pager.all(), s.audit.all(); len(p)+len(a) != 0 {
			t.Errorf("a non-drill route heard of the drill: pager %d, audit %d", len(p), len(a))
		}
	})
}

// An unarmed injector changes nothing: the pipeline's results and its
// allocations are those of the same pipeline without it.
func TestUnarmedInjectorChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in, err := drill.NewInjector("idle", drill.Error(errors.New("never")))
		if err != nil {
			t.Fatal(err)
		}
		pol, _ := drill.NewPolicy[int](in)
		c := firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core}
		with, err := firebreak.NewPipeline(c, []firebreak.Policy[int]{pol})
		if err != nil {
			t.Fatal(err)
		}
		without, _ := firebreak.NewPipeline(c, []firebreak.Policy[int]{})
		n := 0
		fn := func(context.Context) (int, error) {
			n++
			if n%3 == 0 {
				return 0, errDown
			}
			return n, nil
		}
		ctx := context.Background()
		for i := range 300 {
			n = i
			v1, e1 := with.Execute(ctx, fn)
			n = i
			v2, e2 := without.Execute(ctx, fn)
			if v1 != v2 || !errors.Is(e1, e2) && e1 != e2 {
				t.Fatalf("call %d: with injector (%d, %v), without (%d, %v)", i, v1, e1, v2, e2)
			}
		}
		if race.Enabled {
			return
		}
		a1 := testing.AllocsPerRun(1000, func() { with.Execute(ctx, fn) })
		a2 := testing.AllocsPerRun(1000, func() { without.Execute(ctx, fn) })
		if a1 != a2 {
			t.Errorf("allocations: %v with the unarmed injector, %v without", a1, a2)
		}
		if in.Injected() != 0 {
			t.Error("an unarmed injector injected")
		}
	})
}

// Bad input gets a clear error.
func TestSpecErrors(t *testing.T) {
	b, err := firebreak.NewBoard("shop")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	in, _ := drill.NewInjector("x", drill.Error(errDown))
	in.Bind(firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core})
	ok := liveSpec("ok", drill.Percent(5), time.Hour)
	for _, tc := range []struct {
		name string
		edit func(*drill.Spec)
		want string
	}{
		{"no end", func(s *drill.Spec) { s.End = time.Time{} }, "needs an end"},
		{"end before start", func(s *drill.Spec) { s.Start = s.End.Add(time.Minute) }, "is not after Spec.Start"},
		{"over 100%", func(s *drill.Spec) { s.Dose = drill.Percent(120) }, "at most 100"},
		{"NaN", func(s *drill.Spec) { s.Dose = drill.Percent(math.NaN()) }, "at most 100"},
		{"ramp out of order", func(s *drill.Spec) { s.Dose = drill.Dose{{0, 1}, {time.Minute, 5}, {time.Minute, 20}} }, "increasing order"},
		{"no scope", func(s *drill.Spec) { s.Scope = drill.Scope{} }, "name the Components or Dependencies"},
		{"bad id", func(s *drill.Spec) { s.ID = "a b" }, "Spec.ID"},
	} {
		s := ok
		tc.edit(&s)
		if _, err := drill.New(b, s, []*drill.Injector{in}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := drill.New(b, drill.Spec{ID: "x", Scope: ok.Scope, Dose: ok.Dose}, []*drill.Injector{in}); !errors.Is(err, drill.ErrNoEnd) {
		t.Errorf("no end: %v, want ErrNoEnd", err)
	}
	s := ok
	s.Scope.Dependencies = []string{"ledger"}
	d, err := drill.New(b, s, []*drill.Injector{in})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); !errors.Is(err, drill.ErrUnknownScope) {
		t.Errorf("unknown scope: %v, want ErrUnknownScope", err)
	}
	for _, f := range []drill.Fault{drill.HTTPStatus(200), drill.Latency(0), drill.Error(nil), drill.Behavior(nil), {}} {
		if _, err := drill.NewInjector("bad", f); err == nil {
			t.Errorf("fault %v accepted", f)
		}
	}
}

// A production board refuses to arm unless the plan allows it.
func TestProductionRefusesUnlessThePlanAllows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, allow := range []bool{false, true} {
			plan := firebreak.DefaultPlan()
			plan.Drills.AllowProduction = allow
			b, err := firebreak.NewBoard("shop", firebreak.WithEnv("prod"), firebreak.WithPlan(plan))
			if err != nil {
				t.Fatal(err)
			}
			in, _ := drill.NewInjector("x", drill.Error(errDown))
			in.Bind(firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core})
			s := liveSpec("prod-1", drill.Percent(5), time.Hour)
			s.Participants = nil
			d, err := drill.New(b, s, []*drill.Injector{in})
			if err != nil {
				t.Fatal(err)
			}
			err = d.Start(context.Background())
			switch {
			case !allow && (!errors.Is(err, firebreak.ErrDrillRefused) || in.Armed() || d.State() != drill.StateRefused):
				t.Errorf("production without leave: err %v, armed %v, state %s", err, in.Armed(), d.State())
			case allow && (err != nil || !in.Armed()):
				t.Errorf("production with leave: err %v, armed %v", err, in.Armed())
			}
			closeDrill(t, d)
			b.Close(context.Background())
		}
	})
}
