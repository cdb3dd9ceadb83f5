package breaker

import (
	"context"
	"testing"

	"github.com/sony/gobreaker/v2"
)

// BenchmarkScaling reports the throughput of successful calls in the closed
// state, raw gobreaker and firebreak side by side, as ops/s over all
// goroutines. Run it with -cpu 1,2 (or more): a path that scales reports
// about twice the ops/s at -cpu 2, one that serialises on a lock the same or
// less. On a machine shared with other work the second core is not always
// there to be had: compare the two implementations in the same run.
func BenchmarkScaling(b *testing.B) {
	ctx := context.Background()
	b.Run("gobreaker", func(b *testing.B) {
		cb := gobreaker.NewCircuitBreaker[int](benchSettings())
		fn := func() (int, error) { return okCall(ctx) }
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = cb.Execute(fn)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
	b.Run("firebreak", func(b *testing.B) {
		br := benchBreaker(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = br.Execute(ctx, okCall)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
}
