package fbhttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/failover"
	"github.com/firebreak-go/firebreak/fbhttp"
	"github.com/firebreak-go/firebreak/tracing"
)

type resp = *http.Response

// pipeline builds observe → retry → breaker for c, with a fast backoff.
func pipeline(t testing.TB, c firebreak.Component, retryOpts ...failover.RetryOption) *firebreak.Pipeline[resp] {
	t.Helper()
	retry, err := failover.NewRetry[resp](append([]failover.RetryOption{
		failover.WithRetryIf(failover.RetryHTTP), failover.WithBackoff(time.Millisecond, 10*time.Millisecond, 2), failover.WithMaxAttempts(3),
	}, retryOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := breaker.New[resp](breaker.WithConsecutiveFailures(5))
	if err != nil {
		t.Fatal(err)
	}
	p, err := firebreak.NewPipeline(c, []firebreak.Policy[resp]{retry, cb})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// flaky answers 503 to the first fail requests, then 200 with the body it read.
type flaky struct {
	fail   int64
	hits   atomic.Int64
	mu     sync.Mutex
	bodies []string
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, string(b))
	f.mu.Unlock()
	if f.hits.Add(1) <= f.fail {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "down")
		return
	}
	io.WriteString(w, "ok:"+string(b))
}

func client(t testing.TB, p *firebreak.Pipeline[resp], opts ...fbhttp.Option) *http.Client {
	t.Helper()
	tr, err := fbhttp.New(nil, p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: tr}
}

func readAll(t *testing.T, r *http.Response) string {
	t.Helper()
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRetriesOnlyIdempotent: against a real loopback server that fails
// twice, a GET, a PUT and a POST with an Idempotency-Key are retried to
// success; a plain POST is sent once and its 503 reaches the caller as the
// response; WithIdempotent can allow it.
func TestRetriesOnlyIdempotent(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		key      bool
		retryAll bool
		wantCode int
		wantHits int64
	}{
		{"GET", http.MethodGet, false, false, 200, 3},
		{"PUT", http.MethodPut, false, false, 200, 3},
		{"DELETE", http.MethodDelete, false, false, 200, 3},
		{"POST", http.MethodPost, false, false, 503, 1},
		{"PATCH", http.MethodPatch, false, false, 503, 1},
		{"POST with Idempotency-Key", http.MethodPost, true, false, 200, 3},
		{"POST with WithIdempotent", http.MethodPost, false, true, 200, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &flaky{fail: 2}
			srv := httptest.NewServer(f)
			defer srv.Close()
			var opts []fbhttp.Option
			if tt.retryAll {
				opts = append(opts, fbhttp.WithIdempotent(func(*http.Request) bool { return true }))
			}
			c := client(t, pipeline(t, firebreak.Component{Name: "checkout", Dependency: "api"}), opts...)
			defer c.CloseIdleConnections()
			req, _ := http.NewRequest(tt.method, srv.URL, strings.NewReader("order-17"))
			if tt.key {
				req.Header.Set("Idempotency-Key", "k-17")
			}
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, res)
			if res.StatusCode != tt.wantCode || f.hits.Load() != tt.wantHits {
				t.Fatalf("status %d after %d requests, want %d after %d", res.StatusCode, f.hits.Load(), tt.wantCode, tt.wantHits)
			}
			if tt.wantCode == 503 && body != "down" {
				t.Errorf("body of the server's 503 = %q, want %q", body, "down")
			}
			if tt.wantCode == 200 && body != "ok:order-17" {
				t.Errorf("body = %q", body)
			}
		})
	}
}

// onlyReader hides bytes.Reader's type so that http.NewRequest sets no GetBody.
type onlyReader struct{ io.Reader }

// TestBodyReplayed: a body without GetBody is read ahead and sent whole on
// every attempt; one larger than WithMaxBodyBuffer is streamed once, whole.
func TestBodyReplayed(t *testing.T) {
	payload := strings.Repeat("x", 10_000)
	for _, tt := range []struct {
		name     string
		max      int64
		wantHits int64
	}{
		{"buffered", 1 << 20, 3},
		{"too large to buffer", 4096, 1},
		{"buffering off", 0, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &flaky{fail: 2}
			srv := httptest.NewServer(f)
			defer srv.Close()
			c := client(t, pipeline(t, firebreak.Component{Name: "checkout", Dependency: "api"}), fbhttp.WithMaxBodyBuffer(tt.max))
			defer c.CloseIdleConnections()
			req, _ := http.NewRequest(http.MethodPut, srv.URL, onlyReader{strings.NewReader(payload)})
			if req.GetBody != nil {
				t.Fatal("the request has GetBody; the test needs one without")
			}
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, res)
			if f.hits.Load() != tt.wantHits {
				t.Fatalf("%d requests, want %d", f.hits.Load(), tt.wantHits)
			}
			for i, b := range f.bodies {
				if b != payload {
					t.Errorf("attempt %d got %d bytes, want %d", i+1, len(b), len(payload))
				}
			}
		})
	}
}

