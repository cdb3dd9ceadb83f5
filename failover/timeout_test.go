package failover

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

func mustTimeout[T any](t *testing.T, d time.Duration, opts ...TimeoutOption) *Timeout[T] {
	t.Helper()
	p, err := NewTimeout[T](d, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hung is a dependency that answers only when its context ends.
func hung(ctx context.Context) (string, error) {
	<-ctx.Done()
	return "", ctx.Err()
}

func TestTimeoutHungDependency(t *testing.T) {
	for _, abandon := range []bool{false, true} {
		name := "waits"
		var opts []TimeoutOption
		if abandon {
			name, opts = "abandons", []TimeoutOption{WithAbandon()}
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := mustTimeout[string](t, 2*time.Second, opts...)
				start := time.Now()
				_, err := p.Execute(t.Context(), hung)
				if got := time.Since(start); got != 2*time.Second {
					t.Errorf("returned after %v, want 2s", got)
				}
				var te *TimeoutError
				if !errors.As(err, &te) || !errors.Is(err, ErrTimeout) || te.Timeout != 2*time.Second {
					t.Fatalf("err = %v, want a TimeoutError of 2s", err)
				}
				if !errors.Is(err, context.DeadlineExceeded) || te.ErrorType() != "timeout" {
					t.Errorf("err = %v (type %q), want it to wrap the call's DeadlineExceeded, type timeout", err, te.ErrorType())
				}
				if firebreak.IsRejected(err) || rejected(err) {
					t.Error("a timeout is a dependency failure, not a rejection")
				}
				if isCancellation(t.Context(), err) {
					t.Error("a timeout must not look like the caller's cancellation")
				}
			})
		})
	}
}

func TestTimeoutCallerEndsFirst(t *testing.T) {
	tests := []struct {
		name string
		ctx  func(context.Context) (context.Context, context.CancelFunc)
		want error
	}{
		{"cancelled", func(ctx context.Context) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(500*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"own deadline", func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, 500*time.Millisecond)
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		for _, abandon := range []bool{false, true} {
			var opts []TimeoutOption
			if abandon {
				opts = append(opts, WithAbandon())
			}
			t.Run(tt.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					p := mustTimeout[string](t, 2*time.Second, opts...)
					ctx, cancel := tt.ctx(t.Context())
					defer cancel()
					start := time.Now()
					_, err := p.Execute(ctx, hung)
					if got := time.Since(start); got != 500*time.Millisecond {
						t.Errorf("returned after %v, want 500ms", got)
					}
					if !errors.Is(err, tt.want) || errors.Is(err, ErrTimeout) {
						t.Errorf("err = %v, want the caller's %v and no TimeoutError", err, tt.want)
					}
				})
			})
		}
	}
}

// A call that ignores its context: by default the timeout waits for it; with
// WithAbandon it returns at the deadline and the call ends on its own.
func TestTimeoutCallIgnoringContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var finished atomic.Int32
		stubborn := func(err error) firebreak.Func[string] {
			return func(context.Context) (string, error) {
				time.Sleep(time.Minute)
				finished.Add(1)
				return "late", err
			}
		}
		wait := mustTimeout[string](t, time.Second)
		start := time.Now()
		v, err := wait.Execute(t.Context(), stubborn(nil))
		if v != "late" || err != nil || time.Since(start) != time.Minute {
			t.Errorf("waiting: %q, %v after %v; want the late success after 1m", v, err, time.Since(start))
		}
		start = time.Now()
		if _, err := wait.Execute(t.Context(), stubborn(errBoom)); !errors.Is(err, ErrTimeout) || !errors.Is(err, errBoom) || time.Since(start) != time.Minute {
			t.Errorf("waiting on a late failure: %v after %v; want a TimeoutError wrapping boom after 1m", err, time.Since(start))
		}

		ab := mustTimeout[string](t, time.Second, WithAbandon())
		finished.Store(0)
		start = time.Now()
		v, err = ab.Execute(t.Context(), stubborn(nil))
		if v != "" || !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Errorf("abandoning: %q, %v after %v; want a TimeoutError after 1s", v, err, time.Since(start))
		}
		if finished.Load() != 0 {
			t.Error("the abandoned call finished before the deadline?")
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if finished.Load() != 1 {
			t.Error("the abandoned call did not run to its end")
		}
		// Fast calls through the abandoning timeout answer as they are.
		if v, err := ab.Execute(t.Context(), func(context.Context) (string, error) { return "ok", nil }); v != "ok" || err != nil {
			t.Errorf("fast call: %q, %v", v, err)
		}
		if _, err := ab.Execute(t.Context(), func(context.Context) (string, error) { return "", errBoom }); err != errBoom {
			t.Errorf("fast failure: %v, want boom as it is", err)
		}
	})
}

func TestTimeoutPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ab := mustTimeout[string](t, time.Second, WithAbandon())
		// A panic while the caller waits reaches the caller, as it would
		// without the goroutine.
		func() {
			defer func() {
				if r := recover(); r != "bad" {
					t.Errorf("recovered %v, want the call's panic", r)
				}
			}()
			ab.Execute(t.Context(), func(context.Context) (string, error) { panic("bad") })
			t.Error("no panic")
		}()
		// A panic after the caller left is recovered: the test binary
		// would die otherwise.
		_, err := ab.Execute(t.Context(), func(context.Context) (string, error) {
			time.Sleep(time.Minute)
			panic("late")
		})
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("err = %v", err)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
	})
}

func TestNewTimeoutValidates(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second, time.Duration(1<<63 - 1)} {
		if _, err := NewTimeout[int](d); err == nil || !strings.Contains(err.Error(), "NewTimeout: d") {
			t.Errorf("NewTimeout(%v): %v, want an error naming d", d, err)
		}
	}
	p, err := NewTimeout[int](time.Second)
	if err != nil || p.Stage() != firebreak.StageTimeout || p.d != time.Second {
		t.Fatalf("NewTimeout(1s) = %v, %v", p, err)
	}
}

// In a pipeline the timeout sits inside the retry: each attempt gets its own
// deadline, and a timed-out attempt is retried.
func TestTimeoutInsideRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		retry := mustRetry[string](t, WithMaxAttempts(3), WithBackoff(100*time.Millisecond, time.Second, 1), WithJitter(0), WithoutBudget())
		p, err := firebreak.NewPipeline(firebreak.Component{Name: "shop", Dependency: "catalog"},
			[]firebreak.Policy[string]{mustTimeout[string](t, time.Second), retry})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		start := time.Now()
		v, err := p.Execute(t.Context(), func(ctx context.Context) (string, error) {
			if n++; n < 3 {
				return hung(ctx)
			}
			return "third time", nil
		})
		if v != "third time" || err != nil || n != 3 {
			t.Fatalf("%q, %v after %d attempts", v, err, n)
		}
		if got := time.Since(start); got != 2*time.Second+200*time.Millisecond {
			t.Errorf("took %v, want two timeouts of 1s and two waits of 100ms", got)
		}
	})
}
