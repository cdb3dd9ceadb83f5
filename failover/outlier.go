package failover

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
)

// KindOutlierEjected is the signal a [Failover] with [WithOutlierEjection]
// reports when it ejects an endpoint as a statistical outlier (firing) and
// when the endpoint is back in rotation (cleared). Label "endpoint" says
// which, the summary why (success_rate or failure_percentage); label
// "dry_run" is "true" for an ejection only reported. Value is the ejection
// time in seconds. With no plan rule for it, the plan grades it None: it is
// evidence in the dependency's incident, not a page.
const KindOutlierEjected firebreak.Kind = "outlier_ejected"

// OutlierEjection configures statistical outlier ejection in Envoy's manner
// for [WithOutlierEjection]. Every Interval the endpoints' outcomes over the
// interval are compared:
//
//   - success rate: among the endpoints with at least
//     SuccessRateRequestVolume calls, if there are at least
//     SuccessRateMinHosts of them, an endpoint whose success rate is below
//     mean − SuccessRateStdevFactor × standard deviation is an outlier;
//   - failure percentage: among the endpoints with at least
//     FailurePercentageRequestVolume calls, if there are at least
//     FailurePercentageMinHosts of them, an endpoint whose share of failed
//     calls is at least FailurePercentageThreshold is an outlier.
//
// An outlier is ejected for BaseEjectionTime times the number of times it
// has been ejected, capped at MaxEjectionTime, plus a random jitter of up to
// MaxEjectionJitter; each interval an endpoint is in rotation with enough
// calls to judge and is not found an outlier takes one off that count. The share of endpoints out at once is
// capped by [WithEjection]'s maxShare, shared with consecutive-failure
// ejection (at least one may always be out). DryRun reports what would be
// ejected and ejects nothing.
//
// A zero field keeps its default; a negative one is an error.
type OutlierEjection struct {
	// Interval between evaluations. Default: 10s.
	Interval time.Duration
	// SuccessRateStdevFactor: how many standard deviations below the mean
	// success rate an outlier is. Default: 1.9.
	SuccessRateStdevFactor float64
	// SuccessRateMinHosts and SuccessRateRequestVolume: how many endpoints,
	// with how many calls each, the success-rate trigger needs. Default: 5
	// and 100.
	SuccessRateMinHosts, SuccessRateRequestVolume int
	// FailurePercentageThreshold: the share of failed calls (0 to 1) that
	// makes an outlier. Default: 0.85.
	FailurePercentageThreshold float64
	// FailurePercentageMinHosts and FailurePercentageRequestVolume: how many
	// endpoints, with how many calls each, the failure-percentage trigger
	// needs. Default: 5 and 50.
	FailurePercentageMinHosts, FailurePercentageRequestVolume int
	// BaseEjectionTime, MaxEjectionTime and MaxEjectionJitter: an ejection
	// lasts BaseEjectionTime × ejections, at most MaxEjectionTime, plus up
	// to MaxEjectionJitter. Default: 30s, 300s and 0.
	BaseEjectionTime, MaxEjectionTime, MaxEjectionJitter time.Duration
	// DryRun reports ejections without ejecting. Default: false.
	DryRun bool
}

