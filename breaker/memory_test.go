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
	// Issue 17 asks for 1 KB. Measured: 1.41 KB (3.1 KB before the
	// attribute sets were built only while metrics are recorded, the
	// signal labels kept as pairs and the config shared by the group):
	// 350 B the closed window (buckets and per-P stripes), 320 B
	// gobreaker's machine, 230 B the identity and its two open errors,
	// 150 B the Breaker, 120 B the machine, and the Group's closure,
	// binding and slots. Reaching 1 KB needs the window's stripes made on
	// the first concurrent use and the open errors made on the first
	// refusal; until then this budget keeps what was won from coming back.
	// With an SDK MeterProvider recording, a used breaker adds its two
	// attribute sets (about 700 B).
	const budget = 1500
	if per > budget {
		t.Errorf("a Group's breaker costs %.0f bytes, want at most %d", per, budget)
	}
}