// TestRetryAfterHonoured: in virtual time, a 503 with Retry-After: 7 makes
// the next attempt wait 7 seconds, not the backoff's millisecond, and a 429
// with an HTTP date waits until that date.
func TestRetryAfterHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hits atomic.Int64
		var at []time.Duration
		start := time.Now()
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			at = append(at, time.Since(start))
			switch hits.Add(1) {
			case 1:
				w.Header().Set("Retry-After", "7")
				w.WriteHeader(http.StatusServiceUnavailable)
			case 2:
				w.Header().Set("Retry-After", time.Now().Add(12*time.Second).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusTooManyRequests)
			default:
				io.WriteString(w, "ok")
			}
		})
		tr, err := fbhttp.New(handlerTransport{h}, pipeline(t, firebreak.Component{Name: "checkout", Dependency: "api"}))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://api.internal/quote", nil)
		res, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, res); got != "ok" {
			t.Fatalf("body %q", got)
		}
		if len(at) != 3 || at[1] != 7*time.Second || at[2] < 19*time.Second || at[2] > 20*time.Second {
			t.Fatalf("attempts at %v, want 0, 7s, 19s (the date has one-second precision)", at)
		}
	})
}

// handlerTransport serves requests in memory with a handler, so that a test
// can run in a synctest bubble (a bubble cannot wait on real sockets).
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, r)
	if r.Body != nil {
		r.Body.Close()
	}
	return w.Result(), nil
}

// TestOutageAfterAnHour plays 100 requests/s for an hour in virtual time
// against a healthy host, then the host answers 503 to everything: the
// breaker opens within seconds and callers get an error matching
// breaker.ErrOpen through http.Client, the retry budget keeps the extra
// load under a quarter of the calls, and when the host recovers the
// breaker closes again. Throughout, a second host keeps serving.
func TestOutageAfterAnHour(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var down atomic.Bool
		var hits [2]atomic.Int64
		hosts := map[string]int{"payments.internal": 0, "search.internal": 1}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i := hosts[r.Host]
			hits[i].Add(1)
			if i == 0 && down.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "ok")
		})
		rec := &firebreak.Recorder{}
		c, err := fbhttp.Protect(&http.Client{Transport: handlerTransport{h}}, firebreak.Component{Name: "checkout", Tier: firebreak.Core, Reporter: rec})
		if err != nil {
			t.Fatal(err)
		}
		type tally struct{ ok, open, served5xx, other int }
		play := func(d time.Duration, host string) tally {
			var n tally
			for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
				res, err := c.Get("http://" + host + "/v1")
				switch {
				case err == nil && res.StatusCode == 200:
					n.ok++
				case err == nil && res.StatusCode == 503:
					n.served5xx++
				case errors.Is(err, breaker.ErrOpen) && firebreak.IsRejected(err):
					n.open++
				default:
					n.other++
					t.Logf("unexpected: %v", err)
				}
				if err == nil {
					res.Body.Close()
				}
			}
			return n
		}
		if n := play(time.Hour, "payments.internal"); n.ok != 360_000 {
			t.Fatalf("healthy hour: %+v", n)
		}
		down.Store(true)
		before := hits[0].Load()
		outage := play(time.Minute, "payments.internal")
		sent := hits[0].Load() - before
		calls := int64(outage.ok + outage.open + outage.served5xx + outage.other)
		if float64(outage.open) < 0.8*float64(calls) || outage.other != 0 {
			t.Errorf("outage minute: %+v; want most calls refused by the open breaker", outage)
		}
		if float64(sent) > 0.25*float64(calls) {
			t.Errorf("the failing host got %d requests for %d calls: retries multiplied the load", sent, calls)
		}
		if n := play(time.Minute, "search.internal"); n.ok != 6000 {
			t.Errorf("the other host during the outage: %+v", n)
		}
		if len(rec.Of(firebreak.KindBreakerOpen)) == 0 {
			t.Error("no breaker_open signal")
		} else if s := rec.Of(firebreak.KindBreakerOpen)[0]; s.Dependency != "payments.internal" || s.Component != "checkout" {
			t.Errorf("breaker_open for %q/%q, want checkout/payments.internal", s.Component, s.Dependency)
		}
		down.Store(false)
		if n := play(3*time.Minute, "payments.internal"); n.ok < 17000 {
			t.Errorf("after recovery: %+v", n)
		}
	})
}

