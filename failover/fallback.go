package failover

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
)

// Fallback answers a failed call with something useful: the last good result
// while it is fresh enough, else a fallback function or a static value. While
// fallbacks are being served a [firebreak.KindFallbackActive] signal fires
// (once); it clears with the first real result. Build one with
// [NewFallback]; it is safe for concurrent use.
type Fallback[T any] struct {
	b binding
	m meter

	fn         func(ctx context.Context, err error) (T, error)
	fallbackIf func(error) bool

	maxAge  time.Duration // 0: no last good value
	refresh int64         // nanoseconds between refreshes of the kept value
	base    time.Time     // origin of lastAt
	lastAt  atomic.Int64  // base-relative nanoseconds (+1) when last was stored; 0: never

	mu       sync.Mutex // guards last and lastTime
	last     T
	lastTime time.Time

	active atomic.Bool // fallback_active is firing
}

var (
	_ firebreak.Policy[int] = (*Fallback[int])(nil)
	_ firebreak.Binder      = (*Fallback[int])(nil)
	_ firebreak.Staged      = (*Fallback[int])(nil)
)

// Static returns a fallback function that always answers v.
func Static[T any](v T) func(context.Context, error) (T, error) {
	return func(context.Context, error) (T, error) { return v, nil }
}

// NewFallback returns a fallback policy that answers failed calls with fn,
// which gets the call's error. fn may be nil if [WithLastGood] is given: then
// a call that fails with no fresh last good value returns its error.
func NewFallback[T any](fn func(ctx context.Context, err error) (T, error), opts ...FallbackOption) (*Fallback[T], error) {
	var c fallbackConfig
	for _, o := range opts {
		if o != nil {
			o.applyFallback(&c)
		}
	}
	if c.lastGoodMaxAge < 0 {
		return nil, fmt.Errorf("failover: NewFallback: WithLastGood maxAge %v must be positive", c.lastGoodMaxAge)
	}
	if fn == nil && c.lastGoodMaxAge == 0 {
		return nil, errors.New("failover: NewFallback: fn is nil and WithLastGood is not set: there is nothing to fall back on")
	}
	m, err := newMeter("fallback", c.meterProvider)
	if err != nil {
		return nil, err
	}
	f := &Fallback[T]{m: m, fn: fn, fallbackIf: c.fallbackIf, maxAge: c.lastGoodMaxAge, base: time.Now()}
	if f.maxAge > 0 {
		f.refresh = min(int64(f.maxAge/100), int64(time.Second))
	}
	f.b.init(c.component)
	return f, nil
}

// Bind implements [firebreak.Binder].
func (f *Fallback[T]) Bind(c firebreak.Component) error { return f.b.bind("fallback", c) }

// Stage implements [firebreak.Staged]: [firebreak.StageFallback].
func (f *Fallback[T]) Stage() firebreak.Stage { return firebreak.StageFallback }

// Execute runs fn under the policy, for use without a pipeline.
func (f *Fallback[T]) Execute(ctx context.Context, fn firebreak.Func[T]) (T, error) {
	return f.Apply(ctx, firebreak.Call(fn))
}

// Active reports whether fallbacks are being served: the last call failed and
// got a fallback.
func (f *Fallback[T]) Active() bool { return f.active.Load() }

// Apply implements [firebreak.Policy].
func (f *Fallback[T]) Apply(ctx context.Context, next firebreak.Next[T]) (T, error) {
	v, err := next.Call(ctx)
	if err == nil {
		if f.maxAge > 0 {
			f.keep(v)
		}
		if f.active.Load() {
			f.clear()
		}
		return v, nil
	}
	return f.fallback(ctx, v, err)
}

// keep stores v as the last good value unless one was stored less than
// refresh ago or another goroutine is storing one right now.
func (f *Fallback[T]) keep(v T) {
	since := time.Since(f.base) // the monotonic clock only: cheaper than time.Now
	n := int64(since) + 1
	if at := f.lastAt.Load(); at != 0 && n-at < f.refresh {
		return
	}
	if !f.mu.TryLock() {
		return
	}
	f.last, f.lastTime = v, f.base.Add(since)
	f.lastAt.Store(n)
	f.mu.Unlock()
}

func (f *Fallback[T]) fallback(ctx context.Context, v T, err error) (T, error) {
	if isCancellation(ctx, err) || (f.fallbackIf != nil && !f.fallbackIf(err)) {
		return v, err
	}
	if f.maxAge > 0 {
		f.mu.Lock()
		last, at := f.last, f.lastTime
		f.mu.Unlock()
		if !at.IsZero() {
			if age := time.Since(at); age <= f.maxAge {
				f.served(fmt.Sprintf("last good value (%v old)", age.Round(time.Millisecond)), err)
				return last, nil
			}
		}
	}
	if f.fn == nil {
		return v, err
	}
	fv, ferr := f.fn(ctx, err)
	if ferr != nil {
		f.m.add(&f.b, "fallback_failed")
		return v, fmt.Errorf("failover: fallback failed: %w (call failed: %w)", ferr, err)
	}
	f.served("fallback", err)
	return fv, nil
}

func (f *Fallback[T]) served(source string, err error) {
	f.m.add(&f.b, "fallback_served")
	if f.active.CompareAndSwap(false, true) {
		s := f.b.signal(firebreak.KindFallbackActive, true)
		s.Fallback = true
		s.Value = 1
		s.Summary = "serving " + source + " in place of failed calls: " + err.Error()
		f.b.report(s)
	}
}

func (f *Fallback[T]) clear() {
	if f.active.CompareAndSwap(true, false) {
		s := f.b.signal(firebreak.KindFallbackActive, false)
		s.Summary = "real results are back"
		f.b.report(s)
	}
}
