package firebreak

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by Board actions. Match them with errors.Is.
var (
	// ErrNotFound: no incident has that ID (or it has been evicted).
	ErrNotFound = errors.New("firebreak: incident not found")
	// ErrTransition: the action does not apply to the incident's state.
	ErrTransition = errors.New("firebreak: action not allowed in this state")
	// ErrClosed: the Board, or another firebreak type with a lifecycle,
	// has been closed. Every package's Start after Close wraps it.
	ErrClosed = errors.New("firebreak: closed")
)

const (
	traceRing        = 8
	maxSnapshots     = 5 // automatic evidence snapshots per alert
	systemActor      = "firebreak"
	omittedNote      = "timeline full: later routine entries omitted"
	defaultQueue     = 256
	defaultRetention = 1000
	defaultMaxAlerts = 10000
	defaultTimeline  = 500
	refusalLogEvery  = time.Minute
)

// Board is the incident engine and the default [Reporter]. It fingerprints
// signals as Alertmanager does, so that signals with the same identity are one
// alert; groups alerts into incidents by (service, fault domain); grades them
// with the [Plan]; runs the lifecycle and the response deadlines; and hands
// notifications to its notifiers off the caller's path.
//
// The Board is a concurrent shell around a pure state machine (engine.go):
// it holds the lock, reads the clock, runs the timers off a deadline heap,
// queues notifications and serves views. [Board.List] and [Board.Get] take
// immutable snapshots under the lock and copy them after releasing it, so a
// reader never holds up Report for longer than it takes to collect pointers.
//
// NewBoard starts nothing. [Board.Start] starts the timer loop (group wait,
// deadlines, escalation, resolution) and one delivery goroutine per notifier;
// [Board.Close] flushes and stops them. A Board is safe for concurrent use.
// Report never blocks and, for a signal that repeats an already-open alert
// without changing its grade, does not allocate.
type Board struct {
	service string
	env     string
	plan    *Plan
	logger  *slog.Logger
	queues  []*queue
	router  *router   // nil: every queue gets every notification (route.go)
	known   []string  // components listed with WithComponents
	archive *archiver // WithArchive; nil without one (archive.go)

	received  atomic.Int64
	invalid   atomic.Int64
	loggedAt  atomic.Int64 // unix nanoseconds of the last refusal logged
	kick      chan struct{}
	startOnce sync.Once
	closeOnce sync.Once
	closers   []notifierCloser // notifiers that own goroutines (an Alertmanager's resend loop)
	closedNs  sync.Once
	done      chan struct{}
	loopDone  chan struct{}
	started   atomic.Bool
	lazy      bool // start on first use: there are notifiers or an archive

	mu     sync.Mutex // guards eng and closed
	eng    *engine
	closed bool

	drills drillBook // running and recovering drills (drill.go)

	fleet *fleetSync // WithStore; nil without one (fleet_sync.go)
}

var _ Reporter = (*Board)(nil)

