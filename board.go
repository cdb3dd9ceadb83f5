package firebreak

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak/internal/fingerprint"
)

// Errors returned by Board actions. Match them with errors.Is.
var (
	// ErrNotFound: no incident has that ID (or it has been evicted).
	ErrNotFound = errors.New("firebreak: incident not found")
	// ErrTransition: the action does not apply to the incident's state.
	ErrTransition = errors.New("firebreak: action not allowed in this state")
	// ErrClosed: the Board has been closed.
	ErrClosed = errors.New("firebreak: board closed")
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
)

// Board is the incident engine and the default [Reporter]. It fingerprints
// signals as Alertmanager does, so that signals with the same identity are one
// alert; groups alerts into incidents by (service, fault domain); grades them
// with the [Plan]; runs the lifecycle and the response deadlines; and hands
// notifications to its notifiers off the caller's path.
//
// NewBoard starts nothing. [Board.Start] starts the timer loop (group wait,
// deadlines, escalation, resolution) and one delivery goroutine per notifier;
// [Board.Close] flushes and stops them. A Board is safe for concurrent use.
// Report never blocks and, for a signal that repeats an already-open alert,
// does not allocate.
type Board struct {
	service   string
	env       string
	plan      *Plan
	retention int
	maxAlerts int
	maxLines  int
	logger    *slog.Logger
	queues    []*queue
	known     []string // components listed with WithComponents
	seed      maphash.Seed

	received  atomic.Int64
	invalid   atomic.Int64
	overflow  atomic.Int64
	suppress  atomic.Int64
	kick      chan struct{}
	startOnce sync.Once
	closeOnce sync.Once
	done      chan struct{}
	loopDone  chan struct{}
	started   atomic.Bool

	mu        sync.Mutex // guards everything below
	alerts    map[uint64]*alert
	incidents map[string]*incident // by ID
	byGroup   map[string]*incident // the incident each group key attaches to
	finished  []*incident          // resolved or closed, oldest first, for retention
	seq       int
	closed    bool
}

var _ Reporter = (*Board)(nil)

type alert struct {
	fp        uint64
	ref       AlertRef
	inc       *incident
	traces    [traceRing]string
	traceN    int
	peak      float64
	evidence  bool     // metrics evidence taken for the current firing episode
	snapshots int      // firing episodes with evidence taken
	waived    Severity // the grade a person accepted when lowering severity; -1 if none
}

type incident struct {
	Incident
	seq         int
	alerts      []*alert
	notifyAt    time.Time // end of the group wait; zero once it has passed
	waitOver    bool      // the group wait has passed
	clockStart  time.Time // when the current response clock started
	clearSince  time.Time // when the last alert holding it open stopped; zero while one holds
	graded      bool      // an alert graded above None has joined it
	ackSeverity Severity  // severity at acknowledgement; -1 if none
	renotifyAt  time.Time
	persisted   map[int]bool // persistence rules already applied
	spread      bool
	omitted     int
	stateBefore State // state before resolution, for reopen
}

// BoardOption configures a Board.
type BoardOption interface{ applyBoard(*boardConfig) }

type boardConfig struct {
	plan      *Plan
	env       string
	retention int
	maxAlerts int
	maxLines  int
	queueSize int
	logger    *slog.Logger
	notifiers []Notifier
	known     []string
}

type boardOptionFunc func(*boardConfig)

func (f boardOptionFunc) applyBoard(c *boardConfig) { f(c) }

// WithPlan sets the emergency plan. Default: [DefaultPlan]().
func WithPlan(p *Plan) BoardOption { return boardOptionFunc(func(c *boardConfig) { c.plan = p }) }

// WithEnv sets the "env" label of every alert, e.g. "prod". Default: none.
func WithEnv(env string) BoardOption { return boardOptionFunc(func(c *boardConfig) { c.env = env }) }

// WithNotifier adds a notifier. Each notifier gets its own bounded queue and
// delivery goroutine. Default: none.
func WithNotifier(n Notifier) BoardOption {
	return boardOptionFunc(func(c *boardConfig) { c.notifiers = append(c.notifiers, n) })
}

// WithQueueSize bounds each notifier's queue: up to n incidents with a
// routine update waiting (routine updates of one incident coalesce into the
// latest) and 4·n lifecycle events, which are delivered before routine
// updates and dropped only as a last resort (see [Event.Routine]); what is
// dropped is counted in [BoardStats]. Default: 256.
func WithQueueSize(n int) BoardOption {
	return boardOptionFunc(func(c *boardConfig) { c.queueSize = n })
}

// WithRetention bounds how many resolved and closed incidents are kept; the
// oldest are forgotten first. Default: 1000.
func WithRetention(n int) BoardOption {
	return boardOptionFunc(func(c *boardConfig) { c.retention = n })
}

// WithMaxAlerts bounds how many distinct alerts the board tracks; a signal
// that would make a new alert beyond it is dropped and counted. Default: 10000.
func WithMaxAlerts(n int) BoardOption {
	return boardOptionFunc(func(c *boardConfig) { c.maxAlerts = n })
}

// WithTimelineLimit bounds the entries of one incident's timeline; past it,
// routine signal entries are omitted and counted, while state and severity
// changes are always kept. Default: 500.
func WithTimelineLimit(n int) BoardOption {
	return boardOptionFunc(func(c *boardConfig) { c.maxLines = n })
}

// WithLogger sets where the board logs notifier failures. Default:
// slog.Default().
func WithLogger(l *slog.Logger) BoardOption {
	return boardOptionFunc(func(c *boardConfig) { c.logger = l })
}

