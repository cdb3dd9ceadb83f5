package fbhttp_test

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover"
	"github.com/firebreak-go/firebreak/fbhttp"
)

// TestReviewHugeMaxBodyBufferKeepsTheBody: WithMaxBodyBuffer(math.MaxInt64)
// ("buffer anything") must still send the body; maxBody+1 overflowed to a
// negative limit, read nothing, and replaced the body with an empty one.
func TestReviewHugeMaxBodyBufferKeepsTheBody(t *testing.T) {
	f := &flaky{fail: 1}
	c := &http.Client{Transport: mustNew(t, handlerTransport{f}, pipeline(t, firebreak.Component{Name: "c", Dependency: "d"}), fbhttp.WithMaxBodyBuffer(math.MaxInt64))}
	req, _ := http.NewRequest(http.MethodPut, "http://d.test/x", onlyReader{strings.NewReader("payload")})
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, res); got != "ok:payload" {
		t.Errorf("answer %q, want ok:payload", got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies) != 2 || f.bodies[0] != "payload" || f.bodies[1] != "payload" {
		t.Errorf("server read bodies %q, want the payload twice", f.bodies)
	}
}

func mustNew(t *testing.T, base http.RoundTripper, p *firebreak.Pipeline[resp], opts ...fbhttp.Option) *fbhttp.Transport {
	t.Helper()
	tr, err := fbhttp.New(base, p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestReviewHedgedRequests: a failover.Hedge in the transport's pipeline
// runs attempts concurrently. Under -race the attempts' bookkeeping must
// not race, every request must get a good answer, and every response the
// caller does not get (a hedge's loser) must be closed.
func TestReviewHedgedRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hedge, err := failover.NewHedge[resp](10*time.Millisecond, failover.WithIdempotent(), failover.WithMaxHedges(1))
		if err != nil {
			t.Fatal(err)
		}
		p, err := firebreak.NewPipeline(firebreak.Component{Name: "c", Dependency: "d"}, []firebreak.Policy[resp]{hedge})
		if err != nil {
			t.Fatal(err)
		}
		var calls, opened, closed atomic.Int64
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			n := calls.Add(1)
			if n%2 == 1 { // every first attempt is slow, and answers anyway
				select {
				case <-time.After(15 * time.Millisecond):
				case <-r.Context().Done():
				}
			}
			opened.Add(1)
			var fl atomic.Bool
			body := &countCloser{Reader: strings.NewReader("ok"), closed: &closed, once: &fl}
			return &http.Response{StatusCode: 200, Body: body, Request: r}, nil
		})
		c := &http.Client{Transport: mustNew(t, base, p)}
		for range 50 {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://d.test/x", nil)
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, res); got != "ok" {
				t.Fatalf("answer %q", got)
			}
		}
		time.Sleep(time.Second) // virtual: let every loser finish
		synctest.Wait()
		if o, cl := opened.Load(), closed.Load(); o != cl {
			t.Errorf("%d responses opened, %d closed: a hedge's loser leaks its body (and connection)", o, cl)
		}
	})
}

type countCloser struct {
	io.Reader
	closed *atomic.Int64
	once   *atomic.Bool
}

func (c *countCloser) Close() error {
	if !c.once.Swap(true) {
		c.closed.Add(1)
	}
	return nil
}

// TestReviewCancelDuringRetryAfter: the server answers 503 with
// Retry-After: 30; the caller gives up 5s into the wait. Do returns then,
// with the caller's context error (not the 503, not after 30s), and the
// 503's body is closed.
func TestReviewCancelDuringRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var opened, closed atomic.Int64
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			opened.Add(1)
			var fl atomic.Bool
			h := http.Header{"Retry-After": {"30"}}
			return &http.Response{StatusCode: 503, Status: "503 Service Unavailable", Header: h,
				Body: &countCloser{Reader: strings.NewReader("down"), closed: &closed, once: &fl}, Request: r}, nil
		})
		p := pipeline(t, firebreak.Component{Name: "c", Dependency: "d"}, failover.WithoutBudget())
		c := &http.Client{Transport: mustNew(t, base, p)}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(5*time.Second, cancel)
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://d.test/x", nil)
		res, err := c.Do(req)
		if res != nil {
			res.Body.Close()
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Do = %v, %v; want context.Canceled", res, err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("Do returned after %v, want 5s (when the caller gave up)", d)
		}
		if o, cl := opened.Load(), closed.Load(); o != 1 || cl != 1 {
			t.Errorf("%d responses opened, %d closed; want 1, 1", o, cl)
		}
	})
}

// TestReviewCloseIdleConnections: http.Client.CloseIdleConnections on a
// protected client must reach the base transport's keep-alive
// connections, as it does for any wrapping transport that forwards it;
// without, a client being retired keeps its idle connections (and their
// goroutines) until the server hangs up.
func TestReviewCloseIdleConnections(t *testing.T) {
	closed := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			select {
			case closed <- struct{}{}:
			default:
			}
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := fbhttp.Protect(&http.Client{Transport: &http.Transport{}}, firebreak.Component{Name: "checkout"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, res) // read and closed: the connection goes idle
	c.CloseIdleConnections()
	select {
	case <-closed:
	case <-time.After(2 * time.Second): // a bound on a failure, not a wait for success
		t.Fatal("the idle connection is still open 2s after CloseIdleConnections")
	}
}
