package health_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/health/healthtest"
)

var quiet = slog.New(slog.DiscardHandler)

const token = "s3cret-token-0123456789"

func newRegistry(t testing.TB, rep firebreak.Reporter, opts ...health.Option) *health.Registry {
	t.Helper()
	auth, err := firebreak.BearerTokens(map[string]string{token: "on-duty"})
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]health.Option{health.WithLogger(quiet), health.WithAuthorizer(auth)}, opts...)
	r, err := health.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Bind(firebreak.Component{Name: "checkout", Tier: firebreak.Core, Reporter: rep}); err != nil {
		t.Fatal(err)
	}
	return r
}

func mustRegister(t testing.TB, r *health.Registry, name string, c health.Checker, opts ...health.CheckOption) {
	t.Helper()
	if err := r.Register(name, c, opts...); err != nil {
		t.Fatal(err)
	}
}

type response struct {
	code   int
	body   string
	header http.Header
}

func get(h http.Handler, target string, authorized bool) response {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if authorized {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{rec.Code, rec.Body.String(), rec.Header()}
}

func status(t *testing.T, r *health.Registry, name string) health.Status {
	t.Helper()
	s, ok := r.State(name)
	if !ok {
		t.Fatalf("no check %q", name)
	}
	return s.Status
}

// TestThresholds walks a check through a step table: it comes up only after
// two passes and goes down only after three consecutive failures, and each
// transition through down reports one signal.
func TestThresholds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		r := newRegistry(t, &rec)
		c := healthtest.NewCheck()
		mustRegister(t, r, "db", c, health.WithFailureThreshold(3), health.WithSuccessThreshold(2),
			health.ForComponent(firebreak.Component{Name: "checkout", Dependency: "payments-db", Tier: firebreak.Core}))
		steps := []struct {
			fail    bool
			want    health.Status
			signals int
		}{
			{false, health.StatusUnknown, 0},
			{false, health.StatusUp, 0},
			{true, health.StatusUp, 0},
			{true, health.StatusUp, 0},
			{true, health.StatusDown, 1},
			{true, health.StatusDown, 1},
			{false, health.StatusDown, 1},
			{true, health.StatusDown, 1},
			{false, health.StatusDown, 1},
			{false, health.StatusUp, 2},
			{true, health.StatusUp, 2},
			{false, health.StatusUp, 2},
		}
		if err := r.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer r.Close(context.Background())
		for i, s := range steps {
			if s.fail {
				c.Fail(errors.New("connection refused"))
			} else {
				c.Pass()
			}
			if i > 0 {
				time.Sleep(health.DefaultInterval)
			}
			synctest.Wait()
			if got := status(t, r, "db"); got != s.want {
				t.Fatalf("step %d: status %v, want %v", i, got, s.want)
			}
			if got := len(rec.Of(firebreak.KindHealthFailed)); got != s.signals {
				t.Fatalf("step %d: %d signals, want %d", i, got, s.signals)
			}
		}
		sigs := rec.Of(firebreak.KindHealthFailed)
		fire, clear := sigs[0], sigs[1]
		if !fire.Firing || fire.Component != "checkout" || fire.Dependency != "payments-db" || fire.Tier != firebreak.Core ||
			fire.Labels["check"] != "db" || fire.Value != 3 || !strings.Contains(fire.Summary, "connection refused") {
			t.Errorf("firing signal = %+v", fire)
		}
		if clear.Firing || clear.Dependency != "payments-db" || clear.Tier != firebreak.Core {
			t.Errorf("cleared signal = %+v", clear)
		}
		if c.Calls() != int64(len(steps)) {
			t.Errorf("check ran %d times, want %d", c.Calls(), len(steps))
		}
	})
}

// TestBeforeFirstRun: every check is unknown, readiness and startup fail,
// liveness passes.
func TestBeforeFirstRun(t *testing.T) {
	synctest.Test(t, testBeforeFirstRun)
}

