package tracing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
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
	opts = append([]Option{WithTracerProvider(tp), WithSLO(slo)}, opts...)
	obs, err := newBound[int](firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core, Reporter: reporter}, opts...)
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

// firingOf names each signal by kind, firing tier (its burn-rate threshold)
// and state, e.g. "error_budget_burn 14.4x firing".
func firingOf(sigs []firebreak.Signal) (out []string) {
	for _, s := range sigs {
		state := "cleared"
		if s.Firing {
			state = "firing"
		}
		out = append(out, fmt.Sprintf("%s %gx %s", s.Kind, s.Metrics["burn_rate_threshold"], state))
	}
	return out
}

// load plays traffic at rate calls per second for d, in steps of 100ms;
// call i fails with err(i) (nil for success). The first call of each step
// runs through Observer.Execute (span, trace ID, error classification); the
// rest of the step's calls are added to the statistics' current slot in one
// go by addCalls, so that hours at 1000 calls/s run in well under a second.
func (r *sloRig) load(d time.Duration, rate int, err func(i int) error) {
	r.t.Helper()
	const step = 100 * time.Millisecond
	per := rate * int(step) / int(time.Second)
	st := r.obs.Stats()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(step) {
		var good, bad, rejected uint64
		for k := range per {
			e := err(r.i)
			r.i++
			switch {
			case k == 0:
				_, _ = r.obs.Execute(context.Background(), func(context.Context) (int, error) { return 1, e })
			case e == nil:
				good++
			case excluded(e):
				rejected++
			default:
				bad++
			}
		}
		st.addCalls(time.Millisecond, good, bad, rejected)
	}
}

// addCalls records good successful, bad failed and rejected rejected calls of
// duration d at once, as that many Record and RecordRejected calls would.
func (s *Stats) addCalls(d time.Duration, good, bad, rejected uint64) {
	now := s.offset()
	if now >= s.next.Load() {
		s.tick(now)
	}
	sl := s.stripe()
	sl.hist[bucketOf(d)].Add(uint32(good + bad))
	sl.errors.Add(bad)
	sl.rejected.Add(rejected)
	if s.slow > 0 && d > s.slow {
		sl.slow.Add(good + bad)
	}
}

// ratioErr fails a fraction p of the calls, evenly spread.
func ratioErr(p float64) func(i int) error {
	return func(i int) error {
		if math.Floor(float64(i+1)*p) > math.Floor(float64(i)*p) {
			return errBoom
		}
		return nil
	}
}

func ok(int) error { return nil }

// identity is what makes signals one alert: kind, component, dependency and
// labels.
func identity(s firebreak.Signal) string {
	return fmt.Sprintf("%s/%s/%s/%s", s.Kind, s.Component, s.Dependency, firebreak.Fingerprint(s.Labels))
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
		if s.Kind != firebreak.KindErrorBudgetBurn || !s.Firing || len(s.Labels) != 1 || s.Labels["slo"] != "availability" {
			t.Errorf("signal = %+v, want labels {slo: availability} only", s)
		}
		if s.Metrics["tier"] != 0 || s.Metrics["burn_rate_threshold"] != 14.4 || !strings.Contains(s.Summary, "1h/5m") {
			t.Errorf("tier = %v, threshold %v, summary %q; want the 1h/5m tier", s.Metrics["tier"], s.Metrics["burn_rate_threshold"], s.Summary)
		}
		if now := s.Metrics["error_ratio_now"]; now < 0.5 {
			t.Errorf("error_ratio_now = %v, want >= 0.5 after 52 s of the last minute failed", now)
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
		for _, k := range []string{"burn_rate_1h", "error_ratio", "error_ratio_5m", "error_ratio_short", "error_ratio_now", "p99_seconds", "requests", "rejected"} {
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
		// Page tiers only, so that the test is about the 1h window holding
		// the 5m window back.
		r := newSLORig(t, SLO{Availability: 0.999, Windows: WorkbookWindows()[:2]})
		r.warm(6*time.Hour, 10*time.Second, 10, never)
		r.drive(40*time.Second, time.Second, always) // 5m window far above 1.44%, 1h window not
		r.drive(time.Hour, time.Second, never)
		if sigs := r.rec.Signals(); len(sigs) != 0 {
			t.Fatalf("a 40 s spike fired %v; the long window must hold it back", firingOf(sigs))
		}
	})
}

