package fbgrpc_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/failover"
	"github.com/firebreak-go/firebreak/fbgrpc"
	"github.com/firebreak-go/firebreak/tracing"
)

// clientPipeline is retry → breaker for the echo dependency; delays
// records the wait before each retry.
func clientPipeline(t *testing.T, delays *[]time.Duration) (*firebreak.Pipeline[any], *breaker.Breaker[any]) {
	t.Helper()
	retry, err := failover.NewRetry[any](failover.WithMaxAttempts(3), failover.WithBackoff(time.Millisecond, time.Millisecond, 1), failover.WithJitter(0),
		failover.WithOnRetry(func(e failover.RetryEvent) { *delays = append(*delays, e.Delay) }))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := breaker.New[any](breaker.WithConsecutiveFailures(100))
	if err != nil {
		t.Fatal(err)
	}
	p, err := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "echo"}, []firebreak.Policy[any]{retry, cb})
	if err != nil {
		t.Fatal(err)
	}
	return p, cb
}

// TestClientClassifiesStatusCodes: for each status code a real server
// answers, the client interceptor's pipeline retries, counts and returns
// it as the Classify table says.
func TestClientClassifiesStatusCodes(t *testing.T) {
	tests := []struct {
		code      codes.Code
		pushback  string // trailer, "" for none
		attempts  int64
		failures  uint32 // counted by the breaker
		minDelay  time.Duration
		wantClass fbgrpc.Class
	}{
		{codes.OK, "", 1, 0, 0, fbgrpc.ClassOK},
		{codes.Unavailable, "", 3, 3, 0, fbgrpc.ClassRetryable},
		{codes.ResourceExhausted, "", 3, 3, 0, fbgrpc.ClassRetryable},
		{codes.ResourceExhausted, "40", 3, 3, 40 * time.Millisecond, fbgrpc.ClassRetryable},
		{codes.ResourceExhausted, "-1", 1, 1, 0, fbgrpc.ClassRetryable},
		{codes.ResourceExhausted, "soon", 1, 1, 0, fbgrpc.ClassRetryable},
		{codes.DeadlineExceeded, "", 1, 1, 0, fbgrpc.ClassFailure},
		{codes.Internal, "", 1, 1, 0, fbgrpc.ClassFailure},
		{codes.Unknown, "", 1, 1, 0, fbgrpc.ClassFailure},
		{codes.DataLoss, "", 1, 1, 0, fbgrpc.ClassFailure},
		{codes.Canceled, "", 1, 0, 0, fbgrpc.ClassCaller},
		{codes.InvalidArgument, "", 1, 0, 0, fbgrpc.ClassCaller},
		{codes.NotFound, "", 1, 0, 0, fbgrpc.ClassCaller},
		{codes.AlreadyExists, "", 1, 0, 0, fbgrpc.ClassCaller},
		{codes.PermissionDenied, "", 1, 0, 0, fbgrpc.ClassCaller},
		{codes.Unauthenticated, "", 1, 0, 0, fbgrpc.ClassCaller},
		{codes.FailedPrecondition, "", 1, 0, 0, fbgrpc.ClassCaller},
		{codes.Aborted, "", 1, 0, 0, fbgrpc.ClassCaller},
		{codes.OutOfRange, "", 1, 0, 0, fbgrpc.ClassCaller},
		{codes.Unimplemented, "", 1, 0, 0, fbgrpc.ClassCaller},
	}
	for _, tt := range tests {
		t.Run(tt.code.String()+"/"+tt.pushback, func(t *testing.T) {
			if got := fbgrpc.Classify(tt.code); got != tt.wantClass {
				t.Errorf("Classify = %v, want %v", got, tt.wantClass)
			}
			var hits atomic.Int64
			echo := echoFunc(func(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
				hits.Add(1)
				if tt.pushback != "" {
					grpc.SetTrailer(ctx, metadata.Pairs(fbgrpc.PushbackKey, tt.pushback))
				}
				if tt.code == codes.OK {
					return in, nil
				}
				return nil, status.Error(tt.code, "echo says "+tt.code.String())
			})
			var delays []time.Duration
			p, cb := clientPipeline(t, &delays)
			ci, err := fbgrpc.NewClientInterceptor(p)
			if err != nil {
				t.Fatal(err)
			}
			conn := serve(t, func(s *grpc.Server) { s.RegisterService(&echoDesc, echo) }, nil, ci.DialOptions()...)
			got, err := say(t.Context(), conn, "hi")
			if status.Code(err) != tt.code {
				t.Fatalf("code %v (%v), want %v", status.Code(err), err, tt.code)
			}
			if tt.code == codes.OK && got != "hi" {
				t.Errorf("reply %q", got)
			}
			if tt.code != codes.OK && !strings.Contains(err.Error(), "echo says") {
				t.Errorf("the server's message is lost: %v", err)
			}
			if hits.Load() != tt.attempts {
				t.Errorf("%d attempts, want %d", hits.Load(), tt.attempts)
			}
			if c := cb.Counts(); c.Failures != tt.failures {
				t.Errorf("breaker counted %d failures, want %d (%+v)", c.Failures, tt.failures, c)
			}
			for _, d := range delays {
				if d < tt.minDelay {
					t.Errorf("retried after %v, want at least the pushback %v", d, tt.minDelay)
				}
			}
		})
	}
}

