package tracing

import (
	"context"
	"errors"
	"net"
)

// The error.type values this package makes itself. They are low-cardinality
// and stable, as the OpenTelemetry conventions ask ("Recording errors"): the
// same value goes on the span and on the duration histogram. The error types
// of the other packages are declared where those errors are made
// (breaker.ErrorTypeCircuitOpen and others) and read through [ErrorTyper].
const (
	// ErrorTypeTimeout: a deadline passed (context.DeadlineExceeded, or a
	// net.Error whose Timeout method reports true).
	ErrorTypeTimeout = "timeout"
	// ErrorTypeCanceled: the caller canceled (context.Canceled).
	ErrorTypeCanceled = "canceled"
	// ErrorTypePanic: the call panicked.
	ErrorTypePanic = "panic"
	// ErrorTypeOther is the fallback for errors that name no type.
	ErrorTypeOther = "_OTHER"
)

// ErrorTyper is implemented by errors that know their error.type, so that
// spans and metrics name them without this package importing theirs. The
// value should be a short, stable, low-cardinality name in snake_case,
// declared as a constant next to the error; an empty value is ignored.
// firebreak's own policies implement it (a breaker's open-state error
// returns breaker.ErrorTypeCircuitOpen), and an application's errors may
// too:
//
//	const ErrorTypeOutOfStock = "out_of_stock"
//
//	func (*OutOfStockError) ErrorType() string { return ErrorTypeOutOfStock }
type ErrorTyper interface {
	ErrorType() string
}

// ErrorType returns the error.type of err: "" for nil; the value of the first
// error in err's tree that implements [ErrorTyper] with a non-empty value;
// [ErrorTypeTimeout] for context.DeadlineExceeded or a timing-out net.Error;
// [ErrorTypeCanceled] for context.Canceled; otherwise [ErrorTypeOther].
func ErrorType(err error) string {
	if err == nil {
		return ""
	}
	var et ErrorTyper
	if errors.As(err, &et) {
		if t := et.ErrorType(); t != "" {
			return t
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return ErrorTypeTimeout
	case errors.Is(err, context.Canceled):
		return ErrorTypeCanceled
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ErrorTypeTimeout
	}
	return ErrorTypeOther
}

// panicError is what an Observer records on the span of a call that
// panicked; the panic itself goes on to the caller.
type panicError struct{}

func (panicError) Error() string     { return "tracing: the call panicked" }
func (panicError) ErrorType() string { return ErrorTypePanic }

var errPanic error = panicError{}
