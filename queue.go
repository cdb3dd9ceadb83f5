package firebreak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Routine reports whether notifications of event e are routine updates to
// an incident already announced: [EventSignal] (an alert joined, fired
// again or cleared), [EventFinding] and [EventEvidence]. Every other event,
// and any event this version does not know, is a lifecycle event:
// [EventDetected] (the announcement), [EventEscalated], [EventDowngraded]
// (a person's change of severity), [EventBreached], [EventRenotify],
// [EventAcknowledged], [EventMitigated], [EventResolved], [EventReopened]
// and [EventClosed].
//
// Each notifier's queue treats the two classes apart:
//
//   - Lifecycle events are delivered before any routine update and in the
//     order they happened for each incident. A queue holds up to four times
//     [WithQueueSize] of them (1,024 by default). When that bound is
//     reached it makes room by dropping, in this order: the oldest event of
//     an incident that has a newer one of its own waiting (the newer one
//     carries the incident's state, takes over the older one's fired and
//     resolved alerts, and, for a severity change, the severity it changed
//     from); the oldest reminder ([EventRenotify]); the oldest event of the
//     least severe incident, or the new event if its incident is less severe
//     than every waiting one.
//   - Routine updates coalesce: at most one per incident waits, and a newer
//     one replaces it in its place in line, taking over the Fired and
//     Resolved alerts of the one it replaces (an alert appears once, in the
//     list of its latest change; at most 256 per list, the newest kept). A
//     lifecycle event of the same incident absorbs the routine update
//     waiting before it the same way. Up to [WithQueueSize] incidents (256
//     by default) can have a routine update waiting; past that the oldest
//     waiting update is dropped.
//
// [BoardStats] counts every drop by class, every coalesced update, and the
// announcements that no notifier delivered.
func (e Event) Routine() bool {
	switch e {
	case EventSignal, EventFinding, EventEvidence:
		return true
	}
	return false
}

// ErrCloseFromNotifier is returned, wrapped, by [Board.Close] when it is
// called from inside a notifier's Notify. Close then does not wait for that
// notifier (it cannot return while Close runs): the board stops, the other
// notifiers' queues are flushed within ctx, and the calling notifier's
// queue delivers what it still holds after Notify returns, until ctx ends.
var ErrCloseFromNotifier = errors.New("firebreak: Close called from a notifier's Notify")

const (
	// lifecycleFactor is how many lifecycle events a queue holds per unit
	// of WithQueueSize.
	lifecycleFactor = 4
	// maxMergedAlerts bounds each of the Fired and Resolved lists that
	// coalescing builds.
	maxMergedAlerts = 256
)

// entry is one notification waiting in a queue.
type entry struct {
	n   Notification
	ann *announcement // set for an announcement, or for an event that absorbed one

	prev, next   *entry // in the queue's lifecycle or routine list
	older, newer *entry // lifecycle events of the same incident, in order

	// ownFired and ownResolved say the lists were built by the queue (by
	// coalescing), so it may reuse them; otherwise they are shared with the
	// other notifiers' queues and read-only.
	ownFired, ownResolved bool

	// every is, for a routine update, its route's group interval: at most
	// one routine update of the incident is delivered per interval.
	every time.Duration
}

// entryList is a doubly linked FIFO of entries.
type entryList struct {
	head, tail *entry
	n          int
}

func (l *entryList) pushBack(e *entry) {
	e.prev, e.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.head = e
	}
	l.tail = e
	l.n++
}

func (l *entryList) remove(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
	l.n--
}

// announcement follows one announcement through every notifier's queue, so
// that an announcement no notifier delivered is counted once.
type announcement struct {
	left      atomic.Int32 // queues that have not yet delivered, dropped or failed it
	delivered atomic.Bool
}

