package breaker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/race"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// These tests play realistic traffic through a breaker with the DEFAULT
// options, in virtual time, and check the detection table in doc.go row by
// row.

// warmUp is how long healthy traffic runs before a fault. An hour, as the
// review measured; under -race (ten times slower) five minutes, which is
// still ten windows: the window forgets everything older.
func warmUp() time.Duration {
	if race.Enabled {
		return 5 * time.Minute
	}
	return time.Hour
}

// drive plays rate calls per second for d: call runs rate×tick times every
// tick, back to back, with ticks of at least 10 ms. call runs inline; calls
// that block start their own goroutine. It stops early when stop returns
// true (checked every tick; nil means never).
func drive(rate float64, d time.Duration, stop func() bool, call func()) {
	tick := time.Duration(float64(time.Second) / rate)
	per := 1
	if tick < 10*time.Millisecond {
		tick, per = 10*time.Millisecond, int(rate/100)
	}
	for end := time.Now().Add(d); time.Now().Before(end); {
		for range per {
			call()
		}
		if stop != nil && stop() {
			return
		}
		time.Sleep(tick)
	}
}

// firstFiring returns the time of the first firing breaker_open signal.
func firstFiring(rec *firebreak.Recorder) (time.Time, bool) {
	for _, s := range rec.Of(firebreak.KindBreakerOpen) {
		if s.Firing {
			return s.Time, true
		}
	}
	return time.Time{}, false
}

func hang(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() }

// TestDetectionTable plays each row of doc.go's detection table: an hour of
// healthy traffic, then a fault, and the breaker must open within the
// documented time.
func TestDetectionTable(t *testing.T) {
	type caller func(b *Breaker[int], wg *sync.WaitGroup)
	failFast := func(b *Breaker[int], _ *sync.WaitGroup) { _, _ = b.Execute(context.Background(), fail) }
	hung1s := func(b *Breaker[int], wg *sync.WaitGroup) {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, _ = b.Execute(ctx, hang)
		})
	}
	rows := []struct {
		name   string
		rate   float64
		fault  caller
		within time.Duration
	}{
		{"outage/1rps", 1, failFast, 10 * time.Second},
		{"outage/10rps", 10, failFast, 20 * time.Second},
		{"outage/100rps", 100, failFast, 20 * time.Second},
		{"outage/1000rps", 1000, failFast, 20 * time.Second},
		{"hung-1s-timeout/1rps", 1, hung1s, 11 * time.Second},
		{"hung-1s-timeout/100rps", 100, hung1s, 21 * time.Second},
		{"hung-1s-timeout/1000rps", 1000, hung1s, 21 * time.Second},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var rec firebreak.Recorder
				b := newTest(t, &rec)
				drive(row.rate, warmUp(), nil, func() {
					if _, err := b.Execute(context.Background(), ok); err != nil {
						t.Fatalf("healthy traffic: %v", err)
					}
				})
				if rec.Len() != 0 {
					t.Fatalf("healthy traffic raised %d signals", rec.Len())
				}
				onset := time.Now()
				var wg sync.WaitGroup
				opened := func() bool { _, ok := firstFiring(&rec); return ok }
				drive(row.rate, 2*time.Minute, opened, func() { row.fault(b, &wg) })
				wg.Wait()
				at, ok := firstFiring(&rec)
				if !ok {
					t.Fatalf("still closed 2m after the fault; counts %+v", b.Counts())
				}
				took := at.Sub(onset)
				t.Logf("opened %v after the onset", took)
				if took > row.within {
					t.Errorf("opened %v after the onset, want within %v", took, row.within)
				}
			})
		})
	}
}

// TestRandomErrorsNeverTrip: a degraded dependency with 10%, 20% or 30%
// random errors, at every traffic level, for 30 minutes from a fresh
// breaker (the counts' most fragile moment): the default breaker never
// opens. The review measured 11 openings and 40% of calls rejected at 10%
// errors, 1000 calls/s, with the old defaults.
func TestRandomErrorsNeverTrip(t *testing.T) {
	for _, rate := range []float64{1, 10, 100, 1000} {
		for _, p := range []float64{0.1, 0.2, 0.3} {
			t.Run(fmt.Sprintf("%grps/%g%%", rate, 100*p), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					var rec firebreak.Recorder
					b := newTest(t, &rec)
					rng := rand.New(rand.NewPCG(uint64(rate), uint64(100*p)))
					var calls, failed, rejected int
					drive(rate, 30*time.Minute, nil, func() {
						fn := ok
						if rng.Float64() < p {
							fn = fail
						}
						_, err := b.Execute(context.Background(), fn)
						calls++
						switch {
						case errors.Is(err, ErrOpen):
							rejected++
						case err != nil:
							failed++
						}
					})
					if rejected != 0 || rec.Len() != 0 {
						t.Fatalf("%d of %d calls rejected, %d signals (first %v); want none",
							rejected, calls, rec.Len(), rec.Signals()[0].Summary)
					}
					if got := float64(failed) / float64(calls); got < p*0.8 || got > p*1.2 {
						t.Fatalf("error ratio played %v, want about %v", got, p)
					}
				})
			})
		}
	}
}

