package tracing

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"runtime/debug"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
)

// SLO is a service level objective for one operation: an availability
// objective, a latency objective, or both. Its error budget is watched with
// multiwindow, multi-burn-rate alerts as the SRE Workbook recommends ("Alerting
// on SLOs", table 5-8).
type SLO struct {
	// Name is the "slo" label of the signals. Empty means "availability" for
	// error-budget signals and "latency" for latency signals.
	Name string
	// Availability is the fraction of calls that must succeed, e.g. 0.999.
	// Zero means no availability objective; otherwise 0 < Availability < 1.
	Availability float64
	// Latency is the latency threshold of the latency objective, e.g.
	// 300ms; a call slower than Latency spends latency budget. Zero means no
	// latency objective.
	Latency time.Duration
	// LatencyTarget is the fraction of calls that must be faster than
	// Latency, e.g. 0.99. Required (0 < LatencyTarget < 1) when Latency is
	// set.
	LatencyTarget float64
	// Windows are the alerting tiers. Nil means [WorkbookWindows]. A tier
	// whose BurnRate is at or above 1/(1-objective), the burn rate of a
	// total outage, can never fire and is an error: the workbook's 14.4×
	// tier needs an objective above 93.1%.
	Windows []BurnWindow
	// MinRequests is the minimum-traffic guard: a tier fires only when its
	// long window holds at least this many calls, so that one failure among
	// a handful of calls does not page anyone (workbook, "Low-traffic
	// services"). Zero means 100.
	MinRequests int
}

// BurnWindow is one alerting tier: it fires when the error budget burns
// faster than BurnRate over both the long and the short window. A burn rate
// of 1 spends exactly the whole budget over the SLO period.
type BurnWindow struct {
	Long, Short time.Duration
	BurnRate    float64
}

// String returns the window label, e.g. "1h/5m".
func (w BurnWindow) String() string { return windowLabel(w.Long) + "/" + windowLabel(w.Short) }

// WorkbookWindows returns the SRE Workbook's tiers for a 30-day SLO period:
// page at 14.4× over 1h and 5m (2% of the budget spent) or 6× over 6h and
// 30m (5%); ticket at 3× over 24h and 2h (10%) or 1× over 3d and 6h (10%).
func WorkbookWindows() []BurnWindow {
	return []BurnWindow{
		{Long: time.Hour, Short: 5 * time.Minute, BurnRate: 14.4},
		{Long: 6 * time.Hour, Short: 30 * time.Minute, BurnRate: 6},
		{Long: 24 * time.Hour, Short: 2 * time.Hour, BurnRate: 3},
		{Long: 72 * time.Hour, Short: 6 * time.Hour, BurnRate: 1},
	}
}

// ScaleWindows returns ws with every window multiplied by factor (and rounded
// to the millisecond once longer than one) and the burn rates unchanged:
// ScaleWindows(WorkbookWindows(), 1.0/360) turns 1h/5m into 10s/833ms, for
// demonstrations and drills that must finish in seconds.
func ScaleWindows(ws []BurnWindow, factor float64) []BurnWindow {
	scale := func(d time.Duration) time.Duration {
		d = time.Duration(float64(d) * factor)
		if d > time.Millisecond {
			d = d.Round(time.Millisecond)
		}
		return d
	}
	out := slices.Clone(ws)
	for i := range out {
		out[i].Long, out[i].Short = scale(out[i].Long), scale(out[i].Short)
	}
	return out
}

const defaultMinRequests = 100

