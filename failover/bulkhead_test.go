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

// A dependency answering in 20ms at 200 calls/s keeps 4 calls in flight:
// a bulkhead of 10 never refuses one. When it slows to 500ms, 100 would be
// in flight: the bulkhead holds them at 10, refuses the rest with a
// matchable rejection and, after 10s of it, reports load_shed under the
// component with the dependency as its "guards" label; once the dependency
// is fast again the signal clears.
func TestBulkheadHoldsASlowDependency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		bh, err := bound(NewBulkhead[int](10))(&rec)
		if err != nil {
			t.Fatal(err)
		}
		var latency atomic.Int64
		latency.Store(int64(20 * time.Millisecond))
		var inflight, peak atomic.Int64
		dep := func(ctx context.Context) (int, error) {
			n := inflight.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(time.Duration(latency.Load()))
			inflight.Add(-1)
			return 1, nil
		}
		var ok, rejected atomic.Int64
		var wg sync.WaitGroup
		play := func(d time.Duration) {
			for range int(d / (5 * time.Millisecond)) {
				wg.Go(func() {
					_, err := bh.Execute(t.Context(), dep)
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, ErrBulkheadFull) && firebreak.RejectionOf(err) == firebreak.RejectOverload:
						rejected.Add(1)
					default:
						t.Errorf("unexpected error %v", err)
					}
				})
				time.Sleep(5 * time.Millisecond)
			}
		}
		play(time.Minute)
		if rejected.Load() != 0 || peak.Load() > 10 {
			t.Fatalf("healthy: %d rejected, peak %d in flight; want none rejected", rejected.Load(), peak.Load())
		}
		if len(rec.Of(firebreak.KindLoadShed)) != 0 {
			t.Fatal("load_shed while healthy")
		}
		latency.Store(int64(500 * time.Millisecond))
		ok.Store(0)
		play(30 * time.Second)
		if peak.Load() != 10 {
			t.Errorf("slow: peak %d in flight, want the limit of 10", peak.Load())
		}
		// 10 places for 500ms calls: 20 calls/s get through, 180 are refused.
		if got := ok.Load(); got < 550 || got > 620 {
			t.Errorf("slow: %d calls admitted in 30s, want about 600", got)
		}
		s, found := rec.Last(firebreak.KindLoadShed)
		if !found || !s.Firing || s.Dependency != "" || s.Labels["guards"] != "catalog" || s.Labels["policy"] != "bulkhead" || s.Component != "shop" {
			t.Fatalf("load_shed signal %+v, want firing for shop guarding catalog", s)
		}
		latency.Store(int64(20 * time.Millisecond))
		wg.Wait()
		play(30 * time.Second)
		wg.Wait()
		if s, _ := rec.Last(firebreak.KindLoadShed); s.Firing {
			t.Error("load_shed still firing after the dependency recovered")
		}
		if n := len(rec.Of(firebreak.KindLoadShed)); n != 2 {
			t.Errorf("%d load_shed signals, want one firing and one clearing", n)
		}
		if bh.InFlight() != 0 || bh.Queued() != 0 {
			t.Errorf("in flight %d, queued %d after the traffic ended", bh.InFlight(), bh.Queued())
		}
	})
}

