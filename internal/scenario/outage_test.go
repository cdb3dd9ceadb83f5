package scenario

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// A core dependency goes 100% down after a warm hour and there is no
// fallback: the plan calls that Fatal (level 1), and ops must hear of it
// within 2 minutes of onset.
func TestCoreOutageNoFallbackIsFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newService(w, d, serviceConfig{})
		s.drive(rate, warm, nil)
		if n := len(w.rec.all()); n != 0 {
			t.Fatalf("healthy warm period notified %d times", n)
		}
		onset := time.Now()
		d.set(1, false)
		s.drive(rate, 3*time.Minute, nil)
		w.wantTold(firebreak.Fatal, onset, 2*time.Minute)
	})
}

// The same outage with a fallback serving: users see a degraded service,
// ops hear of it within 2 minutes, and it is never Fatal.
func TestCoreOutageWithFallbackIsNotFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newService(w, d, serviceConfig{fallback: true})
		s.drive(rate, warm, nil)
		onset := time.Now()
		d.set(1, false)
		s.drive(rate, 15*time.Minute, nil)
		at, ok := w.rec.firstAt(firebreak.General)
		if !ok {
			t.Fatal("never announced")
		}
		if got := at.Sub(onset); got > 2*time.Minute {
			t.Fatalf("announced %v after onset, want within 2m", got)
		}
		if worst := w.rec.maxSeverity(); worst >= firebreak.Fatal {
			t.Fatalf("graded %s although a fallback serves", worst)
		}
		if s.fellBack.Load() == 0 {
			t.Fatal("the fallback never served")
		}
		t.Logf("announced %v after onset; worst %s", at.Sub(onset), w.rec.maxSeverity())
	})
}

// Without a breaker the SLO alone must say the same: a core dependency fully
// down is Fatal within 2 minutes (the 1h/5m tier fires after about 52 s and
// its fast error ratio is 1).
func TestCoreOutageSLOAloneIsFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newService(w, d, serviceConfig{noBreaker: true})
		s.drive(rate, warm, nil)
		onset := time.Now()
		d.set(1, false)
		s.drive(rate, 3*time.Minute, nil)
		w.wantTold(firebreak.Fatal, onset, 2*time.Minute)
	})
}

// A standard-tier dependency fully down is Severe (level 2), not Fatal.
func TestStandardTierOutageIsSevere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newService(w, d, serviceConfig{standard: true})
		s.drive(rate, warm, nil)
		onset := time.Now()
		d.set(1, false)
		s.drive(rate, 5*time.Minute, nil)
		at, ok := w.rec.firstAt(firebreak.Severe)
		if !ok || at.Sub(onset) > 2*time.Minute {
			t.Fatalf("Severe not announced within 2m (ok=%v, after %v)", ok, at.Sub(onset))
		}
		if worst := w.rec.maxSeverity(); worst != firebreak.Severe {
			t.Fatalf("worst %s, want severe", worst)
		}
		t.Logf("Severe announced %v after onset", at.Sub(onset))
	})
}