// WithComponents declares the components the public status shows, even
// before they report anything; no other component name is ever shown there.
// Default: none.
func WithComponents(names ...string) BoardOption {
	return boardOptionFunc(func(c *boardConfig) { c.known = append(c.known, names...) })
}

// NewBoard returns a board for the named service. It validates the plan and
// the options and starts no goroutines.
func NewBoard(service string, opts ...BoardOption) (*Board, error) {
	cfg := boardConfig{retention: defaultRetention, maxAlerts: defaultMaxAlerts, maxLines: defaultTimeline, queueSize: defaultQueue}
	for _, o := range opts {
		o.applyBoard(&cfg)
	}
	var errs []error
	if service == "" {
		errs = append(errs, errors.New("firebreak: NewBoard: service name is required"))
	}
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
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	b := &Board{
		service:   service,
		env:       cfg.env,
		plan:      cfg.plan.Clone(),
		retention: cfg.retention,
		maxAlerts: cfg.maxAlerts,
		maxLines:  cfg.maxLines,
		logger:    cfg.logger,
		known:     slices.Clone(cfg.known),
		seed:      maphash.MakeSeed(),
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		loopDone:  make(chan struct{}),
		alerts:    make(map[uint64]*alert),
		incidents: make(map[string]*incident),
		byGroup:   make(map[string]*incident),
	}
	for _, n := range cfg.notifiers {
		b.queues = append(b.queues, newQueue(n, cfg.queueSize))
	}
	return b, nil
}

// Plan returns a copy of the board's plan.
func (b *Board) Plan() *Plan { return b.plan.Clone() }

// Service returns the service name the board was made for.
func (b *Board) Service() string { return b.service }

// Start starts the timer loop and the notifiers' delivery goroutines. It
// returns at once; calling it again, or after Close, does nothing.
func (b *Board) Start() {
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
		go b.loop()
	})
}

// Close stops the timer loop and delivers the notifications still queued
// within ctx's deadline; what is left when ctx ends is dropped and counted,
// and a notifier that ignores its cancelled context is not waited for. It
// returns ctx.Err() if the queues could not be flushed in time. Called from
// inside a notifier's Notify, it returns at once with an error wrapping
// [ErrCloseFromNotifier]; that notifier's queue drains after Notify returns.
// Report after Close is ignored. Close is idempotent.
func (b *Board) Close(ctx context.Context) error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		close(b.done)
		if b.started.Load() {
			<-b.loopDone
		}
	})
	// Every call waits within its own ctx, and none waits for a notifier
	// that is calling it.
	return closeQueues(ctx, b.queues)
}

// kickLoop wakes the timer loop to recompute its next wake-up.
func (b *Board) kickLoop() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

func (b *Board) loop() {
	defer close(b.loopDone)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		b.mu.Lock()
		notes := b.advanceLocked(now)
		next := b.nextWakeLocked(now)
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
	fp := b.fingerprint(&s)

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	a := b.alerts[fp]
	if a != nil && a.inc != nil && s.Firing && a.ref.Firing && a.ref.Fallback == s.Fallback && a.ref.Tier == s.Tier &&
		a.ref.Value == s.Value && len(s.Metrics) == 0 && a.inc.State.Open() {
		// Fast path: the alert fires again and nothing that grades it changed.
		a.touch(&s)
		if s.Summary != "" {
			a.ref.Summary = s.Summary
		}
		b.mu.Unlock()
		return
	}
	notes := b.reportSlowLocked(a, fp, &s, now)
	b.mu.Unlock()
	b.dispatch(notes)
	b.kickLoop()
}

// finite maps NaN to 0 and ±Inf to the largest finite values.
func finite(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return 0
	case math.IsInf(v, 1):
		return math.MaxFloat64
	case math.IsInf(v, -1):
		return -math.MaxFloat64
	}
	return v
}

func finiteMetrics(m map[string]float64) map[string]float64 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = finite(v)
	}
	return out
}

func (a *alert) touch(s *Signal) {
	a.ref.Count++
	a.ref.LastSeen = s.Time
	for _, id := range s.TraceIDs {
		a.traces[a.traceN%traceRing] = id
		a.traceN++
	}
	if s.Value > a.peak {
		a.peak = s.Value
	}
}

// fingerprint computes the alert identity of s without allocating: the kind's
// alert name, service, env, component, dependency and the signal's labels.
// It is a seeded maphash over the sorted labels, which is several times
// faster than FNV on this path; the Alertmanager FNV fingerprint is computed
// once, when the alert is created.
func (b *Board) fingerprint(s *Signal) uint64 {
	var buf [16]fingerprint.Label
	l := b.identity(s, buf[:0])
	var h maphash.Hash
	h.SetSeed(b.seed)
	for _, x := range l {
		if x.Value == "" {
			continue
		}
		h.WriteString(x.Name)
		h.WriteByte(0xff)
		h.WriteString(x.Value)
		h.WriteByte(0xff)
	}
	return h.Sum64()
}

// identity appends s's identity labels to l, sorted by name.
func (b *Board) identity(s *Signal, l []fingerprint.Label) []fingerprint.Label {
	l = append(l,
		fingerprint.Label{Name: "alertname", Value: s.Kind.AlertName()},
		fingerprint.Label{Name: "service", Value: b.service},
		fingerprint.Label{Name: "env", Value: b.env},
		fingerprint.Label{Name: "component", Value: s.Component},
		fingerprint.Label{Name: "dependency", Value: s.Dependency},
	)
	for k, v := range s.Labels {
		switch k {
		case "alertname", "service", "env", "component", "dependency", "severity":
			continue // reserved: set by the board
		}
		l = append(l, fingerprint.Label{Name: k, Value: v})
	}
	fingerprint.Sort(l)
	return l
}

