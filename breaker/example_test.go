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

// A breaker protecting a call inside a pipeline: the pipeline binds it to
// the component, so it takes the component's name, tier and Reporter. During
// an outage, ten failures in a row open it at low traffic (at high traffic the
// failure ratio decides); from then on calls fail fast without reaching the
// dependency, and the open signal goes to the Reporter.
func Example() {
	var board firebreak.Recorder // a firebreak.Board in a real service
	cb, err := breaker.New[int]()
	if err != nil {
		panic(err)
	}
	p, err := firebreak.NewPipeline(firebreak.Component{
		Name: "checkout", Dependency: "inventory", Tier: firebreak.Core, Reporter: &board,
	}, []firebreak.Policy[int]{cb})
	if err != nil {
		panic(err)
	}

	reached := 0
	stock := func(ctx context.Context) (int, error) { // inventory is down
		reached++
		return 0, errors.New("inventory: 503 service unavailable")
	}
	for range 12 {
		_, err = p.Execute(context.Background(), stock)
	}
	fmt.Println(err)
	fmt.Println("open:", errors.Is(err, breaker.ErrOpen), "reached inventory:", reached)
	s, _ := board.Last(firebreak.KindBreakerOpen)
	fmt.Println(s.Firing, s.Tier, s.Summary)
	// Output:
	// breaker "inventory": circuit open
	// open: true reached inventory: 10
	// true core breaker "inventory" opened: 10 of 10 calls failed (10 in a row) in the last 30s; calls fail fast for 1m0s
}

// A breaker used on its own is bound by its user. Binding it again to the same
// component does nothing; binding it to another is an error, since its counts
// belong to one dependency.
func ExampleBreaker_Bind() {
	var board firebreak.Recorder
	cb, err := breaker.New[string](breaker.WithConsecutiveFailures(2))
	if err != nil {
		panic(err)
	}
	payments := firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core, Reporter: &board}
	if err := cb.Bind(payments); err != nil {
		panic(err)
	}
	charge := func(ctx context.Context) (string, error) { return "", errUnavailable }
	for range 3 {
		_, err = cb.Execute(context.Background(), charge)
		fmt.Println(err)
	}
	fmt.Println(cb.Bind(payments))
	fmt.Println(errors.Is(cb.Bind(firebreak.Component{Name: "checkout", Dependency: "ledger"}), firebreak.ErrAlreadyBound))
	s, _ := board.Last(firebreak.KindBreakerOpen)
	fmt.Println(s.Kind, s.Firing, s.Component, s.Dependency)
	// Output:
	// payments: 503 service unavailable
	// payments: 503 service unavailable
	// breaker "payments": circuit open
	// <nil>
	// true
	// breaker_open true checkout payments
}

// A breaker inside a pipeline's fallback says so on its signals (Fallback),
// so the plan grades its opening lower: callers are still served.
func Example_pipelineWithFallback() {
	var board firebreak.Recorder
	cb, err := breaker.New[int](breaker.WithConsecutiveFailures(2))
	if err != nil {
		panic(err)
	}
	p, err := firebreak.NewPipeline(firebreak.Component{
		Name: "catalog", Dependency: "recommendations", Tier: firebreak.Auxiliary, Reporter: &board,
	}, []firebreak.Policy[int]{cb, staticFallback(7)})
	if err != nil {
		panic(err)
	}
	for range 3 {
		v, err := p.Execute(context.Background(), func(context.Context) (int, error) { return 0, errUnavailable })
		fmt.Println(v, err)
	}
	s, _ := board.Last(firebreak.KindBreakerOpen)
	fmt.Println(cb.State(), "fallback in place:", s.Fallback)
	// Output:
	// 7 <nil>
	// 7 <nil>
	// 7 <nil>
	// open fallback in place: true
}

// staticFallback is a fallback-stage policy serving a fixed value on any
// error; the failover package has real ones.
type staticFallback int

func (staticFallback) Stage() firebreak.Stage { return firebreak.StageFallback }
func (f staticFallback) Apply(ctx context.Context, next firebreak.Next[int]) (int, error) {
	if v, err := next.Call(ctx); err == nil {
		return v, nil
	}
	return int(f), nil
}

// Isolating a fault source by hand, and releasing it: both are reported with
// the reason.
func ExampleBreaker_ForceOpen() {
	var rec firebreak.Recorder
	b, err := breaker.New[int]()
	if err != nil {
		panic(err)
	}
	if err := b.Bind(firebreak.Component{Name: "orders", Dependency: "ledger", Reporter: &rec}); err != nil {
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
