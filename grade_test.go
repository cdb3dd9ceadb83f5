package firebreak

import "testing"

// The compiled rules decide exactly as Plan.Classify does.
func TestGraderMatchesClassify(t *testing.T) {
	p := DefaultPlan()
	p.Rules = append(p.Rules, Rule{Kind: "custom_kind", Labels: map[string]string{"a": "1", "b": "2"},
		MinMetrics: map[string]float64{"x": 1, "y": 2}, Severity: TierSeverity{Core: Fatal, Standard: Severe, Auxiliary: General}})
	g := newGrader(p)
	kinds := []Kind{KindBreakerOpen, KindErrorBudgetBurn, KindLatencySLOBurn, KindRollback, KindHealthFailed, "custom_kind", "unknown"}
	metrics := []map[string]float64{nil, {"error_ratio_now": 0.6}, {"error_ratio_now": 0.2, "burn_rate_threshold": 14.4},
		{"burn_rate_threshold": 6}, {"burn_rate_threshold": 3}, {"x": 1, "y": 2}, {"x": 1}}
	labels := []map[string]string{nil, {"phase": "promoted"}, {"a": "1", "b": "2"}, {"a": "1"}}
	n := 0
	for _, k := range kinds {
		for _, m := range metrics {
			for _, l := range labels {
				for _, fb := range []bool{false, true} {
					for _, tier := range []Tier{Standard, Core, Auxiliary} {
						for _, v := range []float64{0, 6, 20} {
							s := Signal{Kind: k, Metrics: m, Labels: l, Fallback: fb, Tier: tier, Value: v}
							if got, want := g.classify(&s), p.Classify(&s); got != want {
								t.Fatalf("%+v: compiled %s, plan %s", s, got, want)
							}
							n++
						}
					}
				}
			}
		}
	}
	if n < 1000 {
		t.Fatalf("only %d cases", n)
	}
}
