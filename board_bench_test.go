package firebreak_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/race"
)

// openBoard returns a board with one open incident for the signal s.
func openBoard(tb testing.TB, s firebreak.Signal) *firebreak.Board {
	tb.Helper()
	b, err := firebreak.NewBoard("checkout", firebreak.WithEnv("prod"))
	if err != nil {
		tb.Fatal(err)
	}
	b.Report(s)
	return b
}

func repeatSignal() firebreak.Signal {
	s := signalFor(firebreak.Fatal)
	s.TraceIDs = []string{"4bf92f3577b34da6a3ce929d0e0e4736"}
	return s
}

func TestReportRepeatDoesNotAllocate(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	s := repeatSignal()
	b := openBoard(t, s)
	if n := testing.AllocsPerRun(1000, func() { b.Report(s) }); n != 0 {
		t.Fatalf("Report of a repeating signal allocated %v times", n)
	}
}

func BenchmarkBoardReport(b *testing.B) {
	s := repeatSignal()
	b.Run("serial", func(b *testing.B) {
		board := openBoard(b, s)
		b.ReportAllocs()
		for b.Loop() {
			board.Report(s)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		board := openBoard(b, s)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				board.Report(s)
			}
		})
	})
}

// A million signals across a thousand fingerprints keep the board's heap
// small: repeats update counters, they do not accumulate.
func TestMemoryBoundedUnderSignalFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("a million signals")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b, err := firebreak.NewBoard("checkout")
	if err != nil {
		t.Fatal(err)
	}
	sigs := make([]firebreak.Signal, 1000)
	for i := range sigs {
		sigs[i] = firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "api", Dependency: fmt.Sprintf("dep-%d", i%50),
			Tier: firebreak.Standard, Firing: true, Labels: map[string]string{"instance": fmt.Sprintf("i-%d", i/50)},
			TraceIDs: []string{fmt.Sprintf("%032x", i)}, Summary: "connection refused"}
	}
	for i := range 1_000_000 {
		s := sigs[i%1000]
		s.Firing = i%1000 != 999 || i%3 != 0 // some clear and fire again
		b.Report(s)
	}
	if st := b.Stats(); st.Alerts != 1000 || st.Signals != 1_000_000 {
		t.Fatalf("stats %+v", st)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %.1f MiB for 1,000,000 signals over 1,000 fingerprints", float64(heap)/(1<<20))
	if heap > 64<<20 {
		t.Fatalf("heap grew by %d MiB, want under 64 MiB", heap>>20)
	}
	runtime.KeepAlive(b)
}
