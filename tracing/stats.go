package tracing

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/stripe"
)

// The latency histogram is log-linear: values are kept in units of 1024 ns
// (about a microsecond); each power of two is split into 8 linear
// sub-buckets, so a bucket is at most 12.5% wide and a quantile read from it
// is within 12.5% of the true value. Below 8 units the buckets are one unit
// wide. The last bucket also holds everything above 2^37 ns (about 137 s).
//
// Fixed buckets were chosen over a sketch (DDSketch, t-digest) because
// recording is one atomic add into a fixed array: no lock, no allocation, no
// dependency, and buckets of consecutive time slots merge by addition.
const (
	histShift   = 10 // 1 unit = 1024 ns
	histSubBits = 3
	histSub     = 1 << histSubBits
	histMaxExp  = 27 // 2^27 units = 2^37 ns
	histBuckets = (histMaxExp-histSubBits+1)*histSub + histSub
)

// bucketOf returns the histogram bucket of duration d.
func bucketOf(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	v := uint64(d) >> histShift
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - 1 // 2^e <= v < 2^(e+1), e >= histSubBits
	if e > histMaxExp {
		return histBuckets - 1
	}
	sub := (v >> (e - histSubBits)) & (histSub - 1)
	return (e-histSubBits+1)*histSub + int(sub)
}

// bucketBounds returns the lower bound and width of bucket i in nanoseconds.
func bucketBounds(i int) (lo, width float64) {
	if i < histSub {
		return float64(uint64(i) << histShift), 1 << histShift
	}
	e := i/histSub + histSubBits - 1
	sub := uint64(i % histSub)
	w := uint64(1) << (e - histSubBits)
	return float64(((uint64(1) << e) + sub*w) << histShift), float64(w << histShift)
}

// live holds what is being recorded in the interval being filled, for
// the calls that ran on some of the processors: each processor adds to its
// own stripe (see [internal/stripe]), so that the cores do not share the
// cache line of a latency bucket. The rarely written counters lead and the
// padding of a stripe ends it, so that the hot buckets of two stripes never
// share a line.
type live struct {
	errors   atomic.Uint64              // failed calls
	slow     atomic.Uint64              // calls slower than the latency objective
	rejected atomic.Uint64              // calls refused locally (overload, disabled); not in hist
	gaveUp   atomic.Uint64              // calls their callers gave up on early; not in hist
	hist     [histBuckets]atomic.Uint32 // calls per latency bucket; their sum is the call count
	_        [64]byte
}

// slot is one closed interval of the rolling window. It is written once,
// when its interval ends, and read under Stats.mu. Its histogram is kept
// sparse ([appendHist]): an interval's calls fill a few dozen of the 208
// buckets, so a closed interval costs some hundred bytes, not 832.
type slot struct {
	totals
	gaveUp uint64
	hist   []byte // the nonzero buckets, encoded by appendHist
}

// appendHist appends to b the nonzero buckets of h: for each, the distance
// from the bucket after the previous one and its count, as uvarints.
func appendHist(b []byte, h *[histBuckets]uint64) []byte {
	next := 0
	for i, c := range h {
		if c == 0 {
			continue
		}
		b = binary.AppendUvarint(b, uint64(i-next))
		b = binary.AppendUvarint(b, c)
		next = i + 1
	}
	return b
}

// addHist adds the buckets encoded in b by appendHist to h.
func addHist(h *[histBuckets]uint64, b []byte) {
	next := 0
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		c, m := binary.Uvarint(b[n:])
		b = b[n+m:]
		next += int(d)
		h[next] += c
		next++
	}
}

// drain moves the counts of l into t, gaveUp and h, leaving l empty. A call
// recorded while l is drained lands either in what is drained or in what is
// left: none is lost.
func (l *live) drain(t *totals, gaveUp *uint64, h *[histBuckets]uint64) {
	for i := range l.hist {
		if c := uint64(l.hist[i].Swap(0)); c != 0 {
			h[i] += c
			t.requests += c
		}
	}
	t.errors += l.errors.Swap(0)
	t.slow += l.slow.Swap(0)
	t.rejected += l.rejected.Swap(0)
	*gaveUp += l.gaveUp.Swap(0)
}

