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
	// Issue 17 asks for 1 KB. Measured: 3.1 KB, of which about 700 B are
	// the two attribute sets every used breaker needs (success, closed: five
	// attributes of 64 B each, per key because each carries the key's name),
	// 350 B the closed window, 350 B gobreaker's machine. Reaching 1 KB needs
	// the call counts kept in the breaker and reported by an observable
	// counter, with no attribute set per breaker; until then this budget
	// keeps what was won (4.5 KB before lazy sets) from coming back.
	const budget = 3300
	if per > budget {
		t.Errorf("a Group's breaker costs %.0f bytes, want at most %d", per, budget)
	}
}
