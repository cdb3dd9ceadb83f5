package tracing

import (
	"context"
	"math"
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
		r := newSLORig(t, SLO{Availability: 0.99, Latency: 100 * time.Millisecond, LatencyTarget: 0.9,
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