// read adds the counts of l to t, gaveUp and h, leaving l as it is.
func (l *live) read(t *totals, gaveUp *uint64, h *[histBuckets]uint64) {
	for i := range l.hist {
		if c := uint64(l.hist[i].Load()); c != 0 {
			if h != nil {
				h[i] += c
			}
			t.requests += c
		}
	}
	t.errors += l.errors.Load()
	t.slow += l.slow.Load()
	t.rejected += l.rejected.Load()
	*gaveUp += l.gaveUp.Load()
}

// totals are cumulative or windowed counts.
type totals struct {
	requests, errors, slow, rejected uint64
}

func (t *totals) add(u totals) {
	t.requests += u.requests
	t.errors += u.errors
	t.slow += u.slow
	t.rejected += u.rejected
}

// DefaultStatsWindow is the length of the rolling window of RED statistics
// when none is given.
const DefaultStatsWindow = time.Minute

// minStatsWindow is the shortest rolling window: one millisecond per slot.
const minStatsWindow = windowSlots * time.Millisecond

// windowSlots is how many intervals a rolling window is cut into. The window
// ring holds one more: the interval being filled.
const windowSlots = 6

// Stats keeps RED statistics (rate, errors, duration) for one operation over
// a rolling window, in bounded memory whatever the traffic and however long
// it runs: about 1 KiB plus 1 KiB per processor it stripes over (at most
// [maxStripes]), plus some hundred bytes per closed interval (at most 1.2 KiB
// each, when calls fill every latency bucket); about 3 KiB on two
// processors, about 3 KiB more with an SLO's burn-rate windows. [Stats.Record] is
// lock-free and does not allocate, and the processors record into stripes
// of their own. Stats is safe for concurrent use.
type Stats struct {
	base    time.Time     // offsets below are nanoseconds since base
	origin  int64         // the firebreak.Nanotime reading of base
	slotDur int64         // nanoseconds per slot
	slow    time.Duration // latency objective threshold; 0 means none

	next atomic.Int64 // offset at which the next tick is due
	// live are the stripes of the interval being filled, one per
	// processor up to maxStripes.
	live []live

	mu sync.Mutex // guards the fields below; never held while reporting
	// slots is a ring of the windowSlots closed intervals of the window:
	// slots[oldest] is the oldest.
	slots     [windowSlots]slot
	oldest    int
	slotEnd   int64      // offset at which the interval being filled ends
	recycled  totals     // counts of the slots recycled so far
	nextEval  int64      // offset at which the burn detector is due; MaxInt64 when none
	detector  *detector  // SLO burn detection; nil when there is no SLO
	traceMu   sync.Mutex // guards traceIDs and traceNext
	traceIDs  [maxTraceIDs][16]byte
	traceNext int
}

const maxTraceIDs = 8

// maxStripes bounds how many stripes a Stats records into: beyond, the
// processors share them (processor p records into stripe p modulo the number of stripes).
// It bounds the memory of a Stats on a large machine at the cost of some
// sharing of cache lines between its cores.
const maxStripes = 4

// NewStats returns statistics over a rolling window of the given length,
// which must be at least 6 ms (it is kept as 6 intervals of window/6).
// Use [DefaultStatsWindow] when in doubt.
func NewStats(window time.Duration) (*Stats, error) {
	return newStats(window, 0)
}

func newStats(window, slow time.Duration) (*Stats, error) {
	if window < windowSlots*time.Millisecond {
		return nil, fmt.Errorf("tracing: NewStats: window %v is shorter than the minimum of %v", window, minStatsWindow)
	}
	origin := firebreak.Nanotime()
	s := &Stats{base: firebreak.TimeOf(origin), origin: origin, slotDur: int64(window / windowSlots), slow: slow,
		live: make([]live, numStripes())}
	s.slotEnd = s.slotDur
	s.nextEval = math.MaxInt64
	s.next.Store(s.slotEnd)
	return s, nil
}