func (o *OutlierEjection) defaults() error {
	var errs []error
	neg := func(name string, v float64) {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			errs = append(errs, fmt.Errorf("failover: NewFailover: WithOutlierEjection %s %v must be a positive number", name, v))
		}
	}
	neg("Interval", float64(o.Interval))
	neg("SuccessRateStdevFactor", o.SuccessRateStdevFactor)
	neg("SuccessRateMinHosts", float64(o.SuccessRateMinHosts))
	neg("SuccessRateRequestVolume", float64(o.SuccessRateRequestVolume))
	neg("FailurePercentageThreshold", o.FailurePercentageThreshold)
	neg("FailurePercentageMinHosts", float64(o.FailurePercentageMinHosts))
	neg("FailurePercentageRequestVolume", float64(o.FailurePercentageRequestVolume))
	neg("BaseEjectionTime", float64(o.BaseEjectionTime))
	neg("MaxEjectionTime", float64(o.MaxEjectionTime))
	neg("MaxEjectionJitter", float64(o.MaxEjectionJitter))
	if o.FailurePercentageThreshold > 1 {
		errs = append(errs, fmt.Errorf("failover: NewFailover: WithOutlierEjection FailurePercentageThreshold %v must be at most 1", o.FailurePercentageThreshold))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	set := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setD := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	setD(&o.Interval, 10*time.Second)
	setD(&o.BaseEjectionTime, 30*time.Second)
	setD(&o.MaxEjectionTime, 300*time.Second)
	if o.SuccessRateStdevFactor == 0 {
		o.SuccessRateStdevFactor = 1.9
	}
	if o.FailurePercentageThreshold == 0 {
		o.FailurePercentageThreshold = 0.85
	}
	set(&o.SuccessRateMinHosts, 5)
	set(&o.SuccessRateRequestVolume, 100)
	set(&o.FailurePercentageMinHosts, 5)
	set(&o.FailurePercentageRequestVolume, 50)
	if o.MaxEjectionTime < o.BaseEjectionTime {
		return fmt.Errorf("failover: NewFailover: WithOutlierEjection MaxEjectionTime %v must be at least BaseEjectionTime %v", o.MaxEjectionTime, o.BaseEjectionTime)
	}
	return nil
}

// outliers is the outlier detector of a Failover.
type outliers struct {
	cfg      OutlierEjection
	nextEval atomic.Int64 // base-relative nanoseconds
	stats    []outlierStats

	mu sync.Mutex // serialises evaluations; guards the fields of stats that are not atomic
}

type outlierStats struct {
	ok, failed atomic.Int64 // calls in the current interval
	ejections  int          // the multiplier of the next ejection
	ejected    bool         // ejected by this detector (or reported, in dry run)
	dryUntil   int64        // dry run: when the reported ejection would end
}

func newOutliers(cfg OutlierEjection, n int) *outliers {
	o := &outliers{cfg: cfg, stats: make([]outlierStats, n)}
	o.nextEval.Store(int64(cfg.Interval))
	return o
}

func (o *outliers) record(i int, ok bool) {
	if ok {
		o.stats[i].ok.Add(1)
	} else {
		o.stats[i].failed.Add(1)
	}
}

// tick evaluates the interval that ended, if one did and no other call is
// evaluating it, and reports what changed.
func (f *Failover[T]) outlierTick() {
	o := f.outlier
	now := int64(time.Since(f.base))
	if now < o.nextEval.Load() || !o.mu.TryLock() {
		return
	}
	if now < o.nextEval.Load() {
		o.mu.Unlock()
		return
	}
	o.nextEval.Store(now + int64(o.cfg.Interval))
	sigs := f.evaluateLocked(now)
	o.mu.Unlock()
	for _, s := range sigs {
		f.b.Report(s)
	}
}

