// Command grpcservice is a template for a gRPC service protected by
// firebreak: copy it and replace the inventory dependency with yours.
//
// The service, "orders", serves orders.Orders/Get over gRPC. Each call
// needs its dependency, "inventory", also over gRPC, through an fbgrpc
// client interceptor whose pipeline (observe → retry → breaker) is built
// once for that connection. Around it: a grpc.health.v1 server mirroring
// the health registry (liveness, readiness, and "" for the whole server),
// a server interceptor whose pipeline observes and sheds the service's own
// calls (RESOURCE_EXHAUSTED with a retry pushback), the incident Board, and
// the operations API over HTTP behind bearer tokens.
//
//	go run ./examples/grpcservice              # a 3-second demonstration, then a graceful stop
//	go run ./examples/grpcservice -run-for 0   # serve until SIGINT or SIGTERM
//
// The services are written by hand with well-known protobuf messages so
// that the template needs no code generation; in your service the
// ServiceDesc and the clients come from protoc-gen-go-grpc.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/failover"
	"github.com/firebreak-go/firebreak/fbgrpc"
	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/tracing"
)

func main() {
	runFor := flag.Duration("run-for", 3*time.Second, "how long to run the demonstration; 0 serves until SIGINT or SIGTERM")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *runFor, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "grpcservice:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, runFor time.Duration, out io.Writer) error {
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelError}))

	// The dependency: a gRPC inventory service. In your service: its address.
	inv := &inventory{}
	invAddr, stopInventory, err := serveGRPC(func(s *grpc.Server) { s.RegisterService(&stockDesc, inv) })
	if err != nil {
		return err
	}
	defer stopInventory()

	board, err := firebreak.NewBoard("orders", firebreak.WithNotifier(firebreak.SlogNotifier(logger)), firebreak.WithComponents("orders"))
	if err != nil {
		return err
	}
	if err := board.Start(ctx); err != nil {
		return err
	}
	defer board.Close(context.Background())
	self := firebreak.Component{Name: "orders", Tier: firebreak.Core, Reporter: board}

	// The client side: one pipeline for the inventory connection.
	dep := self
	dep.Dependency = "inventory"
	observe, err := tracing.New[any]()
	if err != nil {
		return err
	}
	retry, err := failover.NewRetry[any](failover.WithMaxAttempts(2), failover.WithBackoff(10*time.Millisecond, 50*time.Millisecond, 2))
	if err != nil {
		return err
	}
	// A short window, so that the demonstration's one-second outage trips
	// it; in production the defaults (30s window) are a good start.
	cb, err := breaker.New[any](breaker.WithWindow(time.Second, 250*time.Millisecond), breaker.WithFailureRatio(0.5, 20),
		breaker.WithOpenTimeout(300*time.Millisecond))
	if err != nil {
		return err
	}
	clientPipe, err := firebreak.NewPipeline(dep, []firebreak.Policy[any]{observe, retry, cb})
	if err != nil {
		return err
	}
	ci, err := fbgrpc.NewClientInterceptor(clientPipe)
	if err != nil {
		return err
	}
	invConn, err := grpc.NewClient(invAddr, append(ci.DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		return err
	}
	defer invConn.Close()

	// Probes: readiness follows inventory's own gRPC health service.
	probes, err := health.New(health.WithLogger(logger))
	if err != nil {
		return err
	}
	if err := probes.Bind(self); err != nil {
		return err
	}
	invHealth := healthpb.NewHealthClient(invConn)
	if err := probes.Register("inventory", health.CheckFunc(func(ctx context.Context) error {
		_, err := invHealth.Check(ctx, &healthpb.HealthCheckRequest{})
		if status.Code(err) == codes.Unimplemented {
			return nil // this stand-in has no health service: the call itself reached it
		}
		return err
	}), health.ForComponent(dep), health.WithInterval(100*time.Millisecond), health.WithTimeout(100*time.Millisecond)); err != nil {
		return err
	}
	if err := probes.Start(ctx); err != nil {
		return err
	}
	defer probes.Close(context.Background())
	hs, err := fbgrpc.NewHealthServer(probes, fbgrpc.WithInterval(100*time.Millisecond))
	if err != nil {
		return err
	}
	if err := hs.Start(ctx); err != nil {
		return err
	}
	defer hs.Close(context.Background())

	// The server side: observe and shed the service's own calls.
	shedder, err := failover.NewShedder(rate.Limit(2000), 200, failover.WithMaxConcurrent(256))
	if err != nil {
		return err
	}
	shed, err := failover.NewShed[any](shedder)
	if err != nil {
		return err
	}
	serverObserve, err := tracing.New[any]()
	if err != nil {
		return err
	}
	serverPipe, err := firebreak.NewPipeline(self, []firebreak.Policy[any]{serverObserve, shed})
	if err != nil {
		return err
	}
	si, err := fbgrpc.NewServerInterceptor(serverPipe)
	if err != nil {
		return err
	}
	svc := &orders{inventory: invConn}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer(si.ServerOptions()...)
	srv.RegisterService(&ordersDesc, svc)
	hs.Register(srv)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	fmt.Fprintf(out, "orders listening on %s (gRPC)\n", lis.Addr())

	// The operations API and the HTTP probes, on their own port.
	opsToken := os.Getenv("ORDERS_OPS_TOKEN")
	if opsToken == "" {
		opsToken = randomToken()
	}
	auth, err := firebreak.BearerTokens(map[string]string{opsToken: "on-duty"})
	if err != nil {
		return err
	}
	ops, err := firebreak.OpsHandler(board, auth)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/ops/", http.StripPrefix("/ops", ops))
	mux.Handle("/livez", probes.Handler())
	mux.Handle("/readyz", probes.Handler())
	opsLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	opsSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go opsSrv.Serve(opsLis)
	defer opsSrv.Close()

	if runFor > 0 {
		if err := demonstrate(ctx, out, lis.Addr().String(), inv, cb, board, runFor); err != nil {
			return err
		}
	} else {
		<-ctx.Done()
	}

	// Graceful stop: readiness NOT_SERVING so that clients' health checks
	// move away, then finish in-flight calls.
	hs.Drain()
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		srv.Stop()
	}
	<-served
	fmt.Fprintln(out, "orders stopped")
	return nil
}

