package breaker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/firebreak-go/firebreak"
)

// Group keeps one [Breaker] per key — per host, tenant or endpoint — so that
// one bad key is isolated without cutting off the others.
//
// Its memory is bounded, and the bound never ends isolation:
//
//   - When a new key arrives with maxBreakers breakers kept, the group evicts
//     a clean breaker — closed, not forced, with no failure in its window —
//     chosen by the CLOCK algorithm (an approximation of least recently
//     used: every call marks its breaker used; the eviction hand sweeps the
//     breakers, clearing marks, and takes the first unmarked clean one).
//   - If none is clean, the bound is soft: the group keeps up to
//     2×maxBreakers breakers, so that keys with recent failures keep their
//     counts (at bound 1, two keys failing in turn still trip). Later
//     arrivals evict clean breakers and bring the group back to the bound.
//   - At the hard cap of 2×maxBreakers it evicts the least recently used
//     closed breaker, failures or not.
//   - It never evicts a breaker that is open, half-open or forced open. If
//     the hard cap is reached with none closed, new keys share one overflow
//     breaker (named "overflow", label "overflow"="true") until a slot frees:
//     they are still protected, only together. While it is so, the group
//     looks for a free slot at most once a second, not for every new key.
//
// An evicted breaker was closed, so it reports nothing; a handle kept from
// before the eviction still works: its calls, state, counts, ForceOpen and
// Release go to the group's breaker for the same key, made afresh if needed.
//
// Each breaker is named after its key (prefixed by [WithName] and "/" when
// given) and its signals carry the label "key"; its metrics carry the name,
// so each key seen is a metric series. Keys should therefore come from a
// bounded set (hosts, shards, endpoints), not from user input.
//
// A group is bound like a breaker ([Group.Bind]), and its breakers, present
// and future, take its identity. Unbound, it works and reports to
// [firebreak.Discard]. Group is safe for concurrent use.
type Group[K comparable, T any] struct {
	cfg     config // validated template for the group's breakers
	inst    *instruments
	max     int               // the soft bound; 2×max is the hard cap
	binding firebreak.Binding // the component; the first Bind fixes it

	// mu guards the fields below. It is never held while a breaker reports.
	// Lock order: mu, then a breaker's gobreaker mutex or its mu.
	mu       sync.RWMutex
	index    map[K]int // key → position in ring
	ring     []groupEntry[K, T]
	hand     int             // next position the eviction sweep looks at
	overflow *Breaker[T]     // shared by keys past the hard cap; nil until needed
	spilled  map[K]time.Time // keys now served by overflow → when they last tried for a slot
	// full is when a sweep at the hard cap last found no closed breaker;
	// until spillRetry after it, new keys go to overflow without sweeping
	// the ring again, so that a flood of new keys costs no O(max) sweep
	// each under mu. Zero when not known full.
	full time.Time
	// comp is the bound component, shared by the identities of the
	// breakers made after the group was bound; nil until the first.
	comp *firebreak.Component
}

// spillRetry is how often a key served by the overflow breaker tries again
// for a breaker of its own: each try sweeps the ring.
const spillRetry = time.Second

type groupEntry[K comparable, T any] struct {
	key K
	b   *Breaker[T]
}

var (
	_ firebreak.Binder = (*Group[string, int])(nil)
	_ firebreak.Staged = (*Group[string, int])(nil)
)

// NewGroup returns an empty group that keeps maxBreakers breakers (up to
// 2×maxBreakers while breakers have recent failures; see [Group]), each
// configured by opts (see [New]). maxBreakers must be >= 1. The group is
// unbound: a pipeline binds it, or its user with [Group.Bind].
func NewGroup[K comparable, T any](maxBreakers int, opts ...Option) (*Group[K, T], error) {
	cfg := defaultConfig()
	if maxBreakers < 1 {
		cfg.errorf("NewGroup: maxBreakers %d must be >= 1", maxBreakers)
	}
	cfg, inst, err := configure("NewGroup", cfg, opts)
	if err != nil {
		return nil, err
	}
	return &Group[K, T]{cfg: cfg, inst: inst, max: maxBreakers, index: make(map[K]int)}, nil
}

// Execute runs fn under the breaker for key, creating it if needed; see
// [Breaker.Execute].
func (g *Group[K, T]) Execute(ctx context.Context, key K, fn func(context.Context) (T, error)) (T, error) {
	return execute(g.Breaker(key), ctx, 0, fn)
}