// NewBoard returns a board for the named service. It validates the plan and
// the options and starts no goroutines.
func NewBoard(service string, opts ...BoardOption) (*Board, error) {
	cfg := boardConfig{retention: defaultRetention, maxAlerts: defaultMaxAlerts, maxLines: defaultTimeline, queueSize: defaultQueue}
	var errs []error
	for i, o := range opts {
		if o == nil {
			errs = append(errs, fmt.Errorf("firebreak: NewBoard: option %d is nil", i))
			continue
		}
		o.applyBoard(&cfg)
	}
	if service == "" {
		errs = append(errs, errors.New("firebreak: NewBoard: service name is required"))
	}
	errs = append(errs, checkNames(service, cfg.env, cfg.known)...)
	if cfg.plan == nil {
		cfg.plan = DefaultPlan()
	} else if err := cfg.plan.Validate(); err != nil {
		errs = append(errs, err)
	}
	if cfg.retention < 1 {
		errs = append(errs, fmt.Errorf("firebreak: WithRetention: must be at least 1, got %d", cfg.retention))
	}
	if cfg.maxAlerts < 1 {
		errs = append(errs, fmt.Errorf("firebreak: WithMaxAlerts: must be at least 1, got %d", cfg.maxAlerts))
	}
	if cfg.maxLines < 10 {
		errs = append(errs, fmt.Errorf("firebreak: WithTimelineLimit: must be at least 10, got %d", cfg.maxLines))
	}
	if cfg.queueSize < 1 {
		errs = append(errs, fmt.Errorf("firebreak: WithQueueSize: must be at least 1, got %d", cfg.queueSize))
	}
	for i, n := range cfg.notifiers {
		if n == nil {
			errs = append(errs, fmt.Errorf("firebreak: WithNotifier: notifier %d is nil", i))
		}
	}
	names, routeErr := checkRouting(&cfg)
	if routeErr != nil {
		errs = append(errs, routeErr)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	plan := cfg.plan.Clone()
	b := &Board{
		service:  service,
		env:      cfg.env,
		plan:     plan,
		logger:   cfg.logger,
		known:    slices.Clone(cfg.known),
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		loopDone: make(chan struct{}),
		eng:      newEngine(service, cfg.env, plan, cfg.retention, cfg.maxAlerts, cfg.maxLines),
	}
	b.drills.receivers = names
	for _, n := range cfg.notifiers {
		b.queues = append(b.queues, newQueue(n, cfg.queueSize))
		if c, ok := n.(notifierCloser); ok {
			b.closers = append(b.closers, c)
		}
	}
	if err := b.useArchive(cfg.archive, cfg.queueSize); err != nil {
		return nil, err
	}
	b.lazy = len(b.queues) > 0 || b.archive != nil
	if err := b.useStore(&cfg); err != nil {
		return nil, err
	}
	if root := cmp.Or(cfg.route, plan.Route); root != nil {
		b.router = newRouter(root, names, unnamedQueues(cfg.names), len(b.queues))
	}
	return b, nil
}

// Plan returns a copy of the board's plan.
func (b *Board) Plan() *Plan { return b.plan.Clone() }

// Service returns the service name the board was made for.
func (b *Board) Service() string { return b.service }

// Start starts the timer loop and the notifiers' delivery goroutines and
// returns at once. Calling Start is optional: a board with notifiers or an
// archive that was not started starts itself on its first signal or action,
// so nothing it accepts is silently left undelivered. (A board with neither
// has nothing to deliver; it brings its incidents up to date whenever they
// are read.) Start again does nothing; after Close it returns
// an error wrapping [ErrClosed], and with ctx already done, ctx's error. ctx
// bounds only the start, not the board's life: Close ends that.
func (b *Board) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("firebreak: Board.Start: %w", err)
	}
	if !b.start() {
		return fmt.Errorf("firebreak: Board.Start: %w", ErrClosed)
	}
	if err := b.fleet.waitFirst(ctx); err != nil {
		return fmt.Errorf("firebreak: Board.Start: first sync with the store: %w", err)
	}
	return nil
}

// start starts the board once, and reports whether it runs (false once
// closed).
func (b *Board) start() bool {
	b.startOnce.Do(func() {
		b.mu.Lock()
		closed := b.closed
		b.mu.Unlock()
		if closed {
			return
		}
		b.started.Store(true)
		for _, q := range b.queues {
			q.start(b.logger)
		}
		b.archive.start(b.logger)
		go b.loop()
		b.fleet.start()
	})
	return b.started.Load() && !b.isClosed()
}

func (b *Board) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Close stops the timer loop and delivers the notifications still queued
// within ctx's deadline; what is left when ctx ends is dropped and counted,
// and a notifier that ignores its cancelled context is not waited for. It
// returns ctx.Err() if the queues could not be flushed in time. Called from
// inside a notifier's Notify, it returns at once with an error wrapping
// [ErrCloseFromNotifier]; that notifier's queue drains after Notify returns.
// Once the queues have drained, notifiers that own goroutines and have a
// Close(ctx) method, such as [Alertmanager], are closed too, once.
// Report after Close is ignored. Close is idempotent, and Close of a board
// that never started is fine.
func (b *Board) Close(ctx context.Context) error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		close(b.done)
		if b.started.Load() {
			<-b.loopDone
		}
		b.fleet.stop(ctx)
	})
	// Every call waits within its own ctx, and none waits for a notifier
	// that is calling it.
	err := closeQueues(ctx, b.archive.with(b.queues))
	if errors.Is(err, ErrCloseFromNotifier) {
		return err // a notifier is still running: it is not closed under itself
	}
	// Then the notifiers that own goroutines, once their queues are done.
	var errs []error
	b.closedNs.Do(func() {
		for _, c := range b.closers {
			if e := c.Close(ctx); e != nil {
				errs = append(errs, e)
			}
		}
	})
	return errors.Join(append([]error{err}, errs...)...)
}

// notifierCloser is a notifier with goroutines of its own to stop, such as
// [Alertmanager]: [Board.Close] closes it after its queue has drained.
type notifierCloser interface {
	Close(context.Context) error
}

