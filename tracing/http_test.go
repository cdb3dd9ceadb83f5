package tracing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/firebreak-go/firebreak"
)

func TestHTTPTraceContextCrossesHop(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	defer tp.Shutdown(context.Background())
	props := WithPropagators(propagation.TraceContext{})

	var serverSide trace.SpanContext
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pay/{id}", func(w http.ResponseWriter, r *http.Request) {
		serverSide = trace.SpanContextFromContext(r.Context())
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.WriteHeader(code)
	})
	h, err := NewHandler(mux, firebreak.Component{Name: "payments-api"}, WithTracerProvider(tp), props)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	tr, err := NewTransport(nil, firebreak.Component{Name: "checkout", Dependency: "payments-api"}, WithTracerProvider(tp), props)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: tr}
	defer client.CloseIdleConnections()

	ctx, parent := tp.Tracer("test").Start(context.Background(), "checkout")
	for _, code := range []int{200, 503, 429, 200} {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/pay/42?code="+strconv.Itoa(code), nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Fatalf("status %d, want %d", resp.StatusCode, code)
		}
	}
	parent.End()

	if serverSide.TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("server saw trace %v, client sent %v", serverSide.TraceID(), parent.SpanContext().TraceID())
	}
	var server, client_ []sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		switch s.SpanKind() {
		case trace.SpanKindServer:
			server = append(server, s)
		case trace.SpanKindClient:
			client_ = append(client_, s)
		}
	}
	if len(server) != 4 || len(client_) != 4 {
		t.Fatalf("%d server and %d client spans, want 4 each", len(server), len(client_))
	}
	for i := range server {
		if server[i].Parent().SpanID() != client_[i].SpanContext().SpanID() {
			t.Errorf("server span %d's parent is %v, want the client span %v", i, server[i].Parent().SpanID(), client_[i].SpanContext().SpanID())
		}
		if client_[i].Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("client span %d is not a child of the caller's span", i)
		}
	}
	if server[0].Name() != "GET /pay/{id}" {
		t.Errorf("server span name = %q, want the route", server[0].Name())
	}

	// A 5xx fails the server; a 5xx or a 429 fails the client.
	ss, ok := h.Stats("GET /pay/{id}")
	if !ok {
		t.Fatalf("no server route statistics; routes %v", h.Routes())
	}
	if snap := ss.Snapshot(); snap.Requests != 4 || snap.Errors != 1 {
		t.Errorf("server route: %+v", snap)
	}
	route := "GET " + srv.Listener.Addr().String()
	cs, ok := tr.Stats(route)
	if !ok {
		t.Fatalf("no client route %q; routes %v", route, tr.Routes())
	}
	if snap := cs.Snapshot(); snap.Requests != 4 || snap.Errors != 2 {
		t.Errorf("client route: %+v", snap)
	}
	if got := ss.recentTraceIDs(); len(got) != 1 || got[0] != parent.SpanContext().TraceID().String() {
		t.Errorf("server evidence trace IDs = %v", got)
	}
}

func TestHTTPTransportError(t *testing.T) {
	tr, err := NewTransport(roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, context.DeadlineExceeded }),
		firebreak.Component{Name: "checkout"}, WithRoute(func(*http.Request) string { return "payments" }))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://payments.invalid/", nil)
	if _, err := tr.RoundTrip(req); err == nil {
		t.Fatal("no error")
	}
	s, ok := tr.Stats("payments")
	if !ok || s.Snapshot().Errors != 1 {
		t.Errorf("routes %v", tr.Routes())
	}
}

func TestHTTPRouteLimit(t *testing.T) {
	h, err := NewHandler(http.NotFoundHandler(), firebreak.Component{Name: "api"}, WithMaxRoutes(2),
		WithRoute(func(r *http.Request) string { return r.URL.Path }))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/a", "/b", "/c", "/d", "/a"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	if got, want := h.Routes(), []string{"/a", "/b", OverflowRoute}; !equal(got, want) {
		t.Errorf("routes = %v, want %v", got, want)
	}
	if s, _ := h.Stats(OverflowRoute); s.Snapshot().Requests != 2 {
		t.Errorf("overflow route: %+v", s.Snapshot())
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestHTTPRouteSLO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &firebreak.Recorder{}
		fail := false
		mux := http.NewServeMux()
		mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
			if fail {
				http.Error(w, "down", http.StatusInternalServerError)
			}
		})
		mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {})
		h, err := NewHandler(mux, firebreak.Component{Name: "orders-api", Tier: firebreak.Core, Reporter: rec},
			WithSLO(SLO{Availability: 0.99, Windows: ScaleWindows(WorkbookWindows()[:1], 1.0/60)}))
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer h.Close(context.Background())
		serve := func(method, path string, d time.Duration) {
			for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, path, nil))
			}
		}
		serve("POST", "/orders", 2*time.Minute)
		fail = true
		serve("POST", "/orders", 30*time.Second)
		s, ok := rec.Last(firebreak.KindErrorBudgetBurn)
		if !ok || !s.Firing || s.Labels["route"] != "POST /orders" || s.Labels["window"] != "" || s.Metrics["burn_rate_threshold"] != 14.4 || s.Component != "orders-api" {
			t.Fatalf("signals = %v; last %+v", firingOf(rec.Signals()), s)
		}
		// The route now gets no requests: the started evaluator clears it.
		serve("GET", "/health", 10*time.Minute)
		synctest.Wait()
		if s, _ := rec.Last(firebreak.KindErrorBudgetBurn); s.Firing {
			t.Errorf("still firing without requests: %v", firingOf(rec.Signals()))
		}
		for _, s := range rec.Signals() {
			if s.Labels["route"] != "POST /orders" {
				t.Errorf("signal for route %q", s.Labels["route"])
			}
		}
	})
}

