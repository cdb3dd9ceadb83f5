package failover

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// budgetWindow counts calls and retries over a rolling window split into
// buckets, for the retry budget.
//
// Counting a call is the hot path, so it reads no clock: it adds to one of
// several striped pending counters (one cache line each, picked at random,
// so parallel callers rarely share one). Pending calls are flushed into the
// bucket of the current time every flushEvery calls of a stripe, and before
// every budget decision. A flushed call is attributed to the time of the
// flush, so the number of calls in the window can be overestimated by at
// most the calls pending at a flush (flushEvery × stripes): a small,
// bounded error in exchange for a clock read every sixteenth call instead of
// every call.
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
	flushEvery    = 16
)

func newBudgetWindow(span time.Duration) *budgetWindow {
	w := &budgetWindow{base: time.Now(), width: max(int64(span)/windowBuckets, 1)}
	for i := range w.buckets {
		w.buckets[i].epoch = -1
	}
	return w
}

// now returns the window's clock, the time since its base. It reads only the
// monotonic clock (time.Since's fast path), half the cost of time.Now.
func (w *budgetWindow) now() time.Duration { return time.Since(w.base) }

// call counts one call. It does not allocate and rarely reads the clock.
func (w *budgetWindow) call() {
	if w.pending[rand.Uint32()%stripes].n.Add(1)%flushEvery == 0 {
		if w.mu.TryLock() { // someone else flushing will take these too
			w.flushLocked(w.now())
			w.mu.Unlock()
		}
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
