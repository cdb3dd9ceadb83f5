package failover

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover/internal/event"
)

// Mode is how much of its service an application offers. Modes are ordered:
// the more degraded is the larger. The zero value is [ModeNormal].
type Mode int32

// The service modes.
const (
	ModeNormal   Mode = iota // everything on
	ModeDegraded             // optional features off, core features on
	ModeMinimal              // only what the service exists for
)

var modeNames = [...]string{ModeNormal: "normal", ModeDegraded: "degraded", ModeMinimal: "minimal"}

// String returns "normal", "degraded" or "minimal".
func (m Mode) String() string {
	if m >= ModeNormal && m <= ModeMinimal {
		return modeNames[m]
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// valid reports whether m is one of the three modes.
func (m Mode) valid() bool { return m >= ModeNormal && m <= ModeMinimal }

// DefaultModeRule is the mode an open incident calls for by default: Minimal
// for a Fatal incident that affects a core component, Degraded for any other
// Fatal or Severe incident, Normal otherwise.
func DefaultModeRule(inc firebreak.Incident) Mode {
	switch {
	case inc.Severity >= firebreak.Fatal && inc.CoreAffected:
		return ModeMinimal
	case inc.Severity >= firebreak.Severe:
		return ModeDegraded
	}
	return ModeNormal
}

// Degrader holds the service's mode and its kill switches. The mode is set by
// hand ([Degrader.SetMode]) or follows the incident board: a Degrader is a
// [firebreak.Notifier], so registered on a Board it moves to the mode each
// open incident calls for (see [WithModeRule]) and back to normal when none
// remains open. The mode in force is the more degraded of the two.
//
// Every change reports a [firebreak.KindDegraded] signal, so it lands in the
// incident's timeline: firing while the mode is not normal (or a switch is
// off), cleared when it is back. Reading the mode or a switch is an atomic
// load. Build one with [NewDegrader]; it is safe for concurrent use.
//
// Its identity is the service's ([firebreak.Binding] with ServiceWide): bind
// it with [Degrader.Bind], or let a pipeline bind it through a [Gate];
// unbound, it works but its signals go to [firebreak.Discard].
type Degrader struct {
	b firebreak.Binding // ServiceWide
	m event.Meter

	mode     atomic.Int32
	switches map[string]*atomic.Bool // true: the feature is killed; the map never changes
	rule     func(firebreak.Incident) Mode

	mu        sync.Mutex // guards the fields below, and orders mode changes
	manual    Mode
	incidents map[string]want // open incidents calling for more than normal
	cause     string          // fault domain of the incident setting the mode; "" for the manual mode
	fired     map[string]bool // fault domains with a firing mode signal
	gen       uint64          // counts the mode changes, for report
}

// want is what one open incident calls for.
type want struct {
	mode   Mode
	domain string
}

var _ firebreak.Notifier = (*Degrader)(nil)

// NewDegrader returns a degrader in normal mode with the kill switches
// declared by [WithSwitches], all on.
func NewDegrader(opts ...DegraderOption) (*Degrader, error) {
	var c degraderConfig
	if err := apply("NewDegrader", opts, func(o DegraderOption) { o.applyDegrader(&c) }); err != nil {
		return nil, err
	}
	d := &Degrader{b: firebreak.Binding{ServiceWide: true}, switches: map[string]*atomic.Bool{}, rule: c.rule, incidents: map[string]want{}, fired: map[string]bool{}}
	if d.rule == nil {
		d.rule = DefaultModeRule
	}
	for i, n := range c.switches {
		if n == "" {
			return nil, fmt.Errorf("failover: NewDegrader: WithSwitches name %d is empty", i)
		}
		if d.switches[n] != nil {
			return nil, fmt.Errorf("failover: NewDegrader: WithSwitches name %q is a duplicate", n)
		}
		d.switches[n] = new(atomic.Bool)
	}
	m, err := event.NewMeter(scope, "degrade", c.meterProvider)
	if err != nil {
		return nil, fmt.Errorf("failover: NewDegrader: %w", err)
	}
	d.m = m
	return d, nil
}

// Bind implements [firebreak.Binder]. A degrader is service-wide, like a
// [Shedder]: its identity is the service (Name and Tier), so binding again
// for another dependency of the same service does nothing, and binding to
// another service is an [*firebreak.AlreadyBoundError].
func (d *Degrader) Bind(c firebreak.Component) error {
	_, err := d.b.Bind("failover: degrader", c)
	return err
}

// Mode returns the mode in force.
func (d *Degrader) Mode() Mode { return Mode(d.mode.Load()) }

// Enabled reports whether the feature behind the named switch is on. A name
// that was not declared with [WithSwitches] is always on.
func (d *Degrader) Enabled(name string) bool {
	sw, ok := d.switches[name]
	return !ok || !sw.Load()
}

// switchNames returns the declared switch names, sorted.
func (d *Degrader) switchNames() []string { return slices.Sorted(maps.Keys(d.switches)) }

// SetMode sets the mode chosen by hand; reason goes into the signal's summary.
// The mode in force is the more degraded of this one and the one the open
// incidents call for.
func (d *Degrader) SetMode(m Mode, reason string) error {
	if !m.valid() {
		return fmt.Errorf("failover: Degrader.SetMode: mode %d is not normal, degraded or minimal", int(m))
	}
	d.mu.Lock()
	d.manual = m
	sigs := d.recompute("set by hand: " + reason)
	gen := d.gen
	d.mu.Unlock()
	d.report(sigs, gen)
	return nil
}

// Kill switches the named feature off.
func (d *Degrader) Kill(name, reason string) error { return d.flip(name, true, reason) }

// Restore switches the named feature back on.
func (d *Degrader) Restore(name, reason string) error { return d.flip(name, false, reason) }

func (d *Degrader) flip(name string, killed bool, reason string) error {
	sw, ok := d.switches[name]
	if !ok {
		return fmt.Errorf("failover: Degrader: switch %q is not declared (have %v)", name, d.switchNames())
	}
	if sw.Swap(killed) == killed {
		return nil
	}
	if killed {
		d.m.Add(&d.b, "switch_off")
	} else {
		d.m.Add(&d.b, "switch_on")
	}
	for {
		d.b.Report(d.switchSignal(name, killed, reason))
		// A flip racing with this one may have reported after its swap
		// but before this report: if the switch is no longer what was
		// just reported, report what it is, so that the last report
		// always tells the switch's state.
		now := sw.Load()
		if now == killed {
			return nil
		}
		killed, reason = now, "changed again while the change was reported"
	}
}

func (d *Degrader) switchSignal(name string, killed bool, reason string) firebreak.Signal {
	s := d.b.Signal(firebreak.KindDegraded, killed)
	s.Labels = map[string]string{"switch": name}
	s.Time = time.Now()
	if killed {
		s.Value = 1
		s.Summary = "feature " + name + " switched off: " + reason
	} else {
		s.Summary = "feature " + name + " switched on: " + reason
	}
	return s
}

// Notify implements [firebreak.Notifier]: it moves the mode to what the open
// incidents call for. An incident calls for a mode (by the rule) while it is
// open and one of its alerts other than the degrader's own degraded signals
// is firing, so that the degrader steps back once the fault's signals clear,
// and its own signal, which joins the incident, never keeps it open.
//
// The mode signal carries the fault domain of the incident that set the mode
// as its dependency, so the board files it under that incident and the mode
// change appears in the incident's timeline.
func (d *Degrader) Notify(ctx context.Context, n firebreak.Notification) error {
	inc := n.Incident
	if inc.ID == "" {
		return nil
	}
	w := want{mode: ModeNormal, domain: inc.FaultDomain}
	if inc.State.Open() && faultFiring(inc) {
		w.mode = d.rule(inc)
		if !w.mode.valid() {
			return fmt.Errorf("failover: Degrader: mode rule returned %d for incident %s", int(w.mode), inc.ID)
		}
	}
	d.mu.Lock()
	if w.mode == ModeNormal {
		delete(d.incidents, inc.ID)
	} else {
		d.incidents[inc.ID] = w
	}
	sigs := d.recompute(fmt.Sprintf("incident %s (%s, %s): %s", inc.ID, inc.Severity, inc.State, inc.Title))
	gen := d.gen
	d.mu.Unlock()
	d.report(sigs, gen)
	return nil
}

// report reports the mode signals recompute returned at generation gen,
// holding no lock. A change racing with this one may have reported between
// its recompute and this report: if the mode changed since gen, it reports
// again, for every fault domain it just reported, what holds now (firing
// only for the cause of the mode in force), so that the last report for a
// domain always tells the mode (else a clearing report landing first left
// the mode signal firing on the Board in normal mode).
func (d *Degrader) report(sigs []firebreak.Signal, gen uint64) {
	for len(sigs) > 0 {
		for _, s := range sigs {
			d.b.Report(s)
		}
		d.mu.Lock()
		if d.gen == gen {
			d.mu.Unlock()
			return
		}
		gen = d.gen
		m, now := Mode(d.mode.Load()), time.Now()
		fix := make([]firebreak.Signal, 0, len(sigs))
		for _, s := range sigs {
			firing := m != ModeNormal && s.Dependency == d.modeSignal(d.cause, true, now).Dependency
			f := d.modeSignal("", firing, now)
			f.Dependency = s.Dependency
			f.Summary = fmt.Sprintf("service mode %s (changed again while the change was reported)", m)
			if firing {
				f.Value = float64(m)
				d.fired[d.cause] = true
			}
			fix = append(fix, f)
		}
		d.mu.Unlock()
		sigs = fix
	}
}

// faultFiring reports whether an alert of the incident other than a degraded
// signal is firing. An incident that lists no alerts counts as firing.
func faultFiring(inc firebreak.Incident) bool {
	if len(inc.Alerts) == 0 {
		return true
	}
	for _, a := range inc.Alerts {
		if a.Firing && a.Kind != firebreak.KindDegraded {
			return true
		}
	}
	return false
}

// recompute sets the mode in force from manual and incidents and returns the
// signals to report, after d.mu is released: the new mode firing under the
// fault domain of its cause, and clearings for domains no longer the cause.
// d.mu must be held.
func (d *Degrader) recompute(reason string) []firebreak.Signal {
	m, cause, causeID := d.manual, "", ""
	for id, w := range d.incidents {
		if w.mode > m || (w.mode == m && m != d.manual && (causeID == "" || id < causeID)) {
			m, cause, causeID = w.mode, w.domain, id
		}
	}
	old := Mode(d.mode.Swap(int32(m)))
	if old == m && (m == ModeNormal || cause == d.cause) {
		return nil
	}
	d.gen++
	now := time.Now()
	var sigs []firebreak.Signal
	if m != ModeNormal {
		d.m.Add(&d.b, "mode_"+m.String())
		s := d.modeSignal(cause, true, now)
		s.Value = float64(m)
		s.Summary = fmt.Sprintf("service mode %s (was %s): %s", m, old, reason)
		sigs = append(sigs, s)
		d.fired[cause] = true
	} else {
		d.m.Add(&d.b, "mode_normal")
	}
	for _, dom := range slices.Sorted(maps.Keys(d.fired)) {
		if m != ModeNormal && dom == cause {
			continue
		}
		s := d.modeSignal(dom, false, now)
		s.Summary = fmt.Sprintf("service mode %s (was %s): %s", m, old, reason)
		sigs = append(sigs, s)
		delete(d.fired, dom)
	}
	d.cause = cause
	return sigs
}

func (d *Degrader) modeSignal(domain string, firing bool, now time.Time) firebreak.Signal {
	s := d.b.Signal(firebreak.KindDegraded, firing)
	if domain != "" && domain != s.Component {
		s.Dependency = domain
	}
	s.Time = now
	return s
}

// Gate is a [firebreak.Policy] that skips calls to an optional feature while
// it is switched off or the service mode is at or past the gate's mode,
// returning a [*DegradedError] without calling. Put a [Fallback] around it
// to answer with something cheaper. Build one with [NewGate]; it is safe for
// concurrent use and costs two atomic loads per call.
type Gate[T any] struct {
	d     *Degrader
	sw    *atomic.Bool // nil: no switch
	offAt Mode
	err   *DegradedError
}

var (
	_ firebreak.Policy[int] = (*Gate[int])(nil)
	_ firebreak.Binder      = (*Gate[int])(nil)
	_ firebreak.Staged      = (*Gate[int])(nil)
)

// NewGate returns a gate for feature, which is off when its switch (if
// feature names one declared on d) is off or d's mode is offAt or worse.
// offAt must be ModeDegraded or ModeMinimal.
func NewGate[T any](d *Degrader, feature string, offAt Mode) (*Gate[T], error) {
	if d == nil {
		return nil, errors.New("failover: NewGate: degrader is nil")
	}
	if offAt != ModeDegraded && offAt != ModeMinimal {
		return nil, fmt.Errorf("failover: NewGate: offAt %s must be degraded or minimal", offAt)
	}
	return &Gate[T]{d: d, sw: d.switches[feature], offAt: offAt, err: &DegradedError{Feature: feature, Mode: offAt}}, nil
}

// Bind implements [firebreak.Binder]; see [Degrader.Bind].
func (g *Gate[T]) Bind(c firebreak.Component) error { return g.d.Bind(c) }

// Stage implements [firebreak.Staged]: just inside the fallback
// (StageFallback+50), so that a gated call is answered by the fallback and
// never reaches retries or the breaker.
func (g *Gate[T]) Stage() firebreak.Stage { return firebreak.StageFallback + 50 }

// Open reports whether calls pass the gate.
func (g *Gate[T]) Open() bool {
	return (g.sw == nil || !g.sw.Load()) && Mode(g.d.mode.Load()) < g.offAt
}

// Execute runs fn under the policy, for use without a pipeline.
func (g *Gate[T]) Execute(ctx context.Context, fn firebreak.Func[T]) (T, error) {
	return g.Apply(ctx, firebreak.Call(fn))
}

// Apply implements [firebreak.Policy].
func (g *Gate[T]) Apply(ctx context.Context, next firebreak.Next[T]) (T, error) {
	if !g.Open() {
		var zero T
		return zero, g.err
	}
	return next.Call(ctx)
}
