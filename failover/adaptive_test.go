package failover_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover"
)

// capDep is a dependency that works on capacity calls at once in base
// time each; beyond that it shares itself among the calls it holds, so a
// call's latency grows with the calls in flight: it doubles at twice the
// capacity. slow multiplies every latency (a dependency in trouble).
type capDep struct {
	capacity int64
	base     time.Duration
	inflight atomic.Int64
	slow     atomic.Int64 // percent; 0 means 100
}

func (d *capDep) call(ctx context.Context) (int, error) {
	n := d.inflight.Add(1)
	defer d.inflight.Add(-1)
	lat := d.base * time.Duration(max(n, d.capacity)) / time.Duration(d.capacity)
	if s := d.slow.Load(); s != 0 {
		lat = lat * time.Duration(s) / 100
	}
	t := time.NewTimer(lat)
	defer t.Stop()
	select {
	case <-t.C:
		return 1, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// traffic plays rate calls per second for d through exec, a share of them
// critical, and returns what happened to each class.
type outcome struct {
	mu                   sync.Mutex
	ok, rejected, failed [2]int // [normal, critical]
	latencies            []time.Duration
	criticalLatencies    []time.Duration
	unexpected           []error
}

func play(t *testing.T, rate int, d time.Duration, critical float64, rng *rand.Rand, exec func(context.Context) (int, error)) *outcome {
	t.Helper()
	o := &outcome{}
	var wg sync.WaitGroup
	every := time.Second / time.Duration(rate)
	for range int(d / every) {
		c := 0
		ctx := t.Context()
		if rng.Float64() < critical {
			c = 1
			ctx = failover.ContextWithPriority(ctx, failover.PriorityCritical)
		}
		wg.Go(func() {
			start := time.Now()
			_, err := exec(ctx)
			took := time.Since(start)
			o.mu.Lock()
			defer o.mu.Unlock()
			switch {
			case err == nil:
				o.ok[c]++
				o.latencies = append(o.latencies, took)
				if c == 1 {
					o.criticalLatencies = append(o.criticalLatencies, took)
				}
			case errors.Is(err, failover.ErrLimited) && firebreak.RejectionOf(err) == firebreak.RejectOverload:
				o.rejected[c]++
			default:
				o.failed[c]++
				o.unexpected = append(o.unexpected, err)
			}
		})
		time.Sleep(every)
	}
	wg.Wait()
	return o
}

func p99(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)*99/100]
}

// The measured claim: a dependency of capacity 20 calls at once, 20ms each
// (1000 calls/s), whose latency doubles at twice its capacity. Two minutes
// at half its capacity set the normal p99 (20ms) and leave the limit where
// it started (100: the calls in flight never use half of it, so it does not
// grow). Then two minutes at twice its capacity, 5% of the calls critical:
// the limit falls to about twice the capacity (normal calls fill 80% of
// it), critical calls keep at
// least 99% success, and the p99 of the calls let through stays within 2×
// of normal. Then the dependency itself slows down threefold for a minute:
// the limit falls further; when it heals, two minutes at the normal load
// bring the limit back up until nothing is refused.
func TestAdaptiveLimitUnderOverload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 11))
		dep := &capDep{capacity: 20, base: 20 * time.Millisecond}
		var rec firebreak.Recorder
		l, err := failover.NewAdaptiveLimiter[int](failover.WithLimits(100, 1, 1000))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Bind(firebreak.Component{Name: "shop", Dependency: "catalog", Tier: firebreak.Core, Reporter: &rec}); err != nil {
			t.Fatal(err)
		}
		exec := func(ctx context.Context) (int, error) { return l.Execute(ctx, dep.call) }

		normal := play(t, 500, 2*time.Minute, 0.05, rng, exec)
		base := p99(normal.latencies)
		if base != 20*time.Millisecond || normal.rejected != [2]int{} || l.Limit() != 100 {
			t.Fatalf("at half capacity: p99 %v, rejected %v, limit %d; want 20ms, none and 100", base, normal.rejected, l.Limit())
		}

		over := play(t, 2000, 2*time.Minute, 0.05, rng, exec)
		crit := float64(over.ok[1]) / float64(over.ok[1]+over.rejected[1]+over.failed[1])
		got := p99(over.latencies)
		t.Logf("overload: limit %d, critical success %.4f, p99 %v (normal %v), normal calls %d ok %d rejected",
			l.Limit(), crit, got, base, over.ok[0], over.rejected[0])
		if crit < 0.99 {
			t.Errorf("critical success %.4f under overload, want ≥ 0.99", crit)
		}
		if got > 2*base {
			t.Errorf("p99 %v under overload, want within 2× of %v", got, base)
		}
		// Normal calls fill 80% of the limit, critical ones the rest.
		if lim := l.Limit(); lim < 30 || lim > 50 {
			t.Errorf("limit %d under overload, want 1.5 to 2.5 times the capacity of 20", lim)
		}
		if len(over.unexpected) != 0 {
			t.Errorf("unexpected errors: %v", over.unexpected[:1])
		}
		if s, ok := rec.Last(firebreak.KindLoadShed); !ok || !s.Firing || s.Labels["policy"] != "adaptive_limit" || s.Labels["guards"] != "catalog" || s.Dependency != "" {
			t.Errorf("load_shed signal %+v, want firing for shop guarding catalog", s)
		}

		dep.slow.Store(300)
		play(t, 500, time.Minute, 0.05, rng, exec)
		low := l.Limit()
		if low > 20 {
			t.Errorf("limit %d with the dependency three times slower, want it to fall below 20", low)
		}
		dep.slow.Store(0)
		play(t, 500, time.Minute, 0.05, rng, exec)
		healed := play(t, 500, time.Minute, 0.05, rng, exec)
		if healed.rejected != [2]int{} || l.Limit() <= low || p99(healed.latencies) != base {
			t.Errorf("healed: limit %d (was %d), rejected %v, p99 %v; want it back up, nothing refused, p99 %v",
				l.Limit(), low, healed.rejected, p99(healed.latencies), base)
		}
		if s, _ := rec.Last(firebreak.KindLoadShed); s.Firing {
			t.Error("load_shed still firing after recovery")
		}
	})
}