// queue is one notifier's bounded delivery queue and its goroutine. push
// never blocks and, for a routine update that coalesces, does not allocate.
// The delivery goroutine takes one notification at a time under mu and calls
// the notifier with mu released, so Report never waits for a notifier.
type queue struct {
	n            Notifier
	routineMax   int // incidents with a routine update waiting
	lifecycleMax int // lifecycle events waiting
	wake         chan struct{}
	ctx          context.Context // the notifier's; cancelled when Close gives up
	cancel       context.CancelFunc
	done         chan struct{} // closed when the delivery goroutine exits
	gid          atomic.Int64  // the delivery goroutine's id, once it runs

	mu        sync.Mutex // guards the fields below; never held while calling the notifier or the logger
	lifecycle entryList
	routine   entryList
	pending   map[string]*entry    // by incident ID: its routine update waiting
	lastLife  map[string]*entry    // by incident ID: its newest lifecycle event waiting
	free      *entry               // entries to reuse, linked by next
	routineAt map[string]time.Time // by incident ID: when its next routine update may go (group interval); nil until one has one
	closed    bool                 // no more pushes
	started   bool
	exited    bool          // the delivery goroutine has finished
	stops     []func() bool // context.AfterFunc registrations to release on exit

	sent, failed, panics                   atomic.Int64
	droppedLife, droppedRoutine, supersede atomic.Int64
	coalesced, announceLost                atomic.Int64
	panicLogged                            atomic.Bool
}

// newQueue returns a queue for n holding up to size incidents' routine
// updates and lifecycleFactor×size lifecycle events.
func newQueue(n Notifier, size int) *queue {
	ctx, cancel := context.WithCancel(context.Background())
	return &queue{
		n: n, routineMax: size, lifecycleMax: lifecycleFactor * size,
		wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{}),
		pending: make(map[string]*entry), lastLife: make(map[string]*entry),
	}
}

// fanOut pushes each notification to every queue, following announcements
// across them.
func fanOut(qs []*queue, notes []Notification) {
	for _, n := range notes {
		var ann *announcement
		if n.Event == EventDetected && len(qs) > 0 {
			ann = &announcement{}
			ann.left.Store(int32(len(qs)))
		}
		for _, q := range qs {
			q.enqueue(n, ann)
		}
	}
}

// push enqueues n without blocking.
func (q *queue) push(n Notification) { q.enqueue(n, nil) }

func (q *queue) enqueue(n Notification, ann *announcement) { q.enqueueEvery(n, ann, 0) }

// enqueueEvery enqueues n; a routine update is delivered at most once per
// every for its incident (a route's group interval, see route.go).
func (q *queue) enqueueEvery(n Notification, ann *announcement, every time.Duration) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		q.countDrop(&n, ann)
		return
	}
	if n.Event.Routine() {
		q.pushRoutineLocked(&n).every = every
	} else {
		q.pushLifecycleLocked(&n, ann)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) pushRoutineLocked(n *Notification) *entry {
	id := n.Incident.ID
	if e := q.pending[id]; e != nil {
		q.coalesced.Add(1)
		f, r, of, or := e.n.Fired, e.n.Resolved, e.ownFired, e.ownResolved
		e.n, e.ownFired, e.ownResolved = *n, false, false
		absorb(e, f, r, of, or)
		return e
	}
	if q.routine.n >= q.routineMax {
		old := q.routine.head
		q.routine.remove(old)
		delete(q.pending, old.n.Incident.ID)
		q.countDrop(&old.n, nil)
		q.release(old)
	}
	e := q.alloc()
	e.n = *n
	q.routine.pushBack(e)
	q.pending[id] = e
	return e
}

