package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/firebreak-go/firebreak"
)

var errBoom = errors.New("boom")

// sloRig is an observer with an SLO reporting into a recorder, driven in a
// synctest bubble.
type sloRig struct {
	t   *testing.T
	obs *Observer[int]
	rec *firebreak.Recorder
	i   int // calls made so far
}

func newSLORig(t *testing.T, slo SLO, opts ...Option) *sloRig {
	t.Helper()
	rec := &firebreak.Recorder{}
	var obs *Observer[int]
	// The reporter reads the statistics back, as a Board taking evidence
	// might: it would deadlock if signals were reported under the lock.
	reporter := firebreak.ReporterFunc(func(s firebreak.Signal) {
		obs.Snapshot()
		rec.Report(s)
	})
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	opts = append([]Option{
		WithComponent(firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core, Reporter: reporter}),
		WithTracerProvider(tp),
		WithSLO(slo),
	}, opts...)
	obs, err := New[int](opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &sloRig{t: t, obs: obs, rec: rec}
}

// drive makes one call every interval for d; fail says whether call i fails.
func (r *sloRig) drive(d, interval time.Duration, fail func(i int) bool) {
	r.t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		f := fail(r.i)
		r.i++
		_, _ = r.obs.Execute(context.Background(), func(context.Context) (int, error) {
			if f {
				return 0, errBoom
			}
			return 1, nil
		})
		time.Sleep(interval)
	}
}

// warm records good calls straight into the statistics, perStep every step,
// for d: cheap history for the long windows.
func (r *sloRig) warm(d, step time.Duration, perStep int, fail func(i int) bool) {
	end := time.Now().Add(d)
	st := r.obs.Stats()
	for time.Now().Before(end) {
		for range perStep {
			st.Record(time.Millisecond, fail(r.i))
			r.i++
		}
		time.Sleep(step)
	}
}

// until drives like drive but stops as soon as cond holds; it returns whether
// it did.
func (r *sloRig) until(d, interval time.Duration, fail func(i int) bool, cond func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		r.drive(interval, interval, fail)
		if cond() {
			return true
		}
	}
	return false
}

func never(int) bool  { return false }
func always(int) bool { return true }

func firingOf(sigs []firebreak.Signal) (out []string) {
	for _, s := range sigs {
		state := "cleared"
		if s.Firing {
			state = "firing"
		}
		out = append(out, string(s.Kind)+" "+s.Labels["window"]+" "+state)
	}
	return out
}

func TestBurnPageTierFiresAbout52sAfterFullOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSLORig(t, SLO{Availability: 0.999})
		r.warm(72*time.Hour-time.Hour, 30*time.Second, 30, never) // three days of good traffic, 1 call/s
		r.drive(time.Hour, time.Second, never)
		if n := r.rec.Len(); n != 0 {
			t.Fatalf("%d signals during good traffic: %v", n, firingOf(r.rec.Signals()))
		}
		onset := time.Now()
		fired := r.until(5*time.Minute, time.Second, always, func() bool { return r.rec.Len() > 0 })
		if !fired {
			t.Fatal("100% failures for 5 minutes did not fire")
		}
		sigs := r.rec.Signals()
		if len(sigs) != 1 {
			t.Fatalf("signals = %v, want one", firingOf(sigs))
		}
		s := sigs[0]
		after := s.Time.Sub(onset)
		// The 1h window needs 0.1% × 14.4 × 1h = 51.84 s of failures; the 5m
		// window alone would allow firing after 4.3 s. Evaluation runs every
		// 5 s.
		if after < 51*time.Second || after > 60*time.Second {
			t.Errorf("fired %v after the onset, want between 51s and 60s", after)
		}
		if s.Kind != firebreak.KindErrorBudgetBurn || !s.Firing || s.Labels["window"] != "1h/5m" || s.Labels["slo"] != "availability" {
			t.Errorf("signal = %+v", s)
		}
		if s.Component != "checkout" || s.Dependency != "payments" || s.Tier != firebreak.Core {
			t.Errorf("identity = %q %q %v", s.Component, s.Dependency, s.Tier)
		}
		if s.Value <= 14.4 || s.Value > 17 {
			t.Errorf("Value (1h burn rate) = %v, want just over 14.4", s.Value)
		}
		if b := s.Metrics["burn_rate_5m"]; b < 100 {
			t.Errorf("burn_rate_5m = %v, want > 100", b)
		}
		for _, k := range []string{"burn_rate_1h", "error_ratio", "error_ratio_5m", "p99_seconds", "requests"} {
			if _, ok := s.Metrics[k]; !ok {
				t.Errorf("Metrics lacks %q: %v", k, s.Metrics)
			}
		}
		if len(s.TraceIDs) == 0 || len(s.TraceIDs[0]) != 32 {
			t.Errorf("TraceIDs = %v, want hex trace IDs of failed calls", s.TraceIDs)
		}
		if !strings.Contains(s.Summary, "99.9%") {
			t.Errorf("Summary = %q", s.Summary)
		}
	})
}

