package fbgrpc_test

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The test service, written as protoc-gen-go-grpc would write it, with
// well-known protobuf messages so that no generated code is needed:
//
//	service Echo {
//	  rpc Say(google.protobuf.StringValue) returns (google.protobuf.StringValue);
//	  rpc Count(google.protobuf.StringValue) returns (stream google.protobuf.StringValue);
//	}
const (
	sayMethod   = "/fbgrpc.test.Echo/Say"
	countMethod = "/fbgrpc.test.Echo/Count"
)

type echoServer interface {
	Say(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
	Count(*wrapperspb.StringValue, grpc.ServerStream) error
}

var echoDesc = grpc.ServiceDesc{
	ServiceName: "fbgrpc.test.Echo",
	HandlerType: (*echoServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Say",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, req any) (any, error) {
				return srv.(echoServer).Say(ctx, req.(*wrapperspb.StringValue))
			}
			if interceptor == nil {
				return h(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: sayMethod}, h)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Count",
		ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			in := new(wrapperspb.StringValue)
			if err := stream.RecvMsg(in); err != nil {
				return err
			}
			return srv.(echoServer).Count(in, stream)
		},
	}},
}

// echoFunc serves Say with a function and Count with n messages.
type echoFunc func(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)

func (f echoFunc) Say(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	return f(ctx, in)
}

func (f echoFunc) Count(in *wrapperspb.StringValue, s grpc.ServerStream) error {
	for _, c := range in.Value {
		if err := s.SendMsg(wrapperspb.String(string(c))); err != nil {
			return err
		}
	}
	return nil
}

// serve starts a real gRPC server on a loopback TCP port (bufconn is not
// loopback) and returns a client connection to it; both end with the test.
func serve(t *testing.T, register func(*grpc.Server), srvOpts []grpc.ServerOption, dialOpts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(srvOpts...)
	register(srv)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), append(dialOpts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		<-done
	})
	return conn
}

func say(ctx context.Context, conn *grpc.ClientConn, s string, opts ...grpc.CallOption) (string, error) {
	out := new(wrapperspb.StringValue)
	err := conn.Invoke(ctx, sayMethod, wrapperspb.String(s), out, opts...)
	return out.Value, err
}
