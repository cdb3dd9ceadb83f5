package breaker

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/firebreak-go/firebreak/internal/stripe"
	"github.com/sony/gobreaker/v2"
)

// window is the rolling window of one closed phase of a machine: from the
// moment gobreaker's state machine is closed until it leaves closed. It
// replaces gobreaker's own counts in the closed state, which gobreaker
// keeps under its one mutex: a successful call is counted here with two
// atomic adds and takes no lock: on one counter while the calls come one at a
// time, and on per-P stripes, made on the first contention seen, after that. The lock is taken on a
// bucket rollover, for a failure or an exclusion (which may trip), and for a
// call that finishes in a later bucket than it started in. gobreaker stays
// the state machine: when the window's trip rule fires, the breaker makes
// gobreaker trip (see tripLocked).
//
// The counts follow gobreaker's exactly, one call at a time: the same
// buckets (a window of one bucket is a fixed window cleared on the first
// call after it ends), a finished call counted in the bucket it started in
// while that bucket is in the window, the consecutive runs clipped to the
// window. Calls racing a rollover may be counted one bucket later than
// gobreaker would; none is lost.
type window struct {
	// ageEnd is the reading at which the current bucket ends; a call at or
	// after it rolls the window (under mu) before it is counted.
	ageEnd atomic.Int64
	// age is the current bucket's age, as gobreaker counts it.
	age atomic.Uint64
	// one and the stripes count the current bucket's fast calls: requests
	// in the high 32 bits, successes in the low 32. They are folded into
	// the bucket on every rollover and whenever the counts are read. Calls
	// add to one with a compare-and-swap until one fails, which shows that
	// calls run at the same time; the per-P stripes are made then, and
	// calls add to them from there on. A window that never sees
	// contention (most of a Group's) never pays for the stripes' cache
	// lines.
	one     atomic.Uint64
	striped atomic.Pointer[stripes]

	mu      sync.Mutex // guards the fields below and the machine's trip
	start   int64      // reading at which bucket age 0 began
	period  int64      // bucket length in nanoseconds
	buckets []bucket   // folded counts, by age modulo len
	total   bucket     // sum of buckets
	// succAll counts every success of the phase folded so far; failRun is
	// the run of failures since the last success, unclipped, and
	// succAtFail the value of succAll (plus the stripes) at the last
	// failure: successes since then are the current run of successes.
	succAll    uint64
	succAtFail uint64
	failRun    uint32
	dead       bool // the machine left closed: count nothing more
}

// stripes are a window's per-P counters, made on the first contention.
// Every call reads the header, so it fills its own cache line: a 32-byte
// header could share a line with a neighbour written on every call (a
// testing.PB does), and every call would then miss on it.
type stripes struct {
	mask int // len(c)-1, a power of two minus one
	c    []counter
	_    [64 - unsafe.Sizeof(int(0)) - unsafe.Sizeof([]counter(nil))]byte
}

// bucket is one bucket's counts.
type bucket struct{ requests, successes, failures, excluded uint32 }

// counter is one per-P counter, alone in its cache line.
type counter struct {
	n atomic.Uint64
	_ [64 - unsafe.Sizeof(atomic.Uint64{})]byte
}

const oneRequest = 1 << 32

// maxStripes bounds a window's memory (64 bytes a stripe): past 8 Ps,
// stripes are shared.
const maxStripes = 8

// numStripes is the number of stripes of windows made now: GOMAXPROCS
// rounded up to a power of two, at most maxStripes.
func numStripes() int {
	n := 1
	for n < runtime.GOMAXPROCS(0) && n < maxStripes {
		n <<= 1
	}
	return n
}

// add adds d to the current bucket's fast counts.
func (w *window) add(d uint64) {
	if s := w.striped.Load(); s != nil {
		s.c[stripe.P()&s.mask].n.Add(d)
		return
	}
	if v := w.one.Load(); w.one.CompareAndSwap(v, v+d) {
		return
	}
	s := w.contended()
	s.c[stripe.P()&s.mask].n.Add(d)
}

// contended returns the window's stripes, making them if no call has yet.
func (w *window) contended() *stripes {
	if s := w.striped.Load(); s != nil {
		return s
	}
	n := numStripes()
	s := &stripes{mask: n - 1, c: make([]counter, n)}
	if !w.striped.CompareAndSwap(nil, s) {
		return w.striped.Load()
	}
	return s
}

// newWindow returns the window of a closed phase starting at reading now.
func newWindow(cfg *config, now int64) *window {
	n := int(cfg.window / cfg.bucket)
	w := &window{
		start:   now,
		period:  int64(cfg.bucket),
		buckets: make([]bucket, n),
	}
	w.ageEnd.Store(w.endOf(0, now))
	return w
}

// endOf returns the reading at which bucket age, current at reading now,
// ends. A window of several buckets rolls on a fixed grid from start; a
// window of one bucket, like gobreaker's, clears on the first call after
// its interval has passed. The end saturates at math.MaxInt64 (a bucket
// that never ends) rather than wrap to a past reading.
func (w *window) endOf(age uint64, now int64) int64 {
	from, n := w.start, age+1
	if len(w.buckets) == 1 {
		from, n = now+1, 1
	}
	if n > uint64(math.MaxInt64/w.period) {
		return math.MaxInt64
	}
	if end := from + int64(n)*w.period; end >= from {
		return end
	}
	return math.MaxInt64
}

