package failover

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// Every float setting of NewRetry that is NaN or infinite is an error naming
// the option, never a backoff whose delays are NaN (a negative Duration, so
// no wait at all) or a budget that is silently only its floor.
func TestReviewRetryNaNSettingsAreErrors(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		name string
		opt  RetryOption
		want string
	}{
		{"jitter NaN", WithJitter(nan), "WithJitter"},
		{"multiplier NaN", WithBackoff(0, 0, nan), "WithBackoff multiplier"},
		{"multiplier Inf", WithBackoff(0, 0, inf), "WithBackoff multiplier"},
		{"budget ratio NaN", WithBudget(nan, 0, 0), "WithBudget ratio"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRetry[int](tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewRetry(%s) = %v, want an error naming %s", tc.name, err, tc.want)
			}
		})
	}
}

// A largest backoff near the largest Duration ("no cap") with jitter used to
// overflow in the backoff's jitter arithmetic into a negative delay: the
// retry then went again at once, without any wait, against a dependency that
// was failing. Now such a setting is an error naming WithBackoff.
func TestReviewRetryBackoffOverflowIsAnError(t *testing.T) {
	_, err := NewRetry[int](WithBackoff(time.Second, math.MaxInt64, 2))
	if err == nil || !strings.Contains(err.Error(), "WithBackoff max") {
		t.Fatalf("NewRetry(WithBackoff(1s, MaxInt64, 2)) = %v, want an error naming WithBackoff max", err)
	}
	// The largest max that fits with the jitter is accepted, and its delays
	// are never negative.
	synctest.Test(t, func(t *testing.T) {
		var delays []time.Duration
		r, err := NewRetry[int](WithBackoff(time.Second, time.Duration(float64(math.MaxInt64)/1.5)-time.Second, 1e18),
			WithMaxAttempts(3), WithoutBudget(), WithOnRetry(func(e RetryEvent) { delays = append(delays, e.Delay) }))
		if err != nil {
			t.Fatal(err)
		}
		fail := errors.New("down")
		for range 200 {
			_, _ = r.Execute(context.Background(), func(context.Context) (int, error) { return 0, fail })
		}
		for _, d := range delays {
			if d < 0 {
				t.Fatalf("a retry delay was %v: the backoff overflowed", d)
			}
		}
	})
}

// WithEjection's consecutive count is kept in an int32: a count past it
// wrapped to a negative threshold that every failure passed, so the primary
// was ejected at its first failure. A NaN maxShare was silently one
// endpoint. Both are errors naming the setting.
func TestReviewFailoverEjectionSettingsAreErrors(t *testing.T) {
	eps := []Endpoint{{Name: "primary"}, {Name: "standby"}}
	for _, tc := range []struct {
		name string
		opt  FailoverOption
		want string
	}{
		{"consecutive overflows int32", WithEjection(math.MaxInt32+1, 0, 0.5), "WithEjection consecutive"},
		{"maxShare NaN", WithEjection(0, 0, math.NaN()), "WithEjection maxShare"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewFailover[int](eps, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewFailover(%s) = %v, want an error naming %s", tc.name, err, tc.want)
			}
		})
	}
}

// An ejection time near the largest Duration ("until someone looks") used to
// overflow the ejection deadline into the past: the failed primary was
// readmitted by the very next call, so every call paid for its failure
// again. An ejection now lasts until the end of the clock.
func TestReviewFailoverLongEjectionHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, err := NewFailover[string]([]Endpoint{{Name: "primary"}, {Name: "standby"}},
			WithEjection(3, math.MaxInt64, 0.5))
		if err != nil {
			t.Fatal(err)
		}
		primaryCalls, down := 0, false
		call := func() {
			_, err := f.Execute(context.Background(), func(_ context.Context, e Endpoint) (string, error) {
				if e.Name == "primary" && down {
					primaryCalls++
					return "", errors.New("primary down")
				}
				return "ok", nil
			})
			if err != nil {
				t.Fatalf("call failed with a healthy standby: %v", err)
			}
		}
		// 1000 calls/s for a minute on a healthy primary, then for a minute
		// against a dead one.
		for range 60 {
			for range 1000 {
				call()
			}
			time.Sleep(time.Second)
		}
		down, primaryCalls = true, 0
		for range 60 {
			for range 1000 {
				call()
			}
			time.Sleep(time.Second)
		}
		if primaryCalls != 3 {
			t.Fatalf("the primary got %d calls, want 3: it was readmitted after its ejection", primaryCalls)
		}
		if st := f.Status(); !st[0].Ejected {
			t.Fatalf("Status()[0] = %+v, want ejected", st[0])
		}
	})
}