// The review's scenario: an hour of healthy traffic at 1000 calls/s, then a
// 10-minute total outage, then recovery. It is one alert from the first
// report to the clear: the page tier fires within a minute, is re-reported as
// the burn deepens, hands over to the lower tiers after recovery without
// clearing, and clears when no tier fires.
func TestBurnTenMinuteOutageIsOneAlert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSLORig(t, SLO{Availability: 0.999})
		r.load(time.Hour, 1000, ok)
		if n := r.rec.Len(); n != 0 {
			t.Fatalf("healthy hour reported %v", firingOf(r.rec.Signals()))
		}
		onset := time.Now()
		r.load(10*time.Minute, 1000, func(int) error { return errBoom })
		recovered := time.Now()
		r.load(7*time.Hour, 1000, ok)

		sigs := r.rec.Signals()
		for _, s := range sigs {
			t.Logf("%9v %v", s.Time.Sub(onset), s.Summary)
		}
		if len(sigs) < 2 {
			t.Fatalf("signals = %v", firingOf(sigs))
		}
		// One episode of one alert: same identity, firing until one clear.
		for i, s := range sigs {
			if identity(s) != identity(sigs[0]) {
				t.Errorf("signal %d is another alert: %s, want %s", i, identity(s), identity(sigs[0]))
			}
			if s.Firing != (i < len(sigs)-1) {
				t.Errorf("signal %d firing = %v; want firing reports then one clear: %v", i, s.Firing, firingOf(sigs))
			}
		}
		first := sigs[0]
		if after := first.Time.Sub(onset); after > time.Minute || first.Metrics["tier"] != 0 {
			t.Errorf("first report %v after the onset at tier %v, want the 1h/5m tier within 60s", after, first.Metrics["tier"])
		}
		if now := first.Metrics["error_ratio_now"]; now < 0.5 {
			t.Errorf("first report error_ratio_now = %v, want >= 0.5", now)
		}
		// Re-reports: the tier only moves down the list (1h/5m, 6h/30m,
		// 24h/2h, 3d/6h) and, within a tier, only a value entering a higher
		// band reports again, so each re-report at a tier is worse — or
		// error_ratio_now fell to under half of what was reported, so that
		// a grade read on it drops once the outage is over.
		firing := sigs[:len(sigs)-1]
		for i := 1; i < len(firing); i++ {
			a, b := firing[i-1], firing[i]
			switch {
			case b.Metrics["tier"] < a.Metrics["tier"]:
				t.Errorf("tier went back from %v to %v", a.Metrics["tier"], b.Metrics["tier"])
			case b.Metrics["tier"] == a.Metrics["tier"] && b.Value <= a.Value && b.Metrics["error_ratio_now"] <= a.Metrics["error_ratio_now"] &&
				!(b.Metrics["error_ratio_now"] < a.Metrics["error_ratio_now"]/2):
				t.Errorf("re-report %d at the same tier with nothing worse: %v then %v", i, a.Summary, b.Summary)
			}
		}
		// Once calls succeed again, a report says so within about a minute
		// (the fast window), so the plan's Fatal grade drops then.
		var fellAt time.Duration
		for _, s := range firing {
			if s.Time.After(recovered) && s.Metrics["error_ratio_now"] < 0.5 {
				fellAt = s.Time.Sub(recovered)
				break
			}
		}
		if fellAt == 0 || fellAt > 90*time.Second {
			t.Errorf("error_ratio_now reported under 0.5 %v after recovery, want within 90s", fellAt)
		}
		if bound := 1 + 3 + 2*len(ratioBands) + 14; len(firing) > bound {
			t.Errorf("%d firing reports, more than the %d the bands allow", len(firing), bound)
		}
		// The page tiers give way when the 6h/30m tier's 30m short window
		// is clean again; the ticket tiers, which the default plan grades
		// None, fire until the 3d/6h tier's 6h short window is clean.
		for _, s := range firing {
			if s.Time.After(recovered.Add(32*time.Minute)) && s.Metrics["tier"] < 2 {
				t.Errorf("a page tier still fires %v after recovery: %s", s.Time.Sub(recovered), s.Summary)
			}
		}
		var ticket time.Time
		for _, s := range firing {
			if s.Metrics["tier"] == 2 {
				ticket = s.Time
				break
			}
		}
		if after := ticket.Sub(recovered); after < 28*time.Minute || after > 32*time.Minute {
			t.Errorf("the 24h/2h ticket tier took over %v after recovery, want about 30m", after)
		}
		last := sigs[len(sigs)-1]
		if after := last.Time.Sub(recovered); after < 5*time.Hour+30*time.Minute || after > 6*time.Hour+30*time.Minute {
			t.Errorf("cleared %v after recovery, want about 6h (the 3d/6h tier's short window)", after)
		}
		// 600 s × 1000 calls of 30 days × 1000 calls/s × 0.1% budget: the
		// outage spent 23% of the month's budget, 2.3× over 3 days.
		if v := last.Value; v < 2.2 || v > 2.4 {
			t.Errorf("last 3d burn rate = %v, want about 2.3", v)
		}
	})
}

