package drill

import (
	"errors"
	"io"
	"net/http"
	"strings"
)

// Middleware returns next with the injector in front, for faults injected
// server-side: an error fault answers 500, a status fault its status, a
// latency fault delays the request, a blackhole holds it until the client
// goes away, a behavior fault runs its function (an error answers 500).
// The endpoint a scope tests is the request's pattern if the mux set one,
// else "METHOD /path"; the tenant is the [TenantHeader]. Unarmed, it costs
// one atomic load per request.
func (in *Injector) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := in.armed.Load()
		if a == nil {
			next.ServeHTTP(w, r)
			return
		}
		endpoint := r.Pattern
		if endpoint == "" {
			endpoint = r.Method + " " + r.URL.Path
		}
		req := requestOf(r, endpoint)
		ctx := r.Context()
		if !in.hit(ctx, a, req) {
			next.ServeHTTP(w, r)
			return
		}
		switch in.fault.kind {
		case faultError:
			http.Error(w, "injected fault (drill "+a.run.id+")", http.StatusInternalServerError)
			return
		case faultStatus:
			http.Error(w, "injected fault (drill "+a.run.id+")", in.fault.status)
			return
		case faultLatency, faultBlackhole:
			if in.wait(ctx) != nil {
				return // the client has gone
			}
		case faultBehavior:
			if err := in.behave(ctx, a); err != nil {
				http.Error(w, "injected fault (drill "+a.run.id+")", http.StatusInternalServerError)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Transport returns base (nil: [http.DefaultTransport]) with the injector
// in front, for faults injected client-side: an error fault returns its
// error, a status fault a response with its status and an empty body, a
// latency fault delays the request, a blackhole holds it until the request's
// context ends. The endpoint a scope tests is "METHOD host/path". Unarmed,
// it costs one atomic load per request.
func (in *Injector) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{in: in, base: base}
}

type transport struct {
	in   *Injector
	base http.RoundTripper
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	a := t.in.armed.Load()
	if a == nil {
		return t.base.RoundTrip(r)
	}
	in := t.in
	ctx := r.Context()
	if !in.hit(ctx, a, requestOf(r, r.Method+" "+r.URL.Host+r.URL.Path)) {
		return t.base.RoundTrip(r)
	}
	closeBody := func() {
		if r.Body != nil {
			r.Body.Close() // a RoundTripper must close the body, even on an error
		}
	}
	switch in.fault.kind {
	case faultError:
		closeBody()
		return nil, in.faultErr(a)
	case faultStatus:
		closeBody()
		return &http.Response{
			Status: http.StatusText(in.fault.status), StatusCode: in.fault.status,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:  http.Header{"X-Firebreak-Drill": {a.run.id}},
			Body:    io.NopCloser(strings.NewReader("")),
			Request: r,
		}, nil
	case faultLatency, faultBlackhole:
		if err := in.wait(ctx); err != nil {
			closeBody()
			return nil, err
		}
	case faultBehavior:
		if err := in.behave(ctx, a); err != nil {
			closeBody()
			return nil, err
		}
	}
	return t.base.RoundTrip(r)
}

// Propagate returns next wrapped so that, while any injector in the process
// is armed, the request's endpoint, tenant and headers travel in its
// context to the pipelines the handler calls (see [Request]). While none is
// armed it costs one atomic load.
func Propagate(next http.Handler) (http.Handler, error) {
	if next == nil {
		return nil, errors.New("drill: Propagate: the handler is nil")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if armedInjectors.Load() == 0 {
			next.ServeHTTP(w, r)
			return
		}
		endpoint := r.Pattern
		if endpoint == "" {
			endpoint = r.Method + " " + r.URL.Path
		}
		next.ServeHTTP(w, r.WithContext(WithRequest(r.Context(), requestOf(r, endpoint))))
	}), nil
}
