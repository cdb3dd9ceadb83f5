package tracing

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/firebreak-go/firebreak"
)

// An Option configures an [Observer], a [Handler] or a [Transport]. Options
// that do not apply to one of them are ignored by it.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	comp      *firebreak.Component
	tp        trace.TracerProvider
	mp        metric.MeterProvider
	spanName  string
	window    time.Duration
	slo       *SLO
	interval  time.Duration
	route     func(*http.Request) string
	maxRoutes int
	props     propagation.TextMapPropagator
	errs      []error
}

func newConfig(opts []Option) (config, error) {
	c := config{window: DefaultWindow, maxRoutes: DefaultMaxRoutes}
	for _, o := range opts {
		if o == nil {
			return c, errors.New("tracing: nil Option")
		}
		o.apply(&c)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.props == nil {
		c.props = defaultPropagator()
	}
	if c.window < windowSlots*time.Millisecond {
		c.errs = append(c.errs, fmt.Errorf("tracing: WithWindow(%v) is shorter than the minimum of %v", c.window, windowSlots*time.Millisecond))
	}
	if c.interval < 0 {
		c.errs = append(c.errs, fmt.Errorf("tracing: WithEvaluationInterval(%v) is negative", c.interval))
	}
	if c.maxRoutes < 1 {
		c.errs = append(c.errs, fmt.Errorf("tracing: WithMaxRoutes(%d) must be at least 1", c.maxRoutes))
	}
	if c.slo != nil {
		if err := c.slo.validate(); err != nil {
			c.errs = append(c.errs, err)
		}
	}
	if c.comp != nil {
		if err := c.comp.Validate(); err != nil {
			c.errs = append(c.errs, fmt.Errorf("tracing: WithComponent: %w", err))
		}
	}
	return c, errors.Join(c.errs...)
}

// WithComponent gives an [Observer] its identity (name, dependency, tier,
// reporter) for use on its own, outside a pipeline; a pipeline that binds it
// must then have the same identity. By default an Observer has no identity
// until a pipeline binds it. [NewHandler] and [NewTransport] take their
// component as an argument and ignore this option.
func WithComponent(c firebreak.Component) Option {
	return optionFunc(func(cfg *config) { cfg.comp = &c })
}

// WithTracerProvider sets where spans come from. Default: the global
// provider ([otel.GetTracerProvider]).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) {
		if tp == nil {
			c.errs = append(c.errs, errors.New("tracing: WithTracerProvider(nil)"))
			return
		}
		c.tp = tp
	})
}

// WithMeterProvider sets where the duration histogram comes from. Default:
// the global provider ([otel.GetMeterProvider]).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp == nil {
			c.errs = append(c.errs, errors.New("tracing: WithMeterProvider(nil)"))
			return
		}
		c.mp = mp
	})
}

// WithPropagators sets how a [Handler] and a [Transport] carry trace context
// across HTTP. Default: the global propagator ([otel.GetTextMapPropagator])
// if one was set (as [Setup] does), otherwise W3C trace context and baggage,
// so that traces do not break at the hop. The global propagator counts as
// unset while it carries no fields, as OpenTelemetry's default no-op
// composite does; it is read when the Handler or Transport is made.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) {
		if p == nil {
			c.errs = append(c.errs, errors.New("tracing: WithPropagators(nil)"))
			return
		}
		c.props = p
	})
}

// WithSpanName sets an Observer's span name. Default: the component's
// dependency, or its name when it has no dependency.
func WithSpanName(name string) Option {
	return optionFunc(func(c *config) {
		if name == "" {
			c.errs = append(c.errs, errors.New("tracing: WithSpanName(\"\") is empty"))
			return
		}
		c.spanName = name
	})
}

// WithWindow sets the length of the rolling window of RED statistics read by
// Snapshot. Default: [DefaultWindow] (one minute). Minimum 6ms.
func WithWindow(d time.Duration) Option {
	return optionFunc(func(c *config) { c.window = d })
}

// WithSLO watches an SLO with multiwindow, multi-burn-rate alerts and reports
// [firebreak.KindErrorBudgetBurn] and [firebreak.KindLatencySLOBurn] signals.
// For a Handler or Transport the SLO applies to each route separately.
// Default: no SLO.
func WithSLO(o SLO) Option {
	return optionFunc(func(c *config) { c.slo = &o })
}

// WithEvaluationInterval sets how often burn rates are evaluated. Default: the
// shortest short window divided by 60 (5s for the workbook's windows), at
// least 1ms.
func WithEvaluationInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.interval = d })
}

// DefaultMaxRoutes is how many routes a Handler or Transport keeps statistics
// for when WithMaxRoutes is not used.
const DefaultMaxRoutes = 100

// OverflowRoute is the route under which a Handler or Transport counts the
// requests of routes beyond its WithMaxRoutes limit.
const OverflowRoute = "_other"

// WithRoute sets how a Handler or Transport names the route of a request, the
// key of its per-route statistics. The result must be low-cardinality (a
// pattern, never a raw path). Default for a Handler: the [http.ServeMux]
// pattern that matched (Request.Pattern), or "unmatched"; for a Transport:
// the method and host, e.g. "GET payments.internal:8443".
func WithRoute(fn func(*http.Request) string) Option {
	return optionFunc(func(c *config) {
		if fn == nil {
			c.errs = append(c.errs, errors.New("tracing: WithRoute(nil)"))
			return
		}
		c.route = fn
	})
}

// WithMaxRoutes bounds the number of routes a Handler or Transport keeps
// statistics for, so memory stays fixed; further routes are counted under
// [OverflowRoute]. Default: [DefaultMaxRoutes].
func WithMaxRoutes(n int) Option {
	return optionFunc(func(c *config) { c.maxRoutes = n })
}

// defaultPropagator returns the global propagator, or W3C trace context and
// baggage while the global one is OpenTelemetry's default, which carries
// nothing: a propagator that injects no field is a no-op.
func defaultPropagator() propagation.TextMapPropagator {
	if g := otel.GetTextMapPropagator(); len(g.Fields()) > 0 {
		return g
	}
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}
