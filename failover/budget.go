package failover

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/stripe"
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
	base    time.Time // monotonic origin of epochs: the time of reading origin
	origin  int64     // the firebreak.Nanotime reading of base
	width   int64     // nanoseconds per bucket
	_       [64]byte  // keeps the stripes off the fields' cache line
	pending [stripes]pendingCount

	mu      sync.Mutex // guards buckets
	buckets [windowBuckets]wbucket
}

type wbucket struct {
	epoch          int64 // which slice of time the bucket counts; -1: none
	calls, retries int64
}

type pendingCount struct {
	n atomic.Int64
	_ [56]byte // one cache line per stripe
}

const (
	windowBuckets = 10
	stripes       = 8
	flushEvery    = 32
)

func newBudgetWindow(span time.Duration) *budgetWindow {
	origin := firebreak.Nanotime()
	w := &budgetWindow{base: firebreak.TimeOf(origin), origin: origin, width: max(int64(span)/windowBuckets, 1)}
	for i := range w.buckets {
		w.buckets[i].epoch = -1
	}
	return w
}

// stripeIndex returns the stripe for the calling processor (P): the
// counter it adds to stays in that core's cache.
func stripeIndex() int { return stripe.P() % stripes }

// now returns the window's clock, the time since its base. It reads only the
// monotonic clock (firebreak.Nanotime), half the cost of time.Now.
func (w *budgetWindow) now() time.Duration { return w.at(firebreak.Nanotime()) }

// at returns the window's clock at the firebreak.Nanotime reading now.
func (w *budgetWindow) at(now int64) time.Duration { return time.Duration(now - w.origin) }

// call counts one call at the firebreak.Nanotime reading now, which it uses
// only every flushEvery calls. It does not allocate. Every flushEvery calls
// a stripe moves its own pending count into the current bucket; it leaves
// the other stripes alone, so that parallel callers do not pull each
// other's cache lines.
func (w *budgetWindow) call(now int64) {
	st := &w.pending[stripeIndex()]
	if st.n.Add(1)%flushEvery == 0 && w.mu.TryLock() { // if locked, a later call flushes
		if n := st.n.Swap(0); n != 0 {
			w.bucketLocked(w.at(now)).calls += n
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
