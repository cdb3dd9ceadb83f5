package tracing

import (
	"math"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/race"
)

// Review tests of the tracing package: each names the finding it guards.

// Guard: an evaluation interval near math.MaxInt64 cannot make
// now+interval overflow (the first evaluation is due at the interval, so the
// sum passes MaxInt64 only after 146 years); every call does not find an
// evaluation due.
func TestReviewHugeEvaluationIntervalDoesNotEvaluateEveryCall(t *testing.T) {
	if race.Enabled {
		t.Skip("allocations are not meaningful under the race detector")
	}
	synctest.Test(t, func(t *testing.T) {
		cfg, err := observerConfig([]Option{
			WithSLO(SLO{Availability: 0.999}),
			WithEvaluationInterval(math.MaxInt64),
		})
		if err != nil {
			t.Fatal(err)
		}
		var b firebreak.Binding
		s, err := newOperationStats(&b, &cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The first evaluation is due at once (offset MaxInt64 is never
		// reached, but the rotation at the end of the first slot is).
		time.Sleep(11 * time.Second)
		s.Record(time.Millisecond, false)
		if next := s.next.Load(); next <= s.offset() {
			t.Fatalf("after a tick the next one is due at offset %d, before now (%d): every call ticks", next, s.offset())
		}
		if n := testing.AllocsPerRun(1000, func() { s.Record(time.Millisecond, true) }); n != 0 {
			t.Errorf("Record allocates %v times with a huge evaluation interval", n)
		}
	})
}

// A rolling window near math.MaxInt64 made Snapshot's covered span overflow:
// Window and Rate came out negative.
func TestReviewHugeStatsWindowSnapshotIsSane(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := NewStats(math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		for range 1000 {
			s.Record(2*time.Millisecond, false)
			time.Sleep(time.Millisecond)
		}
		snap := s.Snapshot()
		if snap.Window <= 0 || snap.Window > time.Second+time.Millisecond {
			t.Errorf("Window = %v, want about 1s", snap.Window)
		}
		if snap.Rate < 900 || snap.Rate > 1100 || math.IsNaN(snap.Rate) {
			t.Errorf("Rate = %v, want about 1000/s", snap.Rate)
		}
		if snap.Requests != 1000 {
			t.Errorf("Requests = %d, want 1000", snap.Requests)
		}
	})
}

// Once a Handler keeps WithMaxRoutes routes, a request for a route it does
// not keep must not take the route set's lock: a flood of distinct routes
// would otherwise serialise every request on one mutex.
func TestReviewOverflowRouteTakesNoLock(t *testing.T) {
	c := firebreak.Component{Name: "web", Reporter: firebreak.Discard}
	_, rs, err := newRouteSet("NewHandler", c, []HTTPOption{WithMaxRoutes(2)})
	if err != nil {
		t.Fatal(err)
	}
	rs.stats("GET /a")
	rs.stats("GET /b")
	rs.stats("GET /c") // the first overflow stores OverflowRoute
	rs.mu.Lock()
	done := make(chan *Stats)
	go func() { done <- rs.stats("GET /d") }()
	select {
	case s := <-done:
		rs.mu.Unlock()
		if s != rs.overflow {
			t.Errorf("route beyond the limit got its own statistics")
		}
	case <-time.After(5 * time.Second):
		rs.mu.Unlock()
		<-done
		t.Fatal("a route beyond the limit waited for the route set's lock")
	}
}

// A flood of 100k distinct routes keeps at most WithMaxRoutes statistics
// plus the overflow, and counts every request.
func TestReviewRouteFloodIsBounded(t *testing.T) {
	c := firebreak.Component{Name: "web", Reporter: firebreak.Discard}
	_, rs, err := newRouteSet("NewHandler", c, []HTTPOption{WithMaxRoutes(10)})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 100_000 {
		rs.record("GET /u/"+strconv.Itoa(i), start, i%10 == 0, trace.SpanContext{})
	}
	names := rs.names()
	if len(names) != 11 {
		t.Fatalf("%d routes kept, want 10 and %s", len(names), OverflowRoute)
	}
	var total uint64
	for _, n := range names {
		s, _ := rs.lookup(n)
		total += s.Snapshot().Requests
	}
	if total != 100_000 {
		t.Errorf("%d requests counted, want 100000", total)
	}
	if s, _ := rs.lookup(OverflowRoute); s.Snapshot().Requests != 100_000-10 {
		t.Errorf("overflow counted %d, want %d", s.Snapshot().Requests, 100_000-10)
	}
}