// TestCallerDeadlineIsCallerError: DEADLINE_EXCEEDED caused by the
// caller's own deadline is not retried and wraps context.DeadlineExceeded.
func TestCallerDeadlineIsCallerError(t *testing.T) {
	var hits atomic.Int64
	echo := echoFunc(func(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		hits.Add(1)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	var delays []time.Duration
	p, _ := clientPipeline(t, &delays)
	ci, _ := fbgrpc.NewClientInterceptor(p)
	conn := serve(t, func(s *grpc.Server) { s.RegisterService(&echoDesc, echo) }, nil, ci.DialOptions()...)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	_, err := say(ctx, conn, "hi")
	if status.Code(err) != codes.DeadlineExceeded || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DEADLINE_EXCEEDED wrapping context.DeadlineExceeded", err)
	}
	if hits.Load() != 1 || len(delays) != 0 {
		t.Errorf("%d attempts, %d retries; want 1, 0", hits.Load(), len(delays))
	}
}

// TestBreakerOpenIsUnavailable: an open breaker refuses unary calls and
// streams with UNAVAILABLE that errors.Is sees as breaker.ErrOpen, and the
// server is not called.
func TestBreakerOpenIsUnavailable(t *testing.T) {
	var hits atomic.Int64
	echo := echoFunc(func(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		hits.Add(1)
		return in, nil
	})
	var delays []time.Duration
	p, cb := clientPipeline(t, &delays)
	ci, _ := fbgrpc.NewClientInterceptor(p)
	conn := serve(t, func(s *grpc.Server) { s.RegisterService(&echoDesc, echo) }, nil, ci.DialOptions()...)
	stream, err := conn.NewStream(t.Context(), &echoDesc.Streams[0], countMethod)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.SendMsg(wrapperspb.String("abc")); err != nil {
		t.Fatal(err)
	}
	stream.CloseSend()
	var n int
	for ; ; n++ {
		if err := stream.RecvMsg(new(wrapperspb.StringValue)); err != nil {
			break
		}
	}
	if n != 3 {
		t.Fatalf("stream gave %d messages, want 3", n)
	}
	if err := cb.ForceOpen("INC-9: echo isolated"); err != nil {
		t.Fatal(err)
	}
	_, err = say(t.Context(), conn, "hi")
	if status.Code(err) != codes.Unavailable || !errors.Is(err, breaker.ErrOpen) || !firebreak.IsRejected(err) {
		t.Errorf("unary: %v", err)
	}
	_, err = conn.NewStream(t.Context(), &echoDesc.Streams[0], countMethod)
	if status.Code(err) != codes.Unavailable || !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("stream: %v", err)
	}
	if hits.Load() != 0 {
		t.Errorf("the server was called %d times through an open breaker", hits.Load())
	}
}

