package breaker

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/sony/gobreaker/v2"
)

// eventKind says why the state changed.
type eventKind uint8

const (
	evTripped     eventKind = iota // closed → open by the trip rules
	evTrialFailed                  // half-open → open: a trial call failed
	evTimeout                      // open → half-open: the open timeout passed
	evRecovered                    // half-open → closed: the trial calls succeeded
	evForced                       // → forced open by ForceOpen
	evReleased                     // forced open → closed by Release
	evSet                          // → closed or open by SetState
	evRebind                       // not a state change: Bind changed the metric attributes
	evEvicted                      // not a state change: evicted from its Group
)

// event is a state change waiting to be reported.
type event struct {
	kind     eventKind
	from, to State
	at       time.Time
	counts   gobreaker.Counts // evTripped: the counts that tripped it
	reason   string           // evForced, evReleased, evSet
	oldID    *identity        // evRebind
}

// pushLocked queues a change to state e.to, dropping it if the breaker is
// already there, so exactly one signal is reported per change. b.mu is held.
func (b *Breaker[T]) pushLocked(e event) {
	if b.retired || e.to == b.last {
		return
	}
	e.from, b.last = b.last, e.to
	e.at = time.Now()
	b.pending = append(b.pending, e)
	b.npending.Add(1)
}

// flush reports queued events, oldest first, outside every lock. One
// goroutine reports at a time, which keeps the order; a goroutine that finds
// another reporting leaves its events to it. A Reporter that calls back into
// the breaker therefore neither deadlocks nor reorders: the events its calls
// cause are reported by the flush already running, after it returns.
func (b *Breaker[T]) flush() {
	for b.npending.Load() != 0 {
		if !b.draining.CompareAndSwap(false, true) {
			return
		}
		b.drain()
	}
}

func (b *Breaker[T]) drain() {
	defer b.draining.Store(false)
	for {
		b.mu.Lock()
		evs := b.pending
		b.pending = nil
		b.npending.Store(0)
		b.mu.Unlock()
		if len(evs) == 0 {
			return
		}
		for _, e := range evs {
			b.report(e)
		}
	}
}

// label is one label of a breaker's signals.
type label struct{ key, value string }

// report records one event in the metrics and sends its signal.
func (b *Breaker[T]) report(e event) {
	id := b.id.Load()
	switch e.kind {
	case evRebind:
		b.inst.leaveState(e.oldID, e.from)
		b.inst.enterState(id, e.to)
		return
	case evEvicted:
		b.inst.leaveState(id, e.from)
		if e.from == StateClosed {
			return
		}
	default:
		b.inst.countTransition(id, e.from, e.to)
		b.inst.moveState(id, e.from, e.to)
	}
	s := id.component.Signal(firebreak.KindBreakerOpen, e.to != StateClosed)
	s.Fallback = b.fallback.Load()
	s.Time = e.at
	s.Summary = b.summary(id.name, e)
	s.Metrics = map[string]float64{"state": float64(e.to)}
	if id.label.key != "" {
		s.Labels = map[string]string{id.label.key: id.label.value}
	}
	if e.kind == evTripped {
		n := e.counts.TotalSuccesses + e.counts.TotalFailures
		if n > 0 {
			s.Value = float64(e.counts.TotalFailures) / float64(n)
		}
		s.Metrics["failure_ratio"] = s.Value
		s.Metrics["failures"] = float64(e.counts.TotalFailures)
		s.Metrics["calls"] = float64(n)
		s.Metrics["consecutive_failures"] = float64(e.counts.ConsecutiveFailures)
	}
	reportSafely(id.component, s)
}

// reporterPanics counts the Reporter panics recovered by reportSafely, in
// every breaker of the process: the first is logged.
var reporterPanics atomic.Uint64

// reportSafely hands s to c's Reporter. A Reporter that panics does not
// throw the panic out of the call that happened to report the change (whose
// own result is then lost) nor lose the changes queued behind it: the panic
// is recovered and logged with its stack the first time.
func reportSafely(c *firebreak.Component, s firebreak.Signal) {
	defer func() {
		if r := recover(); r != nil {
			if reporterPanics.Add(1) == 1 {
				slog.Error("breaker: the Reporter panicked; later panics are only counted",
					"component", s.Component, "dependency", s.Dependency, "kind", string(s.Kind),
					"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			}
		}
	}()
	c.Report(s)
}

func (b *Breaker[T]) summary(name string, e event) string {
	switch e.kind {
	case evTripped:
		n := e.counts.TotalSuccesses + e.counts.TotalFailures
		return fmt.Sprintf("breaker %q opened: %d of %d calls failed (%d in a row) in the last %v; calls fail fast for %v",
			name, e.counts.TotalFailures, n, e.counts.ConsecutiveFailures, b.cfg.window, b.cfg.openTimeout)
	case evTrialFailed:
		return fmt.Sprintf("breaker %q opened again: a trial call failed; calls fail fast for %v", name, b.cfg.openTimeout)
	case evTimeout:
		return fmt.Sprintf("breaker %q half-open: letting %d trial call(s) through", name, b.cfg.halfOpenCalls)
	case evRecovered:
		return fmt.Sprintf("breaker %q closed: %d trial call(s) succeeded", name, b.cfg.halfOpenCalls)
	case evForced:
		return fmt.Sprintf("breaker %q forced open: %s", name, e.reason)
	case evReleased:
		return fmt.Sprintf("breaker %q released: %s", name, e.reason)
	case evSet:
		return fmt.Sprintf("breaker %q %s: %s", name, e.to, e.reason)
	case evEvicted:
		return fmt.Sprintf("breaker %q evicted from its group while %s; no longer tracked", name, e.from)
	}
	return fmt.Sprintf("breaker %q %s", name, e.to)
}
