package fleet_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover"
	"github.com/firebreak-go/firebreak/fleet"
	"github.com/firebreak-go/firebreak/internal/testserver"
)

// TestReviewLimiterNamesDoNotCollide: a limiter named "api:replicas"
// shares Redis with one named "api". Before the fix the first one's GCRA
// key was the second one's replica set (both "rate:api:replicas"), so the
// script failed with WRONGTYPE on every refill and "api:replicas" stayed on
// its local limit for good while Redis was healthy.
func TestReviewLimiterNamesDoNotCollide(t *testing.T) {
	srv := testserver.StartRedis(t)
	st := newStore(t, srv)
	var ls []*fleet.Limiter
	for _, name := range []string{"api", "api:replicas", "a b\r\nc", strings.Repeat("x", 200)} {
		l, err := fleet.NewLimiter(st, name, 1000, 100)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close(context.Background()) })
		ls = append(ls, l)
	}
	// Several refills each, then every limiter must be on the shared limit.
	for range 5 {
		for _, l := range ls {
			l.Allow()
		}
		time.Sleep(60 * time.Millisecond)
	}
	for i, l := range ls {
		if l.Degraded() {
			t.Errorf("limiter %d is on its local limit with Redis healthy (its keys collide with another limiter's)", i)
		}
	}
}

// TestReviewLimiterNameChecked: a name that is not a key part is an error
// naming it, not a silent collision.
func TestReviewLimiterNameChecked(t *testing.T) {
	srv := testserver.StartRedis(t)
	st := newStore(t, srv)
	if _, err := fleet.NewLimiter(st, strings.Repeat("x", 1000), 1000, 100); err == nil || !strings.Contains(err.Error(), "name") {
		t.Errorf("a 1000-byte name: got %v, want an error naming the name", err)
	}
}

// blackholeRedis accepts connections and never answers: a Redis that hangs.
func blackholeRedis(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// TestReviewFirstAllowDoesNotWaitForRedis: Allow is on the request path
// and its doc says it never calls Redis. Before the fix the first Allow
// (of a limiter nobody started) ran the first refill inline, and every
// concurrent Allow waited on the start lock: with a hanging Redis and a
// 300ms deadline the first requests took 300ms.
func TestReviewFirstAllowDoesNotWaitForRedis(t *testing.T) {
	addr := blackholeRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 4})
	t.Cleanup(func() { rdb.Close() })
	st, err := fleet.New(rdb, fleet.WithTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	l, err := fleet.NewLimiter(st, "api", 1000, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	for range 8 {
		wg.Go(func() {
			t0 := time.Now()
			l.Allow()
			d := time.Since(t0)
			mu.Lock()
			slowest = max(slowest, d)
			mu.Unlock()
		})
	}
	wg.Wait()
	if slowest > 100*time.Millisecond {
		t.Errorf("the first Allow calls took up to %v: they waited for Redis", slowest)
	}
}

// TestReviewLeaseAlwaysExpires: a lease with no positive TTL would be a
// key with no TTL (go-redis sends SET NX without PX for 0, KEEPTTL for -1),
// kept for ever; it is an error instead.
func TestReviewLeaseAlwaysExpires(t *testing.T) {
	srv := testserver.StartRedis(t)
	st := newStore(t, srv)
	for _, ttl := range []time.Duration{0, -1, -time.Hour} {
		if _, err := st.Lease(context.Background(), "n", ttl); err == nil || !strings.Contains(err.Error(), "ttl") {
			t.Errorf("Lease with ttl %v: got %v, want an error naming the ttl", ttl, err)
		}
	}
	rdb := client(t, srv)
	keys, err := rdb.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if d, _ := rdb.PTTL(context.Background(), k).Result(); d < 0 {
			t.Errorf("key %q has no TTL", k)
		}
	}
}

// TestReviewPasswordNotInErrors: a wrong password or a Redis that is down
// gives errors that never carry the password.
func TestReviewPasswordNotInErrors(t *testing.T) {
	srv := testserver.StartRedis(t)
	const secret = "s3cr3t-hunter2"
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: secret, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	st, err := fleet.New(rdb, fleet.WithTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	// A server without requirepass may accept any password; when it
	// refuses it, the refusal must not carry it.
	if _, err = st.Lease(context.Background(), "n", time.Second); err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("the error carries the password: %v", err)
	}
	srv.Kill()
	_, err = st.Lease(context.Background(), "n", time.Second)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("Redis down: got %v, want an error without the password", err)
	}
}

// slowIsolator records the last state it was driven to; its first
// ForceOpen waits for gate, as a breaker busy with its own lock or a
// logger would.
type slowIsolator struct {
	mu      sync.Mutex
	state   string
	entered chan struct{}
	gate    chan struct{}
	once    sync.Once
}

