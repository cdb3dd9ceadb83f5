package firebreak_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-go/firebreak"
)

func TestSeverityOrderAndText(t *testing.T) {
	if !(firebreak.Fatal > firebreak.Severe && firebreak.Severe > firebreak.General && firebreak.General > firebreak.None) {
		t.Fatal("severities are not ordered worst-largest")
	}
	for _, tc := range []struct {
		s     firebreak.Severity
		name  string
		level int
	}{{firebreak.None, "none", 0}, {firebreak.General, "general", 3}, {firebreak.Severe, "severe", 2}, {firebreak.Fatal, "fatal", 1}} {
		b, err := tc.s.MarshalText()
		if err != nil || string(b) != tc.name || tc.s.Level() != tc.level {
			t.Errorf("%d: %q %v level %d", tc.s, b, err, tc.s.Level())
		}
		var back firebreak.Severity
		if err := back.UnmarshalText([]byte(strings.ToUpper(tc.name))); err != nil || back != tc.s {
			t.Errorf("round trip %s: %v %v", tc.name, back, err)
		}
	}
	var s firebreak.Severity
	if err := s.UnmarshalText([]byte("catastrophic")); err == nil {
		t.Error("unknown severity accepted")
	}
	if _, err := firebreak.Severity(7).MarshalText(); err == nil {
		t.Error("invalid severity marshalled")
	}
}