func (o SLO) validate() error {
	var errs []error
	if o.Availability != 0 && !(o.Availability > 0 && o.Availability < 1) {
		errs = append(errs, fmt.Errorf("tracing: WithSLO: SLO.Availability %v is outside (0, 1)", o.Availability))
	}
	switch {
	case o.Latency < 0:
		errs = append(errs, fmt.Errorf("tracing: WithSLO: SLO.Latency %v is negative", o.Latency))
	case o.Latency > 0 && !(o.LatencyTarget > 0 && o.LatencyTarget < 1):
		errs = append(errs, fmt.Errorf("tracing: WithSLO: SLO.LatencyTarget %v is outside (0, 1)", o.LatencyTarget))
	case o.Latency == 0 && o.LatencyTarget != 0:
		errs = append(errs, errors.New("tracing: WithSLO: SLO.LatencyTarget is set but SLO.Latency is not"))
	}
	if o.Availability == 0 && o.Latency == 0 {
		errs = append(errs, errors.New("tracing: WithSLO: SLO has neither Availability nor Latency objective"))
	}
	if o.MinRequests < 0 {
		errs = append(errs, fmt.Errorf("tracing: WithSLO: SLO.MinRequests %d is negative", o.MinRequests))
	}
	if o.Windows != nil && len(o.Windows) == 0 {
		errs = append(errs, errors.New("tracing: WithSLO: SLO.Windows is empty (use nil for the workbook's)"))
	}
	for i, w := range o.Windows {
		switch {
		case w.Short <= 0 || w.Long <= 0:
			errs = append(errs, fmt.Errorf("tracing: WithSLO: SLO.Windows[%d] %v: windows must be positive", i, w))
		case w.Short >= w.Long:
			errs = append(errs, fmt.Errorf("tracing: WithSLO: SLO.Windows[%d] %v: Short must be shorter than Long", i, w))
		case w.Short < time.Millisecond:
			errs = append(errs, fmt.Errorf("tracing: WithSLO: SLO.Windows[%d] %v: Short must be at least 1ms", i, w))
		}
		if !(w.BurnRate > 0) || math.IsInf(w.BurnRate, 0) {
			errs = append(errs, fmt.Errorf("tracing: WithSLO: SLO.Windows[%d].BurnRate %v must be positive", i, w.BurnRate))
		}
	}
	// A budget of 1-target burns at most 1/(1-target) (every call bad): a
	// tier at or above that rate can never fire, and a total outage would
	// page only on a slower tier, hours later (a 90% objective with the
	// workbook's tiers: 3h36m).
	reach := func(field string, target float64) {
		if !(target > 0 && target < 1) {
			return
		}
		limit := 1 / (1 - target)
		ws, which := o.Windows, "SLO.Windows[%d]"
		if ws == nil {
			ws, which = WorkbookWindows(), "the workbook's tier %d"
		}
		for i, w := range ws {
			if w.BurnRate >= limit {
				errs = append(errs, fmt.Errorf("tracing: WithSLO: %s %v leaves a budget of %s, so burn rates reach at most %.4gx: "+which+" %v at %gx can never fire (give SLO.Windows with burn rates below %.4gx)",
					field, target, percent(1-target), limit, i, w, w.BurnRate, limit))
			}
		}
	}
	reach("SLO.Availability", o.Availability)
	if o.Latency > 0 {
		reach("SLO.LatencyTarget", o.LatencyTarget)
	}
	return errors.Join(errs...)
}

// ringSteps is the number of steps a window keeps: one sample every
// window/12, so that the oldest is always at least a window old.
const ringSteps = 12

// sample is the cumulative count at offset t.
type sample struct {
	t int64
	c totals
}

// ring holds cumulative samples for one window length. The count over the
// window is the current count minus the count a window ago, interpolated
// between the two samples around that time, so memory is fixed (13 samples)
// whatever the window.
type ring struct {
	w, step int64
	s       [ringSteps + 1]sample // s[(head+i)%len] for i < n, oldest first
	head, n int
}

func (r *ring) push(x sample) {
	if r.n > 0 && x.t-r.s[(r.head+r.n-1)%len(r.s)].t < r.step {
		return
	}
	if r.n < len(r.s) {
		r.s[(r.head+r.n)%len(r.s)] = x
		r.n++
		return
	}
	r.s[r.head] = x
	r.head = (r.head + 1) % len(r.s)
}

// windowCounts are the counts over one window, and the part of the window
// the operation was observed for (covered = the window once the operation is
// older than it).
type windowCounts struct{ req, errs, slow, rejected, covered float64 }

