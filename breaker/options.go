package breaker

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/firebreak-go/firebreak"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
)

// Defaults used when an option is not given. They are chosen for the
// traffic a breaker sees in production, from a call a minute to thousands a
// second; the package documentation tabulates the detection times they give.
const (
	// DefaultWindow is the length of the rolling window over which the
	// failure ratio is measured. Half a window of total failure is what the
	// ratio rule needs to trip, so the window sets the detection time at
	// high traffic (about 15 s).
	DefaultWindow = 30 * time.Second
	// DefaultBucket is the length of one bucket of the rolling window: every
	// DefaultBucket the oldest bucket's counts leave the window.
	DefaultBucket = 5 * time.Second
	// DefaultFailureRatio is the share of failed calls in the window that
	// trips the breaker.
	DefaultFailureRatio = 0.5
	// DefaultMinCalls is how many calls with an outcome the window must hold
	// before the failure ratio is considered. 100 makes a false trip at 30%
	// random errors a one-in-100,000 event even right after the counts
	// were reset; 20 made it one in twenty.
	DefaultMinCalls = 100
	// DefaultConsecutiveFailures is how many failures in a row trip the
	// breaker while the window holds fewer than the failure ratio's minimum
	// number of calls (low traffic). At 30% random errors a run of 10 comes
	// once in about 200,000 calls; a run of 5, the old default, once in 400.
	DefaultConsecutiveFailures = 10
	// DefaultHangThreshold is how long a call must have run for its end by
	// the caller's context (cancelled or past its deadline) to count as a
	// failure: the dependency hung, whoever gave up first.
	DefaultHangThreshold = 500 * time.Millisecond
	// DefaultHangBudget is the least budget a caller's deadline must have
	// left a call when it started for the call's running out of it to count
	// as a failure ([firebreak.DefaultHangBudget]).
	DefaultHangBudget = firebreak.DefaultHangBudget
	// DefaultOpenTimeout is how long the breaker stays open before it lets
	// trial calls through (half-open).
	DefaultOpenTimeout = time.Minute
	// DefaultHalfOpenCalls is how many trial calls a half-open breaker lets
	// through; that many successes in a row close it.
	DefaultHalfOpenCalls = 1

	// maxBuckets bounds the rolling window's memory and the cost of rolling.
	maxBuckets = 1000
)

// An Option configures a [Breaker] ([New]) or the breakers of a [Group]
// ([NewGroup]). Options are made by the With… functions of this package; the
// interface is sealed.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is what the options set; New validates it.
type config struct {
	name          string
	window        time.Duration
	bucket        time.Duration
	ratio         float64
	minCalls      int
	consecutive   int
	slow          time.Duration
	hang          time.Duration // 0: hang detection off
	hangBudget    time.Duration
	openTimeout   time.Duration
	halfOpenCalls int
	isFailure     func(error) bool
	isExcluded    func(error) bool
	meterProvider metric.MeterProvider
	errs          []error // problems found while applying options
}

func defaultConfig() config {
	return config{
		window:        DefaultWindow,
		bucket:        DefaultBucket,
		ratio:         DefaultFailureRatio,
		minCalls:      DefaultMinCalls,
		consecutive:   DefaultConsecutiveFailures,
		hang:          DefaultHangThreshold,
		hangBudget:    DefaultHangBudget,
		openTimeout:   DefaultOpenTimeout,
		halfOpenCalls: DefaultHalfOpenCalls,
	}
}

func (c *config) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("breaker: "+format, args...))
}

// validate checks the settings that depend on one another and returns every
// problem found, each naming its option.
func (c *config) validate() error {
	add := c.errorf
	if c.bucket <= 0 {
		add("WithWindow: bucket %v must be > 0", c.bucket)
	} else if c.window < c.bucket {
		add("WithWindow: window %v must be >= bucket %v", c.window, c.bucket)
	} else {
		if c.window%c.bucket != 0 {
			add("WithWindow: window %v must be a whole number of buckets of %v", c.window, c.bucket)
		}
		if n := c.window / c.bucket; n > maxBuckets {
			add("WithWindow: window %v holds %d buckets of %v, more than %d", c.window, n, c.bucket, maxBuckets)
		}
	}
	if c.ratio == 0 && c.consecutive == 0 {
		add("no trip rule: WithFailureRatio and WithConsecutiveFailures are both off")
	}
	return errors.Join(c.errs...)
}

