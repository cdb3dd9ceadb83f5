package drill_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/drill"
)

// coreOutage is the monthly tabletop: the payments breaker of a core
// component opens with no fallback, and the on-duty engineer acknowledges
// after four minutes.
var coreOutage = drill.Scenario{
	Name: "payments down",
	Steps: []firebreak.ReplayStep{
		{At: time.Minute, Signal: &firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "checkout", Dependency: "payments", Tier: firebreak.Core, Firing: true, Value: 1}},
		{At: 5 * time.Minute, By: "ana", Action: "acknowledge"},
	},
	Duration: time.Hour,
	Expect: []drill.Expectation{{Name: "Fatal within 10 minutes", Severity: firebreak.Fatal, Within: 10 * time.Minute,
		Lead: "command centre (all hands)", ResponseWithin: 10 * time.Minute}},
}

// A tabletop replay scores a plan that grades a core outage Severe as
// failing "Fatal within 10 minutes", and the default plan as passing.
func TestTabletopScoresThePlan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		good, err := drill.Tabletop(firebreak.DefaultPlan(), coreOutage)
		if err != nil {
			t.Fatal(err)
		}
		if !good.Passed || good.Score != 1 {
			t.Errorf("default plan: %+v", good.Criteria)
		}
		weak := firebreak.DefaultPlan()
		weak.Name = "weak"
		for i, r := range weak.Rules {
			if r.Kind == firebreak.KindBreakerOpen && r.Fallback == nil {
				weak.Rules[i].Severity.Core = firebreak.Severe
			}
		}
		bad, err := drill.Tabletop(weak, coreOutage)
		if err != nil {
			t.Fatal(err)
		}
		if bad.Passed || bad.Score != 0 || len(bad.Criteria) != 1 || bad.Criteria[0].Pass {
			t.Fatalf("a plan grading a core outage Severe: %+v", bad)
		}
		if got := bad.Incidents[0].MaxSeverity; got != firebreak.Severe {
			t.Errorf("replayed incident graded %s, want severe", got)
		}
		t.Log(bad.Criteria[0].Detail)
		// The replay touched no clock: the same scenario gives the same result.
		again, _ := drill.Tabletop(weak, coreOutage)
		if again.Incidents[0].DetectedAt != bad.Incidents[0].DetectedAt {
			t.Error("replays differ")
		}
	})
}

func TestTabletopErrors(t *testing.T) {
	for _, sc := range []drill.Scenario{
		{Name: "no duration", Expect: coreOutage.Expect},
		{Name: "no expectation", Duration: time.Hour},
		{Name: "bad action", Duration: time.Hour, Expect: coreOutage.Expect, Steps: []firebreak.ReplayStep{{At: 0, By: "x", Action: "dance"}}},
		{Name: "past the end", Duration: time.Minute, Expect: coreOutage.Expect, Steps: coreOutage.Steps},
	} {
		if _, err := drill.Tabletop(firebreak.DefaultPlan(), sc); err == nil {
			t.Errorf("%s: no error", sc.Name)
		}
	}
}