// evaluateLocked runs one evaluation at now. o.mu must be held.
func (f *Failover[T]) evaluateLocked(now int64) []firebreak.Signal {
	o := f.outlier
	cfg := &o.cfg
	var sigs []firebreak.Signal
	n := len(o.stats)
	oks, fails := make([]int64, n), make([]int64, n)
	for i := range o.stats {
		oks[i], fails[i] = o.stats[i].ok.Swap(0), o.stats[i].failed.Swap(0)
	}
	// Readmissions: what this detector ejected and is back in rotation.
	for i := range o.stats {
		st := &o.stats[i]
		if !st.ejected {
			continue
		}
		back := cfg.DryRun && now >= st.dryUntil
		if !cfg.DryRun {
			u := f.eps[i].ejectedUntil.Load()
			back = u == 0 || now >= u
		}
		if back {
			st.ejected = false
			s := f.outlierSignal(i, false)
			s.Summary = fmt.Sprintf("endpoint %s back in rotation after outlier ejection", f.eps[i].Name)
			sigs = append(sigs, s)
		}
	}
	outlier := make([]string, n) // the trigger that found it, or ""
	rate := make([]float64, n)
	// Success rate.
	var qual []int
	for i := range n {
		if oks[i]+fails[i] >= int64(cfg.SuccessRateRequestVolume) {
			qual = append(qual, i)
			rate[i] = float64(oks[i]) / float64(oks[i]+fails[i])
		}
	}
	if len(qual) >= cfg.SuccessRateMinHosts && len(qual) > 0 {
		var mean, sq float64
		for _, i := range qual {
			mean += rate[i]
		}
		mean /= float64(len(qual))
		for _, i := range qual {
			sq += (rate[i] - mean) * (rate[i] - mean)
		}
		threshold := mean - cfg.SuccessRateStdevFactor*math.Sqrt(sq/float64(len(qual)))
		for _, i := range qual {
			if rate[i] < threshold {
				outlier[i] = "success_rate"
			}
		}
	}
	// Failure percentage.
	qual = qual[:0]
	for i := range n {
		if oks[i]+fails[i] >= int64(cfg.FailurePercentageRequestVolume) {
			qual = append(qual, i)
		}
	}
	if len(qual) >= cfg.FailurePercentageMinHosts {
		for _, i := range qual {
			if float64(fails[i])/float64(oks[i]+fails[i]) >= cfg.FailurePercentageThreshold && outlier[i] == "" {
				outlier[i] = "failure_percentage"
			}
		}
	}
	for i := range n {
		st := &o.stats[i]
		if outlier[i] == "" {
			// Healthy with enough calls to tell: one ejection forgiven.
			vol := int64(min(cfg.SuccessRateRequestVolume, cfg.FailurePercentageRequestVolume))
			if !st.ejected && st.ejections > 0 && oks[i]+fails[i] >= vol {
				st.ejections--
			}
			continue
		}
		if st.ejected {
			continue
		}
		mult := st.ejections + 1
		// BaseEjectionTime × mult, at most MaxEjectionTime, without
		// overflowing into a negative time that would eject nothing.
		d := cfg.MaxEjectionTime
		if int64(mult) <= int64(cfg.MaxEjectionTime/cfg.BaseEjectionTime) {
			d = time.Duration(mult) * cfg.BaseEjectionTime
		}
		if cfg.MaxEjectionJitter > 0 {
			d = time.Duration(min(uint64(d)+uint64(rand.N(cfg.MaxEjectionJitter)), math.MaxInt64))
		}
		if cfg.DryRun {
			st.ejections, st.ejected, st.dryUntil = mult, true, ejectionEnd(now, d)
		} else if !f.ejectUntil(i, now, d) {
			continue // the share of endpoints out is at its cap
		} else {
			st.ejections, st.ejected = mult, true
		}
		s := f.outlierSignal(i, true)
		s.Value = d.Seconds()
		total := oks[i] + fails[i]
		s.Metrics = map[string]float64{"calls": float64(total), "failure_ratio": float64(fails[i]) / float64(max(total, 1))}
		verb := "ejected"
		if cfg.DryRun {
			verb = "would eject (dry run)"
		}
		s.Summary = fmt.Sprintf("%s endpoint %s for %v as an outlier by %s: %d of %d calls failed (ejection %d)",
			verb, f.eps[i].Name, d.Round(time.Second), outlier[i], fails[i], total, mult)
		sigs = append(sigs, s)
		if cfg.DryRun {
			f.m.Add(&f.b, "outlier_dry_run")
		} else {
			f.m.Add(&f.b, "outlier_ejected")
		}
	}
	return sigs
}

// ejectUntil ejects endpoint i until now+d if the cap on the share of
// endpoints out at once allows it.
func (f *Failover[T]) ejectUntil(i int, now int64, d time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := 0
	for j := range f.eps {
		if u := f.eps[j].ejectedUntil.Load(); u != 0 && u > now {
			out++
		}
	}
	if out >= f.maxEjected {
		return false
	}
	f.eps[i].ejectedUntil.Store(ejectionEnd(now, d))
	return true
}

func (f *Failover[T]) outlierSignal(i int, firing bool) firebreak.Signal {
	s := f.b.Signal(KindOutlierEjected, firing)
	s.Labels = map[string]string{"endpoint": f.eps[i].Name}
	if f.outlier.cfg.DryRun {
		s.Labels["dry_run"] = strconv.FormatBool(true)
	}
	return s
}
