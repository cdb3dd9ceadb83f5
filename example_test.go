package firebreak_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/firebreak-go/firebreak"
)

// A breaker on a core dependency opens without a fallback, so every call to
// it is refused: the plan grades it Fatal, level 1, for all hands within 10
// minutes.
func ExampleBoard() {
	board, err := firebreak.NewBoard("checkout", firebreak.WithEnv("prod"))
	if err != nil {
		panic(err)
	}
	board.Report(firebreak.Signal{
		Kind: firebreak.KindBreakerOpen, Component: "checkout-api", Dependency: "payments-db",
		Tier: firebreak.Core, Firing: true, Summary: "5 consecutive failures",
	})
	inc := board.List(firebreak.Filter{OpenOnly: true})[0]
	fmt.Println(inc.ID, inc.Title)
	fmt.Printf("%s (level %d): %s, within %s\n", inc.Severity, inc.Level, inc.Lead, inc.ResponseDue.Sub(inc.DetectedAt))
	// Output:
	// INC-0001 BreakerOpen: checkout-api → payments-db
	// fatal (level 1): command centre (all hands), within 10m0s
}

// The same fault with a fallback serving is only General: users see a
// degraded service, not a failed one.
func ExamplePlan_Classify() {
	plan := firebreak.DefaultPlan()
	for _, fallback := range []bool{false, true} {
		s := firebreak.Signal{Kind: firebreak.KindBreakerOpen, Tier: firebreak.Core, Fallback: fallback}
		fmt.Printf("fallback=%v: %s\n", fallback, plan.Classify(&s))
	}
	// Output:
	// fallback=false: fatal
	// fallback=true: general
}

// A plan is data: load your organisation's own from JSON. A partial
// response policy keeps that severity's defaults for what it leaves out; a
// rule is exactly what it says and needs a known kind. Every problem is
// reported with its field path.
func ExampleParsePlan() {
	plan, err := firebreak.ParsePlan([]byte(`{"name": "payments",
		"response": {"fatal": {"response_within": "5m", "lead": "incident commander"}},
		"custom_kinds": ["ledger_mismatch"],
		"rules": [{"kind": "ledger_mismatch", "severity": {"core": "fatal", "standard": "severe"}},
		          {"kind": "user_feedback", "severity": {"core": "fatal"}}]}`))
	if err != nil {
		panic(err)
	}
	fatal := plan.Response[firebreak.Fatal]
	fmt.Println(plan.Name, time.Duration(fatal.Within), "escalate to:", fatal.EscalateTo)
	fmt.Println(plan.Classify(&firebreak.Signal{Kind: firebreak.KindUserFeedback, Tier: firebreak.Core}))

	_, err = firebreak.ParsePlan([]byte(`{"rules": [{"kind": "breaker_opne", "severity": {"core": "fatal"}}, {"severity": {}}]}`))
	fmt.Println(err)
	// Output:
	// payments 5m0s escalate to: executive on call
	// fatal
	// firebreak: invalid plan: rules[0].kind: "breaker_opne" is not a built-in kind; declare your own kinds in custom_kinds; rules[1].kind: required: the kind of signal the rule grades
}

// From detection to the postmortem: acknowledge, mitigate, resolve, close.
func ExampleBoard_CloseWith() {
	board, _ := firebreak.NewBoard("checkout")
	board.Report(firebreak.Signal{Kind: firebreak.KindErrorBudgetBurn, Component: "checkout-api", Tier: firebreak.Core,
		Firing: true, Value: 1000, Metrics: map[string]float64{"error_ratio_now": 1, "burn_rate_threshold": 14.4}})
	id := board.List(firebreak.Filter{})[0].ID
	_ = board.Acknowledge(id, "alice")
	_ = board.Mitigate(id, "alice", "rolled back to v1.4.2")
	_ = board.Resolve(id, "alice", "error rate back to normal")
	report, err := board.CloseWith(id, "alice", firebreak.ReportInput{RootCause: "a bad migration in v1.5.0"})
	if err != nil {
		panic(err)
	}
	md := report.Markdown()
	fmt.Println(strings.SplitN(md, "\n", 2)[0])
	fmt.Println(report.Kind, report.MaxSeverity, "deadline:", report.Response.Outcome)
	// Output:
	// # Postmortem: INC-0001 — ErrorBudgetBurn: checkout-api
	// postmortem fatal deadline: met
}

