package fbgrpc_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	_ "google.golang.org/grpc/health" // grpc-go's client-side health checking
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/fbgrpc"
	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/health/healthtest"
)

// registry returns a started registry with a readiness check db and a
// liveness check loop, each a healthtest.Check the test can fail.
func registry(t *testing.T) (*health.Registry, *healthtest.Check, *healthtest.Check) {
	t.Helper()
	reg, err := health.New(health.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	db, loop := healthtest.NewCheck(), healthtest.NewCheck()
	if err := reg.Register("db", db, health.WithInterval(5*time.Millisecond), health.WithTimeout(5*time.Millisecond), health.WithFailureThreshold(1)); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register("loop", loop, health.InGroups(health.Liveness), health.WithInterval(5*time.Millisecond), health.WithTimeout(5*time.Millisecond), health.WithFailureThreshold(1)); err != nil {
		t.Fatal(err)
	}
	if err := reg.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close(context.Background()) })
	return reg, db, loop
}

func healthServer(t *testing.T, reg *health.Registry, opts ...fbgrpc.HealthOption) *fbgrpc.HealthServer {
	t.Helper()
	hs, err := fbgrpc.NewHealthServer(reg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := hs.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return hs
}

func check(t *testing.T, c healthpb.HealthClient, service string) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	r, err := c.Check(t.Context(), &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatalf("Check(%q): %v", service, err)
	}
	return r.Status
}

// recvUntil reads a Watch stream until it reports want, failing after 5s.
func recvUntil(t *testing.T, w healthpb.Health_WatchClient, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	for {
		r, err := w.Recv()
		if err != nil {
			t.Fatalf("Watch: %v (waiting for %v)", err, want)
		}
		if r.Status == want {
			return
		}
	}
}

const (
	serving    = healthpb.HealthCheckResponse_SERVING
	notServing = healthpb.HealthCheckResponse_NOT_SERVING
)

// TestHealthServerAnswersGRPCHealthClient: grpc-go's generated health
// client, over real loopback TCP, reads liveness, readiness and the
// server as a whole; Watch streams readiness turning NOT_SERVING on
// Drain while liveness stays SERVING, and a failing readiness check and
// its recovery; unknown services are NOT_FOUND; List names the services.
func TestHealthServerAnswersGRPCHealthClient(t *testing.T) {
	reg, db, loop := registry(t)
	hs := healthServer(t, reg, fbgrpc.WithInterval(5*time.Millisecond))
	conn := serve(t, func(s *grpc.Server) { hs.Register(s) }, nil)
	c := healthpb.NewHealthClient(conn)

	if got := check(t, c, "readiness"); got != notServing {
		t.Errorf("before Start readiness = %v, want NOT_SERVING", got)
	}
	if err := hs.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"", "liveness", "readiness"} {
		if got := check(t, c, svc); got != serving {
			t.Errorf("%q = %v, want SERVING", svc, got)
		}
	}
	if _, err := c.Check(t.Context(), &healthpb.HealthCheckRequest{Service: "payments"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown service: %v, want NOT_FOUND", err)
	}
	list, err := c.List(t.Context(), &healthpb.HealthListRequest{})
	if err != nil || len(list.Statuses) != 3 {
		t.Errorf("List = %v, %v; want 3 services", list, err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	watch, err := c.Watch(ctx, &healthpb.HealthCheckRequest{Service: "readiness"})
	if err != nil {
		t.Fatal(err)
	}
	recvUntil(t, watch, serving)

	// A readiness check fails, then recovers: Watch streams both.
	db.Fail(errors.New("db: connection refused"))
	recvUntil(t, watch, notServing)
	if got := check(t, c, "liveness"); got != serving {
		t.Errorf("liveness with db down = %v, want SERVING", got)
	}
	db.Pass()
	recvUntil(t, watch, serving)

	// A liveness check fails: liveness only.
	liveWatch, err := c.Watch(ctx, &healthpb.HealthCheckRequest{Service: "liveness"})
	if err != nil {
		t.Fatal(err)
	}
	recvUntil(t, liveWatch, serving)
	loop.Fail(nil)
	recvUntil(t, liveWatch, notServing)
	loop.Pass()
	recvUntil(t, liveWatch, serving)

	// Drain: readiness and "" NOT_SERVING at once, liveness unaffected.
	hs.Drain()
	recvUntil(t, watch, notServing)
	if got := check(t, c, ""); got != notServing {
		t.Errorf("whole server after Drain = %v, want NOT_SERVING", got)
	}
	if got := check(t, c, "liveness"); got != serving {
		t.Errorf("liveness after Drain = %v, want SERVING", got)
	}
	if !reg.Draining() {
		t.Error("the registry is not draining")
	}

	// Close: every service NOT_SERVING.
	if err := hs.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := check(t, c, "liveness"); got != notServing {
		t.Errorf("liveness after Close = %v, want NOT_SERVING", got)
	}
	if err := hs.Start(t.Context()); !errors.Is(err, firebreak.ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}
}

// TestClientSideHealthCheckingFollowsDrain: a grpc-go client with health
// checking in its service config stops sending to a server that drains.
func TestClientSideHealthCheckingFollowsDrain(t *testing.T) {
	reg, _, _ := registry(t)
	hs := healthServer(t, reg)
	if err := hs.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	echo := echoFunc(func(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) { return in, nil })
	conn := serve(t, func(s *grpc.Server) {
		hs.Register(s)
		s.RegisterService(&echoDesc, echo)
	}, nil, grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}],"healthCheckConfig":{"serviceName":""}}`))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if got, err := say(ctx, conn, "hi", grpc.WaitForReady(true)); err != nil || got != "hi" {
		t.Fatalf("before Drain: %q, %v", got, err)
	}
	hs.Drain()
	for st := conn.GetState(); st == connectivity.Ready; st = conn.GetState() {
		if !conn.WaitForStateChange(ctx, st) {
			t.Fatal("the client never noticed the drain")
		}
	}
	if _, err := say(ctx, conn, "hi"); status.Code(err) != codes.Unavailable {
		t.Errorf("after Drain: %v, want UNAVAILABLE (no healthy backend)", err)
	}
}

func TestHealthServerOptionErrors(t *testing.T) {
	reg, err := health.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{second(fbgrpc.NewHealthServer(nil)), "fbgrpc: NewHealthServer: registry is nil"},
		{second(fbgrpc.NewHealthServer(reg, nil)), "fbgrpc: NewHealthServer: option 0 is nil"},
		{second(fbgrpc.NewHealthServer(reg, fbgrpc.WithInterval(0))), "fbgrpc: NewHealthServer: WithInterval: 0s must be positive"},
		{second(fbgrpc.NewHealthServer(reg, fbgrpc.WithServiceNames("x", "x"))), `fbgrpc: NewHealthServer: WithServiceNames: "x" and "x" must be non-empty and differ`},
	} {
		if tt.err == nil || tt.err.Error() != tt.want {
			t.Errorf("got %v, want %q", tt.err, tt.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }
