package fbhttp

import (
	"fmt"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
)

// Option configures a [Transport], whichever constructor builds it ([New],
// [NewPerKey], [Protect]): they build the same type, so they share one
// option type. Options are sealed: only this package makes them.
type Option interface{ apply(*config) }

type option func(*config)

func (f option) apply(c *config) { f(c) }

type config struct {
	idempotent func(*http.Request) bool
	failed     func(*http.Response) bool
	maxBody    int64
	maxKeys    int
	props      propagation.TextMapPropagator
}

const (
	defaultMaxBody = 1 << 20
	defaultMaxKeys = 100
)

func configure(fn string, opts []Option) (config, error) {
	c := config{idempotent: Idempotent, failed: Temporary, maxBody: defaultMaxBody, maxKeys: defaultMaxKeys}
	for i, o := range opts {
		if o == nil {
			return config{}, fmt.Errorf("fbhttp: %s: option %d is nil", fn, i)
		}
		o.apply(&c)
	}
	switch {
	case c.idempotent == nil:
		return config{}, fmt.Errorf("fbhttp: %s: WithIdempotent: function is nil", fn)
	case c.failed == nil:
		return config{}, fmt.Errorf("fbhttp: %s: WithFailure: function is nil", fn)
	case c.maxBody < 0:
		return config{}, fmt.Errorf("fbhttp: %s: WithMaxBodyBuffer: %d bytes must not be negative", fn, c.maxBody)
	case c.maxKeys < 1:
		return config{}, fmt.Errorf("fbhttp: %s: WithMaxKeys: %d must be at least 1", fn, c.maxKeys)
	}
	return c, nil
}

// WithIdempotent sets which requests may be sent more than once: a retry
// (or any policy that calls again) repeats only these. Pass a function
// returning true to retry every method, when the server deduplicates.
// Default: [Idempotent], net/http's rule (GET, HEAD, OPTIONS, TRACE, PUT,
// DELETE, or an Idempotency-Key header).
func WithIdempotent(f func(*http.Request) bool) Option {
	return option(func(c *config) { c.idempotent = f })
}

// WithFailure sets which responses are failures inside the pipeline: a
// breaker counts them and a retry repeats them (with the server's
// Retry-After). Other responses, 404 or 400 among them, are the caller's
// business and pass as successes. Default: [Temporary] (408, 429, and 5xx
// but 501 and 505).
func WithFailure(f func(*http.Response) bool) Option {
	return option(func(c *config) { c.failed = f })
}

// WithMaxBodyBuffer sets how many bytes of a request body without GetBody
// are read ahead and kept, so that the request can be retried; a larger
// body is sent once, streamed as it comes, and 0 never reads ahead. Only
// requests that may be retried are read ahead. Default: 1 MiB.
func WithMaxBodyBuffer(n int64) Option {
	return option(func(c *config) { c.maxBody = n })
}

// WithMaxKeys bounds how many pipelines a [NewPerKey] transport builds (one
// per host or route); a request for a key beyond it fails with a
// [*KeyLimitError]. Default: 100.
func WithMaxKeys(n int) Option {
	return option(func(c *config) { c.maxKeys = n })
}

// WithPropagators sets how the trace context of the pipeline's span is
// written into each attempt's headers; nil means the global propagator,
// read on each request, as OpenTelemetry's contrib packages do. Default:
// the global propagator ([go.opentelemetry.io/otel.GetTextMapPropagator]).
func WithPropagators(p propagation.TextMapPropagator) Option {
	return option(func(c *config) { c.props = p })
}
