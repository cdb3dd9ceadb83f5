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
)

// An Option configures an [Observer] ([New]). The options that configure a
// [Handler] and a [Transport] as well are [SharedOption]s.
type Option interface {
	applyObserver(*config)
}

// An HTTPOption configures a [Handler] ([NewHandler]) or a [Transport]
// ([NewTransport]). The two take one option type because they are the two
// ends of one hop and take the same options.
type HTTPOption interface {
	applyHTTP(*config)
}

// A SharedOption configures an Observer, a Handler and a Transport alike: it
// is both an [Option] and an [HTTPOption].
type SharedOption interface {
	Option
	HTTPOption
}

type sharedOption func(*config)

func (f sharedOption) applyObserver(c *config) { f(c) }
func (f sharedOption) applyHTTP(c *config)     { f(c) }

type observerOption func(*config)

func (f observerOption) applyObserver(c *config) { f(c) }

type httpOption func(*config)

func (f httpOption) applyHTTP(c *config) { f(c) }

type config struct {
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

// newConfig applies the options of the constructor fn; apply calls an
// option's method.
func newConfig[O any](fn string, opts []O, apply func(O, *config)) (config, error) {
	c := config{window: DefaultStatsWindow, maxRoutes: DefaultMaxRoutes}
	for i, o := range opts {
		if any(o) == nil {
			return c, fmt.Errorf("tracing: %s: option %d is nil", fn, i)
		}
		apply(o, &c)
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
	if c.slo != nil && c.interval > 0 {
		ws := c.slo.Windows
		if ws == nil {
			ws = WorkbookWindows()
		}
		shortest := ws[0].Short
		for _, w := range ws {
			shortest = min(shortest, w.Short)
		}
		if c.interval > shortest {
			c.errs = append(c.errs, fmt.Errorf("tracing: WithEvaluationInterval: %v is longer than the SLO's shortest window %v, so its alerts would come late or never", c.interval, shortest))
		}
	}
	return c, errors.Join(c.errs...)
}

func observerConfig(opts []Option) (config, error) {
	return newConfig("New", opts, Option.applyObserver)
}

func httpConfig(fn string, opts []HTTPOption) (config, error) {
	return newConfig(fn, opts, HTTPOption.applyHTTP)
}

// WithTracerProvider sets where spans come from; nil means the global
// provider. Default: the global provider ([otel.GetTracerProvider]), read
// when the Observer, Handler or Transport is made.
func WithTracerProvider(tp trace.TracerProvider) SharedOption {
	return sharedOption(func(c *config) { c.tp = tp })
}

// WithMeterProvider sets where the duration histogram (and otelhttp's HTTP
// metrics) come from; nil means the global provider. Default: the global
// provider ([otel.GetMeterProvider]), read when the Observer, Handler or
// Transport is made.
func WithMeterProvider(mp metric.MeterProvider) SharedOption {
	return sharedOption(func(c *config) { c.mp = mp })
}

// WithStatsWindow sets the length of the rolling window of RED statistics
// read by Snapshot; it must be at least 6ms. (It is not the breaker's
// rolling window of counts, breaker.WithWindow.) Default:
// [DefaultStatsWindow] (one minute).
func WithStatsWindow(d time.Duration) SharedOption {
	return sharedOption(func(c *config) {
		if d < minStatsWindow {
			c.errs = append(c.errs, fmt.Errorf("tracing: WithStatsWindow: %v is shorter than the minimum of %v", d, minStatsWindow))
			return
		}
		c.window = d
	})
}

// WithSLO watches an SLO with multiwindow, multi-burn-rate alerts and reports
// [firebreak.KindErrorBudgetBurn] and [firebreak.KindLatencySLOBurn] signals.
// For a Handler or Transport the SLO applies to each route separately.
// Default: no SLO.
func WithSLO(o SLO) SharedOption {
	return sharedOption(func(c *config) {
		if err := o.validate(); err != nil {
			c.errs = append(c.errs, err)
			return
		}
		c.slo = &o
	})
}

// WithEvaluationInterval sets how often burn rates are evaluated; it must not
// be negative nor longer than the SLO's shortest short window, and 0 means
// the default. Default: the shortest short window
// divided by 60 (5s for the workbook's windows), at least 1ms.
func WithEvaluationInterval(d time.Duration) SharedOption {
	return sharedOption(func(c *config) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("tracing: WithEvaluationInterval: %v is negative", d))
			return
		}
		c.interval = d
	})
}

// WithSpanName sets an Observer's span name; it must not be empty. Default:
// the component's dependency, or its name when it has no dependency; "call"
// while the Observer is unbound.
func WithSpanName(name string) Option {
	return observerOption(func(c *config) {
		if name == "" {
			c.errs = append(c.errs, errors.New("tracing: WithSpanName: the name is empty"))
			return
		}
		c.spanName = name
	})
}

// WithPropagators sets how a [Handler] and a [Transport] carry trace context
// across HTTP; nil means the default. The global propagator counts as unset
// while it carries no fields, as OpenTelemetry's default no-op composite
// does; it is read when the Handler or Transport is made. Default: the
// global propagator ([otel.GetTextMapPropagator]) if one was set (as
// otelsetup does), otherwise W3C trace context and baggage, so that traces
// do not break at the hop.
func WithPropagators(p propagation.TextMapPropagator) HTTPOption {
	return httpOption(func(c *config) { c.props = p })
}

// DefaultMaxRoutes is how many routes a Handler or Transport keeps statistics
// for when WithMaxRoutes is not used.
const DefaultMaxRoutes = 100

// OverflowRoute is the route under which a Handler or Transport counts the
// requests of routes beyond its WithMaxRoutes limit.
const OverflowRoute = "_other"

// WithRoute sets how a Handler or Transport names the route of a request, the
// key of its per-route statistics; it must not be nil. The result must be
// low-cardinality (a pattern, never a raw path). Default: for a Handler, the
// [http.ServeMux] pattern that matched (Request.Pattern), or "unmatched";
// for a Transport, the method and host, e.g. "GET payments.internal:8443".
func WithRoute(fn func(*http.Request) string) HTTPOption {
	return httpOption(func(c *config) {
		if fn == nil {
			c.errs = append(c.errs, errors.New("tracing: WithRoute: the function is nil"))
			return
		}
		c.route = fn
	})
}

// WithMaxRoutes bounds the number of routes a Handler or Transport keeps
// statistics for, so memory stays fixed; it must be at least 1. Further
// routes are counted under [OverflowRoute]. Default: [DefaultMaxRoutes].
func WithMaxRoutes(n int) HTTPOption {
	return httpOption(func(c *config) {
		if n < 1 {
			c.errs = append(c.errs, fmt.Errorf("tracing: WithMaxRoutes: %d is less than 1", n))
			return
		}
		c.maxRoutes = n
	})
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
