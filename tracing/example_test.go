package tracing_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/tracing"
)

// An Observer in a pipeline: the pipeline binds it to its component and
// runs it outermost, whatever the order the policies are given in. Each call
// is a span, and its outcome is counted in the observer's statistics.
func ExampleObserver() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())

	obs, err := tracing.New[string](tracing.WithTracerProvider(tp))
	if err != nil {
		panic(err)
	}
	pipe, err := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "payments-db", Tier: firebreak.Core},
		[]firebreak.Policy[string]{obs})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	_, _ = pipe.Execute(ctx, func(ctx context.Context) (string, error) { return "paid", nil })
	_, err = pipe.Execute(ctx, func(ctx context.Context) (string, error) { return "", context.DeadlineExceeded })
	fmt.Println("second call:", err)

	for _, s := range spans.Ended() {
		errType := ""
		for _, kv := range s.Attributes() {
			if kv.Key == tracing.AttrErrorType {
				errType = kv.Value.AsString()
			}
		}
		fmt.Printf("%s %s status=%s error.type=%q events=%d\n", s.Name(), s.SpanKind(), s.Status().Code, errType, len(s.Events()))
	}
	snap := obs.Stats().Snapshot()
	fmt.Printf("requests=%d errors=%d ratio=%.2f\n", snap.Requests, snap.Errors, snap.ErrorRatio)
	// Output:
	// second call: context deadline exceeded
	// payments-db client status=Unset error.type="" events=0
	// payments-db client status=Error error.type="timeout" events=1
	// requests=2 errors=1 ratio=0.50
}

// An Observer used on its own is bound by its user, once; binding it again
// to the same identity does nothing, and to another is an error.
func ExampleObserver_Bind() {
	obs, err := tracing.New[int]()
	if err != nil {
		panic(err)
	}
	c := firebreak.Component{Name: "checkout", Dependency: "inventory"}
	fmt.Println(obs.Bind(c))
	fmt.Println(obs.Bind(c))
	fmt.Println(obs.Bind(firebreak.Component{Name: "checkout", Dependency: "payments"}))
	n, err := obs.Execute(context.Background(), func(context.Context) (int, error) { return 42, nil })
	fmt.Println(n, err, obs.Snapshot().Requests)
	// Output:
	// <nil>
	// <nil>
	// tracing: Observer is bound to "checkout" → "inventory" (standard) and cannot be bound to "checkout" → "payments" (standard); build one per component
	// 42 <nil> 1
}

// An availability SLO with short windows: a complete outage fires the page
// tier, and recovery clears it. However often the firing alert is reported
// again as the outage deepens, it is one alert: the labels stay the same.
// (Real services keep the workbook's windows.)
func ExampleWithSLO() {
	var rec firebreak.Recorder
	obs, err := tracing.New[int](tracing.WithSLO(tracing.SLO{
		Availability: 0.99,
		Windows:      []tracing.BurnWindow{{Long: time.Second, Short: 100 * time.Millisecond, BurnRate: 14.4}},
		MinRequests:  10,
	}))
	if err != nil {
		panic(err)
	}
	if err := obs.Bind(firebreak.Component{Name: "checkout", Dependency: "payments", Reporter: &rec}); err != nil {
		panic(err)
	}
	call := func(err error) {
		_, _ = obs.Execute(context.Background(), func(context.Context) (int, error) { return 0, err })
		time.Sleep(2 * time.Millisecond)
	}
	for range 200 { // healthy traffic
		call(nil)
	}
	for rec.Len() == 0 { // outage
		call(errors.New("connection refused"))
	}
	first := rec.Signals()[0]
	fmt.Println(first.Kind, first.Labels, "firing:", first.Firing, "error_ratio_now >= 0.5:", first.Metrics["error_ratio_now"] >= 0.5)
	for s, _ := rec.Last(firebreak.KindErrorBudgetBurn); s.Firing; s, _ = rec.Last(firebreak.KindErrorBudgetBurn) {
		call(nil) // recovery
	}
	last, _ := rec.Last(firebreak.KindErrorBudgetBurn)
	fmt.Println(last.Kind, last.Labels, "firing:", last.Firing)
	// Output:
	// error_budget_burn map[slo:availability] firing: true error_ratio_now >= 0.5: true
	// error_budget_burn map[slo:availability] firing: false
}

// Stats on their own, for code that measures calls itself.
func ExampleStats() {
	st, err := tracing.NewStats(tracing.DefaultStatsWindow)
	if err != nil {
		panic(err)
	}
	for i := 1; i <= 100; i++ {
		st.Record(time.Duration(i)*time.Millisecond, i > 95)
	}
	snap := st.Snapshot()
	fmt.Printf("requests=%d errors=%d p50≈%dms p99≈%dms\n", snap.Requests, snap.Errors,
		snap.P50.Round(10*time.Millisecond).Milliseconds(), snap.P99.Round(10*time.Millisecond).Milliseconds())
	// Output: requests=100 errors=5 p50≈50ms p99≈100ms
}

// ErrorTypeOpen is declared next to the error that has it.
const ErrorTypeOpen = "circuit_open"

type openError struct{}

func (openError) Error() string     { return "breaker open" }
func (openError) ErrorType() string { return ErrorTypeOpen }

// Errors name their error.type by implementing ErrorTyper; context errors and
// timeouts are recognised; anything else is "_OTHER".
func ExampleErrorType() {
	fmt.Println(tracing.ErrorType(fmt.Errorf("charge: %w", openError{})))
	fmt.Println(tracing.ErrorType(fmt.Errorf("charge: %w", context.DeadlineExceeded)))
	fmt.Println(tracing.ErrorType(errors.New("boom")))
	// Output:
	// circuit_open
	// timeout
	// _OTHER
}

// A server and a client: trace context crosses the hop, and each side keeps
// statistics per route.
func ExampleNewHandler() {
	props := tracing.WithPropagators(propagation.TraceContext{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "0" {
			http.Error(w, "no such order", http.StatusInternalServerError)
		}
	})
	h, err := tracing.NewHandler(mux, firebreak.Component{Name: "orders-api"}, props)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	tr, err := tracing.NewTransport(nil, firebreak.Component{Name: "checkout", Dependency: "orders-api"}, props)
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: tr}
	defer client.CloseIdleConnections()
	for _, id := range []string{"1", "2", "0"} {
		resp, err := client.Get(srv.URL + "/orders/" + id)
		if err != nil {
			panic(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	st, _ := h.Stats("GET /orders/{id}")
	snap := st.Snapshot()
	fmt.Println(h.Routes(), snap.Requests, snap.Errors)
	// Output: [GET /orders/{id}] 3 1
}
