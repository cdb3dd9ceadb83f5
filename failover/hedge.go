package failover

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover/internal/event"
	"github.com/firebreak-go/firebreak/internal/stripe"
)

// Hedge cuts the tail latency of an idempotent call: when the call has not
// answered after a delay, it starts a second attempt (a hedge) alongside
// it, takes the first success and cancels the others. The delay is fixed,
// or follows the observed latency ([WithHedgeDelayFunc], for example the p90
// of the dependency's tracing statistics); up to [WithMaxHedges] hedges
// start, a delay apart.
//
// Hedges draw on a retry budget, by default one of the hedge's own (20% of
// the calls over 10s, at least 10 per window), or, with [WithRetryBudget],
// the budget of the pipeline's [Retry]: when a dependency is slow for
// everyone the budget runs out and hedging stops, so hedges never multiply
// the load of a dependency in trouble.
//
// A call is hedged only if it may be sent twice: the hedge was built
// [WithIdempotent], or the call's context says so ([ContextWithIdempotent]).
// Other calls pass through untouched.
//
// The first attempt runs on the caller's goroutine and the hedges on
// goroutines of their own, each with a context the hedge cancels when
// another attempt wins. The caller gets the first success; when the first
// attempt fails, the hedges still running are awaited. A first attempt the
// hedge cancels returns only when it honours its context, so the winner's
// answer reaches the caller once the loser has given up: hedge calls that
// honour their context. A panic in a hedge is recovered and counted as its
// failure. The winner's context is never cancelled, so what the call
// returns may go on using it (an HTTP response body): it ends when the
// caller's context does, for as long as the answer keeps it. An attempt's
// watch on the caller's context goes when the attempt's context is
// garbage, so calls under one long-lived context (a worker's) leave
// nothing behind; code that keeps only the channel of Done, dropping the
// context, is not told of the caller's cancel once the context is gone.
//
// A call answering before the delay costs one clock reading, a few atomic
// operations and one small allocation, about 90 ns: it only publishes its
// deadline, and one timer per Hedge starts the hedges of every call that
// is due. The allocation is the first attempt's own context, which the
// hedge must be able to cancel; it cannot be reused, because what the call
// returns may keep it (an HTTP body). Hedges report metrics (events
// hedged, hedge_won, hedge_budget), no signal: a slow dependency's signal is
// the tracing package's latency SLO. Build one with [NewHedge]; it is safe
// for concurrent use. A pipeline binds it; used on its own, bind it with
// [Hedge.Bind] or its events carry no identity.
type Hedge[T any] struct {
	b firebreak.Binding
	m event.Meter

	fixed      time.Duration
	delay      atomic.Int64 // nanoseconds: the delay in force
	delayFunc  func() time.Duration
	refreshAt  atomic.Int64 // the Nanotime reading delayFunc is due at; 0: now
	maxHedges  int
	idempotent bool

	budget     *budgetWindow
	ratio      float64
	minRetries int64
	countCalls bool // the budget is the hedge's own: count calls into it

	idle  runCache[T] // runs the watch never took, for reuse
	watch hedgeWatch[T]
}

var (
	_ firebreak.Policy[int] = (*Hedge[int])(nil)
	_ firebreak.Binder      = (*Hedge[int])(nil)
	_ firebreak.Staged      = (*Hedge[int])(nil)
)

// NewHedge returns a hedging policy that starts one hedge when a call has
// not answered after delay (positive), within a budget of its own.
func NewHedge[T any](delay time.Duration, opts ...HedgeOption) (*Hedge[T], error) {
	c := hedgeConfig{maxHedges: 1}
	if err := apply("NewHedge", opts, func(o HedgeOption) { o.applyHedge(&c) }); err != nil {
		return nil, err
	}
	if c.maxHedges == 0 {
		c.maxHedges = 1
	}
	var errs []error
	bad := func(cond bool, format string, args ...any) {
		if cond {
			errs = append(errs, fmt.Errorf("failover: NewHedge: "+format, args...))
		}
	}
	bad(delay <= 0, "delay %v must be positive", delay)
	bad(c.maxHedges < 0 || c.maxHedges > 10, "WithMaxHedges %d must be between 1 and 10", c.maxHedges)
	bad(c.budgetErr != "", "%s", c.budgetErr)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := event.NewMeter(scope, "hedge", c.meterProvider)
	if err != nil {
		return nil, fmt.Errorf("failover: NewHedge: %w", err)
	}
	h := &Hedge[T]{
		m: m, fixed: delay, delayFunc: c.delayFunc,
		maxHedges: c.maxHedges, idempotent: c.idempotent,
		budget: c.budget, ratio: c.ratio, minRetries: c.minRetries,
	}
	if !c.sharedBudget {
		h.budget, h.ratio, h.minRetries, h.countCalls = newBudgetWindow(10*time.Second), 0.2, 10, true
	}
	h.delay.Store(int64(delay))
	return h, nil
}

