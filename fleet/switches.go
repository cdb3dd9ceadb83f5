package fleet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover"
)

// Isolator is what [Switches] drive on each replica to isolate a
// dependency: a [github.com/firebreak-go/firebreak/breaker.Breaker] has
// these methods.
type Isolator interface {
	ForceOpen(reason string) error
	Release(reason string) error
}

// Moder is what [Switches] drive on each replica to degrade the service: a
// [failover.Degrader] has these methods.
type Moder interface {
	SetMode(m failover.Mode, reason string) error
	Kill(name, reason string) error
	Restore(name, reason string) error
}

// Switches make isolation and degradation fleet-wide. A person's
// [Switches.ForceOpen], [Switches.Release], [Switches.SetMode],
// [Switches.Kill] or [Switches.Restore] on one replica applies there at
// once and, through one Redis hash, on every replica within about the poll
// interval: each replica's Switches read the hash and call the registered
// breakers' and degraders' own methods. The call path of a breaker or a
// gate never touches Redis, and no lock is held around anybody's call.
//
// Fleet-wide open is by hand: a breaker that trips on its own stays the
// replica's (each replica learns from its own calls); forcing it open
// through Switches isolates the dependency on all. A switch set while
// Redis fails applies on this replica, and is shared when Redis answers
// (the call returns an error wrapping [ErrPending]). Last writer wins.
//
// NewSwitches starts nothing; [Switches.Start] starts the poll and
// [Switches.Close] stops it. Safe for concurrent use.
type Switches struct {
	s     *Store
	every time.Duration
	key   string

	mu        sync.Mutex // guards everything below; never held while calling a breaker, a degrader or Redis
	breakers  map[string][]Isolator
	degraders []Moder
	applied   map[string]string // field → value applied here
	pending   map[string]string // field → value to write; "" deletes
	sets      uint64            // switches set here, so that a poll read before one is dropped
	queue     []switchCall      // applied values whose calls are still to make, in order
	draining  bool              // somebody is making the queue's calls
	started   bool
	closed    bool
	stop      chan struct{}
	done      chan struct{}
	errs      int64
}

// The fields of the switches hash.
const (
	fieldMode    = "mode"
	breakerField = "breaker:"
	killField    = "kill:"
)

