package breaker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/google/go-cmp/cmp"
	"github.com/sony/gobreaker/v2"
)

var errDep = errors.New("dependency failed")

func ok(context.Context) (int, error)   { return 1, nil }
func fail(context.Context) (int, error) { return 0, errDep }

// testComponent is the component the tests' breakers protect.
func testComponent(rec firebreak.Reporter) firebreak.Component {
	return firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core, Reporter: rec}
}

// newTest returns a breaker configured by opts, bound to testComponent(rec).
func newTest(t *testing.T, rec firebreak.Reporter, opts ...Option) *Breaker[int] {
	t.Helper()
	return newBound(t, testComponent(rec), opts...)
}

// newBound returns a breaker configured by opts, bound to c.
func newBound(t testing.TB, c firebreak.Component, opts ...Option) *Breaker[int] {
	t.Helper()
	b, err := New[int](opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Bind(c); err != nil {
		t.Fatal(err)
	}
	return b
}

// step is one row of a state-machine table: do something, then expect a
// state and (for calls) whether the call was rejected.
type step struct {
	do       string // "ok", "fail", "wait"
	wait     time.Duration
	rejected bool
	want     State
}

func runSteps(t *testing.T, b *Breaker[int], steps []step) {
	t.Helper()
	for i, s := range steps {
		switch s.do {
		case "ok", "fail":
			fn := ok
			if s.do == "fail" {
				fn = fail
			}
			_, err := b.Execute(context.Background(), fn)
			if got := errors.Is(err, ErrOpen); got != s.rejected {
				t.Fatalf("step %d (%s): rejected = %v (err %v), want %v", i, s.do, got, err, s.rejected)
			}
		case "wait":
			time.Sleep(s.wait)
		default:
			t.Fatalf("step %d: unknown action %q", i, s.do)
		}
		if got := b.State(); got != s.want {
			t.Fatalf("step %d (%s): state %v, want %v", i, s.do, got, s.want)
		}
	}
}

func TestStateMachine(t *testing.T) {
	opts := []Option{WithConsecutiveFailures(3), WithFailureRatio(0, 0), WithOpenTimeout(30 * time.Second), WithHalfOpenCalls(2)}
	tests := []struct {
		name  string
		steps []step
		// firing is the Firing field of each signal reported, in order.
		firing []bool
	}{
		{
			name: "closed→open→half-open→closed",
			steps: []step{
				{do: "ok", want: StateClosed},
				{do: "fail", want: StateClosed},
				{do: "fail", want: StateClosed},
				{do: "ok", want: StateClosed}, // resets the run
				{do: "fail", want: StateClosed},
				{do: "fail", want: StateClosed},
				{do: "fail", want: StateOpen},
				{do: "ok", rejected: true, want: StateOpen},
				{do: "wait", wait: 29 * time.Second, want: StateOpen},
				{do: "ok", rejected: true, want: StateOpen},
				{do: "wait", wait: 2 * time.Second, want: StateHalfOpen},
				{do: "ok", want: StateHalfOpen},
				{do: "ok", want: StateClosed},
				{do: "fail", want: StateClosed},
			},
			firing: []bool{true, true, false},
		},
		{
			name: "half-open→open",
			steps: []step{
				{do: "fail", want: StateClosed},
				{do: "fail", want: StateClosed},
				{do: "fail", want: StateOpen},
				{do: "wait", wait: 31 * time.Second, want: StateHalfOpen},
				{do: "ok", want: StateHalfOpen},
				{do: "fail", want: StateOpen},
				{do: "ok", rejected: true, want: StateOpen},
				{do: "wait", wait: 31 * time.Second, want: StateHalfOpen},
				{do: "ok", want: StateHalfOpen},
				{do: "ok", want: StateClosed},
			},
			firing: []bool{true, true, true, true, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var rec firebreak.Recorder
				b := newTest(t, &rec, opts...)
				runSteps(t, b, tt.steps)
				var firing []bool
				for _, s := range rec.Of(firebreak.KindBreakerOpen) {
					firing = append(firing, s.Firing)
				}
				if diff := cmp.Diff(tt.firing, firing); diff != "" {
					t.Errorf("signals Firing (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestHalfOpenBoundsTrialCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newTest(t, nil, WithConsecutiveFailures(1), WithOpenTimeout(time.Second), WithHalfOpenCalls(2))
		_, _ = b.Execute(context.Background(), fail)
		time.Sleep(2 * time.Second)
		release := make(chan struct{})
		started := make(chan struct{}, 2)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				_, _ = b.Execute(context.Background(), func(context.Context) (int, error) {
					started <- struct{}{}
					<-release
					return 1, nil
				})
			})
		}
		<-started
		<-started
		_, err := b.Execute(context.Background(), ok)
		var oe *OpenError
		if !errors.As(err, &oe) || oe.State != StateHalfOpen || !errors.Is(err, gobreaker.ErrTooManyRequests) || !errors.Is(err, ErrOpen) {
			t.Fatalf("third trial call: err %v, want a half-open OpenError matching ErrOpen and ErrTooManyRequests", err)
		}
		close(release)
		wg.Wait()
		if s := b.State(); s != StateClosed {
			t.Fatalf("after two successful trials: state %v, want closed", s)
		}
	})
}

// After an hour of success at steady traffic, a 100% failure onset must open
// the breaker within one window: the rolling window forgets the hour.
func TestDetectionAfterLongSuccess(t *testing.T) {
	for _, window := range []time.Duration{time.Minute, 5 * time.Minute} {
		t.Run(window.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newTest(t, nil, WithConsecutiveFailures(0), WithFailureRatio(0.5, 20), WithWindow(window, window/6))
				const interval = 100 * time.Millisecond // 10 calls per second
				for range int(time.Hour / interval) {
					if _, err := b.Execute(context.Background(), ok); err != nil {
						t.Fatal(err)
					}
					time.Sleep(interval)
				}
				onset := time.Now()
				for b.State() == StateClosed {
					_, _ = b.Execute(context.Background(), fail)
					time.Sleep(interval)
					if time.Since(onset) > 2*window {
						t.Fatalf("still closed %v after the failure onset", time.Since(onset))
					}
				}
				if took := time.Since(onset); took > window {
					t.Errorf("opened %v after the onset, want within one window (%v)", took, window)
				} else {
					t.Logf("opened %v after the onset (window %v)", took, window)
				}
			})
		})
	}
}

func TestFailureRatioNeedsMinCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newTest(t, nil, WithConsecutiveFailures(0), WithFailureRatio(0.5, 10))
		for i := range 9 {
			fn := ok
			if i%2 == 0 {
				fn = fail
			}
			_, _ = b.Execute(context.Background(), fn)
		}
		if s := b.State(); s != StateClosed {
			t.Fatalf("5 of 9 failed, below minCalls 10: state %v, want closed", s)
		}
		_, _ = b.Execute(context.Background(), ok) // 5 of 10: ratio 0.5, but the trip check runs on failures
		_, _ = b.Execute(context.Background(), fail)
		if s := b.State(); s != StateOpen {
			t.Fatalf("6 of 11 failed: state %v, want open (counts %+v)", s, b.Counts())
		}
	})
}

func TestSlowCallTrips(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		b := newTest(t, &rec, WithSlowCall(time.Second), WithConsecutiveFailures(3), WithFailureRatio(0, 0))
		slow := func(context.Context) (int, error) { time.Sleep(1500 * time.Millisecond); return 7, nil }
		fast := func(context.Context) (int, error) { time.Sleep(500 * time.Millisecond); return 7, nil }
		for range 5 {
			if _, err := b.Execute(context.Background(), fast); err != nil {
				t.Fatal(err)
			}
		}
		if c := b.Counts(); c.Successes != 5 || c.Failures != 0 {
			t.Fatalf("fast calls: counts %+v, want 5 successes", c)
		}
		for i := range 3 {
			v, err := b.Execute(context.Background(), slow)
			if v != 7 || err != nil {
				t.Fatalf("slow call %d returned (%v, %v), want the call's own (7, nil)", i, v, err)
			}
		}
		if s := b.State(); s != StateOpen {
			t.Fatalf("after 3 slow calls: state %v, want open", s)
		}
		if s, _ := rec.Last(firebreak.KindBreakerOpen); !s.Firing || s.Metrics["consecutive_failures"] != 3 {
			t.Errorf("signal %+v, want firing with 3 consecutive failures", s)
		}
	})
}

