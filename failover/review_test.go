package failover

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
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
