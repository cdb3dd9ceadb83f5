package drill

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/firebreak-go/firebreak/tracing"
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

// WithSteadyStateFrom measures the steady state during the drill from
// tracing statistics: every interval, [SteadyStateOf] with the SLO's
// availability objective (e.g. 0.999) reads stats, and the report compares
// the worst it read with Spec.SteadyState. It is [WithSteadyState] fed by
// the tracing package. availability must be in (0, 1), every positive, and
// stats at least one, none nil. Default: not measured; the report says so.
func WithSteadyStateFrom(availability float64, every time.Duration, stats ...*tracing.Stats) Option {
	return optionFunc(func(c *config) error {
		if !(availability > 0 && availability < 1) {
			return fmt.Errorf("drill: WithSteadyStateFrom: availability %v is outside (0, 1)", availability)
		}
		if len(stats) == 0 {
			return fmt.Errorf("drill: WithSteadyStateFrom: no statistics given")
		}
		for i, st := range stats {
			if st == nil {
				return fmt.Errorf("drill: WithSteadyStateFrom: statistics %d are nil", i)
			}
		}
		if every <= 0 {
			return fmt.Errorf("drill: WithSteadyStateFrom: the interval must be positive, got %s", every)
		}
		stats := append([]*tracing.Stats(nil), stats...)
		c.steady = func() SteadyState { return SteadyStateOf(availability, stats...) }
		c.sampleEvery = every
		return nil
	})
}

// WithLogger sets the logger for what goes wrong in the background (a
// panicking steady-state function). nil means slog.Default(). Default:
// slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) error { c.logger = l; return nil })
}
