package failover

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover/internal/event"
)

// Bulkhead limits the calls in flight to one dependency, so that a slow
// dependency holds at most that many of the service's goroutines,
// connections and memory, and the rest of the service keeps working. A call
// finding the bulkhead full waits in a bounded first-in first-out queue
// ([WithQueue]) for at most its wait and its context, or, without a queue,
// is rejected at once.
//
// A rejection is a [*BulkheadError] that matches [ErrBulkheadFull] and is a
// [firebreak.RejectOverload] rejection: no breaker counts it and no retry
// repeats it. A caller whose context ends while queued gets its context's
// error. When calls have been rejected for a sustained time ([WithSustain]),
// a [firebreak.KindLoadShed] signal fires, labelled policy "bulkhead" and
// guards the dependency; like the [Shedder]'s, it names no dependency, for
// it is the service protecting itself. It clears once rejections stop.
//
// Build one per dependency with [NewBulkhead]; it is safe for concurrent
// use. Admitting and releasing a call, queue empty, takes no lock and does
// not allocate: an atomic compare-and-swap and an atomic add on the count
// in flight, or, while it is well under the limit, a permit a finished
// call kept on its processor for the next one (kept permits stay counted,
// so the limit holds, and are taken back before a call is queued or
// rejected). A pipeline
// binds it; used on its own, bind it with [Bulkhead.Bind] or its signals go
// to [firebreak.Discard].
type Bulkhead[T any] struct {
	b firebreak.Binding
	m event.Meter

	max      int64
	keepBel  int64        // a release keeps its permit only while inflight is under this
	_        [64]byte     // inflight and waiting on a cache line of their own
	inflight atomic.Int64 // calls admitted and not finished, plus the permits kept
	waiting  atomic.Int64 // waiters in the queue; read on every release
	_        [48]byte     //
	permits  *keptPermits

	queueSize int
	maxWait   time.Duration

	mu    sync.Mutex // guards queue
	queue []*waiter  // FIFO; the head is granted first

	errFull, errWait *BulkheadError // preallocated, so that rejecting does not allocate

	ep      episode
	presets atomic.Pointer[event.Presets]
}

// waiter is a call queued for a place. granted is set under Bulkhead.mu by
// the release that hands it the place; ch is then signalled.
type waiter struct {
	ch      chan struct{}
	granted bool
}

var (
	_ firebreak.Policy[int] = (*Bulkhead[int])(nil)
	_ firebreak.Binder      = (*Bulkhead[int])(nil)
	_ firebreak.Staged      = (*Bulkhead[int])(nil)
)

