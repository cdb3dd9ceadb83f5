package fleet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/firebreak-go/firebreak"
)

// Admitter is what a load shedder consults before it admits a request:
// true admits, false sheds. A [Limiter] is one.
type Admitter interface {
	Allow() bool
}

var _ Admitter = (*Limiter)(nil)

// Limiter is a rate limit shared by the fleet: all replicas together admit
// rate requests per second, with bursts of burst or of two refill periods'
// worth of the rate, whichever is more. The limit is a GCRA (the
// generic cell rate algorithm) kept in Redis by one Lua script, on Redis's
// clock.
//
// Allow never calls Redis. Every refill period (WithRefill) a goroutine
// asks the script for as many tokens as this replica was asked for in the
// last period, and Allow takes them with one atomic operation; tokens are
// kept for two periods and then dropped, so the fleet never admits more
// than rate × time + burst + one period's worth. While Redis fails, Allow falls back to a local
// token bucket of rate/n and burst/n, n being the replicas the script last
// counted (WithReplicas until it has), and goes back to the shared limit
// when a refill succeeds.
//
// NewLimiter starts nothing; [Limiter.Start] (or the first Allow, in the
// background: until the first refill is done Allow uses the local limit)
// starts the refills and [Limiter.Close] stops them. Safe for concurrent
// use.
type Limiter struct {
	s        *Store
	name     string
	rate     float64
	burst    int
	every    time.Duration
	interval int64 // µs per token
	tol      int64 // µs of burst
	replica  string

	tokens   atomic.Int64
	asked    atomic.Int64 // Allow calls in the current period
	degraded atomic.Bool
	started  atomic.Bool
	kicked   atomic.Bool // the first Allow has started it in the background
	local    atomic.Pointer[rate.Limiter]
	seen     atomic.Int64 // replicas counted by the script

	lastGrant int64 // tokens of the last refill; only the refilling goroutine uses it

	mu     sync.Mutex // guards closed and the start
	closed bool
	stop   chan struct{}
	done   chan struct{}
	errs   atomic.Int64
}