// Queued calls get places first in, first out; a call finding the queue
// full is refused at once, one waiting longer than maxWait is refused
// saying so, and one whose caller gives up gets its context's error and
// leaves the queue.
func TestBulkheadQueueIsFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bh, err := NewBulkhead[int](1, WithQueue(3, time.Second))
		if err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		hold := func(context.Context) (int, error) { <-release; return 0, nil }
		var order []int
		var mu sync.Mutex
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = bh.Execute(t.Context(), hold) })
		synctest.Wait()
		cctx, cancel := context.WithCancel(t.Context())
		errs := make([]error, 4)
		for i := range 3 {
			ctx := t.Context()
			if i == 1 {
				ctx = cctx
			}
			wg.Go(func() {
				_, errs[i] = bh.Execute(ctx, func(context.Context) (int, error) {
					mu.Lock()
					order = append(order, i)
					mu.Unlock()
					<-release
					return 0, nil
				})
			})
			synctest.Wait() // each is queued before the next arrives
		}
		if bh.Queued() != 3 {
			t.Fatalf("queued %d, want 3", bh.Queued())
		}
		_, err = bh.Execute(t.Context(), hold)
		var be *BulkheadError
		if !errors.As(err, &be) || be.Waited != 0 || err.Error() != "failover: bulkhead full (1 in flight, 3 queued)" {
			t.Fatalf("queue full: %v", err)
		}
		cancel()
		synctest.Wait()
		if !errors.Is(errs[1], context.Canceled) || firebreak.IsRejected(errs[1]) || bh.Queued() != 2 {
			t.Fatalf("cancelled waiter: %v, queued %d; want its context's error and 2 left", errs[1], bh.Queued())
		}
		close(release)
		wg.Wait()
		if len(order) != 2 || order[0] != 0 || order[1] != 2 {
			t.Errorf("served in order %v, want [0 2]", order)
		}

		// A waiter that waits longer than maxWait is refused.
		block := make(chan struct{})
		wg.Go(func() { _, _ = bh.Execute(t.Context(), func(context.Context) (int, error) { <-block; return 0, nil }) })
		synctest.Wait()
		start := time.Now()
		_, err = bh.Execute(t.Context(), hold)
		if !errors.As(err, &be) || be.Waited != time.Second || time.Since(start) != time.Second || !firebreak.IsRejected(err) {
			t.Errorf("timed-out waiter: %v after %v", err, time.Since(start))
		}
		close(block)
		wg.Wait()
	})
}

// Under contention from many goroutines, with and without a queue, the
// bulkhead never admits more than its limit and loses no place.
func TestBulkheadConcurrent(t *testing.T) {
	for _, opts := range [][]BulkheadOption{nil, {WithQueue(8, time.Millisecond)}} {
		bh, _ := NewBulkhead[int](4, opts...)
		var inflight atomic.Int64
		var over atomic.Bool
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for range 500 {
					_, _ = bh.Execute(context.Background(), func(context.Context) (int, error) {
						if inflight.Add(1) > 4 {
							over.Store(true)
						}
						inflight.Add(-1)
						return 0, nil
					})
				}
			})
		}
		wg.Wait()
		if over.Load() || bh.InFlight() != 0 || bh.Queued() != 0 {
			t.Errorf("over the limit %v, in flight %d, queued %d", over.Load(), bh.InFlight(), bh.Queued())
		}
	}
}

func TestBulkheadSettings(t *testing.T) {
	for _, tt := range []struct {
		n    int
		opts []BulkheadOption
		want string
	}{
		{0, nil, "failover: NewBulkhead: maxConcurrent 0 must be at least 1"},
		{1, []BulkheadOption{WithQueue(-1, time.Second)}, "failover: NewBulkhead: WithQueue size -1 must not be negative"},
		{1, []BulkheadOption{WithQueue(2, 0)}, "failover: NewBulkhead: WithQueue maxWait must be positive for a queue of 2"},
		{1, []BulkheadOption{WithSustain(-1, 0)}, "failover: NewBulkhead: WithSustain(-1ns, 0s): durations must be positive"},
		{1, []BulkheadOption{nil}, "failover: NewBulkhead: option 0 is nil"},
	} {
		if _, err := NewBulkhead[int](tt.n, tt.opts...); err == nil || err.Error() != tt.want {
			t.Errorf("err = %v, want %q", err, tt.want)
		}
	}
}

func TestBulkheadAllocs(t *testing.T) {
	bh, _ := NewBulkhead[int](10)
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	wantAllocs(t, 0, func() { _, _ = bh.Execute(ctx, fn) })
	full, _ := NewBulkhead[int](1)
	full.inflight.Store(1)
	wantAllocs(t, 0, func() { _, _ = full.Execute(ctx, fn) })
}

func TestAdaptiveLimiterAllocs(t *testing.T) {
	l, _ := NewAdaptiveLimiter[int]()
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	wantAllocs(t, 0, func() { _, _ = l.Execute(ctx, fn) })
}
