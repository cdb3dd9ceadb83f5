package firebreak_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// A breaker opens on payments-db; checkout's latency and error-budget burns
// on the same dependency follow it (in the second case they come 10 s
// first).
// One page: the breaker's incident is announced once, and the burns join it
// as symptoms without notifications of their own.
func TestInhibitBreakerSymptomsOnePage(t *testing.T) {
	breaker := firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "checkout", Dependency: "payments-db", Tier: firebreak.Core, Firing: true}
	latency := firebreak.Signal{Kind: firebreak.KindLatencySLOBurn, Component: "checkout", Dependency: "payments-db", Tier: firebreak.Core, Firing: true,
		Value: 20, Metrics: map[string]float64{"burn_rate_threshold": 14.4}, Labels: map[string]string{"slo": "latency"}}
	burn := firebreak.Signal{Kind: firebreak.KindErrorBudgetBurn, Component: "checkout", Dependency: "payments-db", Tier: firebreak.Core, Firing: true,
		Value: 30, Metrics: map[string]float64{"burn_rate_threshold": 14.4}, Labels: map[string]string{"slo": "availability"}}
	for _, tc := range []struct {
		name         string
		first, later []firebreak.Signal
	}{
		{"breaker first", []firebreak.Signal{breaker}, []firebreak.Signal{breaker, latency, burn}},
		{"symptoms first", []firebreak.Signal{latency, burn}, []firebreak.Signal{breaker, latency, burn}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, s := newBoard(t)
				// The symptoms come 10 s before the cause, within the group
				// wait; then 4 minutes of the outage, before any reminder.
				burst(b, 10*time.Second, 100, tc.first...)
				burst(b, 4*time.Minute, 100, tc.later...)
				synctest.Wait()
				if n := s.all(); len(n) != 1 || n[0].Event != firebreak.EventDetected || n[0].Incident.Severity != firebreak.Fatal {
					t.Fatalf("want one fatal page, got %v", s.events())
				}
				inc := only(t, b)
				if !timelineHas(inc, "inhibited by breaker_open for checkout → payments-db") {
					t.Fatalf("symptoms not recorded as inhibited: %+v", inc.Timeline)
				}
				if len(inc.Alerts) != 3 {
					t.Fatalf("want the breaker and two symptoms in the incident, got %d alerts", len(inc.Alerts))
				}
			})
		})
	}
}

// A source in another incident mutes its targets' incident until it
// clears; then the still-firing target pages as usual.
func TestInhibitAcrossIncidents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan := firebreak.DefaultPlan()
		plan.Inhibit = []firebreak.InhibitRule{{
			SourceMatchers: mustMatchers(t, `kind="health_failed",component="network"`),
			TargetMatchers: mustMatchers(t, `kind="breaker_open"`),
		}}
		b, s := newBoard(t, firebreak.WithPlan(plan))
		network := firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "network", Tier: firebreak.Core, Firing: true}
		target := firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "checkout", Dependency: "payments-db", Tier: firebreak.Standard, Firing: true}
		burst(b, 30*time.Minute, 50, network, target)
		synctest.Wait()
		for _, n := range s.all() {
			if n.Incident.FaultDomain == "payments-db" {
				t.Fatalf("inhibited incident paged: %s", n.Event)
			}
		}
		if s.count(firebreak.EventDetected) != 1 {
			t.Fatalf("the source's incident should page: %v", s.events())
		}
		cleared := network
		cleared.Firing = false
		b.Report(cleared)
		at := time.Now()
		burst(b, time.Minute, 50, target)
		synctest.Wait()
		var got time.Time
		for _, n := range s.all() {
			if n.Incident.FaultDomain == "payments-db" && n.Event == firebreak.EventDetected {
				got = n.At
			}
		}
		if got.IsZero() || got.Sub(at) > 30*time.Second {
			t.Fatalf("target announced at %v, want within 30s of %v", got, at)
		}
	})
}
