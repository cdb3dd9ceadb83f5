package failover

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover/internal/event"
	"github.com/firebreak-go/firebreak/internal/stripe"
)

// AdaptiveLimiter limits the calls in flight to a dependency to a limit
// that follows the dependency's latency, in the manner of Netflix's
// concurrency-limits (Gradient2) and failsafe-go's adaptive limiter: while
// calls answer about as fast as they do in the long run the limit grows;
// once they are slower than the long-run latency times a tolerance
// ([WithLatencyTolerance]), the limit falls in proportion, so the calls let
// through keep their latency and the rest are refused at once instead of
// queueing in the dependency. The limit is recomputed once per sample
// window ([WithSampleWindow]) from the mean latency of the calls that ended
// in it; it grows only while the calls in flight use at least half of it,
// and stays within [WithLimits].
//
// The long-run latency is the baseline: it follows a faster dependency at
// once, a slower one over 30s while the limit does not hold calls back, and
// over 10 minutes while it does, so an overload does not teach the limiter
// that slow is normal. Priorities keep critical traffic flowing
// ([ContextWithPriority], [WithCriticalReserve]): critical calls may fill
// the whole limit, normal calls (1−share) of it and low calls half of that.
//
// Registered on a Board as a [firebreak.Notifier], the limiter freezes while
// an incident on its dependency is open ([WithFreezeIf]): the limit is
// neither lowered nor raised, and the baseline does not move, so a long
// incident neither drives the limit to its floor nor drifts the baseline
// (failsafe-go issue #127). It thaws when the incident closes.
//
// A rejection is a [*LimitError] matching [ErrLimited], a
// [firebreak.RejectOverload] rejection that no breaker counts and no retry
// repeats. Sustained rejections ([WithSustain]) report
// [firebreak.KindLoadShed] labelled policy "adaptive_limit" and guards the
// dependency, under the component, like a [Bulkhead]'s.
//
// Build one per dependency with [NewAdaptiveLimiter]; it is safe for
// concurrent use. Admitting and releasing a call takes no lock and does not
// allocate: one read of the monotonic clock (the pipeline's reading is the
// start), two adds to the calling processor's sample counters, and either
// two atomic adds on the count in flight or, while the calls in flight are
// well under half the limit, a permit a finished call kept in its
// processor's slot for the next one. Kept permits stay counted in flight,
// so the limit is never exceeded, and a call that would be refused takes
// them back first. A pipeline binds it; used on its own, bind it with
// [AdaptiveLimiter.Bind].
type AdaptiveLimiter[T any] struct {
	b firebreak.Binding
	m event.Meter

	_        [64]byte     // inflight on a cache line of its own
	inflight atomic.Int64 // calls admitted and not finished, plus the permits kept in slots
	_        [56]byte     //
	permits  [permitSlots]permitSlot
	keepAt   atomic.Int64 // a release keeps its permit in its slot only while inflight is at most this

	limit     atomic.Int64
	threshold [3]atomic.Int64 // per priority (index p+1): the calls in flight it may join
	moving    atomic.Int64    // reclaims under way, as keptPermits.moving
	reserve   float64
	frozen    atomic.Bool

	origin     int64 // the firebreak.Nanotime reading the limiter's clock starts at
	window     int64 // nanoseconds
	minSamples int64
	windowEnd  atomic.Int64 // nanoseconds since origin
	peak       atomic.Int64 // most calls in flight in this window
	rtt        [limiterStripes]rttStripe

	mu        sync.Mutex // guards the estimator below
	estimate  float64    // the limit, unrounded
	longRTT   float64    // the baseline latency, nanoseconds; 0 until the first window
	minLimit  float64
	maxLimit  float64
	tolerance float64

	freezeIf  func(firebreak.Incident) bool
	incMu     sync.Mutex      // guards incidents
	incidents map[string]bool // open incidents freezing the limit

	errs    [3]*LimitError
	ep      episode
	presets atomic.Pointer[event.Presets]
}

var (
	_ firebreak.Policy[int] = (*AdaptiveLimiter[int])(nil)
	_ firebreak.Binder      = (*AdaptiveLimiter[int])(nil)
	_ firebreak.Staged      = (*AdaptiveLimiter[int])(nil)
	_ firebreak.Notifier    = (*AdaptiveLimiter[int])(nil)
)

