package failover

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/firebreak-go/firebreak"
)

// scope is the instrumentation scope of the package's meter.
const scope = "github.com/firebreak-go/firebreak/failover"

// eventsInstrument is the one counter every policy in the package adds to.
const eventsInstrument = "firebreak.failover.events"

// binding holds the identity a policy reports under. It is set once, by
// WithComponent or by the first Bind, and read with an atomic load on every
// path that reports.
type binding struct {
	mu   sync.Mutex // serialises Bind; readers use comp
	comp atomic.Pointer[firebreak.Component]
}

func (b *binding) init(c *firebreak.Component) {
	if c != nil {
		cc := *c
		if cc.Reporter == nil {
			cc.Reporter = firebreak.Discard
		}
		b.comp.Store(&cc)
	}
}

// bind implements firebreak.Binder for every policy: the first binding wins,
// binding again to the same component is a no-op, and binding to another
// component is an error because the policy's state (budgets, ejections,
// last good values) belongs to one dependency.
func (b *binding) bind(policy string, c firebreak.Component) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("failover: %s: %w", policy, err)
	}
	if c.Reporter == nil {
		c.Reporter = firebreak.Discard
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if cur := b.comp.Load(); cur != nil {
		if cur.Name == c.Name && cur.Dependency == c.Dependency && cur.Tier == c.Tier {
			return nil
		}
		return fmt.Errorf("failover: %s is already bound to component %q (dependency %q); build one per component", policy, cur.Name, cur.Dependency)
	}
	b.comp.Store(&c)
	return nil
}

// component returns the bound component, or an anonymous one that discards.
func (b *binding) component() firebreak.Component {
	if c := b.comp.Load(); c != nil {
		return *c
	}
	return firebreak.Component{Reporter: firebreak.Discard}
}

// report sends s through the bound component. It must never be called with a
// lock held.
func (b *binding) report(s firebreak.Signal) {
	if c := b.comp.Load(); c != nil && c.Reporter != nil {
		c.Reporter.Report(s)
	}
}

// signal builds a signal carrying the bound identity.
func (b *binding) signal(kind firebreak.Kind, firing bool) firebreak.Signal {
	return b.component().Signal(kind, firing)
}

// meter records policy events on the firebreak.failover.events counter.
type meter struct {
	policy  string
	counter metric.Int64Counter
}

func newMeter(policy string, mp metric.MeterProvider) (meter, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	c, err := mp.Meter(scope).Int64Counter(eventsInstrument,
		metric.WithDescription("Events of the failover policies: retries, fallbacks served, failovers, ejections, sheds, mode changes, rollbacks."),
		metric.WithUnit("{event}"))
	if err != nil {
		return meter{}, fmt.Errorf("failover: %s: creating %s: %w", policy, eventsInstrument, err)
	}
	return meter{policy: policy, counter: c}, nil
}

// add records one event. It allocates (the attribute set) and is only called
// off the success path.
func (m meter) add(b *binding, event string, extra ...attribute.KeyValue) {
	if m.counter == nil {
		return
	}
	c := b.component()
	attrs := make([]attribute.KeyValue, 0, 4+len(extra))
	attrs = append(attrs,
		attribute.String("firebreak.policy", m.policy),
		attribute.String("firebreak.event", event),
		attribute.String("firebreak.component", c.Name),
		attribute.String("firebreak.dependency", c.Dependency))
	attrs = append(attrs, extra...)
	m.counter.Add(context.Background(), 1, metric.WithAttributes(attrs...))
}

// presets holds prebuilt attribute options for events recorded on paths
// that must not allocate, such as shedding under overload. They are built
// for one component and rebuilt if the binding changes.
type presets struct {
	comp *firebreak.Component
	opts map[string][]metric.AddOption
}

// preset returns the options for events, building them (once per binding)
// into p.
func (m meter) preset(b *binding, p *atomic.Pointer[presets], events ...string) *presets {
	c := b.comp.Load()
	if ps := p.Load(); ps != nil && ps.comp == c {
		return ps
	}
	ps := &presets{comp: c, opts: make(map[string][]metric.AddOption, len(events))}
	comp := b.component()
	for _, e := range events {
		ps.opts[e] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
			attribute.String("firebreak.policy", m.policy),
			attribute.String("firebreak.event", e),
			attribute.String("firebreak.component", comp.Name),
			attribute.String("firebreak.dependency", comp.Dependency)))}
	}
	p.Store(ps)
	return ps
}

// addPreset records one event with prebuilt options, without allocating.
func (m meter) addPreset(ps *presets, event string) {
	if m.counter != nil {
		m.counter.Add(context.Background(), 1, ps.opts[event]...)
	}
}

// walk calls f on err and every error it wraps, depth first, until f returns
// true.
func walk(err error, f func(error) bool) bool {
	for err != nil {
		if f(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walk(e, f) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// IsRejection reports whether err is a local rejection that must not be
// retried, failed over or counted against the dependency: anywhere in its
// tree, an error implementing [firebreak.Rejecter] ([firebreak.IsRejected]:
// a [*ShedError], a [*DegradedError], an open breaker), or gobreaker's
// ErrOpenState or ErrTooManyRequests, which breakers built directly on
// gobreaker return. Retrying a local rejection only adds load to what is
// already protecting itself. It does not allocate.
func IsRejection(err error) bool {
	if err == nil {
		return false
	}
	return firebreak.IsRejected(err) ||
		errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests)
}

// isCancellation reports whether the error or the context says the caller
// gave up: such calls are neither retried, failed over nor answered with a
// fallback.
func isCancellation(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, context.Canceled)
}

// sleep waits for d or until ctx is done, whichever is first, on a timer (so
// that a testing/synctest bubble controls it).
func sleep(ctx context.Context, d time.Duration) error {
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
