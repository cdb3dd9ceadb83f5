package failover

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
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
// WithAbandon, also a goroutine and a channel.
type Timeout[T any] struct {
	b binding
	m meter

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
	for _, o := range opts {
		if o != nil {
			o.applyTimeout(&c)
		}
	}
	if d <= 0 || d == math.MaxInt64 {
		return nil, fmt.Errorf("failover: NewTimeout: d %v must be positive and finite", d)
	}
	m, err := newMeter("timeout", c.meterProvider)
	if err != nil {
		return nil, err
	}
	t := &Timeout[T]{m: m, d: d, abandon: c.abandon}
	t.b.init(c.component)
	return t, nil
}

// Bind implements [firebreak.Binder].
func (p *Timeout[T]) Bind(c firebreak.Component) error { return p.b.bind("timeout", c) }

// Stage implements [firebreak.Staged]: [firebreak.StageTimeout], inside the
// breaker and the shedder, so the breaker counts what timed out.
func (p *Timeout[T]) Stage() firebreak.Stage { return firebreak.StageTimeout }

// Duration returns the timeout.
func (p *Timeout[T]) Duration() time.Duration { return p.d }

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
	p.m.add(&p.b, "timed_out")
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
				p.m.add(&p.b, "abandoned_panic")
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
			p.m.add(&p.b, "abandoned")
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

// ErrTimeout matches every [TimeoutError].
var ErrTimeout = errors.New("failover: call timed out")

// TimeoutError is the failure of a call that a [Timeout] ended: its deadline
// passed before the call returned. It matches [ErrTimeout] and wraps the
// call's own error (often [context.DeadlineExceeded]). It is a dependency
// failure, not a [firebreak.Rejecter]: a breaker counts it.
type TimeoutError struct {
	Timeout time.Duration // the policy's duration
	Err     error         // the call's error; context.DeadlineExceeded for an abandoned call
}

// Error implements error.
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("failover: call timed out after %v: %v", e.Timeout, e.Err)
}

// Is reports whether target is [ErrTimeout].
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// Unwrap returns the call's error.
func (e *TimeoutError) Unwrap() error { return e.Err }

// ErrorType returns "timeout", the error.type tracing records.
func (e *TimeoutError) ErrorType() string { return "timeout" }