// orders is the service: Get asks inventory for the stock of an item.
type orders struct{ inventory *grpc.ClientConn }

func (o *orders) Get(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	stock := new(wrapperspb.StringValue)
	if err := o.inventory.Invoke(ctx, "/inventory.Stock/Of", in, stock); err != nil {
		// The caller learns inventory is unavailable, not why.
		return nil, status.Error(codes.Unavailable, "inventory unavailable, try again shortly")
	}
	return wrapperspb.String("order " + in.Value + ": " + stock.Value + " in stock"), nil
}

// inventory stands in for the dependency; down makes it fail.
type inventory struct{ down atomic.Bool }

func (i *inventory) Of(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	if i.down.Load() {
		return nil, status.Error(codes.Unavailable, "inventory down")
	}
	return wrapperspb.String("12"), nil
}

// demonstrate plays traffic, an inventory outage and the recovery, as a
// gRPC client of the service with grpc-go's own health client.
func demonstrate(ctx context.Context, out io.Writer, addr string, inv *inventory, cb *breaker.Breaker[any], board *firebreak.Board, d time.Duration) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	readiness := func() string {
		r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "readiness"})
		if err != nil {
			return status.Code(err).String()
		}
		return r.Status.String()
	}
	phase := func(name string, dur time.Duration) {
		var ok, unavailable int
		for end := time.Now().Add(dur); time.Now().Before(end) && ctx.Err() == nil; time.Sleep(5 * time.Millisecond) {
			reply := new(wrapperspb.StringValue)
			if err := conn.Invoke(ctx, "/orders.Orders/Get", wrapperspb.String("17"), reply); err != nil {
				unavailable++
			} else {
				ok++
			}
		}
		fmt.Fprintf(out, "%-9s %4d orders served, %4d UNAVAILABLE; breaker %s, readiness %s\n", name, ok, unavailable, cb.State(), readiness())
	}
	phase("healthy", d/3)
	inv.down.Store(true)
	phase("outage", d/3)
	fmt.Fprintf(out, "open incidents: %d\n", len(board.List(firebreak.Filter{OpenOnly: true})))
	inv.down.Store(false)
	phase("recovered", d/3)
	return nil
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// serveGRPC serves a gRPC server on a loopback port.
func serveGRPC(register func(*grpc.Server)) (string, func(), error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	s := grpc.NewServer()
	register(s)
	go s.Serve(lis)
	return lis.Addr().String(), s.Stop, nil
}

// The service descriptions, as protoc-gen-go-grpc would write them.

type ordersServer interface {
	Get(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
}

type stockServer interface {
	Of(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
}

var ordersDesc = grpc.ServiceDesc{
	ServiceName: "orders.Orders",
	HandlerType: (*ordersServer)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Get", Handler: unary("/orders.Orders/Get", func(srv any, ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		return srv.(ordersServer).Get(ctx, in)
	})}},
}

var stockDesc = grpc.ServiceDesc{
	ServiceName: "inventory.Stock",
	HandlerType: (*stockServer)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Of", Handler: unary("/inventory.Stock/Of", func(srv any, ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		return srv.(stockServer).Of(ctx, in)
	})}},
}

func unary(method string, call func(any, context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		in := new(wrapperspb.StringValue)
		if err := dec(in); err != nil {
			return nil, err
		}
		h := func(ctx context.Context, req any) (any, error) { return call(srv, ctx, req.(*wrapperspb.StringValue)) }
		if interceptor == nil {
			return h(ctx, in)
		}
		return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: method}, h)
	}
}
