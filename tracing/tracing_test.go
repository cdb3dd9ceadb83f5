package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/otelattr"
	"github.com/firebreak-go/firebreak/internal/race"
)

// openError stands for a breaker's open-state error, which names its own
// error.type (the breaker package declares the constant).
type openError struct{}

func (openError) Error() string     { return "breaker is open" }
func (openError) ErrorType() string { return "circuit_open" }

func TestErrorType(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errBoom, ErrorTypeOther},
		{context.DeadlineExceeded, ErrorTypeTimeout},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), ErrorTypeTimeout},
		{os.ErrDeadlineExceeded, ErrorTypeTimeout}, // a net.Error that times out
		{context.Canceled, ErrorTypeCanceled},
		{fmt.Errorf("call: %w", openError{}), "circuit_open"},
		{errors.Join(errBoom, openError{}), "circuit_open"},
	} {
		if got := ErrorType(tc.err); got != tc.want {
			t.Errorf("ErrorType(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// newBound returns an Observer bound to c, as a policy used on its own is.
func newBound[T any](c firebreak.Component, opts ...Option) (*Observer[T], error) {
	o, err := New[T](opts...)
	if err != nil {
		return nil, err
	}
	return o, o.Bind(c)
}

func newRecorded(t *testing.T, opts ...Option) (*Observer[string], *tracetest.SpanRecorder, *sdkmetric.ManualReader) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	opts = append([]Option{WithTracerProvider(tp), WithMeterProvider(mp)}, opts...)
	obs, err := newBound[string](firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return obs, sr, reader
}

func TestSpanOutcome(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		wantStatus codes.Code
		wantType   string
	}{
		{"success", nil, codes.Unset, ""},
		{"timeout", fmt.Errorf("db: %w", context.DeadlineExceeded), codes.Error, "timeout"},
		{"canceled", context.Canceled, codes.Error, "canceled"},
		{"typed", openError{}, codes.Error, "circuit_open"},
		{"other", errBoom, codes.Error, "_OTHER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs, sr, reader := newRecorded(t)
			v, err := obs.Execute(context.Background(), func(ctx context.Context) (string, error) {
				if !trace.SpanContextFromContext(ctx).IsValid() {
					t.Error("the call's context carries no span")
				}
				return "v", tc.err
			})
			if v != "v" || err != tc.err {
				t.Errorf("Execute = %q, %v; want the call's own result", v, err)
			}
			spans := sr.Ended()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			s := spans[0]
			if s.Name() != "payments" || s.SpanKind() != trace.SpanKindClient {
				t.Errorf("span %q kind %v, want payments client", s.Name(), s.SpanKind())
			}
			if s.Status().Code != tc.wantStatus {
				t.Errorf("status = %v, want %v", s.Status(), tc.wantStatus)
			}
			attrs := map[attribute.Key]string{}
			for _, kv := range s.Attributes() {
				attrs[kv.Key] = kv.Value.String()
			}
			want := map[attribute.Key]string{AttrComponent: "checkout", AttrDependency: "payments", AttrTier: "core"}
			if tc.wantType != "" {
				want[AttrErrorType] = tc.wantType
			}
			if diff := cmp.Diff(want, attrs); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
			var events []string
			for _, e := range s.Events() {
				events = append(events, e.Name)
			}
			if tc.err == nil && len(events) != 0 || tc.err != nil && (len(events) != 1 || events[0] != "exception") {
				t.Errorf("events = %v", events)
			}
			if tc.err != nil && s.Status().Description != tc.err.Error() {
				t.Errorf("status description = %q", s.Status().Description)
			}

			// The duration histogram carries error.type only on failures.
			var rm metricdata.ResourceMetrics
			if err := reader.Collect(context.Background(), &rm); err != nil {
				t.Fatal(err)
			}
			h := findHistogram(t, rm, MetricCallDuration)
			if len(h.DataPoints) != 1 || h.DataPoints[0].Count != 1 {
				t.Fatalf("histogram points = %+v", h.DataPoints)
			}
			et, ok := h.DataPoints[0].Attributes.Value(AttrErrorType)
			if ok != (tc.wantType != "") || et.AsString() != tc.wantType {
				t.Errorf("histogram error.type = %q (present %v), want %q", et.AsString(), ok, tc.wantType)
			}
			if tier, _ := h.DataPoints[0].Attributes.Value(AttrTier); tier.AsString() != "core" {
				t.Errorf("histogram attributes = %v", h.DataPoints[0].Attributes.ToSlice())
			}
			snap := obs.Snapshot()
			if snap.Requests != 1 || (snap.Errors == 1) != (tc.err != nil) {
				t.Errorf("snapshot = %+v", snap)
			}
		})
	}
}

func findHistogram(t *testing.T, rm metricdata.ResourceMetrics, name string) metricdata.Histogram[float64] {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				if m.Unit != "s" {
					t.Errorf("%s unit = %q, want s", name, m.Unit)
				}
				return m.Data.(metricdata.Histogram[float64])
			}
		}
	}
	t.Fatalf("no %s metric in %+v", name, rm)
	return metricdata.Histogram[float64]{}
}

