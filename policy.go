package firebreak

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Component identifies what a policy protects: the calling component, the
// dependency it calls, how critical it is, and where its signals go. A
// [Pipeline] hands one Component to each of its policies, so no policy is
// configured twice.
type Component struct {
	// Name of the calling component, e.g. "checkout-api". Required.
	Name string
	// Dependency called through the policy, e.g. "payments-db".
	Dependency string
	// Tier is how critical the component is.
	Tier Tier
	// Reporter receives the policies' signals; nil means [Discard].
	Reporter Reporter
	// Fallback says that a fallback serves in place of the dependency's
	// results when calls fail, so a fault is graded lower. NewPipeline sets
	// it for the policies inside a fallback-stage policy.
	Fallback bool
}

// Validate reports a missing name or an invalid tier.
func (c Component) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("firebreak: Component.Name is required"))
	}
	if !c.Tier.Valid() {
		errs = append(errs, fmt.Errorf("firebreak: Component.Tier %d is not core, standard or auxiliary", int8(c.Tier)))
	}
	return errors.Join(errs...)
}

// Signal returns a signal of the given kind carrying the component's identity
// and whether a fallback serves for it.
func (c Component) Signal(kind Kind, firing bool) Signal {
	return Signal{Kind: kind, Component: c.Name, Dependency: c.Dependency, Tier: c.Tier, Firing: firing, Fallback: c.Fallback}
}

// Report sends s to the component's Reporter, if any.
func (c Component) Report(s Signal) {
	if c.Reporter != nil {
		c.Reporter.Report(s)
	}
}

// Func is a call to a dependency.
type Func[T any] func(ctx context.Context) (T, error)

// Next is the rest of a pipeline as seen from one policy: the policies inside
// it and, innermost, the call itself. A policy calls [Next.Call] zero or more
// times (a retry calls it again, an open breaker not at all). Next is a small
// value; passing and calling it does not allocate.
type Next[T any] struct {
	// The rest of the pipeline is (*chain)[at>>1:], and at&1 says that now
	// was given by At for the next policy. Four fields of one word each
	// let the compiler keep a Next in registers: a bigger struct is copied
	// through memory at every layer, which stalls on store forwarding
	// (about 15 ns a layer).
	chain *[]Policy[T]
	fn    Func[T]
	now   int64 // a clock reading for (*chain)[at>>1], passed with At; 0 if none
	at    uint
}

// Call runs the rest of the pipeline. The clock reading given with
// [Next.At], if any, goes to the next policy only.
func (n Next[T]) Call(ctx context.Context) (T, error) {
	i := n.at >> 1
	if n.chain == nil || i >= uint(len(*n.chain)) {
		return n.fn(ctx)
	}
	inner := Next[T]{chain: n.chain, fn: n.fn, at: (i + 1) << 1}
	if n.at&1 != 0 {
		inner.now = n.now
	}
	return (*n.chain)[i].Apply(ctx, inner)
}

// Now returns the [Nanotime] reading an outer policy took for this call
// and passed with [Next.At], or a fresh reading if none was passed. One
// reading then serves every policy of a call that needs the time (the
// observer's start, the retry budget, the breaker's window).
func (n Next[T]) Now() int64 {
	if n.now != 0 {
		return n.now
	}
	return Nanotime()
}

// At returns n carrying the [Nanotime] reading now for the next policy,
// which gets it from its own Next's [Next.Now]. Pass only a reading of this
// moment: a policy that waits before calling next (a backoff, a queue, a
// hedging delay) calls next without At, and the policies inside read the
// clock themselves. A policy that does not call At passes no reading on.
func (n Next[T]) At(now int64) Next[T] {
	n.now, n.at = now, n.at|1
	return n
}

// Pass returns n passing on to the next policy the reading this policy was
// given, if any, without reading the clock: for a policy that needs no time
// itself and calls next at once (a fallback).
func (n Next[T]) Pass() Next[T] {
	if n.now != 0 {
		n.at |= 1
	} else {
		n.at &^= 1
	}
	return n
}

// Call wraps a plain function as the Next of a policy used on its own.
func Call[T any](fn Func[T]) Next[T] { return Next[T]{fn: fn} }

// Policy is the contract every firebreak policy meets: breakers, retries,
// fallbacks, tracing, load shedding. Apply runs next under the policy.
// Implementations must be safe for concurrent use.
type Policy[T any] interface {
	Apply(ctx context.Context, next Next[T]) (T, error)
}