// Breaker returns the breaker for key, creating it (and perhaps evicting
// another) if the group has none. A handle may be kept: after an eviction it
// acts on the group's breaker for the same key.
func (g *Group[K, T]) Breaker(key K) *Breaker[T] {
	g.mu.RLock()
	i, ok := g.index[key]
	var b *Breaker[T]
	if ok {
		b = g.ring[i].b
	} else if g.spilled != nil {
		if t, spilled := g.spilled[key]; spilled && time.Since(t) < spillRetry {
			b, ok = g.overflow, true
		}
	}
	g.mu.RUnlock()
	if ok {
		if !b.used.Load() {
			b.used.Store(true)
		}
		return b
	}
	return g.add(key)
}

// newKeyBreaker makes the breaker for key, with signal label l (a label
// rather than a map: a one-entry map costs 270 B a breaker). g.mu is held.
func (g *Group[K, T]) newKeyBreaker(key K, keyName string, l label) *Breaker[T] {
	name := keyName
	if g.cfg.name != "" {
		name = g.cfg.name + "/" + keyName
	}
	// The breakers share the group's config (190 B a breaker) and, once
	// the group is bound, its binding and component (150 B).
	var b *Breaker[T]
	if g.binding.Bound() {
		if g.comp == nil {
			c := g.binding.Component()
			g.comp = &c
		}
		b = newBreaker[T](&g.cfg, name, l, g.inst, &g.binding, g.comp)
	} else {
		b = newBreaker[T](&g.cfg, name, l, g.inst, new(firebreak.Binding), nil)
	}
	b.successor = func() *Breaker[T] { return g.Breaker(key) }
	return b
}

func (g *Group[K, T]) add(key K) *Breaker[T] {
	g.mu.Lock()
	if i, ok := g.index[key]; ok {
		b := g.ring[i].b
		g.mu.Unlock()
		b.used.Store(true)
		return b
	}
	var touched, evicted []*Breaker[T]
	defer func() {
		// Outside g.mu: report what eviction queued (an open breaker that
		// turned half-open when looked at; a gauge leaving an evicted one).
		for _, b := range touched {
			b.flush()
		}
		for _, b := range evicted {
			b.flush()
		}
	}()
	keyName := keyString(key)
	if len(g.ring) >= 2*g.max && !g.full.IsZero() && time.Since(g.full) < spillRetry {
		b := g.overflowLocked(key)
		g.mu.Unlock()
		return b
	}
	if len(g.ring) >= g.max {
		if i := g.sweep(&touched, true, -1); i >= 0 {
			evicted = append(evicted, g.ring[i].b)
			delete(g.index, g.ring[i].key)
			b := g.place(i, key, keyName)
			// Over the bound (kept past it for failures): shrink by one
			// more clean breaker, if there is one.
			if len(g.ring) > g.max {
				if j := g.sweep(&touched, true, i); j >= 0 {
					evicted = append(evicted, g.ring[j].b)
					g.remove(j)
				}
			}
			g.mu.Unlock()
			return b
		}
		if len(g.ring) >= 2*g.max {
			i := g.sweep(&touched, false, -1)
			if i < 0 {
				g.full = time.Now()
				b := g.overflowLocked(key)
				g.mu.Unlock()
				return b
			}
			evicted = append(evicted, g.ring[i].b)
			delete(g.index, g.ring[i].key)
			b := g.place(i, key, keyName)
			g.mu.Unlock()
			return b
		}
	}
	g.ring = append(g.ring, groupEntry[K, T]{})
	b := g.place(len(g.ring)-1, key, keyName)
	g.mu.Unlock()
	return b
}

// keyString returns key as the breaker names it: the key itself if it is a
// string (no copy), else as fmt prints it.
func keyString[K comparable](key K) string {
	if s, ok := any(key).(string); ok {
		return s
	}
	return fmt.Sprint(key)
}

// place puts a new breaker for key at ring position i. g.mu is held.
func (g *Group[K, T]) place(i int, key K, keyName string) *Breaker[T] {
	// A new breaker starts unmarked: a key seen once goes first.
	b := g.newKeyBreaker(key, keyName, label{"key", keyName})
	g.ring[i] = groupEntry[K, T]{key: key, b: b}
	g.index[key] = i
	delete(g.spilled, key)
	return b
}

// remove takes ring position i out, moving the last entry there. g.mu is
// held.
func (g *Group[K, T]) remove(i int) {
	delete(g.index, g.ring[i].key)
	last := len(g.ring) - 1
	if i != last {
		g.ring[i] = g.ring[last]
		g.index[g.ring[i].key] = i
	}
	g.ring[last] = groupEntry[K, T]{}
	g.ring = g.ring[:last]
	if g.hand >= len(g.ring) {
		g.hand = 0
	}
}

