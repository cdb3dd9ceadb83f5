package failover

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover/internal/event"
	"github.com/firebreak-go/firebreak/internal/stripe"
)

// Priority is a request's class for load shedding. Low traffic is shed
// first, Critical traffic last: it keeps a reserved share of the rate and of
// the concurrency limit. The zero value is [PriorityNormal].
type Priority int8

// The priority classes.
const (
	PriorityLow      Priority = -1 // batch jobs, prefetches, retries of optional features
	PriorityNormal   Priority = 0  // ordinary traffic
	PriorityCritical Priority = 1  // checkout, login, health of the business: kept under overload
)

// String returns "low", "normal" or "critical".
func (p Priority) String() string {
	switch p {
	case PriorityLow:
		return "low"
	case PriorityNormal:
		return "normal"
	case PriorityCritical:
		return "critical"
	}
	return "priority(" + strconv.Itoa(int(p)) + ")"
}

type priorityKey struct{}

// ContextWithPriority returns a copy of ctx carrying p, for the [Shedder]
// downstream.
func ContextWithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityFromContext returns the priority ctx carries, or [PriorityNormal].
func PriorityFromContext(ctx context.Context) Priority {
	if p, ok := ctx.Value(priorityKey{}).(Priority); ok {
		return p
	}
	return PriorityNormal
}

// Shedder protects a service from more work than it can do: a token bucket
// limits the rate and a counter limits the calls in flight. Both keep a
// reserve for [PriorityCritical] traffic ([WithCriticalReserve]), so that
// under overload critical calls are admitted first and the other classes get
// what they leave:
//
//   - Rate: critical calls may take every token of the bucket; the other
//     classes may not take the last share×burst tokens (the reserve). Under
//     overload the others are held at the reserve's edge, so every token
//     that refills goes first to the critical calls that want it, and a
//     burst of critical calls finds the reserve waiting. Critical traffic
//     up to the whole rate is admitted; the others get the rest; the total
//     stays at the configured rate. With no critical traffic the others
//     have the whole rate (the reserve is full and costs nothing).
//   - Concurrency: critical calls may fill the whole limit, [PriorityNormal]
//     calls (1−share) of it and [PriorityLow] calls half of that, so low
//     traffic is shed first.
//
// Low and normal traffic share the rate alike. A rejection is a
// [*ShedError] that matches [ErrShed] and is a [firebreak.RejectOverload]
// rejection. When requests have been shed for a sustained time, a
// [firebreak.KindLoadShed] signal fires; it clears once shedding stops.
//
// A Shedder guards a whole service or one of its entry points, so it may be
// shared by many pipelines (through [NewShed]) and an HTTP [Shedder.Middleware]
// at once. It is safe for concurrent use; admitting a call takes no lock.
//
// Its identity is the service's ([firebreak.Binding] with ServiceWide): a
// pipeline binds it, or [Shedder.Bind] does; unbound, it sheds but its
// signals go to [firebreak.Discard].
type Shedder struct {
	b      firebreak.Binding // ServiceWide
	m      event.Meter
	guards atomic.Pointer[string] // the dependency of the first Bind, for the "guards" label

	bucket *bucket // nil without a rate limit

	maxConc  [3]int64 // per priority (index p+1); 0: no limit
	inflight atomic.Int64

	errRate [3]*ShedError // preallocated, so that shedding does not allocate
	errOver [3]*ShedError

	sustain, quiet int64     // nanoseconds
	base           time.Time // origin of the episode clocks
	episode        atomic.Int64
	lastShed       atomic.Int64
	episodeSheds   atomic.Int64
	firing         atomic.Bool

	reqPriority func(*http.Request) Priority
	presets     atomic.Pointer[event.Presets]
	admitter    Admitter // WithAdmitter; nil without one
}

