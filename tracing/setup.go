package tracing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// A SetupOption configures [Setup].
type SetupOption interface {
	applySetup(*setupConfig)
}

type setupOptionFunc func(*setupConfig)

func (f setupOptionFunc) applySetup(c *setupConfig) { f(c) }

type setupConfig struct {
	service, version string
	out              io.Writer
}

// WithServiceName sets service.name when OTEL_SERVICE_NAME (or service.name
// in OTEL_RESOURCE_ATTRIBUTES) does not. Default: the executable's name.
func WithServiceName(name string) SetupOption {
	return setupOptionFunc(func(c *setupConfig) { c.service = name })
}

// WithServiceVersion sets service.version when OTEL_RESOURCE_ATTRIBUTES does
// not. Default: none.
func WithServiceVersion(v string) SetupOption {
	return setupOptionFunc(func(c *setupConfig) { c.version = v })
}

// WithOutput sets where the stdout exporters write. Default: os.Stdout.
func WithOutput(w io.Writer) SetupOption {
	return setupOptionFunc(func(c *setupConfig) { c.out = w })
}

// Setup builds the OpenTelemetry SDK's tracer and meter providers for a
// service, installs them as the global providers together with the W3C trace
// context and baggage propagators, and returns a shutdown function that
// flushes what is buffered and stops the exporters; call it before the
// process exits. Setup is the only place firebreak uses the SDK; libraries
// and policies use only the API.
//
// The standard environment variables are honoured:
//
//   - OTEL_SDK_DISABLED=true: nothing is installed.
//   - OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: the resource.
//   - OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG: the sampler (default
//     parentbased_always_on).
//   - OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
//     OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,
//     OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_TIMEOUT, …: when an
//     endpoint is set, spans and metrics are sent over OTLP/HTTP.
//   - OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER: "otlp", "console" or
//     "none" override that choice.
//   - OTEL_BSP_*, OTEL_METRIC_EXPORT_INTERVAL: batching and export interval.
//
// Without an endpoint, spans are written to the output one line each
// (trace and span IDs, name, duration, status, error.type), and metrics are
// not exported unless OTEL_METRICS_EXPORTER=console.
func Setup(ctx context.Context, opts ...SetupOption) (shutdown func(context.Context) error, err error) {
	cfg := setupConfig{out: os.Stdout, service: filepath.Base(os.Args[0])}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("tracing: Setup: nil SetupOption")
		}
		o.applySetup(&cfg)
	}
	if cfg.service == "" {
		return nil, errors.New("tracing: Setup: WithServiceName is empty")
	}
	if cfg.out == nil {
		return nil, errors.New("tracing: Setup: WithOutput(nil)")
	}
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") {
		return func(context.Context) error { return nil }, nil
	}

	attrs := []attribute.KeyValue{attribute.String("service.name", cfg.service)}
	if cfg.version != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.version))
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(attrs...),
		resource.WithFromEnv(), // after the defaults, so that it overrides them
	)
	if err != nil {
		return nil, fmt.Errorf("tracing: Setup: resource: %w", err)
	}

	var spanExp sdktrace.SpanExporter
	switch exp := exporterKind("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "console"); exp {
	case "otlp":
		if spanExp, err = otlptracehttp.New(ctx); err != nil {
			return nil, fmt.Errorf("tracing: Setup: OTLP trace exporter: %w", err)
		}
	case "console":
		spanExp = &lineExporter{w: cfg.out}
	case "none":
	default:
		return nil, fmt.Errorf("tracing: Setup: OTEL_TRACES_EXPORTER %q is not otlp, console or none", exp)
	}
	var metricExp sdkmetric.Exporter
	switch exp := exporterKind("OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "none"); exp {
	case "otlp":
		metricExp, err = otlpmetrichttp.New(ctx)
	case "console":
		metricExp, err = stdoutmetric.New(stdoutmetric.WithWriter(cfg.out))
	case "none":
	default:
		err = fmt.Errorf("OTEL_METRICS_EXPORTER %q is not otlp, console or none", exp)
	}
	if err != nil {
		if spanExp != nil {
			_ = spanExp.Shutdown(ctx)
		}
		return nil, fmt.Errorf("tracing: Setup: metric exporter: %w", err)
	}

	// Processors and readers start goroutines: make them only once nothing
	// can fail any more.
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if spanExp != nil {
		tpOpts = append(tpOpts, sdktrace.WithBatcher(spanExp))
	}
	mpOpts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	if metricExp != nil {
		mpOpts = append(mpOpts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExp)))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)
	mp := sdkmetric.NewMeterProvider(mpOpts...)
	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))

	var once sync.Once
	var shutdownErr error
	return func(ctx context.Context) error {
		once.Do(func() {
			shutdownErr = errors.Join(tp.Shutdown(ctx), mp.Shutdown(ctx))
			if shutdownErr != nil {
				shutdownErr = fmt.Errorf("tracing: shutdown: %w", shutdownErr)
			}
		})
		return shutdownErr
	}, nil
}

// exporterKind chooses an exporter: the variable named by kindEnv if set,
// otherwise "otlp" when an OTLP endpoint is configured, otherwise fallback.
func exporterKind(kindEnv, signalEndpointEnv, fallback string) string {
	if v := strings.TrimSpace(os.Getenv(kindEnv)); v != "" {
		return strings.ToLower(v)
	}
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv(signalEndpointEnv) != "" {
		return "otlp"
	}
	return fallback
}

// lineExporter writes one line per span, for people reading a terminal.
type lineExporter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (e *lineExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "span trace=%s span=%s", s.SpanContext().TraceID(), s.SpanContext().SpanID())
		if p := s.Parent(); p.IsValid() {
			fmt.Fprintf(&b, " parent=%s", p.SpanID())
		}
		fmt.Fprintf(&b, " kind=%s name=%q duration=%s status=%s", s.SpanKind(), s.Name(), s.EndTime().Sub(s.StartTime()).Round(time.Microsecond), s.Status().Code)
		for _, kv := range s.Attributes() {
			if kv.Key == AttrErrorType || kv.Key == AttrComponent || kv.Key == AttrDependency || kv.Key == "http.response.status_code" {
				fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value.String())
			}
		}
		if d := s.Status().Description; d != "" {
			fmt.Fprintf(&b, " message=%q", d)
		}
		b.WriteByte('\n')
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err := io.WriteString(e.w, b.String())
	return err
}

func (e *lineExporter) Shutdown(context.Context) error { return nil }

var _ sdktrace.SpanExporter = (*lineExporter)(nil)
