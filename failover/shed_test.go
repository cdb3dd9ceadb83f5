package failover

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"

	"github.com/firebreak-go/firebreak"
)

func mustShedder(t *testing.T, limit rate.Limit, burst int, opts ...ShedderOption) *Shedder {
	t.Helper()
	s, err := NewShedder(limit, burst, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestShedRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := mustShedder(t, 10, 10) // a reserve of 2 tokens: normal traffic gets a burst of 8
		admitted := 0
		var shedErr error
		for range 20 {
			if _, err := s.admit(PriorityNormal); err == nil {
				admitted++
			} else {
				shedErr = err
			}
		}
		if admitted != 8 {
			t.Errorf("admitted %d of a burst of 20, want 8", admitted)
		}
		var se *ShedError
		if !errors.Is(shedErr, ErrShed) || !errors.As(shedErr, &se) || se.ErrorType() != "rate_limited" || se.StatusCode() != 429 {
			t.Fatalf("shed error %v, want a rate_limited ShedError", shedErr)
		}
		if !firebreak.IsRejected(shedErr) {
			t.Error("a shed error should be a rejection")
		}
		if _, err := s.admit(PriorityCritical); err != nil {
			t.Errorf("critical shed at once: %v", err)
		}
		time.Sleep(time.Second)
		admitted = 0
		for range 20 {
			if _, err := s.admit(PriorityNormal); err == nil {
				admitted++
			}
		}
		if admitted != 8 {
			t.Errorf("a second later admitted %d, want 8", admitted)
		}
	})
}

func TestShedPriorityKeepsCriticalFlowingUnderOverload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := mustShedder(t, 100, 10, WithCriticalReserve(0.2))
		ctx := t.Context()
		crit := ContextWithPriority(ctx, PriorityCritical)
		var offered, admitted [3]int
		// Ten seconds of overload: 1000 normal requests a second and 10
		// critical ones, against a limit of 100.
		for ms := 0; ms < 10_000; ms++ {
			offered[1]++
			if _, err := s.Acquire(ctx); err == nil {
				admitted[1]++
			}
			if ms%100 == 0 {
				offered[2]++
				if _, err := s.Acquire(crit); err == nil {
					admitted[2]++
				}
			}
			time.Sleep(time.Millisecond)
		}
		if admitted[2] != offered[2] {
			t.Errorf("critical: %d of %d admitted, want all", admitted[2], offered[2])
		}
		// 100/s for 10s and a burst of 10, less the 100 critical calls
		// and the reserve of 2 kept for them.
		if admitted[1] < 895 || admitted[1] > 910 {
			t.Errorf("normal: %d of %d admitted, want about 908 (what the critical calls leave)", admitted[1], offered[1])
		}
		if total := admitted[1] + admitted[2]; total > 100*10+10 {
			t.Errorf("%d admitted in 10s, more than the limit of 100/s with a burst of 10", total)
		}
	})
}

