// Package fbhttp is a resilient HTTP client: an [http.RoundTripper] that
// sends each request through a firebreak pipeline, so that an
// [http.Client] gets retries, a breaker, tracing and whatever else the
// pipeline holds, per request, per host or per route.
//
//	client, err := fbhttp.Protect(http.DefaultClient, firebreak.Component{
//		Name: "checkout", Tier: firebreak.Core, Reporter: board,
//	})
//	resp, err := client.Get("https://payments.internal/v1/charges/17")
//	if errors.Is(err, breaker.ErrOpen) { /* payments is isolated: serve a fallback */ }
//
// # The name
//
// fbhttp, not http: a user's file imports net/http too, and the two must
// not clash; the prefix pairs it with [github.com/firebreak-go/firebreak/fbgrpc].
// It is a package of its own rather than part of failover because it is
// an integration, not a policy: it composes failover's Retry, the breaker
// and the tracing Observer, which failover must not import.
//
// # Pipelines
//
// [Protect] is the one-line way: a copy of the client whose transport
// builds [DefaultPipeline] (observe → retry → breaker) for each host, the
// host being the dependency, so that each host has its own breaker and its
// own incident. [New] sends every request through one pipeline of your
// own; [NewPerKey] builds one per key ([ByHost], or a route of your own),
// up to [WithMaxKeys]. The pipeline's result type is *http.Response.
//
// # What the pipeline sees
//
// Each attempt is one round trip on the base transport. A transport error
// is an error. A response with a failure status ([WithFailure]: 408, 429
// and 5xx but 501 and 505, by default) is a [*failover.StatusError]
// carrying the server's Retry-After, so that a breaker counts it and
// [failover.Retry] waits as the server asked (up to its
// WithMaxRetryAfter); use [failover.RetryHTTP] as the retry's classifier
// to retry only what is worth it. Any other response is a success: a 404
// is the caller's business. When the pipeline cannot mend a failure
// status, the last response reaches the caller as the response, as it
// would have without the transport; a refusal (an open breaker, a shed
// call, a [*KeyLimitError]) is an error of RoundTrip.
//
// # Idempotency and bodies
//
// Only idempotent requests ([Idempotent], net/http's own rule: GET, HEAD,
// OPTIONS, TRACE, PUT, DELETE, or an Idempotency-Key header) are sent more
// than once; for any other, the first failure is final for the retry
// ([WithIdempotent] changes the rule). A body is replayed from
// [http.Request.GetBody] (set by [http.NewRequest] for in-memory bodies)
// or, without it, from a copy read ahead up to [WithMaxBodyBuffer] (1 MiB);
// a larger body is streamed once. The request given is never modified, and
// its body is closed whatever happens.
//
// # Tracing
//
// Put a [github.com/firebreak-go/firebreak/tracing.Observer] in the
// pipeline for a span around the whole call (its retries included): each
// attempt then carries that span's trace context in its headers
// ([WithPropagators]; the global propagator by default). For a span per
// attempt as well, make the base transport otelhttp's or
// [github.com/firebreak-go/firebreak/tracing.Transport].
//
// # Cost
//
// A successful request costs two allocations more than the bare
// transport; BenchmarkTransport measures it over loopback.
package fbhttp