// kickLoop wakes the timer loop to recompute its next wake-up, starting the
// board first if nobody did.
func (b *Board) kickLoop() {
	if b.lazy && !b.started.Load() {
		b.start()
	}
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// loop runs the engine's timers. It calls no user code: notifications go to
// the queues, whose goroutines call the notifiers.
func (b *Board) loop() {
	defer close(b.loopDone)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		b.mu.Lock()
		notes := b.eng.advance(now)
		next := b.eng.next()
		b.mu.Unlock()
		b.dispatch(notes)
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(now), 0)
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-b.kick:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-b.done:
			return
		}
	}
}

// Report takes a signal. It never blocks: notifications are queued for the
// notifiers' goroutines. A signal with an invalid Kind is counted and
// dropped; a NaN value counts as 0 and an infinite one as the largest finite
// value, so that every incident can be written as JSON.
func (b *Board) Report(s Signal) {
	b.received.Add(1)
	if !s.Kind.Valid() {
		b.invalid.Add(1)
		return
	}
	// The board keeps its own clock for the lifecycle; the signal's time is
	// kept as when the alert was seen, never later than now.
	now := time.Now()
	if s.Time.IsZero() || s.Time.After(now) {
		s.Time = now
	}
	s.Value = finite(s.Value)
	if d := b.drills.list.Load(); d != nil {
		b.drillSignal(*d, &s, now) // stamps s.Drill, or trips the drills' guard on a real fault
	}
	e := b.eng
	fp := e.fingerprint(&s)

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	if a := e.alerts[fp]; a != nil && e.repeat(a, &s) {
		b.mu.Unlock()
		return
	}
	refused := e.refused
	e.reportSlow(fp, &s, now, false)
	notes := e.flush()
	refused, total := e.refused-refused, e.refused
	b.mu.Unlock()
	if refused > 0 {
		b.logRefusal(now, total)
	}
	b.dispatch(notes)
	b.kickLoop()
}

// logRefusal logs a refused signal, at most once a minute.
func (b *Board) logRefusal(now time.Time, total int64) {
	last := b.loggedAt.Load()
	if last != 0 && now.UnixNano()-last < int64(refusalLogEvery) || !b.loggedAt.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	b.logger.Warn("firebreak: signal refused: the board tracks as many alerts as it may and none can be evicted",
		"service", b.service, "refused_total", total, "max_alerts", b.eng.maxAlerts)
}

func (b *Board) dispatch(notes []Notification) {
	if b.lazy && len(notes) > 0 && !b.started.Load() {
		b.start()
	}
	if b.drills.seen.Load() {
		notes = b.drillDispatch(notes) // drill incidents go to their participants only
	}
	if b.router != nil {
		b.router.dispatch(b.queues, notes)
		return
	}
	fanOut(b.queues, notes)
}

// Filter selects incidents in [Board.List]. Zero fields match everything.
type Filter struct {
	States      []State  // any of these states
	MinSeverity Severity // at least this severity
	Component   string   // affecting this component
	OpenOnly    bool     // detected, acknowledged or mitigated
	// Drill selects drill incidents: "" (the default) lists real
	// incidents only, a drill's ID that drill's incidents, [AnyDrill]
	// every drill's.
	Drill string
}

func (f *Filter) match(inc *Incident) bool {
	return (len(f.States) == 0 || slices.Contains(f.States, inc.State)) &&
		(!f.OpenOnly || inc.State.Open()) &&
		inc.Severity >= f.MinSeverity &&
		(f.Component == "" || slices.Contains(inc.Components, f.Component)) &&
		matchDrill(f.Drill, inc.Drill)
}

// List returns copies of the incidents that match f, newest first. It holds
// the board's lock only to collect the incidents' immutable snapshots; it
// filters, sorts and copies them after releasing it.
func (b *Board) List(f Filter) []Incident {
	b.mu.Lock()
	views := make([]*snapshot, 0, len(b.eng.incidents))
	for _, inc := range b.eng.incidents {
		views = append(views, b.eng.view(inc))
	}
	b.mu.Unlock()
	views = slices.DeleteFunc(views, func(v *snapshot) bool { return !f.match(&v.inc) })
	slices.SortFunc(views, func(x, y *snapshot) int {
		if c := y.inc.DetectedAt.Compare(x.inc.DetectedAt); c != 0 {
			return c
		}
		return y.seq - x.seq
	})
	out := make([]Incident, 0, len(views))
	for _, v := range views {
		out = append(out, v.copy())
	}
	return out
}

