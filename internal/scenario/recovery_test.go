package scenario

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// A fresh process (just deployed) sees 10 s of 2% errors, then healthy
// traffic. Over a real hour that blip is a burn of 0.06×: nobody may be
// paged at General or above in the next 30 minutes.
func TestFreshProcessBlipIsQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newService(w, d, serviceConfig{})
		d.set(0.02, false)
		s.drive(rate, 10*time.Second, nil)
		d.set(0, false)
		s.drive(rate, 30*time.Minute, nil)
		if ps := pages(w.rec.all()); len(ps) != 0 {
			t.Fatalf("a start-up blip paged: %s %s at %v", ps[0].Event, ps[0].Incident.Severity, w.since(ps[0].At))
		}
	})
}

// A fresh process whose core dependency is down from the start: Fatal
// within 2 minutes, warm-up or not.
func TestFreshProcessOutageIsFatal(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  serviceConfig
	}{{"with breaker", serviceConfig{}}, {"SLO alone", serviceConfig{noBreaker: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				d := newDep()
				s := newService(w, d, tc.cfg)
				d.set(1, false)
				s.drive(rate, 3*time.Minute, nil)
				at, ok := w.rec.firstAt(firebreak.Fatal)
				if !ok || w.since(at) > 2*time.Minute {
					t.Fatalf("Fatal not announced within 2m (ok=%v, at %v); worst %s", ok, w.since(at), w.rec.maxSeverity())
				}
				t.Logf("Fatal at %v", w.since(at))
			})
		})
	}
}

// A 10-minute core outage after a warm hour; the on-duty team acknowledges
// 4 minutes after the page. Once the dependency recovers nobody is paged
// again — the 6h/30m tier still firing is the same alert, ticket tiers are
// graded None — and the incident resolves within 45 minutes of recovery.
func TestShortOutageRecoversQuietly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newService(w, d, serviceConfig{})
		s.drive(rate, warm, nil)
		d.set(1, false)
		s.drive(rate, 5*time.Minute, nil)
		open := w.board.List(firebreak.Filter{OpenOnly: true})
		if len(open) != 1 {
			t.Fatalf("%d open incidents during the outage, want 1", len(open))
		}
		if err := w.board.Acknowledge(open[0].ID, "on-duty"); err != nil {
			t.Fatal(err)
		}
		s.drive(rate, 5*time.Minute, nil)
		recovery := time.Now()
		d.set(0, false)
		s.drive(rate, 50*time.Minute, nil)

		for _, n := range pages(w.rec.all()) {
			if n.At.After(recovery) {
				t.Errorf("paged after recovery: %s %s at recovery+%v", n.Event, n.Incident.Severity, n.At.Sub(recovery))
			}
		}
		inc, err := w.board.Get(open[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if inc.State != firebreak.Resolved {
			t.Fatalf("incident %s 50 min after recovery, want resolved", inc.State)
		}
		if got := inc.ResolvedAt.Sub(recovery); got > 45*time.Minute {
			t.Fatalf("resolved %v after recovery, want within 45m", got)
		}
		if inc.MaxSeverity != firebreak.Fatal {
			t.Errorf("max severity %s, want fatal", inc.MaxSeverity)
		}
		if n := len(w.board.List(firebreak.Filter{})); n != 1 {
			t.Errorf("%d incidents, want the one", n)
		}
		t.Logf("resolved %v after recovery", inc.ResolvedAt.Sub(recovery))
	})
}

// A dependency that flaps — 30 s down, 90 s up — for 20 minutes is one
// incident, announced once, not a stream of pages.
func TestFlappingDependencyIsOneIncident(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newService(w, d, serviceConfig{})
		s.drive(rate, warm, nil)
		for range 10 {
			d.set(1, false)
			s.drive(rate, 30*time.Second, nil)
			d.set(0, false)
			s.drive(rate, 90*time.Second, nil)
		}
		var detected int
		for _, n := range w.rec.all() {
			if n.Event == firebreak.EventDetected {
				detected++
			}
		}
		if detected != 1 {
			t.Errorf("announced %d times, want once", detected)
		}
		if n := len(w.board.List(firebreak.Filter{})); n != 1 {
			t.Errorf("%d incidents, want 1", n)
		}
	})
}
