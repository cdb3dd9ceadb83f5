package failover

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover/internal/event"
)

// Fallback answers a failed call with something useful: the last good result
// of a call with the same key while it is fresh enough ([WithLastGood]), else
// a fallback function or a static value. While fallbacks are being served a
// [firebreak.KindFallbackActive] signal fires (once); it clears with the
// first real result. A caller can learn that its own answer came from the
// fallback with [WithServedRecord] and [Served]. Build one with
// [NewFallback]; it is safe for concurrent use. A pipeline binds it; used on
// its own, bind it with [Fallback.Bind] or its signals go to
// [firebreak.Discard].
type Fallback[T any] struct {
	b firebreak.Binding
	m event.Meter

	fn         func(ctx context.Context, err error) (T, error)
	fallbackIf func(error) bool

	maxAge time.Duration // 0: no last good values
	key    func(context.Context) string
	cache  *lastGood[T] // nil without WithLastGood

	active atomic.Bool // fallback_active is firing
}

var (
	_ firebreak.Policy[int] = (*Fallback[int])(nil)
	_ firebreak.Binder      = (*Fallback[int])(nil)
	_ firebreak.Staged      = (*Fallback[int])(nil)
)

// defaultMaxKeys is how many keys [WithLastGood] keeps a value for unless
// [WithMaxKeys] says otherwise.
const defaultMaxKeys = 1024

// maxMaxKeys is the largest [WithMaxKeys]: the cache is allocated up front,
// and a larger bound would not fit in memory (or in a slice).
const maxMaxKeys = 1 << 24

// Static returns a fallback function that always answers v.
func Static[T any](v T) func(context.Context, error) (T, error) {
	return func(context.Context, error) (T, error) { return v, nil }
}

type fallbackKeyKey struct{}

// WithFallbackKey returns a copy of ctx carrying key, the key under which a
// [Fallback] with [WithLastGood] and [FallbackKey] keeps and serves last good
// values for the call.
func WithFallbackKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, fallbackKeyKey{}, key)
}

// FallbackKey returns the key [WithFallbackKey] put in ctx, or "" (no key).
// Pass it to [WithLastGood] to key last good values by the context.
func FallbackKey(ctx context.Context) string {
	k, _ := ctx.Value(fallbackKeyKey{}).(string)
	return k
}

// SharedLastGood is a key function for [WithLastGood] that gives every call
// the same key: one last good value answers for all calls. Use it only for
// calls that all ask for the same thing.
func SharedLastGood(context.Context) string { return "\x00shared" }

// Source says where a call's answer came from; see [Served].
type Source uint32

// The sources of an answer.
const (
	SourceNone     Source = iota // the call itself, or nothing was recorded
	SourceLastGood               // a last good value kept by WithLastGood
	SourceFallback               // the fallback function
)

// String returns "none", "last_good" or "fallback".
func (s Source) String() string {
	switch s {
	case SourceLastGood:
		return "last_good"
	case SourceFallback:
		return "fallback"
	}
	return "none"
}

type servedKey struct{}

// WithServedRecord returns a copy of ctx in which a [Fallback] records that
// it answered the call, for [Served] to read after the call. Use one per
// call. The record costs the caller two allocations here, and nothing on the
// success path: a Fallback looks for it only when it serves.
func WithServedRecord(ctx context.Context) context.Context {
	return context.WithValue(ctx, servedKey{}, new(atomic.Uint32))
}

// Served reports where the answer to the call made with ctx came from:
// [SourceLastGood] or [SourceFallback] if a Fallback served it, else
// [SourceNone]. ctx must come from [WithServedRecord]; without a record
// Served always says SourceNone.
func Served(ctx context.Context) Source {
	if r, ok := ctx.Value(servedKey{}).(*atomic.Uint32); ok {
		return Source(r.Load())
	}
	return SourceNone
}

