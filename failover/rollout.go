package failover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/firebreak-go/firebreak"
)

// VersionStatus is what is known about a version.
type VersionStatus string

// The version statuses.
const (
	StatusPending VersionStatus = "pending" // deployed, not yet judged
	StatusHeld    VersionStatus = "held"    // analysis inconclusive: waiting for a person
	StatusGood    VersionStatus = "good"    // passed analysis (or declared stable)
	StatusBad     VersionStatus = "bad"     // failed analysis; never rolled forward to again
)

// Version is one deployed version of the service (a build, a config
// revision, a model).
type Version struct {
	ID         string        // e.g. "v1.5.0" or a commit hash
	Status     VersionStatus // what analysis (or a person) decided
	Note       string        // what the version changed, for people
	DeployedAt time.Time     // when Deploy recorded it
	DecidedAt  time.Time     // when Status last changed from pending
}

// Registry records versions: the current one, the last known good one and
// the history, newest last. Build one with [NewRegistry]; it is safe for
// concurrent use.
type Registry struct {
	mu       sync.Mutex // guards versions and current
	versions []Version  // oldest first
	current  int        // index into versions
}

const historyLimit = 50

// NewRegistry returns a registry whose current and last known good version is
// stable.
func NewRegistry(stable string) (*Registry, error) {
	if stable == "" {
		return nil, errors.New("failover: NewRegistry: stable version is empty")
	}
	now := time.Now()
	return &Registry{versions: []Version{{ID: stable, Status: StatusGood, Note: "initial stable version", DeployedAt: now, DecidedAt: now}}}, nil
}

// Deploy records a new current version, pending analysis. Deploying a version
// marked bad, or the current one again, is an error.
func (r *Registry) Deploy(id, note string) error {
	if id == "" {
		return errors.New("failover: Registry.Deploy: id is empty")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.versions[r.current].ID == id {
		return fmt.Errorf("failover: Registry.Deploy: %q is already current", id)
	}
	for _, v := range r.versions {
		if v.ID == id && v.Status == StatusBad {
			return fmt.Errorf("failover: Registry.Deploy: %q was marked bad", id)
		}
	}
	r.versions = append(r.versions, Version{ID: id, Status: StatusPending, Note: note, DeployedAt: time.Now()})
	r.current = len(r.versions) - 1
	if len(r.versions) > historyLimit {
		r.trim()
	}
	return nil
}

// trim drops the oldest version that is neither current nor the last known
// good one. r.mu must be held.
func (r *Registry) trim() {
	lkg := r.lastGood(-1)
	for i := range r.versions {
		if i != r.current && i != lkg {
			r.versions = slices.Delete(r.versions, i, i+1)
			if r.current > i {
				r.current--
			}
			return
		}
	}
}

// lastGood returns the index of the newest good version other than skip, or
// -1. r.mu must be held.
func (r *Registry) lastGood(skip int) int {
	for i := len(r.versions) - 1; i >= 0; i-- {
		if i != skip && r.versions[i].Status == StatusGood {
			return i
		}
	}
	return -1
}

// Current returns the current version.
func (r *Registry) Current() Version {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.versions[r.current]
}

// LastKnownGood returns the newest version that passed analysis.
func (r *Registry) LastKnownGood() (Version, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := r.lastGood(-1); i >= 0 {
		return r.versions[i], true
	}
	return Version{}, false
}

// History returns the versions, oldest first.
func (r *Registry) History() []Version {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.versions)
}

