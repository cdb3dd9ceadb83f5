package fbgrpc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/health"
)

// HealthServer is a grpc.health.v1 Health service mirroring a
// [health.Registry]: the liveness and readiness groups are services
// ("liveness" and "readiness", [WithServiceNames]), and the server as a
// whole (service "") follows readiness, which is what gRPC clients'
// health checking and load balancers ask. Check, Watch and List are
// grpc-go's own health server (google.golang.org/grpc/health), fed by a
// goroutine that reads the registry every [WithInterval]; Watch streams
// each change.
//
// A group serves when the HTTP probe would pass: up or degraded; an
// unknown liveness check does not fail liveness, an unknown readiness
// check fails readiness. [HealthServer.Drain] drains the registry and
// turns readiness (and "") NOT_SERVING at once.
//
// Before Start every service is NOT_SERVING; after Close every service is
// NOT_SERVING for good, so that clients move away while the server stops.
// It is safe for concurrent use.
type HealthServer struct {
	healthpb.UnimplementedHealthServer // none: every method is grpc-go's

	reg *health.Registry
	hs  *grpchealth.Server
	cfg healthConfig

	syncMu sync.Mutex // serialises Sync, so that a stale read never lands after a newer one

	mu      sync.Mutex // guards started, closed, stop, done
	started bool
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

var _ healthpb.HealthServer = (*HealthServer)(nil)

// NewHealthServer returns a health server for reg. It starts nothing:
// register it on a gRPC server ([HealthServer.Register]) and Start it.
func NewHealthServer(reg *health.Registry, opts ...HealthOption) (*HealthServer, error) {
	if reg == nil {
		return nil, errors.New("fbgrpc: NewHealthServer: registry is nil")
	}
	cfg, err := configureHealth(opts)
	if err != nil {
		return nil, err
	}
	s := &HealthServer{reg: reg, hs: grpchealth.NewServer(), cfg: cfg}
	for _, name := range []string{"", cfg.liveness, cfg.readiness} {
		s.hs.SetServingStatus(name, healthpb.HealthCheckResponse_NOT_SERVING)
	}
	return s, nil
}

// Register registers the health service on srv.
func (s *HealthServer) Register(srv grpc.ServiceRegistrar) { healthpb.RegisterHealthServer(srv, s) }

// Check implements grpc.health.v1 Health.Check.
func (s *HealthServer) Check(ctx context.Context, in *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	return s.hs.Check(ctx, in)
}

// List implements grpc.health.v1 Health.List.
func (s *HealthServer) List(ctx context.Context, in *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	return s.hs.List(ctx, in)
}

// Watch implements grpc.health.v1 Health.Watch: the current status, then
// every change, until the caller leaves.
func (s *HealthServer) Watch(in *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	return s.hs.Watch(in, stream)
}

// Start mirrors the registry once and starts the goroutine that keeps
// mirroring it. It returns at once (the registry's own Start waits for its
// first checks); calling it again does nothing; after Close it returns an
// error wrapping [firebreak.ErrClosed].
func (s *HealthServer) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("fbgrpc: HealthServer.Start: %w", firebreak.ErrClosed)
	}
	if s.started {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fbgrpc: HealthServer.Start: %w", err)
	}
	s.started = true
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	s.Sync()
	go s.loop(s.stop, s.done)
	return nil
}

func (s *HealthServer) loop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(s.cfg.interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.Sync()
		}
	}
}

// Sync mirrors the registry now. The goroutine Start starts calls it every
// interval; grpc-go's server sends a Watch an update only on a change.
func (s *HealthServer) Sync() {
	s.syncMu.Lock() // SetServingStatus calls no user code
	defer s.syncMu.Unlock()
	live := serving(health.Liveness, s.reg.Status(health.Liveness))
	ready := serving(health.Readiness, s.reg.Status(health.Readiness))
	s.hs.SetServingStatus(s.cfg.liveness, live)
	s.hs.SetServingStatus(s.cfg.readiness, ready)
	s.hs.SetServingStatus("", ready)
}

// Drain drains the registry ([health.Registry.Drain]) and turns readiness
// and the server as a whole NOT_SERVING at once, so that clients' health
// checks move traffic away while in-flight calls finish. Liveness is
// unaffected. It is idempotent.
func (s *HealthServer) Drain() {
	s.reg.Drain()
	s.Sync()
}

// Close stops the goroutine and sets every service NOT_SERVING for good.
// It is idempotent; it returns ctx's error if the goroutine does not stop
// within ctx.
func (s *HealthServer) Close(ctx context.Context) error {
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	stop, done := s.stop, s.done
	if first && stop != nil {
		close(stop)
	}
	s.mu.Unlock()
	if first {
		s.hs.Shutdown()
	}
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("fbgrpc: HealthServer.Close: the mirroring goroutine did not stop: %w", ctx.Err())
	}
}

func serving(g health.Group, st health.Status) healthpb.HealthCheckResponse_ServingStatus {
	switch {
	case st == health.StatusUp, st == health.StatusDegraded, g == health.Liveness && st == health.StatusUnknown:
		return healthpb.HealthCheckResponse_SERVING
	}
	return healthpb.HealthCheckResponse_NOT_SERVING
}