// withMeter returns a breaker with the default options and a metered
// provider, its recorder, and a function reading the calls metric by
// outcome.
func withMeter(t *testing.T) (*Breaker[int], *firebreak.Recorder, func() map[string]int64) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	var rec firebreak.Recorder
	b := newTest(t, &rec, WithMeterProvider(mp))
	return b, &rec, func() map[string]int64 { return collect(t, r, "firebreak.breaker.calls") }
}

// Hangs count, whoever cancels: a dependency that never answers (it returns
// only when ctx is done) opens the breaker within 30 s at 100 calls/s,
// whether the callers' deadline is 1 s or 250 ms or they cancel at 1 s. The
// review saw 5,000 of 5,000 such calls excluded.
func TestHungDependencyTrips(t *testing.T) {
	rows := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"timeout-1s", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Second)
		}},
		{"timeout-250ms", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 250*time.Millisecond)
		}},
		{"cancel-at-1s", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(time.Second, cancel)
			return ctx, cancel
		}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, rec, outcomes := withMeter(t)
				drive(100, 10*time.Minute, nil, func() { _, _ = b.Execute(context.Background(), ok) })
				onset := time.Now()
				var wg sync.WaitGroup
				opened := func() bool { _, ok := firstFiring(rec); return ok }
				drive(100, time.Minute, opened, func() {
					wg.Go(func() {
						ctx, cancel := row.ctx()
						defer cancel()
						if _, err := b.Execute(ctx, hang); err == nil {
							t.Error("a hung call succeeded")
						}
					})
				})
				wg.Wait()
				at, ok := firstFiring(rec)
				if !ok || at.Sub(onset) > 30*time.Second {
					t.Fatalf("opened %v (at all: %v) after the hang began, want within 30s; outcomes %v",
						at.Sub(onset), ok, outcomes())
				}
				t.Logf("opened %v after the hang began; outcomes %v", at.Sub(onset), outcomes())
				if outcomes()["hung"] == 0 {
					t.Error("no call counted as hung")
				}
			})
		})
	}
}

// slowHealthy answers in 20 ms unless ctx ends first.
func slowHealthy(ctx context.Context) (int, error) {
	select {
	case <-time.After(20 * time.Millisecond):
		return 1, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Callers that give up early say nothing about the dependency: a healthy
// dependency answering in 20 ms, with 30% of callers cancelling at a random
// 0–20 ms, or arriving with at most 1 ms left on their deadline, never trips
// over 30 minutes at 100 calls/s, and not one of those calls counts as a
// failure.
func TestEarlyCancellationNeverCounts(t *testing.T) {
	rows := []struct {
		name string
		ctx  func(rng *rand.Rand) (context.Context, context.CancelFunc)
	}{
		{"cancel-within-20ms", func(rng *rand.Rand) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(time.Duration(rng.Int64N(int64(20*time.Millisecond))), cancel)
			return ctx, cancel
		}},
		{"deadline-1ms-left", func(rng *rand.Rand) (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Duration(rng.Int64N(int64(time.Millisecond)+1)))
		}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, rec, outcomes := withMeter(t)
				rng := rand.New(rand.NewPCG(1, 2))
				var wg sync.WaitGroup
				drive(100, 30*time.Minute, nil, func() {
					early := rng.Float64() < 0.3
					ctx, cancel := context.Background(), context.CancelFunc(func() {})
					if early {
						ctx, cancel = row.ctx(rng)
					}
					wg.Go(func() {
						defer cancel()
						_, _ = b.Execute(ctx, slowHealthy)
					})
				})
				wg.Wait()
				got := outcomes()
				t.Logf("outcomes %v", got)
				if rec.Len() != 0 || got["failure"] != 0 || got["hung"] != 0 || got["rejected"] != 0 {
					t.Fatalf("outcomes %v, %d signals; want no failure, hang, rejection or signal", got, rec.Len())
				}
				if got["excluded"] < 100_000*3/10*9/10 {
					t.Fatalf("outcomes %v: the early cancellations were not played", got)
				}
			})
		})
	}
}

// timeoutError stands for the failover package's coming Timeout policy's
// *TimeoutError: the policy's own deadline ran out while the caller's
// context is still alive. It is not a Rejecter.
type timeoutError struct{ after time.Duration }

func (e *timeoutError) Error() string { return fmt.Sprintf("timed out after %v", e.after) }
func (e *timeoutError) Timeout() bool { return true }

// A timeout policy inside the breaker returns its error while the caller's
// context is alive: an ordinary failure, which trips the breaker.
func TestTimeoutPolicyErrorIsFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, rec, outcomes := withMeter(t)
		drive(100, 10*time.Minute, nil, func() { _, _ = b.Execute(context.Background(), ok) })
		onset := time.Now()
		var wg sync.WaitGroup
		opened := func() bool { _, ok := firstFiring(rec); return ok }
		drive(100, time.Minute, opened, func() {
			wg.Go(func() {
				_, _ = b.Execute(context.Background(), func(context.Context) (int, error) {
					time.Sleep(100 * time.Millisecond)
					return 0, fmt.Errorf("payments: %w", &timeoutError{100 * time.Millisecond})
				})
			})
		})
		wg.Wait()
		at, ok := firstFiring(rec)
		if !ok || at.Sub(onset) > 30*time.Second {
			t.Fatalf("opened %v (at all: %v) after the timeouts began; outcomes %v", at.Sub(onset), ok, outcomes())
		}
		if got := outcomes(); got["failure"] == 0 || got["hung"] != 0 {
			t.Errorf("outcomes %v, want the timeouts counted as failures", got)
		}
	})
}