// TestServerShedsWithResourceExhausted: a server whose pipeline sheds
// answers RESOURCE_EXHAUSTED with the shedder's wait as pushback; a client
// interceptor's retry waits that long and gets through.
func TestServerShedsWithResourceExhausted(t *testing.T) {
	shedder, err := failover.NewShedder(rate.Limit(5), 1) // 200ms a call: two calls in a row are shed even on a loaded machine
	if err != nil {
		t.Fatal(err)
	}
	shed, _ := failover.NewShed[any](shedder)
	sp, err := firebreak.NewPipeline(firebreak.Component{Name: "echo"}, []firebreak.Policy[any]{shed})
	if err != nil {
		t.Fatal(err)
	}
	si, err := fbgrpc.NewServerInterceptor(sp)
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	echo := echoFunc(func(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		hits.Add(1)
		return in, nil
	})
	register := func(s *grpc.Server) { s.RegisterService(&echoDesc, echo) }

	// A plain client sees the status and the trailer.
	plain := serve(t, register, si.ServerOptions())
	var trailer metadata.MD
	if _, err := say(t.Context(), plain, "1"); err != nil {
		t.Fatal(err)
	}
	_, err = say(t.Context(), plain, "2", grpc.Trailer(&trailer))
	if status.Code(err) != codes.ResourceExhausted || strings.Contains(err.Error(), "priority") {
		t.Fatalf("shed call: %v", err)
	}
	if v := trailer.Get(fbgrpc.PushbackKey); len(v) != 1 || v[0] == "0" {
		t.Fatalf("pushback trailer %v", v)
	}

	// A protected client retries after the pushback.
	var delays []time.Duration
	p, cb := clientPipeline(t, &delays)
	ci, _ := fbgrpc.NewClientInterceptor(p)
	conn := serve(t, register, si.ServerOptions(), ci.DialOptions()...)
	for i := range 3 {
		if _, err := say(t.Context(), conn, "x"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if len(delays) == 0 {
		t.Fatal("no call was shed and retried")
	}
	for _, d := range delays {
		if d < 40*time.Millisecond {
			t.Errorf("retried after %v, before the shedder's pushback (~200ms)", d)
		}
	}
	if cb.Counts().Failures == 0 {
		t.Error("the client's breaker did not count the server's RESOURCE_EXHAUSTED")
	}
}

// TestServerPassesCallerErrors: a handler's NOT_FOUND reaches the client
// unchanged and the server's observer does not count it as an error; an
// INTERNAL is counted.
func TestServerPassesCallerErrors(t *testing.T) {
	obs, _ := tracing.New[any]()
	sp, _ := firebreak.NewPipeline(firebreak.Component{Name: "echo"}, []firebreak.Policy[any]{obs})
	si, _ := fbgrpc.NewServerInterceptor(sp)
	echo := echoFunc(func(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		switch in.Value {
		case "missing":
			return nil, status.Error(codes.NotFound, "no such order")
		case "broken":
			return nil, status.Error(codes.Internal, "boom")
		}
		return in, nil
	})
	conn := serve(t, func(s *grpc.Server) { s.RegisterService(&echoDesc, echo) }, si.ServerOptions())
	for _, v := range []string{"ok", "missing", "missing", "broken"} {
		_, _ = say(t.Context(), conn, v)
	}
	_, err := say(t.Context(), conn, "missing")
	if st, _ := status.FromError(err); st.Code() != codes.NotFound || st.Message() != "no such order" {
		t.Errorf("NOT_FOUND arrived as %v", err)
	}
	if s := obs.Snapshot(); s.Requests != 5 || s.Errors != 1 {
		t.Errorf("server observer: %d requests, %d errors; want 5, 1", s.Requests, s.Errors)
	}
}

// TestTraceCarriedAcrossTheCall: otelgrpc's client span, the server span
// and the client observer's span are one trace.
func TestTraceCarriedAcrossTheCall(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())
	obs, _ := tracing.New[any](tracing.WithTracerProvider(tp))
	p, _ := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "echo"}, []firebreak.Policy[any]{obs})
	props := fbgrpc.WithPropagators(propagation.TraceContext{})
	ci, _ := fbgrpc.NewClientInterceptor(p, fbgrpc.WithTracerProvider(tp), props)
	sobs, _ := tracing.New[any](tracing.WithTracerProvider(tp))
	sp, _ := firebreak.NewPipeline(firebreak.Component{Name: "echo"}, []firebreak.Policy[any]{sobs})
	si, _ := fbgrpc.NewServerInterceptor(sp, fbgrpc.WithTracerProvider(tp), props)
	echo := echoFunc(func(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) { return in, nil })
	conn := serve(t, func(s *grpc.Server) { s.RegisterService(&echoDesc, echo) }, si.ServerOptions(), ci.DialOptions()...)
	if _, err := say(t.Context(), conn, "hi"); err != nil {
		t.Fatal(err)
	}
	conn.Close() // ends the client span's stats
	ended := spans.Ended()
	if len(ended) < 3 {
		t.Fatalf("%d spans, want the observers' and otelgrpc's", len(ended))
	}
	trace := ended[0].SpanContext().TraceID()
	for _, s := range ended {
		if s.SpanContext().TraceID() != trace {
			t.Errorf("span %q in trace %s, want %s", s.Name(), s.SpanContext().TraceID(), trace)
		}
	}
}

