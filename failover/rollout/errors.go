package rollout

import "errors"

// ErrAnalysisRunning is returned by [Rollout.Analyze] and [Rollout.Rollback]
// while an analysis (or a rollback) of the same rollout runs.
var ErrAnalysisRunning = errors.New("rollout: an analysis is already running")