// shedError is an inner limiter's rejection.
type shedError struct{}

func (shedError) Error() string                  { return "shed: over 1 rps" }
func (shedError) Rejection() firebreak.Rejection { return firebreak.RejectOverload }

// limiter rejects all but one call in every n, like a 1 rps shedder under
// 1000 calls/s.
type limiter struct {
	mu sync.Mutex
	n  int
	i  int
}

func (l *limiter) Stage() firebreak.Stage { return firebreak.StageShed }
func (l *limiter) Apply(ctx context.Context, next firebreak.Next[int]) (int, error) {
	l.mu.Lock()
	l.i++
	pass := l.i%l.n == 0
	l.mu.Unlock()
	if !pass {
		return 0, fmt.Errorf("inventory: %w", shedError{})
	}
	return next.Call(ctx)
}

// Rejections are never failures: a healthy dependency behind an inner
// limiter that rejects 99.9% of calls for 10 minutes at 1000 calls/s never
// opens the breaker and raises no signal — whatever the pipeline order puts
// inside the breaker and whatever the failure classifier says. The review
// saw an open breaker and a Severe incident.
func TestInnerRejectionsNeverCount(t *testing.T) {
	rows := []struct {
		name  string
		opts  []Option
		order []firebreak.PipelineOption
		inner func() firebreak.Policy[int]
	}{
		{"shedder/default-order", nil, nil, func() firebreak.Policy[int] { return &limiter{n: 1000} }},
		{"shedder/given-order", nil, []firebreak.PipelineOption{firebreak.InGivenOrder()},
			func() firebreak.Policy[int] { return &limiter{n: 1000} }},
		{"shedder/classifier-says-failure", []Option{
			WithIsFailure(func(error) bool { return true }),
			WithIsExcluded(func(error) bool { return false }),
		}, nil, func() firebreak.Policy[int] { return &limiter{n: 1000} }},
		{"inner-breaker-forced-open", nil, []firebreak.PipelineOption{firebreak.InGivenOrder()},
			func() firebreak.Policy[int] {
				inner, err := New[int](WithName("inner"))
				if err != nil {
					t.Fatal(err)
				}
				_ = inner.ForceOpen("drill")
				return inner
			}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var rec firebreak.Recorder
				outer, err := New[int](row.opts...)
				if err != nil {
					t.Fatal(err)
				}
				c := firebreak.Component{Name: "checkout", Dependency: "inventory", Tier: firebreak.Core, Reporter: &rec}
				p, err := firebreak.NewPipeline(c, []firebreak.Policy[int]{outer, row.inner()}, row.order...)
				if err != nil {
					t.Fatal(err)
				}
				var rejected, served int
				drive(1000, 10*time.Minute, nil, func() {
					_, err := p.Execute(context.Background(), ok)
					switch {
					case err == nil:
						served++
					case firebreak.IsRejected(err):
						rejected++
					default:
						t.Fatalf("unexpected error %v", err)
					}
				})
				if rec.Len() != 0 {
					t.Fatalf("%d signals, first %+v; want none", rec.Len(), rec.Signals()[0])
				}
				cnt := outer.Counts()
				if s := outer.State(); s != StateClosed || cnt.Failures != 0 || cnt.Excluded == 0 {
					t.Fatalf("outer breaker %v, counts %+v; want closed, no failures, rejections excluded", s, cnt)
				}
				if rejected < 590_000 {
					t.Fatalf("%d rejected, %d served: the limiter did not reject 99.9%%", rejected, served)
				}
			})
		})
	}
}

// The breaker's own rejection is a Rejecter (isolated), open or half-open
// with its trials taken, so an outer breaker, retry or tracer reads it.
func TestOpenErrorIsRejecter(t *testing.T) {
	b := newTest(t, nil, WithConsecutiveFailures(1))
	_, _ = b.Execute(context.Background(), fail)
	_, err := b.Execute(context.Background(), ok)
	if got := firebreak.RejectionOf(err); got != firebreak.RejectIsolated {
		t.Fatalf("RejectionOf(%v) = %v, want isolated", err, got)
	}
	if got := firebreak.RejectionOf(&b.id.Load().openErrs().tooMany); got != firebreak.RejectIsolated {
		t.Fatalf("half-open rejection: %v, want isolated", got)
	}
	_ = b.ForceOpen("drill")
	_, err = b.Execute(context.Background(), ok)
	if got := firebreak.RejectionOf(fmt.Errorf("wrapped: %w", err)); got != firebreak.RejectIsolated {
		t.Fatalf("forced: %v, want isolated", got)
	}
}
