package tracing

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/otelattr"
)

// ScopeName is the instrumentation scope of firebreak's tracer and meter.
const ScopeName = "github.com/firebreak-go/firebreak/tracing"

// Attribute keys set on spans and on the duration histogram. The identity
// keys are those of every firebreak package (internal/otelattr).
const (
	AttrComponent  = otelattr.Component
	AttrDependency = otelattr.Dependency
	AttrTier       = otelattr.Tier
	AttrErrorType  = attribute.Key("error.type")
)

// MetricCallDuration is the name of the call-duration histogram (unit "s").
const MetricCallDuration = "firebreak.call.duration"

// Observer is the observing policy: it runs each call in a span, records its
// duration and outcome, keeps RED statistics and watches an optional SLO. It
// implements [firebreak.Policy], [firebreak.Binder] and [firebreak.Staged]
// (it belongs outermost, at [firebreak.StageObserve], so that it sees every
// call as the caller does). It is safe for concurrent use.
type Observer[T any] struct {
	cfg   config
	bind  firebreak.Binding
	stats *Stats                    // from New on; the SLO reports through bind
	hist  metric.Float64Histogram   // firebreak.call.duration
	op    atomic.Pointer[operation] // the unbound operation until the first Bind
	loop  loop
}

var (
	_ firebreak.Policy[int] = (*Observer[int])(nil)
	_ firebreak.Binder      = (*Observer[int])(nil)
	_ firebreak.Staged      = (*Observer[int])(nil)
)

// unboundSpanName names the spans of an unbound Observer without WithSpanName.
const unboundSpanName = "call"

// New returns an Observer. It takes its identity from [Observer.Bind], which
// a pipeline calls. Until then it works, anonymously: its spans are named
// "call" (or by [WithSpanName]) and carry no identity attributes, its
// statistics count, and its SLO signals go to [firebreak.Discard].
func New[T any](opts ...Option) (*Observer[T], error) {
	cfg, err := observerConfig(opts)
	if err != nil {
		return nil, err
	}
	o := &Observer[T]{cfg: cfg}
	if o.stats, err = newOperationStats(&o.bind, &o.cfg, nil); err != nil {
		return nil, err
	}
	o.hist, err = cfg.mp.Meter(ScopeName).Float64Histogram(MetricCallDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of calls through firebreak observers."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err != nil {
		return nil, fmt.Errorf("tracing: New: creating the %s histogram: %w", MetricCallDuration, err)
	}
	o.op.Store(o.newOperation(firebreak.Component{}))
	return o, nil
}

// Bind implements [firebreak.Binder] with the rule of [firebreak.Binding]:
// the first Bind fixes the identity (the span name, kind and attributes, and
// where the SLO reports); binding again to the same identity does nothing
// and keeps the first Reporter; binding to another identity is an
// [*firebreak.AlreadyBoundError], since the observer's statistics and SLO
// belong to one operation. The statistics of calls made before the first
// Bind are kept.
func (o *Observer[T]) Bind(c firebreak.Component) error {
	name := "tracing: Observer"
	if o.cfg.spanName != "" {
		name += fmt.Sprintf(" %q", o.cfg.spanName)
	}
	first, err := o.bind.Bind(name, c)
	if err != nil || !first {
		return err
	}
	o.op.Store(o.newOperation(o.bind.Component()))
	return nil
}

// Stage implements [firebreak.Staged].
func (o *Observer[T]) Stage() firebreak.Stage { return firebreak.StageObserve }

// Apply implements [firebreak.Policy]: it runs next in a span and records the
// outcome.
func (o *Observer[T]) Apply(ctx context.Context, next firebreak.Next[T]) (T, error) {
	op := o.op.Load()
	var span trace.Span // nil: no span (the no-op provider)
	var timed spanTimes // the span's own clock readings, when it has them
	start := int64(0)
	if op.spans {
		ctx, span = op.tracer.Start(ctx, op.spanName, op.startOpts...)
		// An SDK span has read the clock already: its start and end are
		// the call's, and two readings of ours are saved.
		if timed, _ = span.(spanTimes); timed != nil {
			if start = op.stats.offsetOf(timed.StartTime()); start == 0 {
				timed = nil
			}
		}
	}
	var now int64
	if timed != nil {
		now = op.stats.readingAt(start)
	} else {
		// One monotonic clock read (time.Now reads two), or the reading
		// of a policy outside; it is passed on to the policies inside.
		now = next.Now()
		start = op.stats.offsetAt(now)
	}
	done := false
	defer func() {
		if !done { // next panicked: record it and let the panic go on
			op.end(ctx, span, nil, start, errPanic)
		}
	}()
	v, err := next.At(now).Call(ctx)
	done = true
	op.end(ctx, span, timed, start, err)
	return v, err
}

// spanTimes is what a span of the OpenTelemetry SDK tells of its own clock
// readings (its sdktrace.ReadOnlySpan side).
type spanTimes interface {
	StartTime() time.Time
	EndTime() time.Time
}

// Execute runs fn under the observer, as a policy used on its own.
func (o *Observer[T]) Execute(ctx context.Context, fn firebreak.Func[T]) (T, error) {
	return o.Apply(ctx, firebreak.Call(fn))
}

// Snapshot returns the RED statistics over the rolling window.
func (o *Observer[T]) Snapshot() Snapshot { return o.stats.Snapshot() }

// Stats returns the observer's statistics.
func (o *Observer[T]) Stats() *Stats { return o.stats }

