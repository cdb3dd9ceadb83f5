package firebreak_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/firebreak-go/firebreak"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the handler, not a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkStatusPage serves the public status with 100 incidents in its
// history (and 100 on the Board): from the StatusPage's cache (HTML and
// summary.json), against the uncached JSON StatusHandler it builds on.
func BenchmarkStatusPage(b *testing.B) {
	board, err := firebreak.NewBoard("shop", firebreak.WithComponents("checkout", "search", "accounts"))
	if err != nil {
		b.Fatal(err)
	}
	defer board.Close(context.Background())
	p, err := firebreak.NewStatusPage(board)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 100 {
		board.Report(firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "checkout", Dependency: fmt.Sprintf("dep-%d", i), Tier: firebreak.Core, Firing: true, Value: 1})
		pi, err := p.PostUpdate(firebreak.StatusUpdate{Title: fmt.Sprintf("Incident %d", i), Status: firebreak.UpdateInvestigating,
			Message: "Some customers see errors at checkout.", Components: []string{"checkout"}}, "alice")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.PostUpdate(firebreak.StatusUpdate{IncidentID: pi.ID, Status: firebreak.UpdateResolved, Message: "Fixed."}, "alice"); err != nil {
			b.Fatal(err)
		}
	}
	if err := p.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	for _, c := range []struct {
		name string
		h    http.Handler
		path string
	}{
		{"page", p.Handler(), "/"},
		{"summary.json", p.Handler(), "/summary.json"},
		{"raw/StatusHandler", firebreak.StatusHandler(board), "/"},
	} {
		req := httptest.NewRequest(http.MethodGet, c.path, nil)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			w := &discardWriter{h: http.Header{}}
			for b.Loop() {
				c.h.ServeHTTP(w, req)
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					c.h.ServeHTTP(w, req)
				}
			})
		})
	}
}