func (c *config) meter() metric.MeterProvider {
	if c.meterProvider != nil {
		return c.meterProvider
	}
	return otel.GetMeterProvider()
}

// WithName names the breaker in errors, metrics and signals; in a [Group] it
// prefixes each key's name ("name/key"). name must not be empty. Default: the
// bound component's Dependency, or its Name when it has no dependency (see
// [Breaker.Bind]); an unbound breaker without a name is just "breaker" in
// errors.
func WithName(name string) Option {
	return optionFunc(func(c *config) {
		if name == "" {
			c.errorf("WithName: name must not be empty")
		}
		c.name = name
	})
}

// WithWindow sets the rolling window over which the failure ratio is
// measured: window long, made of buckets of length bucket. Every bucket the
// oldest bucket's counts leave the window, so the time to detect a failure
// onset does not grow with uptime. window must be a whole number of buckets,
// at most 1000 of them; a window of one bucket is a fixed window, cleared
// whole at its end. Default: a 30-second window of 5-second buckets
// ([DefaultWindow], [DefaultBucket]).
func WithWindow(window, bucket time.Duration) Option {
	return optionFunc(func(c *config) { c.window, c.bucket = window, bucket })
}

// WithFailureRatio trips the breaker when at least ratio of the calls in the
// rolling window failed, once the window holds at least minCalls calls with an
// outcome (successes and failures; excluded calls do not count). ratio must
// be in (0, 1] and minCalls in [1, 4294967295]; ratio 0 turns the rule off.
//
// minCalls also says where low traffic ends: while the window holds fewer
// than minCalls outcomes the consecutive-failure rule decides instead (see
// [WithConsecutiveFailures]). A small minCalls makes the ratio rule fire on
// random runs of errors right after the counts are reset (at start and
// after every recovery): at 30% errors, 20 calls reach 50% failures one
// time in twenty.
//
// Default: 0.5 over at least 100 calls ([DefaultFailureRatio],
// [DefaultMinCalls]).
func WithFailureRatio(ratio float64, minCalls int) Option {
	return optionFunc(func(c *config) {
		switch {
		case math.IsNaN(ratio) || ratio < 0 || ratio > 1:
			c.errorf("WithFailureRatio: ratio %v must be in (0, 1], or 0 to turn the rule off", ratio)
		case ratio > 0 && minCalls < 1:
			c.errorf("WithFailureRatio: minCalls %d must be >= 1", minCalls)
		case minCalls > 0 && uint64(minCalls) > math.MaxUint32:
			// The counts are uint32, as gobreaker's.
			c.errorf("WithFailureRatio: minCalls %d must be <= %d", minCalls, uint64(math.MaxUint32))
		}
		c.ratio, c.minCalls = ratio, minCalls
	})
}

// WithConsecutiveFailures trips the breaker after n failures in a row while
// the rolling window holds fewer than the failure ratio's minCalls outcomes
// (or always, when the ratio rule is off). It catches a dead dependency at
// low traffic, where the window never holds enough calls. At high traffic it
// stands aside: there runs of failures come by chance from any partial
// failure (at 1000 calls/s and 10% errors, five in a row come every few
// seconds), and only the ratio tells a dead dependency from a degraded one.
// n must be in [0, 4294967295]; 0 turns the rule off. Default: 10
// ([DefaultConsecutiveFailures]).
func WithConsecutiveFailures(n int) Option {
	return optionFunc(func(c *config) {
		switch {
		case n < 0:
			c.errorf("WithConsecutiveFailures: n %d must be >= 0 (0 turns the rule off)", n)
		case uint64(n) > math.MaxUint32:
			// The counts are uint32, as gobreaker's.
			c.errorf("WithConsecutiveFailures: n %d must be <= %d", n, uint64(math.MaxUint32))
		}
		c.consecutive = n
	})
}