func (q *queue) pushLifecycleLocked(n *Notification, ann *announcement) {
	id := n.Incident.ID
	e := q.alloc()
	e.n, e.ann = *n, ann
	var victim, into *entry
	if q.lifecycle.n >= q.lifecycleMax {
		if victim, into = q.victimLocked(e); victim == nil {
			q.countDrop(&e.n, e.ann)
			q.release(e)
			return
		}
	}
	if r := q.pending[id]; r != nil {
		// The routine update waiting is older than this event, whose
		// snapshot supersedes it, and newer than any lifecycle event of
		// the incident waiting (it would have been folded into it): fold
		// it in rather than deliver it after.
		q.routine.remove(r)
		delete(q.pending, id)
		q.coalesced.Add(1)
		absorb(e, r.n.Fired, r.n.Resolved, r.ownFired, r.ownResolved)
		q.release(r)
	}
	switch {
	case into != nil:
		q.supersedeLocked(victim, into)
	case victim != nil:
		q.unlinkLifeLocked(victim)
		q.countDrop(&victim.n, victim.ann)
		q.release(victim)
	}
	q.lifecycle.pushBack(e)
	if last := q.lastLife[id]; last != nil {
		last.newer, e.older = e, last
	}
	q.lastLife[id] = e
}

// victimLocked chooses the lifecycle event to drop to make room for e (not
// yet linked), as Event.Routine documents, and the newer event of the same
// incident that takes it over, if any. It returns a nil victim when e
// itself is the one to drop.
func (q *queue) victimLocked(e *entry) (victim, into *entry) {
	// The oldest event of an incident with a newer one waiting, e included.
	for v := q.lifecycle.head; v != nil; v = v.next {
		s := v.newer
		if s == nil && v.n.Incident.ID == e.n.Incident.ID {
			s = e
		}
		if s != nil && absorbs(s.n.Event, v.n.Event) {
			return v, s
		}
	}
	var reminder, least *entry
	for v := q.lifecycle.head; v != nil; v = v.next {
		if reminder == nil && v.n.Event == EventRenotify {
			reminder = v
		}
		if least == nil || v.n.Incident.Severity < least.n.Incident.Severity {
			least = v
		}
	}
	switch {
	case reminder != nil:
		return reminder, nil
	case e.n.Event == EventRenotify || least == nil || e.n.Incident.Severity < least.n.Incident.Severity:
		return nil, nil
	}
	return least, nil
}

// absorbs reports whether a newer lifecycle event may stand in for an older
// one of the same incident. A severity change stands in only for a severity
// change, so that a receiver keyed on the severity label is still told to
// retire what it was sent under the old severity.
func absorbs(newer, older Event) bool {
	return !severityChange(older) || severityChange(newer)
}

func severityChange(e Event) bool { return e == EventEscalated || e == EventDowngraded }

// supersedeLocked drops v, folding its alerts, its announcement and the
// severity it changed from into s, the newer event of the same incident.
func (q *queue) supersedeLocked(v, s *entry) {
	q.unlinkLifeLocked(v)
	q.droppedLife.Add(1)
	q.supersede.Add(1)
	absorb(s, v.n.Fired, v.n.Resolved, v.ownFired, v.ownResolved)
	if severityChange(v.n.Event) {
		s.n.PreviousSeverity, s.n.PreviousAlertSeverity = v.n.PreviousSeverity, v.n.PreviousAlertSeverity
	}
	if s.ann == nil {
		s.ann = v.ann
	} else {
		q.settle(v.ann, false)
	}
	q.release(v)
}

// unlinkLifeLocked removes v from the lifecycle list and its incident's chain.
func (q *queue) unlinkLifeLocked(v *entry) {
	q.lifecycle.remove(v)
	if v.older != nil {
		v.older.newer = v.newer
	}
	if v.newer != nil {
		v.newer.older = v.older
	} else if v.older != nil {
		q.lastLife[v.n.Incident.ID] = v.older
	} else {
		delete(q.lastLife, v.n.Incident.ID)
	}
	v.older, v.newer = nil, nil
}

// absorb folds the alerts of an older notification (its Fired and Resolved
// lists, and whether the queue owns them) into e, which holds a newer one
// of the same incident: each list becomes the older alerts that did not
// change again, then e's own.
func absorb(e *entry, fired, resolved []AlertRef, ownF, ownR bool) {
	f, fb := mergeList(fired, ownF, e.n.Fired, e.n.Fired, e.n.Resolved)
	r, rb := mergeList(resolved, ownR, e.n.Resolved, e.n.Fired, e.n.Resolved)
	e.n.Fired, e.n.Resolved = f, r
	e.ownFired = e.ownFired || fb
	e.ownResolved = e.ownResolved || rb
}

