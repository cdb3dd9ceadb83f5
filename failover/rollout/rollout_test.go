package rollout

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// series returns a Measure that answers the given values in turn (the last
// one repeated), each from 500 samples.
func series(values ...float64) Measure {
	var i atomic.Int64
	return func(context.Context) (float64, int, error) {
		n := int(i.Add(1)) - 1
		return values[min(n, len(values)-1)], 500, nil
	}
}

// errorRatio is the usual canary metric: fail above 5%, succeed below 1%,
// inconclusive in between.
func errorRatio(m Measure) Metric {
	return Metric{
		Name: "error_ratio", Measure: m, Interval: time.Minute, Count: 3,
		Success: func(v float64) bool { return v < 0.01 },
		Failure: func(v float64) bool { return v > 0.05 },
	}
}

// bind binds r to the shop component reporting to rec.
func bind(t *testing.T, r *Rollout, rec *firebreak.Recorder) {
	t.Helper()
	if err := r.Bind(firebreak.Component{Name: "shop", Dependency: "catalog", Tier: firebreak.Core, Reporter: rec}); err != nil {
		t.Fatal(err)
	}
}

type hookLog struct {
	calls []string
	fail  int // fail this many calls
}

func (h *hookLog) hook(_ context.Context, from, to Version) error {
	h.calls = append(h.calls, from.ID+"->"+to.ID)
	if len(h.calls) <= h.fail {
		return errors.New("deploy API unavailable")
	}
	return nil
}

func newRollout(t *testing.T, rec *firebreak.Recorder, h *hookLog, metrics ...Metric) *Rollout {
	t.Helper()
	reg, err := NewVersions("v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Deploy("v2", "new checkout flow"); err != nil {
		t.Fatal(err)
	}
	a, err := NewAnalysis(metrics...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRollout(reg, a, WithRollbackHook("redeploy", h.hook))
	if err != nil {
		t.Fatal(err)
	}
	bind(t, r, rec)
	return r
}

func TestRolloutFailedAnalysisRollsBackOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		var h hookLog
		r := newRollout(t, &rec, &h, errorRatio(series(0.002, 0.12)))
		start := time.Now()
		out, err := r.Analyze(t.Context(), ExposureCanary)
		if err != nil {
			t.Fatal(err)
		}
		if out.Decision != DecisionRollback || out.Target.ID != "v1" || out.Version.Status != StatusBad {
			t.Fatalf("outcome %+v, want a rollback of bad v2 to v1", out)
		}
		if got := time.Since(start); got != time.Minute {
			t.Errorf("decided after %v, want 1m (the second measurement)", got)
		}
		if len(h.calls) != 1 || h.calls[0] != "v2->v1" {
			t.Errorf("hook calls %v, want exactly one v2->v1", h.calls)
		}
		if cur := r.versions.Current(); cur.ID != "v1" {
			t.Errorf("current %s, want v1", cur.ID)
		}
		sigs := rec.Of(firebreak.KindRollback)
		if len(sigs) != 1 || !sigs[0].Firing || sigs[0].Labels["phase"] != "canary" || sigs[0].Metrics["error_ratio"] != 0.12 {
			t.Fatalf("rollback signals %+v", sigs)
		}
		if !strings.Contains(sigs[0].Summary, "v2 to v1") || !strings.Contains(sigs[0].Summary, "error_ratio failed") {
			t.Errorf("summary %q should say what was rolled back and why", sigs[0].Summary)
		}
		if rec.Len() != 1 {
			t.Errorf("signals %+v, want only the rollback", rec.Signals())
		}
		if err := r.versions.Deploy("v2", ""); err == nil {
			t.Error("redeploying a bad version should fail")
		}
	})
}