// NewShedder returns a shedder admitting limit requests per second (at most
// 1e9) with bursts of burst (pass rate.Inf for no rate limit, then burst is
// ignored). By default there is no concurrency limit, Critical traffic keeps
// a reserve of 20% of the burst and of the concurrency limit, and shedding is
// sustained after 10s.
func NewShedder(limit rate.Limit, burst int, opts ...ShedderOption) (*Shedder, error) {
	c := shedderConfig{criticalReserve: 0.2, sustain: 10 * time.Second, quiet: 10 * time.Second}
	if err := apply("NewShedder", opts, func(o ShedderOption) { o.applyShedder(&c) }); err != nil {
		return nil, err
	}
	if c.sustain == 0 {
		c.sustain = 10 * time.Second
	}
	if c.quiet == 0 {
		c.quiet = 10 * time.Second
	}
	var errs []error
	bad := func(cond bool, format string, args ...any) {
		if cond {
			errs = append(errs, fmt.Errorf("failover: NewShedder: "+format, args...))
		}
	}
	bad(!(limit > 0), "limit %v must be positive (rate.Inf for none)", limit)
	bad(limit != rate.Inf && limit > maxLimit, "limit %v must be at most %v per second (rate.Inf for none)", limit, rate.Limit(maxLimit))
	bad(limit != rate.Inf && burst < 1, "burst %d must be at least 1", burst)
	bad(limit > 0 && limit != rate.Inf && burst >= 1 && float64(burst)/float64(limit) > maxRefill.Seconds(),
		"burst %d at limit %v per second takes longer than %v to refill", burst, limit, maxRefill)
	bad(c.maxConcurrent < 0, "WithMaxConcurrent %d must not be negative", c.maxConcurrent)
	bad(!(c.criticalReserve >= 0 && c.criticalReserve < 1), "WithCriticalReserve %v must be in [0, 1)", c.criticalReserve)
	bad(c.sustain < 0 || c.quiet < 0, "WithSustain(%v, %v): durations must be positive", c.sustain, c.quiet)
	bad(c.admitterSet && c.admitter == nil, "WithAdmitter: the admitter is nil")
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := event.NewMeter(scope, "shed", c.meterProvider)
	if err != nil {
		return nil, fmt.Errorf("failover: NewShedder: %w", err)
	}
	s := &Shedder{b: firebreak.Binding{ServiceWide: true},
		m: m, sustain: int64(c.sustain), quiet: int64(c.quiet), base: time.Now(),
		reqPriority: c.requestPriority, admitter: c.admitter,
	}
	r := c.criticalReserve
	after := time.Second
	if limit != rate.Inf {
		s.bucket = newBucket(limit, burst, burst-max(1, int(float64(burst)*(1-r))))
		after = max(after, time.Duration(math.Ceil(1/float64(limit)))*time.Second)
	}
	if n := int64(c.maxConcurrent); n > 0 {
		normal := max(1, int64(float64(n)*(1-r)))
		s.maxConc = [3]int64{max(1, normal/2), normal, n}
	}
	for i, p := range []Priority{PriorityLow, PriorityNormal, PriorityCritical} {
		s.errRate[i] = &ShedError{Reason: ErrorTypeRateLimited, Priority: p, After: after}
		s.errOver[i] = &ShedError{Reason: ErrorTypeOverloaded, Priority: p, After: time.Second}
	}
	return s, nil
}

// Bind implements [firebreak.Binder]. A shedder guards a service and may
// sit in several pipelines: its identity is the service (Name and Tier), so
// binding again for another dependency of the same service does nothing,
// and binding to another service is an [*firebreak.AlreadyBoundError]. The
// dependency of the first Bind is the "guards" label of its signals.
func (s *Shedder) Bind(c firebreak.Component) error {
	first, err := s.b.Bind("failover: shedder", c)
	if first && c.Dependency != "" {
		s.guards.Store(&c.Dependency)
	}
	return err
}

// Permit is an admitted request. Call Release when it is done; Release on a
// zero Permit does nothing.
type Permit struct{ s *Shedder }

// Release ends the request, freeing its place under the concurrency limit.
func (p Permit) Release() {
	if p.s != nil {
		p.s.inflight.Add(-1)
	}
}

// Acquire admits or sheds a request of the priority ctx carries
// ([PriorityFromContext]). On success the caller must call Release on the
// permit when the request is done. A shed request gets a [*ShedError].
func (s *Shedder) Acquire(ctx context.Context) (Permit, error) {
	return s.admit(PriorityFromContext(ctx))
}

