package firebreak_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// pageBurn is an availability burn signal on a core dependency, as the tracing
// package reports it: one alert per SLO, re-reported while it fires.
func pageBurn(value, now float64) firebreak.Signal {
	return firebreak.Signal{Kind: firebreak.KindErrorBudgetBurn, Component: "checkout-api", Dependency: "payments-db",
		Tier: firebreak.Core, Firing: true, Value: value, Labels: map[string]string{"slo": "availability"},
		Metrics: map[string]float64{"error_ratio_now": now, "burn_rate_threshold": tierOf(value)}}
}

// An outage that deepens is re-graded upward while it lasts: the same alert
// re-reported with a fast error ratio of 1 raises a Severe incident to Fatal.
func TestRegradeFollowsTheOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		b.Report(pageBurn(15, 0.2))
		time.Sleep(time.Minute)
		synctest.Wait()
		if inc := only(t, b); inc.Severity != firebreak.Severe || s.count(firebreak.EventDetected) != 1 {
			t.Fatalf("first: %s, %v", inc.Severity, s.events())
		}
		b.Report(pageBurn(200, 1))
		synctest.Wait()
		inc := only(t, b)
		if inc.Severity != firebreak.Fatal || inc.Level != 1 || s.count(firebreak.EventEscalated) != 1 {
			t.Fatalf("after deepening: %s level %d, %v", inc.Severity, inc.Level, s.events())
		}
		if len(inc.Alerts) != 1 {
			t.Fatalf("%d alerts, want the one alert", len(inc.Alerts))
		}
	})
}

// After the page tier clears, the same alert still fires at a ticket tier
// the plan grades None: it pages nobody, does not hold the incident open,
// and does not reopen it once resolved. A page-grade re-report does.
func TestNoneGradedAlertDoesNotHoldOrReopen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		b.Report(pageBurn(20, 0.3))
		time.Sleep(time.Minute)
		synctest.Wait()
		before := len(s.all())
		b.Report(pageBurn(2, 0.001)) // ticket tier: graded none
		synctest.Wait()
		if got := s.all()[before:]; len(got) != 0 {
			t.Fatalf("a lower tier notified: %v", got)
		}
		time.Sleep(5*time.Minute + time.Second)
		synctest.Wait()
		inc := only(t, b)
		if inc.State != firebreak.Resolved {
			t.Fatalf("state %s, want resolved 5 min after what paged stopped", inc.State)
		}
		if s.count(firebreak.EventResolved) != 1 {
			t.Fatalf("events %v", s.events())
		}
		n := len(s.all())
		for range 10 {
			b.Report(pageBurn(1.5, 0.001))
			time.Sleep(time.Minute)
			b.Report(pageBurn(2.5, 0.002))
		}
		synctest.Wait()
		if inc := only(t, b); inc.State != firebreak.Resolved || len(s.all()) != n {
			t.Fatalf("ticket tier reopened: %s, %v", inc.State, s.events()[n:])
		}
		b.Report(pageBurn(30, 0.4))
		synctest.Wait()
		if inc := only(t, b); inc.State == firebreak.Resolved || s.count(firebreak.EventReopened) != 1 {
			t.Fatalf("page tier did not reopen: %s, %v", inc.State, s.events())
		}
	})
}

// What paged clears within the group wait while a None-graded alert of the
// same incident still fires: nobody is paged. When it fires again, the
// incident is announced.
func TestGroupWaitWithOnlyNoneGradedLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		page := signalFor(firebreak.Severe)
		ticket := pageBurn(1.5, 0.001)
		ticket.Tier, ticket.Component = page.Tier, page.Component
		b.Report(ticket)
		b.Report(page)
		page.Firing = false
		b.Report(page)
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := len(s.all()); n != 0 {
			t.Fatalf("paged for a cleared alert: %v", s.events())
		}
		page.Firing = true
		b.Report(page)
		synctest.Wait()
		if s.count(firebreak.EventDetected) != 1 {
			t.Fatalf("not announced when it fired again: %v", s.events())
		}
	})
}

// An unacknowledged incident whose signals all cleared before its deadline
// is in its resolve hold-down: it is neither breached nor re-notified. If a
// signal fires again, the deadline holds again.
func TestNoBreachWhileEverythingIsClear(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		sig := signalFor(firebreak.Severe)
		b.Report(sig)
		time.Sleep(14 * time.Minute)
		sig.Firing = false
		b.Report(sig)
		synctest.Wait()
		before := s.count(firebreak.EventBreached) + s.count(firebreak.EventRenotify)
		time.Sleep(4 * time.Minute) // past the 15-minute deadline, within the 5-minute hold-down
		synctest.Wait()
		if n := s.count(firebreak.EventBreached) + s.count(firebreak.EventRenotify) - before; n != 0 {
			t.Fatalf("paged %d times after everything cleared: %v", n, s.events())
		}
		sig.Firing = true
		b.Report(sig)
		synctest.Wait()
		if s.count(firebreak.EventBreached) != 1 {
			t.Fatalf("a signal firing again past the deadline did not breach: %v", s.events())
		}
	})
}
