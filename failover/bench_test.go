package failover

import (
	"context"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"golang.org/x/time/rate"
)

var sink int

// BenchmarkRetry compares a first attempt that succeeds under the raw
// backoff.Retry (with a reused backoff) and under a firebreak Retry with its
// default budget.
func BenchmarkRetry(b *testing.B) {
	ctx := context.Background()
	b.Run("backoff", func(b *testing.B) {
		b.ReportAllocs()
		bo := backoff.NewExponentialBackOff()
		op := func() error { sink++; return nil }
		for b.Loop() {
			_ = backoff.Retry(op, bo)
		}
	})
	b.Run("firebreak", func(b *testing.B) {
		b.ReportAllocs()
		r, err := NewRetry[int]()
		if err != nil {
			b.Fatal(err)
		}
		fn := func(context.Context) (int, error) { return 1, nil }
		for b.Loop() {
			v, _ := r.Execute(ctx, fn)
			sink += v
		}
	})
	b.Run("backoff_parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			bo := backoff.NewExponentialBackOff() // not safe for concurrent use: one each
			op := func() error { return nil }
			for pb.Next() {
				_ = backoff.Retry(op, bo)
			}
		})
	})
	b.Run("firebreak_parallel", func(b *testing.B) {
		b.ReportAllocs()
		r, _ := NewRetry[int]()
		fn := func(context.Context) (int, error) { return 1, nil }
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = r.Execute(ctx, fn)
			}
		})
	})
}

// BenchmarkShed compares admitting a call with a raw token bucket and with a
// firebreak Shedder (token bucket with a critical reserve, priority from the
// context), around the same call.
func BenchmarkShed(b *testing.B) {
	ctx := context.Background()
	const limit, burst = 1e9, 1 << 30
	fn := func(context.Context) (int, error) { return 1, nil }
	raw := func(lim *rate.Limiter) {
		if lim.Allow() {
			v, _ := fn(ctx)
			sink += v
		}
	}
	b.Run("rate", func(b *testing.B) {
		b.ReportAllocs()
		lim := rate.NewLimiter(limit, burst)
		for b.Loop() {
			raw(lim)
		}
	})
	b.Run("firebreak", func(b *testing.B) {
		b.ReportAllocs()
		s, err := NewShedder(limit, burst)
		if err != nil {
			b.Fatal(err)
		}
		p, _ := NewShed[int](s)
		for b.Loop() {
			v, _ := p.Execute(ctx, fn)
			sink += v
		}
	})
	b.Run("rate_parallel", func(b *testing.B) {
		b.ReportAllocs()
		lim := rate.NewLimiter(limit, burst)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if lim.Allow() {
					_, _ = fn(ctx)
				}
			}
		})
	})
	b.Run("firebreak_parallel", func(b *testing.B) {
		b.ReportAllocs()
		s, _ := NewShedder(limit, burst)
		p, _ := NewShed[int](s)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = p.Execute(ctx, fn)
			}
		})
	})
	// With a concurrency limit as well: what the rate benchmark does not do.
	b.Run("firebreak_concurrency", func(b *testing.B) {
		b.ReportAllocs()
		s, _ := NewShedder(limit, burst, WithMaxConcurrent(1000))
		p, _ := NewShed[int](s)
		for b.Loop() {
			v, _ := p.Execute(ctx, fn)
			sink += v
		}
	})
}

// BenchmarkPolicies measures the success path of the other policies against
// a direct call, for reference.
func BenchmarkPolicies(b *testing.B) {
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	run := func(b *testing.B, exec func() (int, error)) {
		b.ReportAllocs()
		for b.Loop() {
			v, _ := exec()
			sink += v
		}
	}
	b.Run("direct", func(b *testing.B) { run(b, func() (int, error) { return fn(ctx) }) })
	fb, _ := NewFallback(Static(0))
	b.Run("fallback", func(b *testing.B) { run(b, func() (int, error) { return fb.Execute(ctx, fn) }) })
	lg, _ := NewFallback(Static(0), WithLastGood(time.Minute, SharedLastGood))
	b.Run("fallback_last_good", func(b *testing.B) { run(b, func() (int, error) { return lg.Execute(ctx, fn) }) })
	d, _ := NewDegrader(WithSwitches("feature"))
	g, _ := NewGate[int](d, "feature", ModeDegraded)
	b.Run("gate", func(b *testing.B) { run(b, func() (int, error) { return g.Execute(ctx, fn) }) })
	fo, _ := NewFailover[int]([]Endpoint{{Name: "primary"}, {Name: "standby"}})
	efn := func(context.Context, Endpoint) (int, error) { return 1, nil }
	b.Run("failover", func(b *testing.B) { run(b, func() (int, error) { return fo.Execute(ctx, efn) }) })
}