func testBeforeFirstRun(t *testing.T) {
	r := newRegistry(t, nil)
	c := healthtest.NewCheck()
	c.Hang(false) // the first run has not returned when the probes are asked
	mustRegister(t, r, "db", c, health.InGroups(health.Startup, health.Liveness, health.Readiness))
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // do not wait for the first round
	if err := r.Start(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start with a cancelled context = %v, want Canceled", err)
	}
	defer r.Close(context.Background())
	defer c.Release()
	h := r.Handler()
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/readyz", 503, "[-]db failed: reason withheld\nreadyz check failed\n"},
		{"/startupz", 503, "[-]db failed: reason withheld\nstartupz check failed\n"},
		{"/livez", 200, "ok"},
		// Liveness passes before the first result, so the check does not
		// fail it: "[+]db ok", the only passing line the API server's
		// format has (this used to print "[+]db unknown: ...", which no
		// API-server reader knows). Its true state is in the JSON.
		{"/livez?verbose", 200, "[+]db ok\nlivez check passed\n"},
	} {
		got := get(h, tc.path, false)
		if got.code != tc.code || got.body != tc.body {
			t.Errorf("GET %s = %d %q, want %d %q", tc.path, got.code, got.body, tc.code, tc.body)
		}
	}
	if got := get(h, "/readyz?verbose", true); !strings.Contains(got.body, "[-]db failed: no result yet\n") {
		t.Errorf("authorised body = %q", got.body)
	}
	if s := r.Status(health.Readiness); s != health.StatusUnknown {
		t.Errorf("readiness = %v, want unknown", s)
	}
}

// TestStaleBecomesUnknown: once the runner stops, results age out to
// unknown and readiness fails, instead of staying up forever.
func TestStaleBecomesUnknown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		mustRegister(t, r, "db", healthtest.NewCheck(), health.WithInterval(10*time.Second), health.WithTimeout(time.Second))
		if err := r.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h := r.Handler()
		if got := get(h, "/readyz", false); got.code != 200 {
			t.Fatalf("readyz = %d", got.code)
		}
		r.Close(context.Background())
		time.Sleep(21 * time.Second) // the default bound: 2×interval + timeout
		if got := get(h, "/readyz", false); got.code != 200 {
			t.Fatalf("at the bound: readyz = %d, want 200", got.code)
		}
		time.Sleep(time.Millisecond)
		if s := status(t, r, "db"); s != health.StatusUnknown {
			t.Fatalf("status = %v, want unknown", s)
		}
		got := get(h, "/readyz", true)
		if got.code != 503 || !strings.Contains(got.body, "[-]db failed: stale: last result 21.001s ago\n") {
			t.Fatalf("readyz = %d %q", got.code, got.body)
		}
	})
}

// TestTimeoutAbandonsWithoutLeak: a check that ignores its context is
// abandoned at its timeout; while it is stuck no further run starts (so no
// goroutine piles up per interval), each skipped cycle counts as a failure,
// and the check recovers once the stuck run returns.
func TestTimeoutAbandonsWithoutLeak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		r := newRegistry(t, &rec)
		c := healthtest.NewCheck()
		c.Hang(true)
		mustRegister(t, r, "db", c, health.WithInterval(10*time.Second), health.WithTimeout(2*time.Second))
		// Start waits for the first round only as long as its context lets it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		t0 := time.Now()
		if err := r.Start(ctx); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `no first result yet from "db"`) || time.Since(t0) != time.Second {
			t.Fatalf("Start = %v after %v, want DeadlineExceeded naming db after 1s", err, time.Since(t0))
		}
		synctest.Wait()
		if s := status(t, r, "db"); s != health.StatusUnknown {
			t.Fatalf("before the timeout: %v, want unknown", s)
		}
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		st, _ := r.State("db")
		if st.Status != health.StatusDown || !errors.Is(st.Err, health.ErrTimeout) || st.Abandoned != 1 {
			t.Fatalf("after the timeout: %+v", st)
		}
		for range 5 {
			time.Sleep(10 * time.Second)
			synctest.Wait()
		}
		st, _ = r.State("db")
		if !errors.Is(st.Err, health.ErrStillRunning) || st.Status != health.StatusDown || st.ConsecutiveFailures != 6 {
			t.Fatalf("while stuck: %+v", st)
		}
		if c.Calls() != 1 || c.Running() != 1 || c.MaxConcurrent() != 1 {
			t.Fatalf("calls=%d running=%d max=%d, want 1 1 1", c.Calls(), c.Running(), c.MaxConcurrent())
		}
		c.Release()
		synctest.Wait()
		if c.Running() != 0 {
			t.Fatal("released run still running")
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if s := status(t, r, "db"); s != health.StatusUp {
			t.Fatalf("after release: %v, want up", s)
		}
		if c.Calls() != 2 {
			t.Fatalf("calls = %d, want 2", c.Calls())
		}
		if n := len(rec.Of(firebreak.KindHealthFailed)); n != 2 {
			t.Fatalf("%d signals, want firing and cleared", n)
		}
		r.Close(context.Background())
	})
}

