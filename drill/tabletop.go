package drill

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-go/firebreak"
)

// Scenario is a tabletop exercise: a timeline of signals and people's
// actions, and what the plan is expected to make of them.
type Scenario struct {
	Name     string                 `json:"name"`
	Steps    []firebreak.ReplayStep `json:"steps"`
	Duration time.Duration          `json:"duration"` // how long to replay; required
	Expect   []Expectation          `json:"expect"`
}

// Expectation is one decision the plan should take on the scenario's first
// incident: reach Severity within Within of the first step; at that
// severity, name Lead and demand a response within ResponseWithin. Zero
// fields are not tested; Severity is required.
type Expectation struct {
	Name           string             `json:"name"` // e.g. "Fatal within 10 minutes"
	Severity       firebreak.Severity `json:"severity"`
	Within         time.Duration      `json:"within,omitempty"`
	Lead           string             `json:"lead,omitempty"`
	ResponseWithin time.Duration      `json:"response_within,omitempty"`
}

// TabletopResult is the score of a plan on a scenario.
type TabletopResult struct {
	Scenario  string               `json:"scenario"`
	Plan      string               `json:"plan"`
	Incidents []firebreak.Incident `json:"incidents"`
	Criteria  []Criterion          `json:"criteria"`
	Score     float64              `json:"score"` // the share of criteria passed, 0 to 1
	Passed    bool                 `json:"passed"`
}

// Tabletop replays sc through a copy of plan in virtual time (see
// [firebreak.ReplayPlan]) and scores the plan's decisions against the
// expected ones. Nothing of production is touched.
func Tabletop(plan *firebreak.Plan, sc Scenario) (*TabletopResult, error) {
	if sc.Duration <= 0 {
		return nil, fmt.Errorf("drill: Tabletop %q: Duration must be positive, got %s", sc.Name, sc.Duration)
	}
	if len(sc.Expect) == 0 {
		return nil, fmt.Errorf("drill: Tabletop %q: no expectation to score", sc.Name)
	}
	for i, x := range sc.Expect {
		if x.Severity <= firebreak.None || !x.Severity.Valid() {
			return nil, fmt.Errorf("drill: Tabletop %q: Expect[%d]: a severity above none is required", sc.Name, i)
		}
		if x.Within < 0 || x.ResponseWithin < 0 {
			return nil, fmt.Errorf("drill: Tabletop %q: Expect[%d]: Within and ResponseWithin must not be negative, got %s and %s", sc.Name, i, x.Within, x.ResponseWithin)
		}
	}
	if plan == nil {
		return nil, errors.New("drill: Tabletop: the plan is nil")
	}
	rep, err := firebreak.ReplayPlan("tabletop", plan, sc.Steps, sc.Duration)
	if err != nil {
		return nil, fmt.Errorf("drill: Tabletop %q: %w", sc.Name, err)
	}
	res := &TabletopResult{Scenario: sc.Name, Plan: plan.Name, Incidents: rep.Incidents}
	var first time.Duration
	if len(sc.Steps) > 0 {
		first = slices.MinFunc(sc.Steps, func(a, b firebreak.ReplayStep) int { return int(a.At - b.At) }).At
	}
	for _, x := range sc.Expect {
		name := cmpOr(x.Name, fmt.Sprintf("%s within %s", x.Severity, x.Within))
		if len(rep.Incidents) == 0 {
			res.Criteria = append(res.Criteria, Criterion{Name: name, Detail: "the plan opened no incident"})
			continue
		}
		inc := rep.Incidents[0]
		reachedAt, ok := time.Time{}, false
		for _, e := range inc.Timeline {
			if e.Severity >= x.Severity {
				reachedAt, ok = e.At, true
				break
			}
		}
		var fails []string
		var detail string
		switch {
		case !ok:
			fails = append(fails, fmt.Sprintf("graded %s at most, not %s", inc.MaxSeverity, x.Severity))
		default:
			took := reachedAt.Sub(rep.Start) - first
			detail = fmt.Sprintf("%s after %s", x.Severity, took)
			if x.Within > 0 && took > x.Within {
				fails = append(fails, fmt.Sprintf("reached %s after %s, later than %s", x.Severity, took, x.Within))
			}
		}
		rp := plan.Response[max(inc.MaxSeverity, x.Severity)]
		if ok && x.Lead != "" && rp.Lead != x.Lead {
			fails = append(fails, fmt.Sprintf("lead is %q, want %q", rp.Lead, x.Lead))
		}
		if ok && x.ResponseWithin > 0 && time.Duration(rp.Within) > x.ResponseWithin {
			fails = append(fails, fmt.Sprintf("response demanded within %s, want %s", time.Duration(rp.Within), x.ResponseWithin))
		}
		c := Criterion{Name: name, Pass: len(fails) == 0, Detail: detail}
		if !c.Pass {
			c.Detail = strings.Join(fails, "; ")
		}
		res.Criteria = append(res.Criteria, c)
	}
	passed := 0
	for _, c := range res.Criteria {
		if c.Pass {
			passed++
		}
	}
	res.Score = float64(passed) / float64(len(res.Criteria))
	res.Passed = passed == len(res.Criteria)
	return res, nil
}
