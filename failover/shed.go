package failover

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/firebreak-go/firebreak"
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
// (golang.org/x/time/rate; split over up to four limiters, tried in turn, so
// that parallel callers rarely wait on the same mutex) limits the rate and a
// counter limits the calls in flight. Both keep a share that only [PriorityCritical] traffic may use, and
// [PriorityLow] traffic may hold at most half the places in flight that
// [PriorityNormal] traffic may, so it is shed first. A rejection is a
// [*ShedError] that matches [ErrShed]. When requests have been shed for a
// sustained time, a [firebreak.KindLoadShed] signal fires; it clears once
// shedding stops.
//
// A Shedder guards a whole service or one of its entry points, so it may be
// shared by many pipelines (through [NewShed]) and an HTTP [Shedder.Middleware]
// at once. It is safe for concurrent use.
type Shedder struct {
	b binding
	m meter

	shards   []paddedLimiter // the bucket every class draws from, split; nil without a rate limit
	reserved *rate.Limiter   // Critical only; nil without a reserve

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
	presets     atomic.Pointer[presets]
}

// NewShedder returns a shedder admitting limit requests per second with
// bursts of burst (pass rate.Inf for no rate limit, then burst is ignored).
// By default there is no concurrency limit, Critical traffic keeps 20% of
// both limits, and shedding is sustained after 10s.
func NewShedder(limit rate.Limit, burst int, opts ...ShedOption) (*Shedder, error) {
	c := shedConfig{criticalReserve: 0.2, sustain: 10 * time.Second, quiet: 10 * time.Second}
	for _, o := range opts {
		if o != nil {
			o.applyShed(&c)
		}
	}
	if c.criticalReserve == 0 && !c.reserveSet {
		c.criticalReserve = 0.2
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
	bad(limit != rate.Inf && burst < 1, "burst %d must be at least 1", burst)
	bad(c.maxConcurrent < 0, "WithMaxConcurrent %d must not be negative", c.maxConcurrent)
	bad(c.criticalReserve < 0 || c.criticalReserve >= 1, "WithCriticalReserve %v must be in [0, 1)", c.criticalReserve)
	bad(c.sustain < 0 || c.quiet < 0, "WithSustain durations must be positive")
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := newMeter("shed", c.meterProvider)
	if err != nil {
		return nil, err
	}
	s := &Shedder{
		m: m, sustain: int64(c.sustain), quiet: int64(c.quiet), base: time.Now(),
		reqPriority: c.requestPriority,
	}
	r := c.criticalReserve
	after := time.Second
	if limit != rate.Inf {
		// The shared bucket is split into up to maxShards buckets of equal
		// rate and burst, so that parallel callers rarely meet on one
		// limiter's mutex; a call tries them all before it is shed, so the
		// total rate and burst are those asked for.
		sb := max(1, int(float64(burst)*(1-r)))
		n := min(maxShards, sb)
		s.shards = make([]paddedLimiter, n)
		for i := range s.shards {
			b := sb / n
			if i < sb%n {
				b++
			}
			// A zero Limiter configured as of the zero time starts full,
			// as NewLimiter's does; it is set up in place so that each
			// shard's mutex has its own cache lines.
			s.shards[i].SetBurstAt(time.Time{}, b)
			s.shards[i].SetLimitAt(time.Time{}, limit*rate.Limit(1-r)/rate.Limit(n))
		}
		if r > 0 {
			s.reserved = rate.NewLimiter(limit*rate.Limit(r), max(1, int(math.Ceil(float64(burst)*r))))
		}
		after = max(after, time.Duration(math.Ceil(1/float64(limit)))*time.Second)
	}
	if n := int64(c.maxConcurrent); n > 0 {
		normal := max(1, int64(float64(n)*(1-r)))
		s.maxConc = [3]int64{max(1, normal/2), normal, n}
	}
	for i, p := range []Priority{PriorityLow, PriorityNormal, PriorityCritical} {
		s.errRate[i] = &ShedError{Reason: "rate_limited", Priority: p, After: after}
		s.errOver[i] = &ShedError{Reason: "overloaded", Priority: p, After: time.Second}
	}
	s.b.init(c.component)
	return s, nil
}

// Bind sets the component the shedder reports under, if none is set yet. A
// shedder guards a service and may sit in several pipelines: the first
// binding (or [WithComponent]) wins and later ones are accepted as they are.
func (s *Shedder) Bind(c firebreak.Component) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("failover: shed: %w", err)
	}
	if s.b.comp.Load() != nil {
		return nil
	}
	_ = s.b.bind("shed", c) // a concurrent first binding may win; either is fine
	return nil
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
// ([PriorityFromContext]).
func (s *Shedder) Acquire(ctx context.Context) (Permit, error) {
	return s.Admit(PriorityFromContext(ctx))
}

// Admit admits or sheds a request of priority p. On success the caller must
// call Release on the permit when the request is done.
func (s *Shedder) Admit(p Priority) (Permit, error) {
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
	// Critical calls draw on their reserve first, so that within it they
	// take nothing from the other classes, then on the shared bucket.
	if s.shards != nil && !(idx == 2 && s.reserved != nil && s.reserved.Allow()) && !s.allowShared() {
		permit.Release()
		s.shed(time.Now(), s.errRate[idx])
		return Permit{}, s.errRate[idx]
	}
	if s.firing.Load() {
		s.maybeClear(time.Now())
	}
	return permit, nil
}

// allowShared takes a token from the shared bucket: from a shard picked at
// random, else from the next ones in turn.
func (s *Shedder) allowShared() bool {
	n := uint32(len(s.shards))
	first := rand.Uint32() % n
	for i := range n {
		if s.shards[(first+i)%n].Allow() {
			return true
		}
	}
	return false
}

// paddedLimiter keeps each shard's limiter (and its mutex) on its own cache
// lines.
type paddedLimiter struct {
	rate.Limiter
	_ [64]byte
}

const maxShards = 4

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

func (s *Shedder) shed(now time.Time, e *ShedError) {
	s.m.addPreset(s.m.preset(&s.b, &s.presets, "shed_rate_limited", "shed_overloaded"), "shed_"+e.Reason)
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
		sig := s.b.signal(firebreak.KindLoadShed, true)
		sig.Value = float64(sheds)
		sig.Summary = fmt.Sprintf("%d requests shed over %v (last: %s)", sheds, time.Duration(n-start).Round(time.Second), e.Error())
		s.b.report(sig)
	}
}

func (s *Shedder) maybeClear(now time.Time) {
	n := int64(now.Sub(s.base)) + 1
	if n-s.lastShed.Load() <= s.quiet {
		return
	}
	if s.firing.CompareAndSwap(true, false) {
		s.episode.Store(0)
		sig := s.b.signal(firebreak.KindLoadShed, false)
		sig.Summary = "shedding stopped"
		s.b.report(sig)
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
		permit, err := s.Admit(p)
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

// Shedder returns the shedder the policy admits calls through.
func (p *Shed[T]) Shedder() *Shedder { return p.s }

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
