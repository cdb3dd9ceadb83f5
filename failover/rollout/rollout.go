package rollout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover/internal/event"
)

// RollbackHook performs one step of a rollback from the failed version to
// the stable one: redeploy, flip a feature flag, move traffic. It should
// honour ctx and be safe to call again after a failure. A panic in it is a
// failure like an error, retried alike (see [WithHookRetries]).
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

// Rollout judges the current version of a [Versions] with an [Analysis] and
// acts on the result, as Argo Rollouts does: a successful analysis promotes
// the version to last known good; a failed one (or one that ended in error)
// marks it bad and runs the rollback hooks, reporting a
// [firebreak.KindRollback] signal that records the rollback on the incident —
// or, if a hook keeps failing or there is no stable version, a
// [firebreak.KindRollbackFailed] signal, which escalates; an inconclusive
// analysis holds the version and reports [firebreak.KindAnalysisInconclusive]
// for a person to decide. A later successful analysis clears these signals.
//
// Build one with [NewRollout] and give it the component it reports under
// with [Rollout.Bind]; unbound, it acts but its signals go to
// [firebreak.Discard]. It is safe for concurrent use.
type Rollout struct {
	b        firebreak.Binding
	m        event.Meter
	versions *Versions
	analysis *Analysis
	hooks    []namedHook
	attempts int
	backoff  time.Duration

	busy atomic.Bool

	mu    sync.Mutex // guards fired
	fired map[firebreak.Kind]map[string]string
}

// NewRollout returns a rollout controller for the versions v, judged by
// analysis. Hooks are tried 3 times with a 1s backoff unless
// [WithHookRetries] says otherwise.
func NewRollout(v *Versions, analysis *Analysis, opts ...Option) (*Rollout, error) {
	c := config{hookAttempts: 3, hookBackoff: time.Second}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("rollout: NewRollout: option %d is nil", i)
		}
		o.applyRollout(&c)
	}
	var errs []error
	if v == nil {
		errs = append(errs, errors.New("rollout: NewRollout: versions is nil"))
	}
	if analysis == nil {
		errs = append(errs, errors.New("rollout: NewRollout: analysis is nil"))
	}
	errs = append(errs, c.errs...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := event.NewMeter(scope, "rollout", c.meterProvider)
	if err != nil {
		return nil, fmt.Errorf("rollout: NewRollout: %w", err)
	}
	return &Rollout{m: m, versions: v, analysis: analysis, hooks: c.hooks, attempts: c.hookAttempts, backoff: c.hookBackoff, fired: map[firebreak.Kind]map[string]string{}}, nil
}

// Bind gives the rollout the component whose versions it judges: its
// signals carry that identity. The first Bind fixes it; binding again to the
// same identity does nothing, to another is an [*firebreak.AlreadyBoundError].
func (r *Rollout) Bind(c firebreak.Component) error {
	_, err := r.b.Bind("rollout", c)
	return err
}

