package drill_test

import (
	"context"
	"errors"
	"testing"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/drill"
)

// BenchmarkUnarmed: the cost of an unarmed injector on a normal call, next
// to the bare call in the same run.
func BenchmarkUnarmed(b *testing.B) {
	in, _ := drill.NewInjector("idle", drill.Error(errors.New("never")))
	pol, _ := drill.NewPolicy[int](in)
	fn := func(context.Context) (int, error) { return 1, nil }
	next := firebreak.Call(fn)
	ctx := context.Background()
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			next.Call(ctx)
		}
	})
	b.Run("unarmed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pol.Apply(ctx, next)
		}
	})
	b.Run("bare-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				next.Call(ctx)
			}
		})
	})
	b.Run("unarmed-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				pol.Apply(ctx, next)
			}
		})
	})
}