func (s *slowIsolator) ForceOpen(string) error {
	s.once.Do(func() { close(s.entered); <-s.gate })
	s.mu.Lock()
	s.state = "open"
	s.mu.Unlock()
	return nil
}

func (s *slowIsolator) Release(string) error {
	s.mu.Lock()
	s.state = "closed"
	s.mu.Unlock()
	return nil
}

func (s *slowIsolator) get() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// TestReviewSwitchesApplyInOrder: a ForceOpen and a Release of the same
// dependency on one replica, the ForceOpen's breaker call still running
// when the Release is made. Before the fix the breaker got the Release
// and then the ForceOpen, while the replica noted "closed" as applied and
// the hash said "closed": the poll saw nothing to change, and the replica
// stayed isolated, against the fleet, for good.
func TestReviewSwitchesApplyInOrder(t *testing.T) {
	srv := testserver.StartRedis(t)
	w := newSwitches(t, newStore(t, srv))
	iso := &slowIsolator{entered: make(chan struct{}), gate: make(chan struct{})}
	if err := w.Breaker("payments-db", iso); err != nil {
		t.Fatal(err)
	}
	opened := make(chan error, 1)
	go func() { opened <- w.ForceOpen(context.Background(), "payments-db", "drill") }()
	<-iso.entered
	if err := w.Release(context.Background(), "payments-db", "all clear"); err != nil {
		t.Fatal(err)
	}
	close(iso.gate)
	if err := <-opened; err != nil {
		t.Fatal(err)
	}
	rdb := client(t, srv)
	want := func() string {
		v, _ := rdb.HGet(context.Background(), "{firebreak}:switches", "breaker:payments-db").Result()
		st, _, _ := strings.Cut(v, "\x00")
		return st
	}
	if got := want(); got != "closed" {
		t.Fatalf("the fleet's switch is %q, want closed (the last call)", got)
	}
	waitFor(t, newRecorder(), time.Second, "the breaker released, as the fleet says", func() bool { return iso.get() == "closed" })
}

// TestReviewLimiterSettingsOverflow: a rate so low that its emission
// interval does not fit in an int64 became one token per microsecond (a
// million per second: the limit silently off), and a burst whose span in
// microseconds overflows made the tolerance negative (nothing admitted).
// Both are errors naming the setting.
func TestReviewLimiterSettingsOverflow(t *testing.T) {
	srv := testserver.StartRedis(t)
	st := newStore(t, srv)
	for _, c := range []struct {
		rate  float64
		burst int
		want  string
	}{
		{1e-300, 1, "rate"},
		{1e-9, 1, "rate"},
		{1000, 1 << 62, "burst"},
		{1, 1 << 40, "burst"},
	} {
		l, err := fleet.NewLimiter(st, "x", c.rate, c.burst)
		if err == nil {
			// What it would do: admit (1 per the rate) or not at all.
			l.Start(context.Background())
			n := 0
			for range 1000 {
				if l.Allow() {
					n++
				}
			}
			l.Close(context.Background())
			t.Errorf("NewLimiter(rate %v, burst %d) accepted; it admitted %d of 1000 at once", c.rate, c.burst, n)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewLimiter(rate %v, burst %d): %v, want an error naming the %s", c.rate, c.burst, err, c.want)
		}
	}
}

// TestReviewLimitersStartWithRedisDownAndRejoin: three replicas start
// while Redis is down: each is on its local limit (a third of the rate,
// WithReplicas(3)), Start returns at once with no error, and no Allow
// waits; when Redis comes back every one goes back to the shared limit.
func TestReviewLimitersStartWithRedisDownAndRejoin(t *testing.T) {
	srv := testserver.StartRedis(t)
	srv.Kill()
	var ls []*fleet.Limiter
	for range 3 {
		l, err := fleet.NewLimiter(newStore(t, srv), "api", 300, 30, fleet.WithReplicas(3))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Start(context.Background()); err != nil {
			t.Fatalf("Start with Redis down: %v", err)
		}
		t.Cleanup(func() { l.Close(context.Background()) })
		ls = append(ls, l)
	}
	for i, l := range ls {
		if !l.Degraded() {
			t.Fatalf("replica %d is not on its local limit with Redis down", i)
		}
		n := 0
		t0 := time.Now()
		for range 1000 {
			if l.Allow() {
				n++
			}
		}
		if d := time.Since(t0); d > 50*time.Millisecond {
			t.Errorf("1000 Allow calls with Redis down took %v", d)
		}
		if n < 8 || n > 12 {
			t.Errorf("replica %d admitted %d at once on its local limit, want its share of the burst (10)", i, n)
		}
	}
	srv.Restart()
	waitFor(t, newRecorder(), 3*time.Second, "every limiter back on the shared limit", func() bool {
		for _, l := range ls {
			l.Allow()
			if l.Degraded() {
				return false
			}
		}
		return true
	})
}

