package breaker

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// Review tests of the breaker: each names the finding it guards.

// WithConsecutiveFailures and WithFailureRatio's minCalls beyond the uint32
// range of gobreaker's counts were accepted and truncated: n = 1<<32 became
// 0, and a breaker meant never to trip by a run tripped on its first failure.
func TestReviewCountsBeyondUint32AreErrors(t *testing.T) {
	var huge uint64 = 1 << 32 // a variable: the constant does not fit a 32-bit int
	if uint64(int(huge)) != huge {
		t.Skip("int is 32 bits: no count beyond uint32 can be given")
	}
	for _, tc := range []struct {
		opt  Option
		name string
	}{
		{WithConsecutiveFailures(int(huge)), "WithConsecutiveFailures"},
		{WithConsecutiveFailures(math.MaxInt), "WithConsecutiveFailures"},
		{WithFailureRatio(0.5, int(huge)), "WithFailureRatio"},
		{WithFailureRatio(0.5, math.MaxInt), "WithFailureRatio"},
	} {
		b, err := New[int](tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.name) {
			if b != nil {
				_, _ = b.Execute(context.Background(), fail)
				t.Errorf("%s: err = %v; after one failure the breaker is %v", tc.name, err, b.State())
			} else {
				t.Errorf("%s: err = %v, want one naming the option", tc.name, err)
			}
		}
	}
	if _, err := New[int](WithConsecutiveFailures(math.MaxUint32), WithFailureRatio(0.5, math.MaxUint32)); err != nil {
		t.Errorf("the largest counts: %v", err)
	}
}

// An open timeout near math.MaxInt64 made the open machine's deadline
// overflow to a negative reading: every rejected call then went through
// gobreaker's mutex instead of the lock-free open path.
func TestReviewHugeOpenTimeoutKeepsTheFastOpenPath(t *testing.T) {
	{
		// Outside a bubble, where the process's readings are small and
		// positive.
		b := newTest(t, firebreak.Discard, WithOpenTimeout(math.MaxInt64), WithConsecutiveFailures(1))
		_, _ = b.Execute(context.Background(), fail)
		if until := b.cur.Load().openUntil.Load(); until <= firebreak.Nanotime() {
			t.Errorf("open until reading %d, before now %d: rejections take gobreaker's lock", until, firebreak.Nanotime())
		}
	}
	synctest.Test(t, func(t *testing.T) {
		b := newTest(t, firebreak.Discard, WithOpenTimeout(math.MaxInt64), WithConsecutiveFailures(1))
		_, _ = b.Execute(context.Background(), fail)
		if b.State() != StateOpen {
			t.Fatalf("state %v, want open", b.State())
		}
		if until := b.cur.Load().openUntil.Load(); until <= firebreak.Nanotime() {
			t.Errorf("open until reading %d, before now %d: rejections take gobreaker's lock", until, firebreak.Nanotime())
		}
		time.Sleep(1000 * time.Hour)
		if _, err := b.Execute(context.Background(), ok); !errors.Is(err, ErrOpen) {
			t.Errorf("after 1000h of a 292-year open timeout: err = %v, want open", err)
		}
	})
}

// A half-open breaker admits exactly WithHalfOpenCalls trials under a burst
// of 100 goroutines, and a trial that panics counts as a failure, re-opens
// the breaker and holds no trial slot.
func TestReviewHalfOpenBurstAndPanickingTrial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &firebreak.Recorder{}
		b := newTest(t, rec, WithHalfOpenCalls(3), WithOpenTimeout(time.Second))
		if err := b.SetState(StateHalfOpen); err != nil {
			t.Fatal(err)
		}
		var admitted atomic.Int32
		release := make(chan struct{})
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				_, _ = b.Execute(context.Background(), func(context.Context) (int, error) {
					admitted.Add(1)
					<-release
					return 1, nil
				})
			})
		}
		synctest.Wait()
		if n := admitted.Load(); n != 3 {
			t.Errorf("%d trials admitted, want 3", n)
		}
		close(release)
		wg.Wait()
		if b.State() != StateClosed {
			t.Fatalf("after 3 successful trials: %v, want closed", b.State())
		}

		// Half-open again; the first trial panics.
		if err := b.SetState(StateHalfOpen); err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Error("the trial's panic did not go on")
				}
			}()
			_, _ = b.Execute(context.Background(), func(context.Context) (int, error) { panic("trial") })
		}()
		if b.State() != StateOpen {
			t.Fatalf("after a panicking trial: %v, want open", b.State())
		}
		time.Sleep(time.Second + time.Millisecond)
		admitted.Store(0)
		for range 3 {
			if _, err := b.Execute(context.Background(), func(context.Context) (int, error) { admitted.Add(1); return 1, nil }); err != nil {
				t.Errorf("trial after the panic: %v", err)
			}
		}
		if admitted.Load() != 3 || b.State() != StateClosed {
			t.Errorf("%d trials ran after the panic, state %v; want 3 and closed", admitted.Load(), b.State())
		}
	})
}

// ForceOpen against concurrent successes: once ForceOpen returns, no call
// runs, the state stays forced open, and the last signal reported fires.
func TestReviewForceOpenAgainstConcurrentSuccesses(t *testing.T) {
	rec := &firebreak.Recorder{}
	b := newTest(t, rec)
	var stop atomic.Bool
	var after atomic.Int64 // calls that ran after ForceOpen returned
	var forced atomic.Bool
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for !stop.Load() {
				f := forced.Load()
				_, _ = b.Execute(context.Background(), func(context.Context) (int, error) {
					if f {
						after.Add(1)
					}
					return 1, nil
				})
			}
		})
	}
	for range 200 {
		_, _ = b.Execute(context.Background(), ok)
	}
	if err := b.ForceOpen("drill"); err != nil {
		t.Fatal(err)
	}
	forced.Store(true)
	for range 200 {
		_, _ = b.Execute(context.Background(), ok)
	}
	stop.Store(true)
	wg.Wait()
	if n := after.Load(); n != 0 {
		t.Errorf("%d calls ran after ForceOpen returned", n)
	}
	if b.State() != StateForcedOpen {
		t.Errorf("state %v, want forced_open", b.State())
	}
	sigs := rec.Of(firebreak.KindBreakerOpen)
	if len(sigs) == 0 || !sigs[len(sigs)-1].Firing {
		t.Errorf("last breaker signal %v, want a firing one", sigs)
	}
}

// A window of one bucket near math.MaxInt64 (a window that never resets)
// made the bucket's end overflow to a past reading: every call rolled the
// window, which then cleared on every call, so the breaker never tripped.
func TestReviewHugeWindowStillTrips(t *testing.T) {
	for _, w := range []struct{ window, bucket time.Duration }{
		{math.MaxInt64, math.MaxInt64},
		{math.MaxInt64 - math.MaxInt64%2, math.MaxInt64 / 2},
	} {
		b := newTest(t, firebreak.Discard, WithWindow(w.window, w.bucket), WithFailureRatio(0.5, 20), WithConsecutiveFailures(0))
		for range 10 {
			_, _ = b.Execute(context.Background(), ok)
		}
		for range 10 {
			_, _ = b.Execute(context.Background(), fail)
		}
		if b.State() != StateOpen {
			t.Errorf("WithWindow(%v, %v): 10 of 20 calls failed, state %v, counts %+v; want open", w.window, w.bucket, b.State(), b.Counts())
		}
	}
}