// The review's scenario: offered load three times the configured rate for
// ten minutes, with critical traffic a share of it, arriving at random
// (3 requests every millisecond against 1000/s with a burst of 100). Critical
// requests are all but always admitted, the others get what is left, the
// total stays at the rate, and without critical traffic neither low nor
// normal traffic starves and the reserve wastes nothing.
func TestShedCriticalReserveUnderOverload(t *testing.T) {
	const (
		limit, burst = 1000, 100
		duration     = 10 * time.Minute
		perTick      = 3 // every millisecond: 3000/s, 3× the limit
	)
	tests := []struct {
		name     string
		critical float64 // share of the offered requests
		low      float64 // share of the non-critical ones that are low
	}{
		{"30% critical", 0.3, 0},
		{"10% critical", 0.1, 0},
		{"10% critical, low and normal", 0.1, 0.5},
		{"no critical, low and normal", 0, 0.5},
		{"no critical", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := mustShedder(t, limit, burst)
				rng := rand.New(rand.NewPCG(1, uint64(tt.critical*100+tt.low*10)))
				var offered, admitted [3]int // by priority index
				for end := time.Now().Add(duration); time.Now().Before(end); time.Sleep(time.Millisecond) {
					for range perTick {
						p := PriorityNormal
						if rng.Float64() < tt.critical {
							p = PriorityCritical
						} else if rng.Float64() < tt.low {
							p = PriorityLow
						}
						offered[p+1]++
						if _, err := s.admit(p); err == nil {
							admitted[p+1]++
						}
					}
				}
				capacity := float64(limit*duration/time.Second + burst)
				total := admitted[0] + admitted[1] + admitted[2]
				t.Logf("offered low/normal/critical %v, admitted %v, total %d of capacity %.0f", offered, admitted, total, capacity)
				if float64(total) > capacity {
					t.Errorf("admitted %d, more than the limit allows (%.0f)", total, capacity)
				}
				if float64(total) < 0.98*capacity {
					t.Errorf("admitted %d, less than 98%% of the limit (%.0f): the reserve wastes capacity", total, capacity)
				}
				if offered[2] > 0 && float64(admitted[2]) < 0.99*float64(offered[2]) {
					t.Errorf("critical: %d of %d admitted (%.1f%%), want at least 99%%", admitted[2], offered[2], 100*float64(admitted[2])/float64(offered[2]))
				}
				others := admitted[0] + admitted[1]
				if left := capacity - float64(admitted[2]); float64(others) < 0.98*left || float64(others) > left {
					t.Errorf("low and normal got %d, want what critical traffic leaves (%.0f)", others, left)
				}
				if offered[0] > 0 {
					// Low and normal share the rate alike: each gets its
					// offered share of what is left, within a few percent.
					got := float64(admitted[0]) / float64(others)
					want := float64(offered[0]) / float64(offered[0]+offered[1])
					if got < want-0.03 || got > want+0.03 {
						t.Errorf("low got %.1f%% of what was left, want about %.1f%% (its share of the offer)", 100*got, 100*want)
					}
				}
			})
		})
	}
}

// Critical traffic beyond the rate takes it all: the others are shed
// entirely, and the total still holds.
func TestShedCriticalAloneOverTheRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := mustShedder(t, 100, 10)
		var admitted [3]int
		for range 60_000 { // a minute: 1000 critical and 1000 normal per second
			for _, p := range []Priority{PriorityCritical, PriorityNormal} {
				if _, err := s.admit(p); err == nil {
					admitted[p+1]++
				}
			}
			time.Sleep(time.Millisecond)
		}
		if admitted[2] < 6000 || admitted[2] > 6010 || admitted[1] > 10 {
			t.Errorf("admitted normal %d, critical %d; want critical to take the 6000 of the minute (and the burst)", admitted[1], admitted[2])
		}
	})
}

func TestShedConcurrencyByPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := mustShedder(t, rate.Inf, 0, WithMaxConcurrent(10), WithCriticalReserve(0.2))
		var held []Permit
		admit := func(p Priority) error {
			permit, err := s.admit(p)
			if err == nil {
				held = append(held, permit)
			}
			return err
		}
		for i := range 4 {
			if err := admit(PriorityLow); err != nil {
				t.Fatalf("low %d: %v", i, err)
			}
		}
		if err := admit(PriorityLow); err == nil {
			t.Fatal("a 5th low request was admitted, want low limited to 4 in flight")
		}
		for i := range 4 {
			if err := admit(PriorityNormal); err != nil {
				t.Fatalf("normal %d: %v", i, err)
			}
		}
		err := admit(PriorityNormal)
		var se *ShedError
		if !errors.As(err, &se) || se.Reason != "overloaded" || se.StatusCode() != 503 || se.Priority != PriorityNormal {
			t.Fatalf("9th normal: %v, want overloaded", err)
		}
		for i := range 2 {
			if err := admit(PriorityCritical); err != nil {
				t.Fatalf("critical %d in the reserve: %v", i, err)
			}
		}
		if err := admit(PriorityCritical); err == nil {
			t.Fatal("an 11th request was admitted over the limit of 10")
		}
		if s.InFlight() != 10 {
			t.Errorf("in flight %d, want 10", s.InFlight())
		}
		for _, p := range held {
			p.Release()
		}
		if s.InFlight() != 0 {
			t.Errorf("in flight %d after release, want 0", s.InFlight())
		}
	})
}