// WithSlowCall counts a call that succeeds but takes threshold or longer as a
// failure (outcome "slow"), so a dependency that answers too slowly trips the
// breaker like one that fails. The caller still gets the call's result.
// threshold must be >= 0. Default: 0, slow-call counting off; then the
// clock is read only for calls whose context can end (see
// [WithHangThreshold]).
func WithSlowCall(threshold time.Duration) Option {
	return optionFunc(func(c *config) {
		if threshold < 0 {
			c.errorf("WithSlowCall: threshold %v must be >= 0 (0 turns it off)", threshold)
		}
		c.slow = threshold
	})
}

// WithHangThreshold sets when a call that the caller's context ended
// (cancelled, or past its deadline) counts as a failure of the dependency
// (outcome "hung") instead of being excluded: when it had run for at least
// threshold, or when it ran out a deadline that had left it at least
// minBudget when it started. A dependency that never answers then trips the
// breaker even though every caller gives up first; a call the caller gave up
// on early, or that arrived with almost no time left, says nothing about the
// dependency and stays excluded. With [WithSlowCall] on, the smaller of its
// threshold and this one applies. threshold and minBudget must be >= 0;
// threshold 0 turns hang detection off (every call the caller's context
// ended is excluded), minBudget 0 counts every deadline the call ran out.
// Default: 500 ms and 20 ms ([DefaultHangThreshold], [DefaultHangBudget]).
func WithHangThreshold(threshold, minBudget time.Duration) Option {
	return optionFunc(func(c *config) {
		if threshold < 0 {
			c.errorf("WithHangThreshold: threshold %v must be >= 0 (0 turns hang detection off)", threshold)
		}
		if minBudget < 0 {
			c.errorf("WithHangThreshold: minBudget %v must be >= 0", minBudget)
		}
		c.hang, c.hangBudget = threshold, minBudget
	})
}

// WithOpenTimeout sets how long the breaker stays open before it becomes
// half-open and lets trial calls through. It must be > 0. Default: one
// minute ([DefaultOpenTimeout]).
func WithOpenTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.errorf("WithOpenTimeout: timeout %v must be > 0", d)
		}
		c.openTimeout = d
	})
}

// WithHalfOpenCalls sets how many trial calls a half-open breaker lets
// through at once. That many successes in a row close the breaker; any
// failure opens it again. Calls beyond n are rejected while the trials run.
// n must be in [1, 65535]. Default: 1 ([DefaultHalfOpenCalls]).
func WithHalfOpenCalls(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 || n > math.MaxUint16 {
			c.errorf("WithHalfOpenCalls: n %d must be in [1, %d]", n, math.MaxUint16)
		}
		c.halfOpenCalls = n
	})
}

// WithIsFailure says which errors count as failures of the dependency. An
// error for which it returns false counts as a success (the dependency
// answered; the answer was "not found", say). It is not called for nil
// errors, for local rejections ([firebreak.IsRejected]: they never count),
// nor for calls the caller's context ended (see [WithHangThreshold]). f must
// not be nil, must be safe for concurrent use and must not call back into the
// breaker. Default: every non-nil error counts as a failure.
func WithIsFailure(f func(err error) bool) Option {
	return optionFunc(func(c *config) {
		if f == nil {
			c.errorf("WithIsFailure: func must not be nil")
		}
		c.isFailure = f
	})
}

// WithIsExcluded says which errors count as neither success nor failure
// (outcome "excluded"), in addition to local rejections and calls the
// caller gave up on early, which are always excluded. It is not called for
// the calls [WithIsFailure] is not called for. f must not be nil, must be
// safe for concurrent use and must not call back into the breaker. Default:
// nothing else is excluded.
func WithIsExcluded(f func(err error) bool) Option {
	return optionFunc(func(c *config) {
		if f == nil {
			c.errorf("WithIsExcluded: func must not be nil")
		}
		c.isExcluded = f
	})
}

// WithMeterProvider sets where the breaker's metrics go; nil means the
// global provider. Default: the global provider, [otel.GetMeterProvider],
// read when the breaker is built.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}