func TestRolloutFailingHookEscalates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		h := hookLog{fail: 100}
		r := newRollout(t, &rec, &h, errorRatio(series(0.3)))
		start := time.Now()
		out, err := r.Analyze(t.Context(), ExposurePromoted)
		if err != nil {
			t.Fatal(err)
		}
		if out.Decision != DecisionRollbackFailed || !strings.Contains(out.Err.Error(), "deploy API unavailable") {
			t.Fatalf("outcome %+v, want rollback_failed with the hook's error", out)
		}
		if len(h.calls) != 3 {
			t.Errorf("hook tried %d times, want 3", len(h.calls))
		}
		if got := time.Since(start); got < 1500*time.Millisecond || got > 4500*time.Millisecond {
			t.Errorf("retries took %v, want 1s+2s with ±50%% jitter", got)
		}
		if cur := r.versions.Current(); cur.ID != "v2" || cur.Status != StatusBad {
			t.Errorf("current %+v, want v2 still current and marked bad", cur)
		}
		sigs := rec.Of(firebreak.KindRollbackFailed)
		if len(sigs) != 1 || !sigs[0].Firing || sigs[0].Labels["phase"] != "promoted" || len(rec.Of(firebreak.KindRollback)) != 0 {
			t.Fatalf("signals %+v, want one rollback_failed", rec.Signals())
		}
	})
}

func TestRolloutHookRecoversOnRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		h := hookLog{fail: 1}
		r := newRollout(t, &rec, &h, errorRatio(series(0.3)))
		out, _ := r.Analyze(t.Context(), ExposureCanary)
		if out.Decision != DecisionRollback || len(h.calls) != 2 {
			t.Errorf("decision %s after %d hook calls, want rollback after 2", out.Decision, len(h.calls))
		}
	})
}

func TestRolloutNoStableVersion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		reg, _ := NewVersions("v1")
		a, _ := NewAnalysis(errorRatio(series(0.3)))
		r, _ := NewRollout(reg, a)
		bind(t, r, &rec)
		out, _ := r.Analyze(t.Context(), ExposurePromoted) // v1 itself fails: nothing to go back to
		if out.Decision != DecisionRollbackFailed || !strings.Contains(out.Err.Error(), "no stable version") {
			t.Fatalf("outcome %+v", out)
		}
		if len(rec.Of(firebreak.KindRollbackFailed)) != 1 {
			t.Errorf("signals %+v", rec.Signals())
		}
	})
}

func TestRolloutInconclusiveHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		var h hookLog
		r := newRollout(t, &rec, &h, errorRatio(series(0.03)))
		out, err := r.Analyze(t.Context(), ExposureCanary)
		if err != nil {
			t.Fatal(err)
		}
		if out.Decision != DecisionHold || out.Version.Status != StatusHeld || len(h.calls) != 0 {
			t.Fatalf("outcome %+v with hooks %v, want a hold without rollback", out, h.calls)
		}
		if cur := r.versions.Current(); cur.ID != "v2" {
			t.Errorf("current %s, want v2 kept", cur.ID)
		}
		if lkg, _ := r.versions.LastKnownGood(); lkg.ID != "v1" {
			t.Errorf("last known good %s, want v1", lkg.ID)
		}
		sigs := rec.Of(firebreak.KindAnalysisInconclusive)
		if len(sigs) != 1 || !sigs[0].Firing || !strings.Contains(sigs[0].Summary, "v2 held") {
			t.Fatalf("signals %+v", sigs)
		}
	})
}

