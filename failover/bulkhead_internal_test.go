package failover

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// Permits kept on processors that then stop calling never cost a call its
// place: with three kept, a bulkhead of 20 still admits 20 calls that hold
// on, queues the 21st, and admits it when one of the 20 ends.
func TestBulkheadReclaimsKeptPermits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 20
		p, err := NewBulkhead[int](limit, WithQueue(10, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{1, 3, 5} { // as a release on those processors leaves them
			p.permits.slots[i].held.Store(1)
			p.inflight.Add(1)
		}
		if n := p.InFlight(); n != 0 {
			t.Fatalf("InFlight %d with only kept permits, want 0", n)
		}
		var holds [limit + 1]chan struct{}
		var wg sync.WaitGroup
		var admitted atomic.Int64
		for i := range limit + 1 {
			holds[i] = make(chan struct{})
			wg.Go(func() {
				if _, err := p.Execute(t.Context(), func(context.Context) (int, error) {
					admitted.Add(1)
					<-holds[i]
					return 1, nil
				}); err != nil {
					t.Errorf("call %d: %v", i+1, err)
				}
			})
			synctest.Wait()
		}
		if admitted.Load() != limit || p.InFlight() != limit || p.Queued() != 1 {
			t.Fatalf("%d admitted, InFlight %d, Queued %d; want %d, %d and 1", admitted.Load(), p.InFlight(), p.Queued(), limit, limit)
		}
		close(holds[0])
		synctest.Wait()
		if admitted.Load() != limit+1 || p.Queued() != 0 {
			t.Errorf("after one call ended: %d admitted, %d queued; want %d and 0", admitted.Load(), p.Queued(), limit+1)
		}
		for _, h := range holds[1:] {
			close(h)
		}
		wg.Wait()
		if n := p.InFlight(); n != 0 {
			t.Errorf("InFlight %d after every call ended, want 0", n)
		}
	})
}

// Under churn — 60 callers on a bulkhead of 40 with a queue, each calling
// again as soon as its 1–3ms call ends — the bulkhead is a hard bound,
// every call gets its place (none waits out the queue's 100ms), and
// nothing is left counted in flight.
func TestBulkheadKeptPermitsUnderChurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 40
		p, err := NewBulkhead[int](limit, WithQueue(100, 100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		var inside, most, failed atomic.Int64
		var wg sync.WaitGroup
		for g := range 60 {
			wg.Go(func() {
				for i := range 300 {
					lat := time.Duration(1+(g+i)%3) * time.Millisecond
					_, err := p.Execute(t.Context(), func(context.Context) (int, error) {
						n := inside.Add(1)
						defer inside.Add(-1)
						for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
						}
						time.Sleep(lat)
						return 1, nil
					})
					if err != nil {
						failed.Add(1)
						if !errors.Is(err, ErrBulkheadFull) {
							t.Error(err)
						}
					}
				}
			})
		}
		wg.Wait()
		if most.Load() > limit || failed.Load() != 0 {
			t.Errorf("%d in flight at most (limit %d), %d calls refused; want none refused", most.Load(), limit, failed.Load())
		}
		if n := p.InFlight(); n != 0 {
			t.Errorf("InFlight %d after the traffic stopped, want 0", n)
		}
	})
}

// A call on the fast path that takes the kept permits back races a caller
// that begins to wait meanwhile: the waiter counted itself, found the
// permits already gone but not yet freed, and queued. The fast path then
// frees them: it must grant the waiter one, not leave it queued with places
// free until the next release (a hung dependency's calls may never release
// before the wait times out).
func TestBulkheadFastReclaimGrantsAWaiterQueuedMeanwhile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 4
		p, err := NewBulkhead[int](limit, WithQueue(10, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		// Two hung calls hold two places.
		hang := make(chan struct{})
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				_, _ = p.Execute(t.Context(), func(context.Context) (int, error) { <-hang; return 1, nil })
			})
		}
		synctest.Wait()
		// The other two places sit kept on processors, and are being
		// taken back by the fast path: swapped out of their slots, not
		// yet freed. That is the moment a waiter counts itself and queues.
		p.inflight.Add(2)
		waited := make(chan error, 1)
		go func() {
			_, err := p.Execute(t.Context(), func(context.Context) (int, error) { return 1, nil })
			waited <- err
		}()
		synctest.Wait()
		if p.Queued() != 1 {
			t.Fatalf("Queued %d, want the waiter queued", p.Queued())
		}
		// The fast path frees the two it took back and takes one of them.
		for _, i := range []int{2, 6} {
			p.permits.slots[i].held.Store(1)
		}
		if !p.reclaimAndAcquire() {
			t.Fatal("the fast path got no place from two freed")
		}
		synctest.Wait()
		select {
		case err := <-waited:
			if err != nil {
				t.Fatalf("the waiter: %v", err)
			}
		default:
			t.Fatalf("the waiter is still queued (Queued %d) with %d calls in flight of %d", p.Queued(), p.InFlight(), limit)
		}
		p.release() // the fast path's own call ends
		close(hang)
		wg.Wait()
		if n := p.InFlight(); n != 0 {
			t.Errorf("InFlight %d after every call ended, want 0", n)
		}
	})
}

// The Bulkhead's counterpart of TestAdaptiveLimitWaitsForAReclaimUnderWay:
// with no queue, a call finding the slots emptied by another call's
// reclaim under way must not be rejected with a place about to be free.
func TestBulkheadWaitsForAReclaimUnderWay(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const limit = 10
	p, err := NewBulkhead[int](limit)
	if err != nil {
		t.Fatal(err)
	}
	p.inflight.Store(limit)
	p.permits.moving.Add(1)
	got := make(chan error, 1)
	go func() { got <- p.acquire(context.Background()) }()
	runtime.Gosched()
	p.inflight.Add(-1)
	p.permits.moving.Add(-1)
	if err := <-got; err != nil {
		t.Fatalf("a call was rejected with %d of %d places taken: %v", limit-1, limit, err)
	}
	p.release()
}