// Bind implements [firebreak.Binder]: the first Bind fixes the identity the
// hedge reports under; binding again to the same one does nothing, to
// another is an [*firebreak.AlreadyBoundError].
func (h *Hedge[T]) Bind(c firebreak.Component) error {
	_, err := h.b.Bind("failover: hedge", c)
	return err
}

// Stage implements [firebreak.Staged]: inside the retry and outside the
// breaker (StageRetry+50), so that every attempt passes the breaker and a
// retry of a failed call is hedged again.
func (h *Hedge[T]) Stage() firebreak.Stage { return firebreak.StageRetry + 50 }

// Delay returns the hedge delay in force.
func (h *Hedge[T]) Delay() time.Duration { return time.Duration(h.delay.Load()) }

type idempotentKey struct{}

// ContextWithIdempotent returns a copy of ctx saying whether the call made
// with it may be sent more than once, for a [Hedge] (and the HTTP and gRPC
// integrations). False overrides a hedge built [WithIdempotent].
func ContextWithIdempotent(ctx context.Context, idempotent bool) context.Context {
	return context.WithValue(ctx, idempotentKey{}, idempotent)
}

// IdempotentFromContext returns what ctx says about the call's idempotency,
// and whether it says anything.
func IdempotentFromContext(ctx context.Context) (idempotent, ok bool) {
	idempotent, ok = ctx.Value(idempotentKey{}).(bool)
	return idempotent, ok
}

func (h *Hedge[T]) hedgeable(ctx context.Context) bool {
	if v, ok := IdempotentFromContext(ctx); ok {
		return v
	}
	return h.idempotent
}

// Execute runs fn under the policy, for use without a pipeline.
func (h *Hedge[T]) Execute(ctx context.Context, fn firebreak.Func[T]) (T, error) {
	return h.Apply(ctx, firebreak.Call(fn))
}

// Apply implements [firebreak.Policy].
func (h *Hedge[T]) Apply(ctx context.Context, next firebreak.Next[T]) (T, error) {
	if !h.hedgeable(ctx) {
		return next.Call(ctx)
	}
	now := next.Now()
	if h.countCalls {
		h.budget.call(now)
	}
	r := h.idle.get()
	if r == nil {
		r = h.newRun()
	}
	first := &attemptCtx{Context: ctx}
	d := h.currentDelay(now)
	// The fields below are the run's until it is published running; the
	// watch reads them only after it takes the run (a CompareAndSwap on
	// state), the caller only after it takes it back.
	r.parent, r.next, r.first, r.d = ctx, next, first, d
	gen := r.gen
	dl := hedgeDeadline(now, d)
	r.deadline.Store(dl)
	r.state.Store(gen<<2 | runRunning)
	h.watch.arm(h, dl)
	finished := false
	defer func() {
		if !finished { // the first attempt panicked: stop the hedges
			if !r.state.CompareAndSwap(gen<<2|runRunning, gen<<2|runEnded) {
				r.end()
			}
		}
	}()
	v, err := next.Call(first)
	finished = true
	if r.state.CompareAndSwap(gen<<2|runRunning, (gen+1)<<2) { // idle, the next generation
		// The watch never took it: no hedge, and the run is reusable. The
		// first attempt's context is not: what the call returns may use it.
		var zero T
		r.gen++
		r.parent, r.next, r.first, r.v = nil, firebreak.Next[T]{}, nil, zero
		h.idle.put(r)
		return v, err
	}
	// The watch took it: it is never reused, for the watch or a hedge may
	// still hold it.
	return r.finish(v, err)
}

// hedgeDeadline returns the Nanotime reading a call started at now is due
// for its first hedge at: now+d, or the largest reading if that overflows
// (a delay of about 292 years), and never 0, which is "none".
func hedgeDeadline(now int64, d time.Duration) int64 {
	dl := now + int64(d)
	switch {
	case d > 0 && dl < now:
		return math.MaxInt64
	case dl == 0:
		return 1
	}
	return dl
}

