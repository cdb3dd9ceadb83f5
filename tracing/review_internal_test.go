package tracing

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/firebreak-go/firebreak"
)

// Review tests of the tracing package: each names the finding it guards.

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

// An evaluation interval longer than the SLO's shortest window was accepted
// and silently delayed every alert (math.MaxInt64: none ever); it is an error
// naming the option.
func TestReviewEvaluationIntervalLongerThanShortWindowIsAnError(t *testing.T) {
	for _, d := range []time.Duration{math.MaxInt64, 24 * time.Hour, 5*time.Minute + 1} {
		_, err := New[int](WithSLO(SLO{Availability: 0.999}), WithEvaluationInterval(d))
		if err == nil || !strings.Contains(err.Error(), "WithEvaluationInterval") {
			t.Errorf("WithEvaluationInterval(%v) with the workbook's windows: err = %v, want one naming the option", d, err)
		}
	}
	// Order does not matter, and a Handler checks it too.
	c := firebreak.Component{Name: "web", Reporter: firebreak.Discard}
	if _, err := NewHandler(http.NotFoundHandler(), c, WithEvaluationInterval(time.Minute),
		WithSLO(SLO{Availability: 0.99, Windows: []BurnWindow{{Long: time.Hour, Short: 30 * time.Second, BurnRate: 10}}})); err == nil {
		t.Error("NewHandler accepted an evaluation interval of 1m with a 30s short window")
	}
	if _, err := New[int](WithSLO(SLO{Availability: 0.999}), WithEvaluationInterval(5*time.Minute)); err != nil {
		t.Errorf("an interval equal to the shortest window: %v", err)
	}
	if _, err := New[int](WithEvaluationInterval(time.Hour)); err != nil {
		t.Errorf("an interval without an SLO: %v", err)
	}
}
