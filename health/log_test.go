package health_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/health/healthtest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFullErrorGoesToLog: the error withheld from the response is in the
// log, once per change, not once per run.
func TestFullErrorGoesToLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf lockedBuffer
		logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
		r := newRegistry(t, nil, health.WithLogger(logger))
		c := healthtest.NewCheck()
		c.Fail(errors.New("dial tcp 10.0.0.7:5432: connection refused"))
		mustRegister(t, r, "db", c, health.WithFailureThreshold(2))
		r.Start(context.Background())
		for range 4 {
			time.Sleep(health.DefaultInterval)
			synctest.Wait()
		}
		if got := get(r.Handler(), "/readyz", false); strings.Contains(got.body, "10.0.0.7") {
			t.Fatalf("response leaks the error: %q", got.body)
		}
		c.Pass()
		time.Sleep(health.DefaultInterval)
		synctest.Wait()
		r.Close(context.Background())
		out := buf.String()
		for _, want := range []string{
			`msg="health: check failing" component=checkout check=db consecutive_failures=1 error="dial tcp 10.0.0.7:5432: connection refused"`,
			`msg="health: check down" component=checkout check=db critical=true consecutive_failures=2 error="dial tcp 10.0.0.7:5432: connection refused"`,
			`msg="health: check up again" component=checkout check=db down_for=40s`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %q:\n%s", want, out)
			}
		}
		if n := strings.Count(out, "10.0.0.7"); n != 2 {
			t.Errorf("error logged %d times, want 2 (first failure, down):\n%s", n, out)
		}
	})
}

// FuzzHandler: any path and query gets an answer with a known status code,
// never a panic.
func FuzzHandler(f *testing.F) {
	for _, s := range [][2]string{{"/readyz", ""}, {"/readyz", "verbose"}, {"/livez/db", ""}, {"/health", "exclude=db"},
		{"/readyz/", "exclude=%"}, {"/startupz", "verbose=x"}, {"//readyz", ""}, {"/readyz/db/x", "exclude=db&exclude=db"}} {
		f.Add(s[0], s[1])
	}
	r := newRegistry(f, nil)
	db := healthtest.NewCheck()
	db.Fail(nil)
	mustRegister(f, r, "db", db, health.InGroups(health.Liveness, health.Readiness))
	mustRegister(f, r, "cache", healthtest.NewCheck(), health.NonCritical())
	h := r.Handler()
	f.Fuzz(func(t *testing.T, path, rawQuery string) {
		req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: path, RawQuery: rawQuery}, Header: http.Header{}}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 404, 503:
		default:
			t.Fatalf("GET %q ? %q = %d", path, rawQuery, rec.Code)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("GET %q ? %q: no Cache-Control", path, rawQuery)
		}
	})
}
