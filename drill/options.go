package drill

import (
	"fmt"
	"log/slog"
	"time"
)

// Option configures a [Drill].
type Option interface{ apply(*config) error }

type config struct {
	steady      func() SteadyState
	sampleEvery time.Duration
	logger      *slog.Logger
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

func newConfig(opts []Option) (config, error) {
	c := config{sampleEvery: time.Second}
	for i, o := range opts {
		if o == nil {
			return c, fmt.Errorf("drill: New: option %d is nil", i)
		}
		if err := o.apply(&c); err != nil {
			return c, err
		}
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c, nil
}

// WithSteadyState measures the service's health during the drill: fn is
// called every interval while the drill runs (never under a lock; a panic
// is logged) and the report compares the worst it returned with
// Spec.SteadyState. [WithSteadyStateFrom] reads it from tracing
// statistics; use this for your own metrics. Default: not measured; the report says so.
func WithSteadyState(fn func() SteadyState, every time.Duration) Option {
	return optionFunc(func(c *config) error {
		if fn == nil {
			return fmt.Errorf("drill: WithSteadyState: the function is nil")
		}
		if every <= 0 {
			return fmt.Errorf("drill: WithSteadyState: the interval must be positive, got %s", every)
		}
		c.steady, c.sampleEvery = fn, every
		return nil
	})
}

// WithLogger sets the logger for what goes wrong in the background (a
// panicking steady-state function). nil means slog.Default(). Default:
// slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) error { c.logger = l; return nil })
}