// NewSwitches returns the fleet's switches in s.
func NewSwitches(s *Store, opts ...SwitchesOption) (*Switches, error) {
	c := config{every: 200 * time.Millisecond}
	var errs []error
	for i, o := range opts {
		if o == nil {
			errs = append(errs, fmt.Errorf("fleet: NewSwitches: option %d is nil", i))
			continue
		}
		o.applySwitches(&c)
	}
	if s == nil {
		errs = append(errs, errors.New("fleet: NewSwitches: store is nil"))
	}
	if c.every < 10*time.Millisecond || c.every > 10*time.Second {
		errs = append(errs, fmt.Errorf("fleet: WithPollInterval: must be between 10ms and 10s, got %v", c.every))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Switches{s: s, every: c.every, key: s.keyName("switches"),
		breakers: map[string][]Isolator{}, applied: map[string]string{}, pending: map[string]string{},
		stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// Breaker registers b under name: the fleet's ForceOpen and Release of
// name drive it. Several breakers may share a name (one per pipeline of
// the same dependency). A breaker registered while name is forced open
// here is forced open at once.
func (w *Switches) Breaker(name string, b Isolator) error {
	if name == "" || b == nil {
		return fmt.Errorf("fleet: Switches.Breaker: a name and a breaker are required (got %q, %v)", name, b)
	}
	w.mu.Lock()
	w.breakers[name] = append(w.breakers[name], b)
	// A breaker registered after its switch was applied here gets it too.
	if v, ok := w.applied[breakerField+name]; ok {
		w.queue = append(w.queue, switchCall{field: breakerField + name, value: v, only: b})
	}
	w.drainLocked()
	return nil
}

// Degrader registers d: the fleet's SetMode, Kill and Restore drive it. A
// degrader registered late is set to the mode and kills applied here.
func (w *Switches) Degrader(d Moder) error {
	if d == nil {
		return errors.New("fleet: Switches.Degrader: degrader is nil")
	}
	w.mu.Lock()
	w.degraders = append(w.degraders, d)
	// A degrader registered after switches were applied here gets them too.
	for _, f := range slices.Sorted(maps.Keys(w.applied)) {
		if f == fieldMode || strings.HasPrefix(f, killField) {
			w.queue = append(w.queue, switchCall{field: f, value: w.applied[f], onlyD: d})
		}
	}
	w.drainLocked()
	return nil
}

// ForceOpen isolates the dependency name on every replica.
func (w *Switches) ForceOpen(ctx context.Context, name, reason string) error {
	if name == "" || reason == "" {
		return errors.New("fleet: Switches.ForceOpen: a name and a reason are required")
	}
	return w.set(ctx, breakerField+name, "open\x00"+reason)
}

// Release ends a fleet-wide ForceOpen of name on every replica.
func (w *Switches) Release(ctx context.Context, name, reason string) error {
	if name == "" || reason == "" {
		return errors.New("fleet: Switches.Release: a name and a reason are required")
	}
	return w.set(ctx, breakerField+name, "closed\x00"+reason)
}

// SetMode sets the degradation mode chosen by hand on every replica.
func (w *Switches) SetMode(ctx context.Context, m failover.Mode, reason string) error {
	if m < failover.ModeNormal || m > failover.ModeMinimal || reason == "" {
		return fmt.Errorf("fleet: Switches.SetMode: a valid mode and a reason are required (got %d, %q)", int(m), reason)
	}
	return w.set(ctx, fieldMode, strconv.Itoa(int(m))+"\x00"+reason)
}

// Kill switches feature off on every replica.
func (w *Switches) Kill(ctx context.Context, feature, reason string) error {
	if feature == "" || reason == "" {
		return errors.New("fleet: Switches.Kill: a feature and a reason are required")
	}
	return w.set(ctx, killField+feature, "off\x00"+reason)
}

// Restore switches feature back on on every replica.
func (w *Switches) Restore(ctx context.Context, feature, reason string) error {
	if feature == "" || reason == "" {
		return errors.New("fleet: Switches.Restore: a feature and a reason are required")
	}
	return w.set(ctx, killField+feature, "on\x00"+reason)
}

// set applies field=value here, then writes it.
func (w *Switches) set(ctx context.Context, field, value string) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return fmt.Errorf("fleet: Switches: %w", firebreak.ErrClosed)
	}
	w.pending[field] = value
	w.sets++
	w.mu.Unlock()
	w.apply(map[string]string{field: value}, true, 0)
	if err := w.flush(ctx); err != nil {
		return fmt.Errorf("fleet: Switches: %w (%v)", ErrPending, err)
	}
	return nil
}

// flush writes the pending switches in one call, and refreshes the hash's
// TTL.
func (w *Switches) flush(ctx context.Context) error {
	w.mu.Lock()
	if len(w.pending) == 0 {
		w.mu.Unlock()
		return nil
	}
	batch := maps.Clone(w.pending)
	w.mu.Unlock()
	ctx, cancel := w.s.call(ctx)
	defer cancel()
	_, err := w.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for f, v := range batch {
			p.HSet(ctx, w.key, f, v)
		}
		p.PExpire(ctx, w.key, w.s.ttl)
		return nil
	})
	if err != nil {
		w.count()
		return err
	}
	w.mu.Lock()
	for f, v := range batch {
		if w.pending[f] == v {
			delete(w.pending, f)
		}
	}
	w.mu.Unlock()
	return nil
}

func (w *Switches) count() {
	w.mu.Lock()
	w.errs++
	w.mu.Unlock()
}

// poll reads the hash and applies what changed.
func (w *Switches) poll(ctx context.Context) error {
	if err := w.flush(ctx); err != nil {
		return err
	}
	w.mu.Lock()
	seen := w.sets
	w.mu.Unlock()
	ctx, cancel := w.s.call(ctx)
	defer cancel()
	var get *redis.MapStringStringCmd
	_, err := w.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.HGetAll(ctx, w.key)
		p.PExpire(ctx, w.key, w.s.ttl) // a switch lasts while a replica reads it
		return nil
	})
	if err != nil {
		w.count()
		return err
	}
	w.apply(get.Val(), false, seen)
	return nil
}

// switchCall is one field's new value, to drive the registered breakers
// or degraders with.
type switchCall struct {
	field, value string
	only         Isolator // if set, the only breaker to drive (one registered late)
	onlyD        Moder    // if set, the only degrader to drive
}