func TestBurnShortSpikeDoesNotFire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Page tiers only: the ticket tiers' long windows would still be
		// young here, and a young window counts only what it has seen.
		r := newSLORig(t, SLO{Availability: 0.999, Windows: WorkbookWindows()[:2]})
		r.warm(6*time.Hour, 10*time.Second, 10, never)
		r.drive(40*time.Second, time.Second, always) // 5m window far above 1.44%, 1h window not
		r.drive(time.Hour, time.Second, never)
		if sigs := r.rec.Signals(); len(sigs) != 0 {
			t.Fatalf("a 40 s spike fired %v; the long window must hold it back", firingOf(sigs))
		}
	})
}

func TestBurnRecoveryClearsAfterShortWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSLORig(t, SLO{Availability: 0.999})
		r.warm(72*time.Hour, 30*time.Second, 30, never)
		r.drive(10*time.Minute, time.Second, always)
		recovered := time.Now()
		r.warm(7*time.Hour, 10*time.Second, 10, never)

		got := firingOf(r.rec.Signals())
		// The 1h/5m tier clears when the 5m window is clean; meanwhile the
		// 10-minute outage still burns the longer windows, so each lower tier
		// takes over in turn and clears when its own short window is clean.
		want := []string{
			"error_budget_burn 1h/5m firing",
			"error_budget_burn 6h/30m firing",
			"error_budget_burn 1h/5m cleared",
			"error_budget_burn 24h/2h firing",
			"error_budget_burn 6h/30m cleared",
			"error_budget_burn 3d/6h firing",
			"error_budget_burn 24h/2h cleared",
			"error_budget_burn 3d/6h cleared",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("signals:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		sigs := r.rec.Signals()
		for i, short := range map[int]time.Duration{2: 5 * time.Minute, 4: 30 * time.Minute, 6: 2 * time.Hour, 7: 6 * time.Hour} {
			after := sigs[i].Time.Sub(recovered)
			if after < short-short/12 || after > short+short/12 {
				t.Errorf("%s %v after recovery, want about %v", got[i], after, short)
			}
		}
	})
}

func TestBurnSteadyLowErrorRatioFiresOnlySixTimesTier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSLORig(t, SLO{Availability: 0.999})
		// 0.8% errors: 8× burn, above the 6×, 3× and 1× tiers, under 14.4×.
		r.warm(72*time.Hour, 30*time.Second, 30, never)
		onset := time.Now()
		r.warm(72*time.Hour, 30*time.Second, 30, func(i int) bool { return i%125 == 124 })
		got := firingOf(r.rec.Signals())
		if len(got) != 1 || got[0] != "error_budget_burn 6h/30m firing" {
			t.Fatalf("signals = %v, want only the 6h/30m tier firing (it suppresses 24h/2h and 3d/6h)", got)
		}
		// The 6h window reaches 6 × 0.1% after 6h × 0.6/0.8 = 4.5h.
		if s := r.rec.Signals()[0]; s.Value < 6 || s.Value > 6.5 || s.Time.Sub(onset) < 4*time.Hour || s.Time.Sub(onset) > 5*time.Hour {
			t.Errorf("fired %v after onset at burn rate %v, want about 4.5h at 6", s.Time.Sub(onset), s.Value)
		}
	})
}

func TestBurnLowTrafficStaysQuiet(t *testing.T) {
	for _, tc := range []struct {
		name      string
		minReq    int
		wantQuiet bool
	}{
		{"default guard", 0, true},
		{"guard lowered to 10", 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newSLORig(t, SLO{Availability: 0.999, MinRequests: tc.minReq})
				// 10 calls an hour, one in five failing: a 200× burn rate.
				r.drive(8*time.Hour, 6*time.Minute, func(i int) bool { return i%5 == 4 })
				if got := r.rec.Len() == 0; got != tc.wantQuiet {
					t.Fatalf("quiet = %v, want %v; signals %v", got, tc.wantQuiet, firingOf(r.rec.Signals()))
				}
			})
		})
	}
}