func TestShedSustainedSignal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		s := mustShedder(t, 10, 10, WithSustain(10*time.Second, 5*time.Second))
		mustBind(t, s, &rec)
		// 20 requests a second for 15s: half are shed.
		for range 15 * 20 {
			s.admit(PriorityNormal)
			time.Sleep(50 * time.Millisecond)
		}
		if !s.Sustained() {
			t.Fatal("15s of shedding is not sustained")
		}
		sigs := rec.Of(firebreak.KindLoadShed)
		if len(sigs) != 1 || !sigs[0].Firing || sigs[0].Value < 50 {
			t.Fatalf("signals %+v, want one firing with the shed count", sigs)
		}
		// Shedding is the service protecting itself, not the guarded
		// dependency's fault: its incident belongs to the component.
		if sigs[0].Dependency != "" || sigs[0].Labels["guards"] != "catalog" {
			t.Fatalf("signal names dependency %q, labels %v; want none, guards=catalog", sigs[0].Dependency, sigs[0].Labels)
		}
		// Traffic drops to what the limit allows: shedding stops.
		for range 10 {
			if _, err := s.admit(PriorityNormal); err != nil {
				t.Fatalf("1 request a second shed: %v", err)
			}
			time.Sleep(time.Second)
		}
		if s.Sustained() {
			t.Error("still sustained 10s after the last shed")
		}
		sigs = rec.Of(firebreak.KindLoadShed)
		if len(sigs) != 2 || sigs[1].Firing {
			t.Fatalf("signals %+v, want firing then cleared", sigs)
		}
	})
}

func TestShedShortBurstIsNotSustained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		s := mustShedder(t, 10, 10)
		mustBind(t, s, &rec)
		for range 100 {
			s.admit(PriorityNormal)
		}
		time.Sleep(5 * time.Second)
		for range 100 {
			s.admit(PriorityNormal)
		}
		if s.Sustained() || rec.Len() != 0 {
			t.Errorf("two bursts 5s apart reported %+v", rec.Signals())
		}
	})
}

func TestShedMiddleware(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := mustShedder(t, 1, 1, WithCriticalReserve(0), WithMaxConcurrent(1),
			WithRequestPriority(func(r *http.Request) Priority {
				if r.Header.Get("X-Priority") == "critical" {
					return PriorityCritical
				}
				return PriorityNormal
			}))
		release := make(chan struct{})
		var wg sync.WaitGroup
		h := s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				<-release
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		serve := func(path string) *httptest.ResponseRecorder {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
			return w
		}
		var first *httptest.ResponseRecorder
		wg.Go(func() { first = serve("/slow") })
		synctest.Wait()
		w := serve("/")
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
			t.Errorf("while one request is in flight: %d, Retry-After %q; want 503, 1", w.Code, w.Header().Get("Retry-After"))
		}
		close(release)
		wg.Wait()
		if first.Code != http.StatusNoContent {
			t.Errorf("first request: %d", first.Code)
		}
		w = serve("/")
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
			t.Errorf("over the rate: %d, Retry-After %q; want 429, 1", w.Code, w.Header().Get("Retry-After"))
		}
		time.Sleep(time.Second)
		if w = serve("/"); w.Code != http.StatusNoContent {
			t.Errorf("a second later: %d", w.Code)
		}
	})
}

func TestShedPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := mustShedder(t, rate.Inf, 0, WithMaxConcurrent(1), WithCriticalReserve(0))
		p, err := NewShed[int](s)
		if err != nil {
			t.Fatal(err)
		}
		r := mustRetry[int](t)
		pipe, err := firebreak.NewPipeline(firebreak.Component{Name: "api"}, []firebreak.Policy[int]{p, r})
		if err != nil {
			t.Fatal(err)
		}
		if pipe.Policies()[0] != firebreak.Policy[int](r) {
			t.Fatal("retry should run outside shedding")
		}
		inside := make(chan struct{})
		release := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			pipe.Execute(context.Background(), func(context.Context) (int, error) { close(inside); <-release; return 1, nil })
		})
		<-inside
		n := 0
		_, err = pipe.Execute(t.Context(), func(context.Context) (int, error) { n++; return 1, nil })
		if !errors.Is(err, ErrShed) || n != 0 {
			t.Errorf("second call: %v after %d calls, want shed without retrying", err, n)
		}
		close(release)
		wg.Wait()
		if s.InFlight() != 0 {
			t.Errorf("in flight %d after the calls, want 0", s.InFlight())
		}
		if _, err := NewShed[int](nil); err == nil {
			t.Error("NewShed(nil) should fail")
		}
	})
}

func TestNewShedderValidates(t *testing.T) {
	tests := []struct {
		limit rate.Limit
		burst int
		opts  []ShedderOption
		want  string
	}{
		{0, 1, nil, "limit"},
		{10, 0, nil, "burst"},
		{10, 1, []ShedderOption{WithMaxConcurrent(-1)}, "WithMaxConcurrent"},
		{10, 1, []ShedderOption{WithCriticalReserve(1)}, "WithCriticalReserve"},
		{10, 1, []ShedderOption{WithSustain(-1, 0)}, "WithSustain"},
	}
	for _, tt := range tests {
		if _, err := NewShedder(tt.limit, tt.burst, tt.opts...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err = %v, want %q", err, tt.want)
		}
	}
}

