package firebreak

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/firebreak-go/firebreak/internal/race"
)

// The page is served while the Board's lock is held: the request path
// never takes it.
func TestStatusPageServesWithoutBoardLock(t *testing.T) {
	b, err := NewBoard("shop", WithComponents("checkout"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewStatusPage(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	b.mu.Lock()
	done := make(chan int, 3)
	go func() {
		for _, path := range []string{"/", "/summary.json", "/history.atom"} {
			w := httptest.NewRecorder()
			p.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
			done <- w.Code
		}
	}()
	for range 3 {
		select {
		case code := <-done:
			if code != http.StatusOK {
				t.Errorf("served %d", code)
			}
		case <-time.After(10 * time.Second):
			b.mu.Unlock()
			t.Fatal("the status page waited for the Board's lock")
		}
	}
	b.mu.Unlock()
}

// Serving the cached page allocates nothing.
func TestStatusPageServeAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	b, err := NewBoard("shop", WithComponents("checkout"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewStatusPage(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	h := p.Handler()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	w := &nopWriter{h: http.Header{}}
	if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, req) }); n != 0 {
		t.Fatalf("serving the page allocates %v times", n)
	}
}

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}