// sweep runs the CLOCK hand over the ring for an evictable breaker — a clean
// one if clean is true, else any closed one — retires it and returns its
// position, or -1 if there is none. Position skip (the breaker just placed)
// is passed over. Marked breakers are passed over once
// (the sweep clears their mark). Breakers it looked at go to touched, to be
// flushed outside g.mu. g.mu is held.
func (g *Group[K, T]) sweep(touched *[]*Breaker[T], clean bool, skip int) int {
	n := len(g.ring)
	for step := 0; step < 2*n; step++ {
		i := g.hand
		g.hand = (g.hand + 1) % n
		b := g.ring[i].b
		if i == skip {
			continue
		}
		if b.used.Load() && step < n {
			b.used.Store(false)
			continue
		}
		closed, isClean := b.evictable()
		if b.npending.Load() != 0 {
			*touched = append(*touched, b)
		}
		if closed && (isClean || !clean) && b.retireClosed() {
			return i
		}
	}
	return -1
}

// overflowLocked returns the breaker shared by keys the group has no room
// for. g.mu is held.
func (g *Group[K, T]) overflowLocked(key K) *Breaker[T] {
	if g.overflow == nil {
		b := g.newKeyBreaker(key, "overflow", label{"overflow", "true"})
		b.successor = nil
		g.overflow = b
	}
	if g.spilled == nil || len(g.spilled) >= 4*g.max {
		g.spilled = make(map[K]time.Time) // bounded: forgotten keys just try again
	}
	g.spilled[key] = time.Now()
	return g.overflow
}

// Len returns how many breakers the group keeps now, not counting the
// overflow breaker: at most 2×maxBreakers.
func (g *Group[K, T]) Len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.ring)
}

// Keys returns the keys the group keeps breakers for, in no particular order.
func (g *Group[K, T]) Keys() []K {
	g.mu.RLock()
	defer g.mu.RUnlock()
	keys := make([]K, 0, len(g.ring))
	for _, e := range g.ring {
		keys = append(keys, e.key)
	}
	return keys
}

// Stage places the group in a pipeline's default order, like a [Breaker].
func (g *Group[K, T]) Stage() firebreak.Stage { return firebreak.StageBreaker }

// Bind gives the group's breakers, present and future, the identity and
// Reporter of the component it protects, under the rule of [Breaker.Bind]:
// the first Bind fixes the identity, binding again to the same one does
// nothing, and binding to another is an [*firebreak.AlreadyBoundError].
func (g *Group[K, T]) Bind(c firebreak.Component) error {
	first, err := g.binding.Bind(g.policyName(), c)
	if err != nil || !first {
		return err
	}
	// Breakers made from here on are bound when made (newKeyBreaker reads
	// the binding under g.mu); bind those made before.
	g.mu.RLock()
	breakers := make([]*Breaker[T], 0, len(g.ring)+1)
	for _, e := range g.ring {
		breakers = append(breakers, e.b)
	}
	if g.overflow != nil {
		breakers = append(breakers, g.overflow)
	}
	g.mu.RUnlock()
	c = g.binding.Component()
	var errs []error
	for _, b := range breakers {
		if err := b.Bind(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// policyName names the group in errors: `breaker group "name"`, or
// `breaker group` without [WithName].
func (g *Group[K, T]) policyName() string {
	if g.cfg.name == "" {
		return "breaker group"
	}
	return "breaker group " + strconv.Quote(g.cfg.name)
}

// Policy returns the group as a pipeline policy: each call runs under the
// breaker for the key that key derives from its context (the host or tenant
// the caller put there). key must be safe for concurrent use.
func (g *Group[K, T]) Policy(key func(ctx context.Context) K) firebreak.Policy[T] {
	return groupPolicy[K, T]{g: g, key: key}
}

// groupPolicy is a Group used as a pipeline policy.
type groupPolicy[K comparable, T any] struct {
	g   *Group[K, T]
	key func(context.Context) K
}

func (p groupPolicy[K, T]) Apply(ctx context.Context, next firebreak.Next[T]) (T, error) {
	return execute(p.g.Breaker(p.key(ctx)), ctx, next.Now(), next.Call)
}

func (p groupPolicy[K, T]) Bind(c firebreak.Component) error { return p.g.Bind(c) }

func (p groupPolicy[K, T]) Stage() firebreak.Stage { return firebreak.StageBreaker }