// Analyze runs the analysis on the current version and acts on the result.
// It blocks for as long as the analysis takes. It returns an error, without
// acting, if ctx ends first or another analysis is running.
func (r *Rollout) Analyze(ctx context.Context, exposure Exposure) (Outcome, error) {
	if !r.busy.CompareAndSwap(false, true) {
		return Outcome{}, ErrAnalysisRunning
	}
	defer r.busy.Store(false)
	v := r.versions.Current()
	res, err := r.analysis.Run(ctx)
	if err != nil {
		return Outcome{Version: v, Analysis: res}, err
	}
	out := Outcome{Version: v, Analysis: res}
	switch res.Phase {
	case PhaseSuccessful:
		_ = r.versions.Mark(v.ID, StatusGood)
		out.Decision = DecisionPromote
		r.m.Add(&r.b, "promoted")
		r.clearAll(fmt.Sprintf("version %s passed analysis and is the last known good version", v.ID))
	case PhaseInconclusive:
		_ = r.versions.Mark(v.ID, StatusHeld)
		out.Decision = DecisionHold
		r.m.Add(&r.b, "held")
		s := r.b.Signal(firebreak.KindAnalysisInconclusive, true)
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
	v := r.versions.Current()
	out := r.rollback(ctx, v, exposure, "rolled back by hand: "+reason, AnalysisResult{})
	out.Version, _ = r.version(v.ID)
	return out, nil
}

func (r *Rollout) version(id string) (Version, bool) {
	for _, v := range r.versions.History() {
		if v.ID == id {
			return v, true
		}
	}
	return Version{}, false
}

func (r *Rollout) rollback(ctx context.Context, v Version, exposure Exposure, why string, res AnalysisResult) Outcome {
	out := Outcome{Analysis: res}
	_ = r.versions.Mark(v.ID, StatusBad)
	labels := map[string]string{"phase": string(exposure)}
	target, ok := r.versions.stableFor(v.ID)
	// A version deployed since v was read is what runs now: rolling it back
	// as v would tell the hooks the wrong version and replace one that was
	// never analysed.
	if cur := r.versions.Current(); cur.ID != v.ID {
		out.Decision, out.Err = DecisionRollbackFailed, fmt.Errorf("rollout: %s was deployed while %s was analysed: nothing rolled back", cur.ID, v.ID)
	} else if !ok {
		out.Decision, out.Err = DecisionRollbackFailed, fmt.Errorf("rollout: no stable version to roll back %s to", v.ID)
	} else if err := r.runHooks(ctx, v, target); err != nil {
		out.Decision, out.Target, out.Err = DecisionRollbackFailed, target, err
	} else if !r.versions.replaceCurrent(v.ID, target.ID) {
		out.Decision, out.Target, out.Err = DecisionRollbackFailed, target, fmt.Errorf("rollout: %s was deployed during the rollback of %s to %s", r.versions.Current().ID, v.ID, target.ID)
	} else {
		out.Decision, out.Target = DecisionRollback, target
	}
	var s firebreak.Signal
	if out.Decision == DecisionRollback {
		r.m.Add(&r.b, "rolled_back")
		s = r.b.Signal(firebreak.KindRollback, true)
		s.Summary = fmt.Sprintf("rolled back %s to %s: %s", v.ID, target.ID, why)
	} else {
		r.m.Add(&r.b, "rollback_failed")
		s = r.b.Signal(firebreak.KindRollbackFailed, true)
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
			if err = callHook(ctx, h.fn, from, to); err == nil {
				break
			}
			r.m.Add(&r.b, "hook_failed")
			if attempt >= r.attempts {
				return fmt.Errorf("rollout: rollback hook %q failed %d times: %w", h.name, attempt, err)
			}
			if cerr := event.Sleep(ctx, bo.NextBackOff()); cerr != nil {
				return fmt.Errorf("rollout: rollback hook %q stopped after %d failed tries, %w: %w", h.name, attempt, cerr, err)
			}
		}
	}
	return nil
}

// fire reports s and remembers it so a later success can clear it. Reporting
// happens after r.mu is released.
// callHook runs a rollback hook, turning its panic into an error: a hook
// that panics is a failed rollback, reported as one, not a panic through
// Analyze that leaves no signal.
func callHook(ctx context.Context, fn RollbackHook, from, to Version) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panicked: %v", p)
		}
	}()
	return fn(ctx, from, to)
}

func (r *Rollout) fire(s firebreak.Signal) {
	r.mu.Lock()
	r.fired[s.Kind] = s.Labels
	r.mu.Unlock()
	r.b.Report(s)
}

func (r *Rollout) clearAll(summary string) {
	r.mu.Lock()
	fired := r.fired
	r.fired = map[firebreak.Kind]map[string]string{}
	r.mu.Unlock()
	for _, k := range []firebreak.Kind{firebreak.KindAnalysisInconclusive, firebreak.KindRollback, firebreak.KindRollbackFailed} {
		if labels, ok := fired[k]; ok {
			s := r.b.Signal(k, false)
			s.Labels = labels
			s.Summary = summary
			r.b.Report(s)
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