// admit admits or sheds a request of priority p.
func (s *Shedder) admit(p Priority) (Permit, error) {
	idx := min(max(int(p)+1, 0), 2)
	var permit Permit
	if limit := s.maxConc[idx]; limit > 0 {
		if s.inflight.Add(1) > limit {
			s.inflight.Add(-1)
			s.shed(time.Now(), s.errOver[idx])
			return Permit{}, s.errOver[idx]
		}
		permit.s = s
	}
	if s.bucket != nil && !s.bucket.allow(idx == 2) {
		permit.Release()
		s.shed(time.Now(), s.errRate[idx])
		return Permit{}, s.errRate[idx]
	}
	if s.admitter != nil && !s.admitter.Allow() && idx != 2 {
		permit.Release()
		s.shed(time.Now(), s.errRate[idx])
		return Permit{}, s.errRate[idx]
	}
	if s.firing.Load() {
		s.maybeClear(time.Now())
	}
	return permit, nil
}

// bucket is a token bucket kept, as in the generic cell rate algorithm
// (GCRA), as one number: the time at which it will be full again. Taking a
// token moves that time one emission interval on; the bucket holds burst
// tokens when it is at most now, none when it is burst intervals ahead.
// Admitting is one compare-and-swap (or less, below), with no lock: golang.org/x/time/rate's
// Limiter cannot take a token only if more than the reserve remain, which
// a critical reserve needs, without a second locked call that races.
//
// Times are in ticks of 1/16 ns since base, so that the emission interval of
// a high rate keeps its precision (within 0.1% up to 3·10^7 per second);
// int64 ticks last 18 years.
//
// While the bucket is more than half full, a call takes a few tokens at once
// and leaves the rest on its processor's slot for the next calls there
// (spare), so that parallel callers do not all contend for one word. The
// tokens are taken from the bucket when they are put aside, so the rate is
// kept; at most batch−1 tokens per processor are taken early, and only from
// the top half of the bucket, so the reserve is untouched.
type bucket struct {
	full   atomic.Int64 // ticks since base when the bucket is full again
	base   time.Time
	every  int64 // ticks per token
	all    int64 // burst·every: how far ahead critical calls may push full
	shared int64 // (burst−reserve)·every: how far ahead the other classes may
	batch  int64 // tokens taken at once while the bucket is more than half full; 1: never
	spare  [permitSlots]struct {
		_ [64]byte     // each off its neighbours' cache lines
		n atomic.Int64 // tokens taken and put aside on this processor
		_ [56]byte
	}
}

const (
	ticksPerNano = 16
	maxLimit     = 1e9
	maxRefill    = 5 * 365 * 24 * time.Hour
)

func newBucket(limit rate.Limit, burst, reserve int) *bucket {
	every := max(1, int64(math.Round(ticksPerNano*1e9/float64(limit))))
	return &bucket{
		base: time.Now(), every: every,
		all: int64(burst) * every, shared: int64(burst-reserve) * every,
		batch: max(1, min(8, int64(burst-reserve)/(8*keepers()))),
	}
}

// allow takes a token, if the bucket holds one (critical) or more than the
// reserve (the other classes).
func (b *bucket) allow(critical bool) bool {
	limit := b.shared
	if critical {
		limit = b.all
	}
	i := 0
	if b.batch > 1 {
		i = stripe.P() % permitSlots
		sp := &b.spare[i].n
		for n := sp.Load(); n > 0; n = sp.Load() {
			if sp.CompareAndSwap(n, n-1) {
				return true
			}
		}
	}
	now := int64(time.Since(b.base)) * ticksPerNano
	for {
		full := b.full.Load()
		from := max(full, now)
		k := int64(1)
		if b.batch > 1 && from+b.batch*b.every-now <= b.shared/2 {
			k = b.batch // the bucket is more than half full: put some aside
		}
		next := from + k*b.every
		if next-now > limit {
			return false
		}
		if b.full.CompareAndSwap(full, next) {
			if k > 1 {
				b.spare[i].n.Add(k - 1)
			}
			return true
		}
	}
}

// Sustained reports whether shedding is sustained (the load_shed signal is
// firing). It also clears the signal if shedding has stopped.
func (s *Shedder) Sustained() bool {
	if s.firing.Load() {
		s.maybeClear(time.Now())
	}
	return s.firing.Load()
}

// InFlight returns the number of admitted requests not yet released (counted
// only when there is a concurrency limit).
func (s *Shedder) InFlight() int { return int(s.inflight.Load()) }

