package tracing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/firebreak-go/firebreak"
)

// ScopeName is the instrumentation scope of firebreak's tracer and meter.
const ScopeName = "github.com/firebreak-go/firebreak/tracing"

// Attribute keys set on spans and on the duration histogram.
const (
	AttrComponent  = attribute.Key("firebreak.component")
	AttrDependency = attribute.Key("firebreak.dependency")
	AttrTier       = attribute.Key("firebreak.tier")
	AttrErrorType  = attribute.Key("error.type")
)

// MetricCallDuration is the name of the call-duration histogram (unit "s").
const MetricCallDuration = "firebreak.call.duration"

// ErrNotBound is returned by an Observer that was given no component, neither
// by [WithComponent] nor by a pipeline.
var ErrNotBound = errors.New("tracing: observer has no component (use WithComponent or a firebreak pipeline)")

// Observer is the observing policy: it runs each call in a span, records its
// duration and outcome, keeps RED statistics and watches an optional SLO. It
// implements [firebreak.Policy], [firebreak.Binder] and [firebreak.Staged]
// (it belongs outermost, at [firebreak.StageObserve], so that it sees every
// call as the caller does). It is safe for concurrent use.
type Observer[T any] struct {
	cfg  config
	mu   sync.Mutex // serialises Bind
	op   atomic.Pointer[operation]
	loop loop
}

var (
	_ firebreak.Policy[int] = (*Observer[int])(nil)
	_ firebreak.Binder      = (*Observer[int])(nil)
	_ firebreak.Staged      = (*Observer[int])(nil)
)

// New returns an Observer. Without [WithComponent] it must join a pipeline
// (which binds it) before it is used.
func New[T any](opts ...Option) (*Observer[T], error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	o := &Observer[T]{cfg: cfg}
	if cfg.comp != nil {
		if err := o.Bind(*cfg.comp); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// Bind implements [firebreak.Binder]: the observer takes c as its identity.
// Binding again to the same identity is a no-op; binding an observer to a
// second, different component is an error, since its statistics and SLO
// belong to one operation.
func (o *Observer[T]) Bind(c firebreak.Component) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if op := o.op.Load(); op != nil {
		if op.comp.Name == c.Name && op.comp.Dependency == c.Dependency && op.comp.Tier == c.Tier {
			return nil
		}
		return fmt.Errorf("tracing: observer already bound to %q, cannot bind to %q", op.comp.Name, c.Name)
	}
	op, err := newOperation(c, &o.cfg)
	if err != nil {
		return err
	}
	o.op.Store(op)
	return nil
}

// Stage implements [firebreak.Staged].
func (o *Observer[T]) Stage() firebreak.Stage { return firebreak.StageObserve }

// Apply implements [firebreak.Policy]: it runs next in a span and records the
// outcome.
func (o *Observer[T]) Apply(ctx context.Context, next firebreak.Next[T]) (T, error) {
	op := o.op.Load()
	if op == nil {
		var zero T
		return zero, ErrNotBound
	}
	ctx, span := op.tracer.Start(ctx, op.spanName, op.startOpts...)
	start := op.stats.offset() // one monotonic clock read; time.Now reads two clocks
	done := false
	defer func() {
		if !done { // next panicked: record it and let the panic go on
			op.end(ctx, span, start, errPanic)
		}
	}()
	v, err := next.Call(ctx)
	done = true
	op.end(ctx, span, start, err)
	return v, err
}

// Execute runs fn under the observer, as a policy used on its own.
func (o *Observer[T]) Execute(ctx context.Context, fn firebreak.Func[T]) (T, error) {
	return o.Apply(ctx, firebreak.Call(fn))
}

// Snapshot returns the RED statistics over the rolling window; the zero
// Snapshot if the observer is not bound yet.
func (o *Observer[T]) Snapshot() Snapshot {
	if op := o.op.Load(); op != nil {
		return op.stats.Snapshot()
	}
	return Snapshot{}
}

// Stats returns the observer's statistics, nil if it is not bound yet.
func (o *Observer[T]) Stats() *Stats {
	if op := o.op.Load(); op != nil {
		return op.stats
	}
	return nil
}

// Start starts a goroutine that evaluates the SLO at the evaluation
// interval. Without it, burn rates are evaluated on the calls themselves
// (at most once per interval, on the call that finds the evaluation due), so
// an alert cannot clear while no call arrives. Start is idempotent; it
// returns an error if the observer is not bound or was closed.
func (o *Observer[T]) Start() error {
	op := o.op.Load()
	if op == nil {
		return ErrNotBound
	}
	return o.loop.start(op.stats.pollInterval(), func() { op.stats.poll() })
}

// Close stops the goroutine started by Start and waits for it. It is
// idempotent and safe to call without Start.
func (o *Observer[T]) Close() error {
	o.loop.close()
	return nil
}

// panicError is recorded for a call that panicked.
type panicError struct{}

func (panicError) Error() string     { return "tracing: call panicked" }
func (panicError) ErrorType() string { return ErrorTypePanic }

var errPanic error = panicError{}

// operation is what an Observer knows once bound.
type operation struct {
	comp      firebreak.Component
	tracer    trace.Tracer
	spanName  string
	startOpts []trace.SpanStartOption
	hist      metric.Float64Histogram
	attrs     []attribute.KeyValue  // metric attributes of every call
	okOpts    []metric.RecordOption // metric options of a successful call
	stats     *Stats
}

// durationBuckets are the histogram boundaries in seconds (those the
// OpenTelemetry HTTP conventions advise).
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

func componentAttrs(c firebreak.Component) []attribute.KeyValue {
	attrs := []attribute.KeyValue{AttrComponent.String(c.Name)}
	if c.Dependency != "" {
		attrs = append(attrs, AttrDependency.String(c.Dependency))
	}
	return append(attrs, AttrTier.String(c.Tier.String()))
}

func newOperation(c firebreak.Component, cfg *config) (*operation, error) {
	stats, err := newOperationStats(c, cfg, nil)
	if err != nil {
		return nil, err
	}
	op := &operation{comp: c, stats: stats, attrs: componentAttrs(c)}
	op.spanName = cfg.spanName
	if op.spanName == "" {
		op.spanName = c.Name
		if c.Dependency != "" {
			op.spanName = c.Dependency
		}
	}
	kind := trace.SpanKindInternal
	if c.Dependency != "" {
		kind = trace.SpanKindClient
	}
	op.tracer = cfg.tp.Tracer(ScopeName)
	op.startOpts = []trace.SpanStartOption{trace.WithAttributes(op.attrs...), trace.WithSpanKind(kind)}
	op.hist, err = cfg.mp.Meter(ScopeName).Float64Histogram(MetricCallDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of calls through firebreak observers."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err != nil {
		return nil, fmt.Errorf("tracing: creating %s histogram: %w", MetricCallDuration, err)
	}
	op.okOpts = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(op.attrs...))}
	return op, nil
}

