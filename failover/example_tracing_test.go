package failover_test

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover"
	"github.com/firebreak-go/firebreak/tracing"
)

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
	analysis, _ := failover.NewAnalysis(failover.Metric{
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
