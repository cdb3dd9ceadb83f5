package drill

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
)

// Kind is what sort of drill the plan asks for.
type Kind string

// The drills of the plan's calendar.
const (
	KindTabletop   Kind = "tabletop"    // monthly: a scenario replayed through a copy of the plan (see [Tabletop])
	KindLive       Kind = "live"        // half-yearly: faults injected into the running service
	KindFullSystem Kind = "full_system" // yearly: every group notified and coordinated
	KindRestore    Kind = "restore"     // weekly: a backup restored to a scratch target (see [RestoreDrill])
)

// Spec describes a live drill: what it tests (the hypothesis), where
// (scope), how hard (dose), when (start and a mandatory end), who takes
// part, and what the plan should do.
type Spec struct {
	// ID names the drill on the board, in its incidents and reports.
	// Required: letters, digits, '-', '_' and '.'.
	ID string `json:"id"`
	// Kind is KindLive or KindFullSystem. Default: KindLive.
	Kind Kind `json:"kind,omitempty"`
	// Hypothesis is what the team expects, in words, e.g. "the payments
	// breaker opens and the command centre is paged within 10 minutes".
	Hypothesis string `json:"hypothesis,omitempty"`
	// Scope is which calls are hit. Components or Dependencies are
	// required, and each must be covered by one of the drill's injectors.
	Scope Scope `json:"scope"`
	// Dose is what share of the calls in scope are hit over time.
	// Required: [Percent] or [Ramp].
	Dose Dose `json:"dose"`
	// Start is when injection starts. Default: when Start is called.
	Start time.Time `json:"start,omitzero"`
	// End is when the drill stops by itself at the latest. Required: a
	// drill without an end cannot be created.
	End time.Time `json:"end"`
	// MaxDuration, if set, aborts the drill this long after it started
	// even if End is later. Default: none (End alone).
	MaxDuration time.Duration `json:"max_duration,omitempty"`
	// Participants are the board's receivers that hear of the drill's
	// incidents (see [firebreak.DrillSpec]). Default: none, the usual
	// routes with "[DRILL]" titles.
	Participants []string `json:"participants,omitempty"`
	// Expect is what the plan should make of the fault.
	Expect Expect `json:"expect"`
	// SteadyState is the hypothesis on the service's health during the
	// drill: the worst burn, error ratio and p99 it may reach (zero fields
	// are not tested). It is measured with [WithSteadyState].
	SteadyState SteadyState `json:"steady_state,omitzero"`
	// AbortBurn is the burn rate of a real SLO that aborts the drill.
	// Default: [firebreak.DefaultDrillAbortBurn].
	AbortBurn float64 `json:"abort_burn,omitempty"`
	// Owner is the person who runs the drill and may halt it.
	Owner string `json:"owner,omitempty"`
}

// Expect is what the plan should do with a drill's fault.
type Expect struct {
	// Severity is the severity the drill's incident should reach, e.g.
	// Fatal for a core outage. Default: none tested.
	Severity firebreak.Severity `json:"severity,omitempty"`
	// DetectWithin is how soon after the first injected fault the board
	// should detect it. Default: 5 minutes.
	DetectWithin time.Duration `json:"detect_within,omitempty"`
}

// SteadyState is the service's health as the drill measures it (or the
// worst the hypothesis allows).
type SteadyState struct {
	Burn       float64       `json:"burn,omitempty"`        // error budget burn rate
	ErrorRatio float64       `json:"error_ratio,omitempty"` // failed share of calls, 0 to 1
	P99        time.Duration `json:"p99,omitempty"`         // 99th percentile latency
}

// DefaultDetectWithin is Expect.DetectWithin when it is zero.
const DefaultDetectWithin = 5 * time.Minute

