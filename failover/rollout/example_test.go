package rollout_test

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover/rollout"
	"github.com/firebreak-go/firebreak/tracing"
)

// A canary whose error ratio is too high is rolled back to the last known
// good version, and the rollback is reported for the incident.
func ExampleRollout() {
	var rec firebreak.Recorder
	versions, _ := rollout.NewVersions("v1.4.2")
	versions.Deploy("v1.5.0", "new pricing engine")
	analysis, _ := rollout.NewAnalysis(rollout.Metric{
		Name: "error_ratio",
		Measure: func(context.Context) (float64, int, error) {
			return 0.12, 840, nil // from tracing statistics, Prometheus, ...
		},
		Success: func(v float64) bool { return v < 0.01 },
		Failure: func(v float64) bool { return v > 0.05 },
	})
	r, err := rollout.NewRollout(versions, analysis,
		rollout.WithRollbackHook("redeploy", func(ctx context.Context, from, to rollout.Version) error {
			fmt.Println("redeploying", to.ID, "over", from.ID)
			return nil
		}))
	if err != nil {
		panic(err)
	}
	if err := r.Bind(firebreak.Component{Name: "pricing", Tier: firebreak.Core, Reporter: &rec}); err != nil {
		panic(err)
	}

	out, err := r.Analyze(context.Background(), rollout.ExposureCanary)
	fmt.Println(out.Decision, out.Version.ID, out.Version.Status, err)
	fmt.Println("current:", versions.Current().ID)
	s, _ := rec.Last(firebreak.KindRollback)
	fmt.Println(s.Kind, s.Labels["phase"], s.Summary)
	// Output:
	// redeploying v1.4.2 over v1.5.0
	// rollback v1.5.0 bad <nil>
	// current: v1.4.2
	// rollback canary rolled back v1.5.0 to v1.4.2: analysis failed: metric error_ratio failed: value 0.12 from 840 samples (1 failed, limit 0)
}

// An analysis fed by the tracing package's RED statistics: the canary's error
// ratio over the observer's rolling window, with the request count as the
// samples behind it.
func ExampleMeasure_tracing() {
	ctx := context.Background()
	obs, err := tracing.New[string](tracing.WithTracerProvider(noop.NewTracerProvider()))
	if err != nil {
		panic(err)
	}
	if err := obs.Bind(firebreak.Component{Name: "pricing", Dependency: "rates-api"}); err != nil {
		panic(err)
	}
	for i := range 200 { // canary traffic: one call in ten fails
		obs.Execute(ctx, func(context.Context) (string, error) {
			if i%10 == 0 {
				return "", errors.New("rates-api: 500")
			}
			return "ok", nil
		})
	}

	errorRatio := func(context.Context) (float64, int, error) {
		s := obs.Snapshot()
		return s.ErrorRatio, int(s.Requests), nil
	}
	analysis, _ := rollout.NewAnalysis(rollout.Metric{
		Name: "error_ratio", Measure: errorRatio, MinSamples: 100,
		Success: func(v float64) bool { return v < 0.01 },
		Failure: func(v float64) bool { return v > 0.05 },
	})
	res, _ := analysis.Run(ctx)
	fmt.Println(res.Phase)
	fmt.Println(res.Message)
	// Output:
	// failed
	// metric error_ratio failed: value 0.1 from 200 samples (1 failed, limit 0)
}
