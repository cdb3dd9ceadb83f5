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

// Defaults used when an option is not given.
const (
	// DefaultWindow is the length of the rolling window over which the
	// failure ratio is measured.
	DefaultWindow = time.Minute
	// DefaultBucket is the length of one bucket of the rolling window: every
	// DefaultBucket the oldest bucket's counts leave the window.
	DefaultBucket = 10 * time.Second
	// DefaultFailureRatio is the share of failed calls in the window that
	// trips the breaker.
	DefaultFailureRatio = 0.5
	// DefaultMinCalls is how many calls with an outcome the window must hold
	// before the failure ratio is considered.
	DefaultMinCalls = 20
	// DefaultConsecutiveFailures is how many failures in a row trip the
	// breaker regardless of the ratio.
	DefaultConsecutiveFailures = 5
	// DefaultOpenTimeout is how long the breaker stays open before it lets
	// trial calls through (half-open).
	DefaultOpenTimeout = time.Minute
	// DefaultHalfOpenCalls is how many trial calls a half-open breaker lets
	// through; that many successes in a row close it.
	DefaultHalfOpenCalls = 1

	// maxBuckets bounds the rolling window's memory and the cost of rolling.
	maxBuckets = 1000
)

// An Option configures a [Breaker] or a [Group]. Options are created by the
// With… functions of this package.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is what the options set; New validates it.
type config struct {
	name          string
	component     firebreak.Component
	fallback      bool
	window        time.Duration
	bucket        time.Duration
	ratio         float64
	minCalls      int
	consecutive   int
	slow          time.Duration
	openTimeout   time.Duration
	halfOpenCalls int
	isFailure     func(error) bool
	isExcluded    func(error) bool
	meterProvider metric.MeterProvider
	labels        map[string]string // set by Group
	errs          []error           // problems found while applying options
}

func defaultConfig() config {
	return config{
		window:        DefaultWindow,
		bucket:        DefaultBucket,
		ratio:         DefaultFailureRatio,
		minCalls:      DefaultMinCalls,
		consecutive:   DefaultConsecutiveFailures,
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
	errs := c.errs
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("breaker: "+format, args...)) }
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
	if !c.component.Tier.Valid() {
		add("WithComponent: Tier %d is not core, standard or auxiliary", int8(c.component.Tier))
	}
	return errors.Join(errs...)
}

func (c *config) meter() metric.MeterProvider {
	if c.meterProvider != nil {
		return c.meterProvider
	}
	return otel.GetMeterProvider()
}

// WithName names the breaker in errors, metrics and signals. The default is
// the component's Dependency, or its Name when it has no dependency (see
// [WithComponent] and [Breaker.Bind]).
func WithName(name string) Option {
	return optionFunc(func(c *config) {
		if name == "" {
			c.errorf("WithName: name must not be empty")
		}
		c.name = name
	})
}

// WithComponent gives a breaker used on its own the identity and Reporter a
// pipeline would otherwise hand it: the calling component, the dependency,
// the tier used to grade its signals and where they go. The default is no
// identity and [firebreak.Discard]. A pipeline replaces it by calling
// [Breaker.Bind].
func WithComponent(c firebreak.Component) Option {
	return optionFunc(func(cfg *config) {
		if c.Name == "" {
			cfg.errorf("WithComponent: Component.Name is required")
		}
		cfg.component = c
	})
}

// WithFallback says whether a fallback, cache or standby serves while the
// breaker is open. It sets [firebreak.Signal.Fallback] on the breaker's
// signals, which the plan uses to grade them (an open breaker with a working
// fallback is a lesser fault). The default is false.
func WithFallback(inPlace bool) Option {
	return optionFunc(func(c *config) { c.fallback = inPlace })
}

// WithWindow sets the rolling window over which the failure ratio is
// measured: window long, made of buckets of length bucket. Every bucket the
// oldest bucket's counts leave the window, so the time to detect a failure
// onset does not grow with uptime. window must be a whole number of buckets,
// at most 1000 of them; a window of one bucket is a fixed window, cleared
// whole at its end. The default is a one-minute window of 10-second buckets.
func WithWindow(window, bucket time.Duration) Option {
	return optionFunc(func(c *config) { c.window, c.bucket = window, bucket })
}

// WithFailureRatio trips the breaker when at least ratio of the calls in the
// rolling window failed, once the window holds at least minCalls calls with an
// outcome (successes and failures; excluded calls do not count). ratio must
// be in (0, 1] and minCalls at least 1; ratio 0 turns the rule off. The
// default is 0.5 over at least 20 calls.
func WithFailureRatio(ratio float64, minCalls int) Option {
	return optionFunc(func(c *config) {
		switch {
		case math.IsNaN(ratio) || ratio < 0 || ratio > 1:
			c.errorf("WithFailureRatio: ratio %v must be in (0, 1], or 0 to turn the rule off", ratio)
		case ratio > 0 && minCalls < 1:
			c.errorf("WithFailureRatio: minCalls %d must be >= 1", minCalls)
		}
		c.ratio, c.minCalls = ratio, minCalls
	})
}

// WithConsecutiveFailures trips the breaker after n failures in a row,
// whatever the ratio; it catches a dead dependency at low traffic, where the
// window never holds enough calls. n must be >= 0; 0 turns the rule off. The
// default is 5.
func WithConsecutiveFailures(n int) Option {
	return optionFunc(func(c *config) {
		if n < 0 {
			c.errorf("WithConsecutiveFailures: n %d must be >= 0 (0 turns the rule off)", n)
		}
		c.consecutive = n
	})
}

// WithSlowCall counts a call that succeeds but takes threshold or longer as a
// failure (outcome "slow"), so a dependency that answers too slowly trips the
// breaker like one that fails. The caller still gets the call's result.
// threshold must be >= 0; the default 0 turns slow-call counting off and
// keeps the clock off the call path.
func WithSlowCall(threshold time.Duration) Option {
	return optionFunc(func(c *config) {
		if threshold < 0 {
			c.errorf("WithSlowCall: threshold %v must be >= 0 (0 turns it off)", threshold)
		}
		c.slow = threshold
	})
}

// WithOpenTimeout sets how long the breaker stays open before it becomes
// half-open and lets trial calls through. It must be > 0. The default is one
// minute.
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
// n must be in [1, 65535]. The default is 1.
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
// answered; the answer was "not found", say). It is not called for nil errors
// nor for calls the caller cancelled. The default counts every non-nil error
// as a failure. It must be safe for concurrent use and must not call back into
// the breaker.
func WithIsFailure(f func(err error) bool) Option {
	return optionFunc(func(c *config) {
		if f == nil {
			c.errorf("WithIsFailure: func must not be nil")
		}
		c.isFailure = f
	})
}

// WithIsExcluded says which errors count as neither success nor failure
// (outcome "excluded"), in addition to the caller's own cancellation, which
// is always excluded. The default excludes nothing else. It must be safe for
// concurrent use and must not call back into the breaker.
func WithIsExcluded(f func(err error) bool) Option {
	return optionFunc(func(c *config) {
		if f == nil {
			c.errorf("WithIsExcluded: func must not be nil")
		}
		c.isExcluded = f
	})
}

// WithMeterProvider sets where the breaker's metrics go. The default is the
// global provider, [otel.GetMeterProvider], read when the breaker is built.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp == nil {
			c.errorf("WithMeterProvider: provider must not be nil")
		}
		c.meterProvider = mp
	})
}
