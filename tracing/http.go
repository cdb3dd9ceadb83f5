package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/felixge/httpsnoop"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/firebreak-go/firebreak"
)

// Handler is HTTP server middleware. It serves through otelhttp, which makes
// the server spans and extracts W3C trace context, and keeps RED statistics
// and the SLO per route. A response with a 5xx status, or a handler that
// panics, is an error, except for a short request whose client went away,
// which is counted as given up ([Snapshot].GaveUp). Handler is safe for
// concurrent use.
type Handler struct {
	h      http.Handler
	routes *routeSet
	loop   loop
}

// NewHandler wraps next for component c, the server; c.Reporter receives the
// SLO signals. The route of a request is the ServeMux pattern that matched
// it (see [WithRoute]); wrap the mux itself, not the handlers registered on
// it.
func NewHandler(next http.Handler, c firebreak.Component, opts ...HTTPOption) (*Handler, error) {
	if next == nil {
		return nil, errors.New("tracing: NewHandler: the next handler is nil")
	}
	cfg, rs, err := newRouteSet("NewHandler", c, opts)
	if err != nil {
		return nil, err
	}
	route := cfg.route
	if route == nil {
		route = func(r *http.Request) string {
			if r.Pattern != "" {
				return r.Pattern
			}
			return "unmatched"
		}
	}
	h := &Handler{routes: rs}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		status := 0
		ww := httpsnoop.Wrap(w, httpsnoop.Hooks{
			WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
				return func(code int) {
					if status == 0 && code >= 200 {
						status = code
					}
					next(code)
				}
			},
		})
		done := false
		defer func() {
			if !done { // the handler panicked; net/http fails the request
				rs.record(r.Context(), route(r), start, true)
			}
		}()
		// r goes on unchanged, so that the mux's Request.Pattern is visible
		// here afterwards.
		next.ServeHTTP(ww, r)
		done = true
		nameServerSpan(r)
		rs.record(r.Context(), route(r), start, status >= 500)
	})
	// otelhttp names the server span "GET" at the start and "GET /route"
	// once the mux has matched; nameServerSpan adds http.route.
	h.h = otelhttp.NewHandler(inner, c.Name,
		otelhttp.WithTracerProvider(cfg.tp), otelhttp.WithMeterProvider(cfg.mp), otelhttp.WithPropagators(cfg.props))
	return h, nil
}

// spanMethod is the name of a client span, as the semantic conventions give
// it when no URL template is known: the method, or "HTTP" for a method
// outside the standard set.
func spanMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace, "QUERY":
		return m
	}
	return "HTTP"
}

// httpRoute returns the path template of a ServeMux pattern ("GET
// example.com/orders/{id}" → "/orders/{id}"), or "" for none.
func httpRoute(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = strings.TrimLeft(pattern[i+1:], " \t")
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:] // drop the host
	}
	if !strings.HasPrefix(pattern, "/") {
		return ""
	}
	return pattern
}

// nameServerSpan puts the route the mux matched on the server span of r as
// http.route, as the semantic conventions ask; otelhttp knows the route only
// after the span started, and uses it for the span name ("GET /orders/{id}")
// and its metrics but not for the span's attributes.
func nameServerSpan(r *http.Request) {
	if route := httpRoute(r.Pattern); route != "" {
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			span.SetAttributes(semconv.HTTPRoute(route))
		}
	}
}

// ServeHTTP implements [http.Handler].
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.h.ServeHTTP(w, r) }

// Stats returns the statistics of a route, and false if the route has seen
// no request.
func (h *Handler) Stats(route string) (*Stats, bool) { return h.routes.lookup(route) }

// Routes returns the routes seen so far, sorted.
func (h *Handler) Routes() []string { return h.routes.names() }

// Start starts a goroutine that evaluates every route's SLO at the evaluation
// interval, so that alerts clear even when a route gets no more requests.
// Without it, routes are evaluated on their requests. Start returns at once;
// calling it again does nothing; after Close it returns an error wrapping
// [firebreak.ErrClosed].
func (h *Handler) Start(ctx context.Context) error {
	return h.loop.start(ctx, "Handler", h.routes.pollInterval(), h.routes.poll)
}

// Close stops the goroutine started by Start and waits for it within ctx,
// as [Observer.Close] does. It is idempotent.
func (h *Handler) Close(ctx context.Context) error { return h.loop.close(ctx, "Handler") }

// Transport is an HTTP client [http.RoundTripper]. It sends through otelhttp,
// which makes the client spans and injects W3C trace context, and keeps RED
// statistics and the SLO per route. A transport error, a 5xx or a 429
// response is an error, except for a short request its caller cancelled,
// which is counted as given up ([Snapshot].GaveUp). Transport is safe for
// concurrent use.
type Transport struct {
	rt     http.RoundTripper
	routes *routeSet
	loop   loop
}