func TestCancellationExcluded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newTest(t, nil, WithConsecutiveFailures(2), WithFailureRatio(0, 0))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for range 10 {
			_, err := b.Execute(ctx, func(ctx context.Context) (int, error) { return 0, ctx.Err() })
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v, want the call's context.Canceled", err)
			}
		}
		// An error unrelated to the cancellation is still the caller's doing.
		_, _ = b.Execute(ctx, fail)
		if c := b.Counts(); c.Excluded != 11 || c.Failures != 0 || c.Successes != 0 {
			t.Fatalf("counts %+v, want 11 excluded", c)
		}
		if s := b.State(); s != StateClosed {
			t.Fatalf("state %v, want closed", s)
		}
		// context.Canceled from the dependency, the caller's context live:
		// a failure.
		for range 2 {
			_, _ = b.Execute(context.Background(), func(context.Context) (int, error) { return 0, context.Canceled })
		}
		if s := b.State(); s != StateOpen {
			t.Fatalf("dependency's own Canceled twice: state %v, want open", s)
		}
		// A call that ran out a 1 s deadline hung: it counts. (It counted
		// before as a deadline; now because it ran past the hang threshold,
		// and a deadline with 1 ms left would not count: see
		// TestEarlyCancellationNeverCounts.)
		b2 := newTest(t, nil, WithConsecutiveFailures(1), WithFailureRatio(0, 0))
		dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
		defer dcancel()
		_, _ = b2.Execute(dctx, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() })
		if s := b2.State(); s != StateOpen {
			t.Fatalf("deadline exceeded: state %v, want open", s)
		}
	})
}

func TestExcludedTrialDoesNotDecide(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newTest(t, nil, WithConsecutiveFailures(1), WithOpenTimeout(time.Second))
		_, _ = b.Execute(context.Background(), fail)
		time.Sleep(2 * time.Second)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, _ = b.Execute(ctx, func(ctx context.Context) (int, error) { return 0, ctx.Err() })
		if s := b.State(); s != StateHalfOpen {
			t.Fatalf("after an excluded trial: state %v, want half-open", s)
		}
		if _, err := b.Execute(context.Background(), ok); err != nil {
			t.Fatalf("the trial slot was not freed: %v", err)
		}
		if s := b.State(); s != StateClosed {
			t.Fatalf("state %v, want closed", s)
		}
	})
}

func TestClassifiers(t *testing.T) {
	errNotFound := errors.New("not found")
	errBusy := errors.New("busy, try later")
	b := newTest(t, nil,
		WithConsecutiveFailures(2), WithFailureRatio(0, 0),
		WithIsFailure(func(err error) bool { return !errors.Is(err, errNotFound) }),
		WithIsExcluded(func(err error) bool { return errors.Is(err, errBusy) }))
	for range 5 {
		_, _ = b.Execute(context.Background(), func(context.Context) (int, error) { return 0, errNotFound })
		_, _ = b.Execute(context.Background(), func(context.Context) (int, error) { return 0, errBusy })
	}
	if c := b.Counts(); c.Successes != 5 || c.Excluded != 5 || c.Failures != 0 {
		t.Fatalf("counts %+v, want 5 successes (not found) and 5 excluded (busy)", c)
	}
	_, _ = b.Execute(context.Background(), fail)
	_, _ = b.Execute(context.Background(), fail)
	if s := b.State(); s != StateOpen {
		t.Fatalf("state %v, want open", s)
	}
}

func TestPanicCountsAsFailure(t *testing.T) {
	b := newTest(t, nil, WithConsecutiveFailures(1))
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic did not propagate")
			}
		}()
		_, _ = b.Execute(context.Background(), func(context.Context) (int, error) { panic("boom") })
	}()
	if s := b.State(); s != StateOpen {
		t.Fatalf("state %v, want open", s)
	}
}

func TestErrOpen(t *testing.T) {
	b := newTest(t, nil, WithName("pay"), WithConsecutiveFailures(1))
	_, _ = b.Execute(context.Background(), fail)
	called := false
	v, err := b.Execute(context.Background(), func(context.Context) (int, error) { called = true; return 1, nil })
	if called || v != 0 {
		t.Fatalf("open breaker ran the call (called %v, v %d)", called, v)
	}
	for _, target := range []error{ErrOpen, gobreaker.ErrOpenState} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false", err, target)
		}
	}
	var oe *OpenError
	if !errors.As(err, &oe) || oe.Name != "pay" || oe.State != StateOpen {
		t.Fatalf("err %#v, want *OpenError named pay", err)
	}
	if !strings.Contains(err.Error(), `"pay"`) {
		t.Errorf("message %q does not name the breaker", err)
	}
}

func TestForceOpenAndRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		c := testComponent(&rec)
		c.Fallback = true
		b := newBound(t, c)
		if err := b.ForceOpen(""); err == nil {
			t.Fatal("ForceOpen accepted an empty reason")
		}
		if err := b.ForceOpen("INC-42: payments corrupting orders"); err != nil {
			t.Fatal(err)
		}
		if s := b.State(); s != StateForcedOpen {
			t.Fatalf("state %v, want forced_open", s)
		}
		called := false
		_, err := b.Execute(context.Background(), func(context.Context) (int, error) { called = true; return 1, nil })
		var oe *OpenError
		if called || !errors.As(err, &oe) || oe.State != StateForcedOpen || oe.Reason != "INC-42: payments corrupting orders" ||
			!errors.Is(err, ErrOpen) || !errors.Is(err, gobreaker.ErrOpenState) {
			t.Fatalf("forced open: called %v, err %v", called, err)
		}
		// Forced open does not lapse with the open timeout.
		time.Sleep(2 * DefaultOpenTimeout)
		if s := b.State(); s != StateForcedOpen {
			t.Fatalf("after the open timeout: state %v, want forced_open", s)
		}
		if err := b.Release("INC-42 fixed"); err != nil {
			t.Fatal(err)
		}
		if s := b.State(); s != StateClosed {
			t.Fatalf("released: state %v, want closed", s)
		}
		if _, err := b.Execute(context.Background(), ok); err != nil {
			t.Fatal(err)
		}
		if err := b.Release("again"); err != nil || rec.Len() != 2 {
			t.Fatalf("second Release: err %v, %d signals, want no-op", err, rec.Len())
		}
		sigs := rec.Of(firebreak.KindBreakerOpen)
		if len(sigs) != 2 {
			t.Fatalf("%d signals, want 2: %+v", len(sigs), sigs)
		}
		if !sigs[0].Firing || !sigs[0].Fallback || !strings.Contains(sigs[0].Summary, "INC-42: payments corrupting orders") {
			t.Errorf("force signal %+v", sigs[0])
		}
		if sigs[1].Firing || !strings.Contains(sigs[1].Summary, "INC-42 fixed") {
			t.Errorf("release signal %+v", sigs[1])
		}
	})
}

func TestForceOpenWhileTripped(t *testing.T) {
	var rec firebreak.Recorder
	b := newTest(t, &rec, WithConsecutiveFailures(1))
	_, _ = b.Execute(context.Background(), fail)
	b.SetFallback(true)
	_ = b.ForceOpen("hold it")
	_ = b.ForceOpen("hold it, new reason") // no state change: no signal
	_ = b.Release("done")
	var got []string
	for _, s := range rec.Signals() {
		got = append(got, fmt.Sprintf("%v %v %v", s.Firing, s.Metrics["state"], s.Fallback))
	}
	want := []string{"true 2 false", "true 3 true", "false 0 true"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("signals (-want +got):\n%s", diff)
	}
}

func TestSignalFields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		c := testComponent(&rec)
		c.Fallback = true
		b := newBound(t, c, WithConsecutiveFailures(0), WithFailureRatio(0.5, 4), WithOpenTimeout(10*time.Second))
		start := time.Now()
		for _, fn := range []func(context.Context) (int, error){ok, fail, ok, fail} {
			_, _ = b.Execute(context.Background(), fn)
		}
		time.Sleep(11 * time.Second)
		_, _ = b.Execute(context.Background(), ok)
		want := []firebreak.Signal{
			{Kind: firebreak.KindBreakerOpen, Component: "checkout", Dependency: "payments", Tier: firebreak.Core,
				Firing: true, Fallback: true, Value: 0.5, Time: start,
				Metrics: map[string]float64{"state": 2, "failure_ratio": 0.5, "failures": 2, "calls": 4, "consecutive_failures": 1}},
			{Kind: firebreak.KindBreakerOpen, Component: "checkout", Dependency: "payments", Tier: firebreak.Core,
				Firing: true, Fallback: true, Time: start.Add(11 * time.Second), Metrics: map[string]float64{"state": 1}},
			{Kind: firebreak.KindBreakerOpen, Component: "checkout", Dependency: "payments", Tier: firebreak.Core,
				Firing: false, Fallback: true, Time: start.Add(11 * time.Second), Metrics: map[string]float64{"state": 0}},
		}
		got := rec.Signals()
		for i := range got {
			if got[i].Summary == "" || !strings.Contains(got[i].Summary, `"payments"`) {
				t.Errorf("signal %d summary %q does not name the breaker", i, got[i].Summary)
			}
			got[i].Summary = ""
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("signals (-want +got):\n%s", diff)
		}
	})
}

