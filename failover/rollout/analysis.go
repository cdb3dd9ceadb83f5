package rollout

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/firebreak-go/firebreak/failover/internal/event"
)

// Measure takes one measurement for an analysis: the value (an error ratio, a
// p99 latency in seconds, a burn rate), the number of samples behind it
// (requests seen), and an error if it could not be measured. Adapt any source
// to it: a tracing statistics snapshot, a Prometheus query, a test double.
type Measure func(ctx context.Context) (value float64, samples int, err error)

// NoDataPolicy says what a measurement with no samples counts as.
type NoDataPolicy int8

const (
	// NoDataFail counts it as failed (Flagger's fail-safe behaviour: a
	// canary that receives no traffic cannot prove itself). The default.
	NoDataFail NoDataPolicy = iota
	// NoDataInconclusive counts it as inconclusive (Argo Rollouts).
	NoDataInconclusive
)

// Metric is one metric of an [Analysis], with the semantics of Argo Rollouts'
// AnalysisTemplate: it is measured Count times, Interval apart, after
// InitialDelay; each measurement is successful, failed, inconclusive or an
// error; the metric fails when the failed measurements exceed FailureLimit,
// is inconclusive when the inconclusive ones exceed InconclusiveLimit, and
// ends in error when the consecutive errors exceed ConsecutiveErrorLimit.
type Metric struct {
	// Name identifies the metric in results and signals. Required, unique.
	Name string
	// Measure takes a measurement. Required. A panic in it is a measurement
	// error.
	Measure Measure
	// Interval between measurements.
	Interval time.Duration
	// InitialDelay before the first measurement.
	InitialDelay time.Duration
	// Count of measurements. Zero means 1; more than 1 needs an Interval.
	// Unlike Argo, an Interval without a Count does not measure until
	// stopped: for background analysis, call Run (or Rollout.Analyze) again.
	Count int
	// Success and Failure judge a value. With both set and neither true the
	// measurement is inconclusive; with only Success set, a value it rejects
	// fails; with only Failure set, a value it does not flag succeeds; with
	// neither, every measurement is inconclusive (as in Argo). A NaN value is
	// passed to them as it is.
	Success, Failure func(v float64) bool
	// FailureLimit is how many failed measurements are tolerated. Default 0.
	FailureLimit int
	// InconclusiveLimit is how many inconclusive measurements are tolerated.
	// Default 0.
	InconclusiveLimit int
	// ConsecutiveErrorLimit is how many consecutive measurement errors are
	// tolerated. Zero means Argo's default, 4; a negative value tolerates
	// none.
	ConsecutiveErrorLimit int
	// MinSamples is the fewest samples a measurement needs to be judged;
	// with fewer (but some) it is inconclusive, the SRE workbook's guard for
	// low traffic. Default 0: any.
	MinSamples int
	// NoData says what a measurement with no samples counts as.
	NoData NoDataPolicy
	// DryRun metrics are measured and reported but do not decide the run.
	DryRun bool
}

// Phase is the state of a measurement, a metric or a whole analysis run.
type Phase int8

// The phases, as in Argo Rollouts.
const (
	PhasePending Phase = iota
	PhaseRunning
	PhaseSuccessful
	PhaseInconclusive
	PhaseError
	PhaseFailed
)

var phaseNames = [...]string{"pending", "running", "successful", "inconclusive", "error", "failed"}

// String returns the lower-case name of the phase.
func (p Phase) String() string {
	if p >= PhasePending && p <= PhaseFailed {
		return phaseNames[p]
	}
	return "phase(" + strconv.Itoa(int(p)) + ")"
}

// rank orders phases best to worst as Argo does: Successful, Running,
// Pending, Inconclusive, Error, Failed. A run's phase is its worst metric's.
func (p Phase) rank() int {
	switch p {
	case PhaseSuccessful:
		return 0
	case PhaseRunning:
		return 1
	case PhasePending:
		return 2
	case PhaseInconclusive:
		return 3
	case PhaseError:
		return 4
	}
	return 5
}