// window returns the counts over the window ending at now, whose cumulative
// counts are cur.
func (r *ring) window(now int64, cur totals) windowCounts {
	target := now - r.w
	first := r.s[r.head]
	if r.n == 0 || target <= first.t {
		// Younger than the window: count everything since the oldest sample.
		return windowCounts{
			req:      float64(cur.requests - first.c.requests),
			errs:     float64(cur.errors - first.c.errors),
			slow:     float64(cur.slow - first.c.slow),
			rejected: float64(cur.rejected - first.c.rejected),
			covered:  float64(now - first.t),
		}
	}
	a, b := first, sample{t: now, c: cur}
	for i := 1; i < r.n; i++ {
		x := r.s[(r.head+i)%len(r.s)]
		if x.t > target {
			b = x
			break
		}
		a = x
	}
	// Interpolate the count at target between a and b.
	f := 0.0
	if b.t > a.t {
		f = float64(target-a.t) / float64(b.t-a.t)
	}
	lerp := func(x, y uint64) float64 { return float64(x) + f*(float64(y)-float64(x)) }
	return windowCounts{
		req:      float64(cur.requests) - lerp(a.c.requests, b.c.requests),
		errs:     float64(cur.errors) - lerp(a.c.errors, b.c.errors),
		slow:     float64(cur.slow) - lerp(a.c.slow, b.c.slow),
		rejected: float64(cur.rejected) - lerp(a.c.rejected, b.c.rejected),
		covered:  float64(r.w),
	}
}

// ratioBands are the band edges of the error_ratio_now metric: a firing
// burn signal is reported again when the fast error ratio moves into
// another band, so that a plan rule on it (the default plan's Fatal rule
// reads error_ratio_now >= 0.5) sees the outage deepen.
var ratioBands = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99}

// burnBandFactors are the multiples of each tier's burn-rate threshold that
// make the band edges of a firing signal's Value (the firing tier's long-window
// burn rate): with the workbook's tiers the edges are 1, 2, 3, 5, 6, 10, 12,
// 14.4, 15, 28.8, 30, 60, 72 and 144.
var burnBandFactors = []float64{1, 2, 5, 10}

// band returns the band of v among the sorted edges: the number of edges at
// or below v.
func band(edges []float64, v float64) int {
	n := 0
	for n < len(edges) && edges[n] <= v {
		n++
	}
	return n
}

// fellBelow reports whether error_ratio_now, last reported in band
// reported, has fallen far enough to be reported again: below half of that
// band's lower edge, when that edge is 0.1 or more. A fall is reported so
// that a grade read on the ratio (the default plan's Fatal rule) drops once
// the outage is over rather than when the tier next changes; falls among
// small ratios are not, so that low traffic (a ratio flipping between 0 and
// one call in sixty) does not stream signals.
func fellBelow(reported int, ratio float64) bool {
	if reported == 0 {
		return false
	}
	edge := ratioBands[reported-1]
	return edge >= 0.1 && ratio < edge/2
}

// objective is one watched budget: availability or latency.
type objective struct {
	kind   firebreak.Kind
	name   string  // "slo" label
	target float64 // e.g. 0.999
	firing int     // index of the firing tier in detector.windows, or -1
	// The highest bands of the burn rate and error_ratio_now reported since
	// the firing tier last changed: a report goes out when either rises
	// above them (a ratchet, so a value wobbling on an edge reports once),
	// or when error_ratio_now falls well below its band (see fellBelow).
	burnBand, nowBand int
}

// detector evaluates burn rates for one operation. It is used under
// Stats.mu; its signals are reported after the lock is released.
type detector struct {
	bind      *firebreak.Binding // the identity signals carry, and their Reporter
	labels    map[string]string  // extra identity labels, e.g. the route
	interval  int64              // nanoseconds between evaluations
	minReq    float64
	windows   []BurnWindow // sorted by burn rate, highest first
	long      []int        // rings index of windows[i].Long
	short     []int        // rings index of windows[i].Short
	fast      int          // rings index of the fast window (error_ratio_now)
	fastDur   time.Duration
	burnEdges []float64 // sorted band edges of the long-window burn rate
	rings     []ring
	objs      []objective
	slo       SLO
	panics    atomic.Uint64 // Reporter panics recovered by report
}

// fastDivisor divides the shortest short window into the fast window of
// error_ratio_now: 5m / 5 = 1m with the workbook's windows.
const fastDivisor = 5

