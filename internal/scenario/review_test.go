package scenario

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/failover"
	"github.com/firebreak-go/firebreak/tracing"
)

// The outside review's own shapes, played before the review plays them.

// A core dependency's latency rises from 20 ms to 2 s with no error, and
// every caller gives up at 1 s: every call fails, so for users the core
// function is down. Fatal within 2 minutes, with an availability SLO alone
// or with a latency SLO as well (the latency burn must not make it less).
func TestReviewLatencyRiseWithDeadlinesIsFatal(t *testing.T) {
	for _, tc := range []struct {
		name string
		slo  tracing.SLO
	}{
		{"availability", tracing.SLO{Availability: 0.999}},
		{"availability and latency", tracing.SLO{Availability: 0.999, Latency: 300 * time.Millisecond, LatencyTarget: 0.99}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				d := newDep()
				d.latency = 20 * time.Millisecond
				s := newReviewed(w, d, svcOpts{slo: tc.slo})
				s.drive(100, 10*time.Minute, withDeadline(time.Second))
				if ps := pages(w.rec.all()); len(ps) != 0 {
					t.Fatalf("healthy traffic paged:%s", w.describe())
				}
				onset := time.Now()
				d.mu.Lock()
				d.latency = 2 * time.Second
				d.mu.Unlock()
				s.drive(100, 3*time.Minute, withDeadline(time.Second))
				n, ok := w.rec.firstSince(onset, firebreak.Fatal)
				if !ok || n.At.Sub(onset) > 2*time.Minute {
					t.Fatalf("Fatal not announced within 2m of the latency rise (ok=%v, after %v); pages:%s", ok, n.At.Sub(onset), w.describe())
				}
				t.Logf("Fatal %v after the latency rise", n.At.Sub(onset))
			})
		})
	}
}

// Latency rises from 20 ms to 800 ms, under the callers' 1 s deadline: every
// call still succeeds, but every call breaks the 300 ms latency objective.
// Part of the function is abnormal: at least Severe within 10 minutes (the
// 1h/5m tier needs 14.4% of the hour at 100% slow: 8.6 min), never Fatal.
func TestReviewLatencyRiseUnderDeadlineIsSevere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		d.latency = 20 * time.Millisecond
		s := newReviewed(w, d, svcOpts{slo: tracing.SLO{Availability: 0.999, Latency: 300 * time.Millisecond, LatencyTarget: 0.99}})
		s.drive(100, 10*time.Minute, withDeadline(time.Second))
		onset := time.Now()
		d.mu.Lock()
		d.latency = 800 * time.Millisecond
		d.mu.Unlock()
		s.drive(100, 15*time.Minute, withDeadline(time.Second))
		n, ok := w.rec.firstSince(onset, firebreak.Severe)
		if !ok || n.At.Sub(onset) > 10*time.Minute {
			t.Fatalf("Severe not announced within 10m (ok=%v, after %v); pages:%s", ok, n.At.Sub(onset), w.describe())
		}
		if worst := w.rec.maxSeverity(); worst >= firebreak.Fatal {
			t.Errorf("graded %s although every call succeeds:%s", worst, w.describe())
		}
		if st := s.cb.State(); st != breaker.StateClosed {
			t.Errorf("breaker %s for slow successes", st)
		}
		t.Logf("Severe %v after the latency rise", n.At.Sub(onset))
	})
}