// currentDelay returns the delay, refreshing it from delayFunc when due.
func (h *Hedge[T]) currentDelay(now int64) time.Duration {
	if h.delayFunc != nil {
		if due := h.refreshAt.Load(); (due == 0 || now >= due) && h.refreshAt.CompareAndSwap(due, now+int64(time.Second)) {
			d := h.delayFunc()
			if d <= 0 {
				d = h.fixed
			}
			h.delay.Store(int64(d))
		}
	}
	return time.Duration(h.delay.Load())
}

// newRun makes a run and registers it with the watch.
func (h *Hedge[T]) newRun() *hedgeRun[T] {
	r := &hedgeRun[T]{h: h}
	w := &h.watch
	w.mu.Lock()
	r.idx = len(w.runs)
	w.runs = append(w.runs, r)
	w.mu.Unlock()
	return r
}

// runCache keeps the idle runs of a Hedge: one per processor in slots of
// their own, the rest in a shared list. A serial caller, or one caller per
// processor, takes and returns its run without a lock; the list is for the
// calls in flight beyond that.
type runCache[T any] struct {
	_     [128]byte // off the cache lines of the Hedge's other fields
	slots [runSlots]struct {
		r atomic.Pointer[hedgeRun[T]]
		_ [120]byte // two cache lines each, against the adjacent-line prefetch
	}
	mu    sync.Mutex // guards spare
	spare []*hedgeRun[T]
}

const (
	runSlots = 8
	// runSlack is how many idle runs beyond those in flight the watch
	// keeps when it trims after a burst.
	runSlack = 64
)

func (c *runCache[T]) get() *hedgeRun[T] {
	s := &c.slots[stripe.P()%runSlots].r
	if s.Load() != nil {
		if r := s.Swap(nil); r != nil {
			return r
		}
	}
	c.mu.Lock()
	var r *hedgeRun[T]
	if n := len(c.spare); n > 0 {
		r = c.spare[n-1]
		c.spare[n-1] = nil
		c.spare = c.spare[:n-1]
	}
	c.mu.Unlock()
	return r
}

func (c *runCache[T]) put(r *hedgeRun[T]) {
	if c.slots[stripe.P()%runSlots].r.CompareAndSwap(nil, r) {
		return
	}
	c.mu.Lock()
	c.spare = append(c.spare, r)
	c.mu.Unlock()
}

// trim drops the idle runs beyond keep from the shared list and returns
// them.
func (c *runCache[T]) trim(keep int) []*hedgeRun[T] {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.spare) <= keep {
		return nil
	}
	out := slices.Clone(c.spare[keep:])
	clear(c.spare[keep:])
	c.spare = slices.Clip(c.spare[:keep])
	return out
}

// The states of a run, in the low two bits of hedgeRun.state; the bits
// above are its generation, so that the watch cannot take a run that was
// reused since it looked.
const (
	runIdle    = iota // in the pool
	runRunning        // its first attempt runs, no hedge yet
	runTaken          // the watch took it to hedge: the slow path owns it
	runEnded          // its first attempt panicked
)

// hedgeWatch starts the hedges of every run of one Hedge with one timer,
// so that a call that answers before its delay — most calls — costs no
// timer of its own: it only publishes its deadline. The timer fires at the
// earliest deadline it was armed for, takes the runs that are due, and
// arms itself again for the earliest deadline still running.
type hedgeWatch[T any] struct {
	armedAt atomic.Int64 // the Nanotime reading the timer fires at; 0: not armed

	mu    sync.Mutex // guards the fields below
	timer *time.Timer
	runs  []*hedgeRun[T] // every run idle or in flight; a run knows its index
}

// arm makes sure the timer fires by deadline. A run is published running
// before arm reads armedAt, and the timer clears armedAt before it scans,
// so a run that arm leaves to an armed timer is seen by its scan.
func (w *hedgeWatch[T]) arm(h *Hedge[T], deadline int64) {
	if a := w.armedAt.Load(); a != 0 && a <= deadline {
		return
	}
	w.mu.Lock()
	if a := w.armedAt.Load(); a == 0 || a > deadline {
		w.armedAt.Store(deadline)
		d := time.Duration(deadline - firebreak.Nanotime())
		if w.timer == nil {
			w.timer = time.AfterFunc(d, h.scan)
		} else {
			w.timer.Reset(d)
		}
	}
	w.mu.Unlock()
}

