package tracing

import (
	"context"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// Guard: a service healthy for an hour, idle for three days (no calls, no
// Start), then hit by a total outage pages as fast as a fresh process does:
// the idle gap is not averaged into the burn rate. Recovery then clears the
// alert, and no signal carries a NaN or infinite metric.
func TestReviewIdleDaysThenOutagePagesAndClears(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSLORig(t, SLO{Availability: 0.999})
		r.warm(time.Hour, 100*time.Millisecond, 100, never) // 1000 calls/s
		time.Sleep(72 * time.Hour)
		start := time.Now()
		firing := func() bool {
			for _, s := range r.rec.Of(firebreak.KindErrorBudgetBurn) {
				if s.Firing {
					return true
				}
			}
			return false
		}
		if !r.until(5*time.Minute, 10*time.Millisecond, always, firing) {
			t.Fatalf("no page within 5 minutes of a total outage after 3 idle days: %v", firingOf(r.rec.Signals()))
		}
		if d := time.Since(start); d > 2*time.Minute {
			t.Errorf("paged %v after the outage began, want under 2m", d)
		}
		cleared := func() bool {
			sigs := r.rec.Of(firebreak.KindErrorBudgetBurn)
			return len(sigs) > 0 && !sigs[len(sigs)-1].Firing
		}
		if !r.until(2*time.Hour, 10*time.Millisecond, never, cleared) {
			t.Errorf("the alert did not clear within 2h of recovery: %v", firingOf(r.rec.Signals()))
		}
		for _, s := range r.rec.Signals() {
			for k, v := range s.Metrics {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("signal %q metric %s = %v", s.Summary, k, v)
				}
			}
		}
	})
}

// Guard: an SLO signal cleared by Start's evaluation with no call in its
// windows any more carries finite metrics (0 calls, 0 budget spent).
func TestReviewClearedWithoutCallsHasFiniteMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSLORig(t, SLO{Availability: 0.99, Latency: 100 * time.Millisecond, LatencyTarget: 0.95,
			Windows: []BurnWindow{{Long: time.Minute, Short: 5 * time.Second, BurnRate: 10}}, MinRequests: 10})
		if err := r.obs.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := r.obs.Start(context.Background()); err != nil {
			t.Errorf("second Start: %v", err)
		}
		defer func() { _ = r.obs.Close(context.Background()) }()
		r.drive(30*time.Second, 10*time.Millisecond, always)
		time.Sleep(10 * time.Minute)
		sigs := r.rec.Of(firebreak.KindErrorBudgetBurn)
		if len(sigs) < 2 || !sigs[0].Firing || sigs[len(sigs)-1].Firing {
			t.Fatalf("signals %v, want firing then cleared", firingOf(sigs))
		}
		for _, s := range r.rec.Signals() {
			for k, v := range s.Metrics {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("signal %q metric %s = %v", s.Summary, k, v)
				}
			}
		}
		if err := r.obs.Close(context.Background()); err != nil {
			t.Error(err)
		}
		if err := r.obs.Start(context.Background()); err == nil {
			t.Error("Start after Close succeeded")
		}
	})
}

// A 90% objective with the workbook's tiers was accepted, but its budget of
// 10% burns at most 10×: the 14.4× page tier could never fire, and a
// dependency that turned entirely slow paged 3h36m later, on the 6h/30m tier.
// Such a tier is an error naming the objective and the tier; tiers the
// objective can reach are fine, and page when the budget says (a 2× tier
// over 1h with a 10% budget: 12 minutes of every call slow).
func TestReviewUnreachableBurnTierIsAnError(t *testing.T) {
	for _, tc := range []struct {
		slo   SLO
		field string
	}{
		{SLO{Latency: 300 * time.Millisecond, LatencyTarget: 0.9}, "SLO.LatencyTarget 0.9"},
		{SLO{Availability: 0.9}, "SLO.Availability 0.9"},
		{SLO{Availability: 0.99, Windows: []BurnWindow{{Long: time.Hour, Short: 5 * time.Minute, BurnRate: 100}}}, "SLO.Windows[0]"},
	} {
		_, err := New[int](WithSLO(tc.slo))
		if err == nil || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), "can never fire") {
			t.Errorf("%+v: err = %v, want one naming %s", tc.slo, err, tc.field)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		slo := SLO{Latency: 300 * time.Millisecond, LatencyTarget: 0.9, Windows: []BurnWindow{
			{Long: time.Hour, Short: 5 * time.Minute, BurnRate: 2},
			{Long: 6 * time.Hour, Short: 30 * time.Minute, BurnRate: 1},
		}}
		r := newSLORig(t, slo)
		r.warm(6*time.Hour, time.Second, 10, never)
		st := r.obs.Stats()
		start := time.Now()
		for time.Since(start) < time.Hour && len(r.rec.Of(firebreak.KindLatencySLOBurn)) == 0 {
			for range 10 {
				st.Record(time.Second, false) // every call slow
			}
			time.Sleep(time.Second)
		}
		sigs := r.rec.Of(firebreak.KindLatencySLOBurn)
		if len(sigs) == 0 || !sigs[0].Firing {
			t.Fatalf("no latency page within an hour of a dependency turning slow")
		}
		// 1h × 2 × 10% = 12m of every call slow, evaluated every 5s.
		if d := time.Since(start); d < 12*time.Minute || d > 12*time.Minute+10*time.Second {
			t.Errorf("a fully slow dependency paged after %v, want 12m", d)
		}
	})
}