func newDetector(o SLO, interval time.Duration) *detector {
	d := &detector{slo: o, minReq: float64(o.MinRequests)}
	if d.minReq == 0 {
		d.minReq = defaultMinRequests
	}
	d.windows = slices.Clone(o.Windows)
	if d.windows == nil {
		d.windows = WorkbookWindows()
	}
	slices.SortStableFunc(d.windows, func(a, b BurnWindow) int {
		switch {
		case a.BurnRate > b.BurnRate:
			return -1
		case a.BurnRate < b.BurnRate:
			return 1
		}
		return 0
	})
	ringOf := func(w time.Duration) int {
		for i := range d.rings {
			if d.rings[i].w == int64(w) {
				return i
			}
		}
		d.rings = append(d.rings, ring{w: int64(w), step: max(int64(w)/ringSteps, 1)})
		return len(d.rings) - 1
	}
	shortest := time.Duration(math.MaxInt64)
	for _, w := range d.windows {
		d.long = append(d.long, ringOf(w.Long))
		d.short = append(d.short, ringOf(w.Short))
		shortest = min(shortest, w.Short)
		for _, f := range burnBandFactors {
			d.burnEdges = append(d.burnEdges, f*w.BurnRate)
		}
	}
	slices.Sort(d.burnEdges)
	d.burnEdges = slices.Compact(d.burnEdges)
	d.fastDur = max(shortest/fastDivisor, time.Millisecond)
	d.fast = ringOf(d.fastDur)
	for i := range d.rings {
		d.rings[i].push(sample{}) // nothing was recorded before offset 0
	}
	if interval <= 0 {
		interval = max(shortest/60, time.Millisecond)
	}
	d.interval = int64(interval)
	if o.Availability > 0 {
		name := o.Name
		if name == "" {
			name = "availability"
		}
		d.objs = append(d.objs, objective{kind: firebreak.KindErrorBudgetBurn, name: name, target: o.Availability, firing: -1})
	}
	if o.Latency > 0 {
		name := o.Name
		if name == "" {
			name = "latency"
		}
		d.objs = append(d.objs, objective{kind: firebreak.KindLatencySLOBurn, name: name, target: o.LatencyTarget, firing: -1})
	}
	return d
}