// A Recorder lets your tests assert on what a policy reported.
func ExampleRecorder() {
	var rec firebreak.Recorder
	c := firebreak.Component{Name: "checkout-api", Dependency: "payments-db", Tier: firebreak.Core, Reporter: &rec}
	c.Report(c.Signal(firebreak.KindBreakerOpen, true))
	s, _ := rec.Last(firebreak.KindBreakerOpen)
	fmt.Println(rec.Len(), s.Kind, s.Component, s.Firing)
	// Output: 1 breaker_open checkout-api true
}

// A pipeline wraps calls to one dependency in policies. Here a tiny custom
// policy counts calls.
func ExamplePipeline() {
	calls := 0
	counter := policyFunc[string](func(ctx context.Context, next firebreak.Next[string]) (string, error) {
		calls++
		return next.Call(ctx)
	})
	p, err := firebreak.NewPipeline(firebreak.Component{Name: "checkout-api", Dependency: "prices"},
		[]firebreak.Policy[string]{counter})
	if err != nil {
		panic(err)
	}
	v, err := p.Execute(context.Background(), func(ctx context.Context) (string, error) { return "42.00 EUR", nil })
	fmt.Println(v, err, calls)
	// Output: 42.00 EUR <nil> 1
}

type policyFunc[T any] func(ctx context.Context, next firebreak.Next[T]) (T, error)

func (f policyFunc[T]) Apply(ctx context.Context, next firebreak.Next[T]) (T, error) {
	return f(ctx, next)
}

// The operations API with a read-only token for a dashboard and a
// responder's token; pages of incidents follow next_cursor.
func ExampleBearerTokensWithRoles() {
	board, _ := firebreak.NewBoard("checkout")
	board.Report(firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "checkout-api", Firing: true})
	id := board.List(firebreak.Filter{})[0].ID
	auth, _ := firebreak.BearerTokensWithRoles(map[string]firebreak.Grant{
		"dashboard-token-0123456789": {Principal: "dashboard", Role: firebreak.Viewer},
		"on-duty-token-0123456789ab": {Principal: "alice", Role: firebreak.Responder},
	})
	ops, _ := firebreak.OpsHandler(board, auth)
	call := func(method, path, tok string) int {
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		ops.ServeHTTP(rec, req)
		return rec.Code
	}
	fmt.Println("viewer lists:", call("GET", "/incidents?limit=10", "dashboard-token-0123456789"))
	fmt.Println("viewer acknowledges:", call("POST", "/incidents/"+id+"/acknowledge", "dashboard-token-0123456789"))
	fmt.Println("responder acknowledges:", call("POST", "/incidents/"+id+"/acknowledge", "on-duty-token-0123456789ab"))
	// Output:
	// viewer lists: 200
	// viewer acknowledges: 403
	// responder acknowledges: 200
}

// One noisy label — a request ID — makes an alert per request. The incident
// keeps 100 of them in full and counts the rest per kind, so it, its
// notifications and its webhook bodies stay the same size.
func ExampleMaxAlertsPerIncident() {
	board, _ := firebreak.NewBoard("checkout")
	for i := range 250 {
		board.Report(firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "worker", Dependency: "queue",
			Firing: true, Labels: map[string]string{"request_id": fmt.Sprintf("req-%03d", i)}})
	}
	inc := board.List(firebreak.Filter{})[0]
	last := inc.Alerts[len(inc.Alerts)-1]
	fmt.Println(len(inc.Alerts), "entries;", last.Summary)
	// Output: 101 entries; and 150 more alerts of kind health_failed (150 firing)
}
