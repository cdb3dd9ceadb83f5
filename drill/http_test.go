package drill_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/drill"
)

type fixedRT struct{ calls int }

func (f *fixedRT) RoundTrip(r *http.Request) (*http.Response, error) {
	f.calls++
	return &http.Response{StatusCode: 200, Body: io.NopCloser(nil), Request: r}, nil
}

// Server middleware and client transport hit only drill traffic (the
// header scope), and the same trace ID is hit or spared the same way on
// both sides: a request is faulted consistently across hops.
func TestHTTPAdaptersScopeAndTraceID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := firebreak.NewBoard("shop")
		if err != nil {
			t.Fatal(err)
		}
		b.Start(t.Context())
		defer b.Close(context.Background())
		server, _ := drill.NewInjector("server-503", drill.HTTPStatus(503))
		server.Bind(firebreak.Component{Name: "checkout", Tier: firebreak.Core})
		client, _ := drill.NewInjector("client-503", drill.HTTPStatus(503))
		client.Bind(firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core})
		h := server.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
		base := &fixedRT{}
		rt := client.Transport(base)
		spec := drill.Spec{ID: "http-1", Scope: drill.Scope{Components: []string{"checkout"}, Header: "X-Firebreak-Drill"},
			Dose: drill.Percent(30), End: time.Now().Add(time.Hour)}
		d, err := drill.New(b, spec, []*drill.Injector{server, client})
		if err != nil {
			t.Fatal(err)
		}
		defer closeDrill(t, d)
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		hitServer, hitClient, agree := 0, 0, 0
		for i := range 1000 {
			tp := fmt.Sprintf("00-%032x-%016x-01", uint64(i)*0x9e3779b97f4a7c15+1, i+1)
			for _, drillTraffic := range []bool{false, true} {
				r := httptest.NewRequest("GET", "/pay", nil)
				r.Header.Set("traceparent", tp)
				if drillTraffic {
					r.Header.Set("X-Firebreak-Drill", "1")
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				out, _ := http.NewRequest("POST", "http://payments/charge", nil)
				out.Header = r.Header.Clone()
				resp, err := rt.RoundTrip(out)
				if err != nil {
					t.Fatal(err)
				}
				if !drillTraffic {
					if w.Code != 200 || resp.StatusCode != 200 {
						t.Fatalf("traffic without the drill header was hit: %d, %d", w.Code, resp.StatusCode)
					}
					continue
				}
				s, c := w.Code == 503, resp.StatusCode == 503
				if s {
					hitServer++
				}
				if c {
					hitClient++
				}
				if s == c {
					agree++
				}
			}
		}
		if agree != 1000 {
			t.Errorf("server and client disagreed on %d of 1000 trace IDs", 1000-agree)
		}
		if hitServer < 250 || hitServer > 350 {
			t.Errorf("30%% dose hit %d of 1000", hitServer)
		}
		d.Abort("ana", "done")
		<-d.Done()
		r := httptest.NewRequest("GET", "/pay", nil)
		r.Header.Set("X-Firebreak-Drill", "1")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Errorf("after the abort: %d", w.Code)
		}
	})
}

// Latency honours the context; a blackhole hangs until it ends; a
// behavior's panic fails the call without reaching the caller.
func TestFaultKinds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := firebreak.NewBoard("shop")
		b.Start(t.Context())
		defer b.Close(context.Background())
		c := firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core}
		for _, tc := range []struct {
			fault   drill.Fault
			timeout time.Duration
			took    time.Duration
			err     error
		}{
			{drill.Latency(2 * time.Second), time.Minute, 2 * time.Second, nil},
			{drill.Latency(2 * time.Second), time.Second, time.Second, context.DeadlineExceeded},
			{drill.Blackhole(), 5 * time.Second, 5 * time.Second, context.DeadlineExceeded},
			{drill.Behavior(func(context.Context) error { panic("boom") }), time.Minute, 0, &drill.InjectedError{}},
			{drill.Error(errDown), time.Minute, 0, errDown},
		} {
			in, _ := drill.NewInjector("k", tc.fault)
			pol, _ := drill.NewPolicy[string](in)
			p, _ := firebreak.NewPipeline(c, []firebreak.Policy[string]{pol})
			d, err := drill.New(b, drill.Spec{ID: "kinds", Scope: drill.Scope{Components: []string{"checkout"}},
				Dose: drill.Percent(100), End: time.Now().Add(time.Hour)}, []*drill.Injector{in})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			start := time.Now()
			_, err = p.Execute(ctx, func(context.Context) (string, error) { return "ok", nil })
			cancel()
			if took := time.Since(start); took != tc.took {
				t.Errorf("%s: took %s, want %s", tc.fault, took, tc.took)
			}
			var ie *drill.InjectedError
			switch want := tc.err.(type) {
			case nil:
				if err != nil {
					t.Errorf("%s: %v", tc.fault, err)
				}
			case *drill.InjectedError:
				if !errors.As(err, &ie) {
					t.Errorf("%s: %v, want an InjectedError", tc.fault, err)
				}
			default:
				if !errors.Is(err, want) {
					t.Errorf("%s: %v, want %v", tc.fault, err, want)
				}
			}
			closeDrill(t, d)
		}
	})
}
