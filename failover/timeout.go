package failover

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover/internal/event"
)

// Timeout bounds how long the rest of a pipeline may take: it runs it under a
// context whose deadline is the timeout's duration away (or the caller's
// deadline, if that is sooner). When its own deadline ends a failed call, the
// call's error becomes a [*TimeoutError], a failure of the dependency that the
// breaker outside it counts and a retry outside it may repeat; it is not a
// rejection. When the caller's context ended first, the caller's error is
// returned as it is. A call that succeeds returns its result, even a late one.
//
// A call must honour its context for the timeout to end it: by default the
// timeout waits for the call to return, so a call that ignores its context
// holds the caller as long as it runs (and then, if it failed, still gets a
// TimeoutError). [WithAbandon] returns at the deadline instead, leaving the
// call to finish on its own goroutine.
//
// Build one with [NewTimeout]; it is safe for concurrent use. Each call costs
// the context and timer of [context.WithTimeout] (three allocations); with
// WithAbandon, also a goroutine and a channel. A pipeline binds it; used on
// its own, bind it with [Timeout.Bind] or its events carry no identity.
type Timeout[T any] struct {
	b firebreak.Binding
	m event.Meter

	d       time.Duration
	abandon bool
}

var (
	_ firebreak.Policy[int] = (*Timeout[int])(nil)
	_ firebreak.Binder      = (*Timeout[int])(nil)
	_ firebreak.Staged      = (*Timeout[int])(nil)
)

// NewTimeout returns a timeout policy of d, which must be positive and finite
// (math.MaxInt64, often used for "no limit", is refused: leave the policy
// out instead). By default it waits for a call that ignores its context; see
// [WithAbandon].
func NewTimeout[T any](d time.Duration, opts ...TimeoutOption) (*Timeout[T], error) {
	var c timeoutConfig
	if err := apply("NewTimeout", opts, func(o TimeoutOption) { o.applyTimeout(&c) }); err != nil {
		return nil, err
	}
	if d <= 0 || d == math.MaxInt64 {
		return nil, fmt.Errorf("failover: NewTimeout: d %v must be positive and finite", d)
	}
	m, err := event.NewMeter(scope, "timeout", c.meterProvider)
	if err != nil {
		return nil, fmt.Errorf("failover: NewTimeout: %w", err)
	}
	return &Timeout[T]{m: m, d: d, abandon: c.abandon}, nil
}

// Bind implements [firebreak.Binder]: the first Bind fixes the identity the
// timeout reports under; binding again to the same one does nothing, to
// another is an [*firebreak.AlreadyBoundError].
func (p *Timeout[T]) Bind(c firebreak.Component) error {
	_, err := p.b.Bind("failover: timeout", c)
	return err
}

// Stage implements [firebreak.Staged]: [firebreak.StageTimeout], inside the
// breaker and the shedder, so the breaker counts what timed out.
func (p *Timeout[T]) Stage() firebreak.Stage { return firebreak.StageTimeout }

// Execute runs fn under the policy, for use without a pipeline.
func (p *Timeout[T]) Execute(ctx context.Context, fn firebreak.Func[T]) (T, error) {
	return p.Apply(ctx, firebreak.Call(fn))
}

// Apply implements [firebreak.Policy].
func (p *Timeout[T]) Apply(ctx context.Context, next firebreak.Next[T]) (T, error) {
	tctx, cancel := context.WithTimeout(ctx, p.d)
	defer cancel()
	if p.abandon {
		return p.race(ctx, tctx, next)
	}
	v, err := next.Call(tctx)
	if err != nil {
		err = p.classify(ctx, tctx, err)
	}
	return v, err
}

// classify turns the error of a call that ran past the timeout's own
// deadline into a TimeoutError; the caller's own end wins.
func (p *Timeout[T]) classify(ctx, tctx context.Context, err error) error {
	if ctx.Err() != nil || tctx.Err() == nil {
		return err
	}
	p.m.Add(&p.b, "timed_out")
	return &TimeoutError{Timeout: p.d, Err: err}
}

// call is one abandonable call: its outcome and who finished first.
type call[T any] struct {
	done     chan struct{} // closed when the outcome is set
	state    atomic.Int32  // callRunning, then callFinished or callAbandoned
	v        T
	err      error
	panicked bool
	panicVal any
}

const (
	callRunning int32 = iota
	callFinished
	callAbandoned
)

// race runs the call on its own goroutine and returns at the first of its
// result and the deadline. A panic of the call is re-raised on the caller's
// goroutine if the caller still waits, and recovered and counted as
// abandoned_panic if not: it never kills the process from a goroutine nobody
// waits for.
func (p *Timeout[T]) race(ctx, tctx context.Context, next firebreak.Next[T]) (T, error) {
	c := &call[T]{done: make(chan struct{})}
	go func() {
		defer func() {
			if r := recover(); r != nil {
				c.panicked, c.panicVal = true, r
			}
			close(c.done)
			if c.state.Swap(callFinished) == callAbandoned && c.panicked {
				p.m.Add(&p.b, "abandoned_panic")
			}
		}()
		c.v, c.err = next.Call(tctx)
	}()
	select {
	case <-c.done:
	case <-tctx.Done():
		if c.state.CompareAndSwap(callRunning, callAbandoned) {
			var zero T
			if err := ctx.Err(); err != nil {
				return zero, err
			}
			p.m.Add(&p.b, "abandoned")
			return zero, p.classify(ctx, tctx, context.DeadlineExceeded)
		}
		<-c.done // it finished at the same moment: take its answer
	}
	if c.panicked {
		panic(c.panicVal)
	}
	if c.err != nil {
		return c.v, p.classify(ctx, tctx, c.err)
	}
	return c.v, nil
}