// TestCloseWaitsForAbandonedRun: Close cancels the contexts of runs and
// waits for them.
func TestCloseWaitsForAbandonedRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		c := healthtest.NewCheck()
		c.Hang(false) // honours its context
		mustRegister(t, r, "db", c, health.WithTimeout(time.Second))
		r.Start(context.Background())
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if err := r.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if c.Running() != 0 {
			t.Fatal("run still in progress after Close")
		}
		if err := r.Close(context.Background()); err != nil {
			t.Fatal("second Close:", err)
		}
		if err := r.Start(context.Background()); !errors.Is(err, firebreak.ErrClosed) {
			t.Fatalf("Start after Close = %v, want ErrClosed", err)
		}
		if err := r.Register("x", c); !errors.Is(err, firebreak.ErrClosed) {
			t.Fatalf("Register after Close = %v, want ErrClosed", err)
		}
	})
}

// TestCancelledRequestDoesNotChangeResult: checks run on their own
// contexts, so a client that hangs up changes nothing.
func TestCancelledRequestDoesNotChangeResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		c := healthtest.NewCheck()
		mustRegister(t, r, "db", c)
		r.Start(context.Background())
		defer r.Close(context.Background())
		synctest.Wait()
		before, _ := r.State("db")
		h := r.Handler()
		for range 100 {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/readyz", nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				t.Fatalf("cancelled request got %d", rec.Code)
			}
		}
		synctest.Wait()
		after, _ := r.State("db")
		if after.Status != health.StatusUp || after.Runs != before.Runs || !after.CheckedAt.Equal(before.CheckedAt) || c.Calls() != 1 {
			t.Fatalf("state changed: before %+v after %+v calls %d", before, after, c.Calls())
		}
	})
}

// TestDrainFailsReadinessFirst: on shutdown readiness fails while liveness
// still passes.
func TestDrainFailsReadinessFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		mustRegister(t, r, "db", healthtest.NewCheck(), health.InGroups(health.Liveness, health.Readiness))
		r.Start(context.Background())
		defer r.Close(context.Background())
		synctest.Wait()
		h := r.Handler()
		if got := get(h, "/readyz", false); got.code != 200 {
			t.Fatalf("before drain: %d", got.code)
		}
		r.Drain()
		if !r.Draining() {
			t.Fatal("Draining() = false")
		}
		got := get(h, "/readyz", false)
		if want := "[+]db ok\n[-]shutdown failed: reason withheld\nreadyz check failed\n"; got.code != 503 || got.body != want {
			t.Fatalf("readyz = %d %q, want 503 %q", got.code, got.body, want)
		}
		if got := get(h, "/readyz?verbose", true); !strings.Contains(got.body, "[-]shutdown failed: draining for shutdown\n") {
			t.Fatalf("authorised readyz = %q", got.body)
		}
		if got := get(h, "/livez", false); got.code != 200 || got.body != "ok" {
			t.Fatalf("livez = %d %q", got.code, got.body)
		}
		if s := r.Status(health.Readiness); s != health.StatusDown {
			t.Fatalf("readiness = %v", s)
		}
	})
}

