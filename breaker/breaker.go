package breaker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/sony/gobreaker/v2"
)

// State is where a breaker is in its cycle.
type State int8

const (
	// StateClosed lets every call through and counts the outcomes.
	StateClosed State = iota
	// StateHalfOpen lets a bounded number of trial calls through after the
	// open timeout; their outcome closes or re-opens the breaker.
	StateHalfOpen
	// StateOpen rejects every call with [ErrOpen] until the open timeout
	// passes.
	StateOpen
	// StateForcedOpen rejects every call until [Breaker.Release]: a person
	// (or the plan) isolated the dependency by hand.
	StateForcedOpen

	numStates
)

var stateNames = [numStates]string{
	StateClosed:     "closed",
	StateHalfOpen:   "half_open",
	StateOpen:       "open",
	StateForcedOpen: "forced_open",
}

// String returns "closed", "half_open", "open" or "forced_open".
func (s State) String() string {
	if s >= 0 && s < numStates {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// fromGobreaker maps gobreaker's states, which use the same order.
func fromGobreaker(s gobreaker.State) State {
	switch s {
	case gobreaker.StateHalfOpen:
		return StateHalfOpen
	case gobreaker.StateOpen:
		return StateOpen
	}
	return StateClosed
}

// Counts are the breaker's counters for the current rolling window (closed)
// or the current trial (half-open). They are reset on every state change.
type Counts struct {
	// Requests is how many calls were let through, including those still
	// running.
	Requests uint32
	// Successes, Failures and Excluded count finished calls by how they
	// counted; a slow call counts as a failure.
	Successes, Failures, Excluded uint32
	// ConsecutiveSuccesses and ConsecutiveFailures are the current runs.
	ConsecutiveSuccesses, ConsecutiveFailures uint32
}

func countsOf(c gobreaker.Counts) Counts {
	return Counts{
		Requests: c.Requests, Successes: c.TotalSuccesses, Failures: c.TotalFailures,
		Excluded: c.TotalExclusions, ConsecutiveSuccesses: c.ConsecutiveSuccesses,
		ConsecutiveFailures: c.ConsecutiveFailures,
	}
}

// Breaker is a generic circuit breaker built on gobreaker v2's state machine.
// It runs calls with [Breaker.Execute], or as a [firebreak.Policy] inside a
// pipeline, and reports its state changes as [firebreak.KindBreakerOpen]
// signals to the Reporter of the component it is bound to ([Breaker.Bind]).
// Unbound, it works and reports to [firebreak.Discard]. It is safe for
// concurrent use.
type Breaker[T any] struct {
	cfg  *config // immutable after New; shared by the breakers of a Group
	name string  // WithName's, prefixed for a Group's breaker by its key
	inst *instruments
	// binding holds the component; the first Bind fixes it. A Group's
	// breaker made after the group was bound shares the group's binding,
	// which is bound already: Bind only compares with it.
	binding *firebreak.Binding

	id       atomic.Pointer[identity]   // derived from binding, for the hot path; replaced by the first Bind
	cur      atomic.Pointer[machine[T]] // the gobreaker state machine in use
	forced   atomic.Pointer[OpenError]  // non-nil while forced open
	npending atomic.Int32               // len(pending), read without mu
	draining atomic.Bool                // a goroutine is reporting pending events
	used     atomic.Bool                // CLOCK reference bit, for Group
	fallback atomic.Bool                // Signal.Fallback; from the first Bind, or SetFallback
	evicted  atomic.Bool                // retired from its Group; calls go to successor
	// last and retired are guarded by mu; they sit here, beside the
	// atomics, to keep a Group's breaker small.
	last    State // the state last queued for reporting
	retired bool  // evicted from its Group: report nothing more; see evicted

	// successor returns the breaker that now stands for this one's key in
	// its Group, so that a handle kept from before an eviction still works.
	// Set before the breaker is published; nil outside a Group.
	successor func() *Breaker[T]

	// mu guards pending, last and retired. It is taken inside gobreaker's OnStateChange
	// (so under gobreaker's mutex) and must never be held while calling
	// gobreaker, a Reporter or a meter.
	mu      sync.Mutex
	pending []event // state changes not yet reported, oldest first
}

// identity is what a breaker reports as, derived from its binding; it never
// changes once published.
type identity struct {
	// component is never written through: a Group's breakers share the
	// group's.
	component *firebreak.Component
	name      string
	label     label // a Group's breaker's signal label; zero outside a Group
	bound     bool
	// attrsP holds the metric attributes, built on first use while
	// metrics are recorded (see [identity.attrs]).
	attrsP atomic.Pointer[attrs]
	// errs holds the errors of rejections in the open and half-open
	// states, made on the first (see [identity.openErrs]).
	errs atomic.Pointer[openErrors]
}

// openErrors are the errors a breaker returns while open and while its
// half-open trial calls are all taken.
type openErrors struct{ open, tooMany OpenError }

// unbound is the component of a breaker not yet bound.
var unbound = &firebreak.Component{Reporter: firebreak.Discard}

// machine is one gobreaker state machine. A breaker replaces it when it is
// released or set to a state by hand, so that it starts from fresh counts.
type machine[T any] struct {
	b  *Breaker[T]
	cb *gobreaker.CircuitBreaker[T]
	// trip makes the next ReadyToTrip true: set while the breaker makes
	// gobreaker trip (finish, preparedMachine).
	trip atomic.Bool
	// quiet drops state changes while the machine is prepared, before it is
	// published. Written only before publication.
	quiet bool
	// probe marks a machine made by SetState(StateHalfOpen): its open
	// timeout is a nanosecond, so it is replaced by a regular machine as soon
	// as it leaves half-open. Written only before publication.
	probe bool
	// tripped holds the counts that tripped the breaker, for the signal.
	// Guarded by cb's mutex.
	tripped gobreaker.Counts
	// win is the rolling window while gobreaker's machine is closed, nil
	// otherwise: calls in the closed state are counted there, without
	// gobreaker's mutex. Stored under cb's mutex, on every state change.
	win atomic.Pointer[window]
	// openUntil is the reading until which the open machine rejects calls
	// without asking gobreaker (no later than gobreaker's own expiry), or
	// 0 when not open. Stored under cb's mutex, on every state change.
	openUntil atomic.Int64
}

var (
	_ firebreak.Policy[int] = (*Breaker[int])(nil)
	_ firebreak.Binder      = (*Breaker[int])(nil)
	_ firebreak.Staged      = (*Breaker[int])(nil)
)

// New returns a closed, unbound breaker configured by opts. Every option has
// a documented default; New returns an error naming the option for each
// invalid setting, and the index of each nil one. A breaker used inside a
// [firebreak.Pipeline] takes its identity from the pipeline; one used on its
// own is bound by its user with [Breaker.Bind], and until then reports to
// [firebreak.Discard].
func New[T any](opts ...Option) (*Breaker[T], error) {
	cfg, inst, err := configure("New", defaultConfig(), opts)
	if err != nil {
		return nil, err
	}
	return newBreaker[T](&cfg, cfg.name, label{}, inst, new(firebreak.Binding), nil), nil
}

// configure applies the options of constructor fn to cfg, validates it and
// makes its instruments.
func configure(fn string, cfg config, opts []Option) (config, *instruments, error) {
	for i, o := range opts {
		if o == nil {
			cfg.errorf("%s: option %d is nil", fn, i)
			continue
		}
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return cfg, nil, err
	}
	inst, err := newInstruments(cfg.meter())
	return cfg, inst, err
}

// newBreaker builds a breaker from a validated config with the given
// binding. c is nil, or, for a Group's breaker made after the group was
// bound, the group's binding's component, shared by its breakers.
func newBreaker[T any](cfg *config, name string, l label, inst *instruments, binding *firebreak.Binding, c *firebreak.Component) *Breaker[T] {
	b := &Breaker[T]{cfg: cfg, name: name, inst: inst, binding: binding}
	if c != nil {
		b.fallback.Store(c.Fallback)
	}
	b.id.Store(b.newIdentity(c, l))
	m := b.newMachine(false)
	m.quiet = false
	b.cur.Store(m)
	inst.enterState(b.id.Load(), StateClosed)
	return b
}

// nameFor is the breaker's name once bound to c: [WithName]'s, else the
// dependency, else the component's name.
func (b *Breaker[T]) nameFor(c firebreak.Component) string {
	switch {
	case b.name != "":
		return b.name
	case c.Dependency != "":
		return c.Dependency
	}
	return c.Name
}

// newIdentity derives the identity with label l from the binding, whose
// component is c if c is not nil.
func (b *Breaker[T]) newIdentity(c *firebreak.Component, l label) *identity {
	bound := b.binding.Bound()
	switch {
	case c != nil:
	case bound:
		v := b.binding.Component()
		c = &v
	default:
		c = unbound
	}
	return &identity{component: c, name: b.nameFor(*c), label: l, bound: bound}
}

// openErrs returns the identity's errors of rejection, making them on the
// first rejection: most breakers never reject a call.
func (id *identity) openErrs() *openErrors {
	if e := id.errs.Load(); e != nil {
		return e
	}
	e := &openErrors{
		open:    OpenError{Name: id.name, State: StateOpen, cause: gobreaker.ErrOpenState},
		tooMany: OpenError{Name: id.name, State: StateHalfOpen, cause: gobreaker.ErrTooManyRequests},
	}
	if !id.errs.CompareAndSwap(nil, e) {
		return id.errs.Load()
	}
	return e
}

// attrs returns the metric attributes of the identity, building them on
// first use: only while metrics are recorded, so that the breakers of a
// Group hold none when metrics go nowhere.
func (id *identity) attrs() *attrs {
	if a := id.attrsP.Load(); a != nil {
		return a
	}
	a := newAttrs(id.component, id.bound, id.name)
	if !id.attrsP.CompareAndSwap(nil, a) {
		return id.attrsP.Load()
	}
	return a
}

// newMachine returns a new machine, not yet published; a probe machine
// (see machine.probe) if probe is true.
func (b *Breaker[T]) newMachine(probe bool) *machine[T] {
	m := &machine[T]{b: b, quiet: true, probe: probe}
	openTimeout := m.openTimeout()
	m.win.Store(newWindow(b.cfg, firebreak.Nanotime()))
	m.cb = gobreaker.NewCircuitBreaker[T](gobreaker.Settings{
		Name:        b.name,
		MaxRequests: uint32(b.cfg.halfOpenCalls),
		// No rolling window: the closed state is counted by m.win, and
		// gobreaker's counts serve only the half-open trial.
		Timeout:       openTimeout,
		ReadyToTrip:   m.readyToTrip,
		OnStateChange: m.onStateChange,
		IsExcluded:    isExcludedMarker,
	})
	return m
}

// openTimeout returns the machine's open timeout: the breaker's, or a
// nanosecond for a probe machine.
func (m *machine[T]) openTimeout() time.Duration {
	if m.probe {
		return time.Nanosecond
	}
	return m.b.cfg.openTimeout
}

// readyToTrip tells gobreaker, which calls it under its mutex after a
// failure in the closed state, whether to trip. Calls in the closed state
// are counted by the window, not by gobreaker: the only calls gobreaker sees
// closed are those by which the breaker makes it trip (tripLocked,
// preparedMachine).
func (m *machine[T]) readyToTrip(gobreaker.Counts) bool { return m.trip.Load() }

// tripRule applies the trip rules to the window's counts c.
func (b *Breaker[T]) tripRule(c gobreaker.Counts) bool {
	cfg := b.cfg
	trip := false
	n := c.TotalSuccesses + c.TotalFailures
	lowTraffic := cfg.ratio == 0 || n < uint32(cfg.minCalls)
	if cfg.consecutive > 0 && lowTraffic && c.ConsecutiveFailures >= uint32(cfg.consecutive) {
		trip = true
	}
	if cfg.ratio > 0 && !lowTraffic && float64(c.TotalFailures) >= cfg.ratio*float64(n) {
		trip = true
	}
	return trip
}

// finish counts a failure (failed) or an exclusion in the closed window w
// of machine m, for a call that started in bucket age, and trips the
// breaker if the rules say so.
func (m *machine[T]) finish(w *window, age uint64, failed bool) {
	now := firebreak.Nanotime()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dead {
		return
	}
	c, _ := w.finishLocked(age, now, failed)
	if failed && m.b.tripRule(c) {
		// Let gobreaker make the transition: it opens, starts a generation
		// and announces the change (onStateChange queues the event).
		w.dead = true
		m.tripped = c
		m.trip.Store(true)
		_, _ = m.cb.Execute(func() (T, error) { var zero T; return zero, errCountFailure })
		m.trip.Store(false)
	}
}

// onStateChange runs under gobreaker's mutex: it only queues the change. The
// queue is reported by flush, outside every lock, on the goroutine whose call
// caused the change.
func (m *machine[T]) onStateChange(_ string, from, to gobreaker.State) {
	switch to {
	case gobreaker.StateClosed:
		m.openUntil.Store(0)
		m.win.Store(newWindow(m.b.cfg, firebreak.Nanotime()))
	case gobreaker.StateOpen:
		m.win.Store(nil)
		// Read after gobreaker's clock read: gobreaker's expiry is no later.
		// Saturated: an open timeout near math.MaxInt64 must not wrap to
		// a reading in the past, which would send every rejection through
		// gobreaker's mutex.
		now := firebreak.Nanotime()
		until := now + int64(m.openTimeout())
		if until < now {
			until = math.MaxInt64
		}
		m.openUntil.Store(until)
	default:
		m.win.Store(nil)
		m.openUntil.Store(0)
	}
	if m.quiet {
		return
	}
	b := m.b
	e := event{to: fromGobreaker(to)}
	switch {
	case from == gobreaker.StateClosed && to == gobreaker.StateOpen:
		e.kind, e.counts = evTripped, m.tripped
	case from == gobreaker.StateHalfOpen && to == gobreaker.StateOpen:
		e.kind = evTrialFailed
	case to == gobreaker.StateHalfOpen:
		e.kind = evTimeout
	default:
		e.kind = evRecovered
	}
	var next *machine[T]
	if m.probe && from == gobreaker.StateHalfOpen {
		// Hand over to a regular machine in the state the trial decided.
		// Its own mutex is free: nothing else has it yet.
		next = b.preparedMachine(e.to)
	}
	b.mu.Lock()
	if b.cur.Load() == m && b.forced.Load() == nil {
		if next != nil {
			b.cur.Store(next)
		}
		b.pushLocked(e)
	}
	b.mu.Unlock()
}

// preparedMachine returns a new, unpublished machine in state to: closed,
// open (tripped now) or half-open (a probe machine).
func (b *Breaker[T]) preparedMachine(to State) *machine[T] {
	m := b.newMachine(to == StateHalfOpen)
	if to != StateClosed {
		m.trip.Store(true)
		_, _ = m.cb.Execute(func() (T, error) { var zero T; return zero, errCountFailure })
		m.trip.Store(false)
	}
	// Let the nanosecond pass (virtual time in a synctest bubble passes
	// only when the goroutine sleeps).
	for to == StateHalfOpen && m.cb.State() != gobreaker.StateHalfOpen {
		time.Sleep(time.Nanosecond)
	}
	m.quiet = false
	return m
}

// Execute runs fn if the breaker lets the call through and returns its
// result. A rejected call returns the zero T and an [*OpenError] matching
// [ErrOpen], without running fn. The call's outcome is counted as:
//
//   - excluded when fn's error is a local rejection ([firebreak.IsRejected]:
//     a shedder, bulkhead or inner breaker refused the call), whatever the
//     classifiers say; when fn returns an error after ctx ended and the call
//     was short (the caller gave up early, which says nothing about the
//     dependency); or when [WithIsExcluded] says so;
//   - hung, a failure, when fn returns an error after ctx ended and the call
//     had run long enough to show the dependency hung ([WithHangThreshold]);
//   - failure when fn returns an error [WithIsFailure] counts (by default any);
//   - slow, a failure, when it succeeded but took the [WithSlowCall]
//     threshold or longer;
//   - success otherwise.
//
// If fn panics the call counts as a failure and the panic goes on.
func (b *Breaker[T]) Execute(ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	return execute(b, ctx, 0, fn)
}

// Apply runs the rest of a pipeline under the breaker; see [Breaker.Execute].
// It uses the clock reading an outer policy passed ([firebreak.Next.Now]).
func (b *Breaker[T]) Apply(ctx context.Context, next firebreak.Next[T]) (T, error) {
	return execute(b, ctx, next.Now(), next.Call)
}

// execute is Execute, written once for both entry points. It is a function
// rather than a method so that Apply's method value next.Call stays on the
// stack. now is a clock reading of this moment ([firebreak.Nanotime]), or 0.
func execute[T any](b *Breaker[T], ctx context.Context, now int64, fn func(context.Context) (T, error)) (result T, err error) {
	if b.evicted.Load() {
		b = b.current()
	}
	id := b.id.Load()
	if e := b.forced.Load(); e != nil {
		b.inst.countCall(ctx, id, outcomeRejected)
		return result, e
	}
	m := b.cur.Load()
	if w := m.win.Load(); w != nil {
		if now == 0 {
			now = firebreak.Nanotime()
		}
		if age, ok := w.admit(now); ok {
			return executeClosed(b, m, w, id, ctx, now, age, fn)
		}
	} else if until := m.openUntil.Load(); until != 0 {
		// Open: reject without gobreaker's mutex until the open timeout
		// has certainly not passed; then gobreaker decides (half-open).
		if now == 0 {
			now = firebreak.Nanotime()
		}
		if now < until {
			b.inst.countCall(ctx, id, outcomeRejected)
			if b.npending.Load() != 0 {
				b.flush()
			}
			return result, &id.openErrs().open
		}
	}
	out := outcomeRejected
	defer func() {
		b.inst.countCall(ctx, id, out)
		if b.npending.Load() != 0 {
			b.flush()
		}
	}()
	_, gerr := m.cb.Execute(func() (T, error) {
		out = outcomeFailure // stays so if fn panics
		// The clock is read only when the outcome may depend on the time
		// taken: slow-call counting is on, or ctx can end (Done is nil
		// for context.Background and its values).
		var start int64
		if b.cfg.slow > 0 || b.cfg.hang > 0 && ctx.Done() != nil {
			start = firebreak.Nanotime()
		}
		result, err = fn(ctx)
		out = b.classify(ctx, err, start)
		var zero T
		return zero, outcomeErrs[out]
	})
	if out == outcomeRejected {
		var zero T
		// gobreaker returns its sentinels unwrapped: the identity checks
		// keep errors.Is's reflection off the rejection path, which must
		// stay within 1.5× of gobreaker's own.
		switch {
		case gerr == gobreaker.ErrOpenState || errors.Is(gerr, gobreaker.ErrOpenState):
			return zero, &id.openErrs().open
		case gerr == gobreaker.ErrTooManyRequests || errors.Is(gerr, gobreaker.ErrTooManyRequests):
			return zero, &id.openErrs().tooMany
		}
		return zero, gerr
	}
	return result, err
}

// executeClosed runs fn, admitted by the closed window w of machine m in
// bucket age at reading now. A success is counted without a lock.
func executeClosed[T any](b *Breaker[T], m *machine[T], w *window, id *identity, ctx context.Context, now int64, age uint64,
	fn func(context.Context) (T, error)) (result T, err error) {
	out := outcomeFailure // stays so if fn panics
	defer func() {
		switch out {
		case outcomeSuccess:
			w.success(age)
		case outcomeExcluded:
			m.finish(w, age, false)
		default:
			m.finish(w, age, true)
		}
		b.inst.countCall(ctx, id, out)
		if b.npending.Load() != 0 {
			b.flush()
		}
	}()
	result, err = fn(ctx)
	out = b.classify(ctx, err, now)
	return result, err
}

// classify decides how a finished call that started at reading start (0 if
// the clock was not read) counts.
func (b *Breaker[T]) classify(ctx context.Context, err error, start int64) outcome {
	if err != nil {
		if firebreak.IsRejected(err) {
			return outcomeExcluded
		}
		if ctx.Err() != nil {
			if b.hung(ctx, start) {
				return outcomeHung
			}
			return outcomeExcluded
		}
		if b.cfg.isExcluded != nil && b.cfg.isExcluded(err) {
			return outcomeExcluded
		}
		if b.cfg.isFailure == nil || b.cfg.isFailure(err) {
			return outcomeFailure
		}
	}
	if b.cfg.slow > 0 && time.Duration(firebreak.Nanotime()-start) >= b.cfg.slow {
		return outcomeSlow
	}
	return outcomeSuccess
}

// hung reports whether a call that ctx ended ran long enough to say that the
// dependency hung: at least the hang threshold (or the slow-call threshold,
// if smaller), or all of a deadline that gave it a real budget.
func (b *Breaker[T]) hung(ctx context.Context, start int64) bool {
	threshold := b.cfg.hang
	if threshold <= 0 || start == 0 {
		return false
	}
	if b.cfg.slow > 0 && b.cfg.slow < threshold {
		threshold = b.cfg.slow
	}
	return firebreak.Hung(ctx, firebreak.TimeOf(start), firebreak.TimeOf(firebreak.Nanotime()), threshold, b.cfg.hangBudget)
}

// Stage places the breaker in a pipeline's default order:
// [firebreak.StageBreaker], inside retries and fallbacks.
func (b *Breaker[T]) Stage() firebreak.Stage { return firebreak.StageBreaker }

// Bind gives the breaker the identity and Reporter of the component it
// protects; [firebreak.NewPipeline] calls it before the first call, and a
// breaker used on its own is bound by its user. It follows the rule of
// [firebreak.Binding]:
//
//   - The first Bind fixes the identity. The breaker's name becomes the
//     component's Dependency (or its Name, when it has none) unless
//     [WithName] set one, and its metrics move to the component's
//     attributes. If the component says a fallback serves (Fallback, which a
//     pipeline sets for a breaker inside a fallback policy), its signals say
//     so too.
//   - Binding again to the same identity (Name, Dependency and Tier) does
//     nothing: the first Reporter stays, and so does the first Fallback — a
//     fallback in one pipeline does not serve the callers of another. Use
//     [Breaker.SetFallback] to change it.
//   - Binding to a different identity returns an [*firebreak.AlreadyBoundError]:
//     a breaker's counts belong to one dependency of one component.
//
// An invalid component (no Name, an unknown Tier) is an error.
func (b *Breaker[T]) Bind(c firebreak.Component) error {
	first, err := b.binding.Bind(policyName(b.Name()), c)
	if err != nil || !first {
		return err
	}
	// Only the first Bind gets here, once: the binding serialises them.
	if c.Fallback {
		b.fallback.Store(true)
	}
	b.mu.Lock()
	old := b.id.Load()
	b.id.Store(b.newIdentity(nil, old.label))
	// Move the state gauge to the new attributes, in order with the
	// transitions being reported.
	b.pending = append(b.pending, event{kind: evRebind, from: b.last, to: b.last, oldID: old})
	b.npending.Add(1)
	b.mu.Unlock()
	b.flush()
	return nil
}

// SetFallback says whether a fallback, cache or standby serves while the
// breaker is open, for code that learns it after binding the breaker (a
// fallback switched on at run time, say). It sets [firebreak.Signal.Fallback]
// on the signals reported from then on, which the plan uses to grade them: an
// open breaker with a working fallback is a lesser fault.
func (b *Breaker[T]) SetFallback(inPlace bool) { b.fallback.Store(inPlace) }

// Name returns the breaker's name, as used in errors, metrics and signals:
// [WithName]'s, or the bound component's dependency (or name); empty for an
// unnamed breaker not yet bound.
func (b *Breaker[T]) Name() string { return b.id.Load().name }

// State returns the breaker's current state. An open breaker whose timeout
// has passed becomes half-open when State (or a call) looks at it.
func (b *Breaker[T]) State() State {
	if b.evicted.Load() {
		return b.current().State()
	}
	if b.forced.Load() != nil {
		return StateForcedOpen
	}
	s := fromGobreaker(b.cur.Load().cb.State())
	if b.npending.Load() != 0 {
		b.flush()
	}
	return s
}

// Counts returns the counters of the current window or trial.
func (b *Breaker[T]) Counts() Counts {
	if b.evicted.Load() {
		return b.current().Counts()
	}
	m := b.cur.Load()
	if w := m.win.Load(); w != nil {
		return countsOf(w.counts())
	}
	return countsOf(m.cb.Counts())
}

// ForceOpen isolates the dependency by hand: every call is rejected with an
// [*OpenError] carrying the reason until [Breaker.Release]. It reports a
// firing signal whose summary holds the reason. Forcing an already forced
// breaker only replaces the reason. reason must not be empty.
func (b *Breaker[T]) ForceOpen(reason string) error {
	if reason == "" {
		return errors.New("breaker: ForceOpen: reason must not be empty")
	}
	e := &OpenError{Name: b.Name(), State: StateForcedOpen, Reason: reason, cause: gobreaker.ErrOpenState}
	b.mu.Lock()
	if b.retired {
		b.mu.Unlock()
		return b.current().ForceOpen(reason)
	}
	b.forced.Store(e)
	b.pushLocked(event{to: StateForcedOpen, kind: evForced, reason: reason})
	b.mu.Unlock()
	b.flush()
	return nil
}

// Release ends a [Breaker.ForceOpen]: the breaker closes with fresh counts and
// reports a cleared signal whose summary holds the reason. Releasing a
// breaker that is not forced open does nothing. reason must not be empty.
func (b *Breaker[T]) Release(reason string) error {
	if reason == "" {
		return errors.New("breaker: Release: reason must not be empty")
	}
	return b.reset(StateClosed, evReleased, reason)
}

// SetState puts the breaker in state s, for tests of code that uses it: the
// state change is reported like a real one, and the breaker goes on from
// there as usual. StateClosed starts it afresh; StateOpen trips it, so it
// turns half-open after the open timeout; StateHalfOpen lets the next trial
// calls through ([WithHalfOpenCalls]); StateForcedOpen is
// [Breaker.ForceOpen]. Setting half-open takes a nanosecond of sleep, virtual
// inside a [testing/synctest] bubble.
func (b *Breaker[T]) SetState(s State) error {
	switch s {
	case StateClosed, StateOpen, StateHalfOpen:
		return b.reset(s, evSet, "set by SetState")
	case StateForcedOpen:
		return b.ForceOpen("set by SetState")
	}
	return fmt.Errorf("breaker: SetState: unknown state %d", int8(s))
}

// reset replaces the state machine by a fresh one in state to (closed, open
// or half-open) and clears any forcing.
func (b *Breaker[T]) reset(to State, kind eventKind, reason string) error {
	m := b.preparedMachine(to)
	b.mu.Lock()
	if b.retired {
		b.mu.Unlock()
		return b.current().reset(to, kind, reason)
	}
	if kind == evReleased && b.forced.Load() == nil {
		b.mu.Unlock()
		return nil
	}
	b.cur.Store(m)
	b.forced.Store(nil)
	b.pushLocked(event{to: to, kind: kind, reason: reason})
	b.mu.Unlock()
	b.flush()
	return nil
}

// current returns the breaker that stands for this one: itself, or, once it
// was evicted from its Group, the group's breaker for the same key.
func (b *Breaker[T]) current() *Breaker[T] {
	if !b.evicted.Load() || b.successor == nil {
		return b
	}
	return b.successor()
}

// evictable reports whether a Group may evict the breaker, and whether it is
// clean: closed, not forced, with no failure in its window. It takes
// gobreaker's lock (rolling the window forward) and may queue an open →
// half-open change; the caller flushes. b.mu must not be held.
func (b *Breaker[T]) evictable() (closed, clean bool) {
	if b.forced.Load() != nil {
		return false, false
	}
	m := b.cur.Load()
	if m.cb.State() != gobreaker.StateClosed {
		return false, false
	}
	w := m.win.Load()
	if w == nil {
		return false, false
	}
	c := w.countsAt(firebreak.Nanotime())
	return true, c.TotalFailures == 0 && c.ConsecutiveFailures == 0
}

// retireClosed stops a closed breaker evicted from its group from reporting
// and takes it out of the state gauge; its handles then resolve to the
// group's new breaker for the key. It refuses, returning false, if the
// breaker left closed (or was forced) since [Breaker.evictable] looked:
// eviction never ends isolation. A trip that gobreaker decided but has not
// yet announced is dropped with the breaker; nothing had been reported.
func (b *Breaker[T]) retireClosed() bool {
	b.mu.Lock()
	if b.retired || b.last != StateClosed || b.forced.Load() != nil {
		b.mu.Unlock()
		return false
	}
	b.pending = append(b.pending, event{kind: evEvicted, from: b.last, to: StateClosed})
	b.npending.Add(1)
	b.retired = true
	b.evicted.Store(true)
	b.mu.Unlock()
	return true
}
