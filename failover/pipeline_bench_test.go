package failover_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/failover"
	"github.com/firebreak-go/firebreak/internal/race"
	"github.com/firebreak-go/firebreak/tracing"
)

// BenchmarkPipeline compares a successful call through raw gobreaker with the
// same call through a firebreak pipeline of observe (tracing, on the
// OpenTelemetry no-op tracer provider, keeping its RED statistics) →
// fallback → retry → breaker. Metrics go to the global MeterProvider, the
// no-op default here.
func BenchmarkPipeline(b *testing.B) {
	ctx := context.Background()
	call := func(context.Context) (int, error) { return 1, nil }
	b.Run("gobreaker", func(b *testing.B) {
		cb := rawBreaker()
		fn := func() (int, error) { return call(ctx) }
		b.Run("serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cb.Execute(fn); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, _ = cb.Execute(fn)
				}
			})
		})
	})
	b.Run("firebreak", func(b *testing.B) {
		p := benchPipeline(b)
		b.Run("serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Execute(ctx, call); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, _ = p.Execute(ctx, call)
				}
			})
		})
	})
}

func benchPipeline(b testing.TB) *firebreak.Pipeline[int] {
	b.Helper()
	obs, err := tracing.New[int](tracing.WithTracerProvider(noop.NewTracerProvider()))
	if err != nil {
		b.Fatal(err)
	}
	fb, err := failover.NewFallback(failover.Static(0))
	if err != nil {
		b.Fatal(err)
	}
	retry, err := failover.NewRetry[int]()
	if err != nil {
		b.Fatal(err)
	}
	br, err := breaker.New[int]()
	if err != nil {
		b.Fatal(err)
	}
	p, err := firebreak.NewPipeline(firebreak.Component{Name: "bench", Dependency: "dep"},
		[]firebreak.Policy[int]{br, retry, fb, obs})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// TestBenchPipelineDoesNotAllocate: a successful call through the
// benchmark's pipeline (observe on the no-op tracer provider → fallback →
// retry → breaker) makes no allocation.
func TestBenchPipelineDoesNotAllocate(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	p := benchPipeline(t)
	ctx := context.Background()
	call := func(context.Context) (int, error) { return 1, nil }
	if n := testing.AllocsPerRun(1000, func() { _, _ = p.Execute(ctx, call) }); n != 0 {
		t.Fatalf("a call through the pipeline allocated %v times, want 0", n)
	}
}

// rawBreaker is raw gobreaker with the settings firebreak's breaker defaults
// to, for the benchmarks' side-by-side runs.
func rawBreaker() *gobreaker.CircuitBreaker[int] {
	return gobreaker.NewCircuitBreaker[int](gobreaker.Settings{
		Name:         "bench",
		MaxRequests:  breaker.DefaultHalfOpenCalls,
		Interval:     breaker.DefaultWindow,
		BucketPeriod: breaker.DefaultBucket,
		Timeout:      breaker.DefaultOpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			n := c.TotalSuccesses + c.TotalFailures
			return c.ConsecutiveFailures >= breaker.DefaultConsecutiveFailures ||
				n >= breaker.DefaultMinCalls && float64(c.TotalFailures) >= breaker.DefaultFailureRatio*float64(n)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
	})
}
