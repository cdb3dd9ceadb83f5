package drill_test

import (
	"context"
	"errors"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/drill"
	"github.com/firebreak-go/firebreak/tracing"
)

// slowDep is a dependency that answers in 20 ms and fails a share of its
// calls (every n-th; 0 for none).
type slowDep struct {
	failEvery atomic.Int64
	calls     atomic.Int64
}

var errRecs = errors.New("recs: 503")

func (d *slowDep) call(context.Context) (string, error) {
	n := d.calls.Add(1)
	time.Sleep(20 * time.Millisecond)
	if k := d.failEvery.Load(); k > 0 && n%k == 0 {
		return "", errRecs
	}
	return "ok", nil
}

// observed is a service whose calls go through the tracing package for
// real: checkout → payments (core) through observe → breaker → drill
// injector, and home → recs (auxiliary, best effort) through an observer
// alone, both with a 99.9% availability SLO on the workbook's windows,
// reporting to one Board.
type observed struct {
	board        *firebreak.Board
	payments     *firebreak.Pipeline[string]
	recs         *firebreak.Pipeline[string]
	payObs       *tracing.Observer[string]
	recsObs      *tracing.Observer[string]
	inject       *drill.Injector
	payDep       slowDep
	recsDep      slowDep
	realBurnAt   atomic.Int64 // unix ns of the first real burn signal from recs
	realBurnSeen atomic.Value // its summary
}

func newObserved(t *testing.T) *observed {
	t.Helper()
	s := &observed{}
	// The plan records recs' burns and pages nobody for them (an
	// auxiliary, best-effort dependency): only the guard's AbortBurn can
	// stop a drill for them.
	plan := firebreak.DefaultPlan()
	none := firebreak.TierSeverity{}
	plan.Rules = append([]firebreak.Rule{{Kind: firebreak.KindErrorBudgetBurn, Labels: map[string]string{"slo": "recs"}, Severity: none}}, plan.Rules...)
	b, err := firebreak.NewBoard("shop", firebreak.WithPlan(plan), firebreak.WithComponents("checkout", "home"))
	if err != nil {
		t.Fatal(err)
	}
	s.board = b
	watch := firebreak.ReporterFunc(func(sig firebreak.Signal) {
		if sig.Firing && sig.Kind == firebreak.KindErrorBudgetBurn && sig.Dependency == "recs" {
			if s.realBurnAt.CompareAndSwap(0, time.Now().UnixNano()) {
				s.realBurnSeen.Store(sig.Summary)
			}
		}
		b.Report(sig)
	})
	slo := func(name string) tracing.Option { return tracing.WithSLO(tracing.SLO{Name: name, Availability: 0.999}) }
	if s.payObs, err = tracing.New[string](slo("payments")); err != nil {
		t.Fatal(err)
	}
	if s.recsObs, err = tracing.New[string](slo("recs")); err != nil {
		t.Fatal(err)
	}
	if s.inject, err = drill.NewInjector("payments-errors", drill.Error(errors.New("payments: injected 502"))); err != nil {
		t.Fatal(err)
	}
	pol, err := drill.NewPolicy[string](s.inject)
	if err != nil {
		t.Fatal(err)
	}
	br, err := breaker.New[string]()
	if err != nil {
		t.Fatal(err)
	}
	s.payments, err = firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core, Reporter: watch},
		[]firebreak.Policy[string]{s.payObs, br, pol})
	if err != nil {
		t.Fatal(err)
	}
	s.recs, err = firebreak.NewPipeline(firebreak.Component{Name: "home", Dependency: "recs", Tier: firebreak.Auxiliary, Reporter: watch},
		[]firebreak.Policy[string]{s.recsObs})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.payObs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.recsObs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *observed) close(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, c := range []interface{ Close(context.Context) error }{s.payObs, s.recsObs, s.board} {
		if err := c.Close(ctx); err != nil {
			t.Error(err)
		}
	}
}

// traffic plays 100 calls/s into each dependency, each call on its own
// goroutine, until stop is called.
func (s *observed) traffic() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			wg.Go(func() { s.payments.Execute(ctx, s.payDep.call) })
			wg.Go(func() { s.recs.Execute(ctx, s.recsDep.call) })
		}
	})
	return func() { cancel(); wg.Wait() }
}

