package fbgrpc

import (
	"context"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The error.type values of [StatusError], returned by its ErrorType method:
// the status code's name, as the OpenTelemetry RPC conventions spell it.
const (
	ErrorTypeCanceled           = "CANCELLED"
	ErrorTypeUnknown            = "UNKNOWN"
	ErrorTypeInvalidArgument    = "INVALID_ARGUMENT"
	ErrorTypeDeadlineExceeded   = "DEADLINE_EXCEEDED"
	ErrorTypeNotFound           = "NOT_FOUND"
	ErrorTypeAlreadyExists      = "ALREADY_EXISTS"
	ErrorTypePermissionDenied   = "PERMISSION_DENIED"
	ErrorTypeResourceExhausted  = "RESOURCE_EXHAUSTED"
	ErrorTypeFailedPrecondition = "FAILED_PRECONDITION"
	ErrorTypeAborted            = "ABORTED"
	ErrorTypeOutOfRange         = "OUT_OF_RANGE"
	ErrorTypeUnimplemented      = "UNIMPLEMENTED"
	ErrorTypeInternal           = "INTERNAL"
	ErrorTypeUnavailable        = "UNAVAILABLE"
	ErrorTypeDataLoss           = "DATA_LOSS"
	ErrorTypeUnauthenticated    = "UNAUTHENTICATED"
)

var errorTypes = [...]string{
	codes.Canceled: ErrorTypeCanceled, codes.Unknown: ErrorTypeUnknown, codes.InvalidArgument: ErrorTypeInvalidArgument,
	codes.DeadlineExceeded: ErrorTypeDeadlineExceeded, codes.NotFound: ErrorTypeNotFound, codes.AlreadyExists: ErrorTypeAlreadyExists,
	codes.PermissionDenied: ErrorTypePermissionDenied, codes.ResourceExhausted: ErrorTypeResourceExhausted,
	codes.FailedPrecondition: ErrorTypeFailedPrecondition, codes.Aborted: ErrorTypeAborted, codes.OutOfRange: ErrorTypeOutOfRange,
	codes.Unimplemented: ErrorTypeUnimplemented, codes.Internal: ErrorTypeInternal, codes.Unavailable: ErrorTypeUnavailable,
	codes.DataLoss: ErrorTypeDataLoss, codes.Unauthenticated: ErrorTypeUnauthenticated,
}

// StatusError is a failed call's gRPC status as the client's pipeline sees
// it: status.Code and status.FromError read it (it has GRPCStatus), a
// [github.com/firebreak-go/firebreak/failover.Retry] waits its server's
// pushback (it has RetryAfter), and errors.Is finds context.Canceled or
// context.DeadlineExceeded in a CANCELLED or DEADLINE_EXCEEDED that the
// caller's own context caused.
type StatusError struct {
	Status *status.Status
	// Pushback is the server's grpc-retry-pushback-ms trailer: how long to
	// wait before trying again. Zero without one.
	Pushback time.Duration
	// NoRetry is set when the server's pushback forbids a retry (a
	// negative or unparseable value, as gRFC A6 says).
	NoRetry bool

	ctxErr error // the caller's context error, for Unwrap
}

// Error implements error with the status's own text: "rpc error: code =
// Unavailable desc = …".
func (e *StatusError) Error() string { return e.Status.Err().Error() }

// GRPCStatus returns the status, for status.FromError and status.Code.
func (e *StatusError) GRPCStatus() *status.Status { return e.Status }

// Code returns the status code.
func (e *StatusError) Code() codes.Code { return e.Status.Code() }

// RetryAfter returns Pushback.
func (e *StatusError) RetryAfter() time.Duration { return e.Pushback }

// Unwrap returns the caller's context error when the caller's context
// ended the call, else nil.
func (e *StatusError) Unwrap() error { return e.ctxErr }

// ErrorType returns the code's name, e.g. [ErrorTypeUnavailable].
func (e *StatusError) ErrorType() string {
	if c := e.Status.Code(); int(c) < len(errorTypes) && errorTypes[c] != "" {
		return errorTypes[c]
	}
	return "CODE_" + strconv.Itoa(int(e.Status.Code()))
}

// PushbackKey is the trailer by which a server tells a client when to retry
// (gRFC A6): milliseconds, or a negative number for "do not retry".
const PushbackKey = "grpc-retry-pushback-ms"

// parsePushback reads a pushback trailer value. ok is false for a value
// that forbids retrying: negative, unparseable, or too large for a
// Duration.
func parsePushback(v string) (d time.Duration, ok bool) {
	ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || ms < 0 || ms > int64(time.Duration(1<<63-1)/time.Millisecond) {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

// LocalError is a refusal or failure the client's or server's pipeline
// made itself (an open breaker, a shed request, a timeout policy), given
// the gRPC code a caller matches: UNAVAILABLE for an isolated dependency
// or a feature switched off, RESOURCE_EXHAUSTED for overload,
// DEADLINE_EXCEEDED for a timeout. errors.Is and
// [firebreak.IsRejected] see the policy's error through it.
type LocalError struct {
	Code codes.Code
	Err  error
}

// Error implements error: the policy's error.
func (e *LocalError) Error() string { return e.Err.Error() }

// Unwrap returns the policy's error.
func (e *LocalError) Unwrap() error { return e.Err }

// GRPCStatus returns a status of Code with the policy's message.
func (e *LocalError) GRPCStatus() *status.Status { return status.New(e.Code, e.Err.Error()) }

// ctxErrFor returns the caller's context error when the status c is the
// caller's own doing: its context was cancelled, or its deadline passed. A
// deadline can pass a moment before the context's timer marks it done (the
// transport checks the clock itself, and the server's copy of the deadline
// may fire first), so a DEADLINE_EXCEEDED within a millisecond of the
// caller's deadline is the caller's too.
func ctxErrFor(ctx context.Context, c codes.Code) error {
	switch {
	case c == codes.Canceled && ctx.Err() != nil:
		return ctx.Err()
	case c == codes.DeadlineExceeded && ctx.Err() != nil:
		return ctx.Err()
	case c == codes.DeadlineExceeded:
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < time.Millisecond {
			return context.DeadlineExceeded
		}
	}
	return nil
}