// A Binder is a policy that takes its identity from the pipeline it joins.
// [NewPipeline] calls Bind once, before the first call.
type Binder interface {
	Bind(Component) error
}

// Stage places a policy in the default order of a pipeline. Smaller stages are
// outermost.
type Stage int

// The default order, outermost first: tracing sees every call as the caller
// does; fallback catches what retries could not mend; retry tries again
// around the breaker so a retry never hammers an open breaker's dependency;
// the breaker counts what shedding and timeouts let through.
const (
	StageObserve  Stage = 100
	StageFallback Stage = 200
	StageRetry    Stage = 300
	StageBreaker  Stage = 400
	StageShed     Stage = 500
	StageTimeout  Stage = 600
	// StageCustom is where a policy without a Stage method goes: innermost,
	// next to the call.
	StageCustom Stage = 700
)

// A Staged policy says where it belongs in the default order.
type Staged interface {
	Stage() Stage
}

// Pipeline wraps calls to one dependency in a chain of policies. Build it once
// and share it; it is safe for concurrent use and adds no allocation per call.
type Pipeline[T any] struct {
	component Component
	chain     []Policy[T]
}

// PipelineOption configures a pipeline.
type PipelineOption interface{ applyPipeline(*pipelineConfig) }

type pipelineConfig struct{ givenOrder bool }

type pipelineOptionFunc func(*pipelineConfig)

func (f pipelineOptionFunc) applyPipeline(c *pipelineConfig) { f(c) }

// InGivenOrder keeps the policies in the order given to NewPipeline, outermost
// first, instead of the default order by [Stage].
func InGivenOrder() PipelineOption {
	return pipelineOptionFunc(func(c *pipelineConfig) { c.givenOrder = true })
}

// NewPipeline builds a pipeline for component c. Unless [InGivenOrder] is
// passed, policies are sorted into the default order by their [Stage]
// (observe → fallback → retry → breaker → shed → timeout → custom → call);
// policies of the same stage keep their given order. Each [Binder] is bound to
// c, with Component.Fallback set for the policies that run inside a policy of
// [StageFallback]. It returns an error if c is invalid, a policy is nil, or a policy refuses
// the binding.
func NewPipeline[T any](c Component, policies []Policy[T], opts ...PipelineOption) (*Pipeline[T], error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Reporter == nil {
		c.Reporter = Discard
	}
	var cfg pipelineConfig
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("firebreak: NewPipeline: option %d is nil", i)
		}
		o.applyPipeline(&cfg)
	}
	chain := slices.Clone(policies)
	for i, p := range chain {
		if p == nil {
			return nil, fmt.Errorf("firebreak: pipeline %q: policy %d is nil", c.Name, i)
		}
	}
	if !cfg.givenOrder {
		slices.SortStableFunc(chain, func(a, b Policy[T]) int { return int(stageOf(a) - stageOf(b)) })
	}
	bound := c
	for _, p := range chain {
		if b, ok := p.(Binder); ok {
			if err := b.Bind(bound); err != nil {
				return nil, fmt.Errorf("firebreak: pipeline %q: %w", c.Name, err)
			}
		}
		if stageOf(p) == StageFallback {
			bound.Fallback = true // every policy inside this one has a fallback outside it
		}
	}
	return &Pipeline[T]{component: c, chain: chain}, nil
}

func stageOf(p any) Stage {
	if s, ok := p.(Staged); ok {
		return s.Stage()
	}
	return StageCustom
}

// Component returns the identity the pipeline hands its policies.
func (p *Pipeline[T]) Component() Component { return p.component }

// Policies returns the policies in the order they run, outermost first.
func (p *Pipeline[T]) Policies() []Policy[T] { return slices.Clone(p.chain) }

// Execute runs fn through the pipeline's policies.
func (p *Pipeline[T]) Execute(ctx context.Context, fn Func[T]) (T, error) {
	return Next[T]{chain: &p.chain, fn: fn}.Call(ctx)
}

// Apply lets a pipeline be a policy inside another pipeline. Unlike
// Execute, a nested pipeline costs one allocation per call (the rest of the
// outer pipeline is captured as a function).
func (p *Pipeline[T]) Apply(ctx context.Context, next Next[T]) (T, error) {
	return Next[T]{chain: &p.chain, fn: next.Call}.Call(ctx)
}
