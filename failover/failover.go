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
)

// Endpoint is one place a dependency can be reached: a primary or a standby.
type Endpoint struct {
	// Name identifies the endpoint in signals and metrics, e.g. "db-primary".
	// Required and unique.
	Name string
	// Healthy, if set, is consulted before each call: an endpoint it calls
	// unhealthy is skipped while others are available. It must be cheap — a
	// read of a health checker's cached status, not a probe.
	Healthy func() bool
}

// Failover sends each call to the first available endpoint in priority order
// (the first given is the primary) and, when that endpoint fails, to the next
// one within the same call. Endpoints that fail repeatedly are ejected for a
// while (passive outlier detection); endpoints whose health function says
// unhealthy are skipped. When every endpoint is ejected or unhealthy, they
// are tried anyway, in order, rather than failing without trying.
//
// When a standby starts serving, a [firebreak.KindFailover] signal fires; it
// clears when the primary serves again. Build one with [NewFailover]; it is
// safe for concurrent use. As a pipeline policy it hands the chosen endpoint
// down in the context, which costs one allocation per attempt. A pipeline
// binds it; used on its own, bind it with [Failover.Bind] or its signals go
// to [firebreak.Discard].
//
// A Failover never refuses a call locally: when every endpoint it tried
// failed, the error is an [*UnavailableError] wrapping the last endpoint's
// failure, never a [firebreak.Rejecter].
type Failover[T any] struct {
	b firebreak.Binding
	m event.Meter

	eps        []endpointState
	ejectAfter int32
	ejectFor   time.Duration
	maxEjected int
	failoverIf func(error) bool
	base       time.Time // origin of ejectedUntil

	mu      sync.Mutex   // serialises ejections, so the ejected share is checked and changed at once
	serving atomic.Int32 // the endpoint that served the last successful call

	outlier *outliers // statistical outlier ejection (outlier.go); nil without WithOutlierEjection
}

type endpointState struct {
	Endpoint
	consecutive  atomic.Int32
	ejectedUntil atomic.Int64 // base-relative nanoseconds; 0: in rotation
}

var (
	_ firebreak.Policy[int] = (*Failover[int])(nil)
	_ firebreak.Binder      = (*Failover[int])(nil)
	_ firebreak.Staged      = (*Failover[int])(nil)
)

