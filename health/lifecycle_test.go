package health_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/health/healthtest"
)

// TestStartWaitsForFirstRound: when Start returns, every check has its
// first result, so readiness is known without waiting; a slow check holds
// Start for as long as its run takes, not longer.
func TestStartWaitsForFirstRound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		slow := health.CheckFunc(func(ctx context.Context) error {
			time.Sleep(300 * time.Millisecond) // a slow dependency
			return nil
		})
		mustRegister(t, r, "db", healthtest.NewCheck())
		mustRegister(t, r, "search", slow)
		t0 := time.Now()
		if err := r.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer r.Close(context.Background())
		if d := time.Since(t0); d != 300*time.Millisecond {
			t.Errorf("Start returned after %v, want 300ms (the slow check's run)", d)
		}
		if st := r.Status(health.Readiness); st != health.StatusUp {
			t.Fatalf("readiness right after Start = %v, want up", st)
		}
		if got := get(r.Handler(), "/readyz", false); got.code != 200 {
			t.Fatalf("/readyz right after Start = %d %q", got.code, got.body)
		}
		if err := r.Start(context.Background()); err != nil {
			t.Fatalf("second Start = %v, want nil", err)
		}
	})
}

// TestStartAfterClose: Start and Register after Close say the registry is
// closed, matching firebreak.ErrClosed; Close is idempotent and fine
// without Start.
func TestStartAfterClose(t *testing.T) {
	r := newRegistry(t, nil)
	for i := range 2 {
		if err := r.Close(context.Background()); err != nil {
			t.Fatalf("Close %d without Start = %v", i, err)
		}
	}
	err := r.Start(context.Background())
	if !errors.Is(err, firebreak.ErrClosed) || err.Error() != "health: registry is closed" {
		t.Fatalf("Start after Close = %v, want %q matching firebreak.ErrClosed", err, "health: registry is closed")
	}
	if err := r.Register("db", healthtest.NewCheck()); !errors.Is(err, firebreak.ErrClosed) {
		t.Fatalf("Register after Close = %v", err)
	}
}

// TestNotStarted: a registry whose Start was forgotten is not silent.
// Readiness, startup and the JSON endpoint answer 503 saying so, liveness
// passes as before any first result, and the log says it once.
func TestNotStarted(t *testing.T) {
	var logs bytes.Buffer
	r := newRegistry(t, nil, health.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	mustRegister(t, r, "db", healthtest.NewCheck(), health.InGroups(health.Liveness, health.Readiness, health.Startup))
	h := r.Handler()
	for range 3 {
		for _, tc := range []struct {
			path string
			code int
			body string
		}{
			{"/readyz", 503, "health: registry not started; call Registry.Start\n"},
			{"/readyz?verbose", 503, "health: registry not started; call Registry.Start\n"},
			{"/startupz", 503, "health: registry not started; call Registry.Start\n"},
			{"/readyz/db", 503, "health: registry not started; call Registry.Start\n"},
			{"/health", 503, `{"status":"fail","notes":["health: registry not started; call Registry.Start"]}` + "\n"},
			{"/livez", 200, "ok"},
		} {
			if got := get(h, tc.path, false); got.code != tc.code || got.body != tc.body {
				t.Errorf("GET %s = %d %q, want %d %q", tc.path, got.code, got.body, tc.code, tc.body)
			}
		}
	}
	if n := strings.Count(logs.String(), "registry not started"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "component=checkout") {
		t.Errorf("log = %q, want an ERROR line with the component", logs.String())
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	if got := get(h, "/readyz", false); got.code != 200 {
		t.Errorf("/readyz after Start = %d %q", got.code, got.body)
	}
}