func TestSpanPanic(t *testing.T) {
	obs, sr, _ := newRecorded(t)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not reach the caller")
			}
		}()
		_, _ = obs.Execute(context.Background(), func(context.Context) (string, error) { panic("bad") })
	}()
	spans := sr.Ended()
	if len(spans) != 1 || spans[0].Status().Code != codes.Error {
		t.Fatalf("spans = %v", spans)
	}
	if obs.Snapshot().Errors != 1 {
		t.Error("the panic was not counted as an error")
	}
}

func TestPipelineBindsObserverOutermost(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	defer tp.Shutdown(context.Background())
	obs, err := New[int](WithTracerProvider(tp), WithSpanName("charge"))
	if err != nil {
		t.Fatal(err)
	}
	var sawSpan bool
	inner := policyFunc[int](func(ctx context.Context, next firebreak.Next[int]) (int, error) {
		sawSpan = trace.SpanFromContext(ctx).IsRecording()
		return next.Call(ctx)
	})
	rec := &firebreak.Recorder{}
	p, err := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "payments", Reporter: rec}, []firebreak.Policy[int]{inner, obs})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Policies()[0]; got != firebreak.Policy[int](obs) {
		t.Errorf("outermost policy = %T, want the observer", got)
	}
	if _, err := p.Execute(context.Background(), func(context.Context) (int, error) { return 1, nil }); err != nil {
		t.Fatal(err)
	}
	if !sawSpan {
		t.Error("the inner policy ran outside the observer's span")
	}
	if spans := sr.Ended(); len(spans) != 1 || spans[0].Name() != "charge" {
		t.Errorf("spans = %v", spans)
	}
}

// The re-bind rule of firebreak.Binding: the same identity is a no-op that
// keeps the first Reporter, another identity is an AlreadyBoundError.
func TestBindRule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		first, second := &firebreak.Recorder{}, &firebreak.Recorder{}
		slo := SLO{Availability: 0.99, Windows: ScaleWindows(WorkbookWindows()[:1], 1.0/60), MinRequests: 10}
		obs, err := New[int](WithSLO(slo))
		if err != nil {
			t.Fatal(err)
		}
		c := firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core, Reporter: first}
		if err := obs.Bind(c); err != nil {
			t.Fatal(err)
		}
		again := c
		again.Reporter = second
		if err := obs.Bind(again); err != nil {
			t.Errorf("binding again to the same identity: %v", err)
		}
		other := firebreak.Component{Name: "checkout", Dependency: "inventory", Tier: firebreak.Core}
		err = obs.Bind(other)
		var abe *firebreak.AlreadyBoundError
		if !errors.Is(err, firebreak.ErrAlreadyBound) || !errors.As(err, &abe) || abe.Bound.Dependency != "payments" {
			t.Errorf("binding to another identity: err = %v, want an AlreadyBoundError naming payments", err)
		}
		if err := obs.Bind(firebreak.Component{}); err == nil || !strings.Contains(err.Error(), "Component.Name") {
			t.Errorf("binding to an invalid component: err = %v", err)
		}
		for range 1200 { // a total outage of 12 s fires the 1m/5s tier (after 8.6 s)
			_, _ = obs.Execute(context.Background(), func(context.Context) (int, error) { return 0, errBoom })
			time.Sleep(10 * time.Millisecond)
		}
		if first.Len() == 0 || second.Len() != 0 {
			t.Errorf("signals: first Reporter %d, second %d; want them all on the first", first.Len(), second.Len())
		}
	})
}

