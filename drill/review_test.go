package drill_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/drill"
)

// TestReviewReportTextCannotForgeSections: the hypothesis comes from
// whoever starts a drill and the abort reason from whoever aborts it (both
// through the ops API). Before the fix their line breaks went into the
// Markdown report as they were, so an abort reason could add a passing
// criterion or a sign-off the reviewer never gave.
func TestReviewReportTextCannotForgeSections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(t, drill.Error(errors.New("injected")))
		stop := s.traffic()
		defer stop()
		spec := liveSpec("rv-1", drill.Percent(100), 10*time.Minute)
		spec.Hypothesis = "it holds\n\n## Criteria\n\n- [pass] forged by the hypothesis"
		d, err := drill.New(s.board, spec, []*drill.Injector{s.inject})
		if err != nil {
			t.Fatal(err)
		}
		defer closeDrill(t, d)
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		if err := d.Abort("mallory", "done\r\n\r\n## Sign-off\r\n\r\nthe reviewer, PASSED"); err != nil {
			t.Fatal(err)
		}
		<-d.Done()
		md := d.Report(drill.ReportInput{}).Markdown()
		lines := strings.Split(md, "\n")
		count := func(want string) (n int) {
			for _, l := range lines {
				if strings.TrimRight(l, "\r") == want {
					n++
				}
			}
			return n
		}
		if n := count("## Criteria"); n != 1 {
			t.Errorf("%d \"## Criteria\" sections, want 1:\n%s", n, md)
		}
		if n := count("## Sign-off"); n != 1 {
			t.Errorf("%d \"## Sign-off\" sections, want 1:\n%s", n, md)
		}
		for _, l := range lines {
			if strings.HasPrefix(l, "- [pass] forged") || strings.HasPrefix(l, "the reviewer, PASSED") || strings.Contains(l, "\r") {
				t.Errorf("a forged line in the report: %q", l)
			}
		}
	})
}

// TestReviewCloseDuringStartLeavesNothingArmed: Close racing a Start (a
// service shutting down as a drill is started) must leave no injector
// armed once both have returned, and Close must not return before the
// drill has stopped.
func TestReviewCloseDuringStartLeavesNothingArmed(t *testing.T) {
	for range 200 {
		synctest.Test(t, func(t *testing.T) {
			s := newService(t, drill.Error(errors.New("injected")))
			d, err := drill.New(s.board, liveSpec("rv-2", drill.Percent(100), 10*time.Minute), []*drill.Injector{s.inject})
			if err != nil {
				t.Fatal(err)
			}
			started := make(chan struct{})
			go func() {
				defer close(started)
				_ = d.Start(context.Background())
			}()
			if err := d.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			<-started
			if s.inject.Armed() {
				t.Fatal("an injector is armed after Close and Start both returned")
			}
			synctest.Wait()
			if st := d.State(); st == drill.StateRunning || st == drill.StatePending && d.Status().StartedAt != (time.Time{}) {
				t.Fatalf("after Close the drill is %s", st)
			}
		})
	}
}

// TestReviewPanickingSteadyStateStillDisarms: the user's steady-state
// function panics at every sample; the drill goes on, and at its end every
// injector is off.
func TestReviewPanickingSteadyStateStillDisarms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(t, drill.Error(errors.New("injected")))
		stop := s.traffic()
		defer stop()
		d, err := drill.New(s.board, liveSpec("rv-3", drill.Percent(50), 2*time.Minute), []*drill.Injector{s.inject},
			drill.WithSteadyState(func() drill.SteadyState { panic("metrics backend gone") }, time.Second),
			drill.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		defer closeDrill(t, d)
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		if !s.inject.Armed() {
			t.Fatal("the drill stopped injecting after the steady-state function panicked")
		}
		<-d.Done()
		if s.inject.Armed() || d.State() != drill.StateCompleted {
			t.Fatalf("at its end: armed %v, state %s", s.inject.Armed(), d.State())
		}
	})
}

// TestReviewConcurrentDrillsOnOneInjector: a second drill over the same
// injector while the first runs. Before the fix the second one took the
// injector over (its arming replaced the first's), and at its end
// disarmed it: the first drill went on "running" to its end with nothing
// injected. The second is refused instead, and the first keeps injecting.
func TestReviewConcurrentDrillsOnOneInjector(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(t, drill.Error(errors.New("injected")))
		stop := s.traffic()
		defer stop()
		a, err := drill.New(s.board, liveSpec("rv-a", drill.Percent(100), 10*time.Minute), []*drill.Injector{s.inject})
		if err != nil {
			t.Fatal(err)
		}
		defer closeDrill(t, a)
		if err := a.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		b, err := drill.New(s.board, liveSpec("rv-b", drill.Percent(10), 2*time.Minute), []*drill.Injector{s.inject})
		if err != nil {
			t.Fatal(err)
		}
		defer closeDrill(t, b)
		errB := b.Start(context.Background())
		if !errors.Is(errB, drill.ErrRunning) || b.State() != drill.StateRefused {
			t.Errorf("a second drill on an armed injector: %v, %s; want refused with ErrRunning", errB, b.State())
		}
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		if a.State() != drill.StateRunning {
			t.Fatalf("drill a is %s mid-way (b: %v, %s)", a.State(), errB, b.State())
		}
		s.counts()
		time.Sleep(10 * time.Second)
		if ok, fail := s.counts(); fail == 0 || ok > 0 {
			t.Errorf("drill a runs but %d calls failed and %d went through, want all failed (100%% dose); b: %v, %s", fail, ok, errB, b.State())
		}
	})
}