// The metric events of a shed request.
const (
	shedRateLimited = "shed_" + ErrorTypeRateLimited
	shedOverloaded  = "shed_" + ErrorTypeOverloaded
)

func shedEvent(e *ShedError) string {
	if e.Reason == ErrorTypeRateLimited {
		return shedRateLimited
	}
	return shedOverloaded
}

func (s *Shedder) shed(now time.Time, e *ShedError) {
	s.m.AddPreset(s.m.Preset(&s.b, &s.presets, shedRateLimited, shedOverloaded), shedEvent(e))
	n := int64(now.Sub(s.base)) + 1
	last := s.lastShed.Swap(n)
	start := s.episode.Load()
	if start == 0 || n-last > s.quiet {
		s.episode.Store(n)
		s.episodeSheds.Store(1)
		return
	}
	sheds := s.episodeSheds.Add(1)
	if n-start >= s.sustain && s.firing.CompareAndSwap(false, true) {
		sig := s.shedSignal(true)
		sig.Value = float64(sheds)
		sig.Summary = fmt.Sprintf("%d requests shed over %v (last: %s)", sheds, time.Duration(n-start).Round(time.Second), e.Error())
		s.b.Report(sig)
	}
}

// shedSignal is a load_shed signal. Shedding is the service protecting
// itself from more work than it is allowed, not a fault of the dependency it
// may guard: the signal names no dependency, so its incident's fault domain
// is the component, and the guarded dependency is a "guards" label.
func (s *Shedder) shedSignal(firing bool) firebreak.Signal {
	sig := s.b.Signal(firebreak.KindLoadShed, firing)
	if g := s.guards.Load(); g != nil {
		sig.Labels = map[string]string{"guards": *g}
	}
	return sig
}

func (s *Shedder) maybeClear(now time.Time) {
	n := int64(now.Sub(s.base)) + 1
	if n-s.lastShed.Load() <= s.quiet {
		return
	}
	if s.firing.CompareAndSwap(true, false) {
		s.episode.Store(0)
		sig := s.shedSignal(false)
		sig.Summary = "shedding stopped"
		s.b.Report(sig)
	}
}

// Middleware sheds HTTP requests before they reach next: a rate-limited
// request gets 429 Too Many Requests, an overloaded one 503 Service
// Unavailable, both with a Retry-After header. The priority comes from
// [WithRequestPriority], else from the request's context.
func (s *Shedder) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p Priority
		if s.reqPriority != nil {
			p = s.reqPriority(r)
		} else {
			p = PriorityFromContext(r.Context())
		}
		permit, err := s.admit(p)
		if err != nil {
			var se *ShedError
			errors.As(err, &se)
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(se.After.Seconds()))))
			http.Error(w, http.StatusText(se.StatusCode()), se.StatusCode())
			return
		}
		defer permit.Release()
		next.ServeHTTP(w, r)
	})
}

// Shed is the [firebreak.Policy] form of a [Shedder], for pipelines of
// result type T. Build one with [NewShed]; it is safe for concurrent use.
type Shed[T any] struct{ s *Shedder }

var (
	_ firebreak.Policy[int] = (*Shed[int])(nil)
	_ firebreak.Binder      = (*Shed[int])(nil)
	_ firebreak.Staged      = (*Shed[int])(nil)
)

// NewShed returns a policy that admits calls through s.
func NewShed[T any](s *Shedder) (*Shed[T], error) {
	if s == nil {
		return nil, errors.New("failover: NewShed: shedder is nil")
	}
	return &Shed[T]{s: s}, nil
}

// Bind implements [firebreak.Binder]; see [Shedder.Bind].
func (p *Shed[T]) Bind(c firebreak.Component) error { return p.s.Bind(c) }

// Stage implements [firebreak.Staged]: [firebreak.StageShed].
func (p *Shed[T]) Stage() firebreak.Stage { return firebreak.StageShed }

// Execute runs fn under the policy, for use without a pipeline.
func (p *Shed[T]) Execute(ctx context.Context, fn firebreak.Func[T]) (T, error) {
	return p.Apply(ctx, firebreak.Call(fn))
}

// Apply implements [firebreak.Policy].
func (p *Shed[T]) Apply(ctx context.Context, next firebreak.Next[T]) (T, error) {
	permit, err := p.s.Acquire(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	defer permit.Release()
	return next.Call(ctx)
}