// Signals are reported exactly once per state change, in order, when many
// goroutines drive the breaker at once.
func TestSignalsOncePerTransitionConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		b := newTest(t, &rec, WithConsecutiveFailures(3), WithFailureRatio(0, 0), WithOpenTimeout(time.Second), WithHalfOpenCalls(2))
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 400 {
					fn := ok
					if (i+g)%7 < 3 {
						fn = fail
					}
					_, _ = b.Execute(context.Background(), fn)
					if i%10 == 0 {
						time.Sleep(100 * time.Millisecond)
					}
					if g == 0 && i%97 == 0 {
						_ = b.ForceOpen("drill")
						_ = b.Release("drill over")
					}
				}
			})
		}
		wg.Wait()
		b.State()
		sigs := rec.Signals()
		t.Logf("%d signals", len(sigs))
		if len(sigs) < 4 {
			t.Fatalf("only %d signals", len(sigs))
		}
		// Each signal's state follows from the previous: no change reported
		// twice, none lost (a lost one would leave two equal states in a row).
		prev := StateClosed
		for i, s := range sigs {
			st := State(s.Metrics["state"])
			if st == prev {
				t.Fatalf("signal %d repeats state %v", i, st)
			}
			if s.Firing != (st != StateClosed) {
				t.Fatalf("signal %d: Firing %v for state %v", i, s.Firing, st)
			}
			if i > 0 && s.Time.Before(sigs[i-1].Time) {
				t.Fatalf("signal %d out of order", i)
			}
			prev = st
		}
		if got := b.State(); State(sigs[len(sigs)-1].Metrics["state"]) != got {
			t.Fatalf("last signal state %v, breaker %v", sigs[len(sigs)-1].Metrics["state"], got)
		}
	})
}

// A Reporter that calls back into the breaker — reads its state, runs calls,
// forces it — must not deadlock: the breaker never reports under a lock.
func TestReentrantReporterNoDeadlock(t *testing.T) {
	var b *Breaker[int]
	var mu sync.Mutex
	var states []State
	depth := 0
	rep := firebreak.ReporterFunc(func(s firebreak.Signal) {
		mu.Lock()
		depth++
		d := depth
		mu.Unlock()
		st := b.State()
		_ = b.Counts()
		_, _ = b.Execute(context.Background(), fail) // may cause a change of its own
		if d == 1 {
			_ = b.ForceOpen("reporter isolates")
			_ = b.Release("reporter releases")
		}
		mu.Lock()
		states = append(states, st)
		mu.Unlock()
	})
	b = newBound(t, firebreak.Component{Name: "c", Reporter: rep}, WithConsecutiveFailures(1), WithOpenTimeout(time.Hour))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = b.Execute(context.Background(), fail)
		_, _ = b.Execute(context.Background(), ok)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("deadlock: Execute did not return with a re-entrant Reporter")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(states) < 3 {
		t.Fatalf("reporter ran %d times, want >= 3 (open, forced, released...)", len(states))
	}
}

func TestInvalidSettings(t *testing.T) {
	tests := []struct {
		opt  Option
		want string
	}{
		{WithWindow(time.Minute, 0), "WithWindow"},
		{WithWindow(time.Second, time.Minute), "WithWindow"},
		{WithWindow(time.Minute, 7*time.Second), "WithWindow"},
		{WithWindow(time.Hour, time.Millisecond), "WithWindow"},
		{WithFailureRatio(1.5, 10), "WithFailureRatio"},
		{WithFailureRatio(-0.1, 10), "WithFailureRatio"},
		{WithFailureRatio(0.5, 0), "WithFailureRatio"},
		{WithConsecutiveFailures(-1), "WithConsecutiveFailures"},
		{WithSlowCall(-time.Second), "WithSlowCall"},
		{WithHangThreshold(-time.Second, 0), "WithHangThreshold: threshold"},
		{WithHangThreshold(time.Second, -time.Millisecond), "WithHangThreshold: minBudget"},
		{WithOpenTimeout(0), "WithOpenTimeout"},
		{WithHalfOpenCalls(0), "WithHalfOpenCalls"},
		{WithHalfOpenCalls(1 << 20), "WithHalfOpenCalls"},
		{WithIsFailure(nil), "WithIsFailure"},
		{WithIsExcluded(nil), "WithIsExcluded"},
		{WithName(""), "WithName"},
		{nil, "breaker: New: option 0 is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			b, err := New[int](tt.opt)
			if err == nil || b != nil {
				t.Fatalf("New accepted the option (breaker %v)", b)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s", err, tt.want)
			}
		})
	}
	_, err := New[int](WithConsecutiveFailures(0), WithFailureRatio(0, 0))
	if err == nil || !strings.Contains(err.Error(), "no trip rule") {
		t.Errorf("both rules off: err %v", err)
	}
	if _, err := NewGroup[string, int](0); err == nil || !strings.Contains(err.Error(), "maxBreakers") {
		t.Errorf("NewGroup(0): err %v", err)
	}
	if _, err := NewGroup[string, int](1, WithName("x"), nil); err == nil || err.Error() != "breaker: NewGroup: option 1 is nil" {
		t.Errorf("NewGroup with a nil option: err %v", err)
	}
}

