package breaker

import (
	"context"
	"errors"
	"testing"

	"github.com/firebreak-go/firebreak"
	"github.com/sony/gobreaker/v2"
)

// The benchmarks compare firebreak's breaker with raw gobreaker under
// equivalent settings: the default rolling window and buckets, open timeout,
// one half-open trial call, and the default trip rules. Metrics go to the global
// MeterProvider, which is OpenTelemetry's no-op default in these benchmarks.

func benchSettings() gobreaker.Settings {
	return gobreaker.Settings{
		Name:         "bench",
		MaxRequests:  DefaultHalfOpenCalls,
		Interval:     DefaultWindow,
		BucketPeriod: DefaultBucket,
		Timeout:      DefaultOpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			n := c.TotalSuccesses + c.TotalFailures
			if n < DefaultMinCalls {
				return c.ConsecutiveFailures >= DefaultConsecutiveFailures
			}
			return float64(c.TotalFailures) >= DefaultFailureRatio*float64(n)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
	}
}

func benchBreaker(b *testing.B) *Breaker[int] {
	return newBound(b, firebreak.Component{Name: "bench", Dependency: "dep"})
}

func okCall(context.Context) (int, error) { return 1, nil }

var errBench = errors.New("bench failure")

func BenchmarkExecute(b *testing.B) {
	ctx := context.Background()
	b.Run("gobreaker", func(b *testing.B) {
		cb := gobreaker.NewCircuitBreaker[int](benchSettings())
		fn := func() (int, error) { return okCall(ctx) }
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
					if _, err := cb.Execute(fn); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	})
	b.Run("firebreak", func(b *testing.B) {
		br := benchBreaker(b)
		b.Run("serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := br.Execute(ctx, okCall); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := br.Execute(ctx, okCall); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	})
}

func BenchmarkExecuteOpen(b *testing.B) {
	ctx := context.Background()
	b.Run("gobreaker", func(b *testing.B) {
		cb := gobreaker.NewCircuitBreaker[int](benchSettings())
		for range DefaultConsecutiveFailures {
			_, _ = cb.Execute(func() (int, error) { return 0, errBench })
		}
		if cb.State() != gobreaker.StateOpen {
			b.Fatal("gobreaker not open")
		}
		fn := func() (int, error) { return okCall(ctx) }
		b.Run("serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cb.Execute(fn); err == nil {
					b.Fatal("not rejected")
				}
			}
		})
		b.Run("parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := cb.Execute(fn); err == nil {
						b.Fatal("not rejected")
					}
				}
			})
		})
	})
	b.Run("firebreak", func(b *testing.B) {
		br := benchBreaker(b)
		for range DefaultConsecutiveFailures {
			_, _ = br.Execute(ctx, func(context.Context) (int, error) { return 0, errBench })
		}
		if br.State() != StateOpen {
			b.Fatal("breaker not open")
		}
		b.Run("serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := br.Execute(ctx, okCall); err == nil {
					b.Fatal("not rejected")
				}
			}
		})
		b.Run("parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := br.Execute(ctx, okCall); err == nil {
						b.Fatal("not rejected")
					}
				}
			})
		})
	})
}

// BenchmarkGroupExecute measures the keyed group's lookup on top of a call.
func BenchmarkGroupExecute(b *testing.B) {
	ctx := context.Background()
	g, err := NewGroup[string, int](64)
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = string(rune('a' + i))
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := g.Execute(ctx, keys[i%len(keys)], okCall); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := g.Execute(ctx, keys[i%len(keys)], okCall); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
}