// apply calls the registered breakers and degraders for every field whose
// value differs from what was applied here. With only set, it applies the
// given fields; otherwise fields are the whole hash as a poll read it,
// before which seen sets were made here: those pending here are left
// alone (this replica's newer setting wins until written), and if a set
// was made since the read, the read is dropped (the next poll applies).
// The calls are made in the order the values were noted as applied, one
// at a time, outside the lock: whoever finds the queue idle drains it, so
// that a slow breaker cannot make an older value land after a newer one.
func (w *Switches) apply(fields map[string]string, only bool, seen uint64) {
	w.mu.Lock()
	if !only && w.sets != seen {
		w.mu.Unlock()
		return
	}
	for _, f := range slices.Sorted(maps.Keys(fields)) {
		v := fields[f]
		if _, mine := w.pending[f]; mine && !only {
			continue
		}
		if w.applied[f] == v {
			continue
		}
		w.applied[f] = v
		w.queue = append(w.queue, switchCall{field: f, value: v})
	}
	w.drainLocked()
}

// drainLocked makes the queue's calls, unless somebody already does; it
// is called with w.mu held and returns with it released.
func (w *Switches) drainLocked() {
	if w.draining {
		w.mu.Unlock()
		return
	}
	w.draining = true
	for len(w.queue) > 0 {
		c := w.queue[0]
		w.queue = w.queue[1:]
		brs := w.breakers[strings.TrimPrefix(c.field, breakerField)]
		brs = brs[:len(brs):len(brs)]
		dgs := w.degraders[:len(w.degraders):len(w.degraders)]
		switch {
		case c.only != nil:
			brs = []Isolator{c.only}
		case c.onlyD != nil:
			dgs = []Moder{c.onlyD}
		}
		w.mu.Unlock()
		w.invoke(c, brs, dgs)
		w.mu.Lock()
	}
	w.queue = nil
	w.draining = false
	w.mu.Unlock()
}

// invoke drives brs (the breakers of the call's name) or dgs with c.
func (w *Switches) invoke(c switchCall, brs []Isolator, dgs []Moder) {
	state, reason, _ := strings.Cut(c.value, "\x00")
	reason = "fleet: " + reason
	switch {
	case strings.HasPrefix(c.field, breakerField):
		for _, b := range brs {
			if state == "open" {
				safe(func() error { return b.ForceOpen(reason) })
			} else {
				safe(func() error { return b.Release(reason) })
			}
		}
	case c.field == fieldMode:
		if m, err := strconv.Atoi(state); err == nil {
			for _, d := range dgs {
				safe(func() error { return d.SetMode(failover.Mode(m), reason) })
			}
		}
	case strings.HasPrefix(c.field, killField):
		name := strings.TrimPrefix(c.field, killField)
		for _, d := range dgs {
			if state == "off" {
				safe(func() error { return d.Kill(name, reason) })
			} else {
				safe(func() error { return d.Restore(name, reason) })
			}
		}
	}
}

// safe calls a breaker's or degrader's method, so that its panic cannot
// stop the poll.
func safe(call func() error) {
	defer func() { _ = recover() }()
	_ = call()
}

// Start reads the switches once (within ctx), applies them, and starts the
// poll. A replica that starts while a dependency is forced open fleet-wide
// starts isolated. Redis failing is not an error here: the poll goes on.
// Start again does nothing; after Close it returns an error wrapping
// [firebreak.ErrClosed].
func (w *Switches) Start(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return fmt.Errorf("fleet: Switches.Start: %w", firebreak.ErrClosed)
	}
	if w.started {
		w.mu.Unlock()
		return nil
	}
	w.started = true
	w.mu.Unlock()
	_ = w.poll(ctx)
	go w.loop()
	return nil
}

func (w *Switches) loop() {
	defer close(w.done)
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = w.poll(context.Background())
		case <-w.stop:
			return
		}
	}
}

// Close stops the poll, after writing what is pending within ctx; it
// returns an error if something set here could not be shared. Close is
// idempotent.
func (w *Switches) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	started := w.started
	w.mu.Unlock()
	close(w.stop)
	if started {
		select {
		case <-w.done:
		case <-ctx.Done(): // a breaker's or degrader's call on the poll goroutine hangs
			return fmt.Errorf("fleet: Switches.Close: the poll did not stop: %w", ctx.Err())
		}
	}
	if err := w.flush(ctx); err != nil {
		return fmt.Errorf("fleet: Switches.Close: switches set here not shared: %w", err)
	}
	return nil
}
