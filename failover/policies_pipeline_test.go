package failover_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/failover"
)

// The new policies in one pipeline with a retry and a breaker: a minute at
// 200 calls/s against a dependency that slows to 500ms. The bulkhead and
// the limiter refuse calls, and none of those refusals opens the breaker
// or is retried; the hedges stay within the retry budget they share.
func TestPoliciesInAPipeline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		br, _ := breaker.New[string]()
		retry, _ := failover.NewRetry[string](failover.WithMaxAttempts(3))
		hedge, _ := failover.NewHedge[string](100*time.Millisecond, failover.WithIdempotent(), failover.WithRetryBudget(retry))
		bh, _ := failover.NewBulkhead[string](40)
		lim, _ := failover.NewAdaptiveLimiter[string]()
		pipe, err := firebreak.NewPipeline(firebreak.Component{Name: "shop", Dependency: "catalog", Tier: firebreak.Core, Reporter: &rec},
			[]firebreak.Policy[string]{bh, lim, br, hedge, retry})
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, p := range pipe.Policies() {
			switch p.(type) {
			case *failover.Retry[string]:
				order = append(order, "retry")
			case *failover.Hedge[string]:
				order = append(order, "hedge")
			case *breaker.Breaker[string]:
				order = append(order, "breaker")
			case *failover.Bulkhead[string]:
				order = append(order, "bulkhead")
			case *failover.AdaptiveLimiter[string]:
				order = append(order, "limiter")
			}
		}
		if got := order; len(got) != 5 || got[0] != "retry" || got[1] != "hedge" || got[2] != "breaker" {
			t.Fatalf("order %v, want retry, hedge, breaker, then the limits", got)
		}
		var slow atomic.Bool
		var reached atomic.Int64
		dep := func(ctx context.Context) (string, error) {
			reached.Add(1)
			d := 20 * time.Millisecond
			if slow.Load() {
				d = 500 * time.Millisecond
			}
			tm := time.NewTimer(d)
			defer tm.Stop()
			select {
			case <-tm.C:
				return "ok", nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		var wg sync.WaitGroup
		var calls, rejected atomic.Int64
		for i := range 200 * 60 {
			if i == 200*20 {
				slow.Store(true)
			}
			calls.Add(1)
			wg.Go(func() {
				if _, err := pipe.Execute(t.Context(), dep); firebreak.IsRejected(err) {
					rejected.Add(1)
				}
			})
			time.Sleep(5 * time.Millisecond)
		}
		wg.Wait()
		if rejected.Load() == 0 {
			t.Error("no call refused by the limits")
		}
		if _, open := rec.Last(firebreak.KindBreakerOpen); open {
			t.Error("the breaker opened on local rejections")
		}
		// Each call reaches the dependency once, plus hedges within 20% of
		// the calls and the floor of 10 per window.
		if extra := reached.Load() - (calls.Load() - rejected.Load()); extra > calls.Load()/5+60 {
			t.Errorf("%d attempts beyond one per admitted call, want within the budget", extra)
		}
	})
}