// A live drill of 20% errors into a core dependency, through a real
// tracing pipeline (observe → breaker → injector) at 100 calls/s: the
// drill's own SLO burn is the drill's (graded, not an abort); the report's
// steady state is the burn, error ratio and p99 the tracing statistics
// measured, against the hypothesis; and a real SLO burn on another
// dependency, which the plan grades none, still aborts the drill through
// the guard's AbortBurn within a second.
func TestDrillSteadyStateFromTracingAndRealBurnAborts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newObserved(t)
		defer s.close(t)
		stop := s.traffic()
		defer stop()
		time.Sleep(time.Hour) // an hour of healthy traffic fills the SLO's long window

		spec := drill.Spec{
			ID:          "gd-slo",
			Hypothesis:  "a fifth of payments failing burns the budget at about 200× but no more than 25% of calls fail and p99 stays under 50 ms",
			Scope:       drill.Scope{Components: []string{"checkout"}, Dependencies: []string{"payments"}},
			Dose:        drill.Percent(20),
			End:         time.Now().Add(time.Hour),
			Expect:      drill.Expect{Severity: firebreak.Severe, DetectWithin: 10 * time.Minute},
			SteadyState: drill.SteadyState{Burn: 250, ErrorRatio: 0.25, P99: 50 * time.Millisecond},
			Owner:       "ana",
		}
		d, err := drill.New(s.board, spec, []*drill.Injector{s.inject},
			drill.WithSteadyStateFrom(0.999, 5*time.Second, s.payObs.Stats()))
		if err != nil {
			t.Fatal(err)
		}
		defer closeDrill(t, d)
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute)

		// The drill's burn is graded like a real one, in the drill's
		// incident, and does not trip the guard.
		if st := d.State(); st != drill.StateRunning {
			t.Fatalf("10 min into the drill: state %s (%s), want running: the drill's own burn must not abort it", st, d.Status().AbortReason)
		}
		incs := s.board.List(firebreak.Filter{Drill: "gd-slo"})
		if len(incs) != 1 || incs[0].Severity != firebreak.Severe {
			t.Fatalf("drill incidents %+v, want one graded severe by the 14.4× tier", incs)
		}
		burnAlert := false
		for _, a := range incs[0].Alerts {
			burnAlert = burnAlert || a.Kind == firebreak.KindErrorBudgetBurn && a.Dependency == "payments"
		}
		if !burnAlert {
			t.Fatalf("the drill incident has no error_budget_burn from payments: %+v", incs[0].Alerts)
		}
		if real := s.board.List(firebreak.Filter{}); len(real) != 0 {
			t.Fatalf("real incidents during the drill: %+v", real)
		}

		// A real burn on another dependency: 1 call in 30 fails (3.3%,
		// a burn of 33), the plan grades it none.
		s.recsDep.failEvery.Store(30)
		for s.realBurnAt.Load() == 0 {
			time.Sleep(100 * time.Millisecond)
		}
		burnAt := time.Unix(0, s.realBurnAt.Load())
		time.Sleep(time.Second)
		synctest.Wait()
		st := d.Status()
		if st.State != drill.StateAborted || s.inject.Armed() {
			t.Fatalf("1 s after a real burn (%v): state %s, armed %v; want aborted, injectors off", s.realBurnSeen.Load(), st.State, s.inject.Armed())
		}
		if !strings.Contains(st.AbortReason, "real SLO burn") || !strings.Contains(st.AbortReason, "recs") {
			t.Errorf("abort reason %q, want the real SLO burn on recs", st.AbortReason)
		}
		if st.EndedAt.Sub(burnAt) > time.Second {
			t.Errorf("aborted %s after the real burn, want within 1 s", st.EndedAt.Sub(burnAt))
		}
		if real := s.board.List(firebreak.Filter{}); len(real) != 1 || real[0].Severity != firebreak.None || real[0].Drill != "" {
			t.Errorf("the real burn should be one real incident graded none (recorded), got %+v", real)
		}

		rep := d.Report(drill.ReportInput{})
		ss := rep.SteadyState
		if ss.Samples < 100 {
			t.Fatalf("steady state sampled %d times in 10 min every 5 s, want about 120", ss.Samples)
		}
		m := ss.Measured
		if m.ErrorRatio < 0.18 || m.ErrorRatio > 0.25 {
			t.Errorf("measured error ratio %.3f, want about 0.2 (the dose) from the observer's statistics", m.ErrorRatio)
		}
		if want := m.ErrorRatio / 0.001; math.Abs(m.Burn-want) > 1e-6 || m.Burn < 180 {
			t.Errorf("measured burn %.2f, want error ratio ÷ budget = %.2f (about 200)", m.Burn, want)
		}
		if m.P99 < 17*time.Millisecond || m.P99 > 23*time.Millisecond {
			t.Errorf("measured p99 %s, want about the dependency's 20 ms", m.P99)
		}
		if !ss.Within || ss.Hypothesis != spec.SteadyState {
			t.Errorf("steady state %+v, want within the hypothesis %+v", ss, spec.SteadyState)
		}
		crit := map[string]drill.Criterion{}
		for _, c := range rep.Criteria {
			crit[c.Name] = c
		}
		if c := crit["steady state within the hypothesis"]; !c.Pass {
			t.Errorf("steady-state criterion %+v, want pass", c)
		}
		if c := crit["ran to its end"]; c.Pass || !strings.Contains(c.Detail, "real SLO burn") {
			t.Errorf("ran-to-its-end criterion %+v, want failed for the real burn", c)
		}
		if rep.Reached < firebreak.Severe {
			t.Errorf("reached %s, want severe", rep.Reached)
		}
		md := rep.Markdown()
		for _, want := range []string{
			"## Steady state (SLO)",
			"| Burn rate | 250.00 | " + fmtF(m.Burn, 2) + " | yes |",
			"| Error ratio | 0.250 | " + fmtF(m.ErrorRatio, 3) + " | yes |",
			"| p99 | 50ms | ",
		} {
			if !strings.Contains(md, want) {
				t.Errorf("markdown lacks %q:\n%s", want, md)
			}
		}
		s.recsDep.failEvery.Store(0)
	})
}