// scan is the watch's timer: it takes the runs that are due, forgets them
// (they are never reused), arms the timer for the earliest deadline still
// running, trims the idle runs a burst left, and starts the hedges of the
// runs it took, outside its lock.
func (h *Hedge[T]) scan() {
	w := &h.watch
	var due []*hedgeRun[T]
	w.mu.Lock()
	w.armedAt.Store(0)
	now := firebreak.Nanotime()
	next := int64(math.MaxInt64)
	running := 0
	live := w.runs[:0]
	for _, r := range w.runs {
		dl, st := r.due(now)
		switch st {
		case runTaken:
			due = append(due, r)
			continue
		case runEnded:
			continue
		case runRunning:
			next = min(next, dl)
			running++
		}
		r.idx = len(live)
		live = append(live, r)
	}
	clear(w.runs[len(live):])
	w.runs = live
	for _, r := range h.idle.trim(running + runSlack) {
		w.forget(r)
	}
	if next != math.MaxInt64 {
		w.armedAt.Store(next)
		w.timer.Reset(time.Duration(next - now))
	}
	w.mu.Unlock()
	for _, r := range due {
		r.fire()
	}
}

// forget removes r from the runs. w.mu must be held.
func (w *hedgeWatch[T]) forget(r *hedgeRun[T]) {
	last := len(w.runs) - 1
	w.runs[r.idx] = w.runs[last]
	w.runs[r.idx].idx = r.idx
	w.runs[last] = nil
	w.runs = w.runs[:last]
}

// hedgeRun is one hedged call, pooled while no hedge starts.
type hedgeRun[T any] struct {
	h        *Hedge[T]
	state    atomic.Uint64 // generation<<2 | runIdle, runRunning, runTaken or runEnded
	deadline atomic.Int64  // the Nanotime reading the first hedge is due at
	gen      uint64        // the generation in use; the caller's
	idx      int           // its index in the watch's runs; guarded by the watch's mu

	// Set by the caller before it publishes the run; read by others only
	// after the watch takes it.
	parent context.Context
	next   firebreak.Next[T]
	first  *attemptCtx
	d      time.Duration

	mu      sync.Mutex  // guards the fields below
	timer   *time.Timer // starts the hedges after the first; made with the second
	hedges  []*attemptCtx
	pending int           // hedges still running
	ended   bool          // the first attempt returned: start no more hedges
	done    bool          // the caller has its answer: drop late results
	won     bool          // a hedge succeeded
	v       T             // the winning hedge's result
	winner  *attemptCtx   // the winning hedge's context, never cancelled
	changed chan struct{} // signalled when a hedge ends; made with the first hedge
}

// due is the watch's look at a run at now: runTaken if it was running and
// due, and the watch took it; runRunning and its deadline if it runs on;
// otherwise its state (runIdle or runEnded).
func (r *hedgeRun[T]) due(now int64) (int64, uint64) {
	s := r.state.Load()
	if s&3 != runRunning {
		return 0, s & 3
	}
	dl := r.deadline.Load() // of this generation, or of a later one: then the CAS fails
	if dl > now {
		return dl, runRunning
	}
	if r.state.CompareAndSwap(s, s&^3|runTaken) {
		return 0, runTaken
	}
	return 0, runIdle // finished meanwhile (or reused: then its deadline is later)
}

// fire starts a hedge, if the call still runs and the budget allows, and
// arms the next one.
func (r *hedgeRun[T]) fire() {
	r.mu.Lock()
	if r.ended || r.done || r.won || r.first == nil {
		r.mu.Unlock()
		return
	}
	h := r.h
	if !h.budget.takeRetry(h.budget.now(), h.ratio, h.minRetries) {
		r.mu.Unlock()
		h.m.Add(&h.b, "hedge_budget")
		return
	}
	ctx := &attemptCtx{Context: r.parent}
	r.hedges = append(r.hedges, ctx)
	r.pending++
	if r.changed == nil {
		r.changed = make(chan struct{}, 1)
	}
	if len(r.hedges) < h.maxHedges {
		if r.timer == nil {
			r.timer = time.AfterFunc(r.d, r.fire)
		} else {
			r.timer.Reset(r.d)
		}
	}
	next := r.next
	r.mu.Unlock()
	h.m.Add(&h.b, "hedged")
	go r.run(ctx, next)
}