// admit counts a call let through at reading now and returns the bucket
// age it started in. It returns false if the window is dead: the machine
// left closed, and gobreaker decides.
func (w *window) admit(now int64) (uint64, bool) {
	if now < w.ageEnd.Load() {
		age := w.age.Load()
		w.add(oneRequest)
		return age, true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dead {
		return 0, false
	}
	w.rollLocked(now)
	w.buckets[w.index(w.age.Load())].requests++
	w.total.requests++
	return w.age.Load(), true
}

// success counts a successful call that started in bucket age; it takes
// the lock only if the call finished in a later bucket.
func (w *window) success(age uint64) {
	if w.age.Load() == age {
		w.add(1)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.dead && w.inWindowLocked(age) {
		w.buckets[w.index(age)].successes++
		w.total.successes++
		w.succAll++
	}
}

func (w *window) index(age uint64) uint64 { return age % uint64(len(w.buckets)) }

func (w *window) inWindowLocked(age uint64) bool {
	cur := w.age.Load()
	return age <= cur && cur-age < uint64(len(w.buckets))
}

// foldLocked moves the fast counts into the current bucket.
func (w *window) foldLocked() {
	w.foldOne(&w.one)
	if s := w.striped.Load(); s != nil {
		for i := range s.c {
			w.foldOne(&s.c[i].n)
		}
	}
}

// foldOne moves the fast counts of counter n into the current bucket.
func (w *window) foldOne(n *atomic.Uint64) {
	if n.Load() == 0 {
		return
	}
	v := n.Swap(0)
	req, succ := uint32(v>>32), uint32(v)
	b := &w.buckets[w.index(w.age.Load())]
	b.requests += req
	b.successes += succ
	w.total.requests += req
	w.total.successes += succ
	w.succAll += uint64(succ)
}

// rollLocked brings the window to reading now, as gobreaker's currentState
// does for the closed state.
func (w *window) rollLocked(now int64) {
	if now < w.ageEnd.Load() {
		return
	}
	w.foldLocked()
	cur := w.age.Load()
	var next uint64
	if len(w.buckets) == 1 {
		next = cur + 1 // a fixed window: a new generation from now
	} else if now > w.start {
		next = uint64((now - w.start) / w.period)
	}
	if next <= cur {
		return
	}
	if next-cur >= uint64(len(w.buckets)) {
		clear(w.buckets)
		w.total = bucket{}
	} else {
		for a := cur + 1; a <= next; a++ {
			b := &w.buckets[w.index(a)]
			w.total.requests -= b.requests
			w.total.successes -= b.successes
			w.total.failures -= b.failures
			w.total.excluded -= b.excluded
			*b = bucket{}
		}
	}
	w.age.Store(next)
	w.ageEnd.Store(w.endOf(next, now))
}

// finishLocked counts a failure (failed true) or an exclusion of a call
// that started in bucket age, at reading now, and returns the window's
// counts and whether the failure counted.
func (w *window) finishLocked(age uint64, now int64, failed bool) (gobreaker.Counts, bool) {
	w.rollLocked(now)
	counted := w.inWindowLocked(age)
	if counted {
		b := &w.buckets[w.index(age)]
		if failed {
			succ := w.succAll + w.stripeSuccesses()
			if succ != w.succAtFail {
				w.failRun = 0
			}
			w.failRun++
			w.succAtFail = succ
			b.failures++
			w.total.failures++
		} else {
			b.excluded++
			w.total.excluded++
		}
	}
	return w.countsLocked(), counted
}

func (w *window) stripeSuccesses() uint64 {
	n := uint64(uint32(w.one.Load()))
	if s := w.striped.Load(); s != nil {
		for i := range s.c {
			n += uint64(uint32(s.c[i].n.Load()))
		}
	}
	return n
}

// countsLocked returns the counts as gobreaker would hold them.
func (w *window) countsLocked() gobreaker.Counts {
	w.foldLocked()
	c := gobreaker.Counts{
		Requests:        w.total.requests,
		TotalSuccesses:  w.total.successes,
		TotalFailures:   w.total.failures,
		TotalExclusions: w.total.excluded,
	}
	// The current runs, clipped to the window: a run that began before the
	// window's oldest bucket counts only the part still in it.
	if w.succAll == w.succAtFail {
		c.ConsecutiveFailures = min(w.failRun, c.TotalFailures)
	}
	c.ConsecutiveSuccesses = uint32(min(w.succAll-w.succAtFail, uint64(c.TotalSuccesses)))
	return c
}

// counts returns the window's counts without rolling it, as gobreaker's
// Counts does.
func (w *window) counts() gobreaker.Counts {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.countsLocked()
}

// countsAt returns the counts after rolling the window to reading now.
func (w *window) countsAt(now int64) gobreaker.Counts {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rollLocked(now)
	return w.countsLocked()
}
