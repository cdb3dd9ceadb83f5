package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
)

// A Checker probes one thing. Check must return when ctx is done; it returns
// nil when healthy, an error marked with [Warn] when working but degraded,
// and any other error when failing. It may call [Observe] to record a
// measurement.
type Checker interface {
	Check(ctx context.Context) error
}

// CheckFunc adapts a function to the [Checker] interface.
type CheckFunc func(ctx context.Context) error

// Check calls f(ctx).
func (f CheckFunc) Check(ctx context.Context) error { return f(ctx) }

type observationKey struct{}

type observation struct {
	mu    sync.Mutex // guards the fields below
	set   bool
	value float64
	unit  string
}

// Observe records a measurement taken by the check running on ctx, such as
// free bytes or a latency; it becomes the check's observedValue and
// observedUnit in application/health+json (shown only to authorised
// callers) and in inspections. Outside a check's context it does nothing.
func Observe(ctx context.Context, value float64, unit string) {
	if o, ok := ctx.Value(observationKey{}).(*observation); ok {
		o.mu.Lock()
		o.set, o.value, o.unit = true, value, unit
		o.mu.Unlock()
	}
}

func (o *observation) load() (bool, float64, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.set, o.value, o.unit
}

// CheckState is a snapshot of one check's latest result.
type CheckState struct {
	Name     string
	Groups   Group
	Critical bool
	// Status is the check's status now: unknown before the first result or
	// once the latest result is stale.
	Status Status
	// Err is the latest run's error (nil when it passed). It may hold
	// internal detail: do not show it to unauthorised users.
	Err error
	// CheckedAt is when the latest run finished; zero before the first.
	CheckedAt time.Time
	// Since is when the check entered its current status.
	Since time.Time
	// Duration of the latest run.
	Duration time.Duration
	// ConsecutiveFailures counts failed runs since the last passing one.
	ConsecutiveFailures int
	// Runs counts scheduled runs, including skipped ones.
	Runs uint64
	// Abandoned counts runs that overran their timeout and were abandoned.
	Abandoned uint64
	// Observed says whether the latest run called [Observe]; Value and
	// Unit are what it recorded.
	Observed bool
	Value    float64
	Unit     string
}

// Registry holds a component's checks, runs them in the background and
// serves their cached results. Create it with [New], give it its component
// with [Registry.Bind], add checks with [Registry.Register], then call
// [Registry.Start]; [Registry.Close] stops it. It is safe for concurrent use.
type Registry struct {
	binding firebreak.Binding // ServiceWide: the registry's component
	baseLog *slog.Logger
	log     atomic.Pointer[slog.Logger] // baseLog with the bound component
	auth    firebreak.Authorizer
	inst    *instruments

	snap atomic.Pointer[snapshot] // read lock-free by handlers

	mu     sync.Mutex // guards state, snapshot replacement, ctx, cancel, metricReg
	state  int
	ctx    context.Context
	cancel context.CancelFunc

	loops        sync.WaitGroup // one per check loop
	runs         sync.WaitGroup // one per run goroutine, abandoned ones included
	events       chan event
	dispatchDone chan struct{}
	stopped      chan struct{} // closed once every goroutine has returned
	dispatchGoid atomic.Uint64 // the dispatcher goroutine's id
	dropped      atomic.Uint64

	recovered   atomic.Uint64              // panics recovered in user callbacks
	panicLogged [callbackKinds]atomic.Bool // the first panic of each kind was logged

	draining         atomic.Bool
	startupLatched   atomic.Bool
	started          atomic.Bool // Start has run; read on the probes' hot path
	notStartedLogged atomic.Bool
}

const (
	stateNew = iota
	stateStarted
	stateClosed
)

type snapshot struct {
	all    []*check
	byName map[string]*check
	groups [3][]*check // indexed by groupIndex
}

func groupIndex(g Group) int {
	switch g {
	case Startup:
		return 0
	case Liveness:
		return 1
	}
	return 2
}

