package fleet_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/fleet"
	"github.com/firebreak-go/firebreak/internal/testserver"
)

// These tests run Boards standing for replicas against a real
// redis-server, in real time. The plan is the default one with every
// duration scaled down 240 times (a minute is 250ms), so that "the
// acknowledgement after 2 minutes" and "no breach at the 10-minute
// deadline" take seconds. The same scenarios run on the default plan's
// own timers in the root package, on a MemoryStore inside synctest.

const minute = 250 * time.Millisecond

func scaledPlan() *firebreak.Plan {
	p := firebreak.DefaultPlan()
	scale := func(d firebreak.Duration) firebreak.Duration { return d / firebreak.Duration(time.Minute/minute) }
	for sev, rp := range p.Response {
		rp.Within, rp.RenotifyEvery = scale(rp.Within), scale(rp.RenotifyEvery)
		p.Response[sev] = rp
	}
	for i := range p.Escalation.Persistence {
		p.Escalation.Persistence[i].After = scale(p.Escalation.Persistence[i].After)
	}
	p.Timers.GroupWait = scale(p.Timers.GroupWait)
	p.Timers.ResolveHoldDown = scale(p.Timers.ResolveHoldDown)
	p.Timers.ReopenWindow = scale(p.Timers.ReopenWindow)
	return p
}

func client(t testing.TB, srv *testserver.Redis) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true, MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, PoolSize: 4})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// newStore returns a store on srv. Its deadline is generous: these tests
// share two cores with other work, and a missed deadline would (rightly)
// make a replica page on its own.
func newStore(t testing.TB, srv *testserver.Redis, opts ...fleet.Option) *fleet.Store {
	t.Helper()
	st, err := fleet.New(client(t, srv), append([]fleet.Option{fleet.WithTimeout(300 * time.Millisecond), fleet.WithHold(time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// note is one notification delivered on one replica.
type note struct {
	replica int
	at      time.Time
	n       firebreak.Notification
}

// recorder collects what every replica's notifier delivers.
type recorder struct {
	mu    sync.Mutex
	notes []note
	wake  chan struct{}
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{}, 1)} }

func (r *recorder) notifier(replica int) firebreak.Notifier {
	return firebreak.NotifierFunc(func(_ context.Context, n firebreak.Notification) error {
		r.mu.Lock()
		r.notes = append(r.notes, note{replica, time.Now(), n})
		r.mu.Unlock()
		select {
		case r.wake <- struct{}{}:
		default:
		}
		return nil
	})
}

func (r *recorder) match(f func(note) bool) []note {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []note
	for _, n := range r.notes {
		if f(n) {
			out = append(out, n)
		}
	}
	return out
}

func (r *recorder) count(ev firebreak.Event) int {
	return len(r.match(func(n note) bool { return n.n.Event == ev }))
}

// waitFor waits until cond holds, waking on each notification and every
// 10ms, and fails after d.
func waitFor(t *testing.T, r *recorder, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-r.wake:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("not within %v: %s", d, what)
		}
	}
	return time.Since(start)
}

type replicas struct {
	t      *testing.T
	st     firebreak.Store
	rec    *recorder
	boards []*firebreak.Board
}

func (f *replicas) start(i int) *firebreak.Board {
	f.t.Helper()
	b, err := firebreak.NewBoard("checkout", firebreak.WithEnv("prod"), firebreak.WithPlan(scaledPlan()),
		firebreak.WithStore(f.st), firebreak.WithSyncInterval(50*time.Millisecond), firebreak.WithNotifier(f.rec.notifier(i)))
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { b.Close(context.Background()) })
	return b
}

func newReplicas(t *testing.T, st firebreak.Store, n int) *replicas {
	f := &replicas{t: t, st: st, rec: newRecorder()}
	for i := range n {
		f.boards = append(f.boards, f.start(i))
	}
	return f
}

var outage = firebreak.Signal{Kind: firebreak.KindErrorBudgetBurn, Component: "checkout-api", Dependency: "payments-db", Tier: firebreak.Core,
	Firing: true, Value: 1000, Metrics: map[string]float64{"error_ratio_now": 1}, Labels: map[string]string{"slo": "availability"}}

