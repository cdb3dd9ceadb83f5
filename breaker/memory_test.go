package breaker

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/race"
)

// TestGroupMemoryPerBreaker measures the heap a Group's breaker costs, with
// 100,000 keys each called once (so each has its state gauge and the
// attribute set of its calls' outcome).
func TestGroupMemoryPerBreaker(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector changes what the heap holds")
	}
	if testing.Short() {
		t.Skip("builds 100,000 breakers")
	}
	const keys = 100_000
	names := make([]string, keys)
	for i := range names {
		names[i] = "host-" + strconv.Itoa(i)
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	g, err := NewGroup[string, int](keys)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Bind(firebreak.Component{Name: "checkout", Dependency: "hosts", Tier: firebreak.Core}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	before := heap()
	for _, k := range names {
		if _, err := g.Execute(ctx, k, okCall); err != nil {
			t.Fatal(err)
		}
	}
	after := heap()
	runtime.KeepAlive(g)
	per := float64(after-before) / keys
	t.Logf("%.0f bytes per breaker (%d keys)", per, keys)
	// Issue 17 asks for 1 KB. Measured: 886 B (1.41 KB before the
	// window's stripes were made on the first contention, the open errors
	// on the first refusal, and the group's binding and component shared
	// by its breakers). The parts: 248 B gobreaker's machine (its struct,
	// counts and bucket), 224 B the closed window (struct and six
	// buckets), 128 B the Breaker, 112 B the machine and the two method
	// values gobreaker calls, 80 B the identity, 48 B the successor
	// closure, and about 70 B the Group's ring slot and index entry.
	// With an SDK MeterProvider recording, a used breaker adds its two
	// attribute sets (about 700 B).
	const budget = 1024
	if per > budget {
		t.Errorf("a Group's breaker costs %.0f bytes, want at most %d", per, budget)
	}
}