// Two services in one process over loopback, with neither WithPropagators
// nor a global propagator: the trace still crosses the hop, because the
// default is W3C trace context and baggage while the global propagator is
// OpenTelemetry's no-op default.
func TestHTTPDefaultPropagationTwoServices(t *testing.T) {
	old := otel.GetTextMapPropagator()
	defer otel.SetTextMapPropagator(old)
	for _, tc := range []struct {
		name      string
		global    propagation.TextMapPropagator
		wantJoint bool
	}{
		{"no-op global", propagation.NewCompositeTextMapPropagator(), true},
		{"global set to baggage only", propagation.Baggage{}, false}, // the user's choice is kept
	} {
		t.Run(tc.name, func(t *testing.T) {
			otel.SetTextMapPropagator(tc.global)
			sr := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
			defer tp.Shutdown(context.Background())

			backMux := http.NewServeMux()
			backMux.HandleFunc("GET /pay/{id}", func(w http.ResponseWriter, r *http.Request) {})
			back, err := NewHandler(backMux, firebreak.Component{Name: "payments-api"}, WithTracerProvider(tp))
			if err != nil {
				t.Fatal(err)
			}
			backSrv := httptest.NewServer(back)
			defer backSrv.Close()

			tr, err := NewTransport(nil, firebreak.Component{Name: "checkout-api", Dependency: "payments-api"}, WithTracerProvider(tp))
			if err != nil {
				t.Fatal(err)
			}
			client := &http.Client{Transport: tr}
			defer client.CloseIdleConnections()
			frontMux := http.NewServeMux()
			frontMux.HandleFunc("GET /checkout", func(w http.ResponseWriter, r *http.Request) {
				req, _ := http.NewRequestWithContext(r.Context(), "GET", backSrv.URL+"/pay/42", nil)
				resp, err := client.Do(req)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				resp.Body.Close()
			})
			front, err := NewHandler(frontMux, firebreak.Component{Name: "checkout-api"}, WithTracerProvider(tp))
			if err != nil {
				t.Fatal(err)
			}
			frontSrv := httptest.NewServer(front)
			defer frontSrv.Close()

			resp, err := http.Get(frontSrv.URL + "/checkout") // no trace context from outside
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			frontSrv.Close()
			backSrv.Close()

			spans := map[string]sdktrace.ReadOnlySpan{}
			for _, s := range sr.Ended() {
				spans[s.SpanKind().String()+" "+s.Name()] = s
			}
			frontSpan, backSpan, clientSpan := spans["server GET /checkout"], spans["server GET /pay/{id}"], spans["client GET"]
			if frontSpan == nil || backSpan == nil || clientSpan == nil {
				t.Fatalf("spans %v, want server \"GET /checkout\", server \"GET /pay/{id}\" and client \"GET\"", spanNames(spans))
			}
			joint := backSpan.SpanContext().TraceID() == frontSpan.SpanContext().TraceID() &&
				backSpan.Parent().SpanID() == clientSpan.SpanContext().SpanID()
			if joint != tc.wantJoint {
				t.Errorf("one trace across the hop = %v, want %v", joint, tc.wantJoint)
			}
			if clientSpan.SpanContext().TraceID() != frontSpan.SpanContext().TraceID() {
				t.Error("client span is not in the front server's trace")
			}
			if got := attr(backSpan, "http.route"); got != "/pay/{id}" {
				t.Errorf("back server span http.route = %q, want /pay/{id}", got)
			}
			if got := attr(frontSpan, "http.route"); got != "/checkout" {
				t.Errorf("front server span http.route = %q, want /checkout", got)
			}
		})
	}
}

func spanNames(m map[string]sdktrace.ReadOnlySpan) (out []string) {
	for k := range m {
		out = append(out, k)
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.AsString()
		}
	}
	return ""
}

func TestHTTPRoute(t *testing.T) {
	for pattern, want := range map[string]string{
		"": "", "GET /orders/{id}": "/orders/{id}", "/health": "/health",
		"example.com/x": "/x", "POST example.com/a/{b...}": "/a/{b...}",
	} {
		if got := httpRoute(pattern); got != want {
			t.Errorf("httpRoute(%q) = %q, want %q", pattern, got, want)
		}
	}
	for m, want := range map[string]string{"GET": "GET", "DELETE": "DELETE", "BREW": "HTTP"} {
		if got := spanMethod(m); got != want {
			t.Errorf("spanMethod(%q) = %q, want %q", m, got, want)
		}
	}
}