// TestTracePropagation: with an Observer in the pipeline, each attempt
// carries the observer's span as W3C traceparent to a real server.
func TestTracePropagation(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())
	var mu sync.Mutex
	var parents []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		parents = append(parents, r.Header.Get("traceparent"))
		n := len(parents)
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	obs, err := tracing.New[resp](tracing.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	retry, _ := failover.NewRetry[resp](failover.WithRetryIf(failover.RetryHTTP), failover.WithBackoff(time.Millisecond, time.Millisecond, 1))
	p, err := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "api"}, []firebreak.Policy[resp]{obs, retry})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, p, fbhttp.WithPropagators(propagation.TraceContext{}))
	defer c.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("X-Caller", "kept")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, res)
	ended := spans.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans, want the observer's one", len(ended))
	}
	want := ended[0].SpanContext().TraceID().String()
	if len(parents) != 2 {
		t.Fatalf("%d requests, want 2", len(parents))
	}
	for i, tp := range parents {
		if !strings.Contains(tp, want) {
			t.Errorf("attempt %d traceparent %q, want trace %s", i+1, tp, want)
		}
	}
	if req.Header.Get("traceparent") != "" {
		t.Error("the caller's request was modified")
	}
}

// TestKeyLimit: a per-host transport builds one pipeline per host up to
// WithMaxKeys and refuses the next host with a local rejection.
func TestKeyLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var built atomic.Int64
	tr, err := fbhttp.NewPerKey(nil, fbhttp.ByHost, func(host string) (*firebreak.Pipeline[resp], error) {
		built.Add(1)
		return fbhttp.DefaultPipeline(firebreak.Component{Name: "checkout", Dependency: host})
	}, fbhttp.WithMaxKeys(1))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: tr}
	defer c.CloseIdleConnections()
	for range 3 {
		res, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	other := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	_, err = c.Get(other)
	var kl *fbhttp.KeyLimitError
	if !errors.As(err, &kl) || !errors.Is(err, fbhttp.ErrKeyLimit) || firebreak.RejectionOf(err) != firebreak.RejectOverload {
		t.Fatalf("second host: %v", err)
	}
	if built.Load() != 1 || tr.Keys() != 1 {
		t.Errorf("built %d pipelines, holds %d; want 1", built.Load(), tr.Keys())
	}
}

// TestBuildErrorFailsRequest: a build that fails fails the request with
// its error and closes the request body.
func TestBuildErrorFailsRequest(t *testing.T) {
	boom := errors.New("no config for host")
	tr, _ := fbhttp.NewPerKey(nil, fbhttp.ByHost, func(string) (*firebreak.Pipeline[resp], error) { return nil, boom })
	body := &closeCounter{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest(http.MethodPost, "http://api.internal/", body)
	_, err := tr.RoundTrip(req)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), `"api.internal"`) {
		t.Fatalf("err = %v", err)
	}
	if body.closed.Load() != 1 {
		t.Errorf("request body closed %d times, want 1", body.closed.Load())
	}
}

type closeCounter struct {
	io.Reader
	closed atomic.Int64
}

func (c *closeCounter) Close() error { c.closed.Add(1); return nil }

// TestBodyClosedWhenNeverSent: a breaker open from the start refuses the
// request without sending it; its body is still closed, as RoundTrip must.
func TestBodyClosedWhenNeverSent(t *testing.T) {
	cb, _ := breaker.New[resp]()
	if err := cb.ForceOpen("INC-1: api isolated"); err != nil {
		t.Fatal(err)
	}
	p, _ := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "api"}, []firebreak.Policy[resp]{cb})
	tr, _ := fbhttp.New(handlerTransport{http.NotFoundHandler()}, p)
	for _, method := range []string{http.MethodPut, http.MethodPost} {
		body := &closeCounter{Reader: strings.NewReader("x")}
		req, _ := http.NewRequest(method, "http://api.internal/", body)
		_, err := tr.RoundTrip(req)
		if !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("%s: err = %v", method, err)
		}
		if body.closed.Load() != 1 {
			t.Errorf("%s: body closed %d times, want 1", method, body.closed.Load())
		}
	}
}

