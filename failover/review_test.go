package failover

import (
	"context"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"golang.org/x/time/rate"
)

// A call that panics inside an AdaptiveLimiter gives its place back, as it
// does in a Bulkhead: after panics, the count in flight is 0 and the whole
// limit can be used again.
func TestReviewAdaptiveLimiterPanicReturnsPermit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 4
		l, err := NewAdaptiveLimiter[int](WithLimits(limit, limit, limit), WithCriticalReserve(0))
		if err != nil {
			t.Fatal(err)
		}
		for range limit {
			func() {
				defer func() {
					if recover() == nil {
						t.Fatal("the call's panic did not reach the caller")
					}
				}()
				_, _ = l.Execute(t.Context(), func(context.Context) (int, error) { panic("boom") })
			}()
		}
		if n := l.InFlight(); n != 0 {
			t.Fatalf("InFlight %d after %d calls panicked, want 0", n, limit)
		}
		release := make(chan struct{})
		var admitted atomic.Int64
		for range limit {
			go func() {
				_, err := l.Execute(t.Context(), func(context.Context) (int, error) {
					admitted.Add(1)
					<-release
					return 1, nil
				})
				if err != nil {
					t.Errorf("call refused after the panics: %v", err)
				}
			}()
		}
		synctest.Wait()
		if admitted.Load() != limit {
			t.Errorf("%d of %d calls admitted after the panics", admitted.Load(), limit)
		}
		close(release)
		synctest.Wait()
		if n := l.InFlight(); n != 0 {
			t.Errorf("InFlight %d at the end, want 0", n)
		}
	})
}

// A NaN critical reserve is refused with an error naming the option, by
// the Shedder as by the AdaptiveLimiter, instead of being taken as a
// reserve of almost everything.
func TestReviewNaNReserveIsAnError(t *testing.T) {
	nan := math.NaN()
	if _, err := NewShedder(100, 10, WithCriticalReserve(nan)); err == nil || !strings.Contains(err.Error(), "WithCriticalReserve") {
		t.Errorf("NewShedder with a NaN reserve: %v, want an error naming WithCriticalReserve", err)
	}
	if _, err := NewShedder(rate.Inf, 0, WithMaxConcurrent(10), WithCriticalReserve(nan)); err == nil || !strings.Contains(err.Error(), "WithCriticalReserve") {
		t.Errorf("NewShedder (no rate) with a NaN reserve: %v, want an error naming WithCriticalReserve", err)
	}
	if _, err := NewAdaptiveLimiter[int](WithCriticalReserve(nan)); err == nil || !strings.Contains(err.Error(), "WithCriticalReserve") {
		t.Errorf("NewAdaptiveLimiter with a NaN reserve: %v, want an error naming WithCriticalReserve", err)
	}
	for _, share := range []float64{-0.1, 1, math.Inf(1), math.Inf(-1)} {
		if _, err := NewShedder(100, 10, WithCriticalReserve(share)); err == nil {
			t.Errorf("NewShedder with reserve %v: no error", share)
		}
	}
}
