package drill

import (
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