// A restart must not page on a blip: 10 s of 2% errors right after start,
// then healthy traffic. Over an hour that blip is 200 bad calls of 3.6M, a
// burn rate of 0.056; the warm-up rule says so instead of reading 2% over
// the 10 s seen. The ticket tiers see it smaller still (0.0023× over 24h,
// 0.028× over 2h), so nothing fires at all.
func TestBurnWarmupBlipAfterRestartDoesNotFire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSLORig(t, SLO{Availability: 0.999})
		r.load(10*time.Second, 1000, ratioErr(0.02))
		if snap := r.obs.Snapshot(); snap.Errors < 150 {
			t.Fatalf("blip not recorded: %+v", snap)
		}
		r.load(30*time.Minute, 1000, ok)
		if sigs := r.rec.Signals(); len(sigs) != 0 {
			t.Fatalf("a 10 s blip after start reported %v", firingOf(sigs))
		}
	})
}

// A fresh process facing a total outage from its first call still pages
// within a minute, at the 1h/5m tier, reading the outage as 100% failing now.
func TestBurnFreshProcessTotalOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSLORig(t, SLO{Availability: 0.999})
		r.load(time.Minute, 1000, func(int) error { return errBoom })
		s, ok := r.rec.Last(firebreak.KindErrorBudgetBurn)
		if !ok || !s.Firing {
			t.Fatalf("a minute of total outage from start: signals %v", firingOf(r.rec.Signals()))
		}
		first := r.rec.Signals()[0]
		if first.Metrics["tier"] != 0 || first.Metrics["error_ratio_now"] < 0.5 {
			t.Errorf("first report: tier %v, error_ratio_now %v; want 0 and >= 0.5", first.Metrics["tier"], first.Metrics["error_ratio_now"])
		}
		// 1h × 14.4 × 0.1% = 51.84 s of failures, evaluated every 5 s.
		if o := first.Metrics["observed_ratio"]; o < 51.0/3600 || o > 60.0/3600 {
			t.Errorf("observed_ratio = %v, want the first 52-60 s of the hour", o)
		}
	})
}

// After a warm hour, 10% errors page at the 1h/5m tier after 0.1% × 14.4 ×
// 1h / 10% = 8.6 minutes, and the core-is-down ratio never reads >= 0.5.
func TestBurnTenPercentErrorsAfterWarmHour(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSLORig(t, SLO{Availability: 0.999})
		r.load(time.Hour, 1000, ok)
		onset := time.Now()
		r.load(20*time.Minute, 1000, ratioErr(0.1))
		sigs := r.rec.Signals()
		if len(sigs) == 0 {
			t.Fatal("20 minutes of 10% errors did not fire")
		}
		if after := sigs[0].Time.Sub(onset); after < 8*time.Minute || after > 9*time.Minute || sigs[0].Metrics["tier"] != 0 {
			t.Errorf("fired %v after the onset at tier %v, want the 1h/5m tier at about 8.6m", after, sigs[0].Metrics["tier"])
		}
		for _, s := range sigs {
			if !s.Firing || identity(s) != identity(sigs[0]) {
				t.Errorf("signal %v: want one firing alert", firingOf([]firebreak.Signal{s}))
			}
			if now := s.Metrics["error_ratio_now"]; now >= 0.5 || now < 0.09 {
				t.Errorf("error_ratio_now = %v, want about 0.1", now)
			}
		}
	})
}

type rejectErr firebreak.Rejection

func (e rejectErr) Error() string                  { return "rejected: " + firebreak.Rejection(e).String() }
func (e rejectErr) Rejection() firebreak.Rejection { return firebreak.Rejection(e) }

