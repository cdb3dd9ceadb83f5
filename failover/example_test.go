package failover_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover"
)

// Retry and fallback in one pipeline for a pricing dependency: a flaky call
// is mended by the retry, and when the dependency stays down the fallback
// answers with the last good price of the same SKU. The pipeline puts the
// policies in their order (fallback outside retry) and binds both to the
// component, so the board hears the fallback's signal.
func Example() {
	var rec firebreak.Recorder
	retry, err := failover.NewRetry[string](failover.WithMaxAttempts(3), failover.WithBackoff(time.Millisecond, 10*time.Millisecond, 2))
	if err != nil {
		panic(err)
	}
	fallback, err := failover.NewFallback(failover.Static("price unavailable"), failover.WithLastGood(time.Minute, failover.FallbackKey))
	if err != nil {
		panic(err)
	}
	pipe, err := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "pricing", Reporter: &rec},
		[]firebreak.Policy[string]{retry, fallback})
	if err != nil {
		panic(err)
	}

	calls := 0
	price := func(up int) firebreak.Func[string] { // fails until call number up
		return func(context.Context) (string, error) {
			if calls++; calls < up {
				return "", errors.New("pricing: connection reset")
			}
			return "SKU-1: 9.99", nil
		}
	}
	ctx := failover.WithFallbackKey(context.Background(), "SKU-1")
	v, err := pipe.Execute(ctx, price(2)) // fails once, the retry mends it
	fmt.Println(v, err, "after", calls, "calls")

	calls = 0
	v, err = pipe.Execute(ctx, price(100)) // down: three attempts, then the last good price
	fmt.Println(v, err, "after", calls, "calls")
	s, _ := rec.Last(firebreak.KindFallbackActive)
	fmt.Println(s.Kind, s.Firing, s.Dependency)
	// Output:
	// SKU-1: 9.99 <nil> after 2 calls
	// SKU-1: 9.99 <nil> after 3 calls
	// fallback_active true pricing
}

// A flaky dependency succeeds on the third attempt.
func ExampleRetry() {
	retry, err := failover.NewRetry[string](
		failover.WithMaxAttempts(3),
		failover.WithBackoff(time.Millisecond, 10*time.Millisecond, 2),
		failover.WithOnRetry(func(e failover.RetryEvent) { fmt.Println("attempt", e.Attempt, "failed:", e.Err) }),
	)
	if err != nil {
		panic(err)
	}
	calls := 0
	v, err := retry.Execute(context.Background(), func(context.Context) (string, error) {
		if calls++; calls < 3 {
			return "", errors.New("connection reset")
		}
		return "quote: 42", nil
	})
	fmt.Println(v, err)
	// Output:
	// attempt 1 failed: connection reset
	// attempt 2 failed: connection reset
	// quote: 42 <nil>
}

// Fallbacks serve the last good value of the same key — here the SKU the
// call asks for — so a call for one SKU is never answered with another's
// stock. The incident board hears that a fallback is active, and again when
// real results are back; the caller learns its own answer came from the
// fallback through a served record.
func ExampleFallback() {
	var rec firebreak.Recorder
	fb, err := failover.NewFallback(failover.Static("stock unknown"),
		failover.WithLastGood(time.Minute, failover.FallbackKey))
	if err != nil {
		panic(err)
	}
	if err := fb.Bind(firebreak.Component{Name: "shop", Dependency: "inventory", Reporter: &rec}); err != nil {
		panic(err)
	}
	stock := func(sku string, up bool) firebreak.Func[string] {
		return func(context.Context) (string, error) {
			if !up {
				return "", errors.New("inventory: 503")
			}
			return "12 of " + sku, nil
		}
	}
	call := func(sku string, up bool) {
		ctx := failover.WithServedRecord(failover.WithFallbackKey(context.Background(), sku))
		v, err := fb.Execute(ctx, stock(sku, up))
		fmt.Printf("%s: %q %v (served by %s)\n", sku, v, err, failover.Served(ctx))
	}
	call("A", true)
	call("A", false) // A's own last good value
	call("B", false) // nothing kept for B: the static fallback, never A's stock
	call("A", true)
	for _, s := range rec.Signals() {
		fmt.Println(s.Kind, "firing:", s.Firing)
	}
	// Output:
	// A: "12 of A" <nil> (served by none)
	// A: "12 of A" <nil> (served by last_good)
	// B: "stock unknown" <nil> (served by fallback)
	// A: "12 of A" <nil> (served by none)
	// fallback_active firing: true
	// fallback_active firing: false
}

// A fallback function returns ErrNoFallback when it has nothing to serve for
// a call: the caller gets the call's own error, and no fallback counts as
// served.
func ExampleErrNoFallback() {
	defaults := map[string]string{"banner": "Welcome!"}
	fb, _ := failover.NewFallback(func(ctx context.Context, err error) (string, error) {
		if v, ok := defaults[failover.FallbackKey(ctx)]; ok {
			return v, nil
		}
		return "", failover.ErrNoFallback
	})
	down := func(context.Context) (string, error) { return "", errors.New("cms: 503") }
	for _, key := range []string{"banner", "terms"} {
		v, err := fb.Execute(failover.WithFallbackKey(context.Background(), key), down)
		fmt.Printf("%s: %q %v\n", key, v, err)
	}
	fmt.Println("active:", fb.Active())
	// Output:
	// banner: "Welcome!" <nil>
	// terms: "" cms: 503
	// active: true
}