func TestBurnLatencySLO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSLORig(t, SLO{Latency: 300 * time.Millisecond, LatencyTarget: 0.99, Windows: ScaleWindows(WorkbookWindows()[:1], 1.0/60)})
		call := func(d time.Duration) {
			_, _ = r.obs.Execute(context.Background(), func(context.Context) (int, error) {
				time.Sleep(d)
				return 1, nil
			})
		}
		for range 600 { // a minute of fast calls
			call(100 * time.Millisecond)
		}
		if r.rec.Len() != 0 {
			t.Fatalf("fast calls fired %v", firingOf(r.rec.Signals()))
		}
		for range 100 { // slow calls
			call(400 * time.Millisecond)
			if r.rec.Len() > 0 {
				break
			}
		}
		s, ok := r.rec.Last(firebreak.KindLatencySLOBurn)
		if !ok || !s.Firing || s.Labels["window"] != "1m/5s" || s.Labels["slo"] != "latency" {
			t.Fatalf("signals = %v", firingOf(r.rec.Signals()))
		}
		if s.Metrics["slow_ratio"] <= 0.01*14.4 || s.Metrics["p99_seconds"] < 0.35 {
			t.Errorf("metrics = %v", s.Metrics)
		}
		if _, ok := r.rec.Last(firebreak.KindErrorBudgetBurn); ok {
			t.Error("no availability objective, yet an error-budget signal")
		}
	})
}

func TestBurnStartClearsWithoutTraffic(t *testing.T) {
	for _, start := range []bool{false, true} {
		t.Run(map[bool]string{false: "lazy", true: "started"}[start], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newSLORig(t, SLO{Availability: 0.99, Windows: []BurnWindow{{Long: time.Minute, Short: 5 * time.Second, BurnRate: 10}}})
				if start {
					if err := r.obs.Start(); err != nil {
						t.Fatal(err)
					}
					defer r.obs.Close()
				}
				r.drive(2*time.Minute, 100*time.Millisecond, always)
				if r.rec.Len() != 1 {
					t.Fatalf("signals = %v, want one firing", firingOf(r.rec.Signals()))
				}
				time.Sleep(10 * time.Second) // no calls at all
				synctest.Wait()
				cleared := r.rec.Len() == 2 && !r.rec.Signals()[1].Firing
				if cleared != start {
					t.Fatalf("cleared = %v with Start = %v; signals %v", cleared, start, firingOf(r.rec.Signals()))
				}
			})
		})
	}
}

func TestSLOValidate(t *testing.T) {
	for _, tc := range []struct {
		slo  SLO
		want string // substring of the error; "" for valid
	}{
		{SLO{Availability: 0.999}, ""},
		{SLO{Latency: time.Second, LatencyTarget: 0.9}, ""},
		{SLO{}, "neither"},
		{SLO{Availability: 1}, "SLO.Availability"},
		{SLO{Availability: -0.5}, "SLO.Availability"},
		{SLO{Latency: time.Second}, "SLO.LatencyTarget"},
		{SLO{Availability: 0.9, LatencyTarget: 0.9}, "SLO.LatencyTarget is set"},
		{SLO{Latency: -time.Second, LatencyTarget: 0.9}, "SLO.Latency"},
		{SLO{Availability: 0.9, MinRequests: -1}, "SLO.MinRequests"},
		{SLO{Availability: 0.9, Windows: []BurnWindow{}}, "SLO.Windows is empty"},
		{SLO{Availability: 0.9, Windows: []BurnWindow{{Long: time.Minute, Short: time.Hour, BurnRate: 2}}}, "SLO.Windows[0]"},
		{SLO{Availability: 0.9, Windows: []BurnWindow{{Long: time.Hour, Short: time.Minute}}}, "SLO.Windows[0].BurnRate"},
	} {
		_, err := New[int](WithSLO(tc.slo))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: err = %v, want %q", tc.slo, err, tc.want)
		}
	}
}

func TestWindowLabel(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute: "5m", time.Hour: "1h", 72 * time.Hour: "3d", 30 * time.Second: "30s",
		1500 * time.Millisecond: "1.5s", 90 * time.Minute: "90m",
	} {
		if got := windowLabel(d); got != want {
			t.Errorf("windowLabel(%v) = %q, want %q", d, got, want)
		}
	}
	if got := (BurnWindow{Long: 24 * time.Hour, Short: 2 * time.Hour}).String(); got != "24h/2h" {
		t.Errorf("String = %q", got)
	}
	var got []string
	for _, w := range ScaleWindows(WorkbookWindows(), 1.0/360) {
		got = append(got, fmt.Sprintf("%v %g", w, w.BurnRate))
	}
	if want := "10s/833ms 14.4,1m/5s 6,4m/20s 3,12m/1m 1"; strings.Join(got, ",") != want {
		t.Errorf("ScaleWindows = %v, want %v", got, want)
	}
}
