package breaker

import (
	"errors"
	"strconv"

	"github.com/firebreak-go/firebreak"
)

// ErrorTypeCircuitOpen is the error.type that tracing records for a call a
// breaker rejected: the value [OpenError.ErrorType] returns.
const ErrorTypeCircuitOpen = "circuit_open"

// ErrOpen is matched, with [errors.Is], by every error a breaker returns when
// it rejects a call without running it: open, forced open, or half-open with
// all its trial calls in flight. The error is an [*OpenError], which also
// matches gobreaker's own [github.com/sony/gobreaker/v2.ErrOpenState] or
// [github.com/sony/gobreaker/v2.ErrTooManyRequests].
var ErrOpen = errors.New("breaker: circuit open")

// OpenError is the error of a call a breaker rejected. It matches [ErrOpen],
// unwraps to gobreaker's sentinel for the same condition, and is a
// [firebreak.Rejecter] reporting [firebreak.RejectIsolated].
type OpenError struct {
	// Name is the breaker's name; empty for a breaker that was neither
	// named ([WithName]) nor bound ([Breaker.Bind]).
	Name string
	// State is StateOpen, StateForcedOpen, or StateHalfOpen when the
	// half-open breaker's trial calls were all taken.
	State State
	// Reason is why the breaker was forced open; empty otherwise.
	Reason string

	cause error
}

var _ firebreak.Rejecter = (*OpenError)(nil)

// Error describes the rejection in one sentence:
//
//	breaker "payments": circuit open
//	breaker "payments": circuit half-open, every trial call in flight
//	breaker "ledger": forced open: INC-7: ledger writes corrupt balances
func (e *OpenError) Error() string {
	s := policyName(e.Name) + ": "
	switch e.State {
	case StateHalfOpen:
		return s + "circuit half-open, every trial call in flight"
	case StateForcedOpen:
		return s + "forced open: " + e.Reason
	}
	return s + "circuit open"
}

// Is reports whether target is [ErrOpen].
func (e *OpenError) Is(target error) bool { return target == ErrOpen }

// ErrorType returns [ErrorTypeCircuitOpen], the error.type that tracing
// records for a rejected call.
func (e *OpenError) ErrorType() string { return ErrorTypeCircuitOpen }

// Rejection returns [firebreak.RejectIsolated]: a rejected call never
// reached the dependency, so no other breaker counts it and no retry
// repeats it.
func (e *OpenError) Rejection() firebreak.Rejection { return firebreak.RejectIsolated }

// Unwrap returns gobreaker's sentinel: [github.com/sony/gobreaker/v2.ErrTooManyRequests] for a
// half-open rejection, [github.com/sony/gobreaker/v2.ErrOpenState] otherwise.
func (e *OpenError) Unwrap() error { return e.cause }

// policyName is how errors name a breaker: `breaker "payments"`, or just
// `breaker` when it has no name yet.
func policyName(name string) string {
	if name == "" {
		return "breaker"
	}
	return "breaker " + strconv.Quote(name)
}

// Marker errors returned to gobreaker in place of the call's own error, so
// that the classification is done once, here, with the caller's context.
// They never reach a caller.
var (
	errCountFailure = errors.New("breaker: counted as failure")
	errCountExclude = errors.New("breaker: counted as excluded")
	outcomeErrs     = [numOutcomes]error{
		outcomeFailure:  errCountFailure,
		outcomeSlow:     errCountFailure,
		outcomeHung:     errCountFailure,
		outcomeExcluded: errCountExclude,
	}
)

func isExcludedMarker(err error) bool { return err == errCountExclude }
