package drill

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/firebreak-go/firebreak"
)

// StageInject is where an injector sits in a pipeline's default order:
// innermost, inside every other policy (custom ones too), next to the call,
// so every other policy sees an injected fault as the real thing.
const StageInject = firebreak.StageCustom + 100

// Fault is what an injector does to a call it hits. Build one with [Error],
// [HTTPStatus], [Latency], [Blackhole] or [Behavior].
type Fault struct {
	kind   faultKind
	err    error
	status int
	delay  time.Duration
	hook   func(ctx context.Context) error
}

type faultKind int8

const (
	faultNone faultKind = iota
	faultError
	faultStatus
	faultLatency
	faultBlackhole
	faultBehavior
)

// Error fails the call with err (wrapped in an [*InjectedError]); an HTTP
// middleware answers 500 and a RoundTripper returns the error.
func Error(err error) Fault { return Fault{kind: faultError, err: err} }

// HTTPStatus fails the call with an HTTP status: a middleware answers it, a
// RoundTripper returns a response with it, and a policy returns an
// [*InjectedError] carrying it. code must be 400 to 599.
func HTTPStatus(code int) Fault { return Fault{kind: faultStatus, status: code} }

// Latency delays the call by d, then makes it; if the caller's context ends
// first, the call fails with the context's error and is not made.
func Latency(d time.Duration) Fault { return Fault{kind: faultLatency, delay: d} }

// Blackhole never answers: the call hangs until the caller's context ends,
// and fails with its error. Use it where callers set deadlines.
func Blackhole() Fault { return Fault{kind: faultBlackhole} }

// Behavior runs fn in place of the fault: a nil error lets the call go on, an
// error fails it (wrapped in an [*InjectedError]). A panic in fn fails the
// call; it does not reach the caller.
func Behavior(fn func(ctx context.Context) error) Fault { return Fault{kind: faultBehavior, hook: fn} }

func (f Fault) validate() error {
	switch f.kind {
	case faultError:
		if f.err == nil {
			return errors.New("drill: Error: the error is nil")
		}
	case faultStatus:
		if f.status < 400 || f.status > 599 {
			return fmt.Errorf("drill: HTTPStatus: %d is not an HTTP error status (400 to 599)", f.status)
		}
	case faultLatency:
		if f.delay <= 0 {
			return fmt.Errorf("drill: Latency: must be positive, got %s", f.delay)
		}
	case faultBlackhole:
	case faultBehavior:
		if f.hook == nil {
			return errors.New("drill: Behavior: the function is nil")
		}
	default:
		return errors.New("drill: the fault is the zero Fault: build one with Error, HTTPStatus, Latency, Blackhole or Behavior")
	}
	return nil
}

// String describes the fault for reports: "error: connection refused",
// "HTTP 503", "latency 2s", "blackhole", "behavior".
func (f Fault) String() string {
	switch f.kind {
	case faultError:
		return "error: " + f.err.Error()
	case faultStatus:
		return fmt.Sprintf("HTTP %d", f.status)
	case faultLatency:
		return "latency " + f.delay.String()
	case faultBlackhole:
		return "blackhole"
	case faultBehavior:
		return "behavior"
	}
	return "none"
}

// Step is one step of a dose: from After (since the drill started) on,
// Percent of the calls in scope are hit.
type Step struct {
	After   time.Duration `json:"after"`
	Percent float64       `json:"percent"`
}

// Dose is how much of the traffic in scope is hit, step by step: a ramp
// such as 1% → 5% → 20%. The first step starts at 0.
type Dose []Step

// Percent is a dose of p percent of the calls in scope for the whole drill.
func Percent(p float64) Dose { return Dose{{Percent: p}} }

// Ramp is a dose that starts at the first percentage and moves to the next
// every interval: Ramp(2*time.Minute, 1, 5, 20).
func Ramp(every time.Duration, percents ...float64) Dose {
	d := make(Dose, len(percents))
	for i, p := range percents {
		d[i] = Step{After: time.Duration(i) * every, Percent: p}
	}
	return d
}