// rttStripe is one processor's share of a window's latency samples, on a
// cache line of its own, so that parallel callers do not pull each other's.
type rttStripe struct {
	sum, n atomic.Int64 // nanoseconds, and calls, ended in this window
	_      [48]byte
}

// limiterStripes is how many rttStripes a limiter has.
const limiterStripes = 4

// permitSlot keeps one permit a finished call left for the next call on
// the same processor, as [keptPermits] does for a [Bulkhead]: while the
// limit is far off a call admitted and released on one processor touches
// only that processor's cache line, not the count in flight every
// processor shares. A kept permit stays in the count in flight: the limit
// is never exceeded, and a call that would be refused takes the kept
// permits back first. (The limiter keeps its slots inline, between its
// count in flight and its read-mostly fields, which measured faster here
// than a keptPermits of its own.)
type permitSlot struct {
	held atomic.Int32 // 1: a permit is kept here
	_    [60]byte
}

// The baseline follows a faster window half way at once. It follows a
// slower one over baselineBound while the limit holds calls back (the
// slowness may be the queueing the limit is there to stop) and over
// baselineFree while it does not (the dependency itself got slower).
const (
	baselineDown  = 0.5
	baselineBound = 10 * time.Minute
	baselineFree  = 30 * time.Second
	// limitSmoothing is how far the limit moves toward its new value per
	// window.
	limitSmoothing = 0.5
)

// NewAdaptiveLimiter returns a limiter starting at 20 calls in flight and
// moving between 1 and 1000, recomputed every 100ms from at least 10
// calls, with a latency tolerance of 1.5 and 20% of the limit reserved for
// critical calls.
func NewAdaptiveLimiter[T any](opts ...LimiterOption) (*AdaptiveLimiter[T], error) {
	c := limiterConfig{sustainConfig: defaultSustain(), criticalReserve: 0.2}
	if err := apply("NewAdaptiveLimiter", opts, func(o LimiterOption) { o.applyLimiter(&c) }); err != nil {
		return nil, err
	}
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.initial, 20)
	def(&c.min, 1)
	def(&c.max, 1000)
	def(&c.minSamples, 10)
	if c.window == 0 {
		c.window = 100 * time.Millisecond
	}
	if c.tolerance == 0 {
		c.tolerance = 1.5
	}
	var errs []error
	bad := func(cond bool, format string, args ...any) {
		if cond {
			errs = append(errs, fmt.Errorf("failover: NewAdaptiveLimiter: "+format, args...))
		}
	}
	bad(c.min < 1 || c.min > c.initial || c.initial > c.max,
		"WithLimits(%d, %d, %d): want 1 ≤ min ≤ initial ≤ max", c.initial, c.min, c.max)
	bad(c.max > 1<<20, "WithLimits max %d must be at most %d", c.max, 1<<20)
	bad(!(c.tolerance >= 1) || math.IsInf(c.tolerance, 0), "WithLatencyTolerance %v must be finite and at least 1", c.tolerance)
	bad(c.window < time.Millisecond, "WithSampleWindow %v must be at least 1ms", c.window)
	bad(c.minSamples < 1, "WithSampleWindow minSamples %d must be at least 1", c.minSamples)
	bad(!(c.criticalReserve >= 0 && c.criticalReserve < 1), "WithCriticalReserve %v must be in [0, 1)", c.criticalReserve)
	errs = append(errs, c.sustainConfig.check("NewAdaptiveLimiter")...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := event.NewMeter(scope, "adaptive_limit", c.meterProvider)
	if err != nil {
		return nil, fmt.Errorf("failover: NewAdaptiveLimiter: %w", err)
	}
	l := &AdaptiveLimiter[T]{
		m: m, reserve: c.criticalReserve, origin: firebreak.Nanotime(),
		window: int64(c.window), minSamples: int64(c.minSamples),
		estimate: float64(c.initial), minLimit: float64(c.min), maxLimit: float64(c.max), tolerance: c.tolerance,
		freezeIf: c.freezeIf, incidents: map[string]bool{},
		ep: newEpisode(c.sustainConfig),
	}
	for i, p := range []Priority{PriorityLow, PriorityNormal, PriorityCritical} {
		l.errs[i] = &LimitError{Priority: p}
	}
	l.windowEnd.Store(l.window)
	l.setLimit(c.initial)
	return l, nil
}