func (s *Spec) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.ID == "" || len(s.ID) > 64 || strings.Trim(s.ID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
		add("drill: Spec.ID %q: want 1 to 64 letters, digits, '-', '_' or '.'", s.ID)
	}
	switch s.Kind {
	case "", KindLive, KindFullSystem:
	default:
		add("drill: Spec.Kind %q: a live drill is %q or %q", s.Kind, KindLive, KindFullSystem)
	}
	if err := s.Scope.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := s.Dose.validate(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case s.End.IsZero():
		errs = append(errs, fmt.Errorf("%w: Spec.End is required", ErrNoEnd))
	case !s.Start.IsZero() && !s.End.After(s.Start):
		add("drill: Spec.End %s is not after Spec.Start %s", s.End.UTC().Format(time.RFC3339), s.Start.UTC().Format(time.RFC3339))
	}
	if s.MaxDuration < 0 {
		add("drill: Spec.MaxDuration must not be negative, got %s", s.MaxDuration)
	}
	if !s.Expect.Severity.Valid() {
		add("drill: Spec.Expect.Severity %d is not a severity", int8(s.Expect.Severity))
	}
	if s.Expect.DetectWithin < 0 {
		add("drill: Spec.Expect.DetectWithin must not be negative, got %s", s.Expect.DetectWithin)
	}
	ss := s.SteadyState
	if bad(ss.Burn) || bad(ss.ErrorRatio) || ss.ErrorRatio > 1 || ss.P99 < 0 {
		add("drill: Spec.SteadyState: burn and p99 must be 0 or more, error ratio 0 to 1 (got %v, %v, %s)", ss.Burn, ss.ErrorRatio, ss.P99)
	}
	if bad(s.AbortBurn) {
		add("drill: Spec.AbortBurn must be 0 or more, got %v", s.AbortBurn)
	}
	return errors.Join(errs...)
}

func bad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) || v < 0 }

// State is where a drill is.
type State string

// Drill states.
const (
	StatePending   State = "pending"   // created, or started and waiting for Spec.Start
	StateRunning   State = "running"   // injectors armed
	StateCompleted State = "completed" // stopped at its end
	StateAborted   State = "aborted"   // stopped by its guard or a person
	StateRefused   State = "refused"   // the board refused it (see firebreak.ErrDrillRefused)
)

// Entry is one line of a drill's timeline.
type Entry struct {
	At    time.Time `json:"at"`
	Event string    `json:"event"` // "started", "armed", "step", "aborted", "ended", "refused"
	Actor string    `json:"actor,omitempty"`
	Note  string    `json:"note,omitempty"`
}

// Status is a drill's state, for the ops API.
type Status struct {
	ID          string    `json:"id"`
	Kind        Kind      `json:"kind"`
	State       State     `json:"state"`
	Scope       Scope     `json:"scope"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	EndsAt      time.Time `json:"ends_at"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
	AbortReason string    `json:"abort_reason,omitempty"`
	Injected    int64     `json:"injected"` // faults injected
	Percent     float64   `json:"percent"`  // the dose now (0 unless running)
	Timeline    []Entry   `json:"timeline"`
}

// Drill is one live drill against a [firebreak.Board]: it arms its
// injectors for the drill's scope and dose from its start to its end, and
// the board's guard (see [firebreak.Board.BeginDrill]) turns every one of
// them off at once when a real incident is detected or a real SLO burns
// past Spec.AbortBurn. It stops by itself at its end or MaxDuration, and a
// person may abort it ([Drill.Abort], or the ops API). It is safe for
// concurrent use.
type Drill struct {
	board     *firebreak.Board
	spec      Spec
	injectors []*Injector
	cfg       config
	run       *run

	startOnce sync.Once
	closeOnce sync.Once
	stop      chan string // a person or Close: the reason
	tripped   chan struct{}
	done      chan struct{}
	started   atomic.Bool

	mu       sync.Mutex // guards the fields below
	state    State
	closed   bool
	begun    time.Time // injection started
	ended    time.Time
	reason   string // why it was aborted
	timeline []Entry
	worst    SteadyState // measured
	samples  int
	err      error // why the board refused it
}

// run is what the injectors report to while armed.
type run struct {
	id      string
	firstNs atomic.Int64 // unix nanoseconds of the first injected fault
	count   atomic.Int64
	trip    atomic.Pointer[string] // the guard's reason, once
}

func (r *run) injected(_ *Injector, now time.Time) {
	r.count.Add(1)
	if r.firstNs.Load() == 0 {
		r.firstNs.CompareAndSwap(0, now.UnixNano())
	}
}

// New returns a drill of spec against board b with the given injectors,
// bound to their components by the time the drill starts. It validates the
// spec (an end is mandatory, the dose is 0–100%) and starts nothing.
func New(b *firebreak.Board, spec Spec, injectors []*Injector, opts ...Option) (*Drill, error) {
	var errs []error
	if b == nil {
		errs = append(errs, errors.New("drill: New: the board is nil"))
	}
	if err := spec.validate(); err != nil {
		errs = append(errs, err)
	}
	if len(injectors) == 0 {
		errs = append(errs, errors.New("drill: New: at least one injector is required"))
	}
	for i, in := range injectors {
		if in == nil {
			errs = append(errs, fmt.Errorf("drill: New: injector %d is nil", i))
		}
	}
	cfg, err := newConfig(opts)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	spec.Scope.Components = slices.Clone(spec.Scope.Components)
	spec.Scope.Dependencies = slices.Clone(spec.Scope.Dependencies)
	spec.Dose = slices.Clone(spec.Dose)
	spec.Participants = slices.Clone(spec.Participants)
	if spec.Kind == "" {
		spec.Kind = KindLive
	}
	if spec.Expect.DetectWithin == 0 {
		spec.Expect.DetectWithin = DefaultDetectWithin
	}
	return &Drill{
		board: b, spec: spec, injectors: slices.Clone(injectors), cfg: cfg,
		run:     &run{id: spec.ID},
		stop:    make(chan string, 1),
		tripped: make(chan struct{}, 1),
		done:    make(chan struct{}),
		state:   StatePending,
	}, nil
}