// run is one hedge, on its own goroutine.
func (r *hedgeRun[T]) run(ctx *attemptCtx, next firebreak.Next[T]) {
	var (
		v   T
		err error
	)
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("failover: hedged attempt panicked: %v", p)
			}
		}()
		v, err = next.Call(ctx)
	}()
	r.mu.Lock()
	r.pending--
	var losers []*attemptCtx
	won := false
	if !r.done && !r.won {
		if err == nil {
			r.won, r.v, r.winner, won = true, v, ctx, true
			losers = r.others(ctx)
		}
	}
	select {
	case r.changed <- struct{}{}:
	default:
	}
	r.mu.Unlock()
	for _, c := range losers {
		c.cancel()
	}
	if won {
		r.h.m.Add(&r.h.b, "hedge_won")
	}
}

// others returns the attempts other than winner. r.mu must be held.
func (r *hedgeRun[T]) others(winner *attemptCtx) []*attemptCtx {
	out := make([]*attemptCtx, 0, len(r.hedges)+1)
	if r.first != winner {
		out = append(out, r.first)
	}
	for _, c := range r.hedges {
		if c != winner {
			out = append(out, c)
		}
	}
	return out
}

// finish takes the first attempt's outcome and returns the call's.
func (r *hedgeRun[T]) finish(v T, err error) (T, error) {
	r.mu.Lock()
	r.ended = true
	if r.timer != nil {
		r.timer.Stop()
	}
	if len(r.hedges) == 0 {
		// Taken, but no hedge started (the budget was spent, or the first
		// attempt answered first): its outcome is the call's.
		r.done = true
		r.mu.Unlock()
		return v, err
	}
	if err == nil {
		r.done = true
		losers := r.others(r.first)
		r.mu.Unlock()
		for _, c := range losers {
			c.cancel()
		}
		return v, nil
	}
	// The first attempt failed (or was cancelled because a hedge won): wait
	// for the hedges still running.
	for !r.won && r.pending > 0 {
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-r.parent.Done():
		}
		r.mu.Lock()
		if r.parent.Err() != nil {
			break
		}
	}
	r.done = true
	won, wv := r.won, r.v
	losers := r.others(r.winner) // nil unless a hedge won: then its answer may use its context
	r.mu.Unlock()
	for _, c := range losers {
		c.cancel()
	}
	if won {
		return wv, nil
	}
	return v, err
}

// end stops a run whose first attempt panicked.
func (r *hedgeRun[T]) end() {
	r.mu.Lock()
	r.ended, r.done = true, true
	if r.timer != nil {
		r.timer.Stop()
	}
	losers := r.others(nil)
	r.mu.Unlock()
	for _, c := range losers {
		c.cancel()
	}
}

// attemptCtx is the context of one attempt of a hedged call: its parent's,
// and cancelled when another attempt wins. Its Done channel is made only
// when someone asks for it, so an attempt that never watches its context
// costs one small allocation.
type attemptCtx struct {
	context.Context

	mu   sync.Mutex // guards the fields below
	done chan struct{}
	err  error
	stop func() bool // unregisters the watch on the parent
}

func (c *attemptCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		switch {
		case c.err != nil:
			close(c.done)
		case c.Context.Done() != nil:
			// The watch on the parent holds the attempt weakly and goes
			// when the attempt is garbage. What a call returns may use
			// its context for as long as it keeps it (an HTTP body), so
			// the attempt of a call that was never hedged is never ended;
			// held strongly, its watch would stay on a long-lived parent
			// (a worker's context) for as long as the parent lives.
			parent, attempt := c.Context, weak.Make(c)
			c.stop = context.AfterFunc(parent, func() {
				if c := attempt.Value(); c != nil {
					c.end(parent.Err())
				}
			})
			runtime.AddCleanup(c, func(stop func() bool) { stop() }, c.stop)
		}
	}
	return c.done
}

func (c *attemptCtx) Err() error {
	c.mu.Lock()
	err, watched := c.err, c.done != nil
	c.mu.Unlock()
	if err != nil || watched {
		return err
	}
	return c.Context.Err()
}

// cancel ends the attempt: another one won.
func (c *attemptCtx) cancel() { c.end(context.Canceled) }

func (c *attemptCtx) end(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
	stop := c.stop
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}
