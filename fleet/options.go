package fleet

import "time"

// Option configures a [Store]. [Switches] and a [Limiter] take their
// client, key prefix and deadline from the Store they are made with.
type Option interface{ applyStore(*config) }

// SwitchesOption configures [Switches].
type SwitchesOption interface{ applySwitches(*config) }

// LimiterOption configures a [Limiter].
type LimiterOption interface{ applyLimiter(*config) }

type config struct {
	prefix   string
	timeout  time.Duration
	hold     time.Duration
	ttl      time.Duration
	every    time.Duration
	replicas int
}

type storeOption func(*config)

func (f storeOption) applyStore(c *config) { f(c) }

type switchesOption func(*config)

func (f switchesOption) applySwitches(c *config) { f(c) }

type limiterOption func(*config)

func (f limiterOption) applyLimiter(c *config) { f(c) }

// WithPrefix sets the prefix of every key, one fleet (one service) per
// prefix in a shared Redis. Keys are "{prefix}:…", so that all of one
// fleet's keys share a Redis Cluster slot. It must be 1 to 64 characters
// without braces, spaces or control characters. Default: "firebreak".
func WithPrefix(p string) Option { return storeOption(func(c *config) { c.prefix = p }) }

// WithTimeout sets the deadline of every Redis call, between 1ms and 1s;
// a call that misses it counts as Redis failing. Default: 10ms.
func WithTimeout(d time.Duration) Option { return storeOption(func(c *config) { c.timeout = d }) }

// WithHold sets how long a replica holds an incident after its last sync
// naming it: a replica that stops lets go within it. It must be at least
// 100ms, and should be several times the Boards' WithSyncInterval.
// Default: 3s.
func WithHold(d time.Duration) Option { return storeOption(func(c *config) { c.hold = d }) }

// WithTTL sets how long the store keeps an incident nobody holds, with its
// action log, and the longest a notification's lease lasts; between the
// hold and 30 days. Default: 24h.
func WithTTL(d time.Duration) Option { return storeOption(func(c *config) { c.ttl = d }) }

// WithPollInterval sets how often [Switches] read the fleet's switches,
// between 10ms and 10s: a switch set on one replica applies on the others
// within about this. Default: 200ms.
func WithPollInterval(d time.Duration) SwitchesOption {
	return switchesOption(func(c *config) { c.every = d })
}

// WithRefill sets how often a [Limiter] fetches tokens from Redis, between
// 5ms and 1s; each fetch asks for what the replica used in the last
// period, so a shorter period shares the rate more evenly at more Redis
// calls per second. Default: 50ms.
func WithRefill(d time.Duration) LimiterOption {
	return limiterOption(func(c *config) { c.every = d })
}

// WithReplicas sets how many replicas a [Limiter] assumes share the rate
// until it has seen them in Redis: its local limit, used while Redis fails,
// is the rate divided by the replicas it last saw. At least 1. Default: 1.
func WithReplicas(n int) LimiterOption {
	return limiterOption(func(c *config) { c.replicas = n })
}