// NewFallback returns a fallback policy that answers failed calls with fn,
// which gets the call's error and may return [ErrNoFallback]. fn may be nil
// if [WithLastGood] is given: then a call that fails with no fresh last good
// value for its key returns its error.
func NewFallback[T any](fn func(ctx context.Context, err error) (T, error), opts ...FallbackOption) (*Fallback[T], error) {
	var c fallbackConfig
	if err := apply("NewFallback", opts, func(o FallbackOption) { o.applyFallback(&c) }); err != nil {
		return nil, err
	}
	var errs []error
	if c.lastGoodSet {
		if c.lastGoodMaxAge <= 0 {
			errs = append(errs, fmt.Errorf("failover: NewFallback: WithLastGood maxAge %v must be positive", c.lastGoodMaxAge))
		}
		if c.key == nil {
			errs = append(errs, errors.New("failover: NewFallback: WithLastGood key is nil: pass FallbackKey, a key function of your own, or SharedLastGood"))
		}
	}
	if c.maxKeys < 0 || c.maxKeys > maxMaxKeys {
		errs = append(errs, fmt.Errorf("failover: NewFallback: WithMaxKeys %d must be positive and at most %d", c.maxKeys, maxMaxKeys))
	}
	if fn == nil && !c.lastGoodSet {
		errs = append(errs, errors.New("failover: NewFallback: fn is nil and WithLastGood is not set: there is nothing to fall back on"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := event.NewMeter(scope, "fallback", c.meterProvider)
	if err != nil {
		return nil, fmt.Errorf("failover: NewFallback: %w", err)
	}
	f := &Fallback[T]{m: m, fn: fn, fallbackIf: c.fallbackIf}
	if c.lastGoodSet {
		if c.maxKeys == 0 {
			c.maxKeys = defaultMaxKeys
		}
		f.maxAge, f.key = c.lastGoodMaxAge, c.key
		f.cache = newLastGood[T](c.maxKeys, min(int64(c.lastGoodMaxAge/100), int64(time.Second)), c.lastGoodMaxAge)
	}
	return f, nil
}

// Bind implements [firebreak.Binder]: the first Bind fixes the identity the
// fallback reports under; binding again to the same one does nothing, to
// another is an [*firebreak.AlreadyBoundError].
func (f *Fallback[T]) Bind(c firebreak.Component) error {
	_, err := f.b.Bind("failover: fallback", c)
	return err
}

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
	v, err := next.Pass().Call(ctx) // pass the call's clock reading on
	if err == nil {
		if f.cache != nil {
			if k := f.key(ctx); k != "" {
				f.cache.keep(k, v)
			}
		}
		if f.active.Load() {
			f.clear()
		}
		return v, nil
	}
	return f.fallback(ctx, v, err)
}

func (f *Fallback[T]) fallback(ctx context.Context, v T, err error) (T, error) {
	if isCancellation(ctx, err) || (f.fallbackIf != nil && !f.fallbackIf(err)) {
		return v, err
	}
	if f.cache != nil {
		if k := f.key(ctx); k != "" {
			if last, age, ok := f.cache.get(k, f.maxAge); ok {
				f.served(ctx, SourceLastGood, fmt.Sprintf("last good value (%v old)", age.Round(time.Millisecond)), err)
				return last, nil
			}
		}
	}
	if f.fn == nil {
		return v, err
	}
	fv, ferr := f.fn(ctx, err)
	if errors.Is(ferr, ErrNoFallback) {
		return v, err
	}
	if ferr != nil {
		f.m.Add(&f.b, "fallback_failed")
		return v, &FallbackError{Dependency: f.b.Component().Dependency, Fallback: ferr, Err: err}
	}
	f.served(ctx, SourceFallback, "fallback", err)
	return fv, nil
}

func (f *Fallback[T]) served(ctx context.Context, src Source, what string, err error) {
	if r, ok := ctx.Value(servedKey{}).(*atomic.Uint32); ok {
		r.Store(uint32(src))
	}
	f.m.Add(&f.b, "fallback_served")
	if f.active.CompareAndSwap(false, true) {
		f.report(true, "serving "+what+" in place of failed calls: "+err.Error())
	}
}

func (f *Fallback[T]) clear() {
	if f.active.CompareAndSwap(true, false) {
		f.report(false, "real results are back")
	}
}

// report reports fallback_active as firing or cleared. A change racing
// with this one may have reported between its switch of f.active and this
// report: if f.active is no longer what was just reported, it reports what
// it is, so that the last report always tells the state (else a clearing
// report landing first left the signal firing with no success to clear it).
func (f *Fallback[T]) report(firing bool, summary string) {
	for {
		s := f.b.Signal(firebreak.KindFallbackActive, firing)
		if firing {
			s.Fallback = true
			s.Value = 1
		}
		s.Summary = summary
		f.b.Report(s)
		now := f.active.Load()
		if now == firing {
			return
		}
		firing = now
		summary = "real results are back"
		if firing {
			summary = "serving fallbacks in place of failed calls"
		}
	}
}

// lastGood keeps the last good value per key, at most max keys, split over
// shards by a hash of the key so that parallel callers rarely meet on one
// mutex. Each shard is a CLOCK: a ring of entries with a "used" bit and a
// hand that evicts the first entry not used since it last passed (or too old
// to serve).
type lastGood[T any] struct {
	seed    maphash.Seed
	base    time.Time // origin of the entries' times
	refresh int64     // nanoseconds between refreshes of a key's value
	maxAge  int64     // nanoseconds: older values are evicted first
	mask    uint64
	shards  []lastGoodShard[T]
}

type lastGoodShard[T any] struct {
	mu      sync.Mutex // guards the fields below
	index   map[string]int
	entries []lastGoodEntry[T]
	hand    int
	_       [40]byte // keeps neighbouring shards' mutexes off one cache line
}

type lastGoodEntry[T any] struct {
	key  string
	v    T
	at   int64 // base-relative nanoseconds when v was stored
	used bool
}

func newLastGood[T any](maxKeys int, refresh int64, maxAge time.Duration) *lastGood[T] {
	// Shards of at least 64 keys, so that a small bound is one CLOCK and
	// eviction is as exact as CLOCK gets.
	n := 1
	for n < 16 && n*2*64 <= maxKeys {
		n *= 2
	}
	per := maxKeys / n
	c := &lastGood[T]{seed: maphash.MakeSeed(), base: time.Now(), refresh: refresh, maxAge: int64(maxAge), mask: uint64(n - 1), shards: make([]lastGoodShard[T], n)}
	for i := range c.shards {
		c.shards[i].index = make(map[string]int, per)
		c.shards[i].entries = make([]lastGoodEntry[T], 0, per)
	}
	return c
}

func (c *lastGood[T]) shard(key string) *lastGoodShard[T] {
	return &c.shards[maphash.String(c.seed, key)&c.mask]
}

// keep stores v under key. It never waits: if another goroutine holds the
// shard, this value is skipped (a later success will store one).
func (c *lastGood[T]) keep(key string, v T) {
	now := int64(time.Since(c.base)) // the monotonic clock only: cheaper than time.Now
	s := c.shard(key)
	if !s.mu.TryLock() {
		return
	}
	defer s.mu.Unlock()
	if i, ok := s.index[key]; ok {
		e := &s.entries[i]
		e.used = true
		if now-e.at >= c.refresh {
			e.v, e.at = v, now
		}
		return
	}
	if len(s.entries) < cap(s.entries) {
		s.index[key] = len(s.entries)
		s.entries = append(s.entries, lastGoodEntry[T]{key: key, v: v, at: now})
		return
	}
	if len(s.entries) == 0 {
		return
	}
	for {
		e := &s.entries[s.hand]
		if e.used && now-e.at <= c.maxAge {
			e.used = false
			s.hand = (s.hand + 1) % len(s.entries)
			continue
		}
		delete(s.index, e.key)
		*e = lastGoodEntry[T]{key: key, v: v, at: now}
		s.index[key] = s.hand
		s.hand = (s.hand + 1) % len(s.entries)
		return
	}
}

// get returns the value kept for key if it is at most maxAge old.
func (c *lastGood[T]) get(key string, maxAge time.Duration) (T, time.Duration, bool) {
	now := int64(time.Since(c.base))
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.index[key]; ok {
		e := &s.entries[i]
		if age := time.Duration(now - e.at); age <= maxAge {
			e.used = true
			return e.v, age, true
		}
	}
	var zero T
	return zero, 0, false
}

// len returns how many keys are kept.
func (c *lastGood[T]) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.index)
		s.mu.Unlock()
	}
	return n
}
