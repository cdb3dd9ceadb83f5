package scenario

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
)

// Random errors at 10%, 20% and 30% of calls for 30 minutes after a warm
// hour: the dependency is degraded, not dead. The default breaker must not
// turn that into an outage (it rejects under 1% of calls), and the SLO pages
// at least Severe within 10 minutes (the 1h/5m tier needs about 8.6 minutes
// at 10%, less at more) — and never Fatal, since most calls still succeed.
func TestRandomErrorsAreNotAnOutage(t *testing.T) {
	for _, share := range []float64{0.10, 0.20, 0.30} {
		t.Run(fmt.Sprintf("%.0f%%", share*100), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				d := newDep()
				s := newService(w, d, serviceConfig{})
				s.drive(rate, warm, nil)
				s.reset()
				onset := time.Now()
				d.set(share, false)
				s.drive(rate, 30*time.Minute, nil)
				if r := float64(s.rejected.Load()) / float64(s.calls.Load()); r >= 0.01 {
					t.Errorf("the breaker rejected %.2f%% of calls, want under 1%%", r*100)
				}
				at, ok := w.rec.firstAt(firebreak.Severe)
				if !ok || at.Sub(onset) > 10*time.Minute {
					t.Errorf("Severe not announced within 10m (ok=%v, after %v); worst %s", ok, at.Sub(onset), w.rec.maxSeverity())
				}
				if worst := w.rec.maxSeverity(); worst >= firebreak.Fatal {
					t.Errorf("graded %s for a %.0f%% error rate", worst, share*100)
				}
				t.Logf("Severe after %v; breaker rejected %d of %d", at.Sub(onset), s.rejected.Load(), s.calls.Load())
			})
		})
	}
}

// The dependency answers nothing; callers give up after 1 s (a deadline),
// 250 ms, or by cancelling at 1 s. The breaker must see a hung dependency
// and open within 30 s, whoever cancels.
func TestHungDependencyOpensTheBreaker(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    caller
	}{
		{"deadline 1s", withDeadline(time.Second)},
		{"deadline 250ms", withDeadline(250 * time.Millisecond)},
		{"cancel at 1s", cancelAfter(time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				d := newDep()
				s := newService(w, d, serviceConfig{})
				s.drive(rate/10, warm/6, nil)
				onset := time.Now()
				d.set(0, true)
				opened, stop := watch(func() bool { return s.cb.State() == breaker.StateOpen })
				s.drive(rate/10, time.Minute, tc.c)
				stop()
				at := opened()
				if at.IsZero() || at.Sub(onset) > 30*time.Second {
					t.Fatalf("breaker open at %v after onset, want within 30s", at.Sub(onset))
				}
				t.Logf("breaker opened %v after onset", at.Sub(onset))
			})
		})
	}
}

// A healthy dependency whose callers often give up early (users closing the
// page) must never trip the breaker.
func TestImpatientCallersDoNotTripTheBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		d.latency = 20 * time.Millisecond
		s := newService(w, d, serviceConfig{})
		opened, stop := watch(func() bool { return s.cb.State() != breaker.StateClosed })
		// Every third caller gives up after 10 ms, before the answer.
		var n atomic.Int64
		impatient := func() (context.Context, context.CancelFunc) {
			if n.Add(1)%3 == 0 {
				return withDeadline(10 * time.Millisecond)()
			}
			return context.WithCancel(context.Background())
		}
		s.drive(rate/10, 30*time.Minute, impatient)
		stop()
		if at := opened(); !at.IsZero() {
			t.Fatalf("breaker left closed at %v", w.since(at))
		}
		if n := len(pages(w.rec.all())); n != 0 {
			t.Fatalf("%d pages for a healthy dependency", n)
		}
	})
}
