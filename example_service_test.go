package firebreak_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/tracing"
)

// A service wired together: one dependency call guarded by tracing and a
// breaker, health probes, and the operations API, all reporting into one
// Board. The README shows the same code.
func Example_service() {
	ctx := context.Background()
	board, _ := firebreak.NewBoard("checkout", firebreak.WithNotifier(firebreak.SlogNotifier(nil)))
	defer board.Close(ctx)

	// One Component names the call: who calls what, how critical it is, where signals go.
	payments := firebreak.Component{Name: "checkout-api", Dependency: "payments", Tier: firebreak.Core, Reporter: board}
	obs, _ := tracing.New[string]() // spans, RED statistics, SLO burn alerts
	br, _ := breaker.New[string]()  // isolates payments when it fails
	pay, _ := firebreak.NewPipeline(payments, []firebreak.Policy[string]{obs, br})
	receipt, err := pay.Execute(ctx, func(ctx context.Context) (string, error) {
		return "receipt-42", nil // call payments here
	})

	probes, _ := health.New()
	probes.Bind(firebreak.Component{Name: "checkout-api", Tier: firebreak.Core, Reporter: board})
	probes.Register("payments-ping", health.CheckFunc(func(ctx context.Context) error { return nil }), health.ForComponent(payments))
	probes.Start(ctx) // returns once every check has a first result
	defer probes.Close(ctx)

	auth, _ := firebreak.BearerTokens(map[string]string{"token-from-your-secret-store-0123": "on-duty"})
	ops, _ := firebreak.OpsHandler(board, auth, firebreak.WithPathPrefix("/ops"))
	mux := http.NewServeMux()
	mux.Handle("/ops/", ops)          // the incident API, authorised
	mux.Handle("/", probes.Handler()) // /livez /readyz /startupz /health
	// http.ListenAndServe(":8080", mux)

	fmt.Println(receipt, err)
	for _, path := range []string{"/readyz", "/ops/incidents"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		fmt.Println("GET", path, "→", rec.Code)
	}
	// Output:
	// receipt-42 <nil>
	// GET /readyz → 200
	// GET /ops/incidents → 401
}
