package otelsetup

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/tracing"
)

// restoreGlobals leaves no-op global providers after the test.
func restoreGlobals(t *testing.T) {
	t.Cleanup(func() {
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		otel.SetMeterProvider(metricnoop.NewMeterProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	})
}

func clearOTelEnv(t *testing.T) {
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER",
		"OTEL_TRACES_SAMPLER_ARG", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER"} {
		t.Setenv(k, "")
	}
}

func observeTwoCalls(t *testing.T) {
	t.Helper()
	obs, err := tracing.New[int]()
	if err != nil {
		t.Fatal(err)
	}
	if err := obs.Bind(firebreak.Component{Name: "checkout", Dependency: "payments"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, _ = obs.Execute(ctx, func(context.Context) (int, error) { return 1, nil })
	_, _ = obs.Execute(ctx, func(context.Context) (int, error) { return 0, context.DeadlineExceeded })
}

func TestSetupOTLPHTTP(t *testing.T) {
	clearOTelEnv(t)
	restoreGlobals(t)
	var mu sync.Mutex
	var spans []*tracepb.Span
	var service string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := io.Reader(r.Body)
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		if r.URL.Path == "/v1/traces" {
			if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
				t.Errorf("Content-Type = %q", ct)
			}
			var req coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(b, &req); err != nil {
				t.Errorf("not OTLP protobuf: %v", err)
			}
			mu.Lock()
			for _, rs := range req.ResourceSpans {
				for _, kv := range rs.GetResource().GetAttributes() {
					if kv.Key == "service.name" {
						service = kv.GetValue().GetStringValue()
					}
				}
				for _, ss := range rs.ScopeSpans {
					spans = append(spans, ss.Spans...)
				}
			}
			mu.Unlock()
			out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
			w.Header().Set("Content-Type", "application/x-protobuf")
			_, _ = w.Write(out)
			return
		}
		w.WriteHeader(http.StatusOK) // metrics
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "checkout-svc")

	sdk := start(t, WithServiceName("ignored-when-env-set"))
	observeTwoCalls(t)
	if err := sdk.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := sdk.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if service != "checkout-svc" {
		t.Errorf("service.name = %q, want OTEL_SERVICE_NAME's", service)
	}
	if len(spans) != 2 {
		t.Fatalf("collector got %d spans, want 2", len(spans))
	}
	for i, want := range []tracepb.Status_StatusCode{tracepb.Status_STATUS_CODE_UNSET, tracepb.Status_STATUS_CODE_ERROR} {
		s := spans[i]
		if s.Name != "payments" || s.GetStatus().GetCode() != want || s.Kind != tracepb.Span_SPAN_KIND_CLIENT {
			t.Errorf("span %d: %q kind %v status %v, want payments client %v", i, s.Name, s.Kind, s.GetStatus().GetCode(), want)
		}
	}
	var errType string
	for _, kv := range spans[1].Attributes {
		if kv.Key == "error.type" {
			errType = kv.GetValue().GetStringValue()
		}
	}
	if errType != "timeout" || len(spans[1].Events) != 1 || spans[1].Events[0].Name != "exception" {
		t.Errorf("failed span: error.type %q, events %v", errType, spans[1].Events)
	}
}

func TestSetupStdout(t *testing.T) {
	clearOTelEnv(t)
	restoreGlobals(t)
	var buf syncBuffer
	sdk := start(t, WithServiceName("demo"), WithOutput(&buf))
	observeTwoCalls(t)
	if err := sdk.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("output:\n%s", buf.String())
	}
	if !strings.Contains(lines[0], `name="payments"`) || !strings.Contains(lines[0], "status=Unset") {
		t.Errorf("line 0: %s", lines[0])
	}
	if !strings.Contains(lines[1], "status=Error") || !strings.Contains(lines[1], "error.type=timeout") {
		t.Errorf("line 1: %s", lines[1])
	}
}

func TestSetupEnvironment(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		wantErr string
		spans   bool
	}{
		{map[string]string{"OTEL_SDK_DISABLED": "true"}, "", false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "none"}, "", false},
		{map[string]string{"OTEL_TRACES_SAMPLER": "always_off"}, "", false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER", false},
		{map[string]string{"OTEL_METRICS_EXPORTER": "prometheus"}, "OTEL_METRICS_EXPORTER", false},
	} {
		t.Run(strings.Join(keys(tc.env), ","), func(t *testing.T) {
			clearOTelEnv(t)
			restoreGlobals(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var buf syncBuffer
			sdk, err := New(WithOutput(&buf))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := sdk.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			observeTwoCalls(t)
			if err := sdk.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := buf.Len() > 0; got != tc.spans {
				t.Errorf("spans written = %v, want %v:\n%s", got, tc.spans, buf.String())
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	clearOTelEnv(t)
	for _, tc := range []struct {
		opt  Option
		want string
	}{
		{WithServiceName(""), "otelsetup: WithServiceName: the name is empty"},
		{WithOutput(nil), "otelsetup: WithOutput: the writer is nil"},
		{nil, "otelsetup: New: option 1 is nil"},
	} {
		_, err := New(WithServiceVersion("1.0"), tc.opt)
		if err == nil || err.Error() != tc.want {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
}

// start returns a started SDK, closed at the end of the test.
func start(t *testing.T, opts ...Option) *SDK {
	t.Helper()
	sdk, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := sdk.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sdk.Close(context.Background()) })
	return sdk
}

func TestLifecycle(t *testing.T) {
	clearOTelEnv(t)
	restoreGlobals(t)
	var buf syncBuffer
	sdk, err := New(WithOutput(&buf))
	if err != nil {
		t.Fatal(err)
	}
	if err := sdk.Close(context.Background()); err != nil { // Close without Start
		t.Fatal(err)
	}
	if err := sdk.Start(context.Background()); !errors.Is(err, firebreak.ErrClosed) {
		t.Errorf("Start after Close: err = %v, want ErrClosed", err)
	}

	sdk = start(t, WithOutput(&buf))
	tp := otel.GetTracerProvider()
	if err := sdk.Start(context.Background()); err != nil || otel.GetTracerProvider() != tp {
		t.Errorf("second Start: err = %v, provider replaced: %v", err, otel.GetTracerProvider() != tp)
	}

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	sdk2, _ := New()
	if err := sdk2.Start(canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("Start(canceled ctx): err = %v", err)
	}
}

// Close honours its context: a collector that does not answer cannot hold
// the process, and the error says what was not flushed.
func TestCloseHonoursContext(t *testing.T) {
	clearOTelEnv(t)
	restoreGlobals(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", srv.URL+"/v1/traces")
	sdk := start(t)
	observeTwoCalls(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the process must exit now
	err := sdk.Close(ctx)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "could not flush all spans") {
		t.Fatalf("Close: err = %v, want one naming the spans and wrapping the deadline", err)
	}
	if again := sdk.Close(context.Background()); again != err {
		t.Errorf("second Close = %v, want the first's result", again)
	}
}

func keys(m map[string]string) (out []string) {
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}
