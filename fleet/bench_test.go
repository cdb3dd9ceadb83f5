package fleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/fleet"
	"github.com/firebreak-go/firebreak/internal/testserver"
)

// The benchmarks compare, in one run, the caller's cost with and without
// the fleet: a breaker's and a pipeline's successful call with the breaker
// registered in running Switches on a real Redis, and Report on a Board
// with the Redis store, the MemoryStore and no store. Compare with
// benchstat over -count=6; the fleet must cost the same (breaker and
// pipeline within 5%, Report within 10%), since it never runs on the
// caller's path.

func benchCall(b *testing.B, call func(context.Context) error) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := call(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = call(ctx)
			}
		})
	})
}

func BenchmarkCall(b *testing.B) {
	srv := testserver.StartRedis(b)
	for _, withFleet := range []bool{false, true} {
		name := "local"
		if withFleet {
			name = "fleet"
		}
		br := newBreaker(b)
		if withFleet {
			st, err := fleet.New(client(b, srv), fleet.WithTimeout(100*time.Millisecond))
			if err != nil {
				b.Fatal(err)
			}
			w, err := fleet.NewSwitches(st, fleet.WithPollInterval(50*time.Millisecond))
			if err != nil {
				b.Fatal(err)
			}
			w.Breaker("payments-db", br)
			if err := w.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer w.Close(context.Background())
		}
		b.Run("breaker/"+name, func(b *testing.B) {
			benchCall(b, func(ctx context.Context) error { _, err := br.Execute(ctx, ok); return err })
		})
		p, err := firebreak.NewPipeline(firebreak.Component{Name: "checkout-api", Dependency: "payments-db", Tier: firebreak.Core},
			[]firebreak.Policy[int]{br})
		if err != nil {
			b.Fatal(err)
		}
		b.Run("pipeline/"+name, func(b *testing.B) {
			benchCall(b, func(ctx context.Context) error { _, err := p.Execute(ctx, ok); return err })
		})
	}
}

var drop = firebreak.NotifierFunc(func(context.Context, firebreak.Notification) error { return nil })

func BenchmarkReport(b *testing.B) {
	srv := testserver.StartRedis(b)
	mem, err := firebreak.NewMemoryStore(time.Second, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	stores := []struct {
		name string
		opts []firebreak.BoardOption
	}{
		{"none", nil},
		{"memory", []firebreak.BoardOption{firebreak.WithStore(mem)}},
		{"redis", []firebreak.BoardOption{firebreak.WithStore(newStore(b, srv))}},
	}
	for _, st := range stores {
		// Each board lives only for its own benchmark, so that one's
		// background work does not weigh on another's.
		newBoard := func(b *testing.B) *firebreak.Board {
			board, err := firebreak.NewBoard("checkout", append([]firebreak.BoardOption{firebreak.WithNotifier(drop)}, st.opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			if err := board.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { board.Close(context.Background()) })
			return board
		}
		fire, clear := outage, outage
		clear.Firing = false
		b.Run("repeat/"+st.name, func(b *testing.B) {
			board := newBoard(b)
			board.Report(fire)
			b.ReportAllocs()
			for b.Loop() {
				board.Report(fire)
			}
		})
		b.Run("fire-clear/"+st.name, func(b *testing.B) {
			board := newBoard(b)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i++; i%2 == 0 {
					board.Report(fire)
				} else {
					board.Report(clear)
				}
			}
		})
	}
}
