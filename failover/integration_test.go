package failover_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/failover"
)

// The retry never hammers an open breaker, and the fallback answers for it.
func TestWithBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		br, err := breaker.New[string]()
		if err != nil {
			t.Fatal(err)
		}
		retry, _ := failover.NewRetry[string](failover.WithMaxAttempts(5))
		fb, _ := failover.NewFallback(failover.Static("cached"))
		p, err := firebreak.NewPipeline(firebreak.Component{Name: "shop", Dependency: "pricing", Reporter: &rec},
			[]firebreak.Policy[string]{br, retry, fb})
		if err != nil {
			t.Fatal(err)
		}
		if err := br.ForceOpen("drill"); err != nil {
			t.Fatal(err)
		}
		calls := 0
		fn := func(context.Context) (string, error) { calls++; return "fresh", nil }
		v, err := p.Execute(t.Context(), fn)
		if v != "cached" || err != nil || calls != 0 {
			t.Errorf("got %q, %v after %d calls; want the fallback without calling", v, err, calls)
		}
		_, err = retry.Execute(t.Context(), func(ctx context.Context) (string, error) {
			calls++
			return br.Execute(ctx, fn)
		})
		if !errors.Is(err, breaker.ErrOpen) || calls != 1 || !firebreak.IsRejected(err) {
			t.Errorf("retry around an open breaker: %v after %d attempts; want ErrOpen after 1", err, calls)
		}
		if _, ok := rec.Last(firebreak.KindFallbackActive); !ok {
			t.Error("no fallback_active signal")
		}
	})
}

// A breaker outside a timeout opens on a hung dependency: the timeouts are
// failures it counts. Ten minutes of healthy traffic at 100 calls/s (20ms
// each) never trip it; then the dependency hangs (answers only when its
// context ends) and within a second the breaker is open and callers are
// refused without waiting.
func TestTimeoutOpensBreakerOnHungDependency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		br, err := breaker.New[string]()
		if err != nil {
			t.Fatal(err)
		}
		to, err := failover.NewTimeout[string](200 * time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		p, err := firebreak.NewPipeline(firebreak.Component{Name: "shop", Dependency: "pricing", Tier: firebreak.Core, Reporter: &rec},
			[]firebreak.Policy[string]{to, br})
		if err != nil {
			t.Fatal(err)
		}
		var hang atomic.Bool
		var reached atomic.Int64
		dep := func(ctx context.Context) (string, error) {
			reached.Add(1)
			if hang.Load() {
				<-ctx.Done()
				return "", ctx.Err()
			}
			time.Sleep(20 * time.Millisecond)
			return "price", nil
		}
		var timeouts, open, other atomic.Int64
		var wg sync.WaitGroup
		traffic := func(d time.Duration) {
			for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
				wg.Go(func() {
					_, err := p.Execute(context.Background(), dep)
					switch {
					case err == nil:
					case errors.Is(err, failover.ErrTimeout):
						timeouts.Add(1)
					case errors.Is(err, breaker.ErrOpen):
						open.Add(1)
					default:
						other.Add(1)
					}
				})
			}
			wg.Wait()
		}
		traffic(10 * time.Minute)
		if n := timeouts.Load() + open.Load() + other.Load(); n != 0 || br.State() != breaker.StateClosed {
			t.Fatalf("healthy traffic: %d errors, breaker %v; want none, closed", n, br.State())
		}
		hang.Store(true)
		faultAt := time.Now()
		// The default breaker decides on its failure ratio at this traffic
		// (half of a 30 s window): within 30 s of the fault.
		traffic(30 * time.Second)
		if br.State() != breaker.StateOpen {
			t.Fatalf("30 s into the hang the breaker is %v, want open", br.State())
		}
		sig, ok := rec.Last(firebreak.KindBreakerOpen)
		if !ok || !sig.Firing || sig.Time.Before(faultAt) || sig.Time.Sub(faultAt) > 30*time.Second {
			t.Errorf("breaker_open signal %+v, want it firing within 30 s of the fault", sig)
		}
		if timeouts.Load() < 5 || open.Load() < 50 || other.Load() != 0 {
			t.Errorf("in the hang: %d timeouts, %d refused by the open breaker, %d other; want the timeouts to trip it and it to refuse the rest",
				timeouts.Load(), open.Load(), other.Load())
		}
		before := reached.Load()
		if _, err := p.Execute(context.Background(), dep); !errors.Is(err, breaker.ErrOpen) || reached.Load() != before {
			t.Errorf("with the breaker open: %v, dependency reached %d times; want refused without calling", err, reached.Load()-before)
		}
	})
}
