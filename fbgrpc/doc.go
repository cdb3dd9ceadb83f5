// Package fbgrpc brings firebreak to gRPC: a grpc.health.v1 server that
// mirrors a [health.Registry], and client and server interceptors that run
// a firebreak pipeline around each call, with otelgrpc's spans.
//
//	ci, err := fbgrpc.NewClientInterceptor(pipeline) // retry → breaker, for "inventory"
//	conn, err := grpc.NewClient(target, append(ci.DialOptions(), creds)...)
//
//	hs, err := fbgrpc.NewHealthServer(probes)
//	srv := grpc.NewServer(si.ServerOptions()...) // si: a Shed and an Observer
//	hs.Register(srv)
//	err = hs.Start(ctx)
//	defer hs.Drain() // on shutdown: readiness NOT_SERVING, clients move away
//
// # The name
//
// fbgrpc, not grpc, which would clash with google.golang.org/grpc in a
// user's file. It is a package of its own so that users without gRPC do
// not link it: no other firebreak library package imports
// google.golang.org/grpc (TestOnlyFbgrpcLinksGRPC checks with go list;
// tracing/otelsetup reaches it through the OTLP exporters).
//
// # Health
//
// [HealthServer] serves the liveness and readiness groups of the registry
// as the services "liveness" and "readiness", and the server as a whole
// (service "") as readiness, through grpc-go's own health server, so that
// Check, Watch and List behave exactly as grpc-go's do (Kubernetes gRPC
// probes and grpc-go's client-side health checking use them).
// [HealthServer.Drain] turns readiness NOT_SERVING at once; every other
// change shows within [WithInterval] and is streamed to each Watch.
//
// # Status codes
//
// The pipeline's result type is any, for all four interceptors. Each
// attempt's status is classified by [Classify] ([WithClassifier] replaces
// it): UNAVAILABLE and RESOURCE_EXHAUSTED are retryable dependency
// failures, a server's pushback (grpc-retry-pushback-ms, gRFC A6) making a
// [failover.Retry] wait as asked — or not retry when it says so;
// DEADLINE_EXCEEDED, INTERNAL, UNKNOWN and DATA_LOSS are dependency
// failures a breaker counts and no retry repeats; CANCELLED and every
// other code are the caller's business and pass through the pipeline as
// results: no breaker counts them and no SLO burns on them. A CANCELLED or
// DEADLINE_EXCEEDED the caller's own context caused wraps the context's
// error: the breaker judges it by its hang rule, the retry stops. The
// caller always gets a gRPC status: the server's ([*StatusError] keeps it
// whole), or for a policy's own refusal a [*LocalError] with UNAVAILABLE
// (open breaker, feature off), RESOURCE_EXHAUSTED (shed) or
// DEADLINE_EXCEEDED (timeout), through which errors.Is still finds
// breaker.ErrOpen.
//
// # Server side
//
// A [ServerInterceptor] runs each served call (a whole stream, for
// streams) through the service's pipeline. A call its [failover.Shed]
// refuses is answered RESOURCE_EXHAUSTED, with no detail of the server's
// limits, and the shedder's wait in the pushback trailer.
//
// # Streams
//
// A client stream's pipeline runs around the opening of the stream only;
// keep Timeout policies out of it (see [ClientInterceptor.Stream]).
package fbgrpc