// ID returns the drill's ID.
func (d *Drill) ID() string { return d.spec.ID }

// Spec returns the drill's spec.
func (d *Drill) Spec() Spec { return d.spec }

// Start checks that every injector is bound and that the scope names only
// what they cover, then starts the drill: at once if Spec.Start has come
// (the board's refusal — production without the plan's leave, a real
// incident open — is returned here), else at Spec.Start (a refusal then
// shows in [Drill.Status] and [Drill.Err]). It returns once the drill runs
// or waits for its start. Calling it again does nothing; after Close it
// returns an error wrapping [firebreak.ErrClosed].
func (d *Drill) Start(ctx context.Context) error {
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return fmt.Errorf("drill %q: Start: %w", d.spec.ID, firebreak.ErrClosed)
	}
	if err := d.checkScope(); err != nil {
		return err
	}
	var err error
	d.startOnce.Do(func() {
		now := time.Now()
		if !d.spec.End.After(now) {
			err = fmt.Errorf("drill %q: Start: its end %s has passed", d.spec.ID, d.spec.End.UTC().Format(time.RFC3339))
			return
		}
		// Closed and started change under one lock, so that a Close
		// racing this Start either stops it here or waits for its loop.
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			err = fmt.Errorf("drill %q: Start: %w", d.spec.ID, firebreak.ErrClosed)
			return
		}
		d.started.Store(true)
		d.mu.Unlock()
		d.line(now, "started", d.spec.Owner, fmt.Sprintf("%s drill, hypothesis: %s", d.spec.Kind, cmpOr(d.spec.Hypothesis, "none stated")))
		if d.spec.Start.IsZero() || !d.spec.Start.After(now) {
			if err = d.begin(now); err != nil {
				close(d.done)
				return
			}
		}
		go d.loop()
	})
	return err
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkScope reports an unbound injector, or a scope name no injector
// covers.
func (d *Drill) checkScope() error {
	var comps, deps []string
	for _, in := range d.injectors {
		c := in.Component()
		if c.Name == "" {
			return fmt.Errorf("drill %q: injector %q is not bound to a component: put it in a pipeline or call Bind", d.spec.ID, in.name)
		}
		comps, deps = append(comps, c.Name), append(deps, c.Dependency)
	}
	for _, c := range d.spec.Scope.Components {
		if !slices.Contains(comps, c) {
			return fmt.Errorf("%w: drill %q: component %q (the injectors cover %q)", ErrUnknownScope, d.spec.ID, c, comps)
		}
	}
	for _, dep := range d.spec.Scope.Dependencies {
		if !slices.Contains(deps, dep) {
			return fmt.Errorf("%w: drill %q: dependency %q (the injectors cover %q)", ErrUnknownScope, d.spec.ID, dep, deps)
		}
	}
	return nil
}

// begin registers the drill with the board and arms the injectors.
func (d *Drill) begin(now time.Time) error {
	err := d.board.BeginDrill(firebreak.DrillSpec{
		ID: d.spec.ID, Components: d.spec.Scope.Components, Dependencies: d.spec.Scope.Dependencies,
		Participants: d.spec.Participants, End: d.spec.End, AbortBurn: d.spec.AbortBurn,
		OnAbort: d.trip,
	})
	if err != nil {
		d.mu.Lock()
		d.state, d.err, d.ended = StateRefused, err, now
		d.mu.Unlock()
		d.line(now, "refused", "firebreak", err.Error())
		return fmt.Errorf("drill %q: %w", d.spec.ID, err)
	}
	a := &arming{run: d.run, scope: &d.spec.Scope, dose: d.spec.Dose, start: now, end: d.spec.End, seed: seedOf(d.spec.ID)}
	for i, in := range d.injectors {
		if other, ok := in.arm(a); !ok {
			// One injector serves one drill at a time: another's arming
			// would take it over, and its end would disarm this one.
			for _, done := range d.injectors[:i] {
				done.disarm(a)
			}
			d.board.EndDrill(d.spec.ID)
			err := fmt.Errorf("%w: injector %q is armed by drill %q", ErrRunning, in.name, other)
			d.mu.Lock()
			d.state, d.err, d.ended = StateRefused, err, now
			d.mu.Unlock()
			d.line(now, "refused", "firebreak", err.Error())
			return fmt.Errorf("drill %q: %w", d.spec.ID, err)
		}
	}
	d.mu.Lock()
	d.state, d.begun = StateRunning, now
	d.mu.Unlock()
	d.line(now, "armed", "firebreak", fmt.Sprintf("%d injector(s) armed, %s of the calls in scope until %s",
		len(d.injectors), percentText(d.spec.Dose[0].Percent), d.spec.End.UTC().Format(time.RFC3339)))
	return nil
}