// While an incident on its dependency is open on the Board it is
// registered with, the limiter holds its limit: the dependency slowing
// threefold for two minutes moves it neither down nor, once the dependency
// heals with the incident still open, up. Without the incident the same
// slowdown drives the limit down. Resolving the incident thaws it.
func TestAdaptiveLimitFreezesDuringIncident(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 5))
		run := func(withIncident bool) (before int, seen []int, l *failover.AdaptiveLimiter[int], board *firebreak.Board) {
			dep := &capDep{capacity: 20, base: 20 * time.Millisecond}
			l, _ = failover.NewAdaptiveLimiter[int](failover.WithLimits(30, 1, 1000))
			board, err := firebreak.NewBoard("shop", firebreak.WithNotifier(l))
			if err != nil {
				t.Fatal(err)
			}
			if err := board.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			c := firebreak.Component{Name: "shop", Dependency: "catalog", Tier: firebreak.Core, Reporter: board}
			if err := l.Bind(c); err != nil {
				t.Fatal(err)
			}
			exec := func(ctx context.Context) (int, error) { return l.Execute(ctx, dep.call) }
			play(t, 800, time.Minute, 0, rng, exec)
			if withIncident {
				s := c.Signal(firebreak.KindHealthFailed, true)
				s.Summary = "catalog is slow"
				board.Report(s)
				// The board announces a new incident after the plan's group
				// wait of 30s; traffic goes on meanwhile.
				play(t, 800, 31*time.Second, 0, rng, exec)
				synctest.Wait()
				if !l.Frozen() {
					t.Fatal("not frozen once the incident on catalog is open")
				}
			}
			before = l.Limit()
			dep.slow.Store(300)
			for range 12 {
				play(t, 800, 10*time.Second, 0, rng, exec)
				seen = append(seen, l.Limit())
			}
			dep.slow.Store(0)
			for range 6 {
				play(t, 800, 10*time.Second, 0, rng, exec)
				seen = append(seen, l.Limit())
			}
			return before, seen, l, board
		}
		before, seen, _, b1 := run(false)
		if slices.Min(seen) >= before/2 {
			t.Errorf("without an incident: limit %d then %v, want it to fall by half or more", before, seen)
		}
		_ = b1.Close(t.Context())
		before, seen, l, board := run(true)
		for _, n := range seen {
			if n != before {
				t.Fatalf("with the incident open: limit %d then %v; want it held at %d", before, seen, before)
			}
		}
		var id string
		for _, inc := range board.List(firebreak.Filter{}) {
			if inc.FaultDomain == "catalog" {
				id = inc.ID
			}
		}
		if err := board.Resolve(id, "oncall", "catalog fixed"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if l.Frozen() {
			t.Error("still frozen after the incident was resolved")
		}
		_ = board.Close(t.Context())
	})
}

