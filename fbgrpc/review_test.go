package fbgrpc_test

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/firebreak-go/firebreak"
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