// mergeList returns the alerts of old whose fingerprint is in neither
// newF nor newR, followed by nw, keeping at most maxMergedAlerts, the
// newest. built says it made a new list (reusing old's storage when own);
// otherwise it returns nw itself and allocates nothing.
func mergeList(old []AlertRef, own bool, nw, newF, newR []AlertRef) (out []AlertRef, built bool) {
	keep := 0
	for i := range old {
		if !changedIn(old[i].Fingerprint, newF, newR) {
			keep++
		}
	}
	if keep == 0 {
		return nw, false
	}
	var buf []AlertRef
	if own {
		buf = old[:0]
	} else {
		buf = make([]AlertRef, 0, keep+len(nw))
	}
	for i := range old {
		if !changedIn(old[i].Fingerprint, newF, newR) {
			buf = append(buf, old[i])
		}
	}
	if own {
		clear(old[len(buf):])
	}
	buf = append(buf, nw...)
	if extra := len(buf) - maxMergedAlerts; extra > 0 {
		copy(buf, buf[extra:])
		clear(buf[maxMergedAlerts:])
		buf = buf[:maxMergedAlerts]
	}
	return buf, true
}

func changedIn(fp string, lists ...[]AlertRef) bool {
	for _, l := range lists {
		for i := range l {
			if l[i].Fingerprint == fp {
				return true
			}
		}
	}
	return false
}

func (q *queue) alloc() *entry {
	if e := q.free; e != nil {
		q.free = e.next
		e.next = nil
		return e
	}
	return &entry{}
}

// release clears e, so it holds no notification, and keeps it for reuse.
func (q *queue) release(e *entry) {
	*e = entry{next: q.free}
	q.free = e
}

// countDrop counts n as dropped in its class.
func (q *queue) countDrop(n *Notification, ann *announcement) {
	if n.Event.Routine() {
		q.droppedRoutine.Add(1)
	} else {
		q.droppedLife.Add(1)
	}
	q.settle(ann, false)
}

// settle records what became of an announcement in this queue; the last
// queue to settle one that nobody delivered counts it as lost.
func (q *queue) settle(a *announcement, delivered bool) {
	if a == nil {
		return
	}
	if delivered {
		a.delivered.Store(true)
	}
	if a.left.Add(-1) == 0 && !a.delivered.Load() {
		q.announceLost.Add(1)
	}
}