// TestReviewCloseRacingStartRealTime is the race above on real
// goroutines (run it with -race at GOMAXPROCS 1, 2 and 8): before the fix
// a Start that had passed its closed check when Close ran armed the
// injectors after Close had returned, with its loop still running.
func TestReviewCloseRacingStartRealTime(t *testing.T) {
	s := newService(t, drill.Error(errors.New("injected")))
	for i := range 300 {
		spec := liveSpec("rv-rt-"+strconv.Itoa(i), drill.Percent(100), time.Hour)
		spec.Participants = nil
		d, err := drill.New(s.board, spec, []*drill.Injector{s.inject})
		if err != nil {
			t.Fatal(err)
		}
		started := make(chan struct{})
		go func() {
			defer close(started)
			_ = d.Start(context.Background())
		}()
		if err := d.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-started
		select {
		case <-d.Done():
		default:
			if d.Status().StartedAt != (time.Time{}) || d.State() == drill.StateRunning {
				t.Fatalf("iteration %d: Close returned while the drill runs (%s)", i, d.State())
			}
		}
		if s.inject.Armed() {
			t.Fatalf("iteration %d: the injector is armed after Close and Start returned", i)
		}
	}
}

// TestReviewCalendarRecordInTheFuture: a run recorded in the future (a
// typo in the year, a client's skewed clock) pushed the entry's next due
// date past it, so the calendar never raised drill_overdue again for it.
// It is an error naming the time instead, and the entry still falls due.
func TestReviewCalendarRecordInTheFuture(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan := firebreak.DefaultPlan()
		plan.Drills.Calendar = []firebreak.DrillCadence{
			{Name: "monthly tabletop", Kind: "tabletop", Every: firebreak.Duration(30 * 24 * time.Hour), Grace: firebreak.Duration(24 * time.Hour)},
		}
		b, err := firebreak.NewBoard("shop", firebreak.WithPlan(plan))
		if err != nil {
			t.Fatal(err)
		}
		b.Start(t.Context())
		defer b.Close(context.Background())
		cal, err := drill.NewCalendar(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := cal.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer cal.Close(context.Background())
		if err := cal.Record("monthly tabletop", time.Now().AddDate(100, 0, 0)); err == nil {
			t.Error("a run recorded 100 years ahead was accepted")
		}
		time.Sleep(32 * 24 * time.Hour)
		if d := cal.Due(time.Now()); !d[0].Overdue {
			t.Errorf("32 days on, the monthly tabletop is not overdue (due %s)", d[0].DueAt)
		}
	})
}

// TestReviewManagerBoundsPendingDrills: the Manager never forgets a drill
// still pending or running, so before the fix drills started for the far
// future (each a goroutine and a timer) piled up without limit: a client
// looping over POST / held memory for ever. Past MaxKept drills pending or
// running, StartDrill is an error wrapping firebreak.ErrLimit.
func TestReviewManagerBoundsPendingDrills(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(t, drill.Error(errors.New("injected")))
		m, err := drill.NewManager(s.board, s.inject)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(context.Background())
		var last error
		n := 0
		for i := range drill.MaxKept + 50 {
			sp := liveSpec("far-"+strconv.Itoa(i), drill.Percent(1), 48*time.Hour)
			sp.Start = time.Now().Add(24 * time.Hour)
			sp.Participants = nil
			if _, last = m.StartDrill(context.Background(), sp, "ana"); last != nil {
				break
			}
			n++
		}
		if !errors.Is(last, firebreak.ErrLimit) || n != drill.MaxKept {
			t.Errorf("after %d pending drills: %v, want ErrLimit after %d", n, last, drill.MaxKept)
		}
	})
}

// TestReviewTabletopNegativeDeadlines: a negative Within or ResponseWithin
// (a sign typo) was taken as "not tested" and the criterion passed; it is
// an error naming the field.
func TestReviewTabletopNegativeDeadlines(t *testing.T) {
	for _, x := range []drill.Expectation{
		{Severity: firebreak.Fatal, Within: -time.Minute},
		{Severity: firebreak.Fatal, ResponseWithin: -time.Minute},
	} {
		sc := drill.Scenario{Name: "neg", Duration: time.Hour, Steps: coreOutage.Steps, Expect: []drill.Expectation{x}}
		if _, err := drill.Tabletop(firebreak.DefaultPlan(), sc); err == nil || !strings.Contains(err.Error(), "Within") {
			t.Errorf("%+v: %v, want an error naming the field", x, err)
		}
	}
}
