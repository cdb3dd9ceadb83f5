package fbgrpc_test

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/failover"
	"github.com/firebreak-go/firebreak/fbgrpc"
	"github.com/firebreak-go/firebreak/tracing"
)

// streamFunc serves Say as an echo and Count with a function.
type streamFunc func(*wrapperspb.StringValue, grpc.ServerStream) error

func (f streamFunc) Say(_ context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	return in, nil
}
func (f streamFunc) Count(in *wrapperspb.StringValue, s grpc.ServerStream) error { return f(in, s) }

// TestReviewServerStreamKeepsCallerStatus: a streaming handler that ends
// with a caller-class status (NOT_FOUND) must reach the client as that
// status, not as OK; and a failure-class status must reach it too.
func TestReviewServerStreamKeepsCallerStatus(t *testing.T) {
	obs, _ := tracing.New[any]()
	sp, _ := firebreak.NewPipeline(firebreak.Component{Name: "echo"}, []firebreak.Policy[any]{obs})
	si, err := fbgrpc.NewServerInterceptor(sp)
	if err != nil {
		t.Fatal(err)
	}
	h := streamFunc(func(in *wrapperspb.StringValue, s grpc.ServerStream) error {
		switch in.Value {
		case "missing":
			return status.Error(codes.NotFound, "no such order")
		case "broken":
			return status.Error(codes.Internal, "boom")
		}
		return s.SendMsg(in)
	})
	conn := serve(t, func(s *grpc.Server) { s.RegisterService(&echoDesc, h) }, si.ServerOptions())
	for _, tc := range []struct {
		in   string
		want codes.Code
	}{{"ok", codes.OK}, {"missing", codes.NotFound}, {"broken", codes.Internal}} {
		cs, err := conn.NewStream(t.Context(), &echoDesc.Streams[0], countMethod)
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.SendMsg(wrapperspb.String(tc.in)); err != nil {
			t.Fatal(err)
		}
		_ = cs.CloseSend()
		var got error
		for {
			if got = cs.RecvMsg(new(wrapperspb.StringValue)); got != nil {
				break
			}
		}
		if got == io.EOF {
			got = nil
		}
		if c := status.Code(got); c != tc.want {
			t.Errorf("stream %q ended with %v (%v), want %v", tc.in, c, got, tc.want)
		}
	}
	if s := obs.Snapshot(); s.Requests != 3 || s.Errors != 1 {
		t.Errorf("server observer: %d requests, %d errors; want 3, 1 (NOT_FOUND is the caller's)", s.Requests, s.Errors)
	}
}

