package breaker

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

// TestWindowCountsEveryCall plays 8 goroutines of calls, one in ten
// failing, into one bucket of the closed window: the counts must be the
// calls made, none lost to the lock-free path.
func TestWindowCountsEveryCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBound(t, firebreak.Component{Name: "checkout", Dependency: "orders"})
		const workers, calls = 8, 20_000
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := range calls {
					_, _ = b.Execute(context.Background(), func(context.Context) (int, error) {
						if i%10 == 9 {
							return 0, errBench
						}
						return 1, nil
					})
				}
			})
		}
		wg.Wait()
		if s := b.State(); s != StateClosed {
			t.Fatalf("state %v after 10%% errors, want closed", s)
		}
		c := b.Counts()
		want := Counts{Requests: workers * calls, Successes: workers * calls * 9 / 10, Failures: workers * calls / 10}
		if c.Requests != want.Requests || c.Successes != want.Successes || c.Failures != want.Failures || c.Excluded != 0 {
			t.Fatalf("counts %+v, want %+v", c, want)
		}
	})
}

// TestWindowCountsAcrossBuckets plays calls from 8 goroutines over two
// minutes of virtual time, crossing many bucket rollovers: the window then
// holds exactly the calls of its last 30 seconds.
func TestWindowCountsAcrossBuckets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBound(t, firebreak.Component{Name: "checkout", Dependency: "orders"})
		const workers = 8
		var wg sync.WaitGroup
		// Each worker makes 10 calls every 100 ms for 120 s: 100 calls/s each.
		for range workers {
			wg.Go(func() {
				for range 1200 {
					for range 10 {
						_, _ = b.Execute(context.Background(), okCall)
					}
					time.Sleep(100 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		// The last calls were made at 119.9 s; the window's buckets are
		// [90 s, 95 s) … [115 s, 120 s): 30 s of 800 calls/s.
		c := b.Counts()
		const want = 30 * 10 * 10 * workers
		if c.Requests != want || c.Successes != want {
			t.Fatalf("counts %+v, want %d requests and successes", c, want)
		}
	})
}

// TestFastPathStress runs the lock-free closed path against everything
// that changes the state under it: trips by bursts of failures, open
// timeouts and half-open trials, SetState and ForceOpen/Release from
// another goroutine. Run with -race. Every state change is reported once,
// in order, and a forced breaker rejects every call started after
// ForceOpen returned.
func TestFastPathStress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &firebreak.Recorder{}
		b := newBound(t, firebreak.Component{Name: "checkout", Dependency: "orders", Reporter: rec},
			WithWindow(2*time.Second, 500*time.Millisecond), WithOpenTimeout(time.Second), WithHalfOpenCalls(2))
		var failing atomic.Bool
		var stop atomic.Bool
		var calls, rejected atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for i := 0; !stop.Load(); i++ {
					_, err := b.Execute(context.Background(), func(context.Context) (int, error) {
						if failing.Load() {
							return 0, errBench
						}
						return 1, nil
					})
					calls.Add(1)
					if errors.Is(err, ErrOpen) {
						rejected.Add(1)
					}
					if i%10 == 0 {
						time.Sleep(time.Millisecond)
					}
				}
			})
		}
		for round := range 20 {
			failing.Store(true) // an outage: trips on the ratio
			time.Sleep(3 * time.Second)
			failing.Store(false) // recovers through half-open
			time.Sleep(3 * time.Second)
			if err := b.ForceOpen("stress"); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Execute(context.Background(), okCall); !errors.Is(err, ErrOpen) {
				t.Fatalf("round %d: call after ForceOpen: %v, want ErrOpen", round, err)
			}
			time.Sleep(100 * time.Millisecond)
			if err := b.Release("stress"); err != nil {
				t.Fatal(err)
			}
			switch round % 3 {
			case 0:
				_ = b.SetState(StateHalfOpen)
			case 1:
				_ = b.SetState(StateOpen)
			}
			time.Sleep(2 * time.Second)
		}
		stop.Store(true)
		wg.Wait()
		if s := b.State(); s != StateClosed {
			t.Fatalf("state %v after healthy traffic, want closed", s)
		}
		sigs := rec.Of(firebreak.KindBreakerOpen)
		var trips int
		for i, s := range sigs {
			if i > 0 && s.Metrics["state"] == sigs[i-1].Metrics["state"] {
				t.Fatalf("signal %d repeats state %v: %q after %q", i, s.Metrics["state"], s.Summary, sigs[i-1].Summary)
			}
			if _, ok := s.Metrics["failure_ratio"]; ok {
				trips++
			}
		}
		if trips < 20 || rejected.Load() == 0 {
			t.Fatalf("%d trips and %d rejections in %d calls, want at least 20 trips (one a round) and some rejections",
				trips, rejected.Load(), calls.Load())
		}
		c := b.Counts()
		if c.Successes+c.Failures+c.Excluded > c.Requests {
			t.Fatalf("counts %+v: more outcomes than requests", c)
		}
	})
}

// TestWindowStripesOnContention: a window whose calls come one at a time
// counts them on one counter and never makes its per-P stripes (most of a
// Group's breakers); once stripes are made, the counts on the one counter
// and on the stripes add up, with none lost.
func TestWindowStripesOnContention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBound(t, firebreak.Component{Name: "checkout", Dependency: "orders"})
		for range 1000 {
			_, _ = b.Execute(context.Background(), okCall)
			time.Sleep(time.Millisecond)
		}
		w := b.cur.Load().win.Load()
		if w.striped.Load() != nil {
			t.Fatal("a window with calls one at a time made its stripes")
		}
		if c := b.Counts(); c.Requests != 1000 || c.Successes != 1000 {
			t.Fatalf("counts %+v, want 1000 requests and successes", c)
		}
		// Contention, as a failed compare-and-swap would show it: the
		// stripes are made, and the calls on both are counted.
		w.contended()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 500 {
					_, _ = b.Execute(context.Background(), okCall)
				}
			})
		}
		wg.Wait()
		if c := b.Counts(); c.Requests != 5000 || c.Successes != 5000 {
			t.Fatalf("counts %+v, want 5000 requests and successes", c)
		}
	})
}