// An unbound Observer works: it traces anonymous spans, counts, and its SLO
// reports to Discard. Binding it later keeps the statistics.
func TestUnboundObserverWorks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sr := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
		defer tp.Shutdown(context.Background())
		obs, err := New[int](WithTracerProvider(tp), WithSLO(SLO{Availability: 0.99, Windows: ScaleWindows(WorkbookWindows()[:1], 1.0/60), MinRequests: 10}))
		if err != nil {
			t.Fatal(err)
		}
		if err := obs.Start(t.Context()); err != nil {
			t.Fatalf("unbound Start: %v", err)
		}
		defer obs.Close(context.Background())
		for range 600 {
			if _, err := obs.Execute(context.Background(), func(context.Context) (int, error) { return 0, errBoom }); err != errBoom {
				t.Fatalf("unbound Execute: err = %v, want the call's", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		spans := sr.Ended()
		if len(spans) != 600 || spans[0].Name() != "call" || spans[0].SpanKind() != trace.SpanKindInternal || len(spans[0].Attributes()) != 1 {
			t.Fatalf("unbound spans: %d, first %q %v %v; want 600 internal spans named call with only error.type",
				len(spans), spans[0].Name(), spans[0].SpanKind(), spans[0].Attributes())
		}
		if snap := obs.Snapshot(); snap.Errors == 0 || obs.Stats() == nil {
			t.Fatalf("unbound statistics: %+v", snap)
		}
		rec := &firebreak.Recorder{}
		if err := obs.Bind(firebreak.Component{Name: "checkout", Dependency: "payments", Reporter: rec}); err != nil {
			t.Fatal(err)
		}
		before := obs.Snapshot().Requests
		_, _ = obs.Execute(context.Background(), func(context.Context) (int, error) { return 0, errBoom })
		if got := obs.Snapshot().Requests; got != before+1 {
			t.Errorf("requests after Bind = %d, want %d: the statistics are kept", got, before+1)
		}
		if last := sr.Ended()[len(sr.Ended())-1]; last.Name() != "payments" || last.SpanKind() != trace.SpanKindClient {
			t.Errorf("span after Bind: %q %v", last.Name(), last.SpanKind())
		}
		time.Sleep(10 * time.Second) // the evaluation goroutine reports the burn, now to rec
		if s, ok := rec.Last(firebreak.KindErrorBudgetBurn); !ok || s.Dependency != "payments" {
			t.Errorf("after Bind, signal %+v (%v), want one for payments", s, ok)
		}
	})
}

type policyFunc[T any] func(context.Context, firebreak.Next[T]) (T, error)

