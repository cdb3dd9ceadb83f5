package drill_test

import (
	"fmt"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/drill"
)

// A monthly tabletop: does the plan grade a core outage Fatal within ten
// minutes? A copy of the plan that grades it Severe fails.
func ExampleTabletop() {
	sc := drill.Scenario{
		Name: "payments down",
		Steps: []firebreak.ReplayStep{
			{At: time.Minute, Signal: &firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "checkout",
				Dependency: "payments", Tier: firebreak.Core, Firing: true}},
			{At: 4 * time.Minute, By: "ana", Action: "acknowledge"},
		},
		Duration: time.Hour,
		Expect:   []drill.Expectation{{Name: "Fatal within 10 minutes", Severity: firebreak.Fatal, Within: 10 * time.Minute}},
	}
	plan := firebreak.DefaultPlan()
	res, _ := drill.Tabletop(plan, sc)
	fmt.Println(plan.Name, res.Passed, res.Criteria[0].Detail)

	for i, r := range plan.Rules {
		if r.Kind == firebreak.KindBreakerOpen && r.Fallback == nil {
			plan.Rules[i].Severity.Core = firebreak.Severe
		}
	}
	res, _ = drill.Tabletop(plan, sc)
	fmt.Println("lenient", res.Passed, res.Criteria[0].Detail)
	// Output:
	// default true fatal after 0s
	// lenient false graded severe at most, not fatal
}

// A ramp from 1% to 20%, two minutes a step.
func ExampleRamp() {
	for _, s := range drill.Ramp(2*time.Minute, 1, 5, 20) {
		fmt.Printf("%s: %g%%\n", s.After, s.Percent)
	}
	// Output:
	// 0s: 1%
	// 2m0s: 5%
	// 4m0s: 20%
}