func openIn(b *firebreak.Board, domain string) (firebreak.Incident, bool) {
	for _, inc := range b.List(firebreak.Filter{OpenOnly: true}) {
		if inc.FaultDomain == domain {
			return inc, true
		}
	}
	return firebreak.Incident{}, false
}

// TestOneOutageOneAck: 20 replicas, one outage, one acknowledgement on
// replica 7 after 2 (scaled) minutes: exactly one announcement, no breach
// or escalation anywhere, one incident ID, the acknowledgement on every
// replica within 1s.
func TestOneOutageOneAck(t *testing.T) {
	srv := testserver.StartRedis(t)
	f := newReplicas(t, newStore(t, srv), 20)
	start := time.Now()
	for _, b := range f.boards {
		b.Report(outage)
	}
	waitFor(t, f.rec, 5*time.Second, "the announcement", func() bool { return f.rec.count(firebreak.EventDetected) > 0 })
	time.Sleep(time.Until(start.Add(2 * minute)))
	inc, ok := openIn(f.boards[7], "payments-db")
	if !ok {
		t.Fatal("replica 7 has no open incident")
	}
	if err := f.boards[7].Acknowledge(inc.ID, "ana"); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, f.rec, 3*time.Second, "the acknowledgement on every replica", func() bool {
		for _, b := range f.boards {
			if got, ok := openIn(b, "payments-db"); !ok || got.AcknowledgedBy != "ana" {
				return false
			}
		}
		return true
	})
	if took > time.Second {
		t.Errorf("the acknowledgement took %v to reach every replica, want at most 1s", took)
	}
	// Past the Fatal response deadline (10 scaled minutes) and a reminder
	// interval: nothing more may be sent.
	time.Sleep(time.Until(start.Add(12 * minute)))
	for i, b := range f.boards {
		got, ok := openIn(b, "payments-db")
		switch {
		case !ok:
			t.Errorf("replica %d: no open incident", i)
		case got.ID != inc.ID:
			t.Errorf("replica %d calls it %s, replica 7 %s", i, got.ID, inc.ID)
		case got.Breached || got.EscalatedTo != "":
			t.Errorf("replica %d: breached %v, escalated to %q", i, got.Breached, got.EscalatedTo)
		}
	}
	if n := f.rec.count(firebreak.EventDetected); n != 1 {
		t.Errorf("%d announcements across 20 replicas, want 1", n)
	}
	for _, ev := range []firebreak.Event{firebreak.EventBreached, firebreak.EventRenotify, firebreak.EventEscalated, firebreak.EventEscalationStep} {
		if n := f.rec.count(ev); n != 0 {
			t.Errorf("%d %s notifications, want 0", n, ev)
		}
	}
	if n := f.rec.count(firebreak.EventAcknowledged); n != 1 {
		t.Errorf("%d acknowledgement notifications, want 1", n)
	}
}

// TestReplicaRestart: a replica that restarts mid-incident rejoins the
// same incident, with its acknowledgement; nothing is announced twice.
func TestReplicaRestart(t *testing.T) {
	srv := testserver.StartRedis(t)
	f := newReplicas(t, newStore(t, srv), 3)
	for _, b := range f.boards {
		b.Report(outage)
	}
	waitFor(t, f.rec, 5*time.Second, "the announcement", func() bool { return f.rec.count(firebreak.EventDetected) > 0 })
	inc, _ := openIn(f.boards[0], "payments-db")
	if err := f.boards[0].Acknowledge(inc.ID, "ana"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, f.rec, 3*time.Second, "the acknowledgement on replica 2", func() bool {
		got, ok := openIn(f.boards[2], "payments-db")
		return ok && got.AcknowledgedBy == "ana"
	})
	f.boards[2].Close(context.Background())
	f.boards[2] = f.start(2)
	got, ok := openIn(f.boards[2], "payments-db")
	if !ok || got.ID != inc.ID || got.AcknowledgedBy != "ana" {
		t.Fatalf("restarted replica after Start: %+v (ok %v), want %s acknowledged by ana", got.ID, ok, inc.ID)
	}
	f.boards[2].Report(outage)
	time.Sleep(12 * minute) // past the deadline: a second announcement would be out by now
	got, _ = openIn(f.boards[2], "payments-db")
	if got.ID != inc.ID || len(got.Alerts) != 1 {
		t.Errorf("restarted replica: %s with %d alerts, want %s with its own alert", got.ID, len(got.Alerts), inc.ID)
	}
	if n := f.rec.count(firebreak.EventDetected) + f.rec.count(firebreak.EventReopened); n != 1 {
		t.Errorf("%d announcements and reopenings, want 1", n)
	}
	if n := f.rec.count(firebreak.EventBreached); n != 0 {
		t.Errorf("%d breaches, want 0", n)
	}
}

