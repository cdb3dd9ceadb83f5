package failover

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/sony/gobreaker/v2"

	"github.com/firebreak-go/firebreak"
)

var errBoom = errors.New("boom")

// typedErr is an error with an ErrorType and no Rejection: a string type
// alone does not make an error a rejection.
type typedErr string

func (e typedErr) Error() string     { return "typed: " + string(e) }
func (e typedErr) ErrorType() string { return string(e) }

// rejectErr is an application's own rejection, like the breaker's open error.
type rejectErr firebreak.Rejection

func (e rejectErr) Error() string                  { return "rejected: " + firebreak.Rejection(e).String() }
func (e rejectErr) Rejection() firebreak.Rejection { return firebreak.Rejection(e) }

func mustRetry[T any](t *testing.T, opts ...RetryOption) *Retry[T] {
	t.Helper()
	r, err := NewRetry[T](opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRetryBackoffTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustRetry[int](t, WithMaxAttempts(4), WithBackoff(100*time.Millisecond, time.Second, 2), WithJitter(0), WithoutBudget())
		start := time.Now()
		var at []time.Duration
		_, err := r.Execute(t.Context(), func(context.Context) (int, error) {
			at = append(at, time.Since(start))
			return 0, errBoom
		})
		want := []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, 700 * time.Millisecond}
		if len(at) != len(want) {
			t.Fatalf("attempts at %v, want %v", at, want)
		}
		for i := range want {
			if at[i] != want[i] {
				t.Errorf("attempt %d at %v, want %v", i+1, at[i], want[i])
			}
		}
		var re *RetryError
		if !errors.As(err, &re) || re.Reason != StopAttempts || re.Attempts != 4 {
			t.Fatalf("err = %v, want a RetryError after 4 attempts", err)
		}
		if !errors.Is(err, errBoom) || !errors.Is(err, ErrRetriesExhausted) {
			t.Errorf("err %v should match errBoom and ErrRetriesExhausted", err)
		}
	})
}

func TestRetryJitterBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustRetry[int](t, WithMaxAttempts(2), WithBackoff(time.Second, 10*time.Second, 2), WithJitter(0.5), WithoutBudget())
		seen := map[time.Duration]bool{}
		for range 50 {
			start := time.Now()
			var second time.Duration
			n := 0
			r.Execute(t.Context(), func(context.Context) (int, error) {
				if n++; n == 2 {
					second = time.Since(start)
				}
				return 0, errBoom
			})
			if second < 500*time.Millisecond || second > 1500*time.Millisecond {
				t.Fatalf("jittered delay %v outside [0.5s, 1.5s]", second)
			}
			seen[second] = true
		}
		if len(seen) < 5 {
			t.Errorf("only %d distinct delays in 50 tries: no jitter?", len(seen))
		}
	})
}

func TestRetryLimits(t *testing.T) {
	tests := []struct {
		name     string
		opts     []RetryOption
		ctx      func(context.Context) (context.Context, context.CancelFunc)
		err      error
		attempts int
		reason   StopReason
		elapsed  time.Duration
	}{
		{
			name: "max elapsed", attempts: 2, reason: StopElapsed, elapsed: 100 * time.Millisecond,
			opts: []RetryOption{WithMaxAttempts(10), WithMaxElapsed(250 * time.Millisecond)},
		},
		{
			name: "caller deadline", attempts: 2, reason: StopDeadline, elapsed: 100 * time.Millisecond,
			opts: []RetryOption{WithMaxAttempts(10)},
			ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(ctx, 250*time.Millisecond)
			},
		},
		{
			name: "retry-after honoured", attempts: 2, reason: StopAttempts, elapsed: 2 * time.Second,
			opts: []RetryOption{WithMaxAttempts(2)},
			err:  &RetryAfterError{Err: errBoom, After: 2 * time.Second},
		},
		{
			name: "retry-after past the time limit", attempts: 1, reason: StopElapsed, elapsed: 0,
			opts: []RetryOption{WithMaxAttempts(5), WithMaxElapsed(time.Second)},
			err:  &RetryAfterError{Err: errBoom, After: time.Minute},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				opts := append([]RetryOption{WithBackoff(100*time.Millisecond, time.Second, 2), WithJitter(0), WithoutBudget()}, tt.opts...)
				r := mustRetry[int](t, opts...)
				ctx := t.Context()
				if tt.ctx != nil {
					var cancel context.CancelFunc
					ctx, cancel = tt.ctx(ctx)
					defer cancel()
				}
				fail := tt.err
				if fail == nil {
					fail = errBoom
				}
				start := time.Now()
				n := 0
				_, err := r.Execute(ctx, func(context.Context) (int, error) { n++; return 0, fail })
				var re *RetryError
				if !errors.As(err, &re) {
					t.Fatalf("err = %v, want a RetryError", err)
				}
				if n != tt.attempts || re.Attempts != tt.attempts || re.Reason != tt.reason {
					t.Errorf("calls %d, error %d attempts (%s); want %d (%s)", n, re.Attempts, re.Reason, tt.attempts, tt.reason)
				}
				if got := time.Since(start); got != tt.elapsed {
					t.Errorf("took %v, want %v", got, tt.elapsed)
				}
			})
		})
	}
}

func TestRetryCancelWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustRetry[int](t, WithMaxAttempts(5), WithBackoff(time.Second, time.Second, 1), WithJitter(0), WithoutBudget())
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(500*time.Millisecond, cancel)
		_, err := r.Execute(ctx, func(context.Context) (int, error) { return 0, errBoom })
		if !errors.Is(err, context.Canceled) || !errors.Is(err, errBoom) {
			t.Fatalf("err = %v, want both context.Canceled and errBoom", err)
		}
		var re *RetryError
		if errors.As(err, &re); re == nil || re.Reason != StopContext {
			t.Errorf("err = %#v, want StopContext", re)
		}
	})
}

func TestRetryNonRetryable(t *testing.T) {
	shed := &ShedError{Reason: "overloaded"}
	tests := []struct {
		name string
		err  error
		opts []RetryOption
	}{
		{"classifier says no", errBoom, []RetryOption{WithRetryIf(func(err error) bool { return !errors.Is(err, errBoom) })}},
		{"open breaker", rejectErr(firebreak.RejectIsolated), nil},
		{"wrapped open breaker", errors.Join(errors.New("x"), rejectErr(firebreak.RejectIsolated)), nil},
		{"rate limited elsewhere", fmt.Errorf("edge: %w", rejectErr(firebreak.RejectOverload)), nil},
		{"switched off elsewhere", rejectErr(firebreak.RejectDisabled), nil},
		{"gobreaker open", fmt.Errorf("payments: %w", gobreaker.ErrOpenState), nil},
		{"gobreaker half-open full", gobreaker.ErrTooManyRequests, nil},
		{"shed", shed, nil},
		{"degraded", &DegradedError{Feature: "f"}, nil},
		{"cancelled", context.Canceled, nil},
		{"permanent", backoff.Permanent(errBoom), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := mustRetry[int](t, append([]RetryOption{WithMaxAttempts(5)}, tt.opts...)...)
				n := 0
				_, err := r.Execute(t.Context(), func(context.Context) (int, error) { n++; return 0, tt.err })
				if n != 1 {
					t.Errorf("called %d times, want 1", n)
				}
				if err != tt.err {
					t.Errorf("err = %v, want the call's own error %v", err, tt.err)
				}
			})
		})
	}
	for _, err := range []error{typedErr("timeout"), typedErr("circuit_open"), rejectErr(0)} {
		t.Run(fmt.Sprintf("%v is not a rejection and is retried", err), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := mustRetry[int](t, WithMaxAttempts(3))
				n := 0
				r.Execute(t.Context(), func(context.Context) (int, error) { n++; return 0, err })
				if n != 3 {
					t.Errorf("called %d times, want 3", n)
				}
			})
		})
	}
	t.Run("caller cancelled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := mustRetry[int](t, WithMaxAttempts(5))
			ctx, cancel := context.WithCancel(t.Context())
			n := 0
			r.Execute(ctx, func(context.Context) (int, error) { n++; cancel(); return 0, errBoom })
			if n != 1 {
				t.Errorf("called %d times, want 1", n)
			}
		})
	})
}

func TestRetrySucceedsAfterFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []RetryEvent
		r := mustRetry[string](t, WithMaxAttempts(5), WithOnRetry(func(e RetryEvent) { events = append(events, e) }))
		n := 0
		v, err := r.Execute(t.Context(), func(context.Context) (string, error) {
			if n++; n < 3 {
				return "", errBoom
			}
			return "ok", nil
		})
		if v != "ok" || err != nil || n != 3 {
			t.Fatalf("got %q, %v after %d calls; want ok after 3", v, err, n)
		}
		if len(events) != 2 || events[0].Attempt != 1 || events[1].Attempt != 2 || events[0].Err != errBoom {
			t.Errorf("retry events = %+v", events)
		}
	})
}

func TestRetryBudgetStopsStorm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustRetry[int](t, WithMaxAttempts(3), WithBudget(0.1, 10*time.Second, 0))
		var calls, budgetStops atomic.Int64
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				_, err := r.Execute(context.Background(), func(context.Context) (int, error) {
					calls.Add(1)
					return 0, errBoom
				})
				var re *RetryError
				if errors.As(err, &re) && re.Reason == StopBudget {
					budgetStops.Add(1)
				}
			})
		}
		wg.Wait()
		// Without a budget 100 callers × 3 attempts = 300 calls.
		if got := calls.Load(); got > 110 || got < 100 {
			t.Errorf("%d calls to the failing dependency, want 100 to 110 (10%% budget)", got)
		}
		if budgetStops.Load() < 90 {
			t.Errorf("%d callers stopped by the budget, want at least 90", budgetStops.Load())
		}

		// The window rolls: after it, retries are allowed again.
		time.Sleep(11 * time.Second)
		n := 0
		for range 10 {
			r.Execute(context.Background(), func(context.Context) (int, error) { return 1, nil })
		}
		r.Execute(context.Background(), func(context.Context) (int, error) { n++; return 0, errBoom })
		if n != 2 {
			t.Errorf("after the window, called %d times, want 2 (one retry)", n)
		}
	})
}

func TestRetryBudgetFloor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustRetry[int](t, WithMaxAttempts(2), WithBudget(0.1, 10*time.Second, 3))
		n := 0
		for range 5 {
			r.Execute(t.Context(), func(context.Context) (int, error) { n++; return 0, errBoom })
		}
		if n != 5+3 {
			t.Errorf("called %d times, want 8: 5 calls and the 3 retries of the floor", n)
		}
	})
}

func TestNewRetryValidates(t *testing.T) {
	tests := []struct {
		opt  RetryOption
		want string
	}{
		{WithMaxAttempts(-1), "MaxAttempts"},
		{WithMaxElapsed(-time.Second), "MaxElapsed"},
		{WithMaxRetryAfter(-time.Second), "MaxRetryAfter"},
		{WithBackoff(time.Second, time.Millisecond, 2), "WithBackoff max"},
		{WithBackoff(time.Millisecond, time.Second, 0.5), "multiplier"},
		{WithJitter(2), "WithJitter"},
		{WithBudget(1.5, time.Second, 0), "WithBudget ratio"},
		{WithBudget(0.1, time.Second, -1), "minRetries"},
	}
	for _, tt := range tests {
		_, err := NewRetry[int](tt.opt)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want one naming %q", err, tt.want)
		}
	}
}

func TestRetryFirstAttemptAllocs(t *testing.T) {
	r := mustRetry[int](t)
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	wantAllocs(t, 0, func() { r.Execute(ctx, fn) })
}

func TestRetryInPipeline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		r := mustRetry[int](t, WithJitter(0))
		f, err := NewFallback(Static(-1))
		if err != nil {
			t.Fatal(err)
		}
		c := firebreak.Component{Name: "checkout", Dependency: "payments", Reporter: &rec}
		p, err := firebreak.NewPipeline(c, []firebreak.Policy[int]{r, f})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Policies(); got[0] != firebreak.Policy[int](f) {
			t.Fatalf("fallback should be outermost, got %T first", got[0])
		}
		n := 0
		v, err := p.Execute(t.Context(), func(context.Context) (int, error) { n++; return 0, errBoom })
		if v != -1 || err != nil || n != 3 {
			t.Errorf("got %d, %v after %d calls; want the fallback -1 after 3", v, err, n)
		}
		if s, ok := rec.Last(firebreak.KindFallbackActive); !ok || s.Component != "checkout" || s.Dependency != "payments" {
			t.Errorf("fallback signal %+v should carry the pipeline's component", s)
		}
		// The same policy cannot serve a second dependency.
		if err := r.Bind(firebreak.Component{Name: "checkout", Dependency: "stock"}); err == nil {
			t.Error("binding to a second component should fail")
		}
		if err := r.Bind(c); err != nil {
			t.Errorf("binding again to the same component: %v", err)
		}
	})
}

func TestBudgetWindowRolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newBudgetWindow(10 * time.Second)
		for range 1000 {
			w.call(firebreak.Nanotime())
		}
		took := 0
		for w.takeRetry(w.now(), 0.1, 0) {
			took++
		}
		if took != 100 {
			t.Errorf("1000 calls allowed %d retries at 10%%, want 100", took)
		}
		time.Sleep(5 * time.Second)
		for range 500 {
			w.call(firebreak.Nanotime())
		}
		if w.takeRetry(w.now(), 0.1, 0) == false {
			t.Error("1500 calls in the window allow 150 retries, 100 taken: want one more")
		}
		time.Sleep(6 * time.Second) // the first 1000 calls and 100 retries leave the window
		took = 0
		for w.takeRetry(w.now(), 0.1, 0) {
			took++
		}
		if took != 49 {
			t.Errorf("after the first second's calls expired, %d more retries, want 49 (50 for 500 calls, 1 taken)", took)
		}
		time.Sleep(11 * time.Second)
		if w.takeRetry(w.now(), 0.1, 0) || !w.takeRetry(w.now(), 0.1, 1) {
			t.Error("an empty window allows only the floor")
		}
	})
}

// A server asking to wait 292 years (Retry-After: 9223372036, the largest
// delay-seconds a Duration holds) once made the elapsed-time check overflow
// and the retry sleep for centuries when the context had no deadline. The
// wait is clamped to WithMaxRetryAfter and WithMaxElapsed holds.
func TestRetryHugeRetryAfter(t *testing.T) {
	huge, err := parseRetryAfter("9223372036", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		opts     []RetryOption
		attempts int
		reason   StopReason
		took     time.Duration // the calls take 1s each
	}{
		// Default MaxRetryAfter (1m) is past the default MaxElapsed (30s):
		// no wait is started.
		{"defaults", nil, 1, StopElapsed, time.Second},
		// A minute's wait at a time within ten minutes: 9 waits of 1m
		// and 10 calls of 1s, then the next wait would pass the limit.
		{"clamped to a minute within ten", []RetryOption{WithMaxElapsed(10 * time.Minute)}, 10, StopElapsed, 9*time.Minute + 10*time.Second},
		{"clamped to 5s", []RetryOption{WithMaxElapsed(time.Hour), WithMaxRetryAfter(5 * time.Second), WithMaxAttempts(4)}, 4, StopAttempts, 3*5*time.Second + 4*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				opts := append([]RetryOption{WithMaxAttempts(100), WithoutBudget()}, tt.opts...)
				r := mustRetry[int](t, opts...)
				start := time.Now()
				n := 0
				_, err := r.Execute(context.Background(), func(context.Context) (int, error) {
					n++
					time.Sleep(time.Second)
					return 0, &StatusError{StatusCode: 503, Status: "503 Service Unavailable", After: huge}
				})
				var re *RetryError
				if !errors.As(err, &re) || re.Reason != tt.reason || n != tt.attempts {
					t.Fatalf("err = %v after %d calls; want %s after %d", err, n, tt.reason, tt.attempts)
				}
				if got := time.Since(start); got != tt.took {
					t.Errorf("took %v, want %v", got, tt.took)
				}
			})
		})
	}
	t.Run("through CheckResponse", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := mustRetry[int](t, WithMaxAttempts(1000), WithMaxElapsed(5*time.Minute), WithoutBudget())
			start := time.Now()
			resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"9223372036"}}}
			_, err := r.Execute(context.Background(), func(context.Context) (int, error) { return 0, CheckResponse(resp) })
			if !errors.Is(err, ErrRetriesExhausted) {
				t.Fatalf("err = %v", err)
			}
			if got := time.Since(start); got > 5*time.Minute {
				t.Errorf("took %v, past WithMaxElapsed(5m)", got)
			}
		})
	})
}