// NewTransport wraps base (nil means [http.DefaultTransport]) for component
// c, the caller; c.Dependency names what it calls and c.Reporter receives the
// SLO signals. The route of a request is its method and host (see
// [WithRoute]).
func NewTransport(base http.RoundTripper, c firebreak.Component, opts ...HTTPOption) (*Transport, error) {
	if base == nil {
		base = http.DefaultTransport
	}
	cfg, rs, err := newRouteSet("NewTransport", c, opts)
	if err != nil {
		return nil, err
	}
	route := cfg.route
	if route == nil {
		route = func(r *http.Request) string { return r.Method + " " + r.URL.Host }
	}
	inner := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := base.RoundTrip(r)
		if err != nil && excluded(err) { // refused locally by a wrapped policy
			rs.stats(route(r)).RecordRejected()
			return resp, err
		}
		failed := err != nil || resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
		rs.record(r.Context(), route(r), start, failed)
		return resp, err
	})
	t := &Transport{routes: rs}
	t.rt = otelhttp.NewTransport(inner,
		otelhttp.WithTracerProvider(cfg.tp), otelhttp.WithMeterProvider(cfg.mp), otelhttp.WithPropagators(cfg.props),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return spanMethod(r.Method) }))
	return t, nil
}

// RoundTrip implements [http.RoundTripper].
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) { return t.rt.RoundTrip(r) }

// Stats returns the statistics of a route, and false if the route has seen
// no request.
func (t *Transport) Stats(route string) (*Stats, bool) { return t.routes.lookup(route) }

// Routes returns the routes seen so far, sorted.
func (t *Transport) Routes() []string { return t.routes.names() }

// Start starts a goroutine that evaluates every route's SLO, as
// [Handler.Start] does.
func (t *Transport) Start(ctx context.Context) error {
	return t.loop.start(ctx, "Transport", t.routes.pollInterval(), t.routes.poll)
}

// Close stops the goroutine started by Start and waits for it within ctx,
// as [Observer.Close] does. It is idempotent.
func (t *Transport) Close(ctx context.Context) error { return t.loop.close(ctx, "Transport") }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// routeSet holds the statistics of at most cfg.maxRoutes routes.
type routeSet struct {
	bind     firebreak.Binding // bound at construction; the routes' SLOs report through it
	cfg      config
	m        sync.Map   // route name → *Stats; read without locking
	mu       sync.Mutex // guards n and the creation of entries
	n        int
	overflow *Stats
	// full is set, under mu, once n reached cfg.maxRoutes and overflow is
	// in m: from then on an unknown route is counted under OverflowRoute
	// without taking mu.
	full atomic.Bool
}

// newRouteSet validates c and the options of the constructor fn.
func newRouteSet(fn string, c firebreak.Component, opts []HTTPOption) (config, *routeSet, error) {
	if err := c.Validate(); err != nil {
		return config{}, nil, fmt.Errorf("tracing: %s: %w", fn, err)
	}
	cfg, err := httpConfig(fn, opts)
	if err != nil {
		return cfg, nil, err
	}
	rs := &routeSet{cfg: cfg}
	if _, err := rs.bind.Bind("tracing: "+fn, c); err != nil { // cannot fail: c is valid and rs new
		return cfg, nil, err
	}
	// Made now so that construction errors surface here, not on a request.
	if rs.overflow, err = newOperationStats(&rs.bind, &rs.cfg, map[string]string{"route": OverflowRoute}); err != nil {
		return cfg, nil, err
	}
	return cfg, rs, nil
}

func (rs *routeSet) stats(route string) *Stats {
	if v, ok := rs.m.Load(route); ok {
		return v.(*Stats)
	}
	if rs.full.Load() {
		return rs.overflow
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if v, ok := rs.m.Load(route); ok {
		return v.(*Stats)
	}
	if rs.n >= rs.cfg.maxRoutes || route == OverflowRoute {
		rs.m.LoadOrStore(OverflowRoute, rs.overflow)
		if rs.n >= rs.cfg.maxRoutes {
			rs.full.Store(true)
		}
		return rs.overflow
	}
	s, err := newOperationStats(&rs.bind, &rs.cfg, map[string]string{"route": route})
	if err != nil { // cannot happen: the same settings made rs.overflow
		return rs.overflow
	}
	rs.m.Store(route, s)
	rs.n++
	return s
}

// record records a request of route that started at start and failed or
// not; ctx is the request's. A failed request whose caller gave up early
// (ctx ended, and the request was short: [firebreak.Hung] with its
// defaults) is counted as given up, as an [Observer] does: a cancelled
// client, or a hedge's loser, says nothing about the dependency.
func (rs *routeSet) record(ctx context.Context, route string, start time.Time, failed bool) {
	s := rs.stats(route)
	end := time.Now()
	d := end.Sub(start)
	if failed && ctx.Err() != nil &&
		!firebreak.Hung(ctx, start, end, firebreak.DefaultHangThreshold, firebreak.DefaultHangBudget) {
		s.recordGaveUp(int64(start.Sub(s.base) + d))
		return
	}
	if sc := trace.SpanContextFromContext(ctx); failed && sc.IsSampled() {
		s.noteFailure(sc.TraceID())
	}
	s.record(int64(start.Sub(s.base)+d), d, failed)
}

func (rs *routeSet) lookup(route string) (*Stats, bool) {
	v, ok := rs.m.Load(route)
	if !ok {
		return nil, false
	}
	return v.(*Stats), true
}

func (rs *routeSet) names() []string {
	var out []string
	rs.m.Range(func(k, _ any) bool {
		out = append(out, k.(string))
		return true
	})
	slices.Sort(out)
	return out
}

func (rs *routeSet) poll() {
	rs.m.Range(func(_, v any) bool {
		v.(*Stats).poll()
		return true
	})
}

func (rs *routeSet) pollInterval() time.Duration { return rs.overflow.pollInterval() }
