package firebreak

import "slices"

// grader is a plan's rules compiled for the engine's hot path: the same
// decisions as [Plan.Classify], with each rule's metric and label conditions
// as sorted slices instead of maps, so that grading a repeating signal ranges
// over no map of the rule's (ranging a map costs a random start).
type grader struct {
	rules []gradeRule
}

type gradeRule struct {
	kind       Kind
	fallback   *bool
	minValue   *float64
	minMetrics []metricMin
	labels     []labelWant
	severity   TierSeverity
}

type metricMin struct {
	name string
	min  float64
}

type labelWant struct{ name, value string }

func newGrader(p *Plan) grader {
	g := grader{rules: make([]gradeRule, len(p.Rules))}
	for i, r := range p.Rules {
		gr := gradeRule{kind: r.Kind, fallback: r.Fallback, minValue: r.MinValue, severity: r.Severity}
		for k, v := range r.MinMetrics {
			gr.minMetrics = append(gr.minMetrics, metricMin{k, v})
		}
		slices.SortFunc(gr.minMetrics, func(a, b metricMin) int { return cmpString(a.name, b.name) })
		for k, v := range r.Labels {
			gr.labels = append(gr.labels, labelWant{k, v})
		}
		slices.SortFunc(gr.labels, func(a, b labelWant) int { return cmpString(a.name, b.name) })
		g.rules[i] = gr
	}
	return g
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// classify is [Plan.Classify] on the compiled rules.
func (g *grader) classify(s *Signal) Severity {
	for i := range g.rules {
		if g.rules[i].matches(s) {
			return g.rules[i].severity.For(s.Tier)
		}
	}
	return None
}

func (r *gradeRule) matches(s *Signal) bool {
	if r.kind != s.Kind {
		return false
	}
	if r.fallback != nil && *r.fallback != s.Fallback {
		return false
	}
	if r.minValue != nil && !(s.Value >= *r.minValue) {
		return false
	}
	for _, m := range r.minMetrics {
		v, ok := s.Metrics[m.name]
		if !ok || !(v >= m.min) {
			return false
		}
	}
	for _, l := range r.labels {
		if s.Labels[l.name] != l.value {
			return false
		}
	}
	return true
}