func TestAdaptiveLimiterSettings(t *testing.T) {
	for _, tt := range []struct {
		opts []failover.LimiterOption
		want string
	}{
		{[]failover.LimiterOption{failover.WithLimits(5, 10, 100)}, "failover: NewAdaptiveLimiter: WithLimits(5, 10, 100): want 1 ≤ min ≤ initial ≤ max"},
		{[]failover.LimiterOption{failover.WithLatencyTolerance(0.5)}, "failover: NewAdaptiveLimiter: WithLatencyTolerance 0.5 must be finite and at least 1"},
		{[]failover.LimiterOption{failover.WithSampleWindow(time.Microsecond, 0)}, "failover: NewAdaptiveLimiter: WithSampleWindow 1µs must be at least 1ms"},
		{[]failover.LimiterOption{failover.WithCriticalReserve(1)}, "failover: NewAdaptiveLimiter: WithCriticalReserve 1 must be in [0, 1)"},
		{[]failover.LimiterOption{nil}, "failover: NewAdaptiveLimiter: option 0 is nil"},
	} {
		if _, err := failover.NewAdaptiveLimiter[int](tt.opts...); err == nil || err.Error() != tt.want {
			t.Errorf("err = %v, want %q", err, tt.want)
		}
	}
}

// The limit is a hard bound even while finished calls keep permits for the
// next call on their processor: a limit fixed at 40, 60 callers each
// calling again as soon as their call (1–3ms) ends. At no moment are more
// than 40 calls inside the dependency, and once traffic stops nothing is
// left counted in flight.
func TestAdaptiveLimitIsAHardBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 40
		l, err := failover.NewAdaptiveLimiter[int](failover.WithLimits(limit, limit, limit), failover.WithCriticalReserve(0))
		if err != nil {
			t.Fatal(err)
		}
		var inside, most, refusals, ok atomic.Int64
		var wg sync.WaitGroup
		for g := range 60 {
			wg.Go(func() {
				ctx := failover.ContextWithPriority(t.Context(), failover.PriorityCritical)
				for i := range 500 {
					lat := time.Duration(1+(g+i)%3) * time.Millisecond
					_, err := l.Execute(ctx, func(context.Context) (int, error) {
						n := inside.Add(1)
						defer inside.Add(-1)
						for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
						}
						time.Sleep(lat)
						return 1, nil
					})
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, failover.ErrLimited):
						refusals.Add(1)
						time.Sleep(time.Millisecond)
					default:
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if most.Load() > limit {
			t.Errorf("%d calls in flight at once, over the limit of %d", most.Load(), limit)
		}
		if ok.Load() == 0 || refusals.Load() == 0 {
			t.Errorf("%d admitted, %d refused: want the limit to be reached", ok.Load(), refusals.Load())
		}
		if n := l.InFlight(); n != 0 {
			t.Errorf("InFlight %d after the traffic stopped, want 0", n)
		}
	})
}

// Permits kept by finished calls never cost a call its place: after light
// traffic from eight goroutines (which leaves permits kept on their
// processors), a limit of 100 admits 100 calls that hold on, refuses the
// 101st, and counts exactly 100 in flight.
func TestAdaptiveLimitKeptPermitsRefuseNobody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 100
		l, err := failover.NewAdaptiveLimiter[int](failover.WithLimits(limit, limit, limit), failover.WithCriticalReserve(0))
		if err != nil {
			t.Fatal(err)
		}
		ctx := failover.ContextWithPriority(t.Context(), failover.PriorityCritical)
		quick := func(context.Context) (int, error) { return 1, nil }
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 1000 {
					if _, err := l.Execute(ctx, quick); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if n := l.InFlight(); n != 0 {
			t.Fatalf("InFlight %d with nothing running, want 0", n)
		}
		hold := make(chan struct{})
		var admitted atomic.Int64
		for i := range limit {
			wg.Go(func() {
				_, err := l.Execute(ctx, func(context.Context) (int, error) {
					admitted.Add(1)
					<-hold
					return 1, nil
				})
				if err != nil {
					t.Errorf("call %d of %d refused: %v", i+1, limit, err)
				}
			})
			synctest.Wait()
		}
		if _, err := l.Execute(ctx, quick); !errors.Is(err, failover.ErrLimited) {
			t.Errorf("call %d: %v, want ErrLimited", limit+1, err)
		}
		if admitted.Load() != limit || l.InFlight() != limit {
			t.Errorf("%d admitted, InFlight %d; want %d and %d", admitted.Load(), l.InFlight(), limit, limit)
		}
		close(hold)
		wg.Wait()
		if n := l.InFlight(); n != 0 {
			t.Errorf("InFlight %d after every call ended, want 0", n)
		}
	})
}