// TestRedisKilled: Redis is killed mid-incident. Every replica still pages
// on its own for a new fault and raises shared_state_degraded; when Redis
// restarts (empty), the replicas reconcile into one incident per fault and
// keep the acknowledgement made before.
func TestRedisKilled(t *testing.T) {
	srv := testserver.StartRedis(t)
	f := newReplicas(t, newStore(t, srv), 4)
	for _, b := range f.boards {
		b.Report(outage)
	}
	waitFor(t, f.rec, 5*time.Second, "the announcement", func() bool { return f.rec.count(firebreak.EventDetected) > 0 })
	first, _ := openIn(f.boards[1], "payments-db")
	if err := f.boards[1].Acknowledge(first.ID, "ana"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, f.rec, 3*time.Second, "the acknowledgement everywhere", func() bool {
		for _, b := range f.boards {
			if got, ok := openIn(b, "payments-db"); !ok || got.AcknowledgedBy != "ana" {
				return false
			}
		}
		return true
	})

	srv.Kill()
	inventory := firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "checkout-api", Dependency: "inventory", Tier: firebreak.Core, Firing: true}
	for _, b := range f.boards {
		b.Report(inventory)
	}
	announced := func(domain string) map[int]bool {
		got := map[int]bool{}
		for _, n := range f.rec.match(func(n note) bool { return n.n.Event == firebreak.EventDetected && n.n.Incident.FaultDomain == domain }) {
			got[n.replica] = true
		}
		return got
	}
	waitFor(t, f.rec, 5*time.Second, "every replica paging on its own for inventory and shared-state", func() bool {
		return len(announced("inventory")) == 4 && len(announced("shared-state")) == 4
	})

	srv.Restart()
	waitFor(t, f.rec, 5*time.Second, "one incident per fault again, the acknowledgement kept", func() bool {
		ids := map[string]map[string]bool{}
		for _, b := range f.boards {
			if b.FleetStats().Degraded {
				return false
			}
			for _, inc := range b.List(firebreak.Filter{OpenOnly: true}) {
				if inc.FaultDomain == "payments-db" && (inc.ID != first.ID || inc.AcknowledgedBy != "ana") {
					return false
				}
				if ids[inc.FaultDomain] == nil {
					ids[inc.FaultDomain] = map[string]bool{}
				}
				ids[inc.FaultDomain][inc.ID] = true
			}
		}
		for _, set := range ids {
			if len(set) != 1 {
				return false
			}
		}
		return len(ids["inventory"]) == 1 && len(ids["payments-db"]) == 1
	})
	// A replica that starts now takes the acknowledgement up from Redis.
	// Start waits for its first sync; on a loaded machine that sync may miss
	// its few-millisecond deadline, and the next one (200 ms later) brings it.
	late := f.start(4)
	waitFor(t, f.rec, 2*time.Second, "a replica started after the reconcile taking up the acknowledged incident", func() bool {
		got, ok := openIn(late, "payments-db")
		return ok && got.ID == first.ID && got.AcknowledgedBy == "ana"
	})
}