func (d Dose) validate() error {
	if len(d) == 0 {
		return errors.New("drill: Spec.Dose: at least one step is required (drill.Percent(100), drill.Ramp(...))")
	}
	for i, s := range d {
		switch {
		case math.IsNaN(s.Percent) || s.Percent <= 0 || s.Percent > 100:
			return fmt.Errorf("drill: Spec.Dose[%d]: percent must be more than 0 and at most 100, got %v", i, s.Percent)
		case i == 0 && s.After != 0:
			return fmt.Errorf("drill: Spec.Dose[0]: the first step starts at 0, got %s", s.After)
		case i > 0 && s.After <= d[i-1].After:
			return fmt.Errorf("drill: Spec.Dose[%d]: steps must be in increasing order of After (%s after %s)", i, s.After, d[i-1].After)
		}
	}
	return nil
}

// at returns the percentage at elapsed time since the start, in hundredths
// of a percent.
func (d Dose) at(elapsed time.Duration) uint64 {
	p := d[0].Percent
	for _, s := range d[1:] {
		if elapsed < s.After {
			break
		}
		p = s.Percent
	}
	return uint64(math.Round(p * 100))
}

// Scope is which calls a drill may hit. Every field that is set must match:
// the call's component and dependency (an injector's bound identity), its
// endpoint and tenant and a request header (from the request, see
// [WithRequest] and [Injector.Middleware]). An empty field matches every
// call.
type Scope struct {
	Components   []string `json:"components,omitempty"`
	Dependencies []string `json:"dependencies,omitempty"`
	Endpoints    []string `json:"endpoints,omitempty"` // "GET /pay" or a route pattern, as the request gives it
	Tenants      []string `json:"tenants,omitempty"`
	// Header, if set, limits the drill to requests that carry it, e.g.
	// "X-Firebreak-Drill", so that only drill traffic is hit; HeaderValue,
	// if set, is the value it must have.
	Header      string `json:"header,omitempty"`
	HeaderValue string `json:"header_value,omitempty"`
}

func (s *Scope) validate() error {
	if len(s.Components) == 0 && len(s.Dependencies) == 0 {
		return errors.New("drill: Spec.Scope: name the Components or Dependencies the drill covers")
	}
	for _, l := range [][]string{s.Components, s.Dependencies, s.Endpoints, s.Tenants} {
		if slices.Contains(l, "") {
			return errors.New("drill: Spec.Scope: an empty name")
		}
	}
	if s.Header == "" && s.HeaderValue != "" {
		return errors.New("drill: Spec.Scope: HeaderValue without Header")
	}
	if s.Header != "" && strings.ContainsAny(s.Header, " \t\r\n:") {
		return fmt.Errorf("drill: Spec.Scope: Header %q is not a header name", s.Header)
	}
	return nil
}

func (s *Scope) matches(c *firebreak.Component, r *Request) bool {
	if len(s.Components) > 0 && !slices.Contains(s.Components, c.Name) {
		return false
	}
	if len(s.Dependencies) > 0 && !slices.Contains(s.Dependencies, c.Dependency) {
		return false
	}
	if len(s.Endpoints) == 0 && len(s.Tenants) == 0 && s.Header == "" {
		return true
	}
	if r == nil {
		return false // the call carries nothing to test: not drill traffic
	}
	if len(s.Endpoints) > 0 && !slices.Contains(s.Endpoints, r.Endpoint) {
		return false
	}
	if len(s.Tenants) > 0 && !slices.Contains(s.Tenants, r.Tenant) {
		return false
	}
	if s.Header != "" {
		v, ok := r.Header[http.CanonicalHeaderKey(s.Header)]
		if !ok || s.HeaderValue != "" && !slices.Contains(v, s.HeaderValue) {
			return false
		}
	}
	return true
}

// Request is what a scope tests about a call besides its component: the
// endpoint, the tenant and the headers. [Injector.Middleware] and
// [Injector.Transport] take it from the request; [Propagate] puts it in the
// request's context for the pipelines the handler calls; [WithRequest] puts
// it there by hand.
type Request struct {
	Endpoint string
	Tenant   string
	Header   http.Header
	// TraceParent is a W3C traceparent header, read when the context has no
	// OpenTelemetry span: it chooses which requests a percentage hits.
	TraceParent string
}

