package fbgrpc

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
)

// ClientOption configures a [ClientInterceptor].
type ClientOption interface{ applyClient(*config) }

// ServerOption configures a [ServerInterceptor].
type ServerOption interface{ applyServer(*config) }

// SharedOption configures either interceptor.
type SharedOption interface {
	ClientOption
	ServerOption
}

type sharedOption func(*config)

func (f sharedOption) applyClient(c *config) { f(c) }
func (f sharedOption) applyServer(c *config) { f(c) }

type config struct {
	classify func(codes.Code) Class
	tp       trace.TracerProvider
	mp       metric.MeterProvider
	props    propagation.TextMapPropagator
}

func configure[O any](fn string, opts []O, apply func(O, *config)) (config, error) {
	c := config{classify: Classify}
	for i, o := range opts {
		if any(o) == nil {
			return config{}, fmt.Errorf("fbgrpc: %s: option %d is nil", fn, i)
		}
		apply(o, &c)
	}
	if c.classify == nil {
		return config{}, fmt.Errorf("fbgrpc: %s: WithClassifier: function is nil", fn)
	}
	return c, nil
}

func (c config) otelOptions() []otelgrpc.Option {
	var o []otelgrpc.Option
	if c.tp != nil {
		o = append(o, otelgrpc.WithTracerProvider(c.tp))
	}
	if c.mp != nil {
		o = append(o, otelgrpc.WithMeterProvider(c.mp))
	}
	if c.props != nil {
		o = append(o, otelgrpc.WithPropagators(c.props))
	}
	return o
}

// WithClassifier sets what each status code means to the pipeline's
// policies. Default: [Classify].
func WithClassifier(f func(codes.Code) Class) SharedOption {
	return sharedOption(func(c *config) { c.classify = f })
}

// WithTracerProvider sets where otelgrpc's spans come from; nil means the
// global provider. Default: the global provider.
func WithTracerProvider(tp trace.TracerProvider) SharedOption {
	return sharedOption(func(c *config) { c.tp = tp })
}

// WithMeterProvider sets where otelgrpc's metrics go; nil means the global
// provider. Default: the global provider.
func WithMeterProvider(mp metric.MeterProvider) SharedOption {
	return sharedOption(func(c *config) { c.mp = mp })
}

// WithPropagators sets how otelgrpc carries trace context in metadata; nil
// means the global propagator. Default: the global propagator.
func WithPropagators(p propagation.TextMapPropagator) SharedOption {
	return sharedOption(func(c *config) { c.props = p })
}

// HealthOption configures a [HealthServer].
type HealthOption interface{ applyHealth(*healthConfig) }

type healthOption func(*healthConfig)

func (f healthOption) applyHealth(c *healthConfig) { f(c) }

type healthConfig struct {
	interval            time.Duration
	liveness, readiness string
}

// WithInterval sets how often the health server reads the registry; it
// must be positive. A change shows in Check and Watch within it; Drain on
// the [HealthServer] shows at once. Default: 1s.
func WithInterval(d time.Duration) HealthOption {
	return healthOption(func(c *healthConfig) { c.interval = d })
}

// WithServiceNames sets the health service names of liveness and
// readiness; they must differ and not be empty ("" is the server as a
// whole, which follows readiness). Default: "liveness" and "readiness".
func WithServiceNames(liveness, readiness string) HealthOption {
	return healthOption(func(c *healthConfig) { c.liveness, c.readiness = liveness, readiness })
}

func configureHealth(opts []HealthOption) (healthConfig, error) {
	c := healthConfig{interval: time.Second, liveness: "liveness", readiness: "readiness"}
	for i, o := range opts {
		if o == nil {
			return healthConfig{}, fmt.Errorf("fbgrpc: NewHealthServer: option %d is nil", i)
		}
		o.applyHealth(&c)
	}
	var errs []error
	if c.interval <= 0 {
		errs = append(errs, fmt.Errorf("fbgrpc: NewHealthServer: WithInterval: %v must be positive", c.interval))
	}
	if c.liveness == "" || c.readiness == "" || c.liveness == c.readiness {
		errs = append(errs, fmt.Errorf("fbgrpc: NewHealthServer: WithServiceNames: %q and %q must be non-empty and differ", c.liveness, c.readiness))
	}
	return c, errors.Join(errs...)
}
