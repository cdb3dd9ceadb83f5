// Package healthtest provides a health check that tests can steer: told to
// pass, fail, warn or hang, it counts its runs, so code built on
// [health.Registry] can be tested without a real dependency.
//
//	c := healthtest.NewCheck()
//	reg.Register("db", c)
//	c.Fail(errors.New("connection refused")) // /readyz now fails at the next run
package healthtest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/firebreak-go/firebreak/health"
)

// ErrFailing is what a Check told to fail returns when given no error.
var ErrFailing = errors.New("healthtest: check told to fail")

// Check is a [health.Checker] whose outcome the test sets. The zero value is
// not usable; create one with [NewCheck]. It is safe for concurrent use.
type Check struct {
	mu        sync.Mutex // guards the fields below
	err       error
	gate      chan struct{}
	ignoreCtx bool
	observed  bool
	value     float64
	unit      string

	calls   atomic.Int64
	active  atomic.Int64
	maxSeen atomic.Int64
}

var _ health.Checker = (*Check)(nil)

// NewCheck returns a check that passes.
func NewCheck() *Check { return &Check{} }

// Pass makes the following runs pass.
func (c *Check) Pass() { c.set(nil) }

// Fail makes the following runs fail with err, or [ErrFailing] if err is nil.
func (c *Check) Fail(err error) {
	if err == nil {
		err = ErrFailing
	}
	c.set(err)
}

// Warn makes the following runs pass degraded, with err as the warning.
func (c *Check) Warn(err error) {
	if err == nil {
		err = ErrFailing
	}
	c.set(health.Warn(err))
}

func (c *Check) set(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

// Hang makes the following runs block until [Check.Release]. If ignoreCtx
// is true they also ignore their context, like a driver call without a
// deadline; otherwise they return the context's error when it ends.
func (c *Check) Hang(ignoreCtx bool) {
	c.mu.Lock()
	if c.gate == nil {
		c.gate = make(chan struct{})
	}
	c.ignoreCtx = ignoreCtx
	c.mu.Unlock()
}

// Release unblocks the runs hanging since [Check.Hang]; later runs do not
// hang.
func (c *Check) Release() {
	c.mu.Lock()
	if c.gate != nil {
		close(c.gate)
		c.gate = nil
	}
	c.mu.Unlock()
}

// SetObserved makes the following runs observe value in unit (see
// [health.Observe]).
func (c *Check) SetObserved(value float64, unit string) {
	c.mu.Lock()
	c.observed, c.value, c.unit = true, value, unit
	c.mu.Unlock()
}

// Check implements [health.Checker].
func (c *Check) Check(ctx context.Context) error {
	c.calls.Add(1)
	n := c.active.Add(1)
	defer c.active.Add(-1)
	for {
		m := c.maxSeen.Load()
		if n <= m || c.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	c.mu.Lock()
	err, gate, ignoreCtx := c.err, c.gate, c.ignoreCtx
	observed, value, unit := c.observed, c.value, c.unit
	c.mu.Unlock()
	if observed {
		health.Observe(ctx, value, unit)
	}
	if gate != nil {
		if ignoreCtx {
			<-gate
		} else {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return err
}

// Calls returns how many runs have started.
func (c *Check) Calls() int64 { return c.calls.Load() }

// Running returns how many runs are in progress now.
func (c *Check) Running() int64 { return c.active.Load() }

// MaxConcurrent returns the most runs ever in progress at once.
func (c *Check) MaxConcurrent() int64 { return c.maxSeen.Load() }