func TestInterceptorOptionErrors(t *testing.T) {
	p, _ := firebreak.NewPipeline(firebreak.Component{Name: "c"}, []firebreak.Policy[any]{})
	for _, tt := range []struct {
		err  error
		want string
	}{
		{second(fbgrpc.NewClientInterceptor(nil)), "fbgrpc: NewClientInterceptor: pipeline is nil"},
		{second(fbgrpc.NewServerInterceptor(nil)), "fbgrpc: NewServerInterceptor: pipeline is nil"},
		{second(fbgrpc.NewClientInterceptor(p, fbgrpc.WithClassifier(fbgrpc.Classify), nil)), "fbgrpc: NewClientInterceptor: option 1 is nil"},
		{second(fbgrpc.NewServerInterceptor(p, fbgrpc.WithClassifier(nil))), "fbgrpc: NewServerInterceptor: WithClassifier: function is nil"},
	} {
		if tt.err == nil || tt.err.Error() != tt.want {
			t.Errorf("got %v, want %q", tt.err, tt.want)
		}
	}
}

// TestOnlyFbgrpcLinksGRPC: users without gRPC do not link it. No library
// package but this one may pull google.golang.org/grpc; tracing/otelsetup
// already did before this package (its OTLP exporters import grpc's
// status codes), and examples are programs, not libraries.
func TestOnlyFbgrpcLinksGRPC(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("fbgrpc: the go tool is not on PATH:", err)
	}
	out, err := exec.Command(goTool, "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "github.com/firebreak-go/firebreak/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/firebreak-go/firebreak"
	allowed := map[string]bool{mod + "/fbgrpc": true, mod + "/tracing/otelsetup": true}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := f[0]
		if allowed[pkg] || strings.HasPrefix(pkg, mod+"/examples/") {
			continue
		}
		checked++
		for _, d := range f[1:] {
			if strings.HasPrefix(d, "google.golang.org/grpc") {
				t.Errorf("%s links %s", pkg, d)
				break
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d packages", checked)
	}
}