// members returns the checks in g: one group, or any of a combination.
func (s *snapshot) members(g Group) []*check {
	switch g {
	case Startup, Liveness, Readiness:
		return s.groups[groupIndex(g)]
	case allGroups:
		return s.all
	}
	var out []*check
	for _, c := range s.all {
		if c.cfg.groups&g != 0 {
			out = append(out, c)
		}
	}
	return out
}

type check struct {
	name    string
	checker Checker
	cfg     checkConfig
	attrs   checkAttrs

	cur        atomic.Pointer[result]
	running    atomic.Bool   // a scheduled run is outstanding, possibly abandoned
	abandoned  atomic.Uint64 // runs left behind at their timeout
	stuck      atomic.Bool   // the outstanding scheduled run was abandoned
	inspecting atomic.Bool   // an inspection run is outstanding

	// Ids of the goroutines running this check's user code, so Close can
	// tell it is called from one of them. Ids are never reused.
	loopGoid, runGoid, inspectGoid atomic.Uint64

	// first is closed once the first run's result is recorded, for Start.
	first chan struct{}

	// Runner state, touched only by the check's loop goroutine.
	recorded  bool   // first is closed
	state     Status // StatusUnknown, StatusUp or StatusDown
	fails     int
	successes int
	runs      uint64
	lastErr   string
	// Panic texts whose stack was logged since the check last passed, at
	// most maxPanicStacks, so a check that panics every run logs its stack
	// once, and one whose panic value keeps changing cannot flood the log.
	panicsLogged []string
}

const maxPanicStacks = 4

type result struct {
	status    Status
	checkedAt time.Time
	since     time.Time
	duration  time.Duration
	err       error
	errText   string // err.Error(), computed once on the run goroutine
	fails     int
	runs      uint64
	observed  bool
	value     float64
	unit      string
}

// New returns a registry. It starts no goroutines. Until [Registry.Bind]
// gives it a component, the signals of checks without [ForComponent] go to
// [firebreak.Discard].
func New(opts ...Option) (*Registry, error) {
	cfg := config{eventBuffer: DefaultEventBuffer}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("health: New: option %d is nil", i)
		}
		o.apply(&cfg)
	}
	if cfg.eventBuffer < 1 || cfg.eventBuffer > maxEventBuffer {
		return nil, fmt.Errorf("health: New: WithEventBuffer(%d): must be from 1 to %d", cfg.eventBuffer, maxEventBuffer)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if cfg.authorizer == nil {
		cfg.authorizer = denyAll{}
	}
	inst, err := newInstruments(cfg.meterProvider)
	if err != nil {
		return nil, err
	}
	r := &Registry{
		binding:      firebreak.Binding{ServiceWide: true},
		baseLog:      cfg.logger,
		auth:         cfg.authorizer,
		inst:         inst,
		events:       make(chan event, cfg.eventBuffer),
		dispatchDone: make(chan struct{}),
		stopped:      make(chan struct{}),
	}
	r.log.Store(cfg.logger)
	r.snap.Store(&snapshot{byName: map[string]*check{}})
	return r, nil
}

// Bind gives the registry its component: the service whose health it
// serves. Its Name and Tier label the signals of every check registered
// without [ForComponent], and its Reporter receives them (nil means
// [firebreak.Discard]); its Name is the serviceId of application/health+json
// and is logged with every line. The registry is service-wide: Bind ignores
// c.Dependency. It follows the rule of [firebreak.Binding]: the first Bind
// fixes the component, binding again to the same Name and Tier does
// nothing, and another one is an [*firebreak.AlreadyBoundError]. An unbound
// registry works and reports to [firebreak.Discard].
func (r *Registry) Bind(c firebreak.Component) error {
	first, err := r.binding.Bind("health registry", c)
	if first {
		r.log.Store(r.baseLog.With("component", c.Name))
	}
	return err
}

func (r *Registry) logger() *slog.Logger { return r.log.Load() }