func (b *Board) alertLabels(s *Signal) map[string]string {
	m := make(map[string]string, 5+len(s.Labels))
	for k, v := range s.Labels {
		if v != "" {
			m[k] = v
		}
	}
	m["alertname"] = s.Kind.AlertName()
	m["service"] = b.service
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		} else {
			delete(m, k)
		}
	}
	set("env", b.env)
	set("component", s.Component)
	set("dependency", s.Dependency)
	delete(m, "severity")
	return m
}

func (b *Board) groupKey(s *Signal) (key, domain string) {
	domain = cmp.Or(s.Dependency, s.Component, "unknown")
	m := map[string]string{"service": b.service, "fault_domain": domain}
	if b.env != "" {
		m["env"] = b.env
	}
	return "{}:" + fingerprint.String(m), domain
}

// stale reports whether inc is over for good: closed, or resolved longer
// ago than the reopen window.
func (b *Board) stale(inc *incident, now time.Time) bool {
	return inc.State == Closed || (inc.State == Resolved && now.Sub(inc.ResolvedAt) >= time.Duration(b.plan.Timers.ReopenWindow))
}

func (b *Board) reportSlowLocked(a *alert, fp uint64, s *Signal, now time.Time) []Notification {
	sev := b.plan.Classify(s)
	if a != nil && a.inc != nil && s.Firing && b.stale(a.inc, now) {
		// The alert's incident is over: this is a new episode, a new alert
		// in a new incident. The old incident keeps its record.
		a = nil
	}
	if a == nil {
		if !s.Firing {
			return nil // a clear for an alert we never saw firing
		}
		if b.alerts[fp] == nil && len(b.alerts) >= b.maxAlerts {
			b.overflow.Add(1)
			return nil
		}
		a = &alert{fp: fp, waived: -1}
		a.ref = AlertRef{
			Fingerprint: fmt.Sprintf("%016x", fingerprint.Sum(b.identity(s, nil))),
			Kind:        s.Kind, Component: s.Component, Dependency: s.Dependency, Tier: s.Tier,
			Labels: b.alertLabels(s), FirstSeen: s.Time,
		}
		b.alerts[fp] = a
	}
	wasFiring := a.ref.Firing
	a.ref.Firing = s.Firing
	a.ref.Fallback = s.Fallback
	a.ref.Value = s.Value
	a.ref.Severity = sev
	a.ref.Tier = s.Tier
	if s.Summary != "" {
		a.ref.Summary = s.Summary
	}
	a.touch(s)

	if !s.Firing {
		if !wasFiring || a.inc == nil {
			return nil
		}
		a.ref.ClearedAt = now
		a.evidence = false
		return b.clearedLocked(a, now)
	}

	inc := a.inc
	var notes []Notification
	if inc == nil {
		// Attach to the group's incident, reopening a recently resolved one,
		// or start a new incident.
		key, domain := b.groupKey(s)
		inc = b.byGroup[key]
		if inc != nil && b.stale(inc, now) {
			inc = nil
		}
		if inc == nil {
			inc = b.newIncidentLocked(key, domain, now)
		}
	}
	if inc.State == Resolved {
		if sev == None && inc.graded {
			// A signal the plan grades None — a ticket tier still burning
			// after an outage — is recorded, but does not reopen an
			// incident that paged.
			b.recordQuietLocked(inc, a, wasFiring, now)
			return nil
		}
		notes = append(notes, b.reopenLocked(inc, now)...)
	}
	joined := a.inc != inc
	if joined {
		a.inc = inc
		b.attachLocked(inc, a, now)
	} else if !wasFiring {
		a.ref.ClearedAt = time.Time{}
		b.lineLocked(inc, now, EventSignal, systemActor, fmt.Sprintf("%s fires again for %s", a.ref.Kind, alertWho(&a.ref)), false)
	}
	if sev > None {
		inc.graded = true
	}
	if !a.evidence && a.snapshots < maxSnapshots && (len(s.Metrics) > 0 || len(s.TraceIDs) > 0) {
		// One snapshot per firing episode, for the first few episodes.
		a.evidence = true
		a.snapshots++
		inc.Evidence = append(inc.Evidence, Evidence{At: now, Kind: "signal", Source: string(s.Kind) + " " + alertWho(&a.ref),
			TraceIDs: uniq(s.TraceIDs), Metrics: finiteMetrics(s.Metrics), Note: s.Summary})
	}
	fresh := joined || !wasFiring
	notes = append(notes, b.regradeLocked(inc, a, joined, fresh, now)...)
	b.holdLocked(inc, now)
	if !inc.notified() && inc.waitOver && inc.State.Open() && inc.Severity > None && inc.held() {
		// What paged cleared within the group wait and now fires again.
		return append(notes, b.announceLocked(inc, now))
	}
	if fresh && inc.notified() && inc.holds(a) {
		notes = append(notes, b.noteLocked(inc, EventSignal, now, []*alert{a}, nil))
	}
	return notes
}

// recordQuietLocked attaches a firing alert to a resolved incident without
// reopening it: the timeline says it was seen, nobody is notified.
func (b *Board) recordQuietLocked(inc *incident, a *alert, wasFiring bool, now time.Time) {
	switch {
	case a.inc != inc:
		a.inc = inc
		b.attachLocked(inc, a, now)
	case !wasFiring:
		a.ref.ClearedAt = time.Time{}
		b.lineLocked(inc, now, EventSignal, systemActor, fmt.Sprintf("%s fires again for %s, graded none: recorded, not reopened", a.ref.Kind, alertWho(&a.ref)), false)
	}
}

