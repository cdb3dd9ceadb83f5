package failover

import (
	"sync"
	"sync/atomic"
	"time"
)

// budgetWindow counts calls and retries over a rolling window split into
// buckets, for the retry budget.
//
// Counting a call is the hot path, so it reads no clock: it adds to one of
// several striped pending counters (one cache line each), picked by the
// processor the caller runs on (see stripeIndex), so that parallel callers
// neither share a counter nor pull each other's cache lines. A stripe's pending calls are moved
// into the bucket of the current time every flushEvery calls of that stripe,
// and all stripes are flushed before every budget decision. A flushed call
// is attributed to the time of the flush, so the number of calls in the
// window can be overestimated by at most the calls pending at a flush (fewer
// than flushEvery × stripes): a small, bounded error in exchange for a clock
// read every flushEvery-th call instead of every call.
type budgetWindow struct {
	base    time.Time // monotonic origin of epochs
	width   int64     // nanoseconds per bucket
	pending [stripes]stripe

	mu      sync.Mutex // guards buckets
	buckets [windowBuckets]wbucket
}

type wbucket struct {
	epoch          int64 // which slice of time the bucket counts; -1: none
	calls, retries int64
}

type stripe struct {
	n atomic.Int64
	_ [56]byte // one cache line per stripe
}

const (
	windowBuckets = 10
	stripes       = 8
	flushEvery    = 32
)

func newBudgetWindow(span time.Duration) *budgetWindow {
	w := &budgetWindow{base: time.Now(), width: max(int64(span)/windowBuckets, 1)}
	for i := range w.buckets {
		w.buckets[i].epoch = -1
	}
	return w
}

// stripeSlots hands out stripe numbers. sync.Pool keeps a cache per
// processor (P), so a goroutine gets back, nearly always, the number its P
// used last: the counter it adds to stays in that core's cache. A number
// the pool drops at a garbage collection is simply replaced.
var (
	stripeNext  atomic.Uint32
	stripeSlots = sync.Pool{New: func() any {
		i := int(stripeNext.Add(1) % stripes)
		return &i
	}}
)

// stripeIndex returns the stripe for the calling processor.
func stripeIndex() int {
	p := stripeSlots.Get().(*int)
	i := *p
	stripeSlots.Put(p)
	return i
}

// now returns the window's clock, the time since its base. It reads only the
// monotonic clock (time.Since's fast path), half the cost of time.Now.
func (w *budgetWindow) now() time.Duration { return time.Since(w.base) }

// call counts one call. It does not allocate and rarely reads the clock.
// Every flushEvery calls a stripe moves its own pending count into the
// current bucket; it leaves the other stripes alone, so that parallel callers
// do not pull each other's cache lines.
func (w *budgetWindow) call() {
	st := &w.pending[stripeIndex()]
	if st.n.Add(1)%flushEvery == 0 && w.mu.TryLock() { // if locked, a later call flushes
		if n := st.n.Swap(0); n != 0 {
			w.bucketLocked(w.now()).calls += n
		}
		w.mu.Unlock()
	}
}

// bucketLocked returns the bucket of the epoch at now, reset if it held an
// older epoch. w.mu must be held.
func (w *budgetWindow) bucketLocked(now time.Duration) *wbucket {
	e := int64(now) / w.width
	bk := &w.buckets[e%windowBuckets]
	if bk.epoch != e {
		*bk = wbucket{epoch: e}
	}
	return bk
}

func (w *budgetWindow) flushLocked(now time.Duration) {
	var n int64
	for i := range w.pending {
		n += w.pending[i].n.Swap(0)
	}
	if n != 0 {
		w.bucketLocked(now).calls += n
	}
}

// takeRetry reports whether a retry fits in the budget — retries in the
// window below max(minRetries, ratio × calls in the window) — and if so
// counts it.
func (w *budgetWindow) takeRetry(now time.Duration, ratio float64, minRetries int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked(now)
	e := int64(now) / w.width
	var calls, retries int64
	for i := range w.buckets {
		if bk := &w.buckets[i]; bk.epoch > e-windowBuckets && bk.epoch <= e {
			calls += bk.calls
			retries += bk.retries
		}
	}
	if retries >= max(minRetries, int64(ratio*float64(calls))) {
		return false
	}
	w.bucketLocked(now).retries++
	return true
}