// TestReviewHangingRedisIsBounded: against a Redis that accepts and never
// answers, every Store call returns an error within its deadline.
func TestReviewHangingRedisIsBounded(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: blackholeRedis(t), ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 4})
	t.Cleanup(func() { rdb.Close() })
	st, err := fleet.New(rdb, fleet.WithTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	calls := map[string]func() error{
		"Claim": func() error {
			_, err := st.Claim(ctx, firebreak.SharedIncident{ID: "i", GroupKey: "g"})
			return err
		},
		"Append": func() error { return st.Append(ctx, firebreak.SharedAction{Incident: "i"}) },
		"Sync": func() error {
			_, err := st.Sync(ctx, firebreak.SyncRequest{Replica: "r"})
			return err
		},
		"Lease": func() error {
			_, err := st.Lease(ctx, "n", time.Second)
			return err
		},
	}
	for name, call := range calls {
		t0 := time.Now()
		err := call()
		if d := time.Since(t0); err == nil || d > 250*time.Millisecond {
			t.Errorf("%s against a hanging Redis: %v after %v, want an error within about 50ms", name, err, d)
		}
	}
}

// stuckIsolator's ForceOpen blocks until release is closed.
type stuckIsolator struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *stuckIsolator) ForceOpen(string) error {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return nil
}

func (s *stuckIsolator) Release(string) error { return nil }

// TestReviewSwitchesCloseHonoursItsContext: a breaker's ForceOpen that
// hangs on the poll goroutine (driven by another replica's switch) must
// not hold Close past its context: Close returns an error wrapping the
// context's instead of waiting for ever.
func TestReviewSwitchesCloseHonoursItsContext(t *testing.T) {
	srv := testserver.StartRedis(t)
	other := newSwitches(t, newStore(t, srv))
	w, err := fleet.NewSwitches(newStore(t, srv), fleet.WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	iso := &stuckIsolator{entered: make(chan struct{}), release: make(chan struct{})}
	if err := w.Breaker("payments-db", iso); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := other.ForceOpen(context.Background(), "payments-db", "outage"); err != nil {
		t.Fatal(err)
	}
	<-iso.entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err = w.Close(ctx)
	d := time.Since(t0)
	close(iso.release)
	if err == nil || d > time.Second {
		t.Errorf("Close with a breaker call hung: %v after %v, want the context's error after about 100ms", err, d)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Errorf("Close again: %v", err)
	}
}

// TestReviewBreakerRegisteredLateIsIsolated: a replica's Switches run; a
// dependency is forced open fleet-wide; then the replica registers a new
// breaker for it (a pipeline built on demand, a tenant's first call).
// Before the fix the new breaker stayed closed until the switch changed,
// since the replica had already applied "open"; the same for a degrader
// registered after a kill.
func TestReviewBreakerRegisteredLateIsIsolated(t *testing.T) {
	srv := testserver.StartRedis(t)
	a := newSwitches(t, newStore(t, srv))
	b := newSwitches(t, newStore(t, srv))
	if err := b.Breaker("payments-db", newBreaker(t)); err != nil {
		t.Fatal(err)
	}
	if err := a.ForceOpen(context.Background(), "payments-db", "outage"); err != nil {
		t.Fatal(err)
	}
	if err := a.Kill(context.Background(), "recommendations", "outage"); err != nil {
		t.Fatal(err)
	}
	first := newBreaker(t)
	if err := b.Breaker("payments-db", first); err != nil {
		t.Fatal(err)
	}
	waitFor(t, newRecorder(), 2*time.Second, "the first breaker isolated", func() bool { return failFast(first) })
	late := newBreaker(t)
	if err := b.Breaker("payments-db", late); err != nil {
		t.Fatal(err)
	}
	deg := &recModer{}
	if err := b.Degrader(deg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, newRecorder(), time.Second, "the breaker registered after the switch isolated", func() bool { return failFast(late) })
	waitFor(t, newRecorder(), time.Second, "the degrader registered after the kill told", func() bool { return deg.killed("recommendations") })
}

type recModer struct {
	mu    sync.Mutex
	kills map[string]bool
}

func (m *recModer) SetMode(failover.Mode, string) error { return nil }
func (m *recModer) Kill(name, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kills == nil {
		m.kills = map[string]bool{}
	}
	m.kills[name] = true
	return nil
}
func (m *recModer) Restore(name, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.kills, name)
	return nil
}
func (m *recModer) killed(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.kills[name]
}