// TestReviewUnaryDoesNotWriteCallersOptions: the client interceptor adds
// its trailer option to each attempt; it must not write into the spare
// capacity of the caller's option slice, which concurrent calls share.
func TestReviewUnaryDoesNotWriteCallersOptions(t *testing.T) {
	p, _ := clientPipeline(t, new([]time.Duration))
	ci, err := fbgrpc.NewClientInterceptor(p)
	if err != nil {
		t.Fatal(err)
	}
	shared := make([]grpc.CallOption, 0, 4) // spare capacity, shared by every call
	invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		for _, o := range opts {
			if tr, ok := o.(grpc.TrailerCallOption); ok {
				*tr.TrailerAddr = metadata.Pairs("k", "v")
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if err := ci.Unary(t.Context(), sayMethod, nil, nil, nil, invoker, shared...); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := shared[:cap(shared)][0]; got != nil {
		t.Errorf("the caller's option slice was written: %T in its spare capacity", got)
	}
}

// TestReviewServerRefusalsHideInternals: a policy's refusal on the server
// (a breaker an operator forced open with a reason, a timeout) reaches the
// remote caller with its code, and a message that names nothing inside
// the server, as a shed call's does.
func TestReviewServerRefusalsHideInternals(t *testing.T) {
	cb, err := breaker.New[any]()
	if err != nil {
		t.Fatal(err)
	}
	to, err := failover.NewTimeout[any](time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := firebreak.NewPipeline(firebreak.Component{Name: "orders", Dependency: "orders-db-primary"}, []firebreak.Policy[any]{cb, to})
	if err != nil {
		t.Fatal(err)
	}
	si, err := fbgrpc.NewServerInterceptor(sp)
	if err != nil {
		t.Fatal(err)
	}
	echo := echoFunc(func(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		<-ctx.Done() // slower than the timeout: the pipeline's timeout answers
		return nil, ctx.Err()
	})
	conn := serve(t, func(s *grpc.Server) { s.RegisterService(&echoDesc, echo) }, si.ServerOptions())

	_, err = say(t.Context(), conn, "slow")
	if st, _ := status.FromError(err); st.Code() != codes.DeadlineExceeded || strings.Contains(st.Message(), "1ms") || strings.Contains(st.Message(), "failover") {
		t.Errorf("a server timeout reached the caller as %v; want DEADLINE_EXCEEDED naming no policy or setting", err)
	}
	if err := cb.ForceOpen("orders-db-primary.internal failover, INC-4711"); err != nil {
		t.Fatal(err)
	}
	_, err = say(t.Context(), conn, "x")
	st, _ := status.FromError(err)
	if st.Code() != codes.Unavailable {
		t.Errorf("a forced-open server breaker reached the caller as %v; want UNAVAILABLE", err)
	}
	for _, secret := range []string{"orders-db-primary", "INC-4711", "breaker", "orders"} {
		if strings.Contains(st.Message(), secret) {
			t.Errorf("the caller's message %q shows %q", st.Message(), secret)
		}
	}
}

// TestReviewPushbackValues: a RESOURCE_EXHAUSTED's grpc-retry-pushback-ms
// trailer is honoured when it is a sane number of milliseconds, and forbids
// a retry when negative, garbage or too large for a Duration (gRFC A6):
// never a negative or wrapped wait.
func TestReviewPushbackValues(t *testing.T) {
	for _, tc := range []struct {
		value    string
		attempts int
		delay    time.Duration
	}{
		{"250", 3, 250 * time.Millisecond},
		{" 7 ", 3, 7 * time.Millisecond},
		{"-1", 1, 0},
		{"soon", 1, 0},
		{"1e3", 1, 0},
		{"9223372036855", 1, 0}, // ms beyond the largest Duration
		{"99999999999999999999", 1, 0},
	} {
		synctest.Test(t, func(t *testing.T) {
			var delays []time.Duration
			p, _ := clientPipeline(t, &delays)
			ci, err := fbgrpc.NewClientInterceptor(p)
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
				calls++
				for _, o := range opts {
					if tr, ok := o.(grpc.TrailerCallOption); ok {
						*tr.TrailerAddr = metadata.Pairs(fbgrpc.PushbackKey, tc.value)
					}
				}
				return status.Error(codes.ResourceExhausted, "slow down")
			}
			err = ci.Unary(t.Context(), sayMethod, nil, nil, nil, invoker)
			if status.Code(err) != codes.ResourceExhausted {
				t.Errorf("pushback %q: %v, want RESOURCE_EXHAUSTED", tc.value, err)
			}
			if calls != tc.attempts {
				t.Errorf("pushback %q: %d attempts, want %d", tc.value, calls, tc.attempts)
			}
			for _, d := range delays {
				if d < tc.delay || d > time.Minute {
					t.Errorf("pushback %q: waited %v, want at least %v and at most a minute", tc.value, d, tc.delay)
				}
			}
		})
	}
}

// TestReviewGracefulStopWithWatchers: the documented shutdown — Close the
// health server (NOT_SERVING for good), then GracefulStop the gRPC server —
// must finish while clients with client-side health checking are watching;
// grpc-go's Watch streams run until the client leaves, and GracefulStop
// waits for every stream.
func TestReviewGracefulStopWithWatchers(t *testing.T) {
	reg, _, _ := registry(t)
	hs := healthServer(t, reg)
	if err := hs.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs.Register(srv)
	echo := echoFunc(func(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) { return in, nil })
	srv.RegisterService(&echoDesc, echo)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}],"healthCheckConfig":{"serviceName":""}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Stop() // unsticks a GracefulStop that hung
		<-served
		conn.Close()
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if got, err := say(ctx, conn, "hi", grpc.WaitForReady(true)); err != nil || got != "hi" {
		t.Fatalf("before Close: %q, %v", got, err)
	}
	if err := hs.Close(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { defer close(stopped); srv.GracefulStop() }()
	select {
	case <-stopped:
	case <-time.After(3 * time.Second): // a bound on a failure, not a wait for success
		t.Fatal("GracefulStop still waiting 3s after the health server closed: its Watch streams never end")
	}
}

// TestReviewHedgedUnaryReply: a failover.Hedge in the client's pipeline
// runs attempts concurrently; each must unmarshal into a reply of its own,
// and the caller's reply must hold the winner's answer, with no data race
// (-race) between a slow first attempt and its hedge.
func TestReviewHedgedUnaryReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hedge, err := failover.NewHedge[any](10*time.Millisecond, failover.WithIdempotent(), failover.WithMaxHedges(1))
		if err != nil {
			t.Fatal(err)
		}
		p, err := firebreak.NewPipeline(firebreak.Component{Name: "c", Dependency: "echo"}, []firebreak.Policy[any]{hedge})
		if err != nil {
			t.Fatal(err)
		}
		ci, err := fbgrpc.NewClientInterceptor(p)
		if err != nil {
			t.Fatal(err)
		}
		var calls atomic.Int64
		invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
			n := calls.Add(1)
			if n%2 == 1 { // the first attempt is slow, writes part of its answer, and gives up when cancelled
				reply.(*wrapperspb.StringValue).Value = "partial"
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
					return status.FromContextError(ctx.Err()).Err()
				}
			}
			reply.(*wrapperspb.StringValue).Value = "hedged"
			return nil
		}
		for range 20 {
			out := new(wrapperspb.StringValue)
			if err := ci.Unary(t.Context(), sayMethod, wrapperspb.String("x"), out, nil, invoker); err != nil {
				t.Fatal(err)
			}
			if out.Value != "hedged" {
				t.Fatalf("reply %q, want the hedge's answer", out.Value)
			}
		}
	})
}