// Register adds a check. Names must be unique, 1 to 128 characters of
// letters, digits, '.', '_', '-' and '/', and must not start with '/'. A
// check may be registered after Start; it runs at once.
func (r *Registry) Register(name string, c Checker, opts ...CheckOption) error {
	cfg := checkConfig{
		groups:           Readiness,
		critical:         true,
		interval:         DefaultInterval,
		timeout:          DefaultTimeout,
		failureThreshold: DefaultFailureThreshold,
		successThreshold: DefaultSuccessThreshold,
		componentType:    "component",
	}
	for i, o := range opts {
		if o == nil {
			return fmt.Errorf("health: check %q: option %d is nil", name, i)
		}
		o.applyCheck(&cfg)
	}
	if err := validName(name); err != nil {
		return err
	}
	if c == nil {
		return fmt.Errorf("health: check %q: Checker is nil", name)
	}
	if v, ok := c.(interface{ validate() error }); ok {
		if err := v.validate(); err != nil {
			return fmt.Errorf("health: check %q: %w", name, err)
		}
	}
	if cfg.staleAfter == 0 {
		cfg.staleAfter = addSat(addSat(cfg.interval, cfg.interval), cfg.timeout)
	}
	if err := cfg.validate(name); err != nil {
		return err
	}
	ch := &check{name: name, checker: c, cfg: cfg, attrs: r.inst.attrsFor(name), first: make(chan struct{})}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == stateClosed {
		return errClosed
	}
	old := r.snap.Load()
	if _, dup := old.byName[name]; dup {
		return fmt.Errorf("health: check %q is already registered", name)
	}
	next := &snapshot{all: append(old.all[:len(old.all):len(old.all)], ch), byName: make(map[string]*check, len(old.byName)+1)}
	for k, v := range old.byName {
		next.byName[k] = v
	}
	next.byName[name] = ch
	for i, g := range [...]Group{Startup, Liveness, Readiness} {
		next.groups[i] = old.groups[i][:len(old.groups[i]):len(old.groups[i])]
		if cfg.groups&g != 0 {
			next.groups[i] = append(next.groups[i], ch)
		}
	}
	r.snap.Store(next)
	if r.state == stateStarted {
		r.loops.Add(1)
		go r.loop(ch)
	}
	return nil
}

// addSat adds two durations of which neither is negative (or at least
// one is), saturating at the largest Duration instead of wrapping around:
// a huge interval must not make a tiny stale age.
func addSat(a, b time.Duration) time.Duration {
	if a > 0 && b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

func validName(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("health: check name %q must be 1 to 128 characters", name)
	}
	if name[0] == '/' {
		return fmt.Errorf("health: check name %q must not start with '/'", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '/') {
			return fmt.Errorf("health: check name %q: character %q not allowed (want letters, digits, '.', '_', '-' or '/')", name, c)
		}
	}
	return nil
}

func (c *checkConfig) validate(name string) error {
	var errs []error
	if c.groups == 0 || c.groups&^allGroups != 0 {
		errs = append(errs, fmt.Errorf("InGroups: %d is not a combination of Startup, Liveness and Readiness", uint8(c.groups)))
	}
	if c.interval <= 0 {
		errs = append(errs, fmt.Errorf("WithInterval(%v): must be positive", c.interval))
	}
	if c.timeout <= 0 || c.timeout > c.interval {
		errs = append(errs, fmt.Errorf("WithTimeout(%v): must be positive and at most the interval %v", c.timeout, c.interval))
	}
	if c.failureThreshold < 1 {
		errs = append(errs, fmt.Errorf("WithFailureThreshold(%d): must be at least 1", c.failureThreshold))
	}
	if c.successThreshold < 1 {
		errs = append(errs, fmt.Errorf("WithSuccessThreshold(%d): must be at least 1", c.successThreshold))
	}
	if least := addSat(c.interval, c.timeout); c.staleAfter < least {
		errs = append(errs, fmt.Errorf("WithStaleAfter(%v): must be at least the interval plus the timeout (%v)", c.staleAfter, least))
	}
	if strings.Contains(c.measurement, ":") {
		errs = append(errs, fmt.Errorf("WithMeasurement(%q): must not contain ':'", c.measurement))
	}
	if c.componentType == "" {
		errs = append(errs, errors.New("WithComponentType: must not be empty"))
	}
	if c.comp != nil {
		if err := c.comp.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("ForComponent: %w", err))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("health: check %q: %w", name, errors.Join(errs...))
}