type requestKey struct{}

// WithRequest returns ctx carrying r, for injectors whose scope names
// endpoints, tenants or a header.
func WithRequest(ctx context.Context, r *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

func requestFrom(ctx context.Context) *Request {
	r, _ := ctx.Value(requestKey{}).(*Request)
	return r
}

// TenantHeader is the request header the HTTP adapters read the tenant from.
const TenantHeader = "X-Tenant-ID"

func requestOf(r *http.Request, endpoint string) *Request {
	return &Request{Endpoint: endpoint, Tenant: r.Header.Get(TenantHeader), Header: r.Header, TraceParent: r.Header.Get("traceparent")}
}

// Injector injects one fault into the calls it sees while a drill arms it,
// and does nothing otherwise: unarmed, a call through it costs one atomic
// load. Use it as a pipeline policy ([NewPolicy]), as HTTP server
// middleware ([Injector.Middleware]) or as an HTTP client transport
// ([Injector.Transport]). It learns its component through Bind, as every
// firebreak policy does. It is safe for concurrent use.
type Injector struct {
	name  string
	fault Fault
	b     firebreak.Binding
	armed atomic.Pointer[arming]
	hits  atomic.Int64
}

// armedInjectors counts the injectors armed in the process: [Propagate]
// does nothing while it is 0.
var armedInjectors atomic.Int64

// NewInjector returns an unarmed injector of fault, named for reports.
func NewInjector(name string, fault Fault) (*Injector, error) {
	if strings.TrimSpace(name) == "" {
		return nil, errors.New("drill: NewInjector: a name is required")
	}
	if err := fault.validate(); err != nil {
		return nil, fmt.Errorf("drill: NewInjector %q: %w", name, err)
	}
	return &Injector{name: name, fault: fault}, nil
}

// Name returns the injector's name.
func (in *Injector) Name() string { return in.name }

// Fault returns what the injector does when armed.
func (in *Injector) Fault() Fault { return in.fault }

// Bind fixes the component the injector guards, under the rule of
// [firebreak.Binding].
func (in *Injector) Bind(c firebreak.Component) error {
	_, err := in.b.Bind(fmt.Sprintf("drill injector %q", in.name), c)
	return err
}

// Component returns the bound component.
func (in *Injector) Component() firebreak.Component { return in.b.Component() }

// Armed reports whether a drill arms the injector now.
func (in *Injector) Armed() bool { return in.armed.Load() != nil }

// Injected returns how many calls the injector has faulted, over all drills.
func (in *Injector) Injected() int64 { return in.hits.Load() }

// arming is what a drill gives its injectors: fixed once stored.
type arming struct {
	run   *run
	scope *Scope
	dose  Dose
	start time.Time
	end   time.Time
	seed  uint64
	calls atomic.Uint64 // for calls without a trace ID
}

// arm arms the injector for a, unless another drill has it armed: it
// returns that drill's ID then.
func (in *Injector) arm(a *arming) (other string, ok bool) {
	if in.armed.CompareAndSwap(nil, a) {
		armedInjectors.Add(1)
		return "", true
	}
	if cur := in.armed.Load(); cur == a {
		return "", true // listed twice
	} else if cur != nil {
		return cur.run.id, false
	}
	return in.arm(a) // disarmed meanwhile
}

func (in *Injector) disarm(a *arming) {
	if in.armed.CompareAndSwap(a, nil) {
		armedInjectors.Add(-1)
	}
}

// hit decides whether the armed injector faults this call.
func (in *Injector) hit(ctx context.Context, a *arming, r *Request) bool {
	now := time.Now()
	if now.Before(a.start) || !now.Before(a.end) {
		return false // past its end the drill injects nothing, whatever else happens
	}
	c := in.b.Component()
	if !a.scope.matches(&c, r) {
		return false
	}
	pct := a.dose.at(now.Sub(a.start))
	if pct < 10000 && sample(ctx, a, r) >= pct {
		return false
	}
	in.hits.Add(1)
	a.run.injected(in, now)
	return true
}

// sample returns a number from 0 to 9999 for the call: from the trace ID,
// so a request is hit or spared consistently in every service it crosses,
// else from a counter.
func sample(ctx context.Context, a *arming, r *Request) uint64 {
	var x uint64
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		id := sc.TraceID()
		x = binary.BigEndian.Uint64(id[8:])
	} else if id, ok := traceIDOf(r); ok {
		x = binary.BigEndian.Uint64(id[8:])
	} else {
		x = a.calls.Add(1) * 0x9e3779b97f4a7c15
	}
	return mix(x^a.seed) % 10000
}

