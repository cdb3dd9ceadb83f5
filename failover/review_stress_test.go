package failover

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// withProcs runs f under GOMAXPROCS 1, 2 and 8, restoring it after.
func withProcs(t *testing.T, f func(t *testing.T)) {
	for _, n := range []int{1, 2, 8} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", n), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))
			f(t)
		})
	}
}

// limitedCall is a call that fails the test if more than limit run at
// once, yields in the middle, and then ends as outcome says: success, an
// error, a panic (recovered by the caller), or a cancelled context.
func limitedCall(t *testing.T, cur *atomic.Int64, limit int64, outcome int) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		if n := cur.Add(1); n > limit {
			t.Errorf("%d calls inside a limit of %d", n, limit)
		}
		runtime.Gosched()
		cur.Add(-1)
		switch outcome {
		case 1:
			return 0, errors.New("dependency failed")
		case 2:
			panic("dependency panicked")
		}
		return 1, nil
	}
}

// stress plays 48 goroutines × 400 calls of mixed outcomes through exec,
// with a context cancelled before some calls.
func stress(t *testing.T, limit int64, exec func(ctx context.Context, fn func(context.Context) (int, error)) error) {
	var cur atomic.Int64
	var wg sync.WaitGroup
	for g := range 48 {
		wg.Go(func() {
			for i := range 400 {
				ctx := t.Context()
				if (g+i)%7 == 0 {
					c, cancel := context.WithCancel(ctx)
					cancel()
					ctx = c
				}
				func() {
					defer func() { _ = recover() }()
					_ = exec(ctx, limitedCall(t, &cur, limit, (g+i)%4))
				}()
			}
		})
	}
	wg.Wait()
}

// fillAll checks that limit calls can be inside at once again: each
// holds until all have been admitted.
func fillAll(t *testing.T, limit int, exec func(ctx context.Context, fn func(context.Context) (int, error)) error) {
	in := make(chan struct{}, limit)
	hold := make(chan struct{})
	var wg sync.WaitGroup
	for range limit {
		wg.Go(func() {
			if err := exec(t.Context(), func(context.Context) (int, error) {
				in <- struct{}{}
				<-hold
				return 1, nil
			}); err != nil {
				t.Errorf("after the stress, a call was refused with %d places free: %v", limit, err)
			}
		})
	}
	deadline := time.After(5 * time.Second) // a safety net for a hang, not a wait for an event
	for i := range limit {
		select {
		case <-in:
		case <-deadline:
			t.Errorf("only %d of %d calls admitted after the stress", i, limit)
			close(hold)
			wg.Wait()
			return
		}
	}
	close(hold)
	wg.Wait()
}

// A Bulkhead with a queue and kept permits never lets more than its limit
// in, whatever the calls do (succeed, fail, panic, arrive cancelled, wait
// out the queue), and ends with nothing in flight or queued and its whole
// capacity usable.
func TestReviewBulkheadStress(t *testing.T) {
	withProcs(t, func(t *testing.T) {
		const limit = 24
		p, err := NewBulkhead[int](limit, WithQueue(8, time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		exec := func(ctx context.Context, fn func(context.Context) (int, error)) error {
			_, err := p.Execute(ctx, fn)
			return err
		}
		stress(t, limit, exec)
		if p.InFlight() != 0 || p.Queued() != 0 || p.inflight.Load() != p.permits.count() {
			t.Fatalf("after the stress: InFlight %d, Queued %d, count %d with %d kept; want 0, 0 and only kept ones",
				p.InFlight(), p.Queued(), p.inflight.Load(), p.permits.count())
		}
		fillAll(t, limit, exec)
		if p.InFlight() != 0 {
			t.Errorf("InFlight %d at the end, want 0", p.InFlight())
		}
	})
}

// The same for an AdaptiveLimiter held at a fixed limit, large enough for
// permits to be kept.
func TestReviewAdaptiveLimiterStress(t *testing.T) {
	withProcs(t, func(t *testing.T) {
		const limit = 40
		l, err := NewAdaptiveLimiter[int](WithLimits(limit, limit, limit), WithCriticalReserve(0))
		if err != nil {
			t.Fatal(err)
		}
		exec := func(ctx context.Context, fn func(context.Context) (int, error)) error {
			_, err := l.Execute(ctx, fn)
			return err
		}
		stress(t, limit, exec)
		if l.InFlight() != 0 {
			t.Fatalf("InFlight %d after the stress, want 0", l.InFlight())
		}
		fillAll(t, limit, exec)
		if l.InFlight() != 0 {
			t.Errorf("InFlight %d at the end, want 0", l.InFlight())
		}
	})
}

// The same for a Shedder's concurrency limit.
func TestReviewShedderConcurrencyStress(t *testing.T) {
	withProcs(t, func(t *testing.T) {
		const limit = 16
		s, err := NewShedder(1e9, 1_000_000, WithMaxConcurrent(limit), WithCriticalReserve(0))
		if err != nil {
			t.Fatal(err)
		}
		sh, err := NewShed[int](s)
		if err != nil {
			t.Fatal(err)
		}
		exec := func(ctx context.Context, fn func(context.Context) (int, error)) error {
			_, err := sh.Execute(ctx, fn)
			return err
		}
		stress(t, limit, exec)
		if s.InFlight() != 0 {
			t.Fatalf("InFlight %d after the stress, want 0", s.InFlight())
		}
		fillAll(t, limit, exec)
	})
}
