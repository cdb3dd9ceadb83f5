package failover

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// slowDep is a dependency whose attempts take their latency from lat, end
// early when their context is cancelled, and count what happened.
type slowDep struct {
	lat              func() time.Duration
	calls, cancelled atomic.Int64
	failing          atomic.Bool
}

func (d *slowDep) call(ctx context.Context) (string, error) {
	n := d.calls.Add(1)
	t := time.NewTimer(d.lat())
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		d.cancelled.Add(1)
		return "", ctx.Err()
	}
	if d.failing.Load() {
		return "", errors.New("boom")
	}
	if n == 1 {
		return "first", nil
	}
	return "hedge", nil
}

// The first attempt hangs for 2s; after the 50ms delay a hedge starts,
// answers in 10ms, and the caller gets it at 60ms while the first attempt
// is cancelled.
func TestHedgeTakesTheFasterAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, err := NewHedge[string](50*time.Millisecond, WithIdempotent())
		if err != nil {
			t.Fatal(err)
		}
		var n atomic.Int64
		d := &slowDep{lat: func() time.Duration {
			if n.Add(1) == 1 {
				return 2 * time.Second
			}
			return 10 * time.Millisecond
		}}
		start := time.Now()
		v, err := h.Execute(t.Context(), d.call)
		if v != "hedge" || err != nil || time.Since(start) != 60*time.Millisecond {
			t.Fatalf("got %q, %v after %v; want the hedge's answer at 60ms", v, err, time.Since(start))
		}
		synctest.Wait()
		if d.calls.Load() != 2 || d.cancelled.Load() != 1 {
			t.Errorf("%d attempts, %d cancelled; want 2 and the slow one cancelled", d.calls.Load(), d.cancelled.Load())
		}

		// A first attempt that answers before the delay starts no hedge.
		n.Store(1)
		d.calls.Store(0)
		v, err = h.Execute(t.Context(), d.call)
		synctest.Wait()
		if v != "first" || err != nil || d.calls.Load() != 1 {
			t.Errorf("fast call: %q, %v with %d attempts; want one attempt", v, err, d.calls.Load())
		}
	})
}

// Ten minutes at 200 calls/s against a dependency whose attempts take 10ms
// but one in fifty takes 1s: with a hedge after 50ms, a call is slow only
// when both its attempts are (1 in 2500), so the p99 falls from 1s to 60ms
// (the hedged calls), about 2% of the calls are hedged, and nearly every
// losing attempt is cancelled.
func TestHedgeCutsTheTail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		var rngMu sync.Mutex
		lat := func() time.Duration {
			rngMu.Lock()
			defer rngMu.Unlock()
			if rng.IntN(50) == 0 {
				return time.Second
			}
			return 10 * time.Millisecond
		}
		var rec firebreak.Recorder
		h, err := bound(NewHedge[string](50*time.Millisecond, WithIdempotent()))(&rec)
		if err != nil {
			t.Fatal(err)
		}
		d := &slowDep{lat: lat}
		var mu sync.Mutex
		var took []time.Duration
		var wg sync.WaitGroup
		const calls = 200 * 600
		for range calls {
			wg.Go(func() {
				start := time.Now()
				_, err := h.Execute(t.Context(), d.call)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				took = append(took, time.Since(start))
				mu.Unlock()
			})
			time.Sleep(5 * time.Millisecond)
		}
		wg.Wait()
		slices.Sort(took)
		p99 := took[len(took)*99/100]
		if p99 != 60*time.Millisecond {
			t.Errorf("p99 %v, want 60ms", p99)
		}
		slow := 0
		for _, d := range took {
			if d > 60*time.Millisecond {
				slow++
			}
		}
		if slow > calls/1000 {
			t.Errorf("%d calls slower than 60ms, want about 1 in 2500", slow)
		}
		hedged := d.calls.Load() - calls
		if hedged < calls/60 || hedged > calls/40 {
			t.Errorf("%d hedges for %d calls, want about 2%%", hedged, calls)
		}
		if c := d.cancelled.Load(); c < hedged*9/10 || c > hedged {
			t.Errorf("%d attempts cancelled for %d hedges, want nearly every loser", c, hedged)
		}
	})
}

