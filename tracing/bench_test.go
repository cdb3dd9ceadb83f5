package tracing

import (
	"context"
	"runtime/debug"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/otelattr"
)

// discardExporter drops every span, so that the benchmarks measure the
// instrumentation and the batch processor, not an exporter.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkObserve compares raw span start and end ("otel") with the
// observing policy ("firebreak": span, duration histogram on a no-op meter,
// RED statistics and a workbook SLO), on one SDK tracer provider that samples
// everything into a batch processor with a discarding exporter.
func BenchmarkObserve(b *testing.B) { benchObserve(b, sdktrace.AlwaysSample(), true) }

// BenchmarkObserveNoProcessor is BenchmarkObserve on a provider with no span
// processor: spans are recorded and dropped when they end, so that the
// observer's own cost stands out from the batch processor's and the
// collector's noise.
func BenchmarkObserveNoProcessor(b *testing.B) { benchObserve(b, sdktrace.AlwaysSample(), false) }

// BenchmarkObserveUnsampled is BenchmarkObserve with a sampler that samples
// nothing: what instrumentation costs on calls that are not traced.
func BenchmarkObserveUnsampled(b *testing.B) { benchObserve(b, sdktrace.NeverSample(), true) }

func benchObserve(b *testing.B, sampler sdktrace.Sampler, batch bool) {
	comp := firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core}
	ctx := context.Background()
	// Each leaf benchmark gets a fresh provider and batch processor, so that
	// none inherits another's queue or heap.
	raw := func(tp trace.TracerProvider) func() {
		tracer := tp.Tracer("raw")
		opts := []trace.SpanStartOption{trace.WithAttributes(otelattr.Of(comp)...), trace.WithSpanKind(trace.SpanKindClient)}
		return func() {
			_, span := tracer.Start(ctx, "payments", opts...)
			span.End()
		}
	}
	policy := func(tp trace.TracerProvider) func() {
		obs, err := newBound[int](comp, WithTracerProvider(tp), WithMeterProvider(metricnoop.NewMeterProvider()),
			WithSLO(SLO{Availability: 0.999, Latency: 300 * time.Millisecond, LatencyTarget: 0.99}))
		if err != nil {
			b.Fatal(err)
		}
		fn := func(context.Context) (int, error) { return 1, nil }
		return func() { _, _ = obs.Execute(ctx, fn) }
	}
	for _, bm := range []struct {
		name string
		make func(trace.TracerProvider) func()
	}{{"otel", raw}, {"firebreak", policy}} {
		b.Run(bm.name, func(b *testing.B) {
			prepare := func(b *testing.B) func() {
				opts := []sdktrace.TracerProviderOption{sdktrace.WithSampler(sampler)}
				if batch {
					opts = append(opts, sdktrace.WithBatcher(discardExporter{}))
				}
				tp := sdktrace.NewTracerProvider(opts...)
				b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
				f := bm.make(tp)
				debug.FreeOSMemory() // start each from the same heap state
				b.ReportAllocs()
				b.ResetTimer()
				return f
			}
			b.Run("serial", func(b *testing.B) {
				f := prepare(b)
				for b.Loop() {
					f()
				}
			})
			b.Run("parallel", func(b *testing.B) {
				f := prepare(b)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						f()
					}
				})
			})
		})
	}
}

// BenchmarkRecord measures the RED statistics alone, with an SLO's latency
// threshold so that the slow-call counter is exercised too.
func BenchmarkRecord(b *testing.B) {
	cfg, err := observerConfig([]Option{WithSLO(SLO{Availability: 0.999, Latency: 300 * time.Millisecond, LatencyTarget: 0.99})})
	if err != nil {
		b.Fatal(err)
	}
	s, err := newOperationStats(new(firebreak.Binding), &cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	durations := [8]time.Duration{2 * time.Millisecond, 3 * time.Millisecond, 5 * time.Millisecond, 8 * time.Millisecond,
		13 * time.Millisecond, 21 * time.Millisecond, 34 * time.Millisecond, 400 * time.Millisecond}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			s.Record(durations[i&7], i&63 == 0)
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				s.Record(durations[i&7], i&63 == 0)
				i++
			}
		})
	})
}
