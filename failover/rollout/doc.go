// Package rollout judges a new version of a service and rolls it back when it
// is bad: it records the versions ([Versions]: current, last known good,
// history), measures the current one with an [Analysis] and acts on the
// result through a [Rollout], reporting each decision as a
// [firebreak.Signal].
//
//	versions, _ := rollout.NewVersions("v1.4.2")
//	analysis, _ := rollout.NewAnalysis(rollout.Metric{Name: "error_ratio", Measure: errorRatio,
//		Success: func(v float64) bool { return v < 0.01 }, Failure: func(v float64) bool { return v > 0.05 }})
//	r, _ := rollout.NewRollout(versions, analysis, rollout.WithRollbackHook("redeploy", redeploy))
//	_ = r.Bind(firebreak.Component{Name: "pricing", Tier: firebreak.Core, Reporter: board})
//	versions.Deploy("v1.5.0", "new pricing engine")
//	outcome, err := r.Analyze(ctx, rollout.ExposureCanary)
//
// # Why a package of its own
//
// The policies of [github.com/firebreak-go/firebreak/failover] wrap calls to
// a dependency; this package watches a deployment. Most users of the
// policies need none of it, and it needs none of them: it imports neither
// the rate limiter nor the breaker.
//
// # Analysis
//
// An [Analysis] works in the manner of Argo Rollouts: [Metric]s measured at
// intervals against success and failure conditions, with failure,
// inconclusive and consecutive-error limits, a minimum sample count and a
// no-data policy ([NoDataPolicy]), fed by any [Measure] function, such as
// one reading a tracing Observer's Snapshot. A run ends in a [Phase]:
// successful, inconclusive, error or failed.
//
// # Rollback
//
// A [Rollout] acts on the analysis: success promotes the version to last
// known good; failure marks it bad and runs the [RollbackHook]s with
// retries, reporting [firebreak.KindRollback], or
// [firebreak.KindRollbackFailed] if the rollback fails; an inconclusive
// result holds the version and reports [firebreak.KindAnalysisInconclusive]
// for a person to decide. The [Exposure] of the version (canary or
// promoted) is the "phase" label the plan grades by.
//
// # Identity
//
// A Rollout takes its identity through [Rollout.Bind], as every firebreak
// policy does: the first Bind fixes it, the same one again is a no-op,
// another is an [*firebreak.AlreadyBoundError]. Unbound, it acts but
// reports to [firebreak.Discard].
//
// # Metrics
//
// A Rollout counts what it does on the firebreak.failover.events counter
// ({event}) from the meter "github.com/firebreak-go/firebreak/failover/rollout"
// of the provider given with [WithMeterProvider], with firebreak.policy
// "rollout" and firebreak.event one of promoted, held, rolled_back,
// rollback_failed and hook_failed.
//
// # Concurrency
//
// Every type is safe for concurrent use. Nothing runs in the background:
// an [Analysis] runs its metrics in goroutines that end before
// [Analysis.Run] returns, and no hook or Reporter is called under a lock.
package rollout