func TestRolloutSuccessPromotesAndClears(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		var h hookLog
		values := []float64{0.03, 0.001, 0.002, 0.001}
		var i atomic.Int64
		r := newRollout(t, &rec, &h, errorRatio(func(context.Context) (float64, int, error) {
			return values[min(int(i.Add(1))-1, len(values)-1)], 500, nil
		}))
		if out, _ := r.Analyze(t.Context(), ExposureCanary); out.Decision != DecisionHold {
			t.Fatalf("first analysis %s, want hold", out.Decision)
		}
		start := time.Now()
		out, err := r.Analyze(t.Context(), ExposureCanary)
		if err != nil || out.Decision != DecisionPromote {
			t.Fatalf("second analysis %+v, %v; want promote", out, err)
		}
		if got := time.Since(start); got != 2*time.Minute {
			t.Errorf("3 measurements a minute apart took %v", got)
		}
		if lkg, _ := r.versions.LastKnownGood(); lkg.ID != "v2" || out.Version.Status != StatusGood {
			t.Errorf("last known good %s, status %s; want v2 good", lkg.ID, out.Version.Status)
		}
		sigs := rec.Of(firebreak.KindAnalysisInconclusive)
		if len(sigs) != 2 || sigs[1].Firing {
			t.Errorf("inconclusive signals %+v, want firing then cleared", sigs)
		}
		if len(h.calls) != 0 {
			t.Errorf("hooks called %v", h.calls)
		}
	})
}

func TestAnalysisSemantics(t *testing.T) {
	errMeasure := errors.New("prometheus unreachable")
	sometimes := func(pattern string) Measure { // e: error, 0: no data, s: few samples, g: good, b: bad
		var i atomic.Int64
		return func(context.Context) (float64, int, error) {
			c := pattern[min(int(i.Add(1))-1, len(pattern)-1)]
			switch c {
			case 'e':
				return 0, 0, errMeasure
			case '0':
				return math.NaN(), 0, nil
			case 's':
				return 0, 5, nil
			case 'b':
				return 1, 500, nil
			}
			return 0, 500, nil
		}
	}
	good := func(v float64) bool { return v < 0.5 }
	tests := []struct {
		name   string
		metric Metric
		want   Phase
		taken  int
	}{
		{"all good", Metric{Measure: sometimes("g"), Count: 3, Success: good}, PhaseSuccessful, 3},
		{"one failure over the limit 0", Metric{Measure: sometimes("gbg"), Count: 3, Success: good}, PhaseFailed, 2},
		{"failure limit tolerates one", Metric{Measure: sometimes("gbg"), Count: 3, Success: good, FailureLimit: 1}, PhaseSuccessful, 3},
		{"failure limit 1 fails on two", Metric{Measure: sometimes("bgb"), Count: 3, Success: good, FailureLimit: 1}, PhaseFailed, 3},
		{"only a failure condition", Metric{Measure: sometimes("g"), Count: 2, Failure: func(v float64) bool { return v > 0.5 }}, PhaseSuccessful, 2},
		{"no conditions: inconclusive", Metric{Measure: sometimes("g"), Count: 2}, PhaseInconclusive, 1},
		{"4 errors tolerated by default", Metric{Measure: sometimes("eeeeg"), Count: 5, Success: good}, PhaseSuccessful, 5},
		{"5 consecutive errors", Metric{Measure: sometimes("eeeee"), Count: 6, Success: good}, PhaseError, 5},
		{"error limit -1 tolerates none", Metric{Measure: sometimes("eg"), Count: 2, Success: good, ConsecutiveErrorLimit: -1}, PhaseError, 1},
		{"only errors", Metric{Measure: sometimes("e"), Count: 2, Success: good}, PhaseError, 2},
		{"no data fails by default", Metric{Measure: sometimes("0"), Count: 2, Success: good}, PhaseFailed, 1},
		{"no data inconclusive", Metric{Measure: sometimes("0"), Count: 2, Success: good, NoData: NoDataInconclusive}, PhaseInconclusive, 1},
		{"too few samples", Metric{Measure: sometimes("s"), Count: 2, Success: good, MinSamples: 100}, PhaseInconclusive, 1},
		{"inconclusive limit", Metric{Measure: sometimes("sg"), Count: 2, Success: good, MinSamples: 100, InconclusiveLimit: 1}, PhaseSuccessful, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := tt.metric
				m.Name, m.Interval = "m", 10*time.Second
				a, err := NewAnalysis(m)
				if err != nil {
					t.Fatal(err)
				}
				res, err := a.Run(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				mr := res.Metrics[0]
				taken := mr.Successful + mr.Failed + mr.Inconclusive + mr.Errors
				if res.Phase != tt.want || taken != tt.taken {
					t.Errorf("phase %s after %d measurements (%s), want %s after %d", res.Phase, taken, mr.Message, tt.want, tt.taken)
				}
			})
		})
	}
}

func TestAnalysisWorstMetricAndDryRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bad := Metric{Name: "latency", Measure: series(9), Count: 1, Success: func(v float64) bool { return v < 1 }}
		slow := Metric{Name: "errors", Measure: series(0), Count: 10, Interval: time.Minute, Success: func(v float64) bool { return v < 1 }}
		a, _ := NewAnalysis(slow, bad)
		start := time.Now()
		res, _ := a.Run(t.Context())
		if res.Phase != PhaseFailed || !strings.Contains(res.Message, "latency") {
			t.Errorf("phase %s (%s), want failed by latency", res.Phase, res.Message)
		}
		if time.Since(start) != 0 {
			t.Errorf("a failed metric should stop the others at once, took %v", time.Since(start))
		}
		bad.DryRun = true
		slow.Count = 2
		a, _ = NewAnalysis(slow, bad)
		res, _ = a.Run(t.Context())
		if res.Phase != PhaseSuccessful || res.Metrics[1].Phase != PhaseFailed {
			t.Errorf("with the failing metric a dry run: phase %s, dry metric %s", res.Phase, res.Metrics[1].Phase)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		slow.Count = 10
		a, _ = NewAnalysis(slow)
		if _, err := a.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("cancelled run: %v", err)
		}
	})
}

func TestAnalysisRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		r := newRollout(t, &rec, &hookLog{}, errorRatio(series(0.001)))
		done := make(chan struct{})
		go func() { r.Analyze(t.Context(), ExposureCanary); close(done) }()
		synctest.Wait()
		if _, err := r.Analyze(t.Context(), ExposureCanary); !errors.Is(err, ErrAnalysisRunning) {
			t.Errorf("second analysis: %v, want ErrAnalysisRunning", err)
		}
		if _, err := r.Rollback(t.Context(), ExposureCanary, ""); !errors.Is(err, ErrAnalysisRunning) {
			t.Errorf("rollback during an analysis: %v, want ErrAnalysisRunning", err)
		}
		<-done
	})
}

func TestRolloutManualRollback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		var h hookLog
		r := newRollout(t, &rec, &h, errorRatio(series(0.03)))
		r.Analyze(t.Context(), ExposureCanary) // held
		out, err := r.Rollback(t.Context(), ExposureCanary, "on-call decided")
		if err != nil || out.Decision != DecisionRollback || len(h.calls) != 1 || r.versions.Current().ID != "v1" {
			t.Errorf("outcome %+v, %v, hooks %v", out, err, h.calls)
		}
	})
}

func TestAnalysisAndRolloutValidate(t *testing.T) {
	m := func() Measure { return series(0) }
	tests := []struct {
		metrics []Metric
		want    string
	}{
		{nil, "no metrics"},
		{[]Metric{{Measure: m()}}, "Name is empty"},
		{[]Metric{{Name: "a"}}, "Measure is nil"},
		{[]Metric{{Name: "a", Measure: m(), Count: 3}}, "needs an Interval"},
		{[]Metric{{Name: "a", Measure: m()}, {Name: "a", Measure: m()}}, "duplicate"},
		{[]Metric{{Name: "a", Measure: m(), FailureLimit: -1}}, "FailureLimit"},
		{[]Metric{{Name: "a", Measure: m(), NoData: 5}}, "NoData"},
	}
	for _, tt := range tests {
		if _, err := NewAnalysis(tt.metrics...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err = %v, want %q", err, tt.want)
		}
	}
	if _, err := NewRollout(nil, nil); err == nil || !strings.Contains(err.Error(), "versions is nil") {
		t.Errorf("err = %v", err)
	}
	reg, _ := NewVersions("v1")
	a, _ := NewAnalysis(Metric{Name: "a", Measure: m()})
	if _, err := NewRollout(reg, a, WithRollbackHook("", nil)); err == nil {
		t.Error("a hook without a name should fail")
	}
	if _, err := NewVersions(""); err == nil {
		t.Error("NewVersions(\"\") should fail")
	}
	if err := reg.Deploy("v1", ""); err == nil {
		t.Error("deploying the current version should fail")
	}
	if err := reg.Mark("nope", StatusGood); err == nil {
		t.Error("marking an unknown version should fail")
	}
}