// A retry policy (3 attempts, default budget) around the breaker during a
// 100% outage: the dependency sees no retry storm — at most the retry
// budget's extra before the breaker opens, and only half-open trials after —
// and the grading is what it is without retries: Fatal within 2 minutes.
func TestReviewRetryDuringOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newReviewed(w, d, svcOpts{retry: []failover.RetryOption{}})
		s.drive(100, 10*time.Minute, withDeadline(5*time.Second))
		s.reset()
		s.attempts.Store(0)
		onset := time.Now()
		d.set(1, false)
		opened, stop := watch(func() bool { return s.cb.State() != breaker.StateClosed })
		s.drive(100, 30*time.Second, withDeadline(5*time.Second))
		stop()
		before := s.attempts.Load()
		calls := s.calls.Load()
		s.drive(100, 150*time.Second, withDeadline(5*time.Second))
		after := s.attempts.Load() - before
		if at := opened(); at.IsZero() || at.Sub(onset) > 30*time.Second {
			t.Fatalf("breaker not open within 30s (at %v)", at.Sub(onset))
		}
		// The budget: 20% of calls over 10 s, with a floor of 10.
		if limit := calls*12/10 + 10*4; before > limit {
			t.Errorf("dependency saw %d attempts for %d calls in the first 30 s, want ≤ %d", before, calls, limit)
		}
		// After the breaker opened: one half-open trial a minute, a retry or
		// two of it at most.
		if after > 15 {
			t.Errorf("dependency saw %d attempts in the 150 s the breaker was open, want ≤ 15 (retry storm)", after)
		}
		n, ok := w.rec.firstSince(onset, firebreak.Fatal)
		if !ok || n.At.Sub(onset) > 2*time.Minute {
			t.Fatalf("Fatal not announced within 2m (ok=%v, after %v):%s", ok, n.At.Sub(onset), w.describe())
		}
		t.Logf("attempts %d for %d calls before open, %d while open; Fatal %v after onset", before, calls, after, n.At.Sub(onset))
	})
}

// One core component calls two dependencies and both go down at once:
// ops hear of each fault at Fatal within 2 minutes, once each.
func TestReviewTwoDependenciesDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		pay, inv := newDep(), newDep()
		a := newReviewed(w, pay, svcOpts{dep: "payments"})
		b := newReviewed(w, inv, svcOpts{dep: "inventory"})
		driveAll(rate/2, warm/2, a, b)
		onset := time.Now()
		pay.set(1, false)
		inv.set(1, false)
		driveAll(rate/2, 3*time.Minute, a, b)
		incs := w.board.List(firebreak.Filter{})
		domains := map[string]bool{}
		for _, inc := range incs {
			domains[inc.FaultDomain] = true
			if inc.Severity != firebreak.Fatal {
				t.Errorf("%s (%s) is %s, want fatal", inc.ID, inc.FaultDomain, inc.Severity)
			}
			if inc.NotifiedAt.IsZero() || inc.NotifiedAt.Sub(onset) > 2*time.Minute {
				t.Errorf("%s (%s) announced %v after onset, want within 2m", inc.ID, inc.FaultDomain, inc.NotifiedAt.Sub(onset))
			}
		}
		if !domains["payments"] || !domains["inventory"] {
			t.Errorf("fault domains %v, want payments and inventory", domains)
		}
		if n := w.rec.count(firebreak.EventDetected); n != len(incs) {
			t.Errorf("%d announcements for %d incidents:%s", n, len(incs), w.describe())
		}
	})
}

// Three components of one tier call one dependency and it goes down: one
// incident, announced once. Each core component alone is Fatal; three
// auxiliary components (each General) spread to Severe; three standard ones
// (each Severe) stay Severe — spread beyond Severe needs a core component.
func TestReviewThreeComponentsOneDependency(t *testing.T) {
	for _, tc := range []struct {
		tier firebreak.Tier
		want firebreak.Severity
	}{
		{firebreak.Core, firebreak.Fatal},
		{firebreak.Standard, firebreak.Severe},
		{firebreak.Auxiliary, firebreak.Severe},
	} {
		t.Run(tc.tier.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				d := newDep()
				var ss []*reviewed
				for _, name := range []string{"cart", "search", "orders"} {
					ss = append(ss, newReviewed(w, d, svcOpts{name: name, dep: "inventory", tier: tc.tier, tiered: true}))
				}
				driveAll(rate/3, warm/2, ss...)
				onset := time.Now()
				d.set(1, false)
				driveAll(rate/3, 3*time.Minute, ss...)
				incs := w.board.List(firebreak.Filter{})
				if len(incs) != 1 {
					t.Fatalf("%d incidents, want 1:%s", len(incs), w.describe())
				}
				inc := incs[0]
				if len(inc.Components) != 3 {
					t.Errorf("components %v, want all three", inc.Components)
				}
				if inc.Severity != tc.want {
					t.Errorf("severity %s, want %s:%s", inc.Severity, tc.want, w.describe())
				}
				if n := w.rec.count(firebreak.EventDetected); n != 1 {
					t.Errorf("announced %d times, want once", n)
				}
				n, ok := w.rec.firstSince(onset, tc.want)
				if !ok || n.At.Sub(onset) > 2*time.Minute {
					t.Errorf("%s not told within 2m (ok=%v, after %v)", tc.want, ok, n.At.Sub(onset))
				}
			})
		})
	}
}

