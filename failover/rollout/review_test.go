package rollout

import (
	"context"
	"math"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/firebreak-go/firebreak"
)

// A rollback hook that panics (a nil client in the deploy tool) is a failed
// rollback: the caller gets DecisionRollbackFailed with the panic in its
// error, a rollback_failed signal pages someone, and the bad version stays
// current (it is still what runs). Before, the panic went up through
// Analyze: no signal at all, while the version was already marked bad.
func TestReviewPanickingHookIsAFailedRollback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		reg, err := NewVersions("v1")
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Deploy("v2", ""); err != nil {
			t.Fatal(err)
		}
		a, err := NewAnalysis(errorRatio(series(0.3)))
		if err != nil {
			t.Fatal(err)
		}
		var deployer *struct{ url string }
		r, err := NewRollout(reg, a, WithRollbackHook("redeploy", func(context.Context, Version, Version) error {
			_ = deployer.url // nil pointer dereference
			return nil
		}), WithHookRetries(1, 1))
		if err != nil {
			t.Fatal(err)
		}
		bind(t, r, &rec)
		var out Outcome
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("the hook's panic went through Analyze: %v", p)
				}
			}()
			out, err = r.Analyze(t.Context(), ExposurePromoted)
		}()
		if err != nil {
			t.Fatal(err)
		}
		if out.Decision != DecisionRollbackFailed || out.Err == nil || !strings.Contains(out.Err.Error(), "panicked") {
			t.Fatalf("outcome %+v, want rollback_failed naming the hook's panic", out)
		}
		if s, ok := rec.Last(firebreak.KindRollbackFailed); !ok || !s.Firing {
			t.Fatalf("signals %+v, want a firing rollback_failed", rec.Signals())
		}
		if cur := reg.Current(); cur.ID != "v2" {
			t.Errorf("current %s, want v2: the rollback did not happen", cur.ID)
		}
	})
}

// A version ID reaches signal summaries, reports and status pages: one with
// a control character (a newline forging a line of a report, an escape
// sequence for a terminal) is refused by name, as an empty one is.
func TestReviewVersionIDControlCharactersAreErrors(t *testing.T) {
	for _, id := range []string{"v2\nFATAL: database dropped", "v2\x1b[2J", "v2\x00", "v2\u2028"} {
		if _, err := NewVersions(id); err == nil || !strings.Contains(err.Error(), "stable version") {
			t.Errorf("NewVersions(%q) = %v, want an error naming the stable version", id, err)
		}
		reg, err := NewVersions("v1")
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Deploy(id, ""); err == nil || !strings.Contains(err.Error(), "id") {
			t.Errorf("Deploy(%q) = %v, want an error naming the id", id, err)
		}
	}
}

// A version deployed while the analysis of the one before runs is what
// runs when that analysis fails: the rollout must not roll it back as if
// it were the failed version (the hooks told "v2->v1" while v3 ran, and
// v3, never analysed, was silently replaced by v1). The failed version is
// marked bad, nothing is rolled back, and rollback_failed says why.
func TestReviewDeployDuringAnalysisIsNotRolledBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		var h hookLog
		r := newRollout(t, &rec, &h, errorRatio(series(0.002, 0.12)))
		done := make(chan Outcome)
		go func() {
			out, err := r.Analyze(t.Context(), ExposureCanary)
			if err != nil {
				t.Error(err)
			}
			done <- out
		}()
		synctest.Wait() // the analysis waits for its second measurement
		if err := r.versions.Deploy("v3", "hotfix"); err != nil {
			t.Fatal(err)
		}
		out := <-done
		if len(h.calls) != 0 {
			t.Errorf("hook calls %v, want none: v3 runs, not v2", h.calls)
		}
		if cur := r.versions.Current(); cur.ID != "v3" {
			t.Errorf("current %s, want v3", cur.ID)
		}
		if out.Decision != DecisionRollbackFailed || out.Version.Status != StatusBad || out.Err == nil || !strings.Contains(out.Err.Error(), "v3") {
			t.Fatalf("outcome %+v, want rollback_failed of bad v2 naming v3", out)
		}
		if s, ok := rec.Last(firebreak.KindRollbackFailed); !ok || !s.Firing {
			t.Fatalf("signals %+v, want a firing rollback_failed", rec.Signals())
		}
	})
}

// A Measure that panics (a metrics client not yet set up) runs on a
// goroutine of Analysis.Run: its panic killed the process. It is now a
// measurement error, under ConsecutiveErrorLimit like any other.
func TestReviewPanickingMeasureIsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n int
		var client *struct{ url string }
		m := errorRatio(func(context.Context) (float64, int, error) {
			if n++; n > 1 {
				_ = client.url // nil pointer dereference
			}
			return 0.001, 500, nil
		})
		m.Count, m.ConsecutiveErrorLimit = 10, 2
		a, err := NewAnalysis(m)
		if err != nil {
			t.Fatal(err)
		}
		res, err := a.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		mr := res.Metrics[0]
		if res.Phase != PhaseError || mr.Errors != 3 || mr.Successful != 1 {
			t.Fatalf("result %+v, want an error after 3 panicking measurements", mr)
		}
		if last := mr.Measurements[len(mr.Measurements)-1]; last.Err == nil || !strings.Contains(last.Err.Error(), "panicked") {
			t.Fatalf("last measurement %+v, want its error to say it panicked", last)
		}
	})
}

// A hook backoff near the largest Duration overflowed in the backoff's
// jitter (±50%) into a negative wait: a failing rollback hook was hammered
// with no wait at all. It is now an error naming WithHookRetries.
func TestReviewHookBackoffOverflowIsAnError(t *testing.T) {
	reg, err := NewVersions("v1")
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAnalysis(errorRatio(series(0.3)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewRollout(reg, a, WithHookRetries(5, math.MaxInt64))
	if err == nil || !strings.Contains(err.Error(), "WithHookRetries") {
		t.Fatalf("NewRollout(WithHookRetries(5, MaxInt64)) = %v, want an error naming WithHookRetries", err)
	}
}