// ReporterPanics returns how many times the Reporter panicked while the SLO
// detector reported to it; each panic was recovered.
func (s *Stats) ReporterPanics() uint64 {
	if s.detector == nil {
		return 0
	}
	return s.detector.panics.Load()
}

// Record records one call that took d and failed or not.
func (s *Stats) Record(d time.Duration, failed bool) {
	s.record(int64(time.Since(s.base)), d, failed)
}

// RecordRejected records one call refused locally before it reached the
// dependency by overload protection or a degradation mode
// ([firebreak.RejectOverload], [firebreak.RejectDisabled]). It is counted in
// Snapshot.Rejected and left out of the requests, the error ratio, the
// latency histogram and the SLO budgets: the dependency did not fail. A call
// refused because the dependency is isolated ([firebreak.RejectIsolated], an
// open breaker) is a failure: record it with Record(d, true).
func (s *Stats) RecordRejected() { s.recordRejected(int64(time.Since(s.base))) }

// RecordErr records one call that took d and ended with err, classified as
// an [Observer] does: nil is a success; an error whose
// [firebreak.RejectionOf] is RejectOverload or RejectDisabled is a rejection
// (see [Stats.RecordRejected]); any other error, RejectIsolated included, is
// a failure.
func (s *Stats) RecordErr(d time.Duration, err error) {
	s.recordErr(int64(time.Since(s.base)), d, err)
}

func (s *Stats) recordErr(now int64, d time.Duration, err error) {
	if err != nil && excluded(err) {
		s.recordRejected(now)
		return
	}
	s.record(now, d, err != nil)
}

// excluded reports whether err is a local rejection that is left out of the
// dependency's error ratio: overload protection or a degradation mode. An
// isolated dependency (open breaker, no endpoint left) is down for the
// users, so it counts as failed.
func excluded(err error) bool {
	switch firebreak.RejectionOf(err) {
	case firebreak.RejectOverload, firebreak.RejectDisabled:
		return true
	}
	return false
}

func (s *Stats) recordGaveUp(now int64) {
	if now >= s.next.Load() {
		s.tick(now)
	}
	s.stripe().gaveUp.Add(1)
}

func (s *Stats) recordRejected(now int64) {
	if now >= s.next.Load() {
		s.tick(now)
	}
	s.stripe().rejected.Add(1)
}

// stripe returns the stripe of the interval being filled that the calling
// processor records into.
func (s *Stats) stripe() *live {
	return &s.live[stripe.P()&(len(s.live)-1)]
}

// numStripes is the number of stripes of a Stats made now: GOMAXPROCS
// rounded down to a power of two (so that a stripe is chosen with a mask),
// at most maxStripes.
func numStripes() int {
	n := 1
	for n*2 <= runtime.GOMAXPROCS(0) && n*2 <= maxStripes {
		n *= 2
	}
	return n
}

// record is the hot path: now is the offset from s.base.
func (s *Stats) record(now int64, d time.Duration, failed bool) {
	if now >= s.next.Load() {
		s.tick(now)
	}
	sl := s.stripe()
	sl.hist[bucketOf(d)].Add(1)
	if failed {
		sl.errors.Add(1)
	}
	if s.slow > 0 && d > s.slow {
		sl.slow.Add(1)
	}
}

// offset returns the current offset from s.base.
func (s *Stats) offset() int64 { return firebreak.Nanotime() - s.origin }

// offsetAt returns the offset from s.base of a [firebreak.Nanotime] reading.
func (s *Stats) offsetAt(reading int64) int64 { return reading - s.origin }

// readingAt returns the [firebreak.Nanotime] reading of an offset from
// s.base; it is never 0, Nanotime's "no reading".
func (s *Stats) readingAt(offset int64) int64 { return cmp.Or(offset+s.origin, 1) }