// TestConcurrentRequestsRunEachCheckOnce fires 1,000 concurrent requests
// at /readyz within one interval: every check still runs exactly once.
func TestConcurrentRequestsRunEachCheckOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		checks := make([]*healthtest.Check, 10)
		for i := range checks {
			checks[i] = healthtest.NewCheck()
			mustRegister(t, r, "dep"+string(rune('0'+i)), checks[i], health.InGroups(health.Liveness, health.Readiness))
		}
		r.Start(context.Background())
		defer r.Close(context.Background())
		synctest.Wait()
		h := r.Handler()
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for i := range 1000 {
			wg.Go(func() {
				target := "/readyz"
				if i%10 == 0 {
					target = "/readyz?verbose"
				}
				got := get(h, target, false)
				mu.Lock()
				codes[got.code]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if codes[200] != 1000 {
			t.Fatalf("status codes: %v", codes)
		}
		for i, c := range checks {
			if c.Calls() != 1 {
				t.Errorf("check %d ran %d times, want 1", i, c.Calls())
			}
		}
		time.Sleep(health.DefaultInterval)
		synctest.Wait()
		for i, c := range checks {
			if c.Calls() != 2 {
				t.Errorf("check %d ran %d times after one interval, want 2", i, c.Calls())
			}
		}
	})
}

// TestSeveralGroupsRunOnce: a check in every group runs once per cycle.
func TestSeveralGroupsRunOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		c := healthtest.NewCheck()
		mustRegister(t, r, "db", c, health.InGroups(health.Startup|health.Liveness|health.Readiness))
		r.Start(context.Background())
		defer r.Close(context.Background())
		synctest.Wait()
		h := r.Handler()
		for _, p := range []string{"/livez", "/readyz", "/startupz", "/health", "/readyz/db"} {
			if got := get(h, p, false); got.code != 200 {
				t.Errorf("%s = %d", p, got.code)
			}
		}
		time.Sleep(3 * health.DefaultInterval)
		synctest.Wait()
		if c.Calls() != 4 {
			t.Fatalf("calls = %d, want 4", c.Calls())
		}
	})
}

// TestReporterNeverBlocksRunner: a reporter that blocks delays only other
// reports; results keep updating and overflow is counted.
func TestReporterNeverBlocksRunner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		blocking := firebreak.ReporterFunc(func(firebreak.Signal) { <-release })
		r := newRegistry(t, blocking, health.WithEventBuffer(1))
		c := healthtest.NewCheck()
		mustRegister(t, r, "db", c)
		r.Start(context.Background())
		synctest.Wait()
		for i := range 6 {
			if i%2 == 0 {
				c.Fail(errors.New("boom"))
			} else {
				c.Pass()
			}
			time.Sleep(health.DefaultInterval)
			synctest.Wait()
			want := health.StatusDown
			if i%2 == 1 {
				want = health.StatusUp
			}
			if s := status(t, r, "db"); s != want {
				t.Fatalf("cycle %d: status %v, want %v (runner blocked?)", i, s, want)
			}
		}
		if r.Dropped() == 0 {
			t.Fatal("no transitions dropped with a blocked reporter and a buffer of 1")
		}
		close(release)
		r.Close(context.Background())
	})
}