// NewBulkhead returns a bulkhead admitting at most maxConcurrent calls at
// once (at least 1). By default there is no queue: a call finding it full is
// rejected at once; rejections are sustained after 10s.
func NewBulkhead[T any](maxConcurrent int, opts ...BulkheadOption) (*Bulkhead[T], error) {
	c := bulkheadConfig{sustainConfig: defaultSustain()}
	if err := apply("NewBulkhead", opts, func(o BulkheadOption) { o.applyBulkhead(&c) }); err != nil {
		return nil, err
	}
	var errs []error
	bad := func(cond bool, format string, args ...any) {
		if cond {
			errs = append(errs, fmt.Errorf("failover: NewBulkhead: "+format, args...))
		}
	}
	bad(maxConcurrent < 1, "maxConcurrent %d must be at least 1", maxConcurrent)
	bad(c.queueSize < 0, "WithQueue size %d must not be negative", c.queueSize)
	bad(c.maxWait < 0, "WithQueue maxWait %v must not be negative", c.maxWait)
	bad(c.queueSize > 0 && c.maxWait == 0, "WithQueue maxWait must be positive for a queue of %d", c.queueSize)
	errs = append(errs, c.sustainConfig.check("NewBulkhead")...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := event.NewMeter(scope, "bulkhead", c.meterProvider)
	if err != nil {
		return nil, fmt.Errorf("failover: NewBulkhead: %w", err)
	}
	return &Bulkhead[T]{
		permits: newKeptPermits(),
		m:       m, max: int64(maxConcurrent), keepBel: int64(maxConcurrent) - keepers(),
		queueSize: c.queueSize, maxWait: c.maxWait,
		errFull: &BulkheadError{Limit: maxConcurrent, Queue: c.queueSize},
		errWait: &BulkheadError{Limit: maxConcurrent, Queue: c.queueSize, Waited: c.maxWait},
		ep:      newEpisode(c.sustainConfig),
	}, nil
}

// Bind implements [firebreak.Binder]: the first Bind fixes the identity the
// bulkhead reports under; binding again to the same one does nothing, to
// another is an [*firebreak.AlreadyBoundError].
func (p *Bulkhead[T]) Bind(c firebreak.Component) error {
	_, err := p.b.Bind("failover: bulkhead", c)
	return err
}

// Stage implements [firebreak.Staged]: [firebreak.StageShed], inside the
// breaker and retries, next to the call whose concurrency it limits.
func (p *Bulkhead[T]) Stage() firebreak.Stage { return firebreak.StageShed }

// InFlight returns the calls admitted and not yet finished.
func (p *Bulkhead[T]) InFlight() int { return int(max(p.inflight.Load()-p.permits.count(), 0)) }

// Queued returns the calls waiting in the queue.
func (p *Bulkhead[T]) Queued() int { return int(p.waiting.Load()) }

// Execute runs fn under the policy, for use without a pipeline.
func (p *Bulkhead[T]) Execute(ctx context.Context, fn firebreak.Func[T]) (T, error) {
	return p.Apply(ctx, firebreak.Call(fn))
}

// Apply implements [firebreak.Policy].
func (p *Bulkhead[T]) Apply(ctx context.Context, next firebreak.Next[T]) (T, error) {
	if err := p.acquire(ctx); err != nil {
		var zero T
		return zero, err
	}
	defer p.release()
	return next.Call(ctx)
}

// tryAcquire takes a place if one is free.
func (p *Bulkhead[T]) tryAcquire() bool {
	for {
		n := p.inflight.Load()
		if n >= p.max {
			return false
		}
		if p.inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (p *Bulkhead[T]) acquire(ctx context.Context) error {
	// The fast path leaves the places to the queue while anyone waits, so
	// that the queue is served first in, first out.
	if p.waiting.Load() == 0 && (p.permits.take(p.permits.slot()) || p.tryAcquire() || p.reclaimAndAcquire()) {
		if p.ep.firing.Load() {
			p.maybeClear()
		}
		return nil
	}
	if p.queueSize == 0 {
		return p.reject(p.errFull, "bulkhead_full")
	}
	p.mu.Lock()
	// Count the waiter before trying again: a release that decrements
	// inflight after this try sees waiting > 0 and grants the queue.
	p.waiting.Add(1)
	p.reclaim() // no permit stays kept while anyone waits; see release
	p.permits.settle()
	if len(p.queue) == 0 && p.tryAcquire() {
		p.waiting.Add(-1)
		p.mu.Unlock()
		return nil
	}
	if len(p.queue) >= p.queueSize {
		p.waiting.Add(-1)
		p.mu.Unlock()
		return p.reject(p.errFull, "bulkhead_full")
	}
	w := &waiter{ch: make(chan struct{}, 1)}
	p.queue = append(p.queue, w)
	p.grantLocked() // places the kept permits freed, first in, first out
	p.mu.Unlock()

	t := time.NewTimer(p.maxWait)
	defer t.Stop()
	var err error
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-t.C:
		err = p.errWait
	}
	p.mu.Lock()
	if w.granted { // granted as we gave up: pass the place on
		p.mu.Unlock()
		p.release()
	} else {
		for i, q := range p.queue {
			if q == w {
				p.queue = append(p.queue[:i], p.queue[i+1:]...)
				break
			}
		}
		p.waiting.Add(-1)
		p.mu.Unlock()
	}
	if err == p.errWait {
		return p.reject(p.errWait, "bulkhead_queue_timeout")
	}
	return err
}

// release frees a place, handing it to the head of the queue if anyone
// waits.
func (p *Bulkhead[T]) release() {
	if p.waiting.Load() == 0 && p.inflight.Load() < p.keepBel {
		if i := p.permits.slot(); p.permits.keep(i) {
			// Kept for the next call on this processor. A caller that began
			// to wait meanwhile counted itself waiting before it took the
			// kept permits back; this kept the permit before it looks: so
			// either that caller took it, or this sees it waiting and takes
			// it back (or another caller has used it already).
			if p.waiting.Load() == 0 || !p.permits.unkeep(i) {
				return
			}
		}
	}
	p.inflight.Add(-1)
	if p.waiting.Load() == 0 {
		return
	}
	p.mu.Lock()
	p.grantLocked()
	p.mu.Unlock()
}

// grantLocked gives the free places to the head of the queue. p.mu must be
// held.
func (p *Bulkhead[T]) grantLocked() {
	for len(p.queue) > 0 && p.tryAcquire() {
		w := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.waiting.Add(-1)
		w.granted = true
		w.ch <- struct{}{}
	}
}

// reclaimAndAcquire takes back the permits kept on processors and a place
// with them, for a call on the fast path that found none free. A caller
// that began to wait while they were being taken back found no place and
// queued: it is granted one of them here, or it would wait for the next
// release with places free.
func (p *Bulkhead[T]) reclaimAndAcquire() bool {
	freed := p.reclaim()
	p.permits.settle() // another call may be freeing the permits this found gone
	ok := p.tryAcquire()
	if freed && p.waiting.Load() > 0 {
		p.mu.Lock()
		p.grantLocked()
		p.mu.Unlock()
	}
	return ok
}

// reclaim takes back the permits kept on processors, and reports whether
// there were any.
func (p *Bulkhead[T]) reclaim() bool { return p.permits.reclaim(&p.inflight) > 0 }

func (p *Bulkhead[T]) reject(e *BulkheadError, ev string) error {
	p.m.AddPreset(p.m.Preset(&p.b, &p.presets, "bulkhead_full", "bulkhead_queue_timeout"), ev)
	if fire, n, span := p.ep.reject(); fire {
		sig := overloadSignal(&p.b, "bulkhead", true)
		sig.Value = float64(n)
		sig.Summary = fmt.Sprintf("%d calls rejected by the bulkhead over %v (limit %d in flight)", n, span.Round(time.Second), p.max)
		p.b.Report(sig)
	}
	return e
}

func (p *Bulkhead[T]) maybeClear() {
	if p.ep.clear() {
		sig := overloadSignal(&p.b, "bulkhead", false)
		sig.Summary = "bulkhead rejections stopped"
		p.b.Report(sig)
	}
}

// overloadSignal is the load_shed signal of a per-dependency overload
// protection (a bulkhead, a concurrency limit). As with the [Shedder], the
// rejection is the service protecting itself, not a fault of the
// dependency: the signal names no dependency, and carries it as the
// "guards" label, with the policy as the "policy" label.
func overloadSignal(b *firebreak.Binding, policy string, firing bool) firebreak.Signal {
	sig := b.Signal(firebreak.KindLoadShed, firing)
	sig.Labels = map[string]string{"policy": policy}
	if sig.Dependency != "" {
		sig.Labels["guards"] = sig.Dependency
		sig.Dependency = ""
	}
	return sig
}

// episode tells a sustained run of rejections from a passing one, in the
// manner of the [Shedder]: it fires once rejections have gone on for
// sustain without a pause longer than quiet, and clears after quiet
// without a rejection. Its methods are lock-free.
type episode struct {
	sustain, quiet int64     // nanoseconds
	base           time.Time // origin of the clocks below (each +1, so 0 means never)
	start, last    atomic.Int64
	count          atomic.Int64
	firing         atomic.Bool
}

func newEpisode(c sustainConfig) episode {
	return episode{sustain: int64(c.sustain), quiet: int64(c.quiet), base: time.Now()}
}

// reject counts a rejection; fire says it is the one that makes the run
// sustained, n and span what the run holds so far.
func (e *episode) reject() (fire bool, n int64, span time.Duration) {
	now := int64(time.Since(e.base)) + 1
	last := e.last.Swap(now)
	start := e.start.Load()
	if start == 0 || now-last > e.quiet {
		e.start.Store(now)
		e.count.Store(1)
		return false, 1, 0
	}
	n = e.count.Add(1)
	if now-start >= e.sustain && e.firing.CompareAndSwap(false, true) {
		return true, n, time.Duration(now - start)
	}
	return false, n, time.Duration(now - start)
}

// clear reports whether the run just ended: it was firing and quiet has
// passed since the last rejection.
func (e *episode) clear() bool {
	now := int64(time.Since(e.base)) + 1
	if now-e.last.Load() <= e.quiet {
		return false
	}
	if e.firing.CompareAndSwap(true, false) {
		e.start.Store(0)
		return true
	}
	return false
}