// Start starts the background runner — every check runs at once and then
// once per interval, whatever the request rate — and waits, until ctx is
// done, for the first result of every check registered so far, so that
// readiness is known when it returns. If ctx ends first, Start returns an
// error naming the checks still without a result, wrapping ctx's error; the
// runner keeps running and the probes answer from the results as they come.
// Calling Start again does nothing. After Close it returns an error
// matching [firebreak.ErrClosed].
func (r *Registry) Start(ctx context.Context) error {
	r.mu.Lock()
	switch r.state {
	case stateStarted:
		r.mu.Unlock()
		return nil
	case stateClosed:
		r.mu.Unlock()
		return errClosed
	}
	r.state = stateStarted
	r.started.Store(true)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go r.dispatch()
	checks := r.snap.Load().all
	for _, c := range checks {
		r.loops.Add(1)
		go r.loop(c)
	}
	stopping := r.ctx
	r.mu.Unlock()
	// The meter provider and the logger are user code: called outside the
	// lock. A Close racing with this is fine: unregister runs after every
	// goroutine has stopped, and the callback only reads the snapshot.
	var err error
	r.guard(cbMeter, func() { err = r.inst.register(r) })
	if err != nil {
		r.logger().Warn("health: metrics callback not registered", "error", err)
	}
	for i, c := range checks {
		select {
		case <-c.first:
			continue
		case <-stopping.Done():
			return fmt.Errorf("health: Start: closed before the first round finished: %w", errClosed)
		case <-ctx.Done():
		}
		var waiting []string
		for _, c := range checks[i:] {
			select {
			case <-c.first:
			default:
				waiting = append(waiting, c.name)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		return fmt.Errorf("health: Start: no first result yet from %s: %w", formatQuoted(waiting), context.Cause(ctx))
	}
	return nil
}

// Close stops the runner and waits, until ctx is done, for its goroutines,
// including runs that overran their timeout (their contexts are cancelled;
// a check that ignores its context delays Close until it returns).
// Transitions already queued are delivered to the logger and the Reporter
// first. When ctx ends first, Close returns an error that names the checks
// still running and the transitions not yet delivered, wrapping ctx's
// error; the goroutines finish on their own, and a later Close waits for
// them again. Called from one of the registry's own goroutines (inside a
// check, the Reporter or the logger), Close stops the registry and returns
// [ErrCloseInCallback] without waiting. Close is idempotent, and Close
// without Start is fine. Results stay readable and go stale.
func (r *Registry) Close(ctx context.Context) error {
	r.mu.Lock()
	prev := r.state
	r.state = stateClosed
	if prev == stateStarted {
		r.cancel()
		go r.stop()
	}
	if prev == stateNew {
		close(r.stopped) // nothing ever ran
	}
	r.mu.Unlock()
	select {
	case <-r.stopped:
		return nil
	default:
	}
	if r.calledFromOwnGoroutine() {
		return ErrCloseInCallback
	}
	select {
	case <-r.stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("health: Close: %s: %w", r.unfinished(), context.Cause(ctx))
	}
}

// unfinished says what a Close that gave up leaves behind: the checks whose
// runs have not returned and the transitions not yet delivered.
func (r *Registry) unfinished() string {
	var running []string
	for _, c := range r.snap.Load().all {
		if c.running.Load() || c.inspecting.Load() {
			running = append(running, c.name)
		}
	}
	var parts []string
	if len(running) > 0 {
		parts = append(parts, "runs of "+formatQuoted(running)+" have not returned")
	}
	if n := len(r.events); n > 0 {
		parts = append(parts, fmt.Sprintf("%d transitions not delivered", n))
	}
	if len(parts) == 0 {
		return "goroutines still stopping"
	}
	return strings.Join(parts, ", ")
}

// stop waits for the goroutines of a started registry, in order: loops
// (already cancelled), the dispatcher (after it delivers what is queued),
// then every run, abandoned ones included.
func (r *Registry) stop() {
	r.loops.Wait()
	close(r.events)
	<-r.dispatchDone
	r.runs.Wait()
	r.guard(cbMeter, r.inst.unregister)
	close(r.stopped)
}

// calledFromOwnGoroutine reports whether the caller runs on one of the
// registry's goroutines that run user code: a check's loop, run or
// inspection, or the dispatcher.
func (r *Registry) calledFromOwnGoroutine() bool {
	g := goid()
	if g == 0 {
		return false
	}
	if r.dispatchGoid.Load() == g {
		return true
	}
	for _, c := range r.snap.Load().all {
		if c.loopGoid.Load() == g || c.runGoid.Load() == g || c.inspectGoid.Load() == g {
			return true
		}
	}
	return false
}

// RecoveredPanics returns how many panics of user code other than checks —
// the Reporter, the logger's handler, the MeterProvider's instruments — were
// recovered on the registry's background goroutines. The first of each kind
// is logged with its stack; the goroutines keep running. (A check's own
// panic is a failed run; see [PanicError].)
func (r *Registry) RecoveredPanics() uint64 { return r.recovered.Load() }

// Drain makes readiness fail from now on, so load balancers and Kubernetes
// stop sending traffic while in-flight requests finish: call it first on
// shutdown, wait for the probes to notice, then shut the server down and
// Close. Liveness is unaffected. Drain is idempotent.
func (r *Registry) Drain() {
	if !r.draining.Swap(true) {
		r.logger().Info("health: draining; readiness now fails")
	}
}

// Draining reports whether [Registry.Drain] was called.
func (r *Registry) Draining() bool { return r.draining.Load() }

// Dropped returns how many transitions were dropped because the event
// buffer was full (see [WithEventBuffer]).
func (r *Registry) Dropped() uint64 { return r.dropped.Load() }

// Status returns the aggregate status of a group ([Startup], [Liveness],
// [Readiness]) or of a combination such as Liveness|Readiness (the checks in
// any of them). While draining, readiness and any combination including it
// are down.
func (r *Registry) Status(g Group) Status {
	st, _ := r.groupStatus(g, time.Now(), nil)
	return st
}

// State returns the latest state of the named check.
func (r *Registry) State(name string) (CheckState, bool) {
	c, ok := r.snap.Load().byName[name]
	if !ok {
		return CheckState{}, false
	}
	return c.snapshot(time.Now()), true
}

// States returns the latest state of every check, in registration order.
func (r *Registry) States() []CheckState {
	now := time.Now()
	all := r.snap.Load().all
	out := make([]CheckState, len(all))
	for i, c := range all {
		out[i] = c.snapshot(now)
	}
	return out
}

func (c *check) snapshot(now time.Time) CheckState {
	st, res := c.statusAt(now)
	s := CheckState{Name: c.name, Groups: c.cfg.groups, Critical: c.cfg.critical, Status: st, Abandoned: c.abandoned.Load()}
	if res != nil {
		s.Err, s.CheckedAt, s.Since, s.Duration = res.err, res.checkedAt, res.since, res.duration
		s.ConsecutiveFailures, s.Runs = res.fails, res.runs
		s.Observed, s.Value, s.Unit = res.observed, res.value, res.unit
	}
	return s
}

// statusAt returns the check's status at now: unknown without a result or
// with a stale one.
func (c *check) statusAt(now time.Time) (Status, *result) {
	res := c.cur.Load()
	if res == nil || now.Sub(res.checkedAt) > c.cfg.staleAfter {
		return StatusUnknown, res
	}
	return res.status, res
}

// groupStatus aggregates a group; skip, if non-nil, says which checks are
// excluded.
func (r *Registry) groupStatus(g Group, now time.Time, skip func(*check) bool) (Status, *snapshot) {
	s := r.snap.Load()
	if g&Readiness != 0 && r.draining.Load() {
		return StatusDown, s
	}
	var agg aggregate
	for _, c := range s.members(g) {
		if skip != nil && skip(c) {
			continue
		}
		st, _ := c.statusAt(now)
		agg.add(st, c.cfg.critical)
	}
	return agg.status(), s
}

func (r *Registry) loop(c *check) {
	defer r.loops.Done()
	c.loopGoid.Store(goid())
	t := time.NewTicker(c.cfg.interval)
	defer t.Stop()
	for {
		r.guard(cbRunner, func() { r.runScheduled(c) })
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runScheduled runs c once on its own context, detached from any request,
// with the check's deadline, and records the outcome.
func (r *Registry) runScheduled(c *check) {
	if r.ctx.Err() != nil {
		return
	}
	start := time.Now()
	if c.running.Load() {
		r.record(c, 0, outcome{ErrStillRunning, ErrStillRunning.Error()}, resultSkipped, nil)
		return
	}
	ctx, cancel := context.WithTimeout(r.ctx, c.cfg.timeout)
	defer cancel()
	obs := &observation{}
	ctx = context.WithValue(ctx, observationKey{}, obs)
	done := make(chan outcome, 1) // buffered: an abandoned run never blocks on it
	c.running.Store(true)
	r.runs.Add(1)
	go func() {
		defer r.runs.Done()
		c.runGoid.Store(goid())
		text, err := safeCheck(ctx, c.name, c.checker)
		c.runGoid.Store(0)
		c.running.Store(false)
		c.stuck.Store(false)
		done <- outcome{err, text}
	}()
	var out outcome
	kind := resultPass
	select {
	case out = <-done:
	case <-ctx.Done():
		select {
		case out = <-done: // returned right at the deadline
		default:
			c.abandoned.Add(1)
			c.stuck.Store(true)
			if !c.running.Load() { // returned meanwhile: not stuck after all
				c.stuck.Store(false)
			}
			out.err = fmt.Errorf("%w after %v (run abandoned)", ErrTimeout, c.cfg.timeout)
			out.text = out.err.Error()
			kind = resultTimeout
		}
	}
	if r.ctx.Err() != nil {
		return // closing: a cancelled run says nothing about the dependency
	}
	if kind != resultTimeout && out.err != nil && ctx.Err() == context.DeadlineExceeded &&
		!errors.Is(out.err, ErrPanic) && errors.Is(out.err, context.DeadlineExceeded) {
		out.err = fmt.Errorf("%w after %v: %w", ErrTimeout, c.cfg.timeout, out.err)
		out.text = fmt.Sprintf("%v after %v: %s", ErrTimeout, c.cfg.timeout, out.text)
		kind = resultTimeout
	}
	r.record(c, time.Since(start), out, kind, obs)
}

// outcome is a run's error and its text.
type outcome struct {
	err  error
	text string
}

// Run results, as the "health.result" metric attribute.
const (
	resultPass    = "pass"
	resultWarn    = "warn"
	resultFail    = "fail"
	resultTimeout = "timeout"
	resultSkipped = "skipped"
)

// record applies one run's outcome to the thresholds, publishes the new
// result and queues transitions. Only the check's loop goroutine calls it.
func (r *Registry) record(c *check, dur time.Duration, out outcome, kind string, obs *observation) {
	now := time.Now()
	err := out.err
	var pe *PanicError
	panicked := errors.As(err, &pe)
	pass := err == nil || !panicked && errors.Is(err, ErrWarning)
	switch {
	case kind == resultPass && err == nil:
	case kind == resultPass && pass:
		kind = resultWarn
	case kind == resultPass:
		kind = resultFail
	}
	c.runs++
	if pass {
		c.successes++
		c.fails = 0
	} else {
		c.fails++
		c.successes = 0
	}
	old := c.state
	switch {
	case !pass && c.state != StatusDown && c.fails >= c.cfg.failureThreshold:
		c.state = StatusDown
	case pass && c.state != StatusUp && c.successes >= c.cfg.successThreshold:
		c.state = StatusUp
	}
	status := c.state
	if status == StatusUp && pass && err != nil {
		status = StatusDegraded
	}
	prev := c.cur.Load()
	since := now
	if prev != nil && prev.status == status {
		since = prev.since
	}
	res := &result{status: status, checkedAt: now, since: since, duration: dur, err: err, errText: out.text, fails: c.fails, runs: c.runs}
	if obs != nil {
		res.observed, res.value, res.unit = obs.load()
	}
	c.cur.Store(res)
	if !c.recorded {
		c.recorded = true
		close(c.first)
	}
	r.guard(cbMeter, func() { r.inst.recordRun(c, kind, dur) })

	if pass {
		c.panicsLogged = c.panicsLogged[:0]
	} else if panicked && len(c.panicsLogged) < maxPanicStacks && !slices.Contains(c.panicsLogged, out.text) {
		// The stack goes to the log once per distinct panic, apart from
		// the error line, which dedupes on the short text below.
		c.panicsLogged = append(c.panicsLogged, out.text)
		r.queue(event{kind: eventPanic, check: c, text: out.text, stack: pe.Stack, at: now})
	}

	var ev event
	switch {
	case old != StatusDown && c.state == StatusDown:
		ev = event{kind: eventDown, check: c, text: out.text, fails: c.fails, at: now}
	case old == StatusDown && c.state == StatusUp:
		var downSince time.Time
		if prev != nil {
			downSince = prev.since
		}
		ev = event{kind: eventUp, check: c, at: now, downSince: downSince}
	case err != nil:
		if out.text == c.lastErr {
			return
		}
		ev = event{kind: eventFailure, check: c, text: out.text, fails: c.fails, at: now, warning: pass}
	default:
		c.lastErr = ""
		return
	}
	c.lastErr = out.text
	r.queue(ev)
}

// queue hands ev to the dispatcher without blocking; a full queue drops it
// and counts the drop.
func (r *Registry) queue(ev event) {
	select {
	case r.events <- ev:
	default:
		r.dropped.Add(1)
	}
}

type eventKind uint8

const (
	eventDown eventKind = iota + 1
	eventUp
	eventFailure
	eventPanic
)

type event struct {
	kind      eventKind
	check     *check
	text      string // the run's error text
	stack     []byte // eventPanic only
	fails     int
	warning   bool
	at        time.Time
	downSince time.Time
}

// dispatch delivers transitions to the logger and the Reporter, off the
// runner and outside every lock, so a slow reporter delays nothing but
// other reports.
// A panic in the logger or the Reporter is recovered (see
// [Registry.RecoveredPanics]); the dispatcher goes on with the next event.
func (r *Registry) dispatch() {
	defer close(r.dispatchDone)
	r.dispatchGoid.Store(goid())
	for ev := range r.events {
		r.deliver(ev)
	}
}

func (r *Registry) deliver(ev event) {
	c := ev.check
	r.guard(cbLogger, func() {
		switch ev.kind {
		case eventPanic:
			r.logger().Error("health: check panicked", "check", c.name, "error", ev.text, "stack", string(ev.stack))
		case eventFailure:
			level := slog.LevelWarn
			if ev.warning {
				level = slog.LevelInfo
			}
			r.logger().Log(context.Background(), level, "health: check failing", "check", c.name, "consecutive_failures", ev.fails, "error", ev.text)
		case eventDown:
			r.logger().Error("health: check down", "check", c.name, "critical", c.cfg.critical, "consecutive_failures", ev.fails, "error", ev.text)
		case eventUp:
			r.logger().Info("health: check up again", "check", c.name, "down_for", ev.at.Sub(ev.downSince))
		}
	})
	if ev.kind != eventDown && ev.kind != eventUp {
		return
	}
	// A check for a component reports as that component, to its Reporter
	// (the registry's when it has none); any other as the registry.
	comp := r.binding.Component()
	if c.cfg.comp != nil {
		rep := comp.Reporter
		comp = *c.cfg.comp
		if comp.Reporter == nil {
			comp.Reporter = rep
		}
	}
	s := comp.Signal(firebreak.KindHealthFailed, ev.kind == eventDown)
	s.Value = float64(ev.fails)
	s.Labels = map[string]string{"check": c.name, "critical": fmt.Sprint(c.cfg.critical)}
	s.Time = ev.at
	if s.Firing {
		s.Summary = fmt.Sprintf("health check %q down after %d consecutive failures: %s", c.name, ev.fails, oneLine(ev.text))
		s.Metrics = map[string]float64{"consecutive_failures": float64(ev.fails)}
	} else {
		s.Summary = fmt.Sprintf("health check %q up again after %v", c.name, ev.at.Sub(ev.downSince))
	}
	r.guard(cbReporter, func() { comp.Reporter.Report(s) })
}
