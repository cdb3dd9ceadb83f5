package health_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/health/healthtest"
)

// waitForFirstResults waits until every check has produced a result; a
// real service does not need this, its probes simply fail until then.
func waitForFirstResults(reg *health.Registry) {
	for {
		done := true
		for _, s := range reg.States() {
			done = done && !s.CheckedAt.IsZero()
		}
		if done {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func show(h http.Handler, target, authorization string) {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Printf("GET %s → %d\n%s\n", target, rec.Code, strings.TrimSuffix(rec.Body.String(), "\n"))
}

// Kubernetes probes: /readyz answers "ok", and one line per check with
// ?verbose.
func Example() {
	reg, err := health.New(firebreak.Component{Name: "checkout", Tier: firebreak.Core},
		health.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	db := healthtest.NewCheck() // in a service: health.Ping(db)
	reg.Register("db", db, health.WithTimeout(500*time.Millisecond))
	reg.Register("goroutines", health.Goroutines(100_000), health.InGroups(health.Liveness, health.Readiness))
	if err := reg.Start(); err != nil {
		panic(err)
	}
	defer reg.Close()
	waitForFirstResults(reg)

	h := reg.Handler()
	show(h, "/readyz", "")
	show(h, "/readyz?verbose&exclude=goroutines", "")
	show(h, "/livez/goroutines", "")
	// Output:
	// GET /readyz → 200
	// ok
	// GET /readyz?verbose&exclude=goroutines → 200
	// [+]db ok
	// [+]goroutines excluded: ok
	// readyz check passed
	// GET /livez/goroutines → 200
	// ok
}

// A failing check: anonymous callers see "reason withheld", a caller with
// the bearer token sees the error, and the incident model gets a signal.
func Example_failure() {
	var board firebreak.Recorder // in a service: the firebreak Board
	auth, _ := health.BearerToken("ops-token-0123456789")
	reg, _ := health.New(firebreak.Component{Name: "checkout", Tier: firebreak.Core, Reporter: &board},
		health.WithAuthorizer(auth), health.WithLogger(slog.New(slog.DiscardHandler)))
	db := healthtest.NewCheck()
	db.Fail(errors.New("dial tcp 10.0.0.7:5432: connection refused"))
	reg.Register("db", db, health.WithDependency("payments-db"))
	reg.Start()
	waitForFirstResults(reg)

	h := reg.Handler()
	show(h, "/readyz", "")
	show(h, "/readyz", "Bearer ops-token-0123456789")
	reg.Close() // delivers queued signals
	s, _ := board.Last(firebreak.KindHealthFailed)
	fmt.Println(s.Kind, s.Component, s.Dependency, s.Tier, "firing:", s.Firing)
	// Output:
	// GET /readyz → 503
	// [-]db failed: reason withheld
	// readyz check failed
	// GET /readyz → 503
	// [-]db failed: dial tcp 10.0.0.7:5432: connection refused
	// readyz check failed
	// health_failed checkout payments-db core firing: true
}

// Draining on shutdown: readiness fails first, liveness keeps passing.
func ExampleRegistry_Drain() {
	reg, _ := health.New(firebreak.Component{Name: "checkout"}, health.WithLogger(slog.New(slog.DiscardHandler)))
	reg.Register("db", healthtest.NewCheck(), health.InGroups(health.Liveness, health.Readiness))
	reg.Start()
	defer reg.Close()
	waitForFirstResults(reg)

	reg.Drain() // then wait a few probe periods, then http.Server.Shutdown
	show(reg.Handler(), "/readyz", "")
	show(reg.Handler(), "/livez", "")
	// Output:
	// GET /readyz → 503
	// [+]db ok
	// [-]shutdown failed: reason withheld
	// readyz check failed
	// GET /livez → 200
	// ok
}

// An inspection runs every check now, for the plan's scheduled inspections;
// Markdown() renders it for people and encoding/json for machines.
func ExampleRegistry_Inspect() {
	reg, _ := health.New(firebreak.Component{Name: "checkout"}, health.WithLogger(slog.New(slog.DiscardHandler)))
	disk := healthtest.NewCheck()
	disk.Warn(errors.New("/var: 9 GB free, below twice 5 GB"))
	reg.Register("db", healthtest.NewCheck())
	reg.Register("disk", disk, health.NonCritical())
	defer reg.Close()

	in, err := reg.Inspect(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println("overall:", in.Status)
	for _, c := range in.Checks {
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%s: %s %s", c.Name, c.Status, c.Error)))
	}
	// Output:
	// overall: degraded
	// db: up
	// disk: degraded /var: 9 GB free, below twice 5 GB
}

// A dynamic threshold learns what is normal and flags a step change, not
// noise.
func ExampleNewBaseline() {
	latency := func(ctx context.Context) (float64, error) { return 0.120, nil } // e.g. a p99 from your metrics
	b, err := health.NewBaseline(latency, health.WithDirection(health.Above), health.WithUnit("s"))
	if err != nil {
		panic(err)
	}
	// Register(b) samples once per interval; Update feeds values directly.
	for i := range 100 {
		b.Update(0.120 + 0.005*float64(i%5-2)) // 110–130 ms
	}
	fmt.Println("125 ms:", b.Update(0.125))
	fmt.Println("400 ms:", b.Update(0.400))
	// Output:
	// 125 ms: <nil>
	// 400 ms: baseline: 0.4 s is above the normal range 0.1214 ± 0.03875 (1 consecutive)
}

// The probe text keeps to the Kubernetes API server's two line forms. A
// failing non-critical check does not fail the probe, so it is "[+]cache
// ok" in the text; its true state is in application/health+json. A panic is
// a failed run whose error is one short, stable line; its stack goes to the
// log once. An unknown query parameter is ignored.
func Example_textFormat() {
	reg, err := health.New(firebreak.Component{Name: "checkout", Tier: firebreak.Core},
		health.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	cache := healthtest.NewCheck()
	cache.Fail(errors.New("redis 10.0.0.9:6379: i/o timeout"))
	reg.Register("db", healthtest.NewCheck())
	reg.Register("cache", cache, health.NonCritical())
	reg.Register("search", health.CheckFunc(func(context.Context) error {
		var m map[string]int
		m["x"]++
		return nil
	}), health.NonCritical())
	if err := reg.Start(); err != nil {
		panic(err)
	}
	defer reg.Close()
	waitForFirstResults(reg)

	h := reg.Handler()
	show(h, "/readyz?verbose&timeout=32s", "")
	st, _ := reg.State("cache")
	fmt.Println("cache:", st.Status)
	st, _ = reg.State("search")
	fmt.Println("search:", st.Status, "—", st.Err, "— ErrPanic:", errors.Is(st.Err, health.ErrPanic))
	// Output:
	// GET /readyz?verbose&timeout=32s → 200
	// [+]db ok
	// [+]cache ok
	// [+]search ok
	// readyz check passed
	// cache: down
	// search: down — health: check "search" panicked: assignment to entry in nil map — ErrPanic: true
}