// NewLimiter returns the fleet's limiter called name in s: rate requests
// per second (from 1e-6 to 1e6) with bursts of burst, which must cover one
// refill period (burst ≥ rate × WithRefill) and last less than 2^52µs
// (burst / rate under about 142 years).
func NewLimiter(s *Store, name string, r float64, burst int, opts ...LimiterOption) (*Limiter, error) {
	c := config{every: 50 * time.Millisecond, replicas: 1}
	var errs []error
	for i, o := range opts {
		if o == nil {
			errs = append(errs, fmt.Errorf("fleet: NewLimiter: option %d is nil", i))
			continue
		}
		o.applyLimiter(&c)
	}
	if s == nil {
		errs = append(errs, errors.New("fleet: NewLimiter: store is nil"))
	}
	if name == "" || len(name) > 256 {
		errs = append(errs, fmt.Errorf("fleet: NewLimiter: name must be 1 to 256 bytes, got %d", len(name)))
	}
	rateOK := !math.IsNaN(r) && r >= 1e-6 && r <= 1e6
	if !rateOK {
		errs = append(errs, fmt.Errorf("fleet: NewLimiter: rate %v must be a finite number from 1e-6 to 1e6 per second", r))
	} else if span := max(float64(burst), math.Ceil(2*r*c.every.Seconds())) * math.Round(1e6/r); span > 1<<52 {
		// The burst's span in µs, kept in an int64 here and a Lua
		// number (a double) in Redis.
		errs = append(errs, fmt.Errorf("fleet: NewLimiter: burst %d at rate %v per second spans %.3g hours, more than 2^52µs", burst, r, span/3.6e9))
	}
	if c.every < 5*time.Millisecond || c.every > time.Second {
		errs = append(errs, fmt.Errorf("fleet: WithRefill: must be between 5ms and 1s, got %v", c.every))
	} else if r > 0 && !math.IsInf(r, 0) && float64(burst) < r*c.every.Seconds() {
		errs = append(errs, fmt.Errorf("fleet: NewLimiter: burst %d must cover one refill period (rate %v × %v = %.0f)", burst, r, c.every, math.Ceil(r*c.every.Seconds())))
	}
	if burst < 1 {
		errs = append(errs, fmt.Errorf("fleet: NewLimiter: burst %d must be at least 1", burst))
	}
	if c.replicas < 1 {
		errs = append(errs, fmt.Errorf("fleet: WithReplicas: must be at least 1, got %d", c.replicas))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	every := max(1, int64(math.Round(1e6/r)))
	// The bucket holds at least two refill periods' worth, so that a
	// refill late by a period (a busy host) loses no tokens.
	tol := max(int64(burst), int64(math.Ceil(2*r*c.every.Seconds()))) * every
	l := &Limiter{s: s, name: name, rate: r, burst: burst, every: c.every, interval: every, tol: tol,
		replica: newEpoch(), stop: make(chan struct{}), done: make(chan struct{})}
	l.seen.Store(int64(c.replicas))
	l.setLocal(c.replicas)
	return l, nil
}

func (l *Limiter) setLocal(n int) {
	n = max(n, 1)
	l.local.Store(rate.NewLimiter(rate.Limit(l.rate/float64(n)), max(1, l.burst/n)))
}

// Allow reports whether a request may go ahead now. It takes one token
// fetched from Redis, or, while Redis fails, one of the local limit's.
func (l *Limiter) Allow() bool {
	l.asked.Add(1)
	if !l.started.Load() {
		// Started by its first call: the first refill runs in the
		// background, and until it is done the local limit applies.
		if l.kicked.CompareAndSwap(false, true) {
			go func() { _ = l.Start(context.Background()) }()
		}
		return l.local.Load().Allow()
	}
	if l.degraded.Load() {
		return l.local.Load().Allow()
	}
	for {
		n := l.tokens.Load()
		if n <= 0 {
			return false
		}
		if l.tokens.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// Degraded reports whether the limiter works on its local limit because
// Redis fails.
func (l *Limiter) Degraded() bool { return l.degraded.Load() }

// refill fetches the next period's tokens.
func (l *Limiter) refill(ctx context.Context) error {
	// Ask for what was asked of this replica in the last period, less what
	// it still holds.
	want := min(l.asked.Swap(0), l.tol/l.interval) - max(l.tokens.Load(), 0)
	want = max(want, 1)
	ctx, cancel := l.s.call(ctx)
	defer cancel()
	window := max(time.Second, 20*l.every)
	res, err := limitScript.Run(ctx, l.s.rdb, nil, l.s.prefix, l.name, l.replica, l.interval, l.tol, want, window.Milliseconds()).Int64Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("unexpected reply %v", res)
	}
	if err != nil {
		l.errs.Add(1)
		if !l.degraded.Swap(true) {
			l.setLocal(int(l.seen.Load()))
		}
		return fmt.Errorf("fleet: Limiter %q: %w", l.name, err)
	}
	// Tokens left from the last grant stay one more period (a consumer
	// the host scheduled late still gets them); older ones are dropped, so
	// the fleet admits at most the tokens granted in two periods at once.
	granted := res[0]
	keep := granted + l.lastGrant
	for n := l.tokens.Add(granted); n > keep; n = l.tokens.Load() {
		if l.tokens.CompareAndSwap(n, keep) {
			break
		}
	}
	l.lastGrant = granted
	if n := res[1]; n != l.seen.Swap(n) {
		l.setLocal(int(n))
	}
	l.degraded.Store(false)
	return nil
}

// Start fetches the first tokens (within ctx) and starts the refills.
// Redis failing is not an error: the limiter starts on its local limit.
// Start again does nothing; after Close it returns an error wrapping
// [firebreak.ErrClosed].
func (l *Limiter) Start(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("fleet: Limiter.Start: %w", firebreak.ErrClosed)
	}
	if l.started.Load() {
		return nil
	}
	_ = l.refill(ctx)
	l.started.Store(true)
	go l.loop()
	return nil
}

func (l *Limiter) loop() {
	defer close(l.done)
	t := time.NewTicker(l.every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = l.refill(context.Background())
		case <-l.stop:
			return
		}
	}
}

// Close stops the refills; Allow then admits nothing more than the local
// limit. Close is idempotent.
func (l *Limiter) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.started.Load() {
		close(l.stop)
		select {
		case <-l.done:
		case <-ctx.Done():
			return fmt.Errorf("fleet: Limiter.Close: %w", ctx.Err())
		}
	}
	l.started.Store(true) // Allow must not start it again
	l.degraded.Store(true)
	return nil
}
