package failover

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// window counts two kinds of events (a and b) over a rolling time window
// split into buckets. Adding is lock-free: a bucket remembers which slice of
// time (its epoch) it counts, and the first writer of a new epoch resets it.
// A count added concurrently with that reset may be lost, which a budget can
// tolerate: the window is an estimate, never a ledger.
type window struct {
	base    time.Time // monotonic origin of epochs
	width   int64     // nanoseconds per bucket
	buckets []wbucket
}

// wbucket counts one slice of time. Count a, added on every call of the
// policy using the window, is striped over cache lines so that parallel
// callers do not fight over one; count b is rarer.
type wbucket struct {
	epoch atomic.Int64
	b     atomic.Int64
	_     [48]byte
	a     [stripes]stripe
}

type stripe struct {
	n atomic.Int64
	_ [56]byte // one cache line per stripe
}

const (
	windowBuckets = 10
	stripes       = 8
)

func newWindow(span time.Duration) *window {
	w := &window{base: time.Now(), width: int64(span) / windowBuckets, buckets: make([]wbucket, windowBuckets)}
	if w.width <= 0 {
		w.width = 1
	}
	for i := range w.buckets {
		w.buckets[i].epoch.Store(-1)
	}
	return w
}

// now returns the window's clock: the time since its base. It reads only
// the monotonic clock (time.Since's fast path), half the cost of time.Now.
func (w *window) now() time.Duration { return time.Since(w.base) }

func (w *window) epoch(now time.Duration) int64 { return int64(now) / w.width }

func (w *window) bucket(now time.Duration) *wbucket {
	e := w.epoch(now)
	bk := &w.buckets[e%int64(len(w.buckets))]
	if cur := bk.epoch.Load(); cur != e {
		if cur < e && bk.epoch.CompareAndSwap(cur, e) {
			for i := range bk.a {
				bk.a[i].n.Store(0)
			}
			bk.b.Store(0)
		}
	}
	return bk
}

func (w *window) addA(now time.Duration, n int64) {
	w.bucket(now).a[rand.Uint32()%stripes].n.Add(n)
}
func (w *window) addB(now time.Duration, n int64) { w.bucket(now).b.Add(n) }

// sums returns the totals of a and b over the buckets of the current window.
func (w *window) sums(now time.Duration) (a, b int64) {
	e := w.epoch(now)
	for i := range w.buckets {
		bk := &w.buckets[i]
		if be := bk.epoch.Load(); be > e-int64(len(w.buckets)) && be <= e {
			for j := range bk.a {
				a += bk.a[j].n.Load()
			}
			b += bk.b.Load()
		}
	}
	return a, b
}