func percentText(p float64) string { return fmt.Sprintf("%g%%", p) }

// trip is the board's guard: every injector off at once, then the rest on
// the drill's goroutine. It does not block.
func (d *Drill) trip(reason string) {
	d.disarm()
	d.run.trip.CompareAndSwap(nil, &reason)
	select {
	case d.tripped <- struct{}{}:
	default:
	}
}

func (d *Drill) disarm() {
	for _, in := range d.injectors {
		if a := in.armed.Load(); a != nil && a.run == d.run {
			in.disarm(a)
		}
	}
}

// loop waits for the start, runs the drill to its end or abort, and
// records what happened.
func (d *Drill) loop() {
	defer close(d.done)
	defer d.disarm() // whatever happens, nothing stays armed
	if st := d.State(); st == StatePending {
		t := time.NewTimer(time.Until(d.spec.Start))
		select {
		case <-t.C:
			if d.begin(time.Now()) != nil {
				return
			}
		case reason := <-d.stop:
			t.Stop()
			d.finish(time.Now(), StateAborted, reason, "")
			return
		}
	}
	d.mu.Lock()
	begun := d.begun
	d.mu.Unlock()
	deadline, why := d.spec.End, ""
	if m := d.spec.MaxDuration; m > 0 && begun.Add(m).Before(deadline) {
		deadline, why = begun.Add(m), fmt.Sprintf("passed its maximum duration of %s", m)
	}
	end := time.NewTimer(time.Until(deadline))
	defer end.Stop()
	var tick <-chan time.Time
	if d.cfg.steady != nil {
		t := time.NewTicker(d.cfg.sampleEvery)
		defer t.Stop()
		tick = t.C
	}
	steps := d.stepTimer(begun)
	defer steps.Stop()
	for {
		select {
		case <-tick:
			d.sample()
		case <-steps.C:
			d.noteStep(begun)
			steps = d.stepTimer(begun)
		case <-end.C:
			if why != "" {
				d.board.AbortDrill(d.spec.ID, why)
				d.finish(time.Now(), StateAborted, why, "firebreak")
			} else {
				d.finish(time.Now(), StateCompleted, "", "")
			}
			return
		case <-d.tripped:
			d.finish(time.Now(), StateAborted, *d.run.trip.Load(), "firebreak")
			return
		case reason := <-d.stop:
			d.board.AbortDrill(d.spec.ID, reason)
			d.finish(time.Now(), StateAborted, reason, "")
			return
		}
	}
}