// The process restarts five minutes into a core outage: the new process —
// new Board, new breaker, new observer — starts with its dependency down.
// It must announce Fatal within 2 minutes of starting, once, and (once
// acknowledged) resolve after the dependency recovers without paging again.
func TestReviewRestartMidOutage(t *testing.T) {
	d := newDep()
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := newReviewed(w, d, svcOpts{})
		s.drive(rate, warm/2, nil)
		d.set(1, false)
		s.drive(rate, 5*time.Minute, nil)
		if _, ok := w.rec.firstAt(firebreak.Fatal); !ok {
			t.Fatalf("the first process never said Fatal:%s", w.describe())
		}
	})
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := newReviewed(w, d, svcOpts{})
		s.drive(rate, 5*time.Minute, nil)
		at, ok := w.rec.firstAt(firebreak.Fatal)
		if !ok || w.since(at) > 2*time.Minute {
			t.Fatalf("the restarted process did not say Fatal within 2m (ok=%v, at %v):%s", ok, w.since(at), w.describe())
		}
		for _, inc := range w.board.List(firebreak.Filter{OpenOnly: true}) {
			if err := w.board.Acknowledge(inc.ID, "on-duty"); err != nil {
				t.Fatal(err)
			}
		}
		recovery := time.Now()
		d.set(0, false)
		s.drive(rate, 50*time.Minute, nil)
		if ps := w.rec.pagesSince(recovery); len(ps) != 0 {
			t.Errorf("paged after recovery:%s", w.describe())
		}
		if n := w.rec.count(firebreak.EventDetected); n != 1 {
			t.Errorf("announced %d times, want once", n)
		}
		for _, inc := range w.board.List(firebreak.Filter{}) {
			if inc.State != firebreak.Resolved {
				t.Errorf("%s %s 50 min after recovery, want resolved", inc.ID, inc.State)
			}
		}
	})
}

// Low traffic: 1, 2 and 5 calls a second on a core dependency that goes
// 100% down after a warm half hour, with the breaker and with the SLO
// alone. Fatal within 2 minutes at every rate.
func TestReviewLowTrafficOutageIsFatal(t *testing.T) {
	for _, perSecond := range []int{1, 2, 5} {
		for _, noBreaker := range []bool{false, true} {
			name := fmt.Sprintf("%d per s", perSecond)
			if noBreaker {
				name += " SLO alone"
			}
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					w := newWorld(t)
					d := newDep()
					s := newReviewed(w, d, svcOpts{noBreaker: noBreaker})
					s.driveSlow(perSecond, 30*time.Minute, nil)
					onset := time.Now()
					d.set(1, false)
					s.driveSlow(perSecond, 3*time.Minute, nil)
					n, ok := w.rec.firstSince(onset, firebreak.Fatal)
					if !ok || n.At.Sub(onset) > 2*time.Minute {
						t.Fatalf("Fatal not announced within 2m (ok=%v, after %v); worst %s:%s", ok, n.At.Sub(onset), w.rec.maxSeverity(), w.describe())
					}
					t.Logf("Fatal %v after onset", n.At.Sub(onset))
				})
			})
		}
	}
}