// TestNonCriticalDegrades: a failing non-critical check degrades the group
// (still 200) instead of failing it.
func TestNonCriticalDegrades(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		db := healthtest.NewCheck()
		cache := healthtest.NewCheck()
		cache.Fail(errors.New("redis: connection refused"))
		mustRegister(t, r, "db", db)
		mustRegister(t, r, "cache", cache, health.NonCritical())
		r.Start(context.Background())
		defer r.Close(context.Background())
		synctest.Wait()
		if s := r.Status(health.Readiness); s != health.StatusDegraded {
			t.Fatalf("readiness = %v, want degraded", s)
		}
		h := r.Handler()
		if got := get(h, "/readyz", false); got.code != 200 || got.body != "ok" {
			t.Fatalf("readyz = %d %q", got.code, got.body)
		}
		// A failing non-critical check does not fail the probe, so in the
		// API server's format it is "[+]cache ok" (it used to be "[-]cache
		// failed" above "readyz check passed", a line at odds with the
		// verdict). Its true state is in the JSON and in State.
		got := get(h, "/readyz?verbose", false)
		if want := "[+]db ok\n[+]cache ok\nreadyz check passed\n"; got.body != want {
			t.Fatalf("verbose = %q, want %q", got.body, want)
		}
		if got := get(h, "/health", false); !strings.Contains(got.body, `"cache":[{"componentId":"cache","componentType":"component","status":"fail","health":"down","critical":false`) {
			t.Fatalf("/health hides the non-critical failure: %s", got.body)
		}
		if got := get(h, "/readyz/cache", false); got.code != 503 {
			t.Fatalf("per-check cache = %d, want 503", got.code)
		}
		// A warning degrades a critical check without failing it.
		db.Warn(errors.New("replica lag 4s"))
		cache.Pass()
		time.Sleep(health.DefaultInterval)
		synctest.Wait()
		if s := status(t, r, "db"); s != health.StatusDegraded {
			t.Fatalf("db = %v, want degraded", s)
		}
		got = get(h, "/readyz?verbose", true)
		if want := "[+]db ok\n[+]cache ok\nreadyz check passed\n"; got.code != 200 || got.body != want {
			t.Fatalf("verbose = %d %q, want %q", got.code, got.body, want)
		}
	})
}

// TestPanicIsFailure: a panicking check fails; the runner survives.
func TestPanicIsFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		mustRegister(t, r, "bad", health.CheckFunc(func(context.Context) error { panic("nil map") }))
		r.Start(context.Background())
		defer r.Close(context.Background())
		synctest.Wait()
		st, _ := r.State("bad")
		if st.Status != health.StatusDown || !errors.Is(st.Err, health.ErrPanic) {
			t.Fatalf("state = %+v", st)
		}
		got := get(r.Handler(), "/readyz/bad", true)
		if got.body != "internal server error: health: check \"bad\" panicked: nil map\n" {
			t.Fatalf("body = %q", got.body)
		}
	})
}

// TestRegisterAfterStart: a late check runs at once.
func TestRegisterAfterStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		r.Start(context.Background())
		defer r.Close(context.Background())
		if err := r.Start(context.Background()); err != nil {
			t.Fatal("second Start:", err)
		}
		c := healthtest.NewCheck()
		mustRegister(t, r, "late", c)
		synctest.Wait()
		if c.Calls() != 1 || status(t, r, "late") != health.StatusUp {
			t.Fatalf("late check: calls %d status %v", c.Calls(), status(t, r, "late"))
		}
	})
}

// TestStartupLatches: once startup passed it keeps passing.
func TestStartupLatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		c := healthtest.NewCheck()
		mustRegister(t, r, "migrations", c, health.InGroups(health.Startup))
		r.Start(context.Background())
		defer r.Close(context.Background())
		synctest.Wait()
		h := r.Handler()
		if got := get(h, "/startupz", false); got.code != 200 {
			t.Fatalf("startupz = %d", got.code)
		}
		c.Fail(nil)
		time.Sleep(health.DefaultInterval)
		synctest.Wait()
		if got := get(h, "/startupz", false); got.code != 200 || got.body != "ok" {
			t.Fatalf("startupz after passing once = %d %q", got.code, got.body)
		}
	})
}