// evaluate computes burn rates at now and returns the signals to report: at
// most one per objective — firing when a tier starts firing, when the firing
// tier changes, or when the burn rate or error_ratio_now moves into another
// band; cleared when no tier fires any more.
func (d *detector) evaluate(now int64, cur totals, s *Stats) []firebreak.Signal {
	counts := make([]windowCounts, len(d.rings))
	for i := range d.rings {
		counts[i] = d.rings[i].window(now, cur)
		d.rings[i].push(sample{t: now, c: cur})
	}
	var out []firebreak.Signal
	for oi := range d.objs {
		o := &d.objs[oi]
		budget := 1 - o.target
		bad := func(c windowCounts) float64 {
			if o.kind == firebreak.KindLatencySLOBurn {
				return ratio(c.slow, c.req)
			}
			return ratio(c.errs, c.req)
		}
		// burn is the burn rate over a window of length w. While the
		// operation is younger than w, the unobserved rest of the window
		// counts as healthy traffic at the observed rate (warm-up).
		burn := func(c windowCounts, w time.Duration) float64 {
			return bad(c) * min(1, c.covered/float64(w)) / budget
		}
		firing := -1
		for i, w := range d.windows {
			l, sh := counts[d.long[i]], counts[d.short[i]]
			if l.req >= d.minReq && sh.req > 0 && burn(l, w.Long) > w.BurnRate && burn(sh, w.Short) > w.BurnRate {
				firing = i
				break
			}
		}
		nowRatio := bad(counts[d.fast])
		tier := firing
		if firing < 0 {
			if o.firing < 0 {
				continue
			}
			tier = o.firing // the cleared signal describes the last firing tier
		} else {
			bb := band(d.burnEdges, burn(counts[d.long[firing]], d.windows[firing].Long))
			nb := band(ratioBands, nowRatio)
			if firing == o.firing {
				fell := counts[d.fast].req > 0 && fellBelow(o.nowBand, nowRatio)
				if bb <= o.burnBand && nb <= o.nowBand && !fell {
					continue // same tier, no value above the bands already reported
				}
				bb = max(bb, o.burnBand)
				if !fell {
					nb = max(nb, o.nowBand)
				}
			}
			o.burnBand, o.nowBand = bb, nb
		}
		prev := o.firing
		o.firing = firing

		w := d.windows[tier]
		l, sh := counts[d.long[tier]], counts[d.short[tier]]
		lb, sb := burn(l, w.Long), burn(sh, w.Short)
		sig := d.bind.Signal(o.kind, firing >= 0)
		sig.Value = lb
		sig.Time = s.base.Add(time.Duration(now))
		sig.Labels = maps.Clone(d.labels)
		if sig.Labels == nil {
			sig.Labels = make(map[string]string, 1)
		}
		sig.Labels["slo"] = o.name
		p99 := s.p99()
		sig.Metrics = map[string]float64{
			"burn_rate_" + windowLabel(w.Long):    lb,
			"burn_rate_" + windowLabel(w.Short):   sb,
			"burn_rate_threshold":                 w.BurnRate,
			"tier":                                float64(tier),
			"error_ratio":                         ratio(l.errs, l.req),
			"error_ratio_" + windowLabel(w.Short): ratio(sh.errs, sh.req),
			"error_ratio_short":                   ratio(sh.errs, sh.req),
			"error_ratio_now":                     nowRatio,
			"observed_ratio":                      min(1, l.covered/float64(w.Long)),
			"requests":                            math.Round(l.req),
			"rejected":                            math.Round(l.rejected),
			"objective":                           o.target,
			"p99_seconds":                         p99.Seconds(),
		}
		what, nowWhat := "error budget", "failing"
		if o.kind == firebreak.KindLatencySLOBurn {
			what = "latency budget (calls over " + d.slo.Latency.String() + ")"
			nowWhat = "slow"
			sig.Metrics["slow_ratio"] = ratio(l.slow, l.req)
		}
		if firing >= 0 {
			sig.TraceIDs = s.recentTraceIDs()
			change := ""
			switch {
			case prev >= 0 && prev != firing:
				change = " (was tier " + d.windows[prev].String() + ")"
			case prev >= 0:
				change = " (re-graded)"
			}
			sig.Summary = fmt.Sprintf("%s SLO %s: %s burning %.1fx over %s and %.1fx over %s, tier %s threshold %gx%s; %.1f%% of calls %s over the last %s",
				o.name, percent(o.target), what, lb, windowLabel(w.Long), sb, windowLabel(w.Short), w, w.BurnRate, change,
				100*nowRatio, nowWhat, windowLabel(d.fastDur))
		} else {
			sig.Summary = fmt.Sprintf("%s SLO %s: %s burn is back under every tier's threshold (last firing tier %s, %gx)",
				o.name, percent(o.target), what, w, w.BurnRate)
		}
		out = append(out, sig)
	}
	return out
}

// report sends signals to the component's reporter. It must be called
// without holding Stats.mu. A nil detector reports nothing.
func (d *detector) report(sigs []firebreak.Signal) {
	if d == nil {
		return
	}
	for _, s := range sigs {
		d.reportOne(s)
	}
}

// reportOne hands one signal to the Reporter. A Reporter that panics does
// not kill the evaluation goroutine nor fail the call that happened to run
// the evaluation: the panic is counted ([Stats.ReporterPanics]) and logged
// with its stack the first time.
func (d *detector) reportOne(s firebreak.Signal) {
	defer func() {
		if r := recover(); r != nil {
			if d.panics.Add(1) == 1 {
				slog.Error("tracing: the Reporter panicked; later panics are only counted",
					"component", s.Component, "dependency", s.Dependency, "kind", string(s.Kind),
					"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			}
		}
	}()
	d.bind.Report(s)
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

func percent(f float64) string { return strconv.FormatFloat(f*100, 'f', -1, 64) + "%" }

// windowLabel formats a window the way alert labels do: "5m", "1h", "24h",
// "3d", "30s"; durations that are not whole units use [time.Duration.String].
func windowLabel(d time.Duration) string {
	day := 24 * time.Hour
	switch {
	case d <= 0:
		return d.String()
	case d%day == 0 && d >= 2*day:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