// Low traffic, partial failure: 30% or 40% of calls fail for an hour at 3
// calls a second. At 1000 calls/s the same shares are Severe and the breaker
// rejects nothing (TestRandomErrorsAreNotAnOutage; under 50% the ratio rule
// never trips). The grade must not depend on the traffic: Severe within 10
// minutes, never Fatal, and the breaker must not turn a degraded dependency
// into an outage.
func TestReviewLowTrafficPartialFailureIsSevere(t *testing.T) {
	for _, share := range []float64{0.30, 0.40} {
		t.Run(fmt.Sprintf("%.0f%%", share*100), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				d := newDep()
				s := newReviewed(w, d, svcOpts{})
				s.driveSlow(3, 30*time.Minute, nil)
				s.reset()
				onset := time.Now()
				d.set(share, false)
				s.driveSlow(3, time.Hour, nil)
				n, ok := w.rec.firstSince(onset, firebreak.Severe)
				if !ok || n.At.Sub(onset) > 10*time.Minute {
					t.Errorf("Severe not announced within 10m (ok=%v, after %v):%s", ok, n.At.Sub(onset), w.describe())
				}
				if worst := w.rec.maxSeverity(); worst >= firebreak.Fatal {
					t.Errorf("graded %s for a %.0f%% error rate at 3 calls/s:%s", worst, share*100, w.describe())
				}
				if r := float64(s.rejected.Load()) / float64(s.calls.Load()); r >= 0.01 {
					t.Errorf("the breaker rejected %.1f%% of calls (%d of %d)", r*100, s.rejected.Load(), s.calls.Load())
				}
				t.Logf("breaker rejected %d of %d; worst %s", s.rejected.Load(), s.calls.Load(), w.rec.maxSeverity())
			})
		})
	}
}

// A partial outage deepens: 5% of calls fail for 3 minutes, 30% for 4, then
// 100%. Severity rises with it while it lasts: Severe during the 30% phase,
// Fatal within 2 minutes of the total outage, in one incident.
func TestReviewDeepeningOutageRaisesSeverity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newReviewed(w, d, svcOpts{})
		s.drive(rate, warm, nil)
		onset := time.Now()
		d.set(0.05, false)
		s.drive(rate, 3*time.Minute, nil)
		d.set(0.30, false)
		s.drive(rate, 4*time.Minute, nil)
		total := time.Now()
		if n, ok := w.rec.firstSince(onset, firebreak.Severe); !ok {
			t.Errorf("not Severe by the end of the 30%% phase (%v after onset):%s", total.Sub(onset), w.describe())
		} else {
			t.Logf("Severe %v after onset", n.At.Sub(onset))
		}
		if worst := w.rec.maxSeverity(); worst >= firebreak.Fatal {
			t.Errorf("Fatal before the outage was total:%s", w.describe())
		}
		d.set(1, false)
		s.drive(rate, 3*time.Minute, nil)
		n, ok := w.rec.firstSince(total, firebreak.Fatal)
		if !ok || n.At.Sub(total) > 2*time.Minute {
			t.Fatalf("Fatal not told within 2m of the total outage (ok=%v, after %v):%s", ok, n.At.Sub(total), w.describe())
		}
		if incs := w.board.List(firebreak.Filter{}); len(incs) != 1 {
			t.Errorf("%d incidents, want one that deepens:%s", len(incs), w.describe())
		}
		t.Logf("Fatal %v after the outage became total (%s)", n.At.Sub(total), n.Event)
	})
}

