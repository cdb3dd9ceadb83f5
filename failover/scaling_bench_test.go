package failover_test

import (
	"context"
	"testing"
)

// BenchmarkPipelineScaling reports the throughput of successful calls, raw
// gobreaker and the pipeline of BenchmarkPipeline (observe on the no-op
// tracer provider → fallback → retry → breaker) side by side, as ops/s over
// all goroutines. Run it with -cpu 1,2: a path that scales reports about
// twice the ops/s at -cpu 2, one that serialises on a lock the same or less.
// On a machine shared with other work the second core is not always there to
// be had: compare the two in the same run.
func BenchmarkPipelineScaling(b *testing.B) {
	ctx := context.Background()
	call := func(context.Context) (int, error) { return 1, nil }
	b.Run("gobreaker", func(b *testing.B) {
		cb := rawBreaker()
		fn := func() (int, error) { return call(ctx) }
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = cb.Execute(fn)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
	b.Run("firebreak", func(b *testing.B) {
		p := benchPipeline(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = p.Execute(ctx, call)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
}