// A healthy dependency behind a shedder that rejects 99% of the calls
// locally: the shedder protects the service, the dependency is fine, and its
// error budget is untouched. Calls refused because the dependency is
// isolated (an open breaker) are another matter: users see it down.
func TestBurnLocalRejections(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rejection firebreak.Rejection
		wantFire  bool
	}{
		{"overload", firebreak.RejectOverload, false},
		{"disabled", firebreak.RejectDisabled, false},
		{"isolated", firebreak.RejectIsolated, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newSLORig(t, SLO{Availability: 0.999})
				r.load(time.Hour, 1000, ok)
				shed := fmt.Errorf("checkout: %w", rejectErr(tc.rejection))
				// Every call but one in a hundred is refused; the first
				// call of each 100 ms step, which goes through Execute, is
				// refused too.
				r.load(10*time.Minute, 1000, func(i int) error {
					if i%100 != 1 {
						return shed
					}
					return nil
				})
				_, fired := r.rec.Last(firebreak.KindErrorBudgetBurn)
				if fired != tc.wantFire {
					t.Fatalf("fired = %v, want %v: %v", fired, tc.wantFire, firingOf(r.rec.Signals()))
				}
				snap := r.obs.Snapshot()
				if tc.wantFire {
					if snap.Rejected != 0 || snap.ErrorRatio < 0.9 {
						t.Errorf("isolated: snapshot %+v, want failures", snap)
					}
					return
				}
				// The last minute: 60 000 calls, 59 400 refused.
				if snap.Errors != 0 || snap.Rejected < 59000 || snap.Requests > 1000 || snap.Requests < 500 {
					t.Errorf("snapshot %+v, want the refusals counted apart", snap)
				}
			})
		})
	}
}

// An observer inside a fallback stage reports its burns with Fallback set,
// so the plan grades them lower.
func TestBurnInsideFallbackStage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &firebreak.Recorder{}
		obs, err := New[int](WithSLO(SLO{Availability: 0.99, Windows: ScaleWindows(WorkbookWindows()[:1], 1.0/60)}))
		if err != nil {
			t.Fatal(err)
		}
		comp := firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core, Reporter: rec}
		pipe, err := firebreak.NewPipeline(comp, []firebreak.Policy[int]{fallbackStub{}, obs}, firebreak.InGivenOrder())
		if err != nil {
			t.Fatal(err)
		}
		for range 3000 {
			_, _ = pipe.Execute(context.Background(), func(context.Context) (int, error) { return 0, errBoom })
			time.Sleep(10 * time.Millisecond)
		}
		s, ok := rec.Last(firebreak.KindErrorBudgetBurn)
		if !ok || !s.Firing || !s.Fallback {
			t.Fatalf("last signal %+v, want firing with Fallback", s)
		}
	})
}

// fallbackStub is a fallback-stage policy that serves 0 when the call fails.
type fallbackStub struct{}

func (fallbackStub) Stage() firebreak.Stage { return firebreak.StageFallback }
func (fallbackStub) Apply(ctx context.Context, next firebreak.Next[int]) (int, error) {
	if v, err := next.Call(ctx); err == nil {
		return v, nil
	}
	return 0, nil
}

func TestBurnSteadyLowErrorRatioFiresOnlySixTimesTier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSLORig(t, SLO{Availability: 0.999})
		// 0.8% errors: 8× burn, above the 6×, 3× and 1× tiers, under 14.4×.
		r.warm(72*time.Hour, 30*time.Second, 30, never)
		onset := time.Now()
		r.warm(72*time.Hour, 30*time.Second, 30, func(i int) bool { return i%125 == 124 })
		got := firingOf(r.rec.Signals())
		if len(got) != 1 || got[0] != "error_budget_burn 6x firing" {
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
		if !ok || !s.Firing || s.Metrics["burn_rate_threshold"] != 14.4 || s.Labels["slo"] != "latency" || s.Labels["window"] != "" {
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
					if err := r.obs.Start(t.Context()); err != nil {
						t.Fatal(err)
					}
					defer r.obs.Close(context.Background())
				}
				r.drive(2*time.Minute, 100*time.Millisecond, always)
				if s, ok := r.rec.Last(firebreak.KindErrorBudgetBurn); !ok || !s.Firing {
					t.Fatalf("signals = %v, want firing", firingOf(r.rec.Signals()))
				}
				n := r.rec.Len()
				time.Sleep(10 * time.Second) // no calls at all
				synctest.Wait()
				cleared := r.rec.Len() == n+1 && !r.rec.Signals()[n].Firing
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
		{SLO{Latency: time.Second, LatencyTarget: 0.99}, ""},
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

// The detection table of the package doc: after a warm hour at 1000 calls/s,
// a steady error ratio first fires the tier after the time the windows
// need (1h × 14.4 × 0.1% / ratio for the 1h/5m tier), with error_ratio_now
// reading the ratio.
func TestBurnDetectionTable(t *testing.T) {
	for _, tc := range []struct {
		ratio    float64
		min, max time.Duration
	}{
		{1, 50 * time.Second, 60 * time.Second},
		{0.5, 100 * time.Second, 110 * time.Second},
		{0.1, 515 * time.Second, 525 * time.Second},
		{0.02, 43 * time.Minute, 44 * time.Minute},
	} {
		t.Run(fmt.Sprint(tc.ratio), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newSLORig(t, SLO{Availability: 0.999})
				r.load(time.Hour, 1000, ok)
				onset := time.Now()
				for r.rec.Len() == 0 && time.Since(onset) < 2*time.Hour {
					r.load(5*time.Second, 1000, ratioErr(tc.ratio))
				}
				if r.rec.Len() == 0 {
					t.Fatal("did not fire")
				}
				s := r.rec.Signals()[0]
				after := s.Time.Sub(onset)
				t.Logf("%v errors: tier %v after %v, error_ratio_now %.3f", tc.ratio, s.Metrics["tier"], after, s.Metrics["error_ratio_now"])
				if after < tc.min || after > tc.max || s.Metrics["tier"] != 0 {
					t.Errorf("tier %v fired after %v, want the 1h/5m tier between %v and %v", s.Metrics["tier"], after, tc.min, tc.max)
				}
				if now := s.Metrics["error_ratio_now"]; math.Abs(now-tc.ratio) > 0.1*tc.ratio {
					t.Errorf("error_ratio_now = %v, want about %v", now, tc.ratio)
				}
			})
		})
	}
}