// An outlier ejection of about the largest Duration, with jitter, used to
// overflow into a negative time: the first ejection ended at once, and the
// next (BaseEjectionTime × 2 wrapping to -2ns, plus the jitter) lasted a
// random part of an hour. Now the time saturates.
func TestReviewOutlierLongEjectionHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, err := NewFailover[string]([]Endpoint{{Name: "primary"}, {Name: "standby"}},
			WithEjection(math.MaxInt32, 0, 0.5),
			WithOutlierEjection(OutlierEjection{
				Interval: time.Second, FailurePercentageMinHosts: 1, FailurePercentageRequestVolume: 10,
				SuccessRateMinHosts: 3, BaseEjectionTime: math.MaxInt64, MaxEjectionTime: math.MaxInt64,
				MaxEjectionJitter: time.Hour,
			}))
		if err != nil {
			t.Fatal(err)
		}
		down := false
		for s := range 120 {
			if s == 60 {
				down = true
			}
			for range 1000 {
				_, _ = f.Execute(context.Background(), func(_ context.Context, e Endpoint) (string, error) {
					if e.Name == "primary" && down {
						return "", errors.New("primary down")
					}
					return "ok", nil
				})
			}
			time.Sleep(time.Second)
		}
		const century = 100 * 365 * 24 * time.Hour
		if st := f.Status(); !st[0].Ejected || time.Until(st[0].EjectedUntil) < century {
			t.Fatalf("Status()[0] = %+v, want ejected as an outlier for about the largest Duration", st[0])
		}
	})
}

// WithMaxKeys sizes the last-good cache up front: a bound too large to
// allocate panicked in NewFallback (makeslice: cap out of range) instead of
// being an error naming the option.
func TestReviewFallbackMaxKeysTooLargeIsAnError(t *testing.T) {
	for _, n := range []int{math.MaxInt, 1 << 40} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("NewFallback(WithMaxKeys(%d)) panicked: %v", n, r)
				}
			}()
			_, err := NewFallback[int](nil, WithLastGood(time.Minute, SharedLastGood), WithMaxKeys(n))
			if err == nil || !strings.Contains(err.Error(), "WithMaxKeys") {
				t.Fatalf("NewFallback(WithMaxKeys(%d)) = %v, want an error naming WithMaxKeys", n, err)
			}
		}()
	}
}

// Two operators flipping one kill switch at once (Kill and Restore racing)
// must leave the Board with the switch's real state: the last degraded
// signal for it says firing exactly when the feature is off. Before, each
// flip reported after its swap without any order, so the last report could
// be the one that lost: a feature back on while the incident said off, or
// off with the incident cleared.
func TestReviewDegraderConcurrentFlipsReportFinalState(t *testing.T) {
	for _, procs := range []int{1, 2, 8} {
		prev := runtime.GOMAXPROCS(procs)
		bad := 0
		const rounds = 500
		for round := range rounds {
			// A Board's Report does some work (a lock, the engine) before
			// the signal counts: here a yield.
			var rec firebreak.Recorder
			d, err := NewDegrader(WithSwitches("recommendations"))
			if err != nil {
				t.Fatal(err)
			}
			c := shop(&rec)
			c.Reporter = firebreak.ReporterFunc(func(s firebreak.Signal) { runtime.Gosched(); rec.Report(s) })
			if err := d.Bind(c); err != nil {
				t.Fatal(err)
			}
			if round%2 == 0 {
				_ = d.Kill("recommendations", "slow")
			}
			start := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() { <-start; _ = d.Kill("recommendations", "slow") })
			wg.Go(func() { <-start; _ = d.Restore("recommendations", "fixed") })
			close(start)
			wg.Wait()
			sigs := rec.Of(firebreak.KindDegraded)
			if len(sigs) > 0 && sigs[len(sigs)-1].Firing == d.Enabled("recommendations") {
				bad++
			}
		}
		runtime.GOMAXPROCS(prev)
		if bad > 0 {
			t.Errorf("GOMAXPROCS %d: in %d of %d rounds the last signal disagreed with the switch", procs, bad, rounds)
		}
	}
}

