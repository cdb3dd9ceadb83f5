package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
)

var errUnavailable = errors.New("payments: 503 service unavailable")

// A breaker used on its own: at low traffic, ten failures in a row open it
// (at high traffic the failure ratio decides), it fails calls fast, and the
// open signal goes to the component's Reporter.
func Example() {
	var rec firebreak.Recorder
	b, err := breaker.New[string](breaker.WithComponent(firebreak.Component{
		Name: "checkout", Dependency: "payments", Tier: firebreak.Core, Reporter: &rec,
	}))
	if err != nil {
		panic(err)
	}
	charge := func(ctx context.Context) (string, error) { return "", errUnavailable }
	for range breaker.DefaultConsecutiveFailures {
		_, err = b.Execute(context.Background(), charge)
	}
	fmt.Println(err)
	_, err = b.Execute(context.Background(), charge)
	fmt.Println(err, errors.Is(err, breaker.ErrOpen))
	s, _ := rec.Last(firebreak.KindBreakerOpen)
	fmt.Println(s.Kind, s.Firing, s.Tier, s.Dependency)
	// Output:
	// payments: 503 service unavailable
	// breaker "payments": circuit open true
	// breaker_open true core payments
}

// In a pipeline the breaker takes the pipeline's identity and Reporter, and
// its place in the default order.
func Example_pipeline() {
	var rec firebreak.Recorder
	b, err := breaker.New[int](breaker.WithConsecutiveFailures(2), breaker.WithFallback(true))
	if err != nil {
		panic(err)
	}
	p, err := firebreak.NewPipeline(firebreak.Component{
		Name: "catalog", Dependency: "recommendations", Tier: firebreak.Auxiliary, Reporter: &rec,
	}, []firebreak.Policy[int]{b})
	if err != nil {
		panic(err)
	}
	for range 3 {
		_, err = p.Execute(context.Background(), func(context.Context) (int, error) { return 0, errUnavailable })
	}
	fmt.Println(err)
	s, _ := rec.Last(firebreak.KindBreakerOpen)
	fmt.Println(s.Summary)
	fmt.Println("fallback in place:", s.Fallback)
	// Output:
	// breaker "recommendations": circuit open
	// breaker "recommendations" opened: 2 of 2 calls failed (2 in a row) in the last 30s; calls fail fast for 1m0s
	// fallback in place: true
}

// Isolating a fault source by hand, and releasing it: both are reported with
// the reason.
func ExampleBreaker_ForceOpen() {
	var rec firebreak.Recorder
	b, err := breaker.New[int](breaker.WithComponent(firebreak.Component{Name: "orders", Dependency: "ledger", Reporter: &rec}))
	if err != nil {
		panic(err)
	}
	_ = b.ForceOpen("INC-7: ledger writes corrupt balances")
	_, err = b.Execute(context.Background(), func(context.Context) (int, error) { return 1, nil })
	fmt.Println(err)
	_ = b.Release("INC-7: ledger fixed in v2.3.1")
	fmt.Println(b.State())
	for _, s := range rec.Signals() {
		fmt.Println(s.Firing, s.Summary)
	}
	// Output:
	// breaker "ledger": forced open: INC-7: ledger writes corrupt balances
	// closed
	// true breaker "ledger" forced open: INC-7: ledger writes corrupt balances
	// false breaker "ledger" released: INC-7: ledger fixed in v2.3.1
}

// One breaker per host, at most 100 of them: a failing host is cut off while
// the others keep serving.
func ExampleGroup() {
	g, err := breaker.NewGroup[string, string](100, breaker.WithConsecutiveFailures(1))
	if err != nil {
		panic(err)
	}
	fetch := func(host string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) {
			if host == "b.example" {
				return "", errUnavailable
			}
			return "page from " + host, nil
		}
	}
	for _, host := range []string{"a.example", "b.example", "b.example", "a.example"} {
		page, err := g.Execute(context.Background(), host, fetch(host))
		fmt.Println(host, page, err)
	}
	fmt.Println(g.Breaker("b.example").State(), g.Len())
	// Output:
	// a.example page from a.example <nil>
	// b.example  payments: 503 service unavailable
	// b.example  breaker "b.example": circuit open
	// a.example page from a.example <nil>
	// open 2
}

// Tests of code that uses a breaker can put it in a state.
func ExampleBreaker_SetState() {
	b, err := breaker.New[int]()
	if err != nil {
		panic(err)
	}
	_ = b.SetState(breaker.StateOpen)
	_, err = b.Execute(context.Background(), func(context.Context) (int, error) { return 1, nil })
	fmt.Println(errors.Is(err, breaker.ErrOpen))
	_ = b.SetState(breaker.StateClosed)
	v, err := b.Execute(context.Background(), func(context.Context) (int, error) { return 1, nil })
	fmt.Println(v, err)
	// Output:
	// true
	// 1 <nil>
}

// A dependency that never answers trips the breaker even though every
// caller gives up first: a call the caller's context ended counts as hung
// once it ran the hang threshold (here 1 ms, for a quick example; the
// default is 500 ms) or ran out a deadline that gave it a real budget.
func ExampleWithHangThreshold() {
	b, err := breaker.New[int](breaker.WithHangThreshold(time.Millisecond, time.Millisecond))
	if err != nil {
		panic(err)
	}
	never := func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() }
	for range breaker.DefaultConsecutiveFailures {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
		_, _ = b.Execute(ctx, never)
		cancel()
	}
	fmt.Println(b.State())
	// Output:
	// open
}

// shedError is a load shedder's rejection: a firebreak.Rejecter.
type shedError struct{}

func (shedError) Error() string                  { return "shed" }
func (shedError) Rejection() firebreak.Rejection { return firebreak.RejectOverload }

// A shedder inside the breaker refuses calls locally: the breaker counts
// its rejections as neither success nor failure, however many there are.
func Example_rejectionsNeverCount() {
	b, err := breaker.New[int]()
	if err != nil {
		panic(err)
	}
	shed := func(context.Context) (int, error) { return 0, fmt.Errorf("inventory: %w", shedError{}) }
	for range 1000 {
		_, _ = b.Execute(context.Background(), shed)
	}
	c := b.Counts()
	fmt.Println(b.State(), c.Failures, c.Excluded)
	// Output:
	// closed 0 1000
}