// traceIDOf parses the trace ID of a W3C traceparent
// ("00-<32 hex>-<16 hex>-<2 hex>").
func traceIDOf(r *Request) ([16]byte, bool) {
	var id [16]byte
	if r == nil || len(r.TraceParent) < 55 || r.TraceParent[2] != '-' {
		return id, false
	}
	if _, err := hex.Decode(id[:], []byte(r.TraceParent[3:35])); err != nil || id == [16]byte{} {
		return id, false
	}
	return id, true
}

// mix is SplitMix64's finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func seedOf(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// faultErr returns the error an injected fault fails a call with.
func (in *Injector) faultErr(a *arming) error {
	return &InjectedError{Drill: a.run.id, Injector: in.name, Status: in.fault.status, Err: in.fault.err}
}

// wait holds the call for a latency or blackhole fault. It returns the
// context's error if the context ended first.
func (in *Injector) wait(ctx context.Context) error {
	if in.fault.kind == faultBlackhole {
		<-ctx.Done()
		return ctx.Err()
	}
	t := time.NewTimer(in.fault.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// behave runs a behavior fault's function, turning a panic into an error.
func (in *Injector) behave(ctx context.Context, a *arming) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &InjectedError{Drill: a.run.id, Injector: in.name, Err: fmt.Errorf("behavior panicked: %v", r)}
		}
	}()
	if e := in.fault.hook(ctx); e != nil {
		return &InjectedError{Drill: a.run.id, Injector: in.name, Err: e}
	}
	return nil
}

// Policy is an injector in a pipeline of calls returning T.
type Policy[T any] struct{ in *Injector }

var _ firebreak.Policy[int] = (*Policy[int])(nil)

// NewPolicy returns in as a pipeline policy.
func NewPolicy[T any](in *Injector) (*Policy[T], error) {
	if in == nil {
		return nil, errors.New("drill: NewPolicy: the injector is nil")
	}
	return &Policy[T]{in: in}, nil
}

// Injector returns the policy's injector.
func (p *Policy[T]) Injector() *Injector { return p.in }

// Bind binds the injector.
func (p *Policy[T]) Bind(c firebreak.Component) error { return p.in.Bind(c) }

// Stage returns [StageInject].
func (p *Policy[T]) Stage() firebreak.Stage { return StageInject }

// Apply makes the call, or, when a drill arms the injector and the call is
// in its scope and dose, injects the fault.
func (p *Policy[T]) Apply(ctx context.Context, next firebreak.Next[T]) (T, error) {
	a := p.in.armed.Load()
	if a == nil {
		return next.Call(ctx)
	}
	return p.armed(ctx, a, next)
}

func (p *Policy[T]) armed(ctx context.Context, a *arming, next firebreak.Next[T]) (T, error) {
	var zero T
	in := p.in
	if !in.hit(ctx, a, requestFrom(ctx)) {
		return next.Call(ctx)
	}
	switch in.fault.kind {
	case faultError, faultStatus:
		return zero, in.faultErr(a)
	case faultLatency, faultBlackhole:
		if err := in.wait(ctx); err != nil {
			return zero, err
		}
	case faultBehavior:
		if err := in.behave(ctx, a); err != nil {
			return zero, err
		}
	}
	return next.Call(ctx)
}