// holdFiring returns a reporter into rec that holds the first firing signal
// of kind until release is closed, telling held when it holds it: the
// interleaving of a Board's Report taking its lock a little later for one
// caller than for another.
func holdFiring(rec *firebreak.Recorder, kind firebreak.Kind) (r firebreak.Reporter, held, release chan struct{}) {
	held, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	return firebreak.ReporterFunc(func(s firebreak.Signal) {
		if s.Kind == kind && s.Firing {
			once.Do(func() { close(held); <-release })
		}
		rec.Report(s)
	}), held, release
}

// A fallback served and a real result at the same moment must leave the
// Board with the fallback's real state. Before, the clearing report could
// land before the firing one: fallback_active stayed firing on the Board
// while every call succeeded, and no later success cleared it (Active was
// already false).
func TestReviewFallbackRacingServeAndSuccessReportFinalState(t *testing.T) {
	var rec firebreak.Recorder
	f, err := NewFallback(Static("cached"))
	if err != nil {
		t.Fatal(err)
	}
	c := shop(&rec)
	rep, held, release := holdFiring(&rec, firebreak.KindFallbackActive)
	c.Reporter = rep
	if err := f.Bind(c); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = f.Execute(context.Background(), func(context.Context) (string, error) { return "", errors.New("catalog down") })
	}()
	<-held
	for range 100 {
		_, _ = f.Execute(context.Background(), func(context.Context) (string, error) { return "fresh", nil })
	}
	close(release)
	<-done
	sigs := rec.Of(firebreak.KindFallbackActive)
	if last := sigs[len(sigs)-1]; last.Firing || f.Active() {
		t.Fatalf("signals %+v, Active %v: want the last one cleared, as every call since succeeded", sigs, f.Active())
	}
}

// A standby taking over and the primary coming back at the same moment must
// leave the Board with who serves: the last failover signal fires exactly
// when a standby served the last call.
func TestReviewFailoverRacingSwitchesReportFinalState(t *testing.T) {
	var rec firebreak.Recorder
	f, err := NewFailover[string]([]Endpoint{{Name: "primary"}, {Name: "standby"}})
	if err != nil {
		t.Fatal(err)
	}
	c := shop(&rec)
	rep, held, release := holdFiring(&rec, firebreak.KindFailover)
	c.Reporter = rep
	if err := f.Bind(c); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = f.Execute(context.Background(), func(_ context.Context, e Endpoint) (string, error) {
			if e.Name == "primary" {
				return "", errors.New("primary timed out")
			}
			return "ok", nil
		})
	}()
	<-held
	for range 100 {
		_, _ = f.Execute(context.Background(), func(context.Context, Endpoint) (string, error) { return "ok", nil })
	}
	close(release)
	<-done
	sigs := rec.Of(firebreak.KindFailover)
	if last := sigs[len(sigs)-1]; last.Firing || f.serving.Load() != 0 {
		t.Fatalf("signals %+v: want the last one cleared, as the primary serves", sigs)
	}
}

// A mode set by hand and set back at the same moment must leave the Board
// with the mode in force. Before, the clearing report could land before the
// firing one: the degraded signal stayed firing on the Board in normal mode.
func TestReviewDegraderRacingModesReportFinalState(t *testing.T) {
	var rec firebreak.Recorder
	d, err := NewDegrader()
	if err != nil {
		t.Fatal(err)
	}
	c := shop(&rec)
	rep, held, release := holdFiring(&rec, firebreak.KindDegraded)
	c.Reporter = rep
	if err := d.Bind(c); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.SetMode(ModeDegraded, "checkout slow")
	}()
	<-held
	if err := d.SetMode(ModeNormal, "false alarm"); err != nil {
		t.Fatal(err)
	}
	close(release)
	<-done
	sigs := rec.Of(firebreak.KindDegraded)
	if last := sigs[len(sigs)-1]; last.Firing || d.Mode() != ModeNormal {
		t.Fatalf("signals %+v, mode %v: want the last one cleared in normal mode", sigs, d.Mode())
	}
}
