package rollout

import (
	"fmt"
	"math"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// scope is the instrumentation scope of the package's meter.
const scope = "github.com/firebreak-go/firebreak/failover/rollout"

// Option configures [NewRollout].
type Option interface{ applyRollout(*config) }

type config struct {
	hooks         []namedHook
	hookAttempts  int
	hookBackoff   time.Duration
	meterProvider metric.MeterProvider
	errs          []error
}

type namedHook struct {
	name string
	fn   RollbackHook
}

type option func(*config)

func (f option) applyRollout(c *config) { f(c) }

// WithRollbackHook adds a step of the rollback: redeploy the stable version,
// flip a flag, move traffic. Hooks run in the order given; a hook that fails
// is retried (see [WithHookRetries]) and, if it still fails, the rollback
// fails and the steps after it are not run. name and hook are required.
// Default: no hooks; a rollback only moves the current version back.
func WithRollbackHook(name string, hook RollbackHook) Option {
	return option(func(c *config) {
		if name == "" || hook == nil {
			c.errs = append(c.errs, fmt.Errorf("rollout: NewRollout: WithRollbackHook %d needs a name and a function", len(c.hooks)))
		}
		c.hooks = append(c.hooks, namedHook{name, hook})
	})
}

// WithHookRetries sets how many times each rollback hook is tried (at least
// 1) and the first backoff delay between tries (doubling, with jitter); zero
// keeps the default. Default: 3 tries, 1s.
func WithHookRetries(attempts int, initial time.Duration) Option {
	return option(func(c *config) {
		if attempts < 0 || initial < 0 {
			c.errs = append(c.errs, fmt.Errorf("rollout: NewRollout: WithHookRetries(%d, %v): both must be positive", attempts, initial))
			return
		}
		// The backoff draws each wait within ±50% of the delay in float64:
		// past the largest Duration the wait converts to a negative one,
		// no wait at all.
		if float64(initial)*1.5 >= math.MaxInt64 {
			c.errs = append(c.errs, fmt.Errorf("rollout: NewRollout: WithHookRetries initial %v overflows a time.Duration with the backoff's jitter: it must be below %v", initial, time.Duration(math.MaxInt64/3*2)))
			return
		}
		if attempts > 0 {
			c.hookAttempts = attempts
		}
		if initial > 0 {
			c.hookBackoff = initial
		}
	})
}

// WithMeterProvider sets where the rollout's metrics go; nil means the
// global provider. Default: otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option {
	return option(func(c *config) { c.meterProvider = mp })
}