// TestFallbackResponse: a fallback's response replaces the failed one,
// whose body is drained and closed.
func TestFallbackResponse(t *testing.T) {
	var closed atomic.Bool
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 503, Status: "503 Service Unavailable", Body: &flagCloser{Reader: strings.NewReader("down"), closed: &closed}, Request: r}, nil
	})
	fb, _ := failover.NewFallback(func(ctx context.Context, err error) (resp, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("cached"))}, nil
	})
	p, _ := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "api"}, []firebreak.Policy[resp]{fb})
	tr, _ := fbhttp.New(base, p)
	req, _ := http.NewRequest(http.MethodGet, "http://api.internal/", nil)
	res, err := tr.RoundTrip(req)
	if err != nil || readAll(t, res) != "cached" {
		t.Fatalf("got %v, %v", res, err)
	}
	if !closed.Load() {
		t.Error("the failed response was not closed")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type flagCloser struct {
	io.Reader
	closed *atomic.Bool
}

func (c *flagCloser) Close() error { c.closed.Store(true); return nil }

// TestFailureRule: with the default rule 404 passes as a success and is not
// retried; WithFailure can make it a failure.
func TestFailureRule(t *testing.T) {
	var hits atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.WriteHeader(404) })
	for _, tt := range []struct {
		opts     []fbhttp.Option
		wantHits int64
	}{{nil, 1}, {[]fbhttp.Option{fbhttp.WithFailure(func(r *http.Response) bool { return r.StatusCode >= 400 })}, 3}} {
		hits.Store(0)
		retry, _ := failover.NewRetry[resp](failover.WithBackoff(time.Microsecond, time.Microsecond, 1))
		p, _ := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "api"}, []firebreak.Policy[resp]{retry})
		tr, _ := fbhttp.New(handlerTransport{h}, p, tt.opts...)
		req, _ := http.NewRequest(http.MethodGet, "http://api.internal/", nil)
		res, err := tr.RoundTrip(req)
		if err != nil || res.StatusCode != 404 {
			t.Fatalf("got %v, %v", res, err)
		}
		res.Body.Close()
		if hits.Load() != tt.wantHits {
			t.Errorf("%d requests, want %d", hits.Load(), tt.wantHits)
		}
	}
}

// TestOptionErrors: bad settings are errors naming the function and option.
func TestOptionErrors(t *testing.T) {
	p := pipeline(t, firebreak.Component{Name: "checkout", Dependency: "api"})
	key := fbhttp.ByHost
	build := func(string) (*firebreak.Pipeline[resp], error) { return p, nil }
	for _, tt := range []struct {
		err  error
		want string
	}{
		{second(fbhttp.New(nil, nil)), "fbhttp: New: pipeline is nil"},
		{second(fbhttp.New(nil, p, fbhttp.WithMaxKeys(3), nil)), "fbhttp: New: option 1 is nil"},
		{second(fbhttp.New(nil, p, fbhttp.WithMaxBodyBuffer(-1))), "fbhttp: New: WithMaxBodyBuffer: -1 bytes must not be negative"},
		{second(fbhttp.New(nil, p, fbhttp.WithIdempotent(nil))), "fbhttp: New: WithIdempotent: function is nil"},
		{second(fbhttp.New(nil, p, fbhttp.WithFailure(nil))), "fbhttp: New: WithFailure: function is nil"},
		{second(fbhttp.NewPerKey(nil, key, build, fbhttp.WithMaxKeys(0))), "fbhttp: NewPerKey: WithMaxKeys: 0 must be at least 1"},
		{second(fbhttp.NewPerKey(nil, nil, nil)), "fbhttp: NewPerKey: key function is nil\nfbhttp: NewPerKey: build function is nil"},
		{second(fbhttp.Protect(nil, firebreak.Component{})), "fbhttp: Protect: firebreak: Component.Name is required"},
	} {
		if tt.err == nil || tt.err.Error() != tt.want {
			t.Errorf("got %v, want %q", tt.err, tt.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// TestProtectLeavesClientAlone: Protect returns a copy; the client given
// keeps its transport.
func TestProtectLeavesClientAlone(t *testing.T) {
	orig := &http.Client{Transport: handlerTransport{http.NotFoundHandler()}, Timeout: time.Second}
	c, err := fbhttp.Protect(orig, firebreak.Component{Name: "checkout"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := orig.Transport.(handlerTransport); !ok || c.Timeout != time.Second {
		t.Fatalf("orig transport %T, copy timeout %v", orig.Transport, c.Timeout)
	}
	if _, ok := c.Transport.(*fbhttp.Transport); !ok {
		t.Fatalf("copy transport %T", c.Transport)
	}
}

// TestImportsAreLight: the HTTP client links no gRPC and no OTel SDK.
func TestImportsAreLight(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("fbhttp: the go tool is not on PATH:", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/firebreak-go/firebreak/fbhttp").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, d := range strings.Fields(string(out)) {
		for _, heavy := range []string{"google.golang.org/grpc", "go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/exporters"} {
			if strings.HasPrefix(d, heavy) {
				t.Errorf("fbhttp depends on %s", d)
			}
		}
	}
}