// holds reports whether alert a keeps incident inc open. A firing alert
// holds it, except that once an alert graded above None has joined, alerts
// graded None — ticket-tier burns, recorded-only kinds — no longer do: an
// incident that paged resolves when what paged clears.
func (inc *incident) holds(a *alert) bool {
	return a.ref.Firing && (a.ref.Severity > None || !inc.graded)
}

// held reports whether any alert holds inc open.
func (inc *incident) held() bool {
	for _, a := range inc.alerts {
		if inc.holds(a) {
			return true
		}
	}
	return false
}

func (inc *incident) anyFiring() bool {
	for _, a := range inc.alerts {
		if a.ref.Firing {
			return true
		}
	}
	return false
}

// holdLocked starts the resolve hold-down of an open incident once no alert
// holds it, and stops it while one does.
func (b *Board) holdLocked(inc *incident, now time.Time) {
	switch {
	case !inc.State.Open():
	case inc.held():
		inc.clearSince = time.Time{}
	case inc.clearSince.IsZero():
		inc.clearSince = now
	}
}

// uniq returns the distinct strings of ids, in order.
func uniq(ids []string) []string {
	var out []string
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func alertWho(r *AlertRef) string {
	if r.Dependency != "" {
		return r.Component + " → " + r.Dependency
	}
	return r.Component
}

func (inc *incident) notified() bool { return !inc.NotifiedAt.IsZero() }

// needsResponse reports whether the plan wants a person to acknowledge the
// incident at its current severity.
func (inc *incident) needsResponse() bool {
	return inc.Severity > None && inc.ackSeverity < inc.Severity
}

func (b *Board) newIncidentLocked(key, domain string, now time.Time) *incident {
	b.seq++
	inc := &incident{seq: b.seq, ackSeverity: -1, persisted: map[int]bool{}}
	inc.Incident = Incident{
		ID:          fmt.Sprintf("INC-%04d", b.seq),
		Service:     b.service,
		Env:         b.env,
		FaultDomain: domain,
		GroupKey:    key,
		State:       Detected,
		DetectedAt:  now,
	}
	inc.notifyAt = now.Add(time.Duration(b.plan.Timers.GroupWait))
	b.incidents[inc.ID] = inc
	b.byGroup[key] = inc
	return inc
}

func (b *Board) attachLocked(inc *incident, a *alert, now time.Time) {
	inc.alerts = append(inc.alerts, a)
	if !slices.Contains(inc.Components, a.ref.Component) {
		inc.Components = append(inc.Components, a.ref.Component)
		slices.Sort(inc.Components)
	}
	if a.ref.Tier == Core {
		inc.CoreAffected = true
	}
	b.lineLocked(inc, now, EventSignal, systemActor, fmt.Sprintf("%s from %s (%s tier), graded %s", a.ref.Kind, alertWho(&a.ref), a.ref.Tier, a.ref.Severity), false)
}

// Why severity rose, for regradeLocked.
const (
	byGrade = iota
	byCore
	bySpread
	byRollback
)

// regradeLocked raises the incident's severity to what its alerts and the
// escalation rules demand. Severity never falls here. An alert's grade counts
// only above what a person accepted when lowering the severity (a.waived);
// the escalation rules raise one level above the incident's severity before
// the alert arrived.
func (b *Board) regradeLocked(inc *incident, a *alert, joined, fresh bool, now time.Time) []Notification {
	target, why := None, byGrade
	if a.ref.Severity > a.waived {
		target = a.ref.Severity
	}
	esc := b.plan.Escalation
	if joined && len(inc.alerts) > 1 {
		if esc.CoreJoins && a.ref.Tier == Core && !coreBefore(inc, a) {
			if up := min(inc.Severity+1, Fatal); up > target {
				target, why = up, byCore
			}
		}
		if n := esc.SpreadComponents; n > 0 && !inc.spread && len(inc.Components) >= n {
			inc.spread = true
			limit := Severe
			if inc.CoreAffected {
				limit = Fatal
			}
			if up := min(inc.Severity+1, limit); up > target {
				target, why = up, bySpread
			}
		}
	}
	if esc.RollbackFailed && a.ref.Kind == KindRollbackFailed && fresh {
		if up := min(inc.Severity+1, Fatal); up > target {
			target, why = up, byRollback
		}
	}
	if target > inc.Severity || inc.Title == "" {
		// The title names the alert that made the incident what it is.
		inc.Title = fmt.Sprintf("%s: %s", a.ref.Kind.AlertName(), alertWho(&a.ref))
	}
	if target <= inc.Severity {
		return nil
	}
	var reason string
	switch why {
	case byCore:
		reason = fmt.Sprintf("core component %s joined", a.ref.Component)
	case bySpread:
		reason = fmt.Sprintf("spread to %d components", len(inc.Components))
	case byRollback:
		reason = "a rollback failed"
	default:
		reason = fmt.Sprintf("%s graded %s by the plan", a.ref.Kind, a.ref.Severity)
	}
	if n, ok := b.escalateLocked(inc, target, reason, now); ok {
		return []Notification{n}
	}
	return nil
}

func coreBefore(inc *incident, a *alert) bool {
	for _, x := range inc.alerts {
		if x != a && x.ref.Tier == Core {
			return true
		}
	}
	return false
}

// escalateLocked raises severity to sev and restarts what the plan demands
// at the new level. It returns the notification to send, if the incident is
// to be heard of: an escalation once announced, or the announcement itself
// when a recorded-only (None) incident becomes one that pages.
func (b *Board) escalateLocked(inc *incident, sev Severity, reason string, now time.Time) (Notification, bool) {
	from := inc.Severity
	inc.Severity = sev
	inc.MaxSeverity = max(inc.MaxSeverity, sev)
	inc.Level = sev.Level()
	inc.Lead = b.plan.Response[sev].Lead
	if inc.needsResponse() {
		b.restartClockLocked(inc, from, now)
	}
	note := fmt.Sprintf("%s → %s: %s", from, sev, reason)
	if from == None && len(inc.Timeline) <= 1 {
		note = fmt.Sprintf("graded %s (level %d): %s", sev, sev.Level(), reason)
	}
	if !inc.ResponseDue.IsZero() && inc.needsResponse() {
		note += fmt.Sprintf("; %s to respond by %s", inc.Lead, inc.ResponseDue.UTC().Format(time.RFC3339))
	}
	b.lineLocked(inc, now, EventEscalated, systemActor, note, true)
	if !inc.notified() {
		if inc.waitOver && inc.State.Open() && sev > None {
			return b.announceLocked(inc, now), true
		}
		return Notification{}, false
	}
	n := b.noteLocked(inc, EventEscalated, now, nil, nil)
	n.PreviousSeverity = from
	n.PreviousAlertSeverity = b.plan.Response[from].AlertSeverity
	return n, true
}

// restartClockLocked sets the response deadline for the incident's current
// severity. The clock runs from when somebody was first asked to respond to
// this episode: detection, or when a recorded-only incident started to page,
// or when it rose above the level at which it was acknowledged.
func (b *Board) restartClockLocked(inc *incident, from Severity, now time.Time) {
	continuing := inc.ackSeverity < from && from > None && !inc.clockStart.IsZero()
	if !continuing {
		inc.clockStart = now
	}
	rp := b.plan.Response[inc.Severity]
	inc.ResponseDue = inc.clockStart.Add(time.Duration(rp.Within))
	// Breach again at the new level if its deadline has passed too: the loop
	// pages the new level's escalation target.
	inc.Breached = false
	inc.EscalatedTo = ""
	inc.renotifyAt = time.Time{}
	if rp.RenotifyEvery > 0 {
		inc.renotifyAt = now.Add(time.Duration(rp.RenotifyEvery))
	}
}

func (b *Board) announceLocked(inc *incident, now time.Time) Notification {
	inc.NotifiedAt = now
	note := fmt.Sprintf("announced at %s (level %d)", inc.Severity, inc.Level)
	if inc.needsResponse() {
		note += fmt.Sprintf(", %s to respond by %s", inc.Lead, inc.ResponseDue.UTC().Format(time.RFC3339))
	}
	b.lineLocked(inc, now, EventDetected, systemActor, note, true)
	return b.noteLocked(inc, EventDetected, now, inc.firing(), nil)
}

func (b *Board) clearedLocked(a *alert, now time.Time) []Notification {
	inc := a.inc
	b.lineLocked(inc, now, EventSignal, systemActor, fmt.Sprintf("%s cleared for %s", a.ref.Kind, alertWho(&a.ref)), false)
	if !inc.notified() && !inc.waitOver && !inc.anyFiring() {
		// Everything cleared within the group wait: a flap. Nobody hears of it.
		b.suppress.Add(1)
		b.forgetLocked(inc)
		return nil
	}
	b.holdLocked(inc, now)
	if inc.notified() && inc.State.Open() {
		return []Notification{b.noteLocked(inc, EventSignal, now, nil, []*alert{a})}
	}
	return nil
}

func (b *Board) forgetLocked(inc *incident) {
	for _, a := range inc.alerts {
		if b.alerts[a.fp] == a {
			delete(b.alerts, a.fp)
		}
	}
	delete(b.incidents, inc.ID)
	if b.byGroup[inc.GroupKey] == inc {
		delete(b.byGroup, inc.GroupKey)
	}
}

func (b *Board) reopenLocked(inc *incident, now time.Time) []Notification {
	if inc.stateBefore >= Acknowledged {
		inc.State = Acknowledged // it regressed: the responders are still on it
	} else {
		inc.State = Detected
	}
	inc.ResolvedAt = time.Time{}
	inc.ReopenCount++
	inc.clearSince = time.Time{}
	b.finished = slices.DeleteFunc(b.finished, func(x *incident) bool { return x == inc })
	b.lineLocked(inc, now, EventReopened, systemActor, fmt.Sprintf("signals fired again within the reopen window (reopen %d)", inc.ReopenCount), true)
	switch {
	case inc.notified():
		return []Notification{b.noteLocked(inc, EventReopened, now, nil, nil)}
	case inc.waitOver && inc.Severity > None:
		return []Notification{b.announceLocked(inc, now)}
	case !inc.waitOver:
		// Resolved within its group wait: it gets a group wait again.
		inc.notifyAt = now.Add(time.Duration(b.plan.Timers.GroupWait))
	}
	return nil
}

// lineLocked appends a timeline entry. Routine entries (important=false)
// are omitted once the timeline is full.
func (b *Board) lineLocked(inc *incident, now time.Time, ev Event, actor, note string, important bool) {
	if !important && len(inc.Timeline) >= b.maxLines {
		inc.omitted++
		return
	}
	inc.Timeline = append(inc.Timeline, Entry{At: now, Event: ev, Actor: actor, Severity: inc.Severity, State: inc.State, Note: note})
}

// advanceLocked runs the timers that are due at now and returns the
// notifications they cause.
func (b *Board) advanceLocked(now time.Time) []Notification {
	var notes []Notification
	for _, inc := range b.incidents {
		if !inc.notifyAt.IsZero() && !now.Before(inc.notifyAt) {
			inc.notifyAt = time.Time{}
			inc.waitOver = true
			// What paged may have cleared within the wait while an alert
			// graded None still fires: then nobody is paged, and the
			// incident resolves after the hold-down unannounced.
			if inc.State.Open() && inc.Severity > None && inc.held() {
				notes = append(notes, b.announceLocked(inc, now))
			}
		}
		if !inc.State.Open() {
			continue
		}
		// Nobody is paged again for an incident whose signals have all
		// cleared: it is in its resolve hold-down.
		unacked := inc.needsResponse() && inc.notified() && inc.clearSince.IsZero()
		if unacked && !inc.Breached && !inc.ResponseDue.IsZero() && !now.Before(inc.ResponseDue) {
			inc.Breached = true
			inc.EscalatedTo = b.plan.Response[inc.Severity].EscalateTo
			b.lineLocked(inc, now, EventBreached, systemActor, fmt.Sprintf("no acknowledgement within %s of %s: escalated to %s",
				time.Duration(b.plan.Response[inc.Severity].Within), inc.Severity, inc.EscalatedTo), true)
			notes = append(notes, b.noteLocked(inc, EventBreached, now, nil, nil))
		}
		if unacked && !inc.renotifyAt.IsZero() && !now.Before(inc.renotifyAt) {
			every := time.Duration(b.plan.Response[inc.Severity].RenotifyEvery)
			if every > 0 {
				for !inc.renotifyAt.After(now) {
					inc.renotifyAt = inc.renotifyAt.Add(every)
				}
				notes = append(notes, b.noteLocked(inc, EventRenotify, now, nil, nil))
			} else {
				inc.renotifyAt = time.Time{}
			}
		}
		if inc.State != Mitigated {
			for i, pr := range b.plan.Escalation.Persistence {
				if !inc.persisted[i] && inc.Severity == pr.From && !now.Before(inc.DetectedAt.Add(time.Duration(pr.After))) {
					inc.persisted[i] = true
					reason := fmt.Sprintf("not mitigated %s after detection", time.Duration(pr.After))
					if n, ok := b.escalateLocked(inc, pr.To, reason, now); ok {
						notes = append(notes, n)
					}
				}
			}
		}
		if !inc.clearSince.IsZero() && !now.Before(inc.clearSince.Add(time.Duration(b.plan.Timers.ResolveHoldDown))) {
			b.resolveLocked(inc, now, systemActor, fmt.Sprintf("all signals clear for %s", time.Duration(b.plan.Timers.ResolveHoldDown)))
			if inc.notified() {
				notes = append(notes, b.noteLocked(inc, EventResolved, now, nil, nil))
			}
		}
	}
	// Resolved incidents leave their group once the reopen window passes.
	for key, inc := range b.byGroup {
		if b.stale(inc, now) {
			delete(b.byGroup, key)
		}
	}
	return notes
}

func (b *Board) resolveLocked(inc *incident, now time.Time, actor, note string) {
	inc.stateBefore = inc.State
	inc.State = Resolved
	inc.ResolvedAt = now
	inc.clearSince = time.Time{}
	inc.notifyAt = time.Time{}
	for _, a := range inc.alerts {
		if a.ref.Firing {
			a.ref.Firing = false
			a.ref.ClearedAt = now
			a.evidence = false
		}
	}
	b.lineLocked(inc, now, EventResolved, actor, note, true)
	b.finished = append(b.finished, inc)
	b.evictLocked()
}

func (b *Board) evictLocked() {
	for len(b.finished) > b.retention {
		old := b.finished[0]
		b.finished = b.finished[1:]
		b.forgetLocked(old)
	}
}

// nextWakeLocked returns the earliest time after now that a timer is due, or
// zero. Everything due at or before now was handled by advanceLocked.
func (b *Board) nextWakeLocked(now time.Time) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, inc := range b.incidents {
		consider(inc.notifyAt)
		if inc.State == Resolved {
			consider(inc.ResolvedAt.Add(time.Duration(b.plan.Timers.ReopenWindow)))
		}
		if !inc.State.Open() {
			continue
		}
		if inc.needsResponse() && inc.notified() && inc.clearSince.IsZero() {
			if !inc.Breached {
				consider(inc.ResponseDue)
			}
			consider(inc.renotifyAt)
		}
		if inc.State != Mitigated {
			for i, pr := range b.plan.Escalation.Persistence {
				if !inc.persisted[i] && inc.Severity == pr.From {
					consider(inc.DetectedAt.Add(time.Duration(pr.After)))
				}
			}
		}
		if !inc.clearSince.IsZero() {
			consider(inc.clearSince.Add(time.Duration(b.plan.Timers.ResolveHoldDown)))
		}
	}
	return next
}

