package failover

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
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

// A Shedder's bucket over a long run of overload from many goroutines: the
// total admitted stays within rate×time + burst and close to the rate (no
// tokens put aside on processors are stranded for good), critical traffic
// at a tenth of the rate is never refused while the normal class
// overloads it eightfold, and after an idle spell a burst of normal calls
// gets at most its share of the bucket plus what is put aside per
// processor.
func TestReviewShedderRateOverALongRun(t *testing.T) {
	withProcs(t, func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			const (
				rateLimit = 1000
				burst     = 200
				run       = 60 * time.Second
			)
			s, err := NewShedder(rateLimit, burst, WithCriticalReserve(0.2))
			if err != nil {
				t.Fatal(err)
			}
			crit := ContextWithPriority(t.Context(), PriorityCritical)
			var normal, critical, critRefused atomic.Int64
			stop := time.Now().Add(run)
			var wg sync.WaitGroup
			for g := range 16 {
				wg.Go(func() {
					time.Sleep(time.Duration(g) * 125 * time.Microsecond)
					for time.Now().Before(stop) {
						if p, err := s.Acquire(t.Context()); err == nil {
							normal.Add(1)
							p.Release()
						}
						time.Sleep(2 * time.Millisecond) // 8000/s from 16 goroutines
					}
				})
			}
			wg.Go(func() {
				for time.Now().Before(stop) {
					if p, err := s.Acquire(crit); err == nil {
						critical.Add(1)
						p.Release()
					} else {
						critRefused.Add(1)
					}
					time.Sleep(10 * time.Millisecond) // 100/s
				}
			})
			wg.Wait()
			total := normal.Load() + critical.Load()
			upper := int64(rateLimit*run.Seconds()) + burst
			if total > upper || total < upper-2*burst {
				t.Errorf("%d admitted over %v at %d/s with a burst of %d; want within [%d, %d]", total, run, rateLimit, burst, upper-2*burst, upper)
			}
			if critRefused.Load() != 0 {
				t.Errorf("%d critical calls refused (of %d) while the reserve should hold them", critRefused.Load(), critRefused.Load()+critical.Load())
			}

			time.Sleep(10 * time.Second) // idle: the bucket fills
			var burstAdmitted atomic.Int64
			for range 16 {
				wg.Go(func() {
					for range 125 {
						if p, err := s.Acquire(t.Context()); err == nil {
							burstAdmitted.Add(1)
							p.Release()
						}
					}
				})
			}
			wg.Wait()
			b := s.bucket
			maxBurst := (b.shared / b.every) + (b.batch-1)*permitSlots
			if n := burstAdmitted.Load(); n > maxBurst || n < b.shared/b.every {
				t.Errorf("a burst of 2000 normal calls after idling got %d admitted; want between %d (the normal share) and %d (plus tokens put aside)", n, b.shared/b.every, maxBurst)
			}
			var critBurst int
			for range burst {
				if p, err := s.Acquire(crit); err == nil {
					critBurst++
					p.Release()
				}
			}
			t.Logf("%d admitted over %v (critical %d); after idling a normal burst got %d, then a critical one %d", total, run, critical.Load(), burstAdmitted.Load(), critBurst)
			if reserve := int((b.all - b.shared) / b.every); critBurst < reserve {
				t.Errorf("after the normal burst %d critical calls admitted at once, want at least the reserve of %d", critBurst, reserve)
			}
		})
	})
}
