package failover

import (
	"context"
	"testing"
	"time"
)

// BenchmarkBulkhead compares admitting and releasing a call through a
// buffered-channel semaphore and through a Bulkhead of the same size.
func BenchmarkBulkhead(b *testing.B) {
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	const size = 1 << 20
	b.Run("chan", func(b *testing.B) {
		b.ReportAllocs()
		sem := make(chan struct{}, size)
		for b.Loop() {
			select {
			case sem <- struct{}{}:
				v, _ := fn(ctx)
				sink += v
				<-sem
			default:
			}
		}
	})
	b.Run("firebreak", func(b *testing.B) {
		b.ReportAllocs()
		bh, _ := NewBulkhead[int](size)
		for b.Loop() {
			v, _ := bh.Execute(ctx, fn)
			sink += v
		}
	})
	b.Run("chan_parallel", func(b *testing.B) {
		b.ReportAllocs()
		sem := make(chan struct{}, size)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				select {
				case sem <- struct{}{}:
					_, _ = fn(ctx)
					<-sem
				default:
				}
			}
		})
	})
	b.Run("firebreak_parallel", func(b *testing.B) {
		b.ReportAllocs()
		bh, _ := NewBulkhead[int](size)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = bh.Execute(ctx, fn)
			}
		})
	})
	b.Run("firebreak_queue", func(b *testing.B) {
		b.ReportAllocs()
		bh, _ := NewBulkhead[int](size, WithQueue(16, time.Second))
		for b.Loop() {
			v, _ := bh.Execute(ctx, fn)
			sink += v
		}
	})
}

// BenchmarkHedge compares a bare call with the same call through a Hedge
// when it answers before the hedge delay (the common case).
func BenchmarkHedge(b *testing.B) {
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, _ := fn(ctx)
			sink += v
		}
	})
	b.Run("firebreak", func(b *testing.B) {
		b.ReportAllocs()
		h, _ := NewHedge[int](time.Second, WithIdempotent())
		for b.Loop() {
			v, _ := h.Execute(ctx, fn)
			sink += v
		}
	})
	b.Run("direct_parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = fn(ctx)
			}
		})
	})
	b.Run("firebreak_parallel", func(b *testing.B) {
		b.ReportAllocs()
		h, _ := NewHedge[int](time.Second, WithIdempotent())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = h.Execute(ctx, fn)
			}
		})
	})
}

// BenchmarkAdaptiveLimiter compares a bare call with the same call admitted
// and released by an AdaptiveLimiter (latency sampled, limit recomputed
// every window).
func BenchmarkAdaptiveLimiter(b *testing.B) {
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, _ := fn(ctx)
			sink += v
		}
	})
	b.Run("firebreak", func(b *testing.B) {
		b.ReportAllocs()
		l, _ := NewAdaptiveLimiter[int](WithLimits(1000, 1, 1000))
		for b.Loop() {
			v, _ := l.Execute(ctx, fn)
			sink += v
		}
	})
	b.Run("direct_parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = fn(ctx)
			}
		})
	})
	b.Run("firebreak_parallel", func(b *testing.B) {
		b.ReportAllocs()
		l, _ := NewAdaptiveLimiter[int](WithLimits(1000, 1, 1000))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = l.Execute(ctx, fn)
			}
		})
	})
}
