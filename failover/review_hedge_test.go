package failover

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
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
