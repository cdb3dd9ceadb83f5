package drill

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinels. Match them with errors.Is.
var (
	// ErrNoEnd: a drill was described without an end. A drill that cannot
	// end cannot be created.
	ErrNoEnd = errors.New("drill: a drill needs an end")
	// ErrUnknownScope: the drill's scope names a component or dependency no
	// injector of the drill is bound to, so it would inject nothing there.
	ErrUnknownScope = errors.New("drill: scope names what no injector covers")
	// ErrRunning: a drill of that ID is pending or running on the
	// [Manager], or one of the drill's injectors is armed by another
	// drill, so this one cannot start.
	ErrRunning = errors.New("drill: already running")
	// ErrNotRunning: the drill is not running (abort after the end).
	ErrNotRunning = errors.New("drill: not running")
	// ErrNotFound: no drill of that ID is known to the [Manager].
	ErrNotFound = errors.New("drill: not found")
)

// ErrorTypeInjected is what tracing records as the error type of an
// injected fault whose error names no type of its own.
const ErrorTypeInjected = "drill_injected"

// InjectedError is the error of a call an injector faulted. It unwraps to
// the fault's error, so every policy outside the injector treats it as the
// real failure it stands for (a breaker counts it, a retry retries it). It is
// not a [firebreak.Rejecter]: it is a fault, not a local refusal.
type InjectedError struct {
	Drill    string // the drill's ID
	Injector string // the injector's name
	Status   int    // the HTTP status of a [HTTPStatus] fault; 0 otherwise
	Err      error  // the fault's error; nil for a Status fault
}

func (e *InjectedError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("drill %q: injector %q: injected HTTP %d %s", e.Drill, e.Injector, e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("drill %q: injector %q: injected fault: %v", e.Drill, e.Injector, e.Err)
}

// Unwrap returns the fault's error.
func (e *InjectedError) Unwrap() error { return e.Err }

// ErrorType returns the fault error's own type, if it names one, else
// [ErrorTypeInjected].
func (e *InjectedError) ErrorType() string {
	var t interface{ ErrorType() string }
	if e.Err != nil && errors.As(e.Err, &t) {
		return t.ErrorType()
	}
	return ErrorTypeInjected
}