func (inc *incident) firing() []*alert {
	var out []*alert
	for _, a := range inc.alerts {
		if a.ref.Firing {
			out = append(out, a)
		}
	}
	return out
}

// snapshot copies the incident for use outside the lock.
func (inc *incident) snapshot() Incident {
	s := inc.Incident
	s.Components = slices.Clone(inc.Components)
	s.Timeline = slices.Clone(inc.Timeline)
	if inc.omitted > 0 {
		s.Timeline = append(s.Timeline, Entry{At: s.Timeline[len(s.Timeline)-1].At, Event: EventSignal, Actor: systemActor,
			Severity: inc.Severity, State: inc.State, Note: fmt.Sprintf("%s (%d)", omittedNote, inc.omitted)})
	}
	s.Evidence = cloneEvidence(inc.Evidence)
	s.Findings = slices.Clone(inc.Findings)
	s.Alerts = make([]AlertRef, 0, len(inc.alerts))
	for _, a := range inc.alerts {
		s.Alerts = append(s.Alerts, a.snapshot())
	}
	if len(s.Alerts) > 0 {
		if ids := inc.traceIDs(); len(ids) > 0 {
			s.Evidence = append(s.Evidence, Evidence{At: s.Alerts[0].LastSeen, Kind: "trace", Source: "recent failing requests", TraceIDs: ids})
		}
	}
	s.Report = inc.Report.clone()
	return s
}

