package fleet_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	xrate "golang.org/x/time/rate"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/failover"
	"github.com/firebreak-go/firebreak/fleet"
	"github.com/firebreak-go/firebreak/internal/testserver"
)

func newSwitches(t *testing.T, st *fleet.Store) *fleet.Switches {
	t.Helper()
	w, err := fleet.NewSwitches(st, fleet.WithPollInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return w
}

func newBreaker(t testing.TB) *breaker.Breaker[int] {
	t.Helper()
	br, err := breaker.New[int]()
	if err != nil {
		t.Fatal(err)
	}
	if err := br.Bind(firebreak.Component{Name: "checkout-api", Dependency: "payments-db", Tier: firebreak.Core}); err != nil {
		t.Fatal(err)
	}
	return br
}

func ok(context.Context) (int, error) { return 1, nil }

// failFast reports whether a call through br is refused by the breaker.
func failFast(br *breaker.Breaker[int]) bool {
	_, err := br.Execute(context.Background(), ok)
	return errors.Is(err, breaker.ErrOpen)
}

// TestForceOpenFleetWide: ForceOpen on one replica makes calls on every
// replica fail fast within 1s; Release likewise.
func TestForceOpenFleetWide(t *testing.T) {
	srv := testserver.StartRedis(t)
	var brs []*breaker.Breaker[int]
	var sws []*fleet.Switches
	for range 3 {
		br := newBreaker(t)
		w := newSwitches(t, newStore(t, srv))
		if err := w.Breaker("payments-db", br); err != nil {
			t.Fatal(err)
		}
		brs, sws = append(brs, br), append(sws, w)
	}
	rec := newRecorder()
	check := func(what string, want bool) {
		t.Helper()
		took := waitFor(t, rec, 3*time.Second, what, func() bool {
			for _, br := range brs {
				if failFast(br) != want {
					return false
				}
			}
			return true
		})
		if took > time.Second {
			t.Errorf("%s took %v, want at most 1s", what, took)
		}
	}
	if err := sws[0].ForceOpen(context.Background(), "payments-db", "isolating a corrupt replica"); err != nil {
		t.Fatal(err)
	}
	if !failFast(brs[0]) {
		t.Error("the replica that forced it open still calls through")
	}
	check("calls failing fast on every replica", true)
	if brs[2].State() != breaker.StateForcedOpen {
		t.Errorf("replica 2's breaker is %v, want forced open", brs[2].State())
	}
	// A replica that starts now starts isolated.
	late := newBreaker(t)
	lw, err := fleet.NewSwitches(newStore(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	lw.Breaker("payments-db", late)
	if err := lw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer lw.Close(context.Background())
	if !failFast(late) {
		t.Error("a replica started while forced open calls through")
	}
	if err := sws[1].Release(context.Background(), "payments-db", "replica replaced"); err != nil {
		t.Fatal(err)
	}
	check("calls going through on every replica", false)
}

// TestModesFleetWide: a mode and a kill switch set on one replica apply on
// every replica's degrader.
func TestModesFleetWide(t *testing.T) {
	srv := testserver.StartRedis(t)
	var dgs []*failover.Degrader
	var sws []*fleet.Switches
	for range 3 {
		d, err := failover.NewDegrader(failover.WithSwitches("recommendations"))
		if err != nil {
			t.Fatal(err)
		}
		w := newSwitches(t, newStore(t, srv))
		w.Degrader(d)
		dgs, sws = append(dgs, d), append(sws, w)
	}
	rec := newRecorder()
	if err := sws[2].SetMode(context.Background(), failover.ModeDegraded, "payments slow"); err != nil {
		t.Fatal(err)
	}
	if err := sws[0].Kill(context.Background(), "recommendations", "shed load"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, rec, time.Second, "degraded mode and the switch off everywhere", func() bool {
		for _, d := range dgs {
			if d.Mode() != failover.ModeDegraded || d.Enabled("recommendations") {
				return false
			}
		}
		return true
	})
	sws[1].SetMode(context.Background(), failover.ModeNormal, "recovered")
	sws[1].Restore(context.Background(), "recommendations", "recovered")
	waitFor(t, rec, time.Second, "normal mode and the switch on everywhere", func() bool {
		for _, d := range dgs {
			if d.Mode() != failover.ModeNormal || !d.Enabled("recommendations") {
				return false
			}
		}
		return true
	})
}

// TestSwitchesWhileRedisDown: a switch set while Redis is down applies on
// its replica, says so, and is shared when Redis returns.
func TestSwitchesWhileRedisDown(t *testing.T) {
	srv := testserver.StartRedis(t)
	a, b := newBreaker(t), newBreaker(t)
	wa, wb := newSwitches(t, newStore(t, srv)), newSwitches(t, newStore(t, srv))
	wa.Breaker("payments-db", a)
	wb.Breaker("payments-db", b)
	srv.Kill()
	err := wa.ForceOpen(context.Background(), "payments-db", "isolating")
	if !errors.Is(err, fleet.ErrPending) {
		t.Errorf("ForceOpen with Redis down: %v, want ErrPending", err)
	}
	if !failFast(a) {
		t.Error("not applied on its own replica")
	}
	srv.Restart()
	waitFor(t, newRecorder(), 3*time.Second, "the switch shared after Redis returned", func() bool { return failFast(b) })
}

// TestFleetRateLimit: four replicas sharing 1000 requests per second admit
// 1000 ± 5% per second in total; with Redis down each falls back to its
// local share.
func TestFleetRateLimit(t *testing.T) {
	srv := testserver.StartRedis(t)
	const rate, burst, n = 1000, 50, 4
	var ls []*fleet.Limiter
	for range n {
		l, err := fleet.NewLimiter(newStore(t, srv), "api", rate, burst, fleet.WithReplicas(n))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close(context.Background()) })
		ls = append(ls, l)
	}
	// Each replica's shedder consults the fleet's limit after its own
	// (which here has no rate limit of its own).
	var sheds []*failover.Shedder
	for _, l := range ls {
		sh, err := failover.NewShedder(xrate.Inf, 0, failover.WithAdmitter(l))
		if err != nil {
			t.Fatal(err)
		}
		sheds = append(sheds, sh)
	}
	var admitted [n]atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range ls {
		sh := sheds[i]
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if p, err := sh.Acquire(context.Background()); err == nil {
					p.Release()
					admitted[i].Add(1)
				} else {
					time.Sleep(200 * time.Microsecond) // offered load far above the share
				}
			}
		})
	}
	total := func() int64 {
		var s int64
		for i := range admitted {
			s += admitted[i].Load()
		}
		return s
	}
	time.Sleep(500 * time.Millisecond) // warm up: every replica seen
	// Three windows of two seconds; the busiest stands for the fleet: a
	// host that starves the test's callers for a moment (they share two
	// cores with other packages' tests) lowers a window's count, and
	// nothing raises one, so no window may pass the limit and the busiest
	// must reach it.
	var rates []float64
	for range 3 {
		from, t0 := total(), time.Now()
		time.Sleep(2 * time.Second)
		rates = append(rates, float64(total()-from)/time.Since(t0).Seconds())
	}
	slices.Sort(rates)
	t.Logf("the fleet admitted %.0f per second (windows %.0f)", rates[2], rates)
	if perSec := rates[2]; perSec < rate*0.95 || perSec > rate*1.05 {
		t.Errorf("the fleet admitted %.0f per second, want %d ± 5%% (windows %.0f)", perSec, rate, rates)
	}

	srv.Kill()
	waitFor(t, newRecorder(), 3*time.Second, "every limiter on its local limit", func() bool {
		for _, l := range ls {
			if !l.Degraded() {
				return false
			}
		}
		return true
	})
	from, t0 := total(), time.Now()
	time.Sleep(time.Second)
	got, secs := total()-from, time.Since(t0).Seconds()
	if perSec := float64(got) / secs; perSec < rate*0.8 || perSec > rate*1.2+burst {
		t.Errorf("with Redis down the replicas admitted %.0f per second, want about %d (each its share)", perSec, rate)
	}
	close(stop)
	wg.Wait()
}
