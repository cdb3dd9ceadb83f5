package breaker

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/otelattr"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// instrumentationName is the OpenTelemetry instrumentation scope of the
// package's metrics.
const instrumentationName = "github.com/firebreak-go/firebreak/breaker"

// Attribute keys of the package's metrics, beside the identity keys of
// [otelattr] (firebreak.component, firebreak.dependency, firebreak.tier).
const (
	attrName    = attribute.Key("firebreak.breaker.name")
	attrOutcome = attribute.Key("firebreak.breaker.outcome")
	attrState   = attribute.Key("firebreak.breaker.state")
	attrFrom    = attribute.Key("firebreak.breaker.from")
	attrTo      = attribute.Key("firebreak.breaker.to")
)

// outcome is what became of one call.
type outcome uint8

const (
	outcomeSuccess outcome = iota
	outcomeFailure
	outcomeSlow
	outcomeExcluded
	outcomeRejected
	outcomeHung
	numOutcomes
)

var outcomeNames = [numOutcomes]string{
	outcomeSuccess:  "success",
	outcomeFailure:  "failure",
	outcomeSlow:     "slow",
	outcomeExcluded: "excluded",
	outcomeRejected: "rejected",
	outcomeHung:     "hung",
}

// instruments are shared by the breakers of one Group.
type instruments struct {
	calls       metric.Int64Counter
	state       metric.Int64UpDownCounter
	transitions metric.Int64Counter
}

func newInstruments(mp metric.MeterProvider) (*instruments, error) {
	m := mp.Meter(instrumentationName)
	calls, err := m.Int64Counter("firebreak.breaker.calls",
		metric.WithDescription("Calls through a circuit breaker, by outcome."),
		metric.WithUnit("{call}"))
	if err != nil {
		return nil, fmt.Errorf("breaker: metric firebreak.breaker.calls: %w", err)
	}
	state, err := m.Int64UpDownCounter("firebreak.breaker.state",
		metric.WithDescription("1 for the state a circuit breaker is in, 0 for the others."),
		metric.WithUnit("{breaker}"))
	if err != nil {
		return nil, fmt.Errorf("breaker: metric firebreak.breaker.state: %w", err)
	}
	transitions, err := m.Int64Counter("firebreak.breaker.transitions",
		metric.WithDescription("State changes of a circuit breaker."),
		metric.WithUnit("{transition}"))
	if err != nil {
		return nil, fmt.Errorf("breaker: metric firebreak.breaker.transitions: %w", err)
	}
	return &instruments{calls: calls, state: state, transitions: transitions}, nil
}

// attrs holds a breaker's measurement options, so recording a call
// allocates nothing. Nothing is built until metrics are recorded (an
// instrument's Enabled is true: an SDK MeterProvider with a reader): then
// each set is built on its first use and kept. A breaker that only ever
// succeeds and stays closed holds two sets while metrics are exported and
// none while they are not (a Group keeps many breakers, and most of them
// never see most outcomes or states).
type attrs struct {
	c        *firebreak.Component // the breaker's identity (its identity's component)
	bound    bool
	name     string
	identity atomic.Pointer[[]attribute.KeyValue] // built on first use
	outcomes [numOutcomes]atomic.Pointer[[]metric.AddOption]
	states   [numStates]atomic.Pointer[[]metric.AddOption]
	// stateOn is set once the state gauge holds this breaker's +1 for the
	// state it is in: a breaker made while metrics were not recorded
	// enters the gauge at its first state change after they are.
	stateOn atomic.Bool
}

// newAttrs returns the attributes of a breaker named name: the identity of
// *c when the breaker is bound, and its name. *c must not change.
func newAttrs(c *firebreak.Component, bound bool, name string) *attrs {
	return &attrs{c: c, bound: bound, name: name}
}

// identityAttrs returns the identity attributes, building them on first use.
func (a *attrs) identityAttrs() []attribute.KeyValue {
	if p := a.identity.Load(); p != nil {
		return *p
	}
	var kvs []attribute.KeyValue
	if a.bound {
		kvs = otelattr.Of(*a.c)
	}
	kvs = append(kvs, attrName.String(a.name))
	if !a.identity.CompareAndSwap(nil, &kvs) {
		return *a.identity.Load()
	}
	return kvs
}

// outcome returns the options of a call's outcome o.
func (a *attrs) outcome(o outcome) []metric.AddOption {
	if p := a.outcomes[o].Load(); p != nil {
		return *p
	}
	return a.build(&a.outcomes[o], attrOutcome.String(outcomeNames[o]))
}

// state returns the options of the state gauge for s.
func (a *attrs) state(s State) []metric.AddOption {
	if p := a.states[s].Load(); p != nil {
		return *p
	}
	return a.build(&a.states[s], attrState.String(s.String()))
}

func (a *attrs) build(p *atomic.Pointer[[]metric.AddOption], kv attribute.KeyValue) []metric.AddOption {
	opts := []metric.AddOption{metric.WithAttributeSet(a.with(kv))}
	if !p.CompareAndSwap(nil, &opts) {
		return *p.Load()
	}
	return opts
}

func (a *attrs) with(kv ...attribute.KeyValue) attribute.Set {
	id := a.identityAttrs()
	all := make([]attribute.KeyValue, 0, len(id)+len(kv))
	all = append(append(all, id...), kv...)
	return attribute.NewSet(all...)
}

func (a *attrs) transition(from, to State) metric.AddOption {
	return metric.WithAttributeSet(a.with(attrFrom.String(from.String()), attrTo.String(to.String())))
}

// countCall counts one call with outcome o, if metrics are recorded.
func (in *instruments) countCall(ctx context.Context, id *identity, o outcome) {
	if in.calls.Enabled(ctx) {
		in.calls.Add(ctx, 1, id.attrs().outcome(o)...)
	}
}

// countTransition counts a state change, if metrics are recorded.
func (in *instruments) countTransition(id *identity, from, to State) {
	if ctx := context.Background(); in.transitions.Enabled(ctx) {
		in.transitions.Add(ctx, 1, id.attrs().transition(from, to))
	}
}

// enterState records in the state gauge that a breaker is in s, if metrics
// are recorded.
func (in *instruments) enterState(id *identity, s State) {
	if ctx := context.Background(); in.state.Enabled(ctx) {
		a := id.attrs()
		in.state.Add(ctx, 1, a.state(s)...)
		a.stateOn.Store(true)
	}
}

// leaveState records in the state gauge that a breaker is no longer in s,
// if its entering was recorded.
func (in *instruments) leaveState(id *identity, s State) {
	if a := id.attrsP.Load(); a != nil && a.stateOn.Swap(false) {
		in.state.Add(context.Background(), -1, a.state(s)...)
	}
}

// moveState records in the state gauge that a breaker left from for to.
func (in *instruments) moveState(id *identity, from, to State) {
	if a := id.attrsP.Load(); a != nil && a.stateOn.Load() {
		ctx := context.Background()
		in.state.Add(ctx, -1, a.state(from)...)
		in.state.Add(ctx, 1, a.state(to)...)
		return
	}
	in.enterState(id, to)
}
