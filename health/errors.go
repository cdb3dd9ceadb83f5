package health

import (
	"errors"
	"fmt"

	"github.com/firebreak-go/firebreak"
)

// Errors a run of a check, or the registry, returns. Match them with
// [errors.Is].
var (
	// ErrTimeout: a run did not return within the check's timeout. The run
	// is abandoned: its result, if it ever comes, is discarded.
	ErrTimeout = errors.New("health: check timed out")
	// ErrStillRunning: a scheduled run was skipped because an abandoned run
	// of the same check has not returned yet. At most one run per check is
	// ever outstanding, so a check that ignores its context cannot pile up
	// goroutines. A skipped run counts as a failure.
	ErrStillRunning = errors.New("health: previous run has not returned")
	// ErrWarning marks an error as a warning; see [Warn].
	ErrWarning = errors.New("health: warning")
	// ErrPanic: the check panicked. The panic is recovered and the run
	// fails with a [*PanicError], which matches ErrPanic.
	ErrPanic = errors.New("health: check panicked")
	// ErrCloseInCallback: Close was called from one of the registry's own
	// goroutines — inside a check, the Reporter or the logger. The registry
	// stops, but the call returns without waiting, since the goroutines it
	// would wait for include its caller.
	ErrCloseInCallback = errors.New("health: Close called from inside a check, Reporter or logger; stopping without waiting")
	// ErrNotStarted: the registry serves probes but [Registry.Start] was
	// never called, so no check has run. /readyz, /startupz and /health
	// answer 503 with this text, and the registry logs it once.
	ErrNotStarted = errors.New("health: registry not started; call Registry.Start")
)

// errClosed is what Start, Register and Inspect return after Close. It
// matches [firebreak.ErrClosed].
var errClosed error = closedError{}

type closedError struct{}

func (closedError) Error() string { return "health: registry is closed" }
func (closedError) Unwrap() error { return firebreak.ErrClosed }

// Warn marks err as a warning: the check still passes (it counts as a
// success for the thresholds) but its status is [StatusDegraded]. errors.Is
// (Warn(err), ErrWarning) is true. Warn(nil) is nil.
func Warn(err error) error {
	if err == nil {
		return nil
	}
	return &warning{err}
}

type warning struct{ err error }

func (w *warning) Error() string        { return w.err.Error() }
func (w *warning) Unwrap() error        { return w.err }
func (w *warning) Is(target error) bool { return target == ErrWarning }

// PanicError is the error of a run whose check panicked (or whose error's
// Error method panicked). Its text is short and stable — `health: check "db"
// panicked: <value>`, on one line — so a check that panics every interval is
// logged once, not once per run; the stack is kept apart, in Stack, and is
// logged once per distinct panic value until the check passes again.
// errors.Is(err, ErrPanic) is true. It does not unwrap to the panic value: a
// panic always fails the run, even when the value is an error marked with
// [Warn] or a context error.
type PanicError struct {
	// Check is the name of the check that panicked.
	Check string
	// Value is what was passed to panic.
	Value any
	// Stack is the panicking goroutine's stack, as [debug.Stack] returns it.
	Stack []byte
	text  string
}

func newPanicError(check string, value any, stack []byte) *PanicError {
	return &PanicError{Check: check, Value: value, Stack: stack,
		text: fmt.Sprintf("health: check %q panicked: %s", check, panicText(value))}
}

// Error returns `health: check "<name>" panicked: <value>`, without the stack.
func (e *PanicError) Error() string { return e.text }

// Is reports whether target is [ErrPanic].
func (e *PanicError) Is(target error) bool { return target == ErrPanic }

// queryError is a malformed probe query; the handler answers 400 with its
// message.
type queryError struct {
	Param  string // the offending parameter, if known
	Reason string
}

func (e *queryError) Error() string {
	if e.Param == "" {
		return "health: bad query: " + e.Reason
	}
	return fmt.Sprintf("health: bad query parameter %q: %s", e.Param, e.Reason)
}
