package failover

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
)

// A permit kept on a processor that then stops calling must not cost
// another call its place: with such permits on three slots, a limit of 10
// still admits 10 calls that hold on, refuses the 11th, and counts exactly
// 10 in flight.
func TestAdaptiveLimitReclaimsKeptPermits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 10
		l, err := NewAdaptiveLimiter[int](WithLimits(limit, limit, limit), WithCriticalReserve(0))
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{3, 5, 7} { // as a release on those processors leaves them
			l.permits[i].held.Store(1)
			l.inflight.Add(1)
		}
		if n := l.InFlight(); n != 0 {
			t.Fatalf("InFlight %d with only kept permits, want 0", n)
		}
		ctx := ContextWithPriority(t.Context(), PriorityCritical)
		hold := make(chan struct{})
		var wg sync.WaitGroup
		for i := range limit {
			wg.Go(func() {
				if _, err := l.Execute(ctx, func(context.Context) (int, error) { <-hold; return 1, nil }); err != nil {
					t.Errorf("call %d of %d refused: %v", i+1, limit, err)
				}
			})
			synctest.Wait()
		}
		if _, err := l.Execute(ctx, func(context.Context) (int, error) { return 1, nil }); !errors.Is(err, ErrLimited) {
			t.Errorf("call %d: %v, want ErrLimited", limit+1, err)
		}
		if n := l.InFlight(); n != limit {
			t.Errorf("InFlight %d, want %d", n, limit)
		}
		close(hold)
		wg.Wait()
		if n := l.InFlight(); n != 0 {
			t.Errorf("InFlight %d after every call ended, want 0", n)
		}
	})
}

// Two calls find the limit reached at once; one of them takes the kept
// permits back, and the other finds the slots empty while the first has
// yet to free the permits from the count. The second must read the count
// once they are freed, not refuse a call with places free. On one
// processor the interleaving is fixed: the second call runs until it
// yields, and the first completes its reclaim meanwhile.
func TestAdaptiveLimitWaitsForAReclaimUnderWay(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const limit = 10
	l, err := NewAdaptiveLimiter[int](WithLimits(limit, limit, limit), WithCriticalReserve(0))
	if err != nil {
		t.Fatal(err)
	}
	// Nine calls in flight, and one permit taken from its slot by a
	// reclaim under way: counted still, about to be freed.
	l.inflight.Store(limit)
	l.moving.Add(1)
	admitted := make(chan bool, 1)
	go func() { admitted <- l.admit(1) }()
	runtime.Gosched()  // the second call runs until it yields
	l.inflight.Add(-1) // the reclaim frees the permit and ends
	l.moving.Add(-1)
	if !<-admitted {
		t.Fatalf("a call was refused with %d of %d places taken", limit-1, limit)
	}
}
