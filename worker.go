package firebreak

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// worker is one background goroutine under the lifecycle every firebreak
// type follows (CONTRIBUTING.md): Start once, Close idempotent and within its
// context, Close without Start fine, Start after Close an error wrapping
// [ErrClosed]. A type embeds it and its goroutine watches done and closes
// loopDone when it returns.
type worker struct {
	done      chan struct{} // closed by Close: the goroutine's signal to stop
	loopDone  chan struct{} // closed by the goroutine when it returns
	startOnce sync.Once
	closeOnce sync.Once
	started   atomic.Bool
	closed    atomic.Bool
}

func newWorker() worker {
	return worker{done: make(chan struct{}), loopDone: make(chan struct{})}
}

// startWorker runs first (if not nil) and then go run, once; name is the
// type's, for errors ("StatusPage").
func (w *worker) startWorker(ctx context.Context, name string, first, run func()) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("firebreak: %s.Start: %w", name, err)
	}
	w.startOnce.Do(func() {
		if w.closed.Load() {
			return
		}
		if first != nil {
			first()
		}
		w.started.Store(true)
		go run()
	})
	if w.closed.Load() {
		return fmt.Errorf("firebreak: %s.Start: %w", name, ErrClosed)
	}
	return nil
}

// closeWorker stops the goroutine and waits for it within ctx; what names
// it in the error when ctx ends first ("the renderer").
func (w *worker) closeWorker(ctx context.Context, name, what string) error {
	w.closeOnce.Do(func() {
		w.closed.Store(true)
		w.startOnce.Do(func() {}) // a later Start starts nothing
		close(w.done)
	})
	if !w.started.Load() {
		return nil
	}
	select {
	case <-w.loopDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("firebreak: %s.Close: %s has not stopped: %w", name, what, ctx.Err())
	}
}