// setLimit publishes a new limit and the thresholds of the classes.
func (l *AdaptiveLimiter[T]) setLimit(n int) {
	normal := max(1, int64(float64(n)*(1-l.reserve)))
	l.threshold[0].Store(max(1, normal/2))
	l.threshold[1].Store(normal)
	l.threshold[2].Store(int64(n))
	l.limit.Store(int64(n))
	// Permits are kept only while the calls use well under half the limit,
	// so that kept permits neither make "is the limit used" true early nor
	// stand in another class's way; with a limit under 2×(permitSlots+1)
	// none are.
	l.keepAt.Store(int64(n)/2 - permitSlots)
}

// reclaim takes back the permits kept in slots and returns how many. As
// [keptPermits.reclaim], it counts itself in l.moving while under way, so
// that a call refused after it reads a count with the permits freed.
func (l *AdaptiveLimiter[T]) reclaim() int64 {
	l.moving.Add(1)
	defer l.moving.Add(-1)
	var n int64
	for i := range l.permits {
		if s := &l.permits[i].held; s.Load() == 1 && s.CompareAndSwap(1, 0) {
			n++
		}
	}
	if n > 0 {
		l.inflight.Add(-n)
	}
	return n
}

// Bind implements [firebreak.Binder]: the first Bind fixes the identity the
// limiter reports under (and the dependency whose incidents freeze it);
// binding again to the same one does nothing, to another is an
// [*firebreak.AlreadyBoundError].
func (l *AdaptiveLimiter[T]) Bind(c firebreak.Component) error {
	_, err := l.b.Bind("failover: adaptive limiter", c)
	return err
}

// Stage implements [firebreak.Staged]: [firebreak.StageShed], next to the
// call whose concurrency it limits.
func (l *AdaptiveLimiter[T]) Stage() firebreak.Stage { return firebreak.StageShed }

// Limit returns the current limit of calls in flight.
func (l *AdaptiveLimiter[T]) Limit() int { return int(l.limit.Load()) }

// InFlight returns the calls admitted and not yet finished.
func (l *AdaptiveLimiter[T]) InFlight() int {
	n := l.inflight.Load()
	for i := range l.permits {
		n -= int64(l.permits[i].held.Load())
	}
	return int(max(n, 0))
}

// Frozen reports whether an open incident holds the limit still.
func (l *AdaptiveLimiter[T]) Frozen() bool { return l.frozen.Load() }

// Execute runs fn under the policy, for use without a pipeline.
func (l *AdaptiveLimiter[T]) Execute(ctx context.Context, fn firebreak.Func[T]) (T, error) {
	return l.Apply(ctx, firebreak.Call(fn))
}

// Apply implements [firebreak.Policy].
func (l *AdaptiveLimiter[T]) Apply(ctx context.Context, next firebreak.Next[T]) (T, error) {
	idx := min(max(int(PriorityFromContext(ctx))+1, 0), 2)
	if !l.admit(idx) {
		var zero T
		return zero, l.reject(idx)
	}
	start := next.Now()
	finished := false
	defer func() {
		if !finished { // the call panicked: give its place back
			l.inflight.Add(-1)
		}
	}()
	v, err := next.Call(ctx)
	finished = true
	p := stripe.P()
	if l.inflight.Load() > l.keepAt.Load() || !l.permits[p%permitSlots].held.CompareAndSwap(0, 1) {
		l.inflight.Add(-1)
	}
	end := firebreak.Nanotime() - l.origin
	// A call the caller gave up on, or one refused further in, says
	// nothing about the dependency's latency.
	if err == nil || !(isCancellation(ctx, err) || firebreak.IsRejected(err)) {
		st := &l.rtt[p%limiterStripes]
		st.sum.Add(end - (start - l.origin))
		st.n.Add(1)
	}
	if end >= l.windowEnd.Load() {
		l.update(end)
	}
	if l.ep.firing.Load() && l.ep.clear() {
		sig := overloadSignal(&l.b, "adaptive_limit", false)
		sig.Summary = "concurrency limit rejections stopped"
		l.b.Report(sig)
	}
	return v, err
}

