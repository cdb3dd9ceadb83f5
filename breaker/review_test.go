package breaker

import (
	"context"
	"errors"
	"math"
	"strconv"
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
	if _, err := New[int](WithConsecutiveFailures(int(huge-1)), WithFailureRatio(0.5, int(huge-1))); err != nil {
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

// Guard: under concurrency the ratio rule trips exactly at the configured
// ratio once minCalls outcomes are in the window, never before, and the
// counts equal the calls made.
func TestReviewTripsExactlyAtRatioUnderConcurrency(t *testing.T) {
	for range 20 {
		b := newTest(t, firebreak.Discard, WithFailureRatio(0.5, 100), WithConsecutiveFailures(0))
		run := func(n int, fn func(context.Context) (int, error)) {
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for range n / 8 {
						_, _ = b.Execute(context.Background(), fn)
					}
				})
			}
			wg.Go(func() {
				for range n % 8 {
					_, _ = b.Execute(context.Background(), fn)
				}
			})
			wg.Wait()
		}
		run(50, ok)
		run(49, fail)
		if s, c := b.State(), b.Counts(); s != StateClosed || c.Requests != 99 || c.Successes != 50 || c.Failures != 49 {
			t.Fatalf("after 50 successes and 49 failures: %v %+v, want closed with exact counts", s, c)
		}
		_, _ = b.Execute(context.Background(), fail)
		if s := b.State(); s != StateOpen {
			t.Fatalf("after the 50th failure of 100 calls: %v, want open", s)
		}
	}
}

// Guard: a flood of 100k distinct keys, a tenth of them failing, keeps the
// group within its hard cap and the overflow bookkeeping within 4×max.
func TestReviewGroupKeyFloodIsBounded(t *testing.T) {
	g := newTestGroup(t, 100, firebreak.Discard)
	for i := range 100_000 {
		key := "tenant-" + strconv.Itoa(i)
		fn := ok
		if i%10 == 0 {
			fn = fail
		}
		_, _ = g.Execute(context.Background(), key, fn)
		if n := g.Len(); n > 200 {
			t.Fatalf("after %d keys the group keeps %d breakers, over the hard cap of 200", i+1, n)
		}
	}
	g.mu.RLock()
	spilled := len(g.spilled)
	g.mu.RUnlock()
	if spilled > 400 {
		t.Errorf("%d keys remembered as spilled, over 4×max", spilled)
	}
}

// At the hard cap with every breaker open, each new key swept the whole
// ring (twice, taking every breaker's gobreaker lock) under the group's
// exclusive lock: a flood of new keys cost O(max) each and stalled every
// lookup. Now the group looks for a slot at most once per spillRetry; a key
// gets a breaker of its own again once one is free and that time passed.
func TestReviewSaturatedGroupDoesNotSweepForEveryNewKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newTestGroup(t, 50, firebreak.Discard, WithOpenTimeout(time.Minute))
		for i := range 100 {
			_, _ = g.Execute(context.Background(), "bad-"+strconv.Itoa(i), fail)
		}
		if g.Len() != 100 {
			t.Fatalf("%d breakers, want the hard cap of 100", g.Len())
		}
		_, _ = g.Execute(context.Background(), "new-0", ok) // sweeps, finds none closed
		// A sweep clears the marks of the breakers it passes; mark them
		// all, and see whether the flood of new keys swept.
		g.mu.RLock()
		for i := range g.ring {
			g.ring[i].b.used.Store(true)
		}
		g.mu.RUnlock()
		for i := range 10_000 {
			_, _ = g.Execute(context.Background(), "new-"+strconv.Itoa(i+1), ok)
		}
		g.mu.RLock()
		for i := range g.ring {
			if !g.ring[i].b.used.Load() {
				t.Errorf("new keys at a full hard cap swept the ring again within spillRetry (%s unmarked)", g.ring[i].key)
				break
			}
		}
		g.mu.RUnlock()
		// A minute on, the open breakers are half-open; one recovers.
		time.Sleep(time.Minute + spillRetry)
		_, _ = g.Execute(context.Background(), "bad-7", ok)
		if g.Breaker("bad-7").State() != StateClosed {
			t.Fatalf("bad-7 is %v after a successful trial, want closed", g.Breaker("bad-7").State())
		}
		b := g.Breaker("fresh")
		if b == g.overflow {
			t.Error("a new key after spillRetry with a closed breaker to evict still got the overflow breaker")
		}
	})
}

// Guard: a half-open trial whose caller gave up early (an excluded outcome)
// frees its trial slot: the next call is the trial, the breaker is not stuck
// half-open rejecting every call.
func TestReviewExcludedTrialFreesItsSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newTest(t, firebreak.Discard, WithHalfOpenCalls(1))
		if err := b.SetState(StateHalfOpen); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, _ = b.Execute(ctx, func(ctx context.Context) (int, error) { return 0, ctx.Err() })
		if s := b.State(); s != StateHalfOpen {
			t.Fatalf("after an abandoned trial: %v, want still half-open", s)
		}
		if _, err := b.Execute(context.Background(), ok); err != nil {
			t.Fatalf("the trial after an abandoned one: %v", err)
		}
		if s := b.State(); s != StateClosed {
			t.Errorf("after a successful trial: %v, want closed", s)
		}
	})
}

// A Reporter that panicked while the breaker reported a state change threw
// the panic out of the call that caused the change (a call whose own fn had
// returned) and lost the changes queued behind it. Now the panic is
// recovered, the call returns its result, and later changes are reported.
func TestReviewReporterPanicDoesNotEscapeTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var got []bool
		var calls int
		rep := firebreak.ReporterFunc(func(s firebreak.Signal) {
			mu.Lock()
			calls++
			n := calls
			mu.Unlock()
			if n == 1 {
				panic("reporter bug")
			}
			mu.Lock()
			got = append(got, s.Firing)
			mu.Unlock()
		})
		b := newTest(t, rep, WithConsecutiveFailures(1), WithOpenTimeout(time.Second))
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("the Reporter's panic escaped the call: %v", r)
				}
			}()
			_, err = b.Execute(context.Background(), fail)
		}()
		if !errors.Is(err, errDep) {
			t.Errorf("the tripping call returned %v, want its own error", err)
		}
		if b.State() != StateOpen {
			t.Fatalf("state %v, want open", b.State())
		}
		time.Sleep(time.Second + time.Millisecond)
		if _, err := b.Execute(context.Background(), ok); err != nil {
			t.Fatalf("trial: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		// open → half-open (firing), half-open → closed (cleared).
		if len(got) != 2 || !got[0] || got[1] {
			t.Errorf("signals after the panic: firing %v, want [true false]", got)
		}
	})
}