// newOperationStats returns the statistics of one operation, with a burn
// detector reporting as c when cfg has an SLO.
func newOperationStats(c firebreak.Component, cfg *config, labels map[string]string) (*Stats, error) {
	var slow time.Duration
	if cfg.slo != nil {
		slow = cfg.slo.Latency
	}
	s, err := newStats(cfg.window, slow)
	if err != nil {
		return nil, err
	}
	if cfg.slo != nil {
		d := newDetector(*cfg.slo, cfg.interval)
		d.comp, d.labels = c, labels
		s.detector = d
		s.nextEval = d.interval
		s.next.Store(min(s.slotEnd, s.nextEval))
	}
	return s, nil
}

// end records the outcome of a call that started at offset start.
func (op *operation) end(ctx context.Context, span trace.Span, start int64, err error) {
	now := op.stats.offset()
	d := time.Duration(now - start)
	if err == nil {
		op.stats.record(now, d, false)
		op.hist.Record(ctx, d.Seconds(), op.okOpts...)
		span.End()
		return
	}
	et := ErrorType(err)
	switch {
	case excluded(err):
		// Shed or switched off locally: not the dependency's failure.
		op.stats.recordRejected(now)
	case ctx.Err() != nil && !firebreak.Hung(ctx, op.stats.base.Add(time.Duration(start)), op.stats.base.Add(time.Duration(now)),
		firebreak.DefaultHangThreshold, firebreak.DefaultHangBudget):
		// The caller gave up early: nothing is known of the dependency.
		op.stats.recordGaveUp(now)
	default:
		if sc := span.SpanContext(); sc.IsSampled() {
			op.stats.noteFailure(sc.TraceID())
		}
		op.stats.record(now, d, true)
	}
	op.hist.Record(ctx, d.Seconds(), metric.WithAttributes(append(op.attrs[:len(op.attrs):len(op.attrs)], AttrErrorType.String(et))...))
	if span.IsRecording() {
		span.SetAttributes(AttrErrorType.String(et))
		span.SetStatus(codes.Error, err.Error())
		recordException(span, err)
	}
	span.End()
}

// recordException adds the one "exception" event of a failed call. It is kept
// in one place because the span-event API is to be replaced by log-based
// events (OTEP 4430).
func recordException(span trace.Span, err error) { span.RecordError(err) }

// loop runs a function at an interval on one goroutine.
type loop struct {
	mu      sync.Mutex // guards the fields below
	stop    chan struct{}
	done    chan struct{}
	closed  bool
	running bool
}

func (l *loop) start(interval time.Duration, fn func()) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("tracing: Start after Close")
	}
	if l.running {
		return nil
	}
	l.running = true
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(l.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				fn()
			}
		}
	}()
	return nil
}

func (l *loop) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	running := l.running
	l.mu.Unlock()
	if running {
		close(l.stop)
		<-l.done
	}
}