func (f policyFunc[T]) Apply(ctx context.Context, next firebreak.Next[T]) (T, error) {
	return f(ctx, next)
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		opt  Option
		want string
	}{
		{WithSpanName(""), "tracing: WithSpanName: the name is empty"},
		{WithEvaluationInterval(-1), "tracing: WithEvaluationInterval: -1ns is negative"},
		{WithStatsWindow(time.Millisecond), "tracing: WithStatsWindow: 1ms is shorter than the minimum of 6ms"},
		{WithSLO(SLO{}), "tracing: WithSLO: SLO has neither Availability nor Latency objective"},
		{nil, "tracing: New: option 1 is nil"},
	} {
		_, err := New[int](WithTracerProvider(nil), tc.opt)
		if err == nil || err.Error() != tc.want {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
	for _, tc := range []struct {
		opt  HTTPOption
		want string
	}{
		{WithMaxRoutes(0), "tracing: WithMaxRoutes: 0 is less than 1"},
		{WithRoute(nil), "tracing: WithRoute: the function is nil"},
		{nil, "tracing: NewTransport: option 1 is nil"},
	} {
		_, err := NewTransport(nil, firebreak.Component{Name: "c"}, WithPropagators(nil), tc.opt)
		if err == nil || err.Error() != tc.want {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
	if _, err := NewHandler(http.NotFoundHandler(), firebreak.Component{}); err == nil || !strings.Contains(err.Error(), "tracing: NewHandler: firebreak: Component.Name") {
		t.Errorf("NewHandler with no name: err = %v", err)
	}
}

// nil providers and propagators mean the global ones, as in OpenTelemetry's
// contrib packages.
func TestNilProvidersMeanGlobal(t *testing.T) {
	obs, err := New[int](WithTracerProvider(nil), WithMeterProvider(nil))
	if err != nil {
		t.Fatal(err)
	}
	if obs.cfg.tp == nil || obs.cfg.mp == nil {
		t.Error("nil providers were not replaced by the global ones")
	}
	if _, err := NewHandler(http.NotFoundHandler(), firebreak.Component{Name: "c"}, WithPropagators(nil), WithTracerProvider(nil)); err != nil {
		t.Error(err)
	}
}

func TestStartClose(t *testing.T) {
	obs, err := newBound[int](firebreak.Component{Name: "c"}, WithSLO(SLO{Availability: 0.99}))
	if err != nil {
		t.Fatal(err)
	}
	if err := obs.Close(context.Background()); err != nil { // Close without Start
		t.Fatal(err)
	}
	if err := obs.Start(context.Background()); !errors.Is(err, firebreak.ErrClosed) {
		t.Errorf("Start after Close: err = %v, want ErrClosed", err)
	}
	obs2, _ := New[int]()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := obs2.Start(canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("Start(canceled): err = %v", err)
	}
	for range 2 {
		if err := obs2.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := obs2.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// Close honours its context: an evaluation stuck in a Reporter cannot hold
// the caller past its deadline, and the error says so.
func TestCloseHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var fired, block atomic.Bool
		stuck := firebreak.ReporterFunc(func(firebreak.Signal) {
			fired.Store(true)
			if block.Load() {
				<-release
			}
		})
		obs, err := newBound[int](firebreak.Component{Name: "checkout", Dependency: "payments", Reporter: stuck},
			WithSLO(SLO{Availability: 0.99, Windows: ScaleWindows(WorkbookWindows()[:1], 1.0/60), MinRequests: 10}))
		if err != nil {
			t.Fatal(err)
		}
		for !fired.Load() { // an outage, until the burn is reported
			_, _ = obs.Execute(context.Background(), func(context.Context) (int, error) { return 0, errBoom })
			time.Sleep(10 * time.Millisecond)
		}
		block.Store(true)
		if err := obs.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		// The calls stop: the goroutine reports the clear and blocks.
		time.Sleep(10 * time.Second)
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err = obs.Close(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "tracing: Observer: Close: the SLO evaluation is still running") {
			t.Errorf("Close: err = %v", err)
		}
		close(release)
		if err := obs.Close(context.Background()); err != nil {
			t.Errorf("second Close, the Reporter released: %v", err)
		}
	})
}

// TestObserveAddsNoAllocations compares the policy with raw span start and end
// on the same tracer: the policy adds no allocation on the success path.
func TestObserveAddsNoAllocations(t *testing.T) {
	if race.Enabled {
		t.Skip("allocations are not meaningful under the race detector")
	}
	for _, tc := range []struct {
		name string
		tp   trace.TracerProvider
	}{
		{"noop", noop.NewTracerProvider()},
		{"sdk never sample", sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))},
		{"sdk always sample", sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs, err := newBound[int](firebreak.Component{Name: "checkout", Dependency: "payments"}, WithTracerProvider(tc.tp),
				WithSLO(SLO{Availability: 0.999, Latency: 1e9, LatencyTarget: 0.99}))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			fn := func(context.Context) (int, error) { return 1, nil }
			tracer := tc.tp.Tracer("raw")
			opt := trace.WithAttributes(otelattr.Of(firebreak.Component{Name: "checkout", Dependency: "payments"})...)
			raw := testing.AllocsPerRun(500, func() {
				_, span := tracer.Start(ctx, "payments", opt)
				span.End()
			})
			got := testing.AllocsPerRun(500, func() { _, _ = obs.Execute(ctx, fn) })
			t.Logf("observer %v allocs, raw %v", got, raw)
			if got > raw {
				t.Errorf("observer: %v allocs per call, raw span: %v", got, raw)
			}
		})
	}
}

// TestImportsAreLight: the tracing package links the OpenTelemetry API and
// otelhttp, never the SDK, an exporter or gRPC (those are in otelsetup).
func TestImportsAreLight(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH:", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/firebreak-go/firebreak/tracing").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, d := range deps {
		for _, heavy := range []string{"go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/exporters", "go.opentelemetry.io/proto", "google.golang.org/grpc"} {
			if strings.HasPrefix(d, heavy) {
				t.Errorf("tracing depends on %s", d)
			}
		}
	}
	t.Logf("%d packages", len(deps))
}

// TestErrorMessages prints the errors a user of the package sees: each is
// one sentence that names the package and says its cause once.
func TestErrorMessages(t *testing.T) {
	obs, _ := New[int]()
	_ = obs.Bind(firebreak.Component{Name: "checkout", Dependency: "payments"})
	_, errNew := New[int](WithStatsWindow(time.Millisecond))
	_, errNil := NewHandler(http.NotFoundHandler(), firebreak.Component{Name: "c"}, nil)
	_, errComp := NewTransport(nil, firebreak.Component{Tier: 9})
	closed, _ := New[int]()
	_ = closed.Close(context.Background())
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	fresh, _ := New[int]()
	for _, err := range []error{
		errNew,
		errNil,
		errComp,
		obs.Bind(firebreak.Component{Name: "checkout", Dependency: "inventory"}),
		obs.Bind(firebreak.Component{}),
		closed.Start(context.Background()),
		fresh.Start(canceled),
		errPanic,
	} {
		if err == nil {
			t.Fatal("an error case returned nil")
		}
		msg := err.Error()
		t.Log(msg)
		if !strings.HasPrefix(msg, "tracing: ") {
			t.Errorf("%q does not start with the package name", msg)
		}
		if strings.Count(msg, "tracing: ") > 1 {
			t.Errorf("%q names the package twice", msg)
		}
		for _, w := range strings.FieldsFunc(msg, func(r rune) bool { return r == ':' || r == '(' || r == ';' || r == '\n' }) {
			if w = strings.TrimSpace(w); len(w) > 12 && strings.Count(msg, w) > 1 {
				t.Errorf("%q repeats %q", msg, w)
			}
		}
	}
}