// A 10-minute core outage, acknowledged, recovers; the dependency fails
// again an hour (or two) after recovery. Whether the board reopens the old
// incident (within its reopen window) or starts a new one, the plan asks
// the same of the second outage: Fatal told within 2 minutes, and a person
// must acknowledge it within 10 — unanswered, it is breached and escalated.
func TestReviewFailsAgainAfterRecovery(t *testing.T) {
	for _, gap := range []time.Duration{time.Hour, 2 * time.Hour} {
		t.Run(gap.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				d := newDep()
				s := newReviewed(w, d, svcOpts{})
				s.drive(rate/2, warm/2, nil)
				d.set(1, false)
				s.drive(rate/2, 3*time.Minute, nil)
				open := w.board.List(firebreak.Filter{OpenOnly: true})
				if len(open) != 1 {
					t.Fatalf("%d open incidents during the outage, want 1", len(open))
				}
				if err := w.board.Acknowledge(open[0].ID, "on-duty"); err != nil {
					t.Fatal(err)
				}
				s.drive(rate/2, 7*time.Minute, nil)
				d.set(0, false)
				s.drive(rate/2, gap, nil)
				if inc, _ := w.board.Get(open[0].ID); inc.State != firebreak.Resolved {
					t.Fatalf("first incident %s %v after recovery, want resolved", inc.State, gap)
				}
				again := time.Now()
				d.set(1, false)
				s.drive(rate/2, 12*time.Minute, nil)
				n, ok := w.rec.firstSince(again, firebreak.Fatal)
				if !ok || n.At.Sub(again) > 2*time.Minute {
					t.Fatalf("second outage: Fatal not told within 2m (ok=%v, after %v):%s", ok, n.At.Sub(again), w.describe())
				}
				t.Logf("second outage told by %s of %s %v after onset", n.Event, n.Incident.ID, n.At.Sub(again))
				inc, err := w.board.Get(n.Incident.ID)
				if err != nil {
					t.Fatal(err)
				}
				var breached bool
				for _, x := range w.rec.pagesSince(again) {
					breached = breached || x.Event == firebreak.EventBreached
				}
				if !breached {
					t.Errorf("second outage unanswered for 12 min and never breached; %s %s, response due %v, breached %v:%s",
						inc.ID, inc.State, inc.ResponseDue.Sub(again), inc.Breached, w.describe())
				}
			})
		})
	}
}

// The fallback itself fails (its store is down too): users get errors, so
// the core function is down even though a fallback is configured. Fatal
// within 2 minutes.
func TestReviewFailingFallbackIsFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		errCache := errors.New("cache: connection refused")
		var cacheDown bool
		s := newReviewed(w, d, svcOpts{fallback: func(context.Context, error) (int, error) {
			if cacheDown {
				return 0, errCache
			}
			return -1, nil
		}})
		s.drive(rate, warm, nil)
		onset := time.Now()
		cacheDown = true
		d.set(1, false)
		s.drive(rate, 3*time.Minute, nil)
		n, ok := w.rec.firstSince(onset, firebreak.Fatal)
		if !ok || n.At.Sub(onset) > 2*time.Minute {
			t.Fatalf("Fatal not told within 2m (ok=%v, after %v); worst %s:%s", ok, n.At.Sub(onset), w.rec.maxSeverity(), w.describe())
		}
		if s.fellBack.Load() != 0 {
			t.Errorf("the fallback served %d calls", s.fellBack.Load())
		}
		t.Logf("Fatal %v after onset (%s)", n.At.Sub(onset), n.Event)
	})
}