// NewFailover returns a failover policy over endpoints, primary first. By
// default an endpoint that fails 5 calls in a row is ejected for 30s, with at
// most half of the endpoints (and at least one) out at once.
func NewFailover[T any](endpoints []Endpoint, opts ...FailoverOption) (*Failover[T], error) {
	c := failoverConfig{ejectAfter: 5, ejectFor: 30 * time.Second, maxEjected: 0.5}
	if err := apply("NewFailover", opts, func(o FailoverOption) { o.applyFailover(&c) }); err != nil {
		return nil, err
	}
	if c.ejectAfter == 0 {
		c.ejectAfter = 5
	}
	if c.ejectFor == 0 {
		c.ejectFor = 30 * time.Second
	}
	if c.maxEjected == 0 && !c.maxEjectedOn {
		c.maxEjected = 0.5
	}
	var errs []error
	if len(endpoints) == 0 {
		errs = append(errs, errors.New("failover: NewFailover: endpoints is empty"))
	}
	if len(endpoints) > 64 {
		errs = append(errs, fmt.Errorf("failover: NewFailover: %d endpoints, at most 64 are supported", len(endpoints)))
	}
	seen := map[string]bool{}
	for i, e := range endpoints {
		if e.Name == "" {
			errs = append(errs, fmt.Errorf("failover: NewFailover: endpoints[%d].Name is empty", i))
		} else if seen[e.Name] {
			errs = append(errs, fmt.Errorf("failover: NewFailover: endpoints[%d].Name %q is a duplicate", i, e.Name))
		}
		seen[e.Name] = true
	}
	if c.ejectAfter < 0 || c.ejectAfter > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("failover: NewFailover: WithEjection consecutive %d must be positive and at most %d", c.ejectAfter, math.MaxInt32))
	}
	if c.ejectFor < 0 {
		errs = append(errs, fmt.Errorf("failover: NewFailover: WithEjection ejectFor %v must be positive", c.ejectFor))
	}
	if !(c.maxEjected >= 0 && c.maxEjected <= 1) { // NaN included
		errs = append(errs, fmt.Errorf("failover: NewFailover: WithEjection maxShare %v must be between 0 and 1", c.maxEjected))
	}
	if c.outlier != nil {
		if err := c.outlier.defaults(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := event.NewMeter(scope, "failover", c.meterProvider)
	if err != nil {
		return nil, fmt.Errorf("failover: NewFailover: %w", err)
	}
	f := &Failover[T]{
		m: m, eps: make([]endpointState, len(endpoints)),
		ejectAfter: int32(c.ejectAfter), ejectFor: c.ejectFor, failoverIf: c.failoverIf,
		maxEjected: max(1, int(c.maxEjected*float64(len(endpoints)))), base: time.Now(),
	}
	for i, e := range endpoints {
		f.eps[i].Endpoint = e
	}
	if c.outlier != nil {
		f.outlier = newOutliers(*c.outlier, len(endpoints))
	}
	return f, nil
}

// Bind implements [firebreak.Binder]: the first Bind fixes the identity the
// failover reports under; binding again to the same one does nothing, to
// another is an [*firebreak.AlreadyBoundError].
func (f *Failover[T]) Bind(c firebreak.Component) error {
	_, err := f.b.Bind("failover: failover", c)
	return err
}

// Stage implements [firebreak.Staged]: failover runs with the breaker, inside
// retries, so that a retry starts again from the best endpoint.
func (f *Failover[T]) Stage() firebreak.Stage { return firebreak.StageBreaker }

type endpointKey struct{}

// EndpointFromContext returns the endpoint a [Failover] chose for the call
// that received ctx.
func EndpointFromContext(ctx context.Context) (Endpoint, bool) {
	e, ok := ctx.Value(endpointKey{}).(*Endpoint)
	if !ok {
		return Endpoint{}, false
	}
	return *e, true
}

// Execute runs fn against one endpoint after another until one succeeds, for
// use without a pipeline.
func (f *Failover[T]) Execute(ctx context.Context, fn func(ctx context.Context, e Endpoint) (T, error)) (T, error) {
	return f.run(ctx, func(ctx context.Context, i int) (T, error) { return fn(ctx, f.eps[i].Endpoint) })
}

// Apply implements [firebreak.Policy]: the rest of the pipeline finds the
// chosen endpoint with [EndpointFromContext].
func (f *Failover[T]) Apply(ctx context.Context, next firebreak.Next[T]) (T, error) {
	return f.run(ctx, func(ctx context.Context, i int) (T, error) {
		return next.Call(context.WithValue(ctx, endpointKey{}, &f.eps[i].Endpoint))
	})
}

func (f *Failover[T]) run(ctx context.Context, call func(context.Context, int) (T, error)) (T, error) {
	var (
		tried uint64
		v     T
		err   error
		names []string
	)
	if f.outlier != nil {
		f.outlierTick()
	}
	for {
		i := f.pick(tried)
		if i < 0 {
			return v, &UnavailableError{Endpoints: names, Err: err}
		}
		tried |= 1 << i
		v, err = call(ctx, i)
		if err == nil {
			f.succeeded(i)
			return v, nil
		}
		if isCancellation(ctx, err) || (f.failoverIf != nil && !f.failoverIf(err)) {
			return v, err
		}
		f.failed(i)
		names = append(names, f.eps[i].Name)
	}
}

// pick returns the first endpoint not yet tried that is in rotation and
// healthy, else the first not yet tried, else -1. It reads the clock only if
// an endpoint is ejected.
func (f *Failover[T]) pick(tried uint64) int {
	fallback := -1
	now := int64(-1) // base-relative nanoseconds, read when first needed
	for i := range f.eps {
		if tried&(1<<i) != 0 {
			continue
		}
		if f.available(i, &now) {
			return i
		}
		if fallback < 0 {
			fallback = i
		}
	}
	return fallback
}

func (f *Failover[T]) available(i int, now *int64) bool {
	e := &f.eps[i]
	if until := e.ejectedUntil.Load(); until != 0 {
		if *now < 0 {
			*now = int64(time.Since(f.base))
		}
		if *now < until {
			return false
		}
		if e.ejectedUntil.CompareAndSwap(until, 0) {
			e.consecutive.Store(0)
			f.m.Add(&f.b, "readmitted")
		}
	}
	return e.Healthy == nil || e.Healthy()
}

func (f *Failover[T]) succeeded(i int) {
	if f.outlier != nil {
		f.outlier.record(i, true)
	}
	e := &f.eps[i]
	if e.consecutive.Load() != 0 {
		e.consecutive.Store(0)
	}
	prev := f.serving.Load()
	if prev == int32(i) || !f.serving.CompareAndSwap(prev, int32(i)) {
		return
	}
	f.m.Add(&f.b, "switched")
	cur := int32(i)
	for {
		s := f.b.Signal(firebreak.KindFailover, cur != 0)
		s.Value = float64(cur)
		if cur != 0 {
			s.Fallback = true
			s.Summary = fmt.Sprintf("traffic moved from %s to standby %s", f.eps[prev].Name, f.eps[cur].Name)
		} else {
			s.Summary = fmt.Sprintf("traffic back on primary %s", f.eps[cur].Name)
		}
		f.b.Report(s)
		// A switch racing with this one may have reported between this
		// one's swap and its report: if another endpoint serves now, report
		// it, so that the last report always tells who serves (else the
		// signal could stay firing while the primary serves).
		now := f.serving.Load()
		if now == cur {
			return
		}
		prev, cur = cur, now
	}
}

func (f *Failover[T]) failed(i int) {
	if f.outlier != nil {
		f.outlier.record(i, false)
	}
	e := &f.eps[i]
	if e.consecutive.Add(1) < f.ejectAfter || e.ejectedUntil.Load() != 0 {
		return
	}
	now := int64(time.Since(f.base))
	f.mu.Lock()
	out := 0
	for j := range f.eps {
		if u := f.eps[j].ejectedUntil.Load(); u != 0 && u > now {
			out++
		}
	}
	ejected := out < f.maxEjected && e.ejectedUntil.CompareAndSwap(0, ejectionEnd(now, f.ejectFor))
	f.mu.Unlock()
	if ejected {
		f.m.Add(&f.b, "ejected")
	}
}

// ejectionEnd returns now+d, base-relative nanoseconds, saturated at the
// largest: an ejection of about the largest Duration must not wrap into the
// past and readmit the endpoint at once.
func ejectionEnd(now int64, d time.Duration) int64 {
	if int64(d) > math.MaxInt64-now {
		return math.MaxInt64
	}
	return now + int64(d)
}

// EndpointStatus is a snapshot of one endpoint, for status pages and tests.
type EndpointStatus struct {
	Name                string
	Ejected             bool      // out of rotation after repeated failures
	EjectedUntil        time.Time // when it comes back; zero when in rotation
	ConsecutiveFailures int       // failed calls in a row
	Healthy             bool      // the health function's answer; true without one
}

// Status returns a snapshot of the endpoints, primary first.
func (f *Failover[T]) Status() []EndpointStatus {
	now := time.Now()
	out := make([]EndpointStatus, len(f.eps))
	for i := range f.eps {
		e := &f.eps[i]
		s := EndpointStatus{Name: e.Name, ConsecutiveFailures: int(e.consecutive.Load()), Healthy: e.Healthy == nil || e.Healthy()}
		if u := e.ejectedUntil.Load(); u != 0 && int64(now.Sub(f.base)) < u {
			s.Ejected = true
			s.EjectedUntil = f.base.Add(time.Duration(u))
		}
		out[i] = s
	}
	return out
}
