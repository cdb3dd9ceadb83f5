package health_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/health/healthtest"
)

func show(h http.Handler, target, authorization string) {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Printf("GET %s → %d\n%s\n", target, rec.Code, strings.TrimSuffix(rec.Body.String(), "\n"))
}

// A registry for the checkout service, with a check on the payments
// database it calls, served over HTTP: /readyz answers "ok", and one line
// per check with ?verbose. ForComponent takes the Component the payments
// pipeline is bound to, so a failing check lands in the breaker's incident.
func Example() {
	checkout := firebreak.Component{Name: "checkout", Tier: firebreak.Core} // Reporter: the Board
	payments := checkout
	payments.Dependency = "payments-db" // the Component of the payments pipeline

	reg, err := health.New(health.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	if err := reg.Bind(checkout); err != nil {
		panic(err)
	}
	db := healthtest.NewCheck() // in a service: health.Ping(db)
	reg.Register("db-ping", db, health.ForComponent(payments), health.WithTimeout(500*time.Millisecond))
	reg.Register("goroutines", health.Goroutines(100_000), health.InGroups(health.Liveness, health.Readiness))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := reg.Start(ctx); err != nil { // returns once every check has a result
		panic(err)
	}
	defer reg.Close(context.Background())
	srv := httptest.NewServer(reg.Handler())
	defer srv.Close()

	for _, path := range []string{"/readyz", "/readyz?verbose&exclude=goroutines", "/livez/goroutines"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("GET %s → %d\n%s\n", path, resp.StatusCode, strings.TrimSuffix(string(body), "\n"))
	}
	// Output:
	// GET /readyz → 200
	// ok
	// GET /readyz?verbose&exclude=goroutines → 200
	// [+]db-ping ok
	// [+]goroutines excluded: ok
	// readyz check passed
	// GET /livez/goroutines → 200
	// ok
}

// A failing check: anonymous callers see "reason withheld", a caller with a
// token of the operations API sees the error, and the incident model gets a
// signal for the dependency the check probes, whatever the check is called.
func Example_failure() {
	var board firebreak.Recorder // in a service: the firebreak Board
	auth, _ := firebreak.BearerTokens(map[string]string{"ops-token-0123456789": "on-duty"})
	reg, _ := health.New(health.WithAuthorizer(auth), health.WithLogger(slog.New(slog.DiscardHandler)))
	reg.Bind(firebreak.Component{Name: "checkout", Tier: firebreak.Core, Reporter: &board})
	db := healthtest.NewCheck()
	db.Fail(errors.New("dial tcp 10.0.0.7:5432: connection refused"))
	reg.Register("db-ping", db, health.ForComponent(firebreak.Component{
		Name: "checkout", Dependency: "payments-db", Tier: firebreak.Core, Reporter: &board}))
	reg.Start(context.Background())

	h := reg.Handler()
	show(h, "/readyz", "")
	show(h, "/readyz", "Bearer ops-token-0123456789")
	reg.Close(context.Background()) // delivers queued signals
	s, _ := board.Last(firebreak.KindHealthFailed)
	fmt.Println(s.Kind, s.Component, s.Dependency, s.Tier, "firing:", s.Firing)
	// Output:
	// GET /readyz → 503
	// [-]db-ping failed: reason withheld
	// readyz check failed
	// GET /readyz → 503
	// [-]db-ping failed: dial tcp 10.0.0.7:5432: connection refused
	// readyz check failed
	// health_failed checkout payments-db core firing: true
}

// Draining on shutdown: readiness fails first, liveness keeps passing.
func ExampleRegistry_Drain() {
	reg, _ := health.New(health.WithLogger(slog.New(slog.DiscardHandler)))
	reg.Register("db", healthtest.NewCheck(), health.InGroups(health.Liveness, health.Readiness))
	reg.Start(context.Background())
	defer reg.Close(context.Background())

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
	reg, _ := health.New(health.WithLogger(slog.New(slog.DiscardHandler)))
	disk := healthtest.NewCheck()
	disk.Warn(errors.New("/var: 9 GB free, below twice 5 GB"))
	reg.Register("db", healthtest.NewCheck())
	reg.Register("disk", disk, health.NonCritical())
	defer reg.Close(context.Background())

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
	reg, err := health.New(health.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	cache := healthtest.NewCheck()
	cache.Fail(errors.New("redis 10.0.0.9:6379: i/o timeout"))
	reg.Register("db", healthtest.NewCheck())
	reg.Register("cache", cache, health.NonCritical())
	reg.Register("search", health.CheckFunc(func(context.Context) error {
		var index map[string]int // a bug: never made
		return count(index, "x")
	}), health.NonCritical())
	if err := reg.Start(context.Background()); err != nil {
		panic(err)
	}
	defer reg.Close(context.Background())

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
