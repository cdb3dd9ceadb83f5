// Package event holds what failover and failover/rollout share: the
// firebreak.failover.events counter their policies record on, and a sleep
// that a testing/synctest bubble controls.
package event

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/otelattr"
)

// Instrument is the one counter every failover policy adds to.
const Instrument = "firebreak.failover.events"

// Package-specific attribute keys of the counter.
const (
	AttrPolicy = attribute.Key("firebreak.policy")
	AttrEvent  = attribute.Key("firebreak.event")
)

// Meter records a policy's events on the [Instrument] counter.
type Meter struct {
	policy  string
	counter metric.Int64Counter
}

// NewMeter returns the meter of policy (retry, shed, rollout, …) on the
// meter named scope of mp; a nil mp is the global provider.
func NewMeter(scope, policy string, mp metric.MeterProvider) (Meter, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	c, err := mp.Meter(scope).Int64Counter(Instrument,
		metric.WithDescription("Events of the failover policies: retries, fallbacks served, failovers, ejections, sheds, mode changes, rollbacks."),
		metric.WithUnit("{event}"))
	if err != nil {
		return Meter{}, fmt.Errorf("%s: creating %s: %w", policy, Instrument, err)
	}
	return Meter{policy: policy, counter: c}, nil
}

func (m Meter) attrs(c firebreak.Component, event string) []attribute.KeyValue {
	return append([]attribute.KeyValue{AttrPolicy.String(m.policy), AttrEvent.String(event)}, otelattr.Of(c)...)
}

// Add records one event under b's identity. It allocates (the attribute
// set): call it only off the success path.
func (m Meter) Add(b *firebreak.Binding, event string) {
	if m.counter == nil {
		return
	}
	m.counter.Add(context.Background(), 1, metric.WithAttributes(m.attrs(b.Component(), event)...))
}

// Presets holds prebuilt attribute options for events recorded on paths
// that must not allocate, such as shedding under overload. They are built
// for the identity of a binding, once before and once after it is bound.
type Presets struct {
	bound bool
	opts  map[string][]metric.AddOption
}

// Preset returns the options for events, building them into p when b's
// identity is not the one they were built for.
func (m Meter) Preset(b *firebreak.Binding, p *atomic.Pointer[Presets], events ...string) *Presets {
	bound := b.Bound()
	if ps := p.Load(); ps != nil && ps.bound == bound {
		return ps
	}
	ps := &Presets{bound: bound, opts: make(map[string][]metric.AddOption, len(events))}
	c := b.Component()
	for _, e := range events {
		ps.opts[e] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(m.attrs(c, e)...))}
	}
	p.Store(ps)
	return ps
}

// AddPreset records one event with prebuilt options, without allocating.
func (m Meter) AddPreset(ps *Presets, event string) {
	if m.counter != nil {
		m.counter.Add(context.Background(), 1, ps.opts[event]...)
	}
}

// Sleep waits for d or until ctx is done, whichever is first, on a timer (so
// that a testing/synctest bubble controls it).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