func TestValidation(t *testing.T) {
	if r, err := health.New(); err != nil {
		t.Errorf("New() = %v", err)
	} else if err := r.Bind(firebreak.Component{}); err == nil || !strings.Contains(err.Error(), "Name") {
		t.Errorf("Bind without name: %v", err)
	}
	if _, err := health.New(health.WithEventBuffer(0)); err == nil || !strings.Contains(err.Error(), "WithEventBuffer") {
		t.Errorf("WithEventBuffer(0): %v", err)
	}
	if _, err := health.New(health.WithLogger(quiet), nil); err == nil || err.Error() != "health: New: option 1 is nil" {
		t.Errorf("nil option: %v", err)
	}
	r := newRegistry(t, nil)
	ok := healthtest.NewCheck()
	for _, tc := range []struct {
		name string
		c    health.Checker
		opts []health.CheckOption
		want string
	}{
		{"", ok, nil, "1 to 128"},
		{"/db", ok, nil, "must not start"},
		{"d b", ok, nil, "not allowed"},
		{"db", nil, nil, "Checker is nil"},
		{"db", ok, []health.CheckOption{health.WithInterval(0)}, "WithInterval"},
		{"db", ok, []health.CheckOption{health.WithTimeout(time.Minute)}, "WithTimeout"},
		{"db", ok, []health.CheckOption{health.WithFailureThreshold(0)}, "WithFailureThreshold"},
		{"db", ok, []health.CheckOption{health.WithSuccessThreshold(-1)}, "WithSuccessThreshold"},
		{"db", ok, []health.CheckOption{health.WithStaleAfter(time.Second)}, "WithStaleAfter"},
		{"db", ok, []health.CheckOption{health.InGroups()}, "InGroups"},
		{"db", ok, []health.CheckOption{health.InGroups(health.Group(64))}, "InGroups"},
		{"db", ok, []health.CheckOption{health.WithMeasurement("a:b")}, "WithMeasurement"},
		{"db", ok, []health.CheckOption{nil}, `health: check "db": option 0 is nil`},
		{"db", health.TCPDial("nohost"), nil, "TCPDial"},
		{"db", health.HTTPGet("ftp://x", nil), nil, "HTTPGet"},
		{"db", health.Ping(nil), nil, "Pinger is nil"},
		{"db", health.DNS("", nil), nil, "DNS"},
		{"db", health.DiskFree("/", 0), nil, "minFree"},
		{"db", health.Goroutines(0), nil, "Goroutines"},
		{"db", health.FileFresh("x", 0), nil, "maxAge"},
		{"db", health.Backup("[", time.Hour), nil, "glob"},
	} {
		err := r.Register(tc.name, tc.c, tc.opts...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Register(%q): %v, want error containing %q", tc.name, err, tc.want)
		}
	}
	mustRegister(t, r, "db", ok)
	if err := r.Register("db", ok); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("duplicate: %v", err)
	}
}

func TestStatusText(t *testing.T) {
	for _, s := range []health.Status{health.StatusUnknown, health.StatusUp, health.StatusDegraded, health.StatusDown} {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back health.Status
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("round trip %v: %v %v", s, back, err)
		}
	}
	if _, err := health.Status(9).MarshalText(); err == nil {
		t.Error("invalid status marshalled")
	}
	var s health.Status
	if err := s.UnmarshalText([]byte("sideways")); err == nil {
		t.Error("unknown status parsed")
	}
	if g := (health.Liveness | health.Readiness).String(); g != "liveness+readiness" {
		t.Errorf("group string %q", g)
	}
}

func TestStatusOfCombinedGroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		live := healthtest.NewCheck()
		live.Fail(nil)
		mustRegister(t, r, "live", live, health.InGroups(health.Liveness))
		mustRegister(t, r, "ready", healthtest.NewCheck())
		mustRegister(t, r, "boot", healthtest.NewCheck(), health.InGroups(health.Startup))
		r.Start(context.Background())
		defer r.Close(context.Background())
		synctest.Wait()
		for _, tc := range []struct {
			g    health.Group
			want health.Status
		}{
			{health.Readiness, health.StatusUp},
			{health.Liveness, health.StatusDown},
			{health.Startup | health.Readiness, health.StatusUp},
			{health.Liveness | health.Readiness, health.StatusDown},
			{health.Startup | health.Liveness | health.Readiness, health.StatusDown},
		} {
			if got := r.Status(tc.g); got != tc.want {
				t.Errorf("Status(%v) = %v, want %v", tc.g, got, tc.want)
			}
		}
	})
}
