package failover

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// TestPoliciesConcurrentSafe runs every policy from many goroutines at once,
// with failures, mode changes and rotations of the budget window, for the
// race detector to check.
func TestPoliciesConcurrentSafe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		c := firebreak.Component{Name: "api", Dependency: "db", Reporter: &rec}
		retry := mustRetry[int](t, WithBackoff(time.Millisecond, 10*time.Millisecond, 2))
		fb, _ := NewFallback(Static(-1), WithLastGood(time.Second, SharedLastGood))
		fo, _ := NewFailover[int]([]Endpoint{{Name: "a"}, {Name: "b"}, {Name: "c"}}, WithEjection(2, 100*time.Millisecond, 0.5))
		shed := mustShedder(t, 1000, 50, WithMaxConcurrent(8), WithSustain(time.Millisecond, 10*time.Millisecond))
		sp, _ := NewShed[int](shed)
		d, _ := NewDegrader(WithSwitches("x"))
		gate, _ := NewGate[int](d, "x", ModeMinimal)
		p, err := firebreak.NewPipeline(c, []firebreak.Policy[int]{retry, fb, fo, sp, gate})
		if err != nil {
			t.Fatal(err)
		}
		var n atomic.Int64
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 200 {
					ctx := context.Background()
					if i%7 == 0 {
						ctx = ContextWithPriority(ctx, PriorityCritical)
					}
					p.Execute(ctx, func(ctx context.Context) (int, error) {
						if n.Add(1)%3 == 0 {
							return 0, errors.New("flaky")
						}
						return g, nil
					})
					if i%50 == 0 {
						d.SetMode(Mode(i/50%3), "drill")
						d.Kill("x", "drill")
						d.Restore("x", "drill")
						d.Notify(ctx, note("inc", firebreak.Fatal, firebreak.State(i/50%5), true))
						_ = fo.Status()
						_ = shed.Sustained()
					}
					time.Sleep(time.Duration(i%5) * time.Millisecond)
				}
			})
		}
		wg.Wait()
		if shed.InFlight() != 0 {
			t.Errorf("in flight %d after all calls, want 0", shed.InFlight())
		}
	})
}