// Measurement is one measurement of a metric.
type Measurement struct {
	At      time.Time
	Value   float64
	Samples int
	Phase   Phase // successful, failed, inconclusive or error
	Err     error // the measurement error, for PhaseError
}

// MetricResult is the outcome of one metric.
type MetricResult struct {
	Name   string
	Phase  Phase
	DryRun bool
	// Counts of measurements by phase.
	Successful, Failed, Inconclusive, Errors int
	// Measurements holds the last 10 measurements, oldest first.
	Measurements []Measurement
	// Message says why the metric ended as it did.
	Message string
}

// Last returns the last measurement with a value, if any.
func (m MetricResult) Last() (Measurement, bool) {
	for i := len(m.Measurements) - 1; i >= 0; i-- {
		if m.Measurements[i].Phase != PhaseError {
			return m.Measurements[i], true
		}
	}
	return Measurement{}, false
}

// AnalysisResult is the outcome of an analysis run.
type AnalysisResult struct {
	// Phase is the worst phase of the metrics that are not dry runs:
	// successful, inconclusive, error or failed.
	Phase    Phase
	Metrics  []MetricResult
	Started  time.Time
	Finished time.Time
	// Message is the message of the metric that decided the phase.
	Message string
}

// Analysis measures a version's metrics and judges them. Build one with
// [NewAnalysis]; Run may be called many times, also concurrently.
type Analysis struct {
	metrics []Metric
}

const retainMeasurements = 10