// TestDurationIsTheSpans: on an SDK span, which has read the clock at its
// start and end, the observer takes those readings instead of its own, so
// that the duration histogram shows exactly the span's duration, and the
// policies inside get the span's start as their reading of the call's time.
func TestDurationIsTheSpans(t *testing.T) {
	obs, sr, reader := newRecorded(t)
	var inner int64
	probe := policyFunc[string](func(ctx context.Context, next firebreak.Next[string]) (string, error) {
		inner = next.Now()
		return next.Call(ctx)
	})
	p, err := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core},
		[]firebreak.Policy[string]{obs, probe}, firebreak.InGivenOrder())
	if err != nil {
		t.Fatal(err)
	}
	const calls = 50
	for range calls {
		if _, err := p.Execute(context.Background(), func(context.Context) (string, error) { return "ok", nil }); err != nil {
			t.Fatal(err)
		}
	}
	spans := sr.Ended()
	if len(spans) != calls {
		t.Fatalf("%d spans, want %d", len(spans), calls)
	}
	var want time.Duration
	for _, s := range spans {
		want += s.EndTime().Sub(s.StartTime())
	}
	last := spans[calls-1]
	if got := firebreak.TimeOf(inner); !got.Equal(last.StartTime()) || got.Sub(last.StartTime()) != 0 {
		t.Errorf("the inner policy's reading is %v from the span's start, want 0", got.Sub(last.StartTime()))
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	h := durationHistogram(t, rm)
	if h.Count != calls {
		t.Fatalf("histogram count %d, want %d", h.Count, calls)
	}
	// Each call adds d.Seconds() of the span's own duration; the sums
	// agree to float rounding.
	if diff := h.Sum - want.Seconds(); diff > 1e-9 || diff < -1e-9 {
		t.Errorf("histogram sum %.9fs, the spans' durations %.9fs", h.Sum, want.Seconds())
	}
}

// durationHistogram returns the one data point of the duration histogram.
func durationHistogram(t *testing.T, rm metricdata.ResourceMetrics) metricdata.HistogramDataPoint[float64] {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != MetricCallDuration {
				continue
			}
			pts := m.Data.(metricdata.Histogram[float64]).DataPoints
			if len(pts) != 1 {
				t.Fatalf("%d data points, want 1", len(pts))
			}
			return pts[0]
		}
	}
	t.Fatalf("no %s in %+v", MetricCallDuration, rm)
	return metricdata.HistogramDataPoint[float64]{}
}

// datedTracer makes spans whose StartTime and EndTime are dates, with no
// monotonic clock reading, as a hand-made span or a test double has: the
// observer must not take them for readings of its clock.
type datedTracer struct{ noop.Tracer }

type datedSpan struct{ noop.Span }

func (datedSpan) StartTime() time.Time { return time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC) }
func (datedSpan) EndTime() time.Time   { return time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC) }

func (datedTracer) Start(ctx context.Context, _ string, _ ...trace.SpanStartOption) (context.Context, trace.Span) {
	var s trace.Span = datedSpan{}
	return trace.ContextWithSpan(ctx, s), s
}

type datedProvider struct{ noop.TracerProvider }

func (datedProvider) Tracer(string, ...trace.TracerOption) trace.Tracer { return datedTracer{} }

func TestDurationIgnoresForeignSpanTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer mp.Shutdown(context.Background())
		obs, err := newBound[int](firebreak.Component{Name: "checkout", Dependency: "payments"},
			WithTracerProvider(datedProvider{}), WithMeterProvider(mp))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := obs.Execute(context.Background(), func(context.Context) (int, error) {
			time.Sleep(40 * time.Millisecond) // virtual time
			return 1, nil
		}); err != nil {
			t.Fatal(err)
		}
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		if h := durationHistogram(t, rm); h.Count != 1 || h.Sum != 0.04 {
			t.Errorf("histogram count %d sum %vs, want 1 call of 0.04s", h.Count, h.Sum)
		}
	})
}