// offsetOf returns the offset from s.base of t, a time another clock user
// took (a span's start or end), or 0 when t cannot be compared with
// firebreak.Nanotime's readings: when it has no monotonic clock reading, as
// a zero time, a time made from a date, and every time inside a
// testing/synctest bubble have none. An offset of exactly 0 is reported as
// "cannot" too; the caller then reads the clock, which costs a reading once.
func (s *Stats) offsetOf(t time.Time) int64 {
	if t == t.Round(0) { // Round(0) strips the monotonic reading only
		return 0
	}
	return int64(t.Sub(s.base))
}

// noteFailure keeps the trace ID of a failed call as evidence.
func (s *Stats) noteFailure(id [16]byte) {
	if id == ([16]byte{}) {
		return
	}
	s.traceMu.Lock()
	s.traceIDs[s.traceNext%maxTraceIDs] = id
	s.traceNext++
	s.traceMu.Unlock()
}

// recentTraceIDs returns the trace IDs of the latest failed calls, newest
// first, in hex.
func (s *Stats) recentTraceIDs() []string {
	s.traceMu.Lock()
	defer s.traceMu.Unlock()
	n := min(s.traceNext, maxTraceIDs)
	out := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		id := s.traceIDs[(s.traceNext-i)%maxTraceIDs]
		out = append(out, fmt.Sprintf("%x", id[:]))
	}
	return out
}

// tick rotates the window and runs the burn detector when due. A call that
// finds another tick in progress returns at once: recording never waits.
func (s *Stats) tick(now int64) {
	if !s.mu.TryLock() {
		return
	}
	sigs := s.advanceLocked(now)
	s.mu.Unlock()
	s.detector.report(sigs) // outside the lock
}

// advanceLocked rotates the slots up to now and evaluates the detector if it
// is due. It returns the signals to report. s.mu must be held.
func (s *Stats) advanceLocked(now int64) []firebreak.Signal {
	if now >= s.slotEnd {
		n := (now-s.slotEnd)/s.slotDur + 1 // intervals that ended
		if n > windowSlots+1 {
			// Idle for longer than the ring: recycle each slot once and
			// jump ahead.
			s.slotEnd += (n - windowSlots - 1) * s.slotDur
			n = windowSlots + 1
		}
		for first := true; n > 0; n-- {
			// The oldest closed interval leaves the window; the one
			// being filled (on the first step; empty intervals after)
			// takes its place as the newest.
			old := &s.slots[s.oldest]
			s.recycled.add(old.totals)
			nw := slot{hist: old.hist[:0]}
			if first {
				var h [histBuckets]uint64
				for i := range s.live {
					s.live[i].drain(&nw.totals, &nw.gaveUp, &h)
				}
				nw.hist = appendHist(nw.hist, &h)
				first = false
			}
			*old = nw
			s.oldest = (s.oldest + 1) % windowSlots
			s.slotEnd += s.slotDur
		}
	}
	var sigs []firebreak.Signal
	if s.detector != nil && now >= s.nextEval {
		sigs = s.detector.evaluate(now, s.cumulativeLocked(), s)
		s.nextEval = now + s.detector.interval
	}
	s.next.Store(min(s.slotEnd, s.nextEval))
	return sigs
}

// cumulativeLocked returns the counts recorded since s was created. s.mu
// must be held.
func (s *Stats) cumulativeLocked() totals {
	t := s.recycled
	for i := range s.slots {
		t.add(s.slots[i].totals)
	}
	var gaveUp uint64
	for i := range s.live {
		s.live[i].read(&t, &gaveUp, nil)
	}
	return t
}

// windowLocked returns the counts and the histogram of the window: the
// closed intervals and the one being filled. s.mu must be held.
func (s *Stats) windowLocked(h *[histBuckets]uint64) (t totals, gaveUp uint64) {
	for i := range s.slots {
		sl := &s.slots[i]
		t.add(sl.totals)
		gaveUp += sl.gaveUp
		addHist(h, sl.hist)
	}
	for i := range s.live {
		s.live[i].read(&t, &gaveUp, h)
	}
	return t, gaveUp
}