// Callers who give up early — a short call cancelled, or a deadline of a few
// milliseconds — say nothing about the dependency: those calls are counted
// apart (Snapshot.GaveUp) and never burn the budget. A call that ran out a
// real deadline, or ran past the hang threshold, is a failure.
func TestCallersGivingUpEarlyDoNotBurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &firebreak.Recorder{}
		obs, err := newBound[int](firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core, Reporter: rec}, WithSLO(SLO{Availability: 0.999}))
		if err != nil {
			t.Fatal(err)
		}
		// The dependency answers in 20 ms; every other caller gives up
		// after 5 ms (a deadline) or cancels at 5 ms.
		dep := func(ctx context.Context) (int, error) {
			select {
			case <-time.After(20 * time.Millisecond):
				return 1, nil
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		var wg sync.WaitGroup
		for i := range 60_000 { // 100 calls a second for 10 minutes
			wg.Go(func() {
				ctx, cancel := context.WithCancel(context.Background())
				switch i % 4 {
				case 1:
					ctx, cancel = context.WithTimeout(context.Background(), 5*time.Millisecond)
				case 3:
					time.AfterFunc(5*time.Millisecond, cancel)
				}
				defer cancel()
				_, _ = obs.Execute(ctx, dep)
			})
			time.Sleep(10 * time.Millisecond)
		}
		wg.Wait()
		if _, fired := rec.Last(firebreak.KindErrorBudgetBurn); fired {
			t.Fatalf("impatient callers burned the budget: %v", firingOf(rec.Signals()))
		}
		snap := obs.Snapshot()
		if snap.Errors != 0 || snap.GaveUp < 2500 || snap.Requests < 2500 {
			t.Fatalf("snapshot %+v, want the early give-ups counted apart", snap)
		}

		// The dependency hangs; callers give up at their 1 s deadline:
		// those are failures.
		hung := func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() }
		for range 200 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				_, _ = obs.Execute(ctx, hung)
			})
			time.Sleep(10 * time.Millisecond)
		}
		wg.Wait()
		if snap := obs.Snapshot(); snap.Errors < 200 {
			t.Fatalf("hung calls: snapshot %+v, want 200 failures", snap)
		}
	})
}

// A Reporter that panics neither kills the evaluation goroutine nor fails
// the calls: the panic is counted, and the detector keeps reporting.
func TestReporterPanicIsRecovered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		boom := firebreak.ReporterFunc(func(firebreak.Signal) { calls.Add(1); panic("reporter bug") })
		obs, err := newBound[int](firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core, Reporter: boom}, WithSLO(SLO{Availability: 0.999, Windows: ScaleWindows(WorkbookWindows()[:1], 1.0/60)}))
		if err != nil {
			t.Fatal(err)
		}
		if err := obs.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer obs.Close(context.Background())
		fail := func(context.Context) (int, error) { return 0, errBoom }
		for range 2000 { // 20 s of a total outage, then 40 s of health
			_, _ = obs.Execute(context.Background(), fail)
			time.Sleep(10 * time.Millisecond)
		}
		for range 4000 {
			_, _ = obs.Execute(context.Background(), func(context.Context) (int, error) { return 1, nil })
			time.Sleep(10 * time.Millisecond)
		}
		if n := obs.Stats().ReporterPanics(); n < 2 || uint64(calls.Load()) != n {
			t.Fatalf("%d panics recovered of %d reports; want every report, firing and clearing", n, calls.Load())
		}
	})
}