func TestDefaultPlanGrading(t *testing.T) {
	p := firebreak.DefaultPlan()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		s    firebreak.Signal
		want [3]firebreak.Severity // core, standard, auxiliary
	}{
		{"breaker open with fallback", firebreak.Signal{Kind: firebreak.KindBreakerOpen, Fallback: true}, [3]firebreak.Severity{firebreak.General, firebreak.General, firebreak.None}},
		{"breaker open without fallback", firebreak.Signal{Kind: firebreak.KindBreakerOpen}, [3]firebreak.Severity{firebreak.Fatal, firebreak.Severe, firebreak.General}},
		{"burn 14.4x", firebreak.Signal{Kind: firebreak.KindErrorBudgetBurn, Value: 15, Metrics: tier(14.4)}, [3]firebreak.Severity{firebreak.Severe, firebreak.Severe, firebreak.General}},
		{"outage", firebreak.Signal{Kind: firebreak.KindErrorBudgetBurn, Value: 1000, Metrics: map[string]float64{"error_ratio_now": 0.9}}, [3]firebreak.Severity{firebreak.Fatal, firebreak.Severe, firebreak.General}},
		{"burn 6x", firebreak.Signal{Kind: firebreak.KindErrorBudgetBurn, Value: 6, Metrics: tier(6)}, [3]firebreak.Severity{firebreak.General, firebreak.General, firebreak.None}},
		{"ticket burn", firebreak.Signal{Kind: firebreak.KindErrorBudgetBurn, Value: 3, Metrics: tier(3)}, [3]firebreak.Severity{}},
		{"ticket tier burning fast", firebreak.Signal{Kind: firebreak.KindErrorBudgetBurn, Value: 30, Metrics: tier(3)}, [3]firebreak.Severity{}},
		{"latency 14.4x", firebreak.Signal{Kind: firebreak.KindLatencySLOBurn, Value: 20, Metrics: tier(14.4)}, [3]firebreak.Severity{firebreak.Severe, firebreak.General, firebreak.None}},
		{"rollback promoted", firebreak.Signal{Kind: firebreak.KindRollback, Labels: map[string]string{"phase": "promoted"}}, [3]firebreak.Severity{firebreak.Severe, firebreak.Severe, firebreak.General}},
		{"rollback canary", firebreak.Signal{Kind: firebreak.KindRollback}, [3]firebreak.Severity{firebreak.General, firebreak.General, firebreak.None}},
		{"rollback failed", firebreak.Signal{Kind: firebreak.KindRollbackFailed}, [3]firebreak.Severity{firebreak.Fatal, firebreak.Severe, firebreak.Severe}},
		{"custom kind", firebreak.Signal{Kind: "disk_smart_warning"}, [3]firebreak.Severity{}},
	} {
		var got [3]firebreak.Severity
		for i, tier := range []firebreak.Tier{firebreak.Core, firebreak.Standard, firebreak.Auxiliary} {
			s := tc.s
			s.Tier = tier
			got[i] = p.Classify(&s)
		}
		if got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParsePlan(t *testing.T) {
	p, err := firebreak.ParsePlan([]byte(`{
		"name": "payments",
		"response": {"fatal": {"response_within": "5m", "lead": "incident commander", "escalate_to": "CTO", "report": "postmortem"}},
		"timers": {"group_wait": "10s"}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	def := firebreak.DefaultPlan()
	// A partial policy is filled field by field from the severity's default.
	want := def.Response[firebreak.Fatal]
	want.Within, want.Lead, want.EscalateTo = firebreak.Duration(5*time.Minute), "incident commander", "CTO"
	if diff := cmp.Diff(want, p.Response[firebreak.Fatal]); diff != "" {
		t.Fatalf("fatal policy: %s", diff)
	}
	if p.Name != "payments" || time.Duration(p.Timers.GroupWait) != 10*time.Second {
		t.Fatalf("plan %+v", p)
	}
	if diff := cmp.Diff(def.Response[firebreak.Severe], p.Response[firebreak.Severe]); diff != "" {
		t.Fatalf("severe policy changed: %s", diff)
	}
	if p.Timers.ResolveHoldDown != def.Timers.ResolveHoldDown || len(p.Rules) != len(def.Rules) {
		t.Fatal("defaults lost")
	}
	// A plan survives a JSON round trip.
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := firebreak.ParsePlan(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, back); diff != "" {
		t.Fatalf("round trip: %s", diff)
	}
}

func TestParsePlanReportsEveryProblemWithItsPath(t *testing.T) {
	_, err := firebreak.ParsePlan([]byte(`{
		"response": {"fatal": {"response_within": "20m", "lead": ""}, "urgent": {}},
		"rules": [{"kind": "Breaker Open", "severity": {"core": "catastrophic"}}, {"kind": "x", "min_value": "high"}],
		"timers": {"group_wait": "soon", "reopen_window": 5},
		"escalation": {"spread_components": 1, "persistence": [{"from": "severe", "to": "general", "after": "1h"}]},
		"colour": "red"
	}`))
	var pe *firebreak.PlanError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *PlanError", err)
	}
	paths := map[string]bool{}
	for _, p := range pe.Problems {
		paths[p.Path] = true
	}
	// Shape problems are reported first, all at once.
	for _, want := range []string{"response.urgent", "rules[0].severity.core", "rules[1].min_value", "timers.group_wait", "timers.reopen_window", "colour"} {
		if !paths[want] {
			t.Errorf("no problem reported at %s; got %v", want, pe.Problems)
		}
	}
	// Once the shape is right, every semantic problem is reported.
	_, err = firebreak.ParsePlan([]byte(`{
		"response": {"fatal": {"response_within": "20m", "lead": ""}},
		"rules": [{"kind": "Breaker Open", "severity": {}}],
		"escalation": {"spread_components": 1, "persistence": [{"from": "severe", "to": "general", "after": "1h"}]},
		"timers": {"group_wait": "2h"}
	}`))
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *PlanError", err)
	}
	paths = map[string]bool{}
	for _, p := range pe.Problems {
		paths[p.Path] = true
	}
	for _, want := range []string{"response.fatal.lead", "response.fatal.response_within", "rules[0].kind", "escalation.spread_components", "escalation.persistence[0].to", "timers.group_wait"} {
		if !paths[want] {
			t.Errorf("no problem reported at %s; got %v", want, pe.Problems)
		}
	}
	for _, bad := range []string{``, `[]`, `{} {}`, `{"name": 3}`, `nul`} {
		if _, err := firebreak.ParsePlan([]byte(bad)); err == nil {
			t.Errorf("ParsePlan(%q) accepted", bad)
		}
	}
}

func TestLoadPlanFromReader(t *testing.T) {
	if _, err := firebreak.LoadPlan(strings.NewReader(`{"name":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := firebreak.LoadPlan(strings.NewReader(strings.Repeat(" ", 2<<20))); err == nil {
		t.Fatal("huge plan accepted")
	}
}

func FuzzParsePlan(f *testing.F) {
	def, _ := json.Marshal(firebreak.DefaultPlan())
	for _, seed := range []string{string(def), `{}`, `{"rules":[{"kind":"x","severity":{"core":"fatal"}}]}`,
		`{"response":{"fatal":{"response_within":"1ns","lead":"x"}}}`, `{"timers":{"group_wait":"-1s"}}`, `[1,2]`, `{"escalation":{"persistence":[null]}}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := firebreak.ParsePlan(data)
		if err != nil {
			var pe *firebreak.PlanError
			if !errors.As(err, &pe) || len(pe.Problems) == 0 {
				t.Fatalf("error %v is not a PlanError with problems", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("ParsePlan returned an invalid plan: %v", err)
		}
		// Whatever it accepted must work on a board.
		if _, err := firebreak.NewBoard("fuzz", firebreak.WithPlan(p)); err != nil {
			t.Fatalf("NewBoard rejected a parsed plan: %v", err)
		}
		s := firebreak.Signal{Kind: firebreak.KindBreakerOpen, Tier: firebreak.Core}
		if sev := p.Classify(&s); !sev.Valid() {
			t.Fatalf("Classify gave %d", sev)
		}
	})
}

// A custom rule is exactly what the document says: it inherits no fallback,
// min_value, min_metrics or labels from the default rule at the same index.
// Before, this plan's only rule required a fallback, so a core user-feedback
// signal (no fallback) was graded none and paged nobody.
func TestParsePlanCustomRuleInheritsNothing(t *testing.T) {
	p, err := firebreak.ParsePlan([]byte(`{"rules":[{"kind":"user_feedback","severity":{"core":"fatal"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []firebreak.Rule{{Kind: firebreak.KindUserFeedback, Severity: firebreak.TierSeverity{Core: firebreak.Fatal}}}
	if diff := cmp.Diff(want, p.Rules); diff != "" {
		t.Fatalf("rules: %s", diff)
	}
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t, firebreak.WithPlan(p))
		// Users complain every few seconds for two minutes.
		for range 40 {
			b.Report(firebreak.Signal{Kind: firebreak.KindUserFeedback, Component: "checkout-web", Tier: firebreak.Core,
				Firing: true, Value: 1, Summary: "cannot pay"})
			time.Sleep(3 * time.Second)
		}
		inc := only(t, b)
		if inc.Severity != firebreak.Fatal || s.count(firebreak.EventDetected) != 1 {
			t.Fatalf("core user feedback under a fatal rule: %s, %v", inc.Severity, s.events())
		}
	})
}

// A partial response policy keeps the severity's default escalation target
// and reminders, so a breached Fatal incident is escalated to somebody.
func TestParsePlanPartialResponseKeepsEscalation(t *testing.T) {
	p, err := firebreak.ParsePlan([]byte(`{"name": "payments",
		"response": {"fatal": {"response_within": "5m", "lead": "incident commander"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "payments" || p.Response[firebreak.Fatal].EscalateTo != "executive on call" ||
		time.Duration(p.Response[firebreak.Fatal].RenotifyEvery) != 5*time.Minute {
		t.Fatalf("fatal policy %+v", p.Response[firebreak.Fatal])
	}
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t, firebreak.WithPlan(p))
		start := time.Now()
		// A core dependency fails outright at 1000 calls/s: the tracing
		// package reports the burn every ten seconds.
		// Eleven minutes: the breach at 5 and, since a breach pages alone,
		// the first reminder at 10.
		for time.Since(start) < 11*time.Minute {
			b.Report(burn(1000, 1))
			time.Sleep(10 * time.Second)
		}
		synctest.Wait()
		inc := only(t, b)
		if !inc.Breached || inc.EscalatedTo != "executive on call" {
			t.Fatalf("breached %v, escalated to %q", inc.Breached, inc.EscalatedTo)
		}
		var breachAt time.Duration
		for _, e := range inc.Timeline {
			if e.Event == firebreak.EventBreached {
				breachAt = e.At.Sub(start)
			}
		}
		if breachAt < 5*time.Minute || breachAt > 6*time.Minute || s.count(firebreak.EventRenotify) == 0 {
			t.Fatalf("breach after %s (want the custom 5m), %d reminders", breachAt, s.count(firebreak.EventRenotify))
		}
	})
	// Reminders can be turned off explicitly.
	p, err = firebreak.ParsePlan([]byte(`{"response": {"fatal": {"renotify_every": "0s"}}}`))
	if err != nil || p.Response[firebreak.Fatal].RenotifyEvery != 0 || p.Name != "custom" {
		t.Fatalf("%v %+v", err, p)
	}
}

func TestParsePlanRejectsRulesWithoutAKnownKind(t *testing.T) {
	for _, tc := range []struct{ doc, path, want string }{
		{`{"rules":[{"severity":{"core":"fatal"}}]}`, "rules[0].kind", "required"},
		{`{"rules":[{"kind":"health_failed","severity":{}},{"kind":"breaker_opne","severity":{"core":"fatal"}}]}`, "rules[1].kind", "custom_kinds"},
		{`{"custom_kinds":["Disk Smart"],"rules":[{"kind":"health_failed","severity":{}}]}`, "custom_kinds[0]", "not a kind"},
		{`{"escalation":{"persistence":[{"from":"general","to":"severe"}]}}`, "escalation.persistence[0].after", "longer than 0"},
	} {
		_, err := firebreak.ParsePlan([]byte(tc.doc))
		var pe *firebreak.PlanError
		if !errors.As(err, &pe) {
			t.Fatalf("%s: error %v", tc.doc, err)
		}
		found := false
		for _, p := range pe.Problems {
			found = found || (p.Path == tc.path && strings.Contains(p.Message, tc.want))
		}
		if !found {
			t.Errorf("%s: want %s: ...%s...; got %v", tc.doc, tc.path, tc.want, pe.Problems)
		}
	}
	p, err := firebreak.ParsePlan([]byte(`{"custom_kinds":["disk_smart_warning"],
		"rules":[{"kind":"disk_smart_warning","severity":{"core":"severe","standard":"general"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s := firebreak.Signal{Kind: "disk_smart_warning", Tier: firebreak.Core}
	if got := p.Classify(&s); got != firebreak.Severe {
		t.Fatalf("declared custom kind graded %s", got)
	}
	// A persistence list given replaces the default one whole; the other
	// escalation fields keep their defaults.
	p, err = firebreak.ParsePlan([]byte(`{"escalation":{"persistence":[{"from":"severe","after":"2h","to":"fatal"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	wantEsc := firebreak.DefaultPlan().Escalation
	wantEsc.Persistence = []firebreak.PersistenceRule{{From: firebreak.Severe, After: firebreak.Duration(2 * time.Hour), To: firebreak.Fatal}}
	if diff := cmp.Diff(wantEsc, p.Escalation); diff != "" {
		t.Fatalf("escalation: %s", diff)
	}
}

func TestParsePlanRejectsHugeDocument(t *testing.T) {
	doc := `{"name":"` + strings.Repeat("x", firebreak.MaxPlanSize) + `"}`
	_, err := firebreak.ParsePlan([]byte(doc))
	var pe *firebreak.PlanError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "1 MiB") {
		t.Fatalf("a %d-byte plan: %v", len(doc), err)
	}
}

// tier is the metrics of a burn signal from the tier with the given threshold.
func tier(threshold float64) map[string]float64 {
	return map[string]float64{"burn_rate_threshold": threshold}
}
