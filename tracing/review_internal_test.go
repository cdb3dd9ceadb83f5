package tracing

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

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
		rs.record(context.Background(), "GET /u/"+strconv.Itoa(i), start, i%10 == 0)
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

// A Transport counted a request its caller cancelled early (a hedge's
// loser, a user who navigated away) as a failed request of the dependency,
// which an Observer counts as given up: client cancellations burned the
// route's error budget. Over a real loopback server.
func TestReviewTransportCallerGivingUpEarlyIsNotAFailure(t *testing.T) {
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done() // the client went away
	}))
	defer srv.Close()
	c := firebreak.Component{Name: "checkout", Dependency: "payments", Reporter: firebreak.Discard}
	tr, err := NewTransport(srv.Client().Transport, c, WithRoute(func(*http.Request) string { return "GET /pay" }))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the cancelled request succeeded")
	}
	s, ok := tr.Stats("GET /pay")
	if !ok {
		t.Fatal("no statistics for the route")
	}
	snap := s.Snapshot()
	if snap.Errors != 0 || snap.Requests != 0 || snap.GaveUp != 1 {
		t.Errorf("a request cancelled by its caller after a few ms: %d requests, %d errors, %d given up; want 0, 0, 1",
			snap.Requests, snap.Errors, snap.GaveUp)
	}
	// A request that fails on its own is a failure.
	srv.Close()
	req, _ = http.NewRequest(http.MethodGet, srv.URL, nil)
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
	}
	if snap := s.Snapshot(); snap.Errors != 1 {
		t.Errorf("a request to a closed server: %d errors, want 1", snap.Errors)
	}
}

// The Handler side: a client that goes away after a few milliseconds, whose
// handler then answers 500 (its downstream call failed with the cancelled
// context), is a request given up, not a failure; a real 500 is a failure.
func TestReviewHandlerClientGoneIsNotAFailure(t *testing.T) {
	arrived := make(chan struct{}, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
		http.Error(w, "downstream: context canceled", http.StatusInternalServerError)
	})
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	})
	c := firebreak.Component{Name: "web", Reporter: firebreak.Discard}
	h, err := NewHandler(mux, c)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		served <- struct{}{}
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/slow", nil)
	if resp, err := srv.Client().Do(req); err == nil {
		resp.Body.Close()
	}
	<-served
	resp, err := srv.Client().Get(srv.URL + "/broken")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	<-served
	if s, ok := h.Stats("GET /slow"); !ok {
		t.Error("no statistics for GET /slow")
	} else if snap := s.Snapshot(); snap.Errors != 0 || snap.GaveUp != 1 {
		t.Errorf("GET /slow, client gone: %d errors, %d given up; want 0, 1", snap.Errors, snap.GaveUp)
	}
	if s, ok := h.Stats("GET /broken"); !ok {
		t.Error("no statistics for GET /broken")
	} else if snap := s.Snapshot(); snap.Errors != 1 {
		t.Errorf("GET /broken: %d errors, want 1", snap.Errors)
	}
}
