package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

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
)

type openError struct{}

func (openError) Error() string     { return "breaker is open" }
func (openError) ErrorType() string { return ErrorTypeCircuitOpen }

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
		{fmt.Errorf("call: %w", openError{}), ErrorTypeCircuitOpen},
		{errors.Join(errBoom, openError{}), ErrorTypeCircuitOpen},
	} {
		if got := ErrorType(tc.err); got != tc.want {
			t.Errorf("ErrorType(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
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
	opts = append([]Option{
		WithComponent(firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core}),
		WithTracerProvider(tp), WithMeterProvider(mp),
	}, opts...)
	obs, err := New[string](opts...)
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
	if _, err := obs.Execute(context.Background(), func(context.Context) (int, error) { return 1, nil }); !errors.Is(err, ErrNotBound) {
		t.Fatalf("unbound Execute: err = %v, want ErrNotBound", err)
	}
	if err := obs.Start(); !errors.Is(err, ErrNotBound) {
		t.Fatalf("unbound Start: err = %v", err)
	}
	var sawSpan bool
	inner := policyFunc[int](func(ctx context.Context, next firebreak.Next[int]) (int, error) {
		sawSpan = trace.SpanFromContext(ctx).IsRecording()
		return next.Call(ctx)
	})
	p, err := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "payments"}, []firebreak.Policy[int]{inner, obs})
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
	if err := obs.Bind(firebreak.Component{Name: "checkout", Dependency: "payments"}); err != nil {
		t.Errorf("rebinding to the same component: %v", err)
	}
	if err := obs.Bind(firebreak.Component{Name: "other"}); err == nil {
		t.Error("binding to a second component succeeded")
	}
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
		{WithComponent(firebreak.Component{}), "Component.Name"},
		{WithTracerProvider(nil), "WithTracerProvider"},
		{WithMeterProvider(nil), "WithMeterProvider"},
		{WithPropagators(nil), "WithPropagators"},
		{WithSpanName(""), "WithSpanName"},
		{WithEvaluationInterval(-1), "WithEvaluationInterval"},
		{WithMaxRoutes(0), "WithMaxRoutes"},
		{WithRoute(nil), "WithRoute"},
		{nil, "nil Option"},
	} {
		_, err := New[int](tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want one naming %s", err, tc.want)
		}
	}
}

func TestStartClose(t *testing.T) {
	obs, err := New[int](WithComponent(firebreak.Component{Name: "c"}), WithSLO(SLO{Availability: 0.99}))
	if err != nil {
		t.Fatal(err)
	}
	if err := obs.Close(); err != nil { // Close without Start
		t.Fatal(err)
	}
	if err := obs.Start(); err == nil {
		t.Error("Start after Close succeeded")
	}
	obs2, _ := New[int](WithComponent(firebreak.Component{Name: "c"}))
	for range 2 {
		if err := obs2.Start(); err != nil {
			t.Fatal(err)
		}
	}
	obs2.Close()
	obs2.Close()
}

// TestObserveAddsNoAllocations compares the policy with raw span start and end
// on the same tracer: the policy adds no allocation on the success path.
func TestObserveAddsNoAllocations(t *testing.T) {
	if raceEnabled {
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
			obs, err := New[int](WithComponent(firebreak.Component{Name: "checkout", Dependency: "payments"}), WithTracerProvider(tc.tp),
				WithSLO(SLO{Availability: 0.999, Latency: 1e9, LatencyTarget: 0.99}))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			fn := func(context.Context) (int, error) { return 1, nil }
			tracer := tc.tp.Tracer("raw")
			opt := trace.WithAttributes(componentAttrs(firebreak.Component{Name: "checkout", Dependency: "payments"})...)
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