// 30% errors page Severe; the technical lead acknowledges; then the
// dependency goes fully down. The escalation to Fatal pages the command
// centre with a fresh 10-minute deadline, and left unanswered it is
// breached and escalated to the executive on call.
func TestReviewAckThenDeepensToFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newReviewed(w, d, svcOpts{})
		s.drive(rate, warm, nil)
		d.set(0.30, false)
		s.drive(rate, 5*time.Minute, nil)
		open := w.board.List(firebreak.Filter{OpenOnly: true})
		if len(open) != 1 || open[0].Severity != firebreak.Severe {
			t.Fatalf("want one Severe incident after 5 min at 30%%:%s", w.describe())
		}
		if err := w.board.Acknowledge(open[0].ID, "tech-lead"); err != nil {
			t.Fatal(err)
		}
		total := time.Now()
		d.set(1, false)
		s.drive(rate, 13*time.Minute, nil)
		var esc, breach *firebreak.Notification
		for _, n := range w.rec.pagesSince(total) {
			switch {
			case esc == nil && n.Event == firebreak.EventEscalated && n.Incident.Severity == firebreak.Fatal:
				esc = &n
			case breach == nil && n.Event == firebreak.EventBreached:
				breach = &n
			}
		}
		if esc == nil {
			t.Fatalf("no escalation to Fatal after the outage became total:%s", w.describe())
		}
		if got := esc.At.Sub(total); got > 2*time.Minute {
			t.Errorf("escalated %v after the outage became total, want within 2m", got)
		}
		if esc.PreviousSeverity != firebreak.Severe {
			t.Errorf("escalation from %s, want severe", esc.PreviousSeverity)
		}
		if lead := esc.Incident.Lead; lead != "command centre (all hands)" {
			t.Errorf("escalation paged %q, want the command centre", lead)
		}
		if due := esc.Incident.ResponseDue.Sub(esc.At); due <= 0 || due > 10*time.Minute {
			t.Errorf("response due %v after the escalation, want within 10m", due)
		}
		if breach == nil {
			t.Fatalf("Fatal unanswered for %v and never breached:%s", time.Since(esc.At), w.describe())
		}
		if got := breach.Incident.EscalatedTo; got != "executive on call" {
			t.Errorf("breach escalated to %q, want the executive on call", got)
		}
		t.Logf("escalated %v after total; breached %v after escalation", esc.At.Sub(total), breach.At.Sub(esc.At))
	})
}

// Two hours of healthy traffic with rare random errors (0.05% of calls,
// half the 99.9% SLO's budget): nobody is paged, ever, and the breaker stays
// closed.
func TestReviewHealthySoakIsQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		d.set(0.0005, false)
		s := newReviewed(w, d, svcOpts{})
		opened, stop := watch(func() bool { return s.cb.State() != breaker.StateClosed })
		s.drive(rate, 2*time.Hour, nil)
		stop()
		if ps := pages(w.rec.all()); len(ps) != 0 {
			t.Errorf("a healthy soak paged:%s", w.describe())
		}
		if at := opened(); !at.IsZero() {
			t.Errorf("breaker left closed at %v", w.since(at))
		}
		if s.failed.Load() == 0 {
			t.Fatal("no error was played")
		}
		t.Logf("%d of %d calls failed; %d incidents recorded", s.failed.Load(), s.calls.Load(), len(w.board.List(firebreak.Filter{})))
	})
}

// A 5-minute core outage after a warm hour that nobody acknowledges (the
// night shift missed it), then the dependency recovers. Reminders and a
// breach while the core function is down are right; once it is back — the
// breaker closed, the last minute clean — ops must not keep being told
// "Fatal, still unacknowledged", nor the executive on call be paged for an
// outage that ended.
func TestReviewUnacknowledgedOutageRecoversQuietly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newReviewed(w, d, svcOpts{})
		s.drive(rate, warm, nil)
		d.set(1, false)
		s.drive(rate, 5*time.Minute, nil)
		recovery := time.Now()
		d.set(0, false)
		s.drive(rate, 2*time.Minute, nil)
		if st := s.cb.State(); st != breaker.StateClosed {
			t.Fatalf("breaker %s 2 min after recovery", st)
		}
		quiet := time.Now()
		s.drive(rate, 45*time.Minute, nil)
		for _, n := range w.rec.pagesSince(quiet) {
			t.Errorf("recovery+%v: %s at %s; firing %v", n.At.Sub(recovery), n.Event, n.Incident.Severity, firing(n.Incident))
		}
		for _, inc := range w.board.List(firebreak.Filter{}) {
			if inc.State != firebreak.Resolved {
				t.Errorf("%s %s 47 min after recovery, want resolved", inc.ID, inc.State)
			}
		}
		if t.Failed() {
			t.Logf("pages:%s", w.describe())
		}
	})
}

// firing lists the alerts of inc that fire, by kind and grade.
func firing(inc firebreak.Incident) []string {
	var out []string
	for _, a := range inc.Alerts {
		if a.Firing {
			out = append(out, string(a.Kind)+"/"+a.Severity.String())
		}
	}
	return out
}