// Snapshot is the RED statistics of an operation over its rolling window, as
// read at one moment. It is a plain value, safe to keep and compare.
type Snapshot struct {
	// Time is when the snapshot was taken.
	Time time.Time
	// Window is the span of time the counts cover: the configured window,
	// or less while the operation is younger than that.
	Window time.Duration
	// Requests and Errors count the calls in the window and those that
	// failed. A call refused because the dependency is isolated (an open
	// breaker) is a failed request.
	Requests, Errors uint64
	// Rejected counts the calls in the window refused locally by overload
	// protection or a degradation mode; they are not in Requests, Errors,
	// Rate, ErrorRatio or the quantiles (see [Stats.RecordRejected]).
	Rejected uint64
	// GaveUp counts the calls in the window whose callers gave up early —
	// cancelled a short call, or arrived with almost no deadline left — by
	// the rule of [firebreak.Hung] with its defaults. They say nothing about
	// the dependency and are not in Requests, Errors, Rate, ErrorRatio or
	// the quantiles. A call its caller gave up on after it hung is a
	// failure.
	GaveUp uint64
	// Rate is Requests per second over Window.
	Rate float64
	// ErrorRatio is Errors/Requests, or 0 without requests.
	ErrorRatio float64
	// P50, P90 and P99 are latency quantiles over the window, each within
	// 12.5% of the true value; zero without requests.
	P50, P90, P99 time.Duration
}

// Snapshot returns the statistics over the rolling window ending now.
func (s *Stats) Snapshot() Snapshot {
	now := s.offset()
	var hist [histBuckets]uint64
	var snap Snapshot
	s.mu.Lock()
	sigs := s.advanceLocked(now)
	end := s.slotEnd
	t, gaveUp := s.windowLocked(&hist)
	s.mu.Unlock()
	s.detector.report(sigs)
	snap.Requests, snap.Errors, snap.Rejected, snap.GaveUp = t.requests, t.errors, t.rejected, gaveUp
	snap.Time = s.base.Add(time.Duration(now))
	// The ring covers windowSlots full slots and the one being filled.
	// Computed as a difference of offsets, which cannot overflow even
	// for a window near math.MaxInt64.
	covered := now - max(end-s.slotDur-windowSlots*s.slotDur, 0)
	snap.Window = time.Duration(covered)
	if covered > 0 {
		snap.Rate = float64(snap.Requests) / time.Duration(covered).Seconds()
	}
	if snap.Requests > 0 {
		snap.ErrorRatio = float64(snap.Errors) / float64(snap.Requests)
		snap.P50 = quantile(&hist, snap.Requests, 0.50)
		snap.P90 = quantile(&hist, snap.Requests, 0.90)
		snap.P99 = quantile(&hist, snap.Requests, 0.99)
	}
	return snap
}

// p99 returns the 99th percentile latency over the window. s.mu must be
// held.
func (s *Stats) p99() time.Duration {
	var hist [histBuckets]uint64
	t, _ := s.windowLocked(&hist)
	if t.requests == 0 {
		return 0
	}
	return quantile(&hist, t.requests, 0.99)
}

// quantile reads quantile q from a histogram of n values, interpolating
// linearly inside the bucket that holds it.
func quantile(hist *[histBuckets]uint64, n uint64, q float64) time.Duration {
	rank := q * float64(n)
	var cum float64
	for i, c := range hist {
		if c == 0 {
			continue
		}
		if cum+float64(c) >= rank {
			lo, w := bucketBounds(i)
			return time.Duration(lo + w*(rank-cum)/float64(c))
		}
		cum += float64(c)
	}
	lo, w := bucketBounds(histBuckets - 1)
	return time.Duration(lo + w)
}

// poll rotates the window and evaluates the SLO if due, waiting for the lock.
func (s *Stats) poll() {
	now := s.offset()
	s.mu.Lock()
	sigs := s.advanceLocked(now)
	s.mu.Unlock()
	s.detector.report(sigs)
}

// pollInterval is how often poll needs to run.
func (s *Stats) pollInterval() time.Duration {
	if s.detector != nil {
		return time.Duration(s.detector.interval)
	}
	return time.Duration(s.slotDur)
}