// take removes the next notification to deliver: the oldest lifecycle
// event, else the oldest routine update. It waits for one while the queue is
// open; ok is false once the queue is closed and empty, or cancelled.
func (q *queue) take() (n Notification, ann *announcement, ok bool) {
	for {
		if q.ctx.Err() != nil {
			return Notification{}, nil, false
		}
		q.mu.Lock()
		e := q.lifecycle.head
		var wait time.Duration
		if e != nil {
			q.unlinkLifeLocked(e)
		} else if e, wait = q.readyRoutineLocked(); e != nil {
			q.routine.remove(e)
			delete(q.pending, e.n.Incident.ID)
		}
		if e != nil {
			n, ann = e.n, e.ann
			q.release(e)
			q.mu.Unlock()
			return n, ann, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return Notification{}, nil, false
		}
		if wait > 0 {
			// A routine update held back by its group interval.
			t := time.NewTimer(wait)
			select {
			case <-q.wake:
			case <-q.ctx.Done():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		select {
		case <-q.wake:
		case <-q.ctx.Done():
		}
	}
}

// readyRoutineLocked returns the oldest routine update that its group
// interval lets go now, and marks when the incident's next one may go; or,
// if every waiting one is held back, nil and how long until the first may
// go. A closed queue holds nothing back: Close flushes.
func (q *queue) readyRoutineLocked() (*entry, time.Duration) {
	if q.routineAt == nil || q.closed {
		if e := q.routine.head; e != nil && e.every > 0 && !q.closed {
			q.markRoutineLocked(e, time.Now())
		}
		return q.routine.head, 0
	}
	now := time.Now()
	var wait time.Duration
	for e := q.routine.head; e != nil; e = e.next {
		at, held := q.routineAt[e.n.Incident.ID]
		if !held || !now.Before(at) {
			delete(q.routineAt, e.n.Incident.ID)
			if e.every > 0 {
				q.markRoutineLocked(e, now)
			}
			return e, 0
		}
		if d := at.Sub(now); wait == 0 || d < wait {
			wait = d
		}
	}
	return nil, wait
}

// markRoutineLocked holds the next routine update of e's incident back for
// e's group interval, forgetting marks that have passed when there are many.
func (q *queue) markRoutineLocked(e *entry, now time.Time) {
	if q.routineAt == nil {
		q.routineAt = make(map[string]time.Time)
	}
	if len(q.routineAt) >= 2*q.routineMax+16 {
		for id, at := range q.routineAt {
			if !now.Before(at) {
				delete(q.routineAt, id)
			}
		}
	}
	q.routineAt[e.n.Incident.ID] = now.Add(e.every)
}

// dropAll drops and counts everything waiting.
func (q *queue) dropAll() (n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = q.lifecycle.n + q.routine.n
	for e := q.lifecycle.head; e != nil; e = q.lifecycle.head {
		q.unlinkLifeLocked(e)
		q.countDrop(&e.n, e.ann)
		q.release(e)
	}
	for e := q.routine.head; e != nil; e = q.routine.head {
		q.routine.remove(e)
		delete(q.pending, e.n.Incident.ID)
		q.countDrop(&e.n, nil)
		q.release(e)
	}
	return n
}

// len returns how many notifications are waiting.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.lifecycle.n + q.routine.n
}

func (q *queue) start(logger *slog.Logger) {
	q.mu.Lock()
	if q.closed || q.started {
		q.mu.Unlock()
		return
	}
	q.started = true
	q.mu.Unlock()
	go q.run(logger)
}

func (q *queue) run(logger *slog.Logger) {
	q.gid.Store(goid())
	defer func() {
		q.dropAll() // anything left after a cancel
		q.mu.Lock()
		q.exited = true
		stops := q.stops
		q.stops = nil
		q.mu.Unlock()
		for _, stop := range stops {
			stop()
		}
		q.cancel()
		close(q.done)
	}()
	for {
		n, ann, ok := q.take()
		if !ok {
			return
		}
		if q.ctx.Err() != nil {
			q.countDrop(&n, ann)
			return
		}
		stack, err := q.deliver(n)
		q.settle(ann, err == nil)
		switch {
		case err == nil:
			q.sent.Add(1)
		case stack != nil:
			q.failed.Add(1)
			safeLog(func() {
				logger.Error("firebreak: notifier panicked; later panics of this notifier are counted in BoardStats.NotifyPanics, not logged",
					"notifier", fmt.Sprintf("%T", q.n), "incident", n.Incident.ID, "event", string(n.Event), "error", err, "stack", string(stack))
			})
		default:
			q.failed.Add(1)
			if !errors.Is(err, errPanicked) {
				safeLog(func() {
					logger.Warn("firebreak: notification not delivered", "incident", n.Incident.ID, "event", string(n.Event), "error", err)
				})
			}
		}
	}
}

// errPanicked marks the error of a notifier that panicked.
var errPanicked = errors.New("notifier panicked")

// deliver calls the notifier, recovering a panic. stack is set for the
// first panic of this notifier only, the one that is logged.
func (q *queue) deliver(n Notification) (stack []byte, err error) {
	n.materialize() // the incident's alerts, made here, off the Board's lock
	defer func() {
		if r := recover(); r != nil {
			q.panics.Add(1)
			err = fmt.Errorf("%w: %v", errPanicked, r)
			if q.panicLogged.CompareAndSwap(false, true) {
				stack = debug.Stack()
			}
		}
	}()
	return nil, q.n.Notify(q.ctx, n)
}

// safeLog calls log, so that a logger that panics cannot stop a delivery
// goroutine.
func safeLog(log func()) {
	defer func() { _ = recover() }()
	log()
}

// closeQueues stops every queue accepting notifications and waits for each
// to deliver what it holds within ctx; what is left when ctx ends is dropped
// and counted, and the notifier's context is cancelled. Called from inside a
// notifier's Notify, it does not wait for that notifier's queue, which
// delivers the rest after Notify returns until ctx ends, and returns an
// error wrapping ErrCloseFromNotifier.
func closeQueues(ctx context.Context, qs []*queue) error {
	for _, q := range qs {
		q.shut()
	}
	if len(qs) == 0 {
		return nil
	}
	self := goid()
	var errs []error
	var undelivered *undeliveredError
	for _, q := range qs {
		err := q.wait(ctx, self)
		var u *undeliveredError
		switch {
		case err == nil:
		case errors.As(err, &u):
			if undelivered == nil {
				undelivered = u
			} else {
				undelivered.n += u.n
			}
		default:
			errs = append(errs, err)
		}
	}
	if undelivered != nil {
		errs = append(errs, undelivered)
	}
	return errors.Join(errs...)
}

// undeliveredError is Close giving up: ctx ended with n notifications still
// queued, and they were dropped. It wraps ctx.Err().
type undeliveredError struct {
	n   int
	err error
}

func (e *undeliveredError) Error() string {
	return fmt.Sprintf("firebreak: close gave up with %d notifications undelivered: %v", e.n, e.err)
}

func (e *undeliveredError) Unwrap() error { return e.err }

// shut stops the queue accepting notifications.
func (q *queue) shut() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close shuts the queue and waits for it as closeQueues does.
func (q *queue) close(ctx context.Context) error { return closeQueues(ctx, []*queue{q}) }

// wait waits for a shut queue to drain within ctx; self is the calling
// goroutine's id.
func (q *queue) wait(ctx context.Context, self int64) error {
	q.mu.Lock()
	started := q.started
	q.mu.Unlock()
	if !started {
		q.dropAll()
		q.cancel()
		return nil
	}
	if q.gid.Load() == self {
		stop := context.AfterFunc(ctx, q.cancel)
		q.mu.Lock()
		left, exited := q.lifecycle.n+q.routine.n, q.exited
		if !exited {
			q.stops = append(q.stops, stop)
		}
		q.mu.Unlock()
		if exited {
			stop()
		}
		return fmt.Errorf("%w: its %d waiting notifications are delivered after Notify returns, until ctx ends", ErrCloseFromNotifier, left)
	}
	select {
	case <-q.done:
		q.cancel()
		return nil
	case <-ctx.Done():
		// Give up: drop what waits and cancel the notification in flight.
		// The delivery goroutine exits as soon as Notify returns; Close
		// does not wait for a notifier that ignores its context.
		n := q.dropAll()
		q.cancel()
		return &undeliveredError{n: n, err: ctx.Err()}
	}
}

// goid returns the calling goroutine's id, read from its stack header
// ("goroutine 42 [running]:"). Close uses it to tell that it was called from
// a delivery goroutine, which it must not wait for.
func goid() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	var id int64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + int64(c-'0')
	}
	return id
}

// addStats adds the queue's counters to s.
func (q *queue) addStats(s *BoardStats) {
	life, routine := q.droppedLife.Load(), q.droppedRoutine.Load()
	s.Notified += q.sent.Load()
	s.NotifyFailed += q.failed.Load()
	s.NotifyDropped += life + routine
	s.NotifyDroppedLifecycle += life
	s.NotifyDroppedRoutine += routine
	s.NotifySuperseded += q.supersede.Load()
	s.NotifyCoalesced += q.coalesced.Load()
	s.NotifyPanics += q.panics.Load()
	s.AnnouncementsLost += q.announceLost.Load()
	s.NotifyQueueLen += q.len()
}