// Start starts a goroutine that evaluates the SLO at the evaluation
// interval, so that an alert clears when calls stop. Without Start, burn
// rates are evaluated on the calls themselves (at most once per interval, on
// the call that finds the evaluation due): everything works, but an alert
// cannot clear while no call arrives. Start returns at once; calling it
// again does nothing; after Close it returns an error wrapping
// [firebreak.ErrClosed].
func (o *Observer[T]) Start(ctx context.Context) error {
	return o.loop.start(ctx, "Observer", o.stats.pollInterval(), o.stats.poll)
}

// Close stops the goroutine started by Start and waits for it within ctx; an
// evaluation in progress may be blocked in the Reporter, and then Close
// returns an error wrapping ctx.Err(). Close is idempotent, and Close
// without Start is fine.
func (o *Observer[T]) Close(ctx context.Context) error { return o.loop.close(ctx, "Observer") }

// operation is what an Observer knows of its identity: the span and metric
// settings of its calls. It is replaced on the first Bind.
type operation struct {
	tracer    trace.Tracer
	spanName  string
	startOpts []trace.SpanStartOption
	hist      metric.Float64Histogram
	attrs     []attribute.KeyValue  // metric attributes of every call
	okOpts    []metric.RecordOption // metric options of a successful call
	stats     *Stats
	// spans is false when the tracer provider is OpenTelemetry's no-op
	// one: then the observer starts no span (which would cost a context
	// allocation for nothing) and keeps only its statistics and metrics.
	spans bool
	// metrics is false when the duration histogram is OpenTelemetry's
	// no-op one: then the observer records nothing into it.
	metrics bool
}

// durationBuckets are the histogram boundaries in seconds (those the
// OpenTelemetry HTTP conventions advise).
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// newOperation returns the operation of identity c; the zero Component is
// the unbound identity, with no attributes.
func (o *Observer[T]) newOperation(c firebreak.Component) *operation {
	op := &operation{stats: o.stats, hist: o.hist, spanName: o.cfg.spanName, tracer: o.cfg.tp.Tracer(ScopeName)}
	switch o.cfg.tp.(type) {
	case noop.TracerProvider, *noop.TracerProvider:
	default:
		op.spans = true
	}
	switch o.hist.(type) {
	case metricnoop.Float64Histogram, *metricnoop.Float64Histogram:
	default:
		op.metrics = true
	}
	kind := trace.SpanKindInternal
	switch {
	case c.Name == "":
		if op.spanName == "" {
			op.spanName = unboundSpanName
		}
	case c.Dependency != "":
		kind = trace.SpanKindClient
		fallthrough
	default:
		op.attrs = otelattr.Of(c)
		if op.spanName == "" {
			op.spanName = cmp.Or(c.Dependency, c.Name)
		}
	}
	op.startOpts = []trace.SpanStartOption{trace.WithAttributes(op.attrs...), trace.WithSpanKind(kind)}
	op.okOpts = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(op.attrs...))}
	return op
}

// newOperationStats returns the statistics of one operation, with a burn
// detector reporting through b when cfg has an SLO.
func newOperationStats(b *firebreak.Binding, cfg *config, labels map[string]string) (*Stats, error) {
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
		d.bind, d.labels = b, labels
		s.detector = d
		s.nextEval = d.interval
		s.next.Store(min(s.slotEnd, s.nextEval))
	}
	return s, nil
}

// end records the outcome of a call that started at offset start. When
// timed is not nil, it is span, and start is its start time: a successful
// call then ends at the span's end time.
func (op *operation) end(ctx context.Context, span trace.Span, timed spanTimes, start int64, err error) {
	if err == nil {
		var now int64
		if timed != nil {
			span.End()
			// The span's start had a monotonic reading, so its end
			// has one too: the SDK ends a span at its start plus the
			// time since.
			if et := timed.EndTime(); !et.IsZero() {
				now = int64(et.Sub(op.stats.base))
			}
		}
		if now == 0 {
			now = op.stats.offset()
		}
		d := time.Duration(now - start)
		op.stats.record(now, d, false)
		if op.metrics {
			op.hist.Record(ctx, d.Seconds(), op.okOpts...)
		}
		if span != nil && timed == nil {
			span.End()
		}
		return
	}
	now := op.stats.offset()
	d := time.Duration(now - start)
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
		sc := trace.SpanContextFromContext(ctx) // the caller's, without a span of ours
		if span != nil {
			sc = span.SpanContext()
		}
		if sc.IsSampled() {
			op.stats.noteFailure(sc.TraceID())
		}
		op.stats.record(now, d, true)
	}
	if op.metrics {
		op.hist.Record(ctx, d.Seconds(), metric.WithAttributes(append(op.attrs[:len(op.attrs):len(op.attrs)], AttrErrorType.String(et))...))
	}
	if span == nil {
		return
	}
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

// loop runs a function at an interval on one goroutine: the background work
// of an Observer, a Handler and a Transport.
type loop struct {
	mu      sync.Mutex // guards the fields below
	stop    chan struct{}
	done    chan struct{}
	closed  bool
	running bool
}

// start starts the goroutine; who names the type in errors.
func (l *loop) start(ctx context.Context, who string, interval time.Duration, fn func()) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return fmt.Errorf("tracing: %s: Start after Close: %w", who, firebreak.ErrClosed)
	case l.running:
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("tracing: %s: Start: %w", who, err)
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

// close stops the goroutine and waits for it within ctx.
func (l *loop) close(ctx context.Context, who string) error {
	l.mu.Lock()
	if !l.closed && l.running {
		close(l.stop)
	}
	l.closed = true
	done := l.done
	l.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("tracing: %s: Close: the SLO evaluation is still running (its Reporter may be blocked): %w", who, ctx.Err())
	}
}