// A timeout inside the breaker: a hung call ends at the deadline with a
// TimeoutError, a failure the breaker counts; a caller that gives up first
// gets its own error.
func ExampleTimeout() {
	to, err := failover.NewTimeout[string](10 * time.Millisecond)
	if err != nil {
		panic(err)
	}
	hung := func(ctx context.Context) (string, error) { <-ctx.Done(); return "", ctx.Err() }

	_, err = to.Execute(context.Background(), hung)
	fmt.Println(errors.Is(err, failover.ErrTimeout), err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = to.Execute(ctx, hung)
	fmt.Println(errors.Is(err, failover.ErrTimeout), err)
	// Output:
	// true failover: call timed out after 10ms
	// false context canceled
}

// The primary database is down: the call moves on to the standby.
func ExampleFailover() {
	var rec firebreak.Recorder
	fo, err := failover.NewFailover[string]([]failover.Endpoint{{Name: "db-primary"}, {Name: "db-standby"}})
	if err != nil {
		panic(err)
	}
	if err := fo.Bind(firebreak.Component{Name: "orders", Dependency: "db", Reporter: &rec}); err != nil {
		panic(err)
	}
	v, err := fo.Execute(context.Background(), func(ctx context.Context, e failover.Endpoint) (string, error) {
		if e.Name == "db-primary" {
			return "", errors.New("connection refused")
		}
		return "served by " + e.Name, nil
	})
	fmt.Println(v, err)
	s, _ := rec.Last(firebreak.KindFailover)
	fmt.Println(s.Kind, s.Summary)
	// Output:
	// served by db-standby <nil>
	// failover traffic moved from db-primary to standby db-standby
}

// A shedder guards the whole service: one shared by the pipelines of two
// dependencies sheds calls over its rate with a ShedError, a local
// rejection that no breaker counts and no retry repeats.
func ExampleShedder() {
	shedder, err := failover.NewShedder(2, 2, failover.WithCriticalReserve(0))
	if err != nil {
		panic(err)
	}
	var pipes []*firebreak.Pipeline[string]
	for _, dep := range []string{"payments", "inventory"} {
		shed, _ := failover.NewShed[string](shedder)
		p, err := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: dep}, []firebreak.Policy[string]{shed})
		if err != nil {
			panic(err) // the second pipeline binds the same service: fine
		}
		pipes = append(pipes, p)
	}
	ok := func(context.Context) (string, error) { return "ok", nil }
	for i := range 3 {
		v, err := pipes[i%2].Execute(context.Background(), ok)
		fmt.Printf("%q %v rejected=%v\n", v, err, firebreak.IsRejected(err))
	}
	// Another service cannot share it.
	err = shedder.Bind(firebreak.Component{Name: "search"})
	fmt.Println(errors.Is(err, firebreak.ErrAlreadyBound))
	// Output:
	// "ok" <nil> rejected=false
	// "ok" <nil> rejected=false
	// "" failover: request shed: rate_limited (normal priority) rejected=true
	// true
}

// The HTTP middleware answers requests over the limit with 429 and a
// Retry-After header.
func ExampleShedder_Middleware() {
	shed, err := failover.NewShedder(1, 1, failover.WithCriticalReserve(0))
	if err != nil {
		panic(err)
	}
	h := shed.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	for range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/checkout", nil))
		fmt.Printf("%d Retry-After=%q\n", w.Code, w.Header().Get("Retry-After"))
	}
	// Output:
	// 200 Retry-After=""
	// 429 Retry-After="1"
}

// Critical requests keep a reserve of the bucket when the rest is shed: here
// normal traffic may take 8 of the 10 tokens, critical traffic all 10.
func ExampleContextWithPriority() {
	shed, _ := failover.NewShedder(10, 10, failover.WithCriticalReserve(0.2))
	ctx := context.Background()
	critical := failover.ContextWithPriority(ctx, failover.PriorityCritical)
	for range 8 { // normal traffic takes the bucket down to the reserve
		p, _ := shed.Acquire(ctx)
		p.Release()
	}
	_, err := shed.Acquire(ctx)
	fmt.Println("normal:", err)
	_, err = shed.Acquire(critical)
	fmt.Println("critical:", err)
	// Output:
	// normal: failover: request shed: rate_limited (normal priority)
	// critical: <nil>
}

// Registered on the incident board, a Degrader follows the incidents: a Fatal
// incident on a core component puts the service in minimal mode, and the
// recommendations gate closes.
func ExampleDegrader() {
	var rec firebreak.Recorder
	d, err := failover.NewDegrader(failover.WithSwitches("recommendations"))
	if err != nil {
		panic(err)
	}
	if err := d.Bind(firebreak.Component{Name: "shop", Reporter: &rec}); err != nil {
		panic(err)
	}
	gate, _ := failover.NewGate[[]string](d, "recommendations", failover.ModeDegraded)
	// Registered with firebreak.WithNotifier(d), the board delivers these; here one is built by hand.
	inc := firebreak.Incident{ID: "INC-7", Title: "payments-db down", Severity: firebreak.Fatal, State: firebreak.Detected, CoreAffected: true}
	d.Notify(context.Background(), firebreak.Notification{Event: firebreak.EventDetected, Incident: inc})
	fmt.Println("mode:", d.Mode(), "recommendations open:", gate.Open())

	inc.State = firebreak.Resolved
	d.Notify(context.Background(), firebreak.Notification{Event: firebreak.EventResolved, Incident: inc})
	fmt.Println("mode:", d.Mode(), "recommendations open:", gate.Open())
	for _, s := range rec.Signals() {
		fmt.Println(s.Kind, s.Firing, s.Summary)
	}
	// Output:
	// mode: minimal recommendations open: false
	// mode: normal recommendations open: true
	// degraded true service mode minimal (was normal): incident INC-7 (fatal, detected): payments-db down
	// degraded false service mode normal (was minimal): incident INC-7 (fatal, resolved): payments-db down
}