// stepTimer fires at the dose's next step; a stopped timer when there is
// none.
func (d *Drill) stepTimer(begun time.Time) *time.Timer {
	el := time.Since(begun)
	for _, s := range d.spec.Dose[1:] {
		if s.After > el {
			return time.NewTimer(s.After - el)
		}
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

func (d *Drill) noteStep(begun time.Time) {
	now := time.Now()
	p := float64(d.spec.Dose.at(now.Sub(begun))) / 100
	d.line(now, "step", "firebreak", fmt.Sprintf("dose now %s of the calls in scope", percentText(p)))
}

// sample measures the steady state, outside the lock; a panic in the
// user's function is logged, not fatal.
func (d *Drill) sample() {
	var s SteadyState
	func() {
		defer func() {
			if r := recover(); r != nil {
				d.cfg.logger.Error("drill: the steady-state function panicked", "drill", d.spec.ID, "panic", r)
			}
		}()
		s = d.cfg.steady()
	}()
	d.mu.Lock()
	d.samples++
	d.worst.Burn = max(d.worst.Burn, finite(s.Burn))
	d.worst.ErrorRatio = max(d.worst.ErrorRatio, finite(s.ErrorRatio))
	d.worst.P99 = max(d.worst.P99, s.P99)
	d.mu.Unlock()
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// finish disarms, tells the board, and records the end. An abort is also
// a signal on the board, in the drill's incident.
func (d *Drill) finish(now time.Time, st State, reason, actor string) {
	d.disarm()
	d.board.EndDrill(d.spec.ID)
	d.mu.Lock()
	d.state, d.ended, d.reason = st, now, reason
	d.mu.Unlock()
	if st == StateCompleted {
		d.line(now, "ended", "firebreak", "reached its end; injectors off")
		return
	}
	d.line(now, "aborted", actor, reason+"; injectors off")
	d.board.Report(d.abortSignal(true))
	d.resolveOrphans()
	d.board.Report(d.abortSignal(false))
}

// resolveOrphans resolves the drill's open incidents that hold nothing but
// the abort's record: an abort before anything was detected leaves no open
// incident behind, and the record stays on the board.
func (d *Drill) resolveOrphans() {
	for _, inc := range d.board.List(firebreak.Filter{Drill: d.spec.ID, OpenOnly: true}) {
		if slices.ContainsFunc(inc.Alerts, func(a firebreak.AlertRef) bool { return a.Kind != firebreak.KindDrillAborted }) {
			continue
		}
		if err := d.board.Resolve(inc.ID, "firebreak", "drill aborted before anything was detected: nothing to respond to"); err != nil {
			d.cfg.logger.Warn("drill: the abort's incident was not resolved", "drill", d.spec.ID, "incident", inc.ID, "error", err)
		}
	}
}

// abortSignal is the signal of an abort: it joins the drill's incident
// (same identity, same drill), where it stays on the record. It is
// reported firing, then cleared at once, so it holds no incident open (see
// resolveOrphans).
func (d *Drill) abortSignal(firing bool) firebreak.Signal {
	c := d.injectors[0].Component()
	d.mu.Lock()
	reason := d.reason
	d.mu.Unlock()
	return firebreak.Signal{Kind: firebreak.KindDrillAborted, Component: c.Name, Dependency: c.Dependency,
		Tier: c.Tier, Firing: firing, Drill: d.spec.ID, Summary: "drill aborted: " + reason}
}

func (d *Drill) line(at time.Time, ev, actor, note string) {
	d.mu.Lock()
	d.timeline = append(d.timeline, Entry{At: at, Event: ev, Actor: actor, Note: note})
	d.mu.Unlock()
}

// Abort stops the running (or waiting) drill now: every injector off at
// once. by names the person; the reason goes into the timeline and the
// abort signal.
func (d *Drill) Abort(by, reason string) error {
	if strings.TrimSpace(by) == "" {
		return errors.New("drill: Abort: the person aborting must be named")
	}
	if !d.started.Load() {
		return fmt.Errorf("drill %q: Abort: %w", d.spec.ID, ErrNotRunning)
	}
	switch d.State() {
	case StatePending, StateRunning:
	default:
		return fmt.Errorf("drill %q: Abort: %w", d.spec.ID, ErrNotRunning)
	}
	msg := fmt.Sprintf("aborted by %s", by)
	if strings.TrimSpace(reason) != "" {
		msg += ": " + reason
	}
	d.disarm()
	select {
	case d.stop <- msg:
	default:
	}
	return nil
}

// Done is closed when the drill has stopped (or was refused).
func (d *Drill) Done() <-chan struct{} { return d.done }

// State returns where the drill is.
func (d *Drill) State() State {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

// Err returns why the board refused the drill, or nil.
func (d *Drill) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// Status returns a copy of the drill's state and timeline.
func (d *Drill) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := Status{ID: d.spec.ID, Kind: d.spec.Kind, State: d.state, Scope: d.spec.Scope, StartedAt: d.begun,
		EndsAt: d.spec.End, EndedAt: d.ended, AbortReason: d.reason, Injected: d.run.count.Load(),
		Timeline: slices.Clone(d.timeline)}
	if d.state == StateRunning {
		st.Percent = float64(d.spec.Dose.at(time.Since(d.begun))) / 100
	}
	return st
}

// Close aborts the drill if it is still running and waits, within ctx, for
// it to stop. It is idempotent; Close without Start is fine.
func (d *Drill) Close(ctx context.Context) error {
	d.closeOnce.Do(func() {
		d.mu.Lock()
		d.closed = true
		d.mu.Unlock()
		d.disarm()
		select {
		case d.stop <- "closed":
		default:
		}
	})
	d.mu.Lock()
	started := d.started.Load()
	d.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("drill %q: Close: the drill did not stop: %w", d.spec.ID, ctx.Err())
	}
}
