package drill

import (
	"fmt"
	"time"

	"github.com/firebreak-go/firebreak/tracing"
)

// SteadyStateOf reads the steady state now from RED statistics — a tracing
// Observer's Stats(), or a Handler's or Transport's Stats(route) — over
// their rolling windows (tracing.WithStatsWindow): the worst error ratio and
// p99 among them, and the error budget's burn rate over the same window,
// error ratio ÷ (1 − availability), so that 2% of calls failing against a
// 99.9% objective is a burn of 20. A window without calls, or a nil Stats,
// adds nothing. availability outside (0, 1) measures no burn.
func SteadyStateOf(availability float64, stats ...*tracing.Stats) SteadyState {
	var s SteadyState
	for _, st := range stats {
		if st == nil {
			continue
		}
		snap := st.Snapshot()
		if snap.Requests == 0 {
			continue
		}
		s.ErrorRatio = max(s.ErrorRatio, finite(snap.ErrorRatio))
		s.P99 = max(s.P99, snap.P99)
	}
	if availability > 0 && availability < 1 {
		s.Burn = s.ErrorRatio / (1 - availability)
	}
	return s
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
