// Package otelsetup builds and installs the OpenTelemetry SDK for a service
// from the standard OTEL_* environment variables: OTLP/HTTP when an endpoint
// is set, one line per span on an output otherwise.
//
//	sdk, err := otelsetup.New(otelsetup.WithServiceName("checkout"))
//	if err != nil { … }
//	if err := sdk.Start(ctx); err != nil { … }
//	defer sdk.Close(context.WithoutCancel(ctx)) // flushes what is buffered
//
// # Why a package apart
//
// The [tracing] package records spans and metrics on the OpenTelemetry API
// only. Most services that use a tracing.Observer already set up an SDK of
// their own, and a library must not choose the SDK for them; the SDK, the
// OTLP exporters and their protobuf and gRPC dependencies are about 150
// packages that they would link for nothing. This package is where firebreak
// imports the SDK, for the services, examples and tests that want one set up
// for them.
//
// # Lifecycle
//
// [New] reads the options and the environment and reports what is wrong
// with them; it starts nothing. [SDK.Start] builds the exporters and the
// providers (whose batch processors and periodic readers run goroutines) and
// installs them as the global providers. [SDK.Close] flushes and stops them.
// Both are idempotent, as every firebreak lifecycle is: a value with Close
// rather than OpenTelemetry's shutdown function, so that it reads as the
// Board and the health registry do.
//
// [tracing]: https://pkg.go.dev/github.com/firebreak-go/firebreak/tracing
package otelsetup