// NewAnalysis returns an analysis of the given metrics.
func NewAnalysis(metrics ...Metric) (*Analysis, error) {
	var errs []error
	if len(metrics) == 0 {
		errs = append(errs, errors.New("rollout: NewAnalysis: no metrics"))
	}
	seen := map[string]bool{}
	for i, m := range metrics {
		bad := func(cond bool, format string, args ...any) {
			if cond {
				errs = append(errs, fmt.Errorf("rollout: NewAnalysis: metrics[%d] (%q): "+format, append([]any{i, m.Name}, args...)...))
			}
		}
		bad(m.Name == "", "Name is empty")
		bad(m.Name != "" && seen[m.Name], "Name is a duplicate")
		seen[m.Name] = true
		bad(m.Measure == nil, "Measure is nil")
		bad(m.Interval < 0, "Interval %v is negative", m.Interval)
		bad(m.InitialDelay < 0, "InitialDelay %v is negative", m.InitialDelay)
		bad(m.Count < 0, "Count %d is negative", m.Count)
		bad(m.Count > 1 && m.Interval == 0, "Count %d needs an Interval", m.Count)
		bad(m.FailureLimit < 0, "FailureLimit %d is negative", m.FailureLimit)
		bad(m.InconclusiveLimit < 0, "InconclusiveLimit %d is negative", m.InconclusiveLimit)
		bad(m.MinSamples < 0, "MinSamples %d is negative", m.MinSamples)
		bad(m.NoData != NoDataFail && m.NoData != NoDataInconclusive, "NoData %d is not NoDataFail or NoDataInconclusive", m.NoData)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Analysis{metrics: append([]Metric(nil), metrics...)}, nil
}

// Run measures every metric, each on its own schedule, and returns when all
// are done or one that is not a dry run has failed or errored (the others are
// then stopped, as Argo terminates a failed run). It returns ctx's error if
// ctx ends first; the result then holds what was measured.
func (a *Analysis) Run(ctx context.Context) (AnalysisResult, error) {
	res := AnalysisResult{Started: time.Now(), Metrics: make([]MetricResult, len(a.metrics))}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	for i := range a.metrics {
		wg.Go(func() {
			res.Metrics[i] = runMetric(runCtx, &a.metrics[i])
			if p := res.Metrics[i].Phase; !a.metrics[i].DryRun && (p == PhaseFailed || p == PhaseError) {
				stop()
			}
		})
	}
	wg.Wait()
	res.Finished = time.Now()
	res.Phase = PhaseSuccessful
	for _, m := range res.Metrics {
		if m.DryRun {
			continue
		}
		if m.Phase.rank() > res.Phase.rank() {
			res.Phase, res.Message = m.Phase, m.Message
		}
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("rollout: analysis stopped: %w", err)
	}
	return res, nil
}

func runMetric(ctx context.Context, m *Metric) MetricResult {
	r := MetricResult{Name: m.Name, Phase: PhaseRunning, DryRun: m.DryRun}
	errLimit := m.ConsecutiveErrorLimit
	if errLimit == 0 {
		errLimit = 4
	} else if errLimit < 0 {
		errLimit = 0
	}
	count := max(m.Count, 1)
	if event.Sleep(ctx, m.InitialDelay) != nil {
		r.Message = "stopped before the first measurement"
		return r
	}
	consecutive := 0
	for i := 0; i < count; i++ {
		if i > 0 && event.Sleep(ctx, m.Interval) != nil {
			r.Message = fmt.Sprintf("stopped after %d of %d measurements", i, count)
			if r.Successful > 0 {
				r.Phase = PhaseSuccessful
			}
			return r
		}
		ms := measure(ctx, m)
		r.Measurements = append(r.Measurements, ms)
		if len(r.Measurements) > retainMeasurements {
			r.Measurements = r.Measurements[1:]
		}
		switch ms.Phase {
		case PhaseError:
			r.Errors++
			consecutive++
			if consecutive > errLimit {
				r.Phase = PhaseError
				r.Message = fmt.Sprintf("metric %s: %d consecutive measurement errors (limit %d): %v", m.Name, consecutive, errLimit, ms.Err)
				return r
			}
			continue
		case PhaseFailed:
			r.Failed++
		case PhaseInconclusive:
			r.Inconclusive++
		case PhaseSuccessful:
			r.Successful++
		}
		consecutive = 0
		if r.Failed > m.FailureLimit {
			r.Phase = PhaseFailed
			r.Message = fmt.Sprintf("metric %s failed: value %s from %d samples (%d failed, limit %d)", m.Name, fmtValue(ms.Value), ms.Samples, r.Failed, m.FailureLimit)
			return r
		}
		if r.Inconclusive > m.InconclusiveLimit {
			r.Phase = PhaseInconclusive
			r.Message = fmt.Sprintf("metric %s inconclusive: value %s from %d samples (%d inconclusive, limit %d)", m.Name, fmtValue(ms.Value), ms.Samples, r.Inconclusive, m.InconclusiveLimit)
			return r
		}
	}
	if r.Successful+r.Failed+r.Inconclusive == 0 {
		r.Phase = PhaseError
		r.Message = fmt.Sprintf("metric %s: every measurement failed", m.Name)
		return r
	}
	r.Phase = PhaseSuccessful
	r.Message = fmt.Sprintf("metric %s successful: %d of %d measurements", m.Name, r.Successful, count)
	return r
}

func measure(ctx context.Context, m *Metric) Measurement {
	v, n, err := callMeasure(ctx, m.Measure)
	ms := Measurement{At: time.Now(), Value: v, Samples: n}
	switch {
	case err != nil:
		ms.Phase, ms.Err = PhaseError, err
	case n <= 0:
		ms.Phase = PhaseFailed
		if m.NoData == NoDataInconclusive {
			ms.Phase = PhaseInconclusive
		}
	case n < m.MinSamples:
		ms.Phase = PhaseInconclusive
	case m.Failure != nil && m.Failure(v):
		ms.Phase = PhaseFailed
	case m.Success != nil && m.Success(v):
		ms.Phase = PhaseSuccessful
	case m.Success != nil && m.Failure == nil:
		ms.Phase = PhaseFailed
	case m.Failure != nil && m.Success == nil:
		ms.Phase = PhaseSuccessful
	default:
		ms.Phase = PhaseInconclusive
	}
	return ms
}

// callMeasure takes a measurement, turning a panic of the user's Measure into
// its error: it runs on a goroutine of Run, where a panic would kill the
// process.
func callMeasure(ctx context.Context, fn Measure) (v float64, n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, n, err = 0, 0, fmt.Errorf("rollout: Measure panicked: %v", p)
		}
	}()
	return fn(ctx)
}

func fmtValue(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