// admit takes a permit for a call of priority class idx: the one kept on
// this processor's slot, or one more in flight; it reports false when the
// calls in flight, with the permits kept taken back, reach the class's
// threshold.
func (l *AdaptiveLimiter[T]) admit(idx int) bool {
	thr := l.threshold[idx].Load()
	var n int64
	if s := &l.permits[stripe.P()%permitSlots].held; s.Load() == 1 && s.CompareAndSwap(1, 0) {
		n = l.inflight.Load() // the kept permit is counted already
	} else {
		n = l.inflight.Add(1)
	}
	if n > thr {
		// Kept permits count as in flight: take them back before refusing.
		// Another call may be taking them back at the same moment: this
		// one then finds none, and reads the count once they are freed.
		l.reclaim()
		settle(&l.moving)
		if n = l.inflight.Load(); n > thr {
			l.inflight.Add(-1)
			return false
		}
	}
	if n > l.peak.Load() {
		l.peak.Store(n) // a racy maximum is enough for "is the limit used"
	}
	return true
}

func (l *AdaptiveLimiter[T]) reject(idx int) error {
	l.m.AddPreset(l.m.Preset(&l.b, &l.presets, "limited"), "limited")
	if fire, n, span := l.ep.reject(); fire {
		sig := overloadSignal(&l.b, "adaptive_limit", true)
		sig.Value = float64(n)
		lim := l.limit.Load()
		sig.Metrics = map[string]float64{"limit": float64(lim)}
		sig.Summary = fmt.Sprintf("%d calls rejected over %v by the adaptive concurrency limit (now %d)", n, span.Round(time.Second), lim)
		l.b.Report(sig)
	}
	// Rejections end windows too, so that a limit at its floor still
	// recovers when its few calls get fast again.
	if now := firebreak.Nanotime() - l.origin; now >= l.windowEnd.Load() {
		l.update(now)
	}
	return l.errs[idx]
}

// update closes the sample window ending before now, if no other call is
// doing it, and moves the limit.
func (l *AdaptiveLimiter[T]) update(now int64) {
	if !l.mu.TryLock() {
		return
	}
	defer l.mu.Unlock()
	if now < l.windowEnd.Load() {
		return
	}
	l.windowEnd.Store(now + l.window)
	l.reclaim() // permits kept on processors that stopped calling
	var n, sum int64
	for i := range l.rtt {
		n += l.rtt[i].n.Load()
	}
	if n < l.minSamples && !l.frozen.Load() {
		return // too few calls yet: let the window run on
	}
	n = 0
	for i := range l.rtt {
		st := &l.rtt[i]
		n += st.n.Swap(0)
		sum += st.sum.Swap(0)
	}
	peak := l.peak.Swap(0)
	if l.frozen.Load() || n == 0 {
		return
	}
	short := float64(sum) / float64(n)
	est := l.estimate
	bound := float64(peak) >= est/2
	if l.longRTT == 0 {
		l.longRTT = short
	}
	switch {
	case short < l.longRTT:
		l.longRTT += (short - l.longRTT) * baselineDown
	case bound:
		l.longRTT += (short - l.longRTT) * float64(l.window) / float64(baselineBound)
	default:
		l.longRTT += (short - l.longRTT) * float64(l.window) / float64(baselineFree)
	}
	gradient := max(0.5, min(1, l.tolerance*l.longRTT/short))
	grow := math.Sqrt(est) / 2
	if gradient >= 1 && !bound {
		grow = 0 // the limit is not what holds the calls back: do not raise it
	}
	target := est*gradient + grow
	est += (target - est) * limitSmoothing
	est = max(l.minLimit, min(l.maxLimit, est))
	l.estimate = est
	if lim := int(math.Round(est)); int64(lim) != l.limit.Load() {
		l.setLimit(lim)
	}
}

// Notify implements [firebreak.Notifier]: registered on a Board, the
// limiter freezes while an incident [WithFreezeIf] selects is open — by
// default one whose fault domain is the bound dependency — and thaws when
// the last such incident is resolved.
func (l *AdaptiveLimiter[T]) Notify(_ context.Context, n firebreak.Notification) error {
	inc := n.Incident
	if inc.ID == "" {
		return nil
	}
	var hold bool
	if l.freezeIf != nil {
		hold = l.freezeIf(inc)
	} else {
		dep := l.b.Component().Dependency
		hold = inc.State.Open() && dep != "" && inc.FaultDomain == dep
	}
	l.incMu.Lock()
	if hold {
		l.incidents[inc.ID] = true
	} else {
		delete(l.incidents, inc.ID)
	}
	frozen := len(l.incidents) > 0
	was := l.frozen.Swap(frozen)
	l.incMu.Unlock()
	if was != frozen {
		if frozen {
			l.m.Add(&l.b, "limit_frozen")
		} else {
			l.m.Add(&l.b, "limit_thawed")
		}
	}
	return nil
}