// Mark sets a version's status by hand, e.g. to promote a held version
// after a person looked at it.
func (r *Registry) Mark(id string, s VersionStatus) error {
	switch s {
	case StatusPending, StatusHeld, StatusGood, StatusBad:
	default:
		return fmt.Errorf("failover: Registry.Mark: status %q is not pending, held, good or bad", s)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.versions {
		if r.versions[i].ID == id {
			r.versions[i].Status, r.versions[i].DecidedAt = s, time.Now()
			return nil
		}
	}
	return fmt.Errorf("failover: Registry.Mark: unknown version %q", id)
}

// stableFor returns the version to roll back to from id: the newest good
// version other than id.
func (r *Registry) stableFor(id string) (Version, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	skip := slices.IndexFunc(r.versions, func(v Version) bool { return v.ID == id })
	if i := r.lastGood(skip); i >= 0 {
		return r.versions[i], true
	}
	return Version{}, false
}

// makeCurrent makes id current again (after a rollback).
func (r *Registry) makeCurrent(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.IndexFunc(r.versions, func(v Version) bool { return v.ID == id }); i >= 0 {
		r.current = i
	}
}

// RollbackHook performs one step of a rollback from the failed version to
// the stable one: redeploy, flip a feature flag, move traffic. It should
// honour ctx and be safe to call again after a failure.
type RollbackHook func(ctx context.Context, from, to Version) error

// Exposure says how much traffic the analysed version had: it is the
// "phase" label of rollback signals, which the plan grades differently.
type Exposure string

// The exposures.
const (
	ExposureCanary   Exposure = "canary"   // a share of traffic: a rollback is a General matter
	ExposurePromoted Exposure = "promoted" // all traffic: a rollback is Severe
)

// Decision is what a [Rollout] did after an analysis.
type Decision string

// The decisions.
const (
	DecisionPromote        Decision = "promote"         // analysis successful: now the last known good version
	DecisionHold           Decision = "hold"            // inconclusive: waiting for a person
	DecisionRollback       Decision = "rollback"        // failed: rolled back to the stable version
	DecisionRollbackFailed Decision = "rollback_failed" // failed, and the rollback failed or had no target
)

// Outcome reports an analysis and what followed.
type Outcome struct {
	Decision Decision
	Version  Version // the analysed version, with its new status
	Target   Version // the version rolled back to, if any
	Analysis AnalysisResult
	Err      error // why the rollback failed, for DecisionRollbackFailed
}

// ErrAnalysisRunning is returned by [Rollout.Analyze] and [Rollout.Rollback]
// while an analysis (or a rollback) of the same rollout runs.
var ErrAnalysisRunning = errors.New("failover: an analysis is already running")

// Rollout judges the current version of a [Registry] with an [Analysis] and
// acts on the result, as Argo Rollouts does: a successful analysis promotes
// the version to last known good; a failed one (or one that ended in error)
// marks it bad and runs the rollback hooks, reporting a
// [firebreak.KindRollback] signal that records the rollback on the incident —
// or, if a hook keeps failing or there is no stable version, a
// [firebreak.KindRollbackFailed] signal, which escalates; an inconclusive
// analysis holds the version and reports [firebreak.KindAnalysisInconclusive]
// for a person to decide. A later successful analysis clears these signals.
//
// Build one with [NewRollout]; it is safe for concurrent use. Signals go to
// the component given with [WithComponent].
type Rollout struct {
	b        binding
	m        meter
	reg      *Registry
	analysis *Analysis
	hooks    []namedHook
	attempts int
	backoff  time.Duration

	busy atomic.Bool

	mu    sync.Mutex // guards fired
	fired map[firebreak.Kind]map[string]string
}

// NewRollout returns a rollout controller for reg judged by analysis. Hooks
// are tried 3 times with a 1s backoff unless [WithHookRetries] says otherwise.
func NewRollout(reg *Registry, analysis *Analysis, opts ...RolloutOption) (*Rollout, error) {
	c := rolloutConfig{hookAttempts: 3, hookBackoff: time.Second}
	for _, o := range opts {
		if o != nil {
			o.applyRollout(&c)
		}
	}
	if c.hookAttempts == 0 {
		c.hookAttempts = 3
	}
	if c.hookBackoff == 0 {
		c.hookBackoff = time.Second
	}
	var errs []error
	if reg == nil {
		errs = append(errs, errors.New("failover: NewRollout: registry is nil"))
	}
	if analysis == nil {
		errs = append(errs, errors.New("failover: NewRollout: analysis is nil"))
	}
	if c.hookAttempts < 0 || c.hookBackoff < 0 {
		errs = append(errs, fmt.Errorf("failover: NewRollout: WithHookRetries(%d, %v) must be positive", c.hookAttempts, c.hookBackoff))
	}
	for i, h := range c.hooks {
		if h.name == "" || h.fn == nil {
			errs = append(errs, fmt.Errorf("failover: NewRollout: rollback hook %d needs a name and a function", i))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := newMeter("rollout", c.meterProvider)
	if err != nil {
		return nil, err
	}
	r := &Rollout{m: m, reg: reg, analysis: analysis, hooks: c.hooks, attempts: c.hookAttempts, backoff: c.hookBackoff, fired: map[firebreak.Kind]map[string]string{}}
	r.b.init(c.component)
	return r, nil
}

// Registry returns the registry the rollout acts on.
func (r *Rollout) Registry() *Registry { return r.reg }

// Analyze runs the analysis on the current version and acts on the result.
// It blocks for as long as the analysis takes. It returns an error, without
// acting, if ctx ends first or another analysis is running.
func (r *Rollout) Analyze(ctx context.Context, exposure Exposure) (Outcome, error) {
	if !r.busy.CompareAndSwap(false, true) {
		return Outcome{}, ErrAnalysisRunning
	}
	defer r.busy.Store(false)
	v := r.reg.Current()
	res, err := r.analysis.Run(ctx)
	if err != nil {
		return Outcome{Version: v, Analysis: res}, err
	}
	out := Outcome{Version: v, Analysis: res}
	switch res.Phase {
	case PhaseSuccessful:
		_ = r.reg.Mark(v.ID, StatusGood)
		out.Decision = DecisionPromote
		r.m.add(&r.b, "promoted")
		r.clearAll(fmt.Sprintf("version %s passed analysis and is the last known good version", v.ID))
	case PhaseInconclusive:
		_ = r.reg.Mark(v.ID, StatusHeld)
		out.Decision = DecisionHold
		r.m.add(&r.b, "held")
		s := r.b.signal(firebreak.KindAnalysisInconclusive, true)
		s.Summary = fmt.Sprintf("version %s held for a decision: %s", v.ID, res.Message)
		s.Metrics = lastValues(res)
		r.fire(s)
	default: // failed or error
		out = r.rollback(ctx, v, exposure, "analysis "+res.Phase.String()+": "+res.Message, res)
	}
	out.Version, _ = r.version(v.ID)
	return out, nil
}

// Rollback rolls the current version back by hand, e.g. after a person
// looked at a held analysis. It runs the hooks and reports as a failed
// analysis does. It returns [ErrAnalysisRunning], without acting, while an
// analysis runs.
func (r *Rollout) Rollback(ctx context.Context, exposure Exposure, reason string) (Outcome, error) {
	if !r.busy.CompareAndSwap(false, true) {
		return Outcome{}, ErrAnalysisRunning
	}
	defer r.busy.Store(false)
	v := r.reg.Current()
	out := r.rollback(ctx, v, exposure, "rolled back by hand: "+reason, AnalysisResult{})
	out.Version, _ = r.version(v.ID)
	return out, nil
}

func (r *Rollout) version(id string) (Version, bool) {
	for _, v := range r.reg.History() {
		if v.ID == id {
			return v, true
		}
	}
	return Version{}, false
}

func (r *Rollout) rollback(ctx context.Context, v Version, exposure Exposure, why string, res AnalysisResult) Outcome {
	out := Outcome{Analysis: res}
	_ = r.reg.Mark(v.ID, StatusBad)
	labels := map[string]string{"phase": string(exposure)}
	target, ok := r.reg.stableFor(v.ID)
	if !ok {
		out.Decision, out.Err = DecisionRollbackFailed, fmt.Errorf("failover: no stable version to roll back %s to", v.ID)
	} else if err := r.runHooks(ctx, v, target); err != nil {
		out.Decision, out.Target, out.Err = DecisionRollbackFailed, target, err
	} else {
		r.reg.makeCurrent(target.ID)
		out.Decision, out.Target = DecisionRollback, target
	}
	var s firebreak.Signal
	if out.Decision == DecisionRollback {
		r.m.add(&r.b, "rolled_back")
		s = r.b.signal(firebreak.KindRollback, true)
		s.Summary = fmt.Sprintf("rolled back %s to %s: %s", v.ID, target.ID, why)
	} else {
		r.m.add(&r.b, "rollback_failed")
		s = r.b.signal(firebreak.KindRollbackFailed, true)
		s.Summary = fmt.Sprintf("rollback of %s failed: %v (%s)", v.ID, out.Err, why)
	}
	s.Value = 1
	s.Labels = labels
	s.Metrics = lastValues(res)
	r.fire(s)
	return out
}

// runHooks runs every hook in order, retrying each with backoff.
func (r *Rollout) runHooks(ctx context.Context, from, to Version) error {
	for _, h := range r.hooks {
		bo := backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(r.backoff), backoff.WithMultiplier(2),
			backoff.WithMaxInterval(max(r.backoff, time.Minute)), backoff.WithMaxElapsedTime(0))
		var err error
		for attempt := 1; ; attempt++ {
			if err = h.fn(ctx, from, to); err == nil {
				break
			}
			r.m.add(&r.b, "hook_failed")
			if attempt >= r.attempts {
				return fmt.Errorf("failover: rollback hook %q failed %d times: %w", h.name, attempt, err)
			}
			if cerr := sleep(ctx, bo.NextBackOff()); cerr != nil {
				return fmt.Errorf("failover: rollback hook %q: %w (last error: %w)", h.name, cerr, err)
			}
		}
	}
	return nil
}

// fire reports s and remembers it so a later success can clear it. Reporting
// happens after r.mu is released.
func (r *Rollout) fire(s firebreak.Signal) {
	r.mu.Lock()
	r.fired[s.Kind] = s.Labels
	r.mu.Unlock()
	r.b.report(s)
}

func (r *Rollout) clearAll(summary string) {
	r.mu.Lock()
	fired := r.fired
	r.fired = map[firebreak.Kind]map[string]string{}
	r.mu.Unlock()
	for _, k := range []firebreak.Kind{firebreak.KindAnalysisInconclusive, firebreak.KindRollback, firebreak.KindRollbackFailed} {
		if labels, ok := fired[k]; ok {
			s := r.b.signal(k, false)
			s.Labels = labels
			s.Summary = summary
			r.b.report(s)
		}
	}
}

func lastValues(res AnalysisResult) map[string]float64 {
	if len(res.Metrics) == 0 {
		return nil
	}
	m := make(map[string]float64, len(res.Metrics))
	for _, mr := range res.Metrics {
		if ms, ok := mr.Last(); ok {
			m[mr.Name] = ms.Value
		}
	}
	return m
}