func TestVersionsHistoryIsBounded(t *testing.T) {
	reg, _ := NewVersions("v0")
	for i := 1; i <= 80; i++ {
		if err := reg.Deploy(fmt.Sprintf("v%d", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	h := reg.History()
	if len(h) != historyLimit {
		t.Errorf("history holds %d versions, want %d", len(h), historyLimit)
	}
	if h[0].ID != "v0" || reg.Current().ID != "v80" {
		t.Errorf("oldest %s, current %s: the stable v0 and the current version must be kept", h[0].ID, reg.Current().ID)
	}
	if lkg, ok := reg.LastKnownGood(); !ok || lkg.ID != "v0" {
		t.Errorf("last known good %v", lkg)
	}
}

func TestAnalysisRetainsLastMeasurements(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		a, _ := NewAnalysis(Metric{
			Name: "m", Count: 15, Interval: time.Second, InitialDelay: time.Minute,
			Measure: func(context.Context) (float64, int, error) { return float64(n.Add(1)), 100, nil },
			Success: func(float64) bool { return true },
		})
		start := time.Now()
		res, _ := a.Run(t.Context())
		if got := time.Since(start); got != time.Minute+14*time.Second {
			t.Errorf("took %v, want the initial delay and 14 intervals", got)
		}
		ms := res.Metrics[0].Measurements
		if len(ms) != 10 || ms[0].Value != 6 || ms[9].Value != 15 || res.Metrics[0].Successful != 15 {
			t.Errorf("retained %d measurements from %v, want the last 10 (6..15)", len(ms), ms[0].Value)
		}
	})
}

func TestRolloutHookRetriesOption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, _ := NewVersions("v1")
		reg.Deploy("v2", "")
		a, _ := NewAnalysis(errorRatio(series(0.5)))
		h := hookLog{fail: 100}
		r, err := NewRollout(reg, a, WithRollbackHook("redeploy", h.hook), WithHookRetries(1, time.Second))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		out, _ := r.Analyze(t.Context(), ExposureCanary)
		if out.Decision != DecisionRollbackFailed || len(h.calls) != 1 || time.Since(start) != 0 {
			t.Errorf("decision %s after %d hook calls in %v; want rollback_failed after 1, at once", out.Decision, len(h.calls), time.Since(start))
		}
		if _, err := NewRollout(reg, a, WithHookRetries(-1, 0)); err == nil {
			t.Error("negative hook attempts should fail")
		}
	})
}

func TestRolloutOptionsAndBind(t *testing.T) {
	v, _ := NewVersions("v1")
	a, _ := NewAnalysis(Metric{Name: "a", Measure: series(0)})
	if _, err := NewRollout(v, a, WithHookRetries(2, 0), nil); err == nil || err.Error() != "rollout: NewRollout: option 1 is nil" {
		t.Errorf("nil option: %v", err)
	}
	r, err := NewRollout(v, a, WithMeterProvider(nil))
	if err != nil {
		t.Fatal(err)
	}
	var rec firebreak.Recorder
	bind(t, r, &rec)
	if err := r.Bind(firebreak.Component{Name: "shop", Dependency: "catalog", Tier: firebreak.Core}); err != nil {
		t.Errorf("the same identity again: %v", err)
	}
	if err := r.Bind(firebreak.Component{Name: "search"}); !errors.Is(err, firebreak.ErrAlreadyBound) {
		t.Errorf("another identity: %v, want ErrAlreadyBound", err)
	}
}