func cloneEvidence(in []Evidence) []Evidence {
	out := slices.Clone(in)
	for i := range out {
		out[i].TraceIDs = slices.Clone(out[i].TraceIDs)
		out[i].Metrics = maps.Clone(out[i].Metrics)
	}
	return out
}

func (a *alert) snapshot() AlertRef {
	r := a.ref
	r.Peak = a.peak
	r.Labels = maps.Clone(a.ref.Labels)
	return r
}

func (inc *incident) traceIDs() []string {
	var ids []string
	for _, a := range inc.alerts {
		n := min(a.traceN, traceRing)
		for i := range n {
			id := a.traces[(a.traceN-n+i)%traceRing]
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

func (b *Board) noteLocked(inc *incident, ev Event, now time.Time, fired, resolved []*alert) Notification {
	n := Notification{Event: ev, At: now, Incident: inc.snapshot(), AlertSeverity: b.plan.Response[inc.Severity].AlertSeverity}
	for _, a := range fired {
		n.Fired = append(n.Fired, a.snapshot())
	}
	for _, a := range resolved {
		n.Resolved = append(n.Resolved, a.snapshot())
	}
	return n
}

func (b *Board) dispatch(notes []Notification) { fanOut(b.queues, notes) }

// Filter selects incidents in [Board.List]. Zero fields match everything.
type Filter struct {
	States      []State  // any of these states
	MinSeverity Severity // at least this severity
	Component   string   // affecting this component
	OpenOnly    bool     // detected, acknowledged or mitigated
}

// List returns snapshots of the incidents that match f, newest first.
func (b *Board) List(f Filter) []Incident {
	b.mu.Lock()
	defer b.mu.Unlock()
	var matched []*incident
	for _, inc := range b.incidents {
		if len(f.States) > 0 && !slices.Contains(f.States, inc.State) {
			continue
		}
		if f.OpenOnly && !inc.State.Open() {
			continue
		}
		if inc.Severity < f.MinSeverity {
			continue
		}
		if f.Component != "" && !slices.Contains(inc.Components, f.Component) {
			continue
		}
		matched = append(matched, inc)
	}
	slices.SortFunc(matched, func(x, y *incident) int {
		if c := y.DetectedAt.Compare(x.DetectedAt); c != 0 {
			return c
		}
		return y.seq - x.seq
	})
	out := make([]Incident, 0, len(matched))
	for _, inc := range matched {
		out = append(out, inc.snapshot())
	}
	return out
}

// Get returns a snapshot of the incident with the given ID.
func (b *Board) Get(id string) (Incident, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	inc, ok := b.incidents[id]
	if !ok {
		return Incident{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return inc.snapshot(), nil
}

// action runs fn on incident id under the lock and dispatches the
// notification it returns after the lock is released.
func (b *Board) action(id string, fn func(inc *incident, now time.Time) (Event, error)) error {
	now := time.Now()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	inc, ok := b.incidents[id]
	if !ok {
		b.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	prev := inc.Severity
	ev, err := fn(inc, now)
	var notes []Notification
	if err == nil && ev != "" && inc.notified() {
		n := b.noteLocked(inc, ev, now, nil, nil)
		if ev == EventEscalated || ev == EventDowngraded {
			n.PreviousSeverity = prev
			n.PreviousAlertSeverity = b.plan.Response[prev].AlertSeverity
		}
		notes = append(notes, n)
	}
	b.mu.Unlock()
	if err != nil {
		return err
	}
	b.dispatch(notes)
	b.kickLoop()
	return nil
}

func transitionError(inc *incident, action string) error {
	return fmt.Errorf("%w: cannot %s incident %s: it is %s", ErrTransition, action, inc.ID, inc.State)
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
	return b.action(id, func(inc *incident, now time.Time) (Event, error) {
		if !inc.State.Open() || inc.ackSeverity >= inc.Severity {
			return "", transitionError(inc, "acknowledge")
		}
		b.ackLocked(inc, by, now)
		return EventAcknowledged, nil
	})
}

func (b *Board) ackLocked(inc *incident, by string, now time.Time) {
	inc.ackSeverity = inc.Severity
	inc.renotifyAt = time.Time{}
	if inc.AcknowledgedAt.IsZero() {
		inc.AcknowledgedAt = now
		inc.AcknowledgedBy = by
	}
	if inc.State == Detected {
		inc.State = Acknowledged
	}
	note := fmt.Sprintf("acknowledged at %s", inc.Severity)
	if !inc.ResponseDue.IsZero() {
		if now.After(inc.ResponseDue) {
			note += fmt.Sprintf(", %s after the deadline", now.Sub(inc.ResponseDue).Round(time.Second))
		} else {
			note += ", within the deadline"
		}
	}
	b.lineLocked(inc, now, EventAcknowledged, by, note, true)
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
	return b.action(id, func(inc *incident, now time.Time) (Event, error) {
		if inc.State != Detected && inc.State != Acknowledged {
			return "", transitionError(inc, "mitigate")
		}
		if inc.ackSeverity < inc.Severity {
			b.ackLocked(inc, by, now)
		}
		inc.State = Mitigated
		inc.MitigatedAt = now
		b.lineLocked(inc, now, EventMitigated, by, action, true)
		return EventMitigated, nil
	})
}

// Resolve records that the service works as usual again. Alerts still firing
// are marked cleared; if they fire again within the reopen window, the
// incident reopens.
func (b *Board) Resolve(id, by, note string) error {
	if err := requireActor(by); err != nil {
		return err
	}
	return b.action(id, func(inc *incident, now time.Time) (Event, error) {
		if !inc.State.Open() {
			return "", transitionError(inc, "resolve")
		}
		b.resolveLocked(inc, now, by, cmp.Or(note, "resolved by hand"))
		return EventResolved, nil
	})
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
	return b.action(id, func(inc *incident, now time.Time) (Event, error) {
		if !inc.State.Open() {
			return "", transitionError(inc, "change the severity of")
		}
		switch {
		case sev > inc.Severity:
			b.escalateLocked(inc, sev, "by "+by+": "+reason, now)
			inc.Timeline[len(inc.Timeline)-1].Actor = by
			return EventEscalated, nil
		case sev < inc.Severity:
			from := inc.Severity
			inc.Severity = sev
			inc.Level = sev.Level()
			inc.Lead = b.plan.Response[sev].Lead
			// The person has seen the alerts' grades: only worse evidence
			// raises the severity again.
			for _, a := range inc.alerts {
				a.waived = max(a.waived, a.ref.Severity)
			}
			if inc.needsResponse() {
				b.restartClockLocked(inc, from, now)
			} else {
				inc.Breached = false
				inc.EscalatedTo = ""
				inc.renotifyAt = time.Time{}
				if sev == None {
					inc.ResponseDue = time.Time{}
				}
			}
			b.lineLocked(inc, now, EventDowngraded, by, fmt.Sprintf("%s → %s: %s", from, sev, reason), true)
			return EventDowngraded, nil
		}
		return "", nil
	})
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
	return b.action(id, func(inc *incident, now time.Time) (Event, error) {
		if inc.State == Closed {
			return "", transitionError(inc, "add a finding to")
		}
		if len(inc.Findings) >= MaxFindings {
			return "", fmt.Errorf("%w: incident %s already holds %d findings", ErrLimit, inc.ID, MaxFindings)
		}
		f.At = cmp.Or(f.At, now)
		f.Author = cmp.Or(f.Author, by)
		inc.Findings = append(inc.Findings, f)
		b.lineLocked(inc, now, EventFinding, by, f.Hypothesis, true)
		return EventFinding, nil
	})
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
	return b.action(id, func(inc *incident, now time.Time) (Event, error) {
		if inc.State == Closed {
			return "", transitionError(inc, "add evidence to")
		}
		if len(inc.Evidence) >= MaxEvidence {
			return "", fmt.Errorf("%w: incident %s already holds %d pieces of evidence", ErrLimit, inc.ID, MaxEvidence)
		}
		e.At = cmp.Or(e.At, now)
		e.TraceIDs = slices.Clone(e.TraceIDs)
		e.Metrics = maps.Clone(e.Metrics)
		inc.Evidence = append(inc.Evidence, e)
		b.lineLocked(inc, now, EventEvidence, by, cmp.Or(e.Note, e.Kind+" evidence from "+cmp.Or(e.Source, by)), false)
		return "", nil
	})
}

// CloseWith files the report the plan requires and closes a resolved
// incident. The report is built from the timeline (see [BuildReport]); in
// fills in what only people know: root cause, action items.
func (b *Board) CloseWith(id, by string, in ReportInput) (*Report, error) {
	if err := requireActor(by); err != nil {
		return nil, err
	}
	var rep *Report
	err := b.action(id, func(inc *incident, now time.Time) (Event, error) {
		if inc.State != Resolved {
			return "", transitionError(inc, "close")
		}
		in.Author = cmp.Or(in.Author, by)
		r := BuildReport(inc.snapshot(), b.plan, in, now)
		inc.State = Closed
		inc.ClosedAt = now
		b.lineLocked(inc, now, EventClosed, by, fmt.Sprintf("%s filed", r.Kind), true)
		r.State = Closed
		r.Timeline = slices.Clone(inc.Timeline)
		inc.Report = r
		rep = r.clone()
		return EventClosed, nil
	})
	return rep, err
}

// IncidentReport builds the report on an incident as it stands now, without
// closing it: a postmortem for Fatal and Severe incidents, a report-back for
// General ones. For a closed incident it returns the filed report.
func (b *Board) IncidentReport(id string) (*Report, error) {
	now := time.Now()
	b.mu.Lock()
	inc, ok := b.incidents[id]
	if !ok {
		b.mu.Unlock()
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if inc.Report != nil {
		r := inc.Report.clone()
		b.mu.Unlock()
		return r, nil
	}
	snap := inc.snapshot()
	b.mu.Unlock()
	return BuildReport(snap, b.plan, ReportInput{}, now), nil
}

// BoardStats counts what the board has seen and what it could not deliver.
type BoardStats struct {
	Signals        int64 `json:"signals"`          // signals reported
	Invalid        int64 `json:"invalid"`          // signals dropped for an invalid kind
	AlertsDropped  int64 `json:"alerts_dropped"`   // signals dropped because WithMaxAlerts was reached
	Flaps          int64 `json:"flaps"`            // incidents that cleared within the group wait, never notified
	Alerts         int   `json:"alerts"`           // alerts tracked now
	Incidents      int   `json:"incidents"`        // incidents kept now
	Open           int   `json:"open"`             // incidents open now
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
}

// Stats returns the board's counters.
func (b *Board) Stats() BoardStats {
	s := BoardStats{
		Signals:       b.received.Load(),
		Invalid:       b.invalid.Load(),
		AlertsDropped: b.overflow.Load(),
		Flaps:         b.suppress.Load(),
	}
	for _, q := range b.queues {
		q.addStats(&s)
	}
	b.mu.Lock()
	s.Alerts = len(b.alerts)
	s.Incidents = len(b.incidents)
	for _, inc := range b.incidents {
		if inc.State.Open() {
			s.Open++
		}
	}
	b.mu.Unlock()
	return s
}