func TestShedAllocs(t *testing.T) {
	s := mustShedder(t, 1e9, 1_000_000, WithMaxConcurrent(100))
	p, _ := NewShed[int](s)
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	wantAllocs(t, 0, func() { p.Execute(ctx, fn) })
	full := mustShedder(t, rate.Inf, 0, WithMaxConcurrent(1), WithCriticalReserve(0))
	held, _ := full.admit(PriorityNormal)
	defer held.Release()
	wantAllocs(t, 0, func() { full.admit(PriorityNormal) }) // shedding itself does not allocate either
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{" 0 ", 0, true},
		{"Wed, 25 Nov 2026 18:00:30 GMT", 30 * time.Second, true},
		{"Wed, 25 Nov 2026 17:00:00 GMT", 0, true},
		{"-1", 0, false},
		{"-0", 0, false},
		{"9223372036", 9223372036 * time.Second, true}, // the largest that fits
		{"9223372037", 0, false},                       // would wrap to a negative duration
		{"99999999999999999999", 0, false},             // beyond int64
		{"+5", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := parseRetryAfter(tt.in, now)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// countingAdmitter admits n units, then refuses, as a shared limit that has
// run dry does.
type countingAdmitter struct{ left atomic.Int64 }

func (a *countingAdmitter) Allow() bool { return a.left.Add(-1) >= 0 }

// A shared limit behind the shedder's own sheds the other classes as
// rate_limited once it runs dry; critical requests take their unit but are
// never refused by it.
func TestShedderConsultsAdmitter(t *testing.T) {
	a := &countingAdmitter{}
	a.left.Store(3)
	s, err := NewShedder(rate.Inf, 0, WithAdmitter(a))
	if err != nil {
		t.Fatal(err)
	}
	normal := context.Background()
	critical := ContextWithPriority(normal, PriorityCritical)
	for i := range 3 {
		if _, err := s.Acquire(normal); err != nil {
			t.Fatalf("request %d within the shared limit: %v", i, err)
		}
	}
	_, err = s.Acquire(normal)
	var se *ShedError
	if !errors.As(err, &se) || se.Reason != ErrorTypeRateLimited || !firebreak.IsRejected(err) {
		t.Fatalf("past the shared limit: %v; want a rate_limited ShedError", err)
	}
	if _, err := s.Acquire(critical); err != nil {
		t.Errorf("a critical request was refused by the shared limit: %v", err)
	}
	if a.left.Load() >= 0 {
		t.Error("the critical request did not take its unit from the shared limit")
	}
	if _, err := NewShedder(rate.Inf, 0, WithAdmitter(nil)); err == nil {
		t.Error("WithAdmitter(nil) was accepted")
	}
}

// Tokens put aside per processor keep the rate: eight callers call as
// fast as they can for ten seconds through a shedder of 1000/s with a
// burst of 2000. The calls let through are the burst (less the critical
// reserve) plus the rate over the time, less at most the tokens left aside
// at the end, and never more.
func TestShedSpareTokensKeepTheRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rps, burst = 1000, 2000
		s, err := NewShedder(rps, burst)
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewShed[int](s)
		if err != nil {
			t.Fatal(err)
		}
		var ok, shed atomic.Int64
		start := time.Now()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for time.Since(start) < 10*time.Second {
					_, err := p.Execute(t.Context(), func(context.Context) (int, error) { return 1, nil })
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, ErrShed):
						shed.Add(1)
					default:
						t.Error(err)
					}
					time.Sleep(100 * time.Microsecond)
				}
			})
		}
		wg.Wait()
		// Normal calls may use the burst less the critical reserve.
		most := s.bucket.shared/s.bucket.every + int64(rps*time.Since(start).Seconds())
		least := most - permitSlots*s.bucket.batch - 2
		if got := ok.Load(); got > most || got < least {
			t.Errorf("%d calls let through (%d shed), want between %d and %d", got, shed.Load(), least, most)
		}
		if s.bucket.batch < 2 {
			t.Errorf("batch %d: the test is meant to put tokens aside", s.bucket.batch)
		}
	})
}