// When the dependency is slow for every call, hedges stop once the budget
// is spent: at most 20% of the calls over the window (with the floor of 10),
// not one per call. Sharing a Retry's budget, retries and hedges together
// stay within it.
func TestHedgeStopsWhenBudgetIsSpent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := NewHedge[string](50*time.Millisecond, WithIdempotent())
		d := &slowDep{lat: func() time.Duration { return 200 * time.Millisecond }}
		var wg sync.WaitGroup
		const calls = 100 * 60 // a minute at 100 calls/s
		for range calls {
			wg.Go(func() { _, _ = h.Execute(t.Context(), d.call) })
			time.Sleep(10 * time.Millisecond)
		}
		wg.Wait()
		hedged := d.calls.Load() - calls
		// 20% of 1000 calls per 10s window, 6 windows: about 1200.
		if hedged < 1000 || hedged > 1300 {
			t.Errorf("%d hedges for %d calls all slow, want about 20%% (1200)", hedged, calls)
		}

		// Shared with a retry: the retries of a failing period spend the
		// budget, and the hedges of the slow period after it get nothing
		// but the floor.
		r, _ := NewRetry[string](WithMaxAttempts(2), WithBackoff(time.Millisecond, time.Millisecond, 1), WithBudget(0.2, 10*time.Second, 1))
		h2, err := NewHedge[string](50*time.Millisecond, WithIdempotent(), WithRetryBudget(r))
		if err != nil {
			t.Fatal(err)
		}
		var failing atomic.Bool
		failing.Store(true)
		var attempts, hedges atomic.Int64
		dep := func(ctx context.Context) (string, error) {
			attempts.Add(1)
			if failing.Load() {
				return "", errors.New("boom")
			}
			return slowOK(ctx, 200*time.Millisecond)
		}
		for range 100 { // 100 calls in 1s: 20 retries spend the budget
			_, _ = r.Execute(t.Context(), func(ctx context.Context) (string, error) { return h2.Execute(ctx, dep) })
			time.Sleep(10 * time.Millisecond)
		}
		retries := attempts.Load() - 100
		failing.Store(false)
		attempts.Store(0)
		for range 100 {
			wg.Go(func() {
				_, _ = r.Execute(t.Context(), func(ctx context.Context) (string, error) { return h2.Execute(ctx, dep) })
			})
			time.Sleep(10 * time.Millisecond)
		}
		wg.Wait()
		hedges.Store(attempts.Load() - 100)
		if retries != 20 || hedges.Load() != 20 {
			t.Errorf("%d retries then %d hedges, want 20 retries and the 20 hedges of the 200 calls that are left", retries, hedges.Load())
		}
	})
}

func slowOK(ctx context.Context, d time.Duration) (string, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return "ok", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// A call that may not be sent twice is never hedged: not by default, not
// when its context says so on a hedge built WithIdempotent.
func TestHedgeNeverHedgesNonIdempotentCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plain, _ := NewHedge[string](10 * time.Millisecond)
		all, _ := NewHedge[string](10*time.Millisecond, WithIdempotent())
		for _, tt := range []struct {
			h        *Hedge[string]
			ctx      context.Context
			attempts int64
		}{
			{plain, t.Context(), 1},
			{plain, ContextWithIdempotent(t.Context(), true), 2},
			{all, t.Context(), 2},
			{all, ContextWithIdempotent(t.Context(), false), 1},
		} {
			d := &slowDep{lat: func() time.Duration { return 100 * time.Millisecond }}
			_, _ = tt.h.Execute(tt.ctx, d.call)
			synctest.Wait()
			if d.calls.Load() != tt.attempts {
				t.Errorf("%d attempts, want %d", d.calls.Load(), tt.attempts)
			}
		}
	})
}

// When the first attempt fails while a hedge runs, the hedge's answer is
// awaited; when every attempt fails, the first attempt's error is returned.
// A hedge that panics is counted as failed and does not kill the process.
func TestHedgeFirstFailsHedgeAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := NewHedge[string](50*time.Millisecond, WithIdempotent(), WithMaxHedges(2))
		var n atomic.Int64
		fn := func(ctx context.Context) (string, error) {
			switch n.Add(1) {
			case 1:
				time.Sleep(150 * time.Millisecond)
				return "", errors.New("first failed")
			case 2:
				panic("hedge exploded")
			default:
				return slowOK(ctx, 100*time.Millisecond)
			}
		}
		start := time.Now()
		v, err := h.Execute(t.Context(), fn)
		// hedge 1 at 50ms panics; hedge 2 at 100ms is still running when the
		// first attempt fails at 150ms, and answers at 200ms.
		if v != "ok" || err != nil || time.Since(start) != 200*time.Millisecond {
			t.Fatalf("got %q, %v after %v; want the second hedge's answer at 200ms", v, err, time.Since(start))
		}
		n.Store(0)
		all := func(ctx context.Context) (string, error) {
			k := n.Add(1)
			time.Sleep(time.Duration(k) * 60 * time.Millisecond)
			return "", errors.New("attempt failed")
		}
		if _, err := h.Execute(t.Context(), all); err == nil || err.Error() != "attempt failed" {
			t.Errorf("all failed: %v", err)
		}
		synctest.Wait()
	})
}

func TestHedgeDelayFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var p90 atomic.Int64
		h, _ := NewHedge[string](time.Second, WithIdempotent(), WithHedgeDelayFunc(func() time.Duration { return time.Duration(p90.Load()) }))
		fast := func(context.Context) (string, error) { return "", nil }
		_, _ = h.Execute(t.Context(), fast)
		if h.Delay() != time.Second {
			t.Errorf("no statistics yet: delay %v, want the fixed 1s", h.Delay())
		}
		p90.Store(int64(80 * time.Millisecond))
		_, _ = h.Execute(t.Context(), fast)
		if h.Delay() != time.Second {
			t.Errorf("refreshed before a second passed: %v", h.Delay())
		}
		time.Sleep(time.Second)
		_, _ = h.Execute(t.Context(), fast)
		if h.Delay() != 80*time.Millisecond {
			t.Errorf("delay %v, want the p90 of 80ms", h.Delay())
		}
	})
}

func TestHedgeSettings(t *testing.T) {
	r, _ := NewRetry[int](WithoutBudget())
	for _, tt := range []struct {
		d    time.Duration
		opts []HedgeOption
		want string
	}{
		{0, nil, "failover: NewHedge: delay 0s must be positive"},
		{time.Second, []HedgeOption{WithMaxHedges(11)}, "failover: NewHedge: WithMaxHedges 11 must be between 1 and 10"},
		{time.Second, []HedgeOption{WithRetryBudget(r)}, "failover: NewHedge: WithRetryBudget: the retry has no budget (WithoutBudget)"},
		{time.Second, []HedgeOption{WithRetryBudget[int](nil)}, "failover: NewHedge: WithRetryBudget: retry is nil"},
		{time.Second, []HedgeOption{nil}, "failover: NewHedge: option 0 is nil"},
	} {
		if _, err := NewHedge[int](tt.d, tt.opts...); err == nil || err.Error() != tt.want {
			t.Errorf("err = %v, want %q", err, tt.want)
		}
	}
}

// A call that answers before the delay allocates only its context.
func TestHedgeAllocs(t *testing.T) {
	h, _ := NewHedge[int](time.Second, WithIdempotent())
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	wantAllocs(t, 1, func() { _, _ = h.Execute(ctx, fn) })
}

// Calls overlap as they do in a busy service: one starts every millisecond
// for two seconds, one in ten hangs for 2s and the rest answer in 5ms. The
// hedges of all of them share one timer: every slow call, and no fast one,
// gets its hedge exactly its delay after it started, whatever the calls
// around it, and every caller has its answer by then plus the hedge's 5ms.
func TestHedgeEveryOverlappingCallOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 50 * time.Millisecond
		h, err := NewHedge[time.Duration](delay, WithIdempotent(), WithMaxHedges(1))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var late []string
		var hedged, fastHedged atomic.Int64
		for i := range 2000 {
			slow := i%10 == 3
			wg.Go(func() {
				start := time.Now()
				var attempts atomic.Int64
				got, err := h.Execute(t.Context(), func(ctx context.Context) (time.Duration, error) {
					lat := 5 * time.Millisecond
					if attempts.Add(1) == 1 && slow {
						lat = 2 * time.Second
					} else if attempts.Load() > 1 {
						hedged.Add(1)
						if !slow {
							fastHedged.Add(1)
						}
					}
					select {
					case <-time.After(lat):
						return time.Since(start), nil
					case <-ctx.Done():
						return 0, ctx.Err()
					}
				})
				want := 5 * time.Millisecond
				if slow {
					want = delay + 5*time.Millisecond
				}
				if err != nil || got != want || time.Since(start) != want {
					mu.Lock()
					late = append(late, fmt.Sprintf("call %d: answer at %v (%v), returned at %v; want %v", i, got, err, time.Since(start), want))
					mu.Unlock()
				}
			})
			time.Sleep(time.Millisecond)
		}
		wg.Wait()
		if len(late) > 0 {
			t.Errorf("%d calls off time, e.g. %s", len(late), late[0])
		}
		// The budget is 20% of the calls: every slow call's hedge fits.
		if hedged.Load() != 200 || fastHedged.Load() != 0 {
			t.Errorf("%d hedges, %d of fast calls; want one per slow call (200) and none for fast ones", hedged.Load(), fastHedged.Load())
		}
	})
}