func TestDefaultsValid(t *testing.T) {
	b, err := New[string]()
	if err != nil {
		t.Fatal(err)
	}
	v, err := b.Execute(context.Background(), func(context.Context) (string, error) { return "x", nil })
	if v != "x" || err != nil {
		t.Fatalf("(%q, %v)", v, err)
	}
}

func TestSetState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		b := newTest(t, &rec, WithOpenTimeout(5*time.Second))
		if err := b.SetState(StateOpen); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Execute(context.Background(), ok); !errors.Is(err, ErrOpen) {
			t.Fatalf("set open: err %v", err)
		}
		time.Sleep(6 * time.Second)
		if s := b.State(); s != StateHalfOpen {
			t.Fatalf("after the open timeout: %v, want half-open", s)
		}
		// Half-open, then a successful trial closes it.
		if err := b.SetState(StateHalfOpen); err != nil || b.State() != StateHalfOpen {
			t.Fatalf("set half-open: %v, %v", err, b.State())
		}
		if _, err := b.Execute(context.Background(), ok); err != nil || b.State() != StateClosed {
			t.Fatalf("trial success: %v, %v", err, b.State())
		}
		// Half-open, then a failed trial opens it for the real open timeout.
		if err := b.SetState(StateHalfOpen); err != nil {
			t.Fatal(err)
		}
		_, _ = b.Execute(context.Background(), fail)
		time.Sleep(4 * time.Second)
		if s := b.State(); s != StateOpen {
			t.Fatalf("4s after a failed trial: %v, want open (5s timeout)", s)
		}
		time.Sleep(2 * time.Second)
		if s := b.State(); s != StateHalfOpen {
			t.Fatalf("6s after a failed trial: %v, want half-open", s)
		}
		if err := b.SetState(StateForcedOpen); err != nil || b.State() != StateForcedOpen {
			t.Fatalf("set forced: %v, %v", err, b.State())
		}
		if err := b.SetState(StateClosed); err != nil || b.State() != StateClosed {
			t.Fatalf("set closed: %v, %v", err, b.State())
		}
		if err := b.SetState(State(42)); err == nil {
			t.Error("SetState(42) succeeded")
		}
		var got []float64
		for _, s := range rec.Signals() {
			got = append(got, s.Metrics["state"])
		}
		if diff := cmp.Diff([]float64{2, 1, 0, 1, 2, 1, 3, 0}, got); diff != "" {
			t.Errorf("signal states (-want +got):\n%s", diff)
		}
	})
}

func TestPipeline(t *testing.T) {
	var rec firebreak.Recorder
	b, err := New[int](WithConsecutiveFailures(1))
	if err != nil {
		t.Fatal(err)
	}
	c := firebreak.Component{Name: "checkout", Dependency: "inventory", Tier: firebreak.Auxiliary, Reporter: &rec}
	p, err := firebreak.NewPipeline(c, []firebreak.Policy[int]{b})
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "inventory" {
		t.Errorf("name %q, want the dependency", b.Name())
	}
	_, _ = p.Execute(context.Background(), fail)
	_, err = p.Execute(context.Background(), ok)
	if !errors.Is(err, ErrOpen) || !strings.Contains(err.Error(), "inventory") {
		t.Fatalf("err %v", err)
	}
	s, okSig := rec.Last(firebreak.KindBreakerOpen)
	if !okSig || s.Component != "checkout" || s.Dependency != "inventory" || s.Tier != firebreak.Auxiliary || !s.Firing {
		t.Fatalf("signal %+v", s)
	}
	// A breaker protects one dependency: a second pipeline for another is refused.
	if _, err := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "search"}, []firebreak.Policy[int]{b}); err == nil {
		t.Error("breaker bound to a second dependency")
	}
	if b.Stage() != firebreak.StageBreaker {
		t.Error("wrong stage")
	}
}
