package otelsetup

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

	"github.com/firebreak-go/firebreak/tracing"
)

// SDK is the OpenTelemetry SDK of a service: a tracer provider and a meter
// provider with their exporters, installed as the global providers by
// [SDK.Start] and flushed by [SDK.Close]. It is safe for concurrent use.
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
type SDK struct {
	cfg      config
	disabled bool
	traces   string // exporter kind: otlp, console or none
	metrics  string

	mu       sync.Mutex // guards the fields below; held through Start and Close
	started  bool
	closed   bool
	tp       *sdktrace.TracerProvider
	bsp      sdktrace.SpanProcessor // nil without a span exporter
	mp       *sdkmetric.MeterProvider
	closeErr error
}

// New reads the options and the OTEL_* environment and returns an SDK to
// start. An unknown exporter in OTEL_TRACES_EXPORTER or OTEL_METRICS_EXPORTER
// is an error here, before anything runs.
func New(opts ...Option) (*SDK, error) {
	cfg := config{out: os.Stdout, service: filepath.Base(os.Args[0])}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("otelsetup: New: option %d is nil", i)
		}
		o.apply(&cfg)
	}
	s := &SDK{
		cfg:      cfg,
		disabled: strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true"),
		traces:   exporterKind("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "console"),
		metrics:  exporterKind("OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "none"),
	}
	errs := cfg.errs
	for _, k := range [...]struct{ env, kind string }{{"OTEL_TRACES_EXPORTER", s.traces}, {"OTEL_METRICS_EXPORTER", s.metrics}} {
		switch k.kind {
		case "otlp", "console", "none":
		default:
			errs = append(errs, fmt.Errorf("otelsetup: New: %s %q is not otlp, console or none", k.env, k.kind))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Start builds the resource, the exporters and the providers, and installs
// the providers as the global ones together with the W3C trace context and
// baggage propagators. ctx bounds the resource detection and the exporters'
// setup; the providers run until Close. With OTEL_SDK_DISABLED=true it
// installs nothing. Calling Start again does nothing; after Close it
// returns an error wrapping [firebreak.ErrClosed].
func (s *SDK) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errStartAfterClose
	case s.started:
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("otelsetup: Start: %w", err)
	}
	if s.disabled {
		s.started = true
		return nil
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", s.cfg.service)}
	if s.cfg.version != "" {
		attrs = append(attrs, attribute.String("service.version", s.cfg.version))
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(attrs...),
		resource.WithFromEnv(), // after the defaults, so that it overrides them
	)
	if err != nil {
		return fmt.Errorf("otelsetup: Start: resource: %w", err)
	}

	var spanExp sdktrace.SpanExporter
	switch s.traces {
	case "otlp":
		if spanExp, err = otlptracehttp.New(ctx); err != nil {
			return fmt.Errorf("otelsetup: Start: OTLP trace exporter: %w", err)
		}
	case "console":
		spanExp = &lineExporter{w: s.cfg.out}
	}
	var metricExp sdkmetric.Exporter
	switch s.metrics {
	case "otlp":
		metricExp, err = otlpmetrichttp.New(ctx)
	case "console":
		metricExp, err = stdoutmetric.New(stdoutmetric.WithWriter(s.cfg.out))
	}
	if err != nil {
		if spanExp != nil {
			_ = spanExp.Shutdown(ctx)
		}
		return fmt.Errorf("otelsetup: Start: metric exporter: %w", err)
	}

	// Processors and readers start goroutines: make them only once nothing
	// can fail any more.
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if spanExp != nil {
		s.bsp = sdktrace.NewBatchSpanProcessor(spanExp)
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(s.bsp))
	}
	mpOpts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	if metricExp != nil {
		mpOpts = append(mpOpts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExp)))
	}
	s.tp = sdktrace.NewTracerProvider(tpOpts...)
	s.mp = sdkmetric.NewMeterProvider(mpOpts...)
	otel.SetTracerProvider(s.tp)
	otel.SetMeterProvider(s.mp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	s.started = true
	return nil
}

// Close flushes the spans and metrics buffered and stops the exporters,
// within ctx; call it before the process exits. Its error says what could
// not be flushed and wraps ctx.Err() when ctx ended first. Close is
// idempotent (later calls return the first call's result), and Close
// without Start is fine. The global providers stay installed, and record
// nothing once closed.
func (s *SDK) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.closeErr
	}
	s.closed = true
	if s.tp == nil {
		return nil
	}
	var what []string
	var errs []error
	err := s.tp.Shutdown(ctx)
	if s.bsp != nil {
		// A provider whose ctx has ended returns without shutting its
		// processors down; this one then stops its goroutine all the same
		// (and does nothing when the provider did shut it down).
		_ = s.bsp.Shutdown(ctx)
	}
	if err != nil {
		what, errs = append(what, "spans"), append(errs, err)
	}
	if err := s.mp.Shutdown(ctx); err != nil {
		what, errs = append(what, "metrics"), append(errs, err)
	}
	if len(errs) > 0 {
		cause := errors.Join(errs...)
		if err := ctx.Err(); err != nil {
			cause = err // the exporters stopped because ctx ended
		}
		s.closeErr = fmt.Errorf("otelsetup: Close: could not flush all %s: %w", strings.Join(what, " and "), cause)
	}
	return s.closeErr
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
			switch kv.Key {
			case tracing.AttrErrorType, tracing.AttrComponent, tracing.AttrDependency, "http.response.status_code":
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
