package health_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/health/healthtest"
)

// sinkWriter is a reusable ResponseWriter, so benchmarks measure the
// handler and not httptest.ResponseRecorder.
type sinkWriter struct {
	h    http.Header
	code int
	body []byte
}

func newSinkWriter() *sinkWriter {
	return &sinkWriter{h: make(http.Header, 4), body: make([]byte, 0, 512)}
}

func (w *sinkWriter) Header() http.Header { return w.h }
func (w *sinkWriter) WriteHeader(c int)   { w.code = c }
func (w *sinkWriter) Write(b []byte) (int, error) {
	w.body = append(w.body, b...)
	return len(b), nil
}
func (w *sinkWriter) reset() {
	clear(w.h)
	w.code = 0
	w.body = w.body[:0]
}

// started10 returns a started registry with ten passing readiness checks
// whose first results are in.
func started10(tb testing.TB) *health.Registry {
	tb.Helper()
	r := newRegistry(tb, nil)
	for i := range 10 {
		mustRegister(tb, r, fmt.Sprintf("dep%d", i), healthtest.NewCheck(), health.WithInterval(time.Hour))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Start(ctx); err != nil { // waits for the first results
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close(context.Background()) })
	if st := r.Status(health.Readiness); st != health.StatusUp {
		tb.Fatalf("readiness after Start = %v, want up", st)
	}
	return r
}

var (
	rawContentType = []string{"text/plain; charset=utf-8"}
	rawOK          = []byte("ok")
)

// BenchmarkReadyz measures /readyz with ten registered checks, serial and
// parallel, against "raw": the least a handler can do (write the header and
// "ok" without looking at any check).
func BenchmarkReadyz(b *testing.B) {
	r := started10(b)
	handlers := []struct {
		name string
		h    http.Handler
	}{
		{"raw", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header()["Content-Type"] = rawContentType
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(rawOK)
		})},
		{"readyz", r.Handler()},
	}
	for _, hc := range handlers {
		req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
		b.Run(hc.name+"/serial", func(b *testing.B) {
			w := newSinkWriter()
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				hc.h.ServeHTTP(w, req)
			}
			if w.code != 200 {
				b.Fatalf("status %d", w.code)
			}
		})
		b.Run(hc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := newSinkWriter()
				req := req.Clone(context.Background())
				n := 0
				for pb.Next() {
					w.reset()
					hc.h.ServeHTTP(w, req)
					n++
				}
				if n > 0 && w.code != 200 {
					b.Errorf("status %d", w.code)
				}
			})
		})
	}
	verbose := httptest.NewRequest(http.MethodGet, "/readyz?verbose", nil)
	b.Run("readyz-verbose/serial", func(b *testing.B) {
		w := newSinkWriter()
		h := r.Handler()
		b.ReportAllocs()
		for b.Loop() {
			w.reset()
			h.ServeHTTP(w, verbose)
		}
	})
}
