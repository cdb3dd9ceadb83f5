package breaker

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"github.com/firebreak-go/firebreak"
)

// Group keeps one [Breaker] per key — per host, tenant or endpoint — so that
// one bad key is isolated without cutting off the others. It keeps at most a
// fixed number of breakers: when a new key arrives at the bound, it evicts one
// chosen by the CLOCK algorithm (an approximation of least recently used:
// every call after the first marks its breaker used; the eviction hand sweeps
// the breakers, clearing marks, and evicts the first unmarked one, so a key
// seen only once is evicted before keys in steady use). An open breaker rejects
// calls, and each rejection marks it used, so a breaker that is isolating a
// busy key is rarely the one evicted; a breaker forced open is evicted only
// when all are. An evicted breaker that was open reports
// a cleared signal, since nothing tracks it any more; the key starts afresh,
// closed, on its next call.
//
// Each breaker is named after its key (prefixed by [WithName] and "/" when
// given) and its signals carry the label "key"; its metrics carry the name,
// so each key seen is a metric series. Keys should therefore come from a
// bounded set (hosts, shards, endpoints), not from user input. Group is safe
// for concurrent use.
type Group[K comparable, T any] struct {
	cfg  config // validated template for the group's breakers
	inst *instruments
	max  int

	// mu guards the fields below. It is never held while a breaker reports.
	mu        sync.RWMutex
	component firebreak.Component
	bound     bool
	index     map[K]int // key → position in ring
	ring      []groupEntry[K, T]
	hand      int // next position the eviction sweep looks at
}

type groupEntry[K comparable, T any] struct {
	key K
	b   *Breaker[T]
}

var (
	_ firebreak.Binder = (*Group[string, int])(nil)
	_ firebreak.Staged = (*Group[string, int])(nil)
)

// NewGroup returns an empty group that keeps at most maxBreakers breakers,
// each configured by opts (see [New]). maxBreakers must be >= 1.
func NewGroup[K comparable, T any](maxBreakers int, opts ...Option) (*Group[K, T], error) {
	cfg := defaultConfig()
	if maxBreakers < 1 {
		cfg.errorf("NewGroup: maxBreakers %d must be >= 1", maxBreakers)
	}
	for _, o := range opts {
		if o == nil {
			cfg.errorf("nil Option")
			continue
		}
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	inst, err := newInstruments(cfg.meter())
	if err != nil {
		return nil, err
	}
	return &Group[K, T]{
		cfg: cfg, inst: inst, max: maxBreakers, component: cfg.component,
		index: make(map[K]int),
	}, nil
}

// Execute runs fn under the breaker for key, creating it if needed; see
// [Breaker.Execute].
func (g *Group[K, T]) Execute(ctx context.Context, key K, fn func(context.Context) (T, error)) (T, error) {
	return execute(g.Breaker(key), ctx, fn)
}

// Breaker returns the breaker for key, creating it (and perhaps evicting
// another) if the group has none. Do not keep it: once evicted it still
// works but no longer reports, and the group makes a new one for the key.
func (g *Group[K, T]) Breaker(key K) *Breaker[T] {
	g.mu.RLock()
	i, ok := g.index[key]
	var b *Breaker[T]
	if ok {
		b = g.ring[i].b
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

func (g *Group[K, T]) add(key K) *Breaker[T] {
	g.mu.Lock()
	if i, ok := g.index[key]; ok {
		b := g.ring[i].b
		g.mu.Unlock()
		b.used.Store(true)
		return b
	}
	cfg := g.cfg
	keyName := fmt.Sprint(key)
	if cfg.name != "" {
		cfg.name += "/" + keyName
	} else {
		cfg.name = keyName
	}
	cfg.labels = maps.Clone(cfg.labels)
	if cfg.labels == nil {
		cfg.labels = make(map[string]string, 1)
	}
	cfg.labels["key"] = keyName
	cfg.component = g.component
	b := newBreaker[T](cfg, g.inst)
	b.bound = g.bound // a new breaker starts unmarked: a key seen once goes first
	var evicted *Breaker[T]
	if len(g.ring) < g.max {
		g.index[key] = len(g.ring)
		g.ring = append(g.ring, groupEntry[K, T]{key: key, b: b})
	} else {
		for step := 0; ; step++ {
			e := &g.ring[g.hand]
			// Skip breakers in use and, for two rounds, breakers forced
			// open: isolation by hand must not lapse because its key went
			// quiet. When every breaker is forced open the bound wins.
			if e.b.used.Load() || e.b.forced.Load() != nil && step < 2*len(g.ring) {
				e.b.used.Store(false)
				g.hand = (g.hand + 1) % len(g.ring)
				continue
			}
			evicted = e.b
			delete(g.index, e.key)
			*e = groupEntry[K, T]{key: key, b: b}
			g.index[key] = g.hand
			g.hand = (g.hand + 1) % len(g.ring)
			break
		}
	}
	g.mu.Unlock()
	if evicted != nil {
		evicted.retire()
	}
	return b
}

// Len returns how many breakers the group keeps now.
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
// Reporter of a pipeline; see [Breaker.Bind].
func (g *Group[K, T]) Bind(c firebreak.Component) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("breaker: Bind: %w", err)
	}
	g.mu.Lock()
	if g.bound && (g.component.Name != c.Name || g.component.Dependency != c.Dependency) {
		g.mu.Unlock()
		return fmt.Errorf("breaker: group Bind: already bound to component %q (dependency %q), not %q (dependency %q)",
			g.component.Name, g.component.Dependency, c.Name, c.Dependency)
	}
	g.bound, g.component = true, c
	breakers := make([]*Breaker[T], 0, len(g.ring))
	for _, e := range g.ring {
		breakers = append(breakers, e.b)
	}
	g.mu.Unlock()
	for _, b := range breakers {
		if err := b.Bind(c); err != nil {
			return err
		}
	}
	return nil
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
	return execute(p.g.Breaker(p.key(ctx)), ctx, next.Call)
}

func (p groupPolicy[K, T]) Bind(c firebreak.Component) error { return p.g.Bind(c) }

func (p groupPolicy[K, T]) Stage() firebreak.Stage { return firebreak.StageBreaker }