func TestNewErrors(t *testing.T) {
	srv := testserver.StartRedis(t)
	good := client(t, srv)
	noDeadline := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer noDeadline.Close()
	for _, tc := range []struct {
		name   string
		client redis.UniversalClient
		opts   []fleet.Option
		want   string
	}{
		{"nil client", nil, nil, "a Redis client is required"},
		{"no context timeouts", noDeadline, nil, "ContextTimeoutEnabled: true"},
		{"empty prefix", good, []fleet.Option{fleet.WithPrefix("")}, `WithPrefix: must be 1 to 64 characters, got ""`},
		{"braces", good, []fleet.Option{fleet.WithPrefix("a{b}")}, "must not hold braces"},
		{"TTL 0", good, []fleet.Option{fleet.WithTTL(0)}, "WithTTL: must be between the hold (3s) and 720h, got 0s"},
		{"timeout 0", good, []fleet.Option{fleet.WithTimeout(0)}, "WithTimeout: must be between 1ms and 1s, got 0s"},
		{"nil option", good, []fleet.Option{nil}, "New: option 0 is nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := fleet.New(tc.client, tc.opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	st := newStore(t, srv)
	nan := 0.0
	nan /= nan
	for _, tc := range []struct {
		name  string
		rate  float64
		burst int
		opts  []fleet.LimiterOption
		want  string
	}{
		{"NaN rate", nan, 10, nil, "rate NaN must be a finite number"},
		{"zero rate", 0, 10, nil, "rate 0 must be"},
		{"burst below a period", 1000, 10, nil, "burst 10 must cover one refill period (rate 1000 × 50ms = 50)"},
		{"replicas 0", 10, 10, []fleet.LimiterOption{fleet.WithReplicas(0)}, "WithReplicas: must be at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := fleet.NewLimiter(st, "api", tc.rate, tc.burst, tc.opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := fleet.NewSwitches(st, fleet.WithPollInterval(0)); err == nil || !strings.Contains(err.Error(), "WithPollInterval") {
		t.Errorf("NewSwitches with a poll interval of 0: %v", err)
	}
	if _, err := fleet.NewSwitches(nil); err == nil || !strings.Contains(err.Error(), "store is nil") {
		t.Errorf("NewSwitches(nil): %v", err)
	}
	if _, err := fleet.NewLimiter(nil, "api", 10, 10); err == nil || !strings.Contains(err.Error(), "store is nil") {
		t.Errorf("NewLimiter(nil, …): %v", err)
	}
}

// TestKeysPrefixedWithTTL: after an incident, actions, leases, switches
// and a limiter, every key is under the prefix and expires.
func TestKeysPrefixedWithTTL(t *testing.T) {
	srv := testserver.StartRedis(t)
	st := newStore(t, srv, fleet.WithPrefix("checkout"))
	f := newReplicas(t, st, 2)
	for _, b := range f.boards {
		b.Report(outage)
	}
	waitFor(t, f.rec, 5*time.Second, "the announcement", func() bool { return f.rec.count(firebreak.EventDetected) > 0 })
	inc, _ := openIn(f.boards[0], "payments-db")
	if err := f.boards[0].Acknowledge(inc.ID, "ana"); err != nil {
		t.Fatal(err)
	}
	w := newSwitches(t, st)
	if err := w.ForceOpen(context.Background(), "payments-db", "test"); err != nil {
		t.Fatal(err)
	}
	l, err := fleet.NewLimiter(st, "api", 100, 10)
	if err != nil {
		t.Fatal(err)
	}
	l.Allow()
	defer l.Close(context.Background())
	waitFor(t, f.rec, 3*time.Second, "the acknowledgement on replica 1", func() bool {
		got, ok := openIn(f.boards[1], "payments-db")
		return ok && got.AcknowledgedBy == "ana"
	})
	rdb := client(t, srv)
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 6 {
		t.Errorf("only %d keys: %v", len(keys), keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "{checkout}:") {
			t.Errorf("key %q is not under the prefix", k)
		}
		if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 {
			t.Errorf("key %q has no TTL (%v)", k, ttl)
		}
	}
}