// A stress of the runs the hedge reuses: eight callers make calls whose
// first attempt answers just before, at, or just after the delay, so that
// the timer taking a run races the caller finishing it. Every caller gets
// its own call's answer, never another's through a reused run, and every
// hedge belongs to a call that was still running at its delay.
func TestHedgeReusedRunsUnderRace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 10 * time.Millisecond
		h, err := NewHedge[int](delay, WithIdempotent())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var wrong, early atomic.Int64
		for g := range 8 {
			wg.Go(func() {
				for i := range 300 {
					id := g*1000 + i
					lat := delay + time.Duration(i%3-1)*time.Millisecond // 9, 10 or 11ms
					start := time.Now()
					var attempts atomic.Int64
					got, err := h.Execute(t.Context(), func(ctx context.Context) (int, error) {
						if attempts.Add(1) > 1 && time.Since(start) < delay {
							early.Add(1)
						}
						select {
						case <-time.After(lat):
							return id, nil
						case <-ctx.Done():
							return -1, ctx.Err()
						}
					})
					if err != nil || got != id {
						wrong.Add(1)
					}
				}
			})
		}
		wg.Wait()
		synctest.Wait()
		if wrong.Load() != 0 || early.Load() != 0 {
			t.Errorf("%d calls got another's answer or an error, %d hedges started before their delay", wrong.Load(), early.Load())
		}
	})
}

// A burst of 1000 calls at once needs 1000 runs; once traffic is back to a
// call every 10ms the hedge keeps no more than a few dozen, so a burst
// does not hold its memory for good.
func TestHedgeReleasesRunsAfterABurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, err := NewHedge[int](50*time.Millisecond, WithIdempotent())
		if err != nil {
			t.Fatal(err)
		}
		call := func() {
			if _, err := h.Execute(t.Context(), func(context.Context) (int, error) {
				time.Sleep(5 * time.Millisecond)
				return 1, nil
			}); err != nil {
				t.Error(err)
			}
		}
		var wg sync.WaitGroup
		for range 1000 {
			wg.Go(call)
		}
		wg.Wait()
		runs := func() int {
			h.watch.mu.Lock()
			defer h.watch.mu.Unlock()
			return len(h.watch.runs)
		}
		if n := runs(); n < 1000 {
			t.Fatalf("%d runs after the burst, want one per call in flight (1000)", n)
		}
		for range 100 {
			call()
			time.Sleep(10 * time.Millisecond)
		}
		if n := runs(); n > runSlack+runSlots+1 {
			t.Errorf("%d runs kept a second after the burst, want at most %d", n, runSlack+runSlots+1)
		}
	})
}

// foreignCtx is a caller's context that the context package does not know
// (as a framework's own context type is): a watch on it is a goroutine,
// so a watch left behind shows in the goroutine count.
type foreignCtx struct{ context.Context }

func (foreignCtx) Value(any) any { return nil }

// A service calls a Hedge under one long-lived context (a worker's, or
// signal.NotifyContext's) and its calls watch their context, as net/http
// does. Calls that are never hedged must not each leave a watch on that
// context for as long as it lives: at 1,000 calls/s that was about 1.2 GB
// an hour.
func TestHedgeLeavesNoWatchOnALongLivedContext(t *testing.T) {
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	parent := foreignCtx{base}
	h, err := NewHedge[int](time.Hour, WithIdempotent())
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	const calls = 1000
	for i := range calls {
		v, err := h.Execute(parent, func(ctx context.Context) (int, error) {
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			default:
				return i, nil
			}
		})
		if v != i || err != nil {
			t.Fatalf("call %d = %d, %v", i, v, err)
		}
	}
	// The watches go once the attempts they served are garbage; collect
	// until they have, or give up.
	left := runtime.NumGoroutine() - before
	for range 50 {
		if left <= 10 {
			break
		}
		runtime.GC()
		runtime.Gosched()
		left = runtime.NumGoroutine() - before
	}
	if left > 10 {
		t.Fatalf("%d of %d calls left a watch on their caller's context", left, calls)
	}
}

// What a call returns may use its attempt's context after the call (an HTTP
// body is read under the request's context): that context still ends when
// the caller's does.
func TestHedgeAnswerFollowsTheCallersContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		h, err := NewHedge[context.Context](time.Hour, WithIdempotent())
		if err != nil {
			t.Fatal(err)
		}
		got, err := h.Execute(parent, func(ctx context.Context) (context.Context, error) {
			_ = ctx.Done() // watched during the call, as net/http does
			return ctx, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC() // the answer keeps its context alive
		runtime.GC()
		if got.Err() != nil {
			t.Fatalf("the answer's context ended with the call: %v", got.Err())
		}
		cancel()
		synctest.Wait()
		select {
		case <-got.Done():
		default:
			t.Fatal("the caller's context ended, the answer's did not")
		}
		if !errors.Is(got.Err(), context.Canceled) {
			t.Fatalf("the answer's context ended with %v, want context.Canceled", got.Err())
		}
	})
}