// Get returns a copy of the incident with the given ID.
func (b *Board) Get(id string) (Incident, error) {
	b.mu.Lock()
	inc, ok := b.eng.incidents[id]
	var v *snapshot
	if ok {
		v = b.eng.view(inc)
	}
	b.mu.Unlock()
	if !ok {
		if inc, _, found := b.archived(id); found {
			return inc, nil
		}
		return Incident{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return v.copy(), nil
}

// action runs fn on incident id under the lock and dispatches the
// notifications after the lock is released.
func (b *Board) action(id string, fn func(inc *incident, now time.Time) (Event, error)) error {
	now := time.Now()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	notes, err := b.eng.act(id, now, func(inc *incident) (Event, error) { return fn(inc, now) })
	b.mu.Unlock()
	b.dispatch(notes)
	if err != nil {
		return err
	}
	b.kickLoop()
	return nil
}

func requireActor(by string) error {
	if strings.TrimSpace(by) == "" {
		return errors.New("firebreak: the person acting must be named")
	}
	return nil
}

// Acknowledge records that a person has taken the incident, which starts the
// response the plan demands and stops the response clock. An incident that
// was escalated after an acknowledgement needs acknowledging again by the new
// level's lead.
func (b *Board) Acknowledge(id, by string) error {
	if err := requireActor(by); err != nil {
		return err
	}
	return b.actionOp(id, SharedAction{Op: OpAcknowledge, By: by}, func(inc *incident, now time.Time) (Event, error) { return b.eng.acknowledge(inc, by, now) })
}

// Mitigate records what was done to stop the user impact. An unacknowledged
// incident is acknowledged by the same person first.
func (b *Board) Mitigate(id, by, action string) error {
	if err := requireActor(by); err != nil {
		return err
	}
	if strings.TrimSpace(action) == "" {
		return errors.New("firebreak: Mitigate: say what was done")
	}
	return b.actionOp(id, SharedAction{Op: OpMitigate, By: by, Note: action}, func(inc *incident, now time.Time) (Event, error) { return b.eng.mitigate(inc, by, action, now) })
}

// Resolve records that the service works as usual again. Alerts still firing
// are marked cleared; if they fire again within the reopen window, the
// incident reopens.
func (b *Board) Resolve(id, by, note string) error {
	if err := requireActor(by); err != nil {
		return err
	}
	return b.actionOp(id, SharedAction{Op: OpResolve, By: by, Note: note}, func(inc *incident, now time.Time) (Event, error) { return b.eng.resolveByHand(inc, by, note, now) })
}

// SetSeverity changes the severity by hand, for example to lower a false
// alarm. Only a person lowers severity; the reason is kept in the timeline.
func (b *Board) SetSeverity(id, by string, sev Severity, reason string) error {
	if err := requireActor(by); err != nil {
		return err
	}
	if !sev.Valid() {
		return fmt.Errorf("firebreak: SetSeverity: invalid severity %d", int8(sev))
	}
	if strings.TrimSpace(reason) == "" {
		return errors.New("firebreak: SetSeverity: a reason is required")
	}
	return b.actionOp(id, SharedAction{Op: OpSetSeverity, By: by, Severity: sev, Note: reason}, func(inc *incident, now time.Time) (Event, error) { return b.eng.setSeverity(inc, by, sev, reason, now) })
}

// AddFinding records a preliminary conclusion. At and Author default to now
// and by.
func (b *Board) AddFinding(id, by string, f Finding) error {
	if err := requireActor(by); err != nil {
		return err
	}
	if strings.TrimSpace(f.Hypothesis) == "" {
		return errors.New("firebreak: AddFinding: Hypothesis is required")
	}
	if err := checkFinding(f); err != nil {
		return err
	}
	return b.actionOp(id, SharedAction{Op: OpAddFinding, By: by, Finding: &f}, func(inc *incident, now time.Time) (Event, error) { return b.eng.addFinding(inc, by, f, now) })
}

// AddEvidence attaches evidence: trace IDs, a metric snapshot, a health
// result, a version.
func (b *Board) AddEvidence(id, by string, e Evidence) error {
	if err := requireActor(by); err != nil {
		return err
	}
	if e.Kind == "" {
		return errors.New("firebreak: AddEvidence: Kind is required")
	}
	if err := checkEvidence(e); err != nil {
		return err
	}
	return b.actionOp(id, SharedAction{Op: OpAddEvidence, By: by, Evidence: &e}, func(inc *incident, now time.Time) (Event, error) { return b.eng.addEvidence(inc, by, e, now) })
}

// CloseWith files the report the plan requires and closes a resolved
// incident. The report is built from the timeline (see [BuildReport]); in
// fills in what only people know: root cause, action items.
func (b *Board) CloseWith(id, by string, in ReportInput) (*Report, error) {
	if err := requireActor(by); err != nil {
		return nil, err
	}
	var rep *Report
	var closed *snapshot
	err := b.actionOp(id, SharedAction{Op: OpClose, By: by, Report: &in}, func(inc *incident, now time.Time) (Event, error) {
		r, err := b.eng.closeWith(inc, by, in, now)
		if err != nil {
			return "", err
		}
		rep = r
		if b.archive != nil {
			closed = b.eng.view(inc)
		}
		return EventClosed, nil
	})
	b.archive.push(closed) // off the lock: the archive stores it on its own goroutine
	return rep.clone(), err
}

// IncidentReport builds the report on an incident as it stands now, without
// closing it: a postmortem for Fatal and Severe incidents, a report-back for
// General ones. For a closed incident it returns the filed report.
func (b *Board) IncidentReport(id string) (*Report, error) {
	now := time.Now()
	b.mu.Lock()
	inc, ok := b.eng.incidents[id]
	var v *snapshot
	if ok {
		v = b.eng.view(inc)
	}
	b.mu.Unlock()
	if !ok {
		if _, rep, found := b.archived(id); found && rep != nil {
			return rep, nil
		}
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if v.inc.Report != nil {
		return v.inc.Report.clone(), nil // filed: the engine never changes it
	}
	return BuildReport(v.copy(), b.plan, ReportInput{}, now), nil
}

// BoardStats counts what the board has seen and what it could not deliver.
type BoardStats struct {
	Signals        int64 `json:"signals"`          // signals reported
	Invalid        int64 `json:"invalid"`          // signals dropped for an invalid kind
	AlertsDropped  int64 `json:"alerts_dropped"`   // signals refused because WithMaxAlerts was reached and nothing could be evicted
	AlertsEvicted  int64 `json:"alerts_evicted"`   // alerts no longer tracked to make room at WithMaxAlerts
	Flaps          int64 `json:"flaps"`            // incidents that cleared within the group wait, never notified
	Alerts         int   `json:"alerts"`           // alerts tracked now (a resolved incident releases its alerts)
	Incidents      int   `json:"incidents"`        // incidents kept now
	Open           int   `json:"open"`             // incidents open now, drills' apart
	OpenDrills     int   `json:"open_drills"`      // drill incidents open now (drill.go), not in Open
	Notified       int64 `json:"notified"`         // notifications delivered
	NotifyFailed   int64 `json:"notify_failed"`    // notifications a notifier failed to deliver
	NotifyDropped  int64 `json:"notify_dropped"`   // notifications dropped because a queue was full or the board closed
	NotifyQueueLen int   `json:"notify_queue_len"` // notifications waiting now, across notifiers

	// How the notifiers' queues treated the two classes of notification
	// (see [Event.Routine]). NotifyDropped is the sum of the two Dropped
	// counters.
	NotifyDroppedLifecycle int64 `json:"notify_dropped_lifecycle"` // lifecycle events dropped: the lifecycle bound was reached, or the board closed
	NotifySuperseded       int64 `json:"notify_superseded"`        // of those, dropped for a newer event of the same incident that took over their alerts
	NotifyDroppedRoutine   int64 `json:"notify_dropped_routine"`   // routine updates dropped: more incidents had one waiting than WithQueueSize, or the board closed
	NotifyCoalesced        int64 `json:"notify_coalesced"`         // routine updates replaced by a newer notification of the same incident, their alerts merged into it; not dropped
	NotifyPanics           int64 `json:"notify_panics"`            // deliveries in which the notifier panicked (also counted in NotifyFailed)
	AnnouncementsLost      int64 `json:"announcements_lost"`       // announcements (EventDetected) no notifier delivered, alone or within a later event of the incident
	NotifyThrottled        int64 `json:"notify_throttled"`         // reminders (EventRenotify) a route's repeat_interval withheld from a receiver
}

// Stats returns the board's counters.
func (b *Board) Stats() BoardStats {
	s := BoardStats{Signals: b.received.Load(), Invalid: b.invalid.Load()}
	for _, q := range b.queues {
		q.addStats(&s)
	}
	if b.router != nil {
		s.NotifyThrottled = b.router.throttledTotal()
	}
	b.mu.Lock()
	e := b.eng
	s.AlertsDropped, s.AlertsEvicted, s.Flaps = e.refused, e.evicted, e.flaps
	s.Alerts = len(e.alerts)
	s.Incidents = len(e.incidents)
	for _, inc := range e.incidents {
		switch {
		case !inc.State.Open():
		case inc.Drill != "":
			s.OpenDrills++
		default:
			s.Open++
		}
	}
	b.mu.Unlock()
	return s
}