// A hypothesis the drill breaks fails its criterion, and the table says
// which measure broke it.
func TestSteadyStateOutsideTheHypothesisFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newObserved(t)
		defer s.close(t)
		stop := s.traffic()
		defer stop()
		time.Sleep(10 * time.Minute)
		spec := drill.Spec{
			ID: "gd-tight", Scope: drill.Scope{Dependencies: []string{"payments"}}, Dose: drill.Percent(20),
			End: time.Now().Add(5 * time.Minute), SteadyState: drill.SteadyState{ErrorRatio: 0.05},
		}
		d, err := drill.New(s.board, spec, []*drill.Injector{s.inject}, drill.WithSteadyStateFrom(0.999, time.Second, s.payObs.Stats()))
		if err != nil {
			t.Fatal(err)
		}
		defer closeDrill(t, d)
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-d.Done()
		rep := d.Report(drill.ReportInput{})
		if rep.SteadyState.Within || rep.Passed {
			t.Errorf("steady state %+v within, passed %v; want outside and failed", rep.SteadyState, rep.Passed)
		}
		md := rep.Markdown()
		for _, want := range []string{"| Error ratio | 0.050 | ", " | no |", "| Burn rate | — | "} {
			if !strings.Contains(md, want) {
				t.Errorf("markdown lacks %q:\n%s", want, md)
			}
		}
	})
}

func TestWithSteadyStateFromErrors(t *testing.T) {
	b, err := firebreak.NewBoard("shop")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	in, _ := drill.NewInjector("x", drill.Error(errDown))
	obs, _ := tracing.New[int]()
	spec := liveSpec("x", drill.Percent(5), time.Hour)
	for _, tc := range []struct {
		opt  drill.Option
		want string
	}{
		{drill.WithSteadyStateFrom(1, time.Second, obs.Stats()), "availability 1 is outside (0, 1)"},
		{drill.WithSteadyStateFrom(math.NaN(), time.Second, obs.Stats()), "availability NaN"},
		{drill.WithSteadyStateFrom(0.999, time.Second), "no statistics given"},
		{drill.WithSteadyStateFrom(0.999, time.Second, obs.Stats(), nil), "statistics 1 are nil"},
		{drill.WithSteadyStateFrom(0.999, 0, obs.Stats()), "interval must be positive"},
		{nil, "option 0 is nil"},
	} {
		if _, err := drill.New(b, spec, []*drill.Injector{in}, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
	if got := drill.SteadyStateOf(0.999, nil, obs.Stats()); got != (drill.SteadyState{}) {
		t.Errorf("SteadyStateOf without calls: %+v, want zero", got)
	}
}

func fmtF(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

// TestImportsAreLight: drill reads the tracing statistics, and so links the
// OpenTelemetry API, never the SDK, an exporter or gRPC.
func TestImportsAreLight(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("drill: the go tool is not on PATH:", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/firebreak-go/firebreak/drill").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, d := range deps {
		for _, heavy := range []string{"go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/exporters", "go.opentelemetry.io/proto", "google.golang.org/grpc", "github.com/redis"} {
			if strings.HasPrefix(d, heavy) {
				t.Errorf("drill depends on %s", d)
			}
		}
	}
	t.Logf("%d packages", len(deps))
}
