package fbhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cenkalti/backoff/v4"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/failover"
	"github.com/firebreak-go/firebreak/tracing"
)

// Transport is an [http.RoundTripper] that sends each request through a
// [firebreak.Pipeline]: one pipeline for every request ([New]), or one per
// host or per route, built on first use ([NewPerKey]). It is safe for
// concurrent use.
//
// Each attempt the pipeline makes is one round trip on the base transport.
// A response whose status is a failure ([WithFailure]: 408, 429 and most
// 5xx by default) is an error inside the pipeline, a
// [*failover.StatusError] carrying the server's Retry-After, so that a
// breaker counts it and a retry waits as the server asked; if the pipeline
// cannot mend it, the last such response reaches the caller as the
// response, as it would without the transport (unless the caller's context
// ended meanwhile, as in a retry's wait: then its error). A refusal of the pipeline
// (an open breaker, a shed request, a spent retry budget) is an error of
// RoundTrip, which [http.Client] wraps in a [*url.Error]: errors.Is and
// [firebreak.IsRejected] see through it.
//
// Only idempotent requests are attempted more than once ([WithIdempotent]).
// A request body is replayed from [http.Request.GetBody], or from a copy
// buffered up to [WithMaxBodyBuffer]; a request whose body cannot be
// replayed is attempted once.
type Transport struct {
	base http.RoundTripper

	one *firebreak.Pipeline[*http.Response] // New; nil for NewPerKey

	key     func(*http.Request) string // NewPerKey
	build   func(key string) (*firebreak.Pipeline[*http.Response], error)
	pipes   sync.Map     // key → *firebreak.Pipeline[*http.Response]
	mu      sync.Mutex   // guards nkeys against two builders passing the limit
	nkeys   atomic.Int64 // pipelines stored in pipes
	maxKeys int64

	idempotent func(*http.Request) bool
	failed     func(*http.Response) bool
	maxBody    int64
	props      propagation.TextMapPropagator // nil: the global one, read per request
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a transport that sends every request through pipe, over base
// (nil means [http.DefaultTransport]).
func New(base http.RoundTripper, pipe *firebreak.Pipeline[*http.Response], opts ...Option) (*Transport, error) {
	if pipe == nil {
		return nil, errors.New("fbhttp: New: pipeline is nil")
	}
	t, err := newTransport("New", base, opts)
	if err != nil {
		return nil, err
	}
	t.one = pipe
	return t, nil
}

// NewPerKey returns a transport that sends each request through the
// pipeline of its key: key names the request's host ([ByHost]) or route,
// and build makes the pipeline of a key the first time it is seen (its
// breaker then counts that host or route alone). build may be called twice
// for one key by concurrent first requests; one result is kept. A key
// beyond [WithMaxKeys] is refused with a [*KeyLimitError]; a build that
// fails fails the request, and is tried again by the next.
func NewPerKey(base http.RoundTripper, key func(*http.Request) string, build func(key string) (*firebreak.Pipeline[*http.Response], error), opts ...Option) (*Transport, error) {
	var errs []error
	if key == nil {
		errs = append(errs, errors.New("fbhttp: NewPerKey: key function is nil"))
	}
	if build == nil {
		errs = append(errs, errors.New("fbhttp: NewPerKey: build function is nil"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	t, err := newTransport("NewPerKey", base, opts)
	if err != nil {
		return nil, err
	}
	t.key, t.build = key, build
	return t, nil
}

func newTransport(fn string, base http.RoundTripper, opts []Option) (*Transport, error) {
	cfg, err := configure(fn, opts)
	if err != nil {
		return nil, err
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{
		base: base, maxKeys: int64(cfg.maxKeys),
		idempotent: cfg.idempotent, failed: cfg.failed, maxBody: cfg.maxBody, props: cfg.props,
	}, nil
}

// ByHost is a key function for [NewPerKey]: the request's host and port,
// in lower case.
func ByHost(r *http.Request) string { return strings.ToLower(r.URL.Host) }

// Protect returns a copy of c (nil means [http.DefaultClient]) whose
// transport protects every host it calls with [DefaultPipeline], built per
// host for component comp. If comp.Dependency is empty, each host's
// pipeline is bound with the host as its dependency, so each host is its
// own breaker and its own incident. c itself is not changed.
//
//	client, err := fbhttp.Protect(http.DefaultClient, firebreak.Component{Name: "checkout", Reporter: board})
func Protect(c *http.Client, comp firebreak.Component, opts ...Option) (*http.Client, error) {
	if c == nil {
		c = http.DefaultClient
	}
	if err := comp.Validate(); err != nil {
		return nil, fmt.Errorf("fbhttp: Protect: %w", err)
	}
	t, err := NewPerKey(c.Transport, ByHost, func(host string) (*firebreak.Pipeline[*http.Response], error) {
		hc := comp
		if hc.Dependency == "" {
			hc.Dependency = host
		}
		return DefaultPipeline(hc)
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("fbhttp: Protect: %w", err)
	}
	cp := *c
	cp.Transport = t
	return &cp, nil
}

// DefaultPipeline returns the pipeline [Protect] builds for each host, bound
// to c: a [tracing.Observer] (a span per call, RED statistics), a
// [failover.Retry] with its defaults (3 attempts, backoff from 100ms, a
// budget of 20% of the calls, a server's Retry-After honoured up to a
// minute) that retries transport errors and temporary statuses
// ([failover.RetryHTTP]), and a [breaker.Breaker] with its defaults.
func DefaultPipeline(c firebreak.Component) (*firebreak.Pipeline[*http.Response], error) {
	obs, err := tracing.New[*http.Response]()
	if err != nil {
		return nil, err
	}
	retry, err := failover.NewRetry[*http.Response](failover.WithRetryIf(failover.RetryHTTP))
	if err != nil {
		return nil, err
	}
	cb, err := breaker.New[*http.Response]()
	if err != nil {
		return nil, err
	}
	return firebreak.NewPipeline(c, []firebreak.Policy[*http.Response]{obs, retry, cb})
}

// pipeline returns the pipeline for r.
func (t *Transport) pipeline(r *http.Request) (*firebreak.Pipeline[*http.Response], error) {
	if t.one != nil {
		return t.one, nil
	}
	k := t.key(r)
	if p, ok := t.pipes.Load(k); ok {
		return p.(*firebreak.Pipeline[*http.Response]), nil
	}
	if t.nkeys.Load() >= t.maxKeys {
		return nil, &KeyLimitError{Key: k, Max: int(t.maxKeys)}
	}
	p, err := t.build(k) // the user's code: outside every lock
	if err != nil {
		return nil, &BuildError{Key: k, Err: err}
	}
	if p == nil {
		return nil, &BuildError{Key: k, Err: errors.New("build returned a nil pipeline")}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.pipes.Load(k); ok {
		return old.(*firebreak.Pipeline[*http.Response]), nil
	}
	if t.nkeys.Load() >= t.maxKeys {
		return nil, &KeyLimitError{Key: k, Max: int(t.maxKeys)}
	}
	t.pipes.Store(k, p)
	t.nkeys.Add(1)
	return p, nil
}

// CloseIdleConnections closes the idle connections of the base transport,
// if it has such a method, so that [http.Client.CloseIdleConnections]
// works through the transport.
func (t *Transport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// Keys returns how many per-key pipelines the transport holds.
func (t *Transport) Keys() int { return int(t.nkeys.Load()) }

// RoundTrip implements [http.RoundTripper].
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	p, err := t.pipeline(req)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	a := &attempts{t: t, req: req, replayable: t.idempotent(req)}
	if err := a.prepareBody(); err != nil {
		return nil, err
	}
	resp, err := p.Execute(req.Context(), a.do)
	return a.finish(resp, err)
}

// attempts is the state of one request across the attempts of its pipeline.
// The fields above mu are set before the pipeline runs and only read after;
// mu guards the rest, since a [failover.Hedge] runs attempts concurrently.
// mu is never held across a round trip, a user's function or a body read.
type attempts struct {
	t          *Transport
	req        *http.Request
	replayable bool
	buffered   []byte // the body, read ahead so that it can be replayed; nil if not
	bufferedOK bool   // buffered holds the whole body

	mu   sync.Mutex
	n    int  // attempts made
	sent bool // req.Body went to the base transport, which closes it
	done bool // finish ran: a response arriving now is no one's, and is closed

	last    *http.Response        // the latest response with a failure status, unread
	lastErr *failover.StatusError // its error
	perm    *backoff.PermanentError
	won     *http.Response   // the first successful response
	more    []*http.Response // later successful ones (a hedge's losers), closed by finish
}

// prepareBody makes the body replayable if the request may be retried.
func (a *attempts) prepareBody() error {
	r := a.req
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	if r.GetBody != nil || !a.replayable {
		a.replayable = a.replayable && r.GetBody != nil
		return nil
	}
	if a.t.maxBody == 0 {
		a.replayable = false
		return nil
	}
	limit := a.t.maxBody
	if limit < math.MaxInt64 { // one byte more tells a body too large; MaxInt64+1 would wrap and read nothing
		limit++
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, limit))
	if err != nil {
		r.Body.Close()
		return fmt.Errorf("fbhttp: reading the request body: %w", err)
	}
	if int64(len(buf)) > a.t.maxBody {
		// Too large to keep: send what was read and the rest, once.
		a.buffered, a.replayable = buf, false
		return nil
	}
	r.Body.Close()
	a.buffered, a.bufferedOK = buf, true
	a.sent = true // nothing left for us to close
	return nil
}

// do is one attempt: the innermost function of the pipeline.
func (a *attempts) do(ctx context.Context) (*http.Response, error) {
	a.mu.Lock()
	a.n++
	n := a.n
	old := a.last
	a.last, a.lastErr = nil, nil
	a.mu.Unlock()
	if old != nil {
		drain(old)
	}
	if n > 1 && !a.replayable {
		// A policy other than a retry (a failover, a hedge) asked again.
		return nil, backoff.Permanent(&NotReplayableError{Method: a.req.Method})
	}
	r, err := a.request(ctx, n)
	if err != nil {
		return nil, backoff.Permanent(err)
	}
	resp, err := a.t.base.RoundTrip(r)
	if err != nil {
		return nil, a.once(err)
	}
	if a.t.failed(resp) {
		se, ok := failover.CheckResponse(resp).(*failover.StatusError)
		if !ok { // a failure status under 400, by the user's rule
			se = &failover.StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
		}
		a.mu.Lock()
		late := a.done
		old := a.last
		if !late {
			a.last, a.lastErr = resp, se
		}
		a.mu.Unlock()
		if old != nil {
			drain(old)
		}
		if late {
			drain(resp)
			return nil, backoff.Permanent(se)
		}
		return resp, a.once(se)
	}
	a.mu.Lock()
	late := a.done
	switch {
	case late:
	case a.won == nil:
		a.won = resp
	default:
		a.more = append(a.more, resp)
	}
	a.mu.Unlock()
	if late { // a hedge that lost: the caller has its answer
		drain(resp)
		return nil, errLate
	}
	return resp, nil
}

// once marks err permanent when the request must not be attempted again, so
// that a retry around the call gives up at once.
func (a *attempts) once(err error) error {
	if a.replayable {
		return err
	}
	perm := backoff.Permanent(err).(*backoff.PermanentError)
	a.mu.Lock()
	a.perm = perm
	a.mu.Unlock()
	return perm
}

// request returns the request for one attempt: the caller's own when
// nothing needs to change, else a copy with the pipeline's context, a fresh
// body and the trace context of the pipeline's span.
func (a *attempts) request(ctx context.Context, n int) (*http.Request, error) {
	req := a.req
	props := a.t.props
	if props == nil {
		props = otel.GetTextMapPropagator()
	}
	inject := trace.SpanContextFromContext(ctx).IsValid() && len(props.Fields()) > 0
	first := n == 1
	if ctx == req.Context() && first && a.buffered == nil && !inject {
		a.markSent()
		return req, nil
	}
	r := req.WithContext(ctx)
	switch {
	case a.bufferedOK:
		r.Body = io.NopCloser(bytes.NewReader(a.buffered))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(a.buffered)), nil }
	case a.buffered != nil: // first and only attempt of a body too large to keep
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(a.buffered), req.Body), req.Body}
		a.markSent()
	case req.Body != nil && req.Body != http.NoBody && !first:
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("fbhttp: replaying the request body: %w", err)
		}
		r.Body = body
	default:
		a.markSent()
	}
	if inject {
		r.Header = req.Header.Clone()
		if r.Header == nil {
			r.Header = http.Header{}
		}
		props.Inject(ctx, propagation.HeaderCarrier(r.Header))
	}
	return r, nil
}

func (a *attempts) markSent() {
	a.mu.Lock()
	a.sent = true
	a.mu.Unlock()
}

// finish turns the pipeline's outcome into RoundTrip's. Attempts still
// running (a hedge's) close what they get from now on.
func (a *attempts) finish(resp *http.Response, err error) (*http.Response, error) {
	a.mu.Lock()
	a.done = true
	sent, last, lastErr, perm := a.sent, a.last, a.lastErr, a.perm
	won, more := a.won, a.more
	a.mu.Unlock()
	if !sent {
		closeBody(a.req)
	}
	if won != nil && won != resp {
		drain(won) // a hedge's loser, or a fallback answered in its place
	}
	for _, m := range more {
		if m != resp {
			drain(m)
		}
	}
	if err == nil {
		if last != nil && last != resp {
			drain(last) // a fallback answered in its place
		}
		if resp == nil {
			return nil, errors.New("fbhttp: the pipeline returned neither a response nor an error")
		}
		return resp, nil
	}
	if last != nil {
		var se *failover.StatusError
		if errors.As(err, &se) && se == lastErr && a.req.Context().Err() == nil {
			// The server's own answer, which no policy could mend. A
			// caller who gave up meanwhile (during a retry's wait) gets
			// its context's error instead, as from http.Client.
			return last, nil
		}
		drain(last)
	}
	if resp != nil && resp != last {
		drain(resp)
	}
	if perm != nil && err == error(perm) {
		err = perm.Err
	}
	if pe, ok := err.(*backoff.PermanentError); ok {
		err = pe.Err
	}
	return nil, err
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		r.Body.Close()
	}
}

// drain reads a little of a response that no one will read, so that its
// connection can be reused, and closes it.
func drain(resp *http.Response) {
	if resp.Body != nil {
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
	}
}

// Idempotent is the default of [WithIdempotent], net/http's own rule for
// replaying a request: GET, HEAD, OPTIONS, TRACE, PUT and DELETE are
// idempotent, and so is any request with an Idempotency-Key or
// X-Idempotency-Key header.
func Idempotent(r *http.Request) bool {
	switch r.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	if _, ok := r.Header["Idempotency-Key"]; ok {
		return true
	}
	_, ok := r.Header["X-Idempotency-Key"]
	return ok
}

// Temporary is the default of [WithFailure]: 408, 429 and 5xx other than
// 501 and 505 ([failover.StatusError.Temporary]).
func Temporary(resp *http.Response) bool {
	switch c := resp.StatusCode; {
	case c == http.StatusRequestTimeout, c == http.StatusTooManyRequests:
		return true
	case c == http.StatusNotImplemented, c == http.StatusHTTPVersionNotSupported:
		return false
	default:
		return c >= 500
	}
}
