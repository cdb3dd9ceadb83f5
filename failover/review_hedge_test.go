package failover

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak/internal/race"
)

// When a hedge wins and the first attempt, cancelled for it, returns its
// context's error, the caller gets the hedge's answer with the hedge's
// context still live: what the call returns may go on using it (an HTTP
// body), as the Hedge's doc promises.
func TestReviewHedgeWinnerContextNotCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, err := NewHedge[context.Context](10*time.Millisecond, WithIdempotent())
		if err != nil {
			t.Fatal(err)
		}
		var n atomic.Int64
		got, err := h.Execute(t.Context(), func(ctx context.Context) (context.Context, error) {
			if n.Add(1) == 1 { // the first attempt hangs until cancelled
				<-ctx.Done()
				return nil, ctx.Err()
			}
			time.Sleep(time.Millisecond) // the hedge answers in 1ms
			return ctx, nil
		})
		if err != nil || got == nil {
			t.Fatalf("got %v, %v; want the hedge's context", got, err)
		}
		if n.Load() != 2 {
			t.Fatalf("%d attempts, want 2", n.Load())
		}
		if err := got.Err(); err != nil {
			t.Errorf("the winning hedge's context is %v after the call returned, want live", err)
		}
		select {
		case <-got.Done():
			t.Error("the winning hedge's Done is closed")
		default:
		}
	})
}

// A delay so long that now+delay overflows int64 (the largest
// time.Duration, given or returned by a delay func, with the process up
// for a while) is a deadline that never comes, not one in the past that
// hedges every call at once.
func TestReviewHedgeDeadlineSaturates(t *testing.T) {
	day := int64(24 * time.Hour)
	for _, c := range []struct {
		now  int64
		d    time.Duration
		want int64
	}{
		{1, time.Duration(math.MaxInt64), math.MaxInt64},
		{day, time.Duration(math.MaxInt64 - 1), math.MaxInt64},
		{day, 50 * time.Millisecond, day + int64(50*time.Millisecond)},
		{-day, time.Duration(math.MaxInt64), -day + math.MaxInt64},
		{-int64(50 * time.Millisecond), 50 * time.Millisecond, 1}, // 0 is "none"
	} {
		if got := hedgeDeadline(c.now, c.d); got != c.want {
			t.Errorf("hedgeDeadline(%d, %v) = %d, want %d", c.now, c.d, got, c.want)
		}
	}
}

// Steady traffic for a virtual hour — 10 callers, 100 calls/s, one call in
// ten slow enough to be hedged, some failing, some panicking, some whose
// caller gives up — leaves the Hedge's list of runs bounded, each caller
// with its own call's answer, and no goroutine behind.
func TestReviewHedgeSteadyHourBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, err := NewHedge[int](20*time.Millisecond, WithIdempotent())
		if err != nil {
			t.Fatal(err)
		}
		span := time.Hour
		if race.Enabled {
			span = 15 * time.Minute // the same traffic, in a few seconds under the race detector
		}
		stop := time.Now().Add(span)
		var maxRuns, calls atomic.Int64
		var wg sync.WaitGroup
		for g := range 10 {
			wg.Go(func() {
				for i := 0; time.Now().Before(stop); i++ {
					id := g*1_000_000 + i
					ctx, cancel := context.WithCancel(t.Context())
					if i%50 == 7 {
						time.AfterFunc(5*time.Millisecond, cancel) // the caller gives up
					}
					var attempts atomic.Int64
					v, err := func() (v int, err error) {
						defer func() {
							if p := recover(); p != nil {
								err = fmt.Errorf("panicked: %v", p)
							}
						}()
						return h.Execute(ctx, func(ctx context.Context) (int, error) {
							first := attempts.Add(1) == 1
							d := time.Millisecond
							if first && i%10 == 3 {
								d = 100 * time.Millisecond // slow: hedged
							}
							if first && i%97 == 5 {
								panic("first attempt panicked")
							}
							select {
							case <-time.After(d):
							case <-ctx.Done():
								return 0, ctx.Err()
							}
							if i%13 == 0 {
								return 0, errors.New("failed")
							}
							return id, nil
						})
					}()
					cancel()
					if err == nil && v != id {
						t.Errorf("call %d got call %d's answer", id, v)
					}
					calls.Add(1)
					h.watch.mu.Lock()
					n := int64(len(h.watch.runs))
					h.watch.mu.Unlock()
					if n > maxRuns.Load() {
						maxRuns.Store(n)
					}
					time.Sleep(100 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		synctest.Wait()
		if maxRuns.Load() > 10+runSlack+permitSlots {
			t.Errorf("the watch held up to %d runs for 10 callers over %d calls, want them bounded", maxRuns.Load(), calls.Load())
		}
		t.Logf("%d calls, at most %d runs held", calls.Load(), maxRuns.Load())
	})
}
