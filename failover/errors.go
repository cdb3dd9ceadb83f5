package failover

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/firebreak-go/firebreak"
)

// The error.type values of the package's errors, returned by their
// ErrorType methods: the tracing package records them on spans and metrics.
const (
	// ErrorTypeRateLimited: a [Shedder]'s token bucket was empty.
	ErrorTypeRateLimited = "rate_limited"
	// ErrorTypeOverloaded: a [Shedder]'s concurrency limit was full.
	ErrorTypeOverloaded = "overloaded"
	// ErrorTypeDegraded: a [Gate]'s feature is switched off.
	ErrorTypeDegraded = "degraded"
	// ErrorTypeTimeout: a [Timeout] ended the call.
	ErrorTypeTimeout = "timeout"
	// ErrorTypeFallbackFailed: the fallback failed as well as the call.
	ErrorTypeFallbackFailed = "fallback_failed"
	// ErrorTypeDependencyUnavailable: every endpoint of a [Failover] failed.
	ErrorTypeDependencyUnavailable = "dependency_unavailable"
)

var (
	_ firebreak.Rejecter = (*ShedError)(nil)
	_ firebreak.Rejecter = (*DegradedError)(nil)
)

// ---------------------------------------------------------------- retry

// ErrRetriesExhausted matches every [RetryError].
var ErrRetriesExhausted = errors.New("failover: retries exhausted")

// StopReason says why a [Retry] stopped trying.
type StopReason string

// The reasons a retry stops.
const (
	StopAttempts StopReason = "attempts" // the attempt limit was reached
	StopElapsed  StopReason = "elapsed"  // the next attempt would start after the time limit
	StopDeadline StopReason = "deadline" // the next attempt would start after the caller's deadline
	StopBudget   StopReason = "budget"   // the retry budget is spent
	StopContext  StopReason = "context"  // the caller gave up while waiting
)

// RetryError is returned when a retryable failure could not be mended: it
// wraps the last attempt's error (and, for [StopContext], the context's
// error), so errors.Is sees both, and it matches [ErrRetriesExhausted].
type RetryError struct {
	Attempts int        // attempts made
	Reason   StopReason // why no further attempt was made
	Err      error      // the last attempt's error
	Cause    error      // the context's error for StopContext, else nil
}

// Error implements error: "failover: gave up after 3 attempts: <last error>",
// with why when the attempt limit is not the reason.
func (e *RetryError) Error() string {
	attempts := "1 attempt"
	if e.Attempts != 1 {
		attempts = fmt.Sprintf("%d attempts", e.Attempts)
	}
	var why string
	switch e.Reason {
	case StopAttempts:
	case StopElapsed:
		why = ", out of time"
	case StopDeadline:
		why = ", the next would end past the deadline"
	case StopBudget:
		why = ", retry budget spent"
	case StopContext:
		why = fmt.Sprintf(", %v while waiting", e.Cause)
	default:
		why = ", " + string(e.Reason)
	}
	return fmt.Sprintf("failover: gave up after %s%s: %v", attempts, why, e.Err)
}

// Unwrap returns the last attempt's error and, if any, the cause.
func (e *RetryError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// Is reports whether target is [ErrRetriesExhausted].
func (e *RetryError) Is(target error) bool { return target == ErrRetriesExhausted }

// RetryAfterError carries a server's request to wait before trying again,
// such as an HTTP Retry-After header on a 429 or 503 answer. [Retry] waits
// that long, clamped to [WithMaxRetryAfter] (or gives up at once if the wait
// would end past its time limit or the caller's deadline). Any error with a
// RetryAfter() time.Duration method works the same.
type RetryAfterError struct {
	Err   error         // the failure
	After time.Duration // how long the server asked to wait
}

// Error implements error.
func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %v)", e.Err, e.After)
}

// Unwrap returns the wrapped error.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns the requested wait.
func (e *RetryAfterError) RetryAfter() time.Duration { return e.After }

// StatusError is an HTTP response that failed: status 400 or more. Build one
// with [CheckResponse] inside the function a [Retry] runs, so that a 429 or
// 503 with a Retry-After header makes the retry wait as the server asked.
type StatusError struct {
	StatusCode int    // e.g. 503
	Status     string // e.g. "503 Service Unavailable"
	// After is the response's Retry-After, zero if it had none.
	After time.Duration
}

// Error implements error.
func (e *StatusError) Error() string {
	if e.After > 0 {
		return fmt.Sprintf("failover: HTTP %s (retry after %v)", e.Status, e.After)
	}
	return "failover: HTTP " + e.Status
}

// RetryAfter returns the wait the server asked for.
func (e *StatusError) RetryAfter() time.Duration { return e.After }

// Temporary reports whether the status is worth retrying: 408, 429, and 5xx
// other than 501 Not Implemented and 505 HTTP Version Not Supported.
func (e *StatusError) Temporary() bool {
	switch {
	case e.StatusCode == http.StatusRequestTimeout, e.StatusCode == http.StatusTooManyRequests:
		return true
	case e.StatusCode == http.StatusNotImplemented, e.StatusCode == http.StatusHTTPVersionNotSupported:
		return false
	}
	return e.StatusCode >= 500
}

// ---------------------------------------------------------------- timeout

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

// Error implements error: "failover: call timed out after 2s", followed by
// the call's error unless that only says its deadline passed.
func (e *TimeoutError) Error() string {
	if e.Err == nil || e.Err == context.DeadlineExceeded {
		return fmt.Sprintf("failover: call timed out after %v", e.Timeout)
	}
	return fmt.Sprintf("failover: call timed out after %v: %v", e.Timeout, e.Err)
}

// Is reports whether target is [ErrTimeout].
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// Unwrap returns the call's error.
func (e *TimeoutError) Unwrap() error { return e.Err }

// ErrorType returns [ErrorTypeTimeout].
func (e *TimeoutError) ErrorType() string { return ErrorTypeTimeout }

// ---------------------------------------------------------------- fallback

// ErrNoFallback is what a fallback function returns (or wraps) to say it has
// nothing to serve for this call: the call's own error is returned, and no
// fallback counts as served (no fallback_active signal).
var ErrNoFallback = errors.New("failover: no fallback for this call")

// FallbackError is the error of a call that failed and whose fallback
// function failed too. Its message is the fallback's error; both errors are
// in its tree ([FallbackError.Unwrap]), so errors.Is finds either.
type FallbackError struct {
	Dependency string // the dependency of the bound component; "" unbound
	Fallback   error  // the fallback function's error
	Err        error  // the call's error
}

// Error implements error: `failover: fallback for "inventory" failed:
// <fallback's error>`. The call's error is not repeated: a fallback often
// returns or wraps it.
func (e *FallbackError) Error() string {
	if e.Dependency == "" {
		return fmt.Sprintf("failover: fallback failed: %v", e.Fallback)
	}
	return fmt.Sprintf("failover: fallback for %q failed: %v", e.Dependency, e.Fallback)
}

// Unwrap returns the fallback's error and the call's.
func (e *FallbackError) Unwrap() []error { return []error{e.Fallback, e.Err} }

// ErrorType returns [ErrorTypeFallbackFailed].
func (e *FallbackError) ErrorType() string { return ErrorTypeFallbackFailed }

// ---------------------------------------------------------------- failover

// ErrUnavailable matches every [UnavailableError].
var ErrUnavailable = errors.New("failover: every endpoint failed")

// UnavailableError is the error of a [Failover] call that every endpoint it
// tried failed. It is the endpoints' failure, not a local refusal: it wraps
// the last endpoint's error and matches [ErrUnavailable].
type UnavailableError struct {
	Endpoints []string // the endpoints tried, in order
	Err       error    // the last endpoint's error
}

// Error implements error.
func (e *UnavailableError) Error() string {
	return fmt.Sprintf("failover: every endpoint failed (%s): %v", strings.Join(e.Endpoints, ", "), e.Err)
}

// Unwrap returns the last endpoint's error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrUnavailable].
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// ErrorType returns [ErrorTypeDependencyUnavailable].
func (e *UnavailableError) ErrorType() string { return ErrorTypeDependencyUnavailable }

// ---------------------------------------------------------------- shedding

// ErrShed matches every [ShedError].
var ErrShed = errors.New("failover: request shed")

// ShedError is the rejection of a [Shedder]. It matches [ErrShed] and is a
// [firebreak.RejectOverload] rejection, so retries and fallbacks tell it
// from a dependency's failure.
type ShedError struct {
	// Reason is [ErrorTypeRateLimited] (the token bucket is empty) or
	// [ErrorTypeOverloaded] (the concurrency limit is reached).
	Reason string
	// Priority is the class of the shed request.
	Priority Priority
	// After is how long the caller should wait before trying again.
	After time.Duration
}

// Error implements error.
func (e *ShedError) Error() string {
	return "failover: request shed: " + e.Reason + " (" + e.Priority.String() + " priority)"
}

// Is reports whether target is [ErrShed].
func (e *ShedError) Is(target error) bool { return target == ErrShed }

// ErrorType returns Reason: [ErrorTypeRateLimited] or [ErrorTypeOverloaded].
func (e *ShedError) ErrorType() string { return e.Reason }

// Rejection implements [firebreak.Rejecter]: a shed request is
// [firebreak.RejectOverload], never a failure of the dependency, so no
// breaker counts it and no retry repeats it.
func (e *ShedError) Rejection() firebreak.Rejection { return firebreak.RejectOverload }

// RetryAfter returns After.
func (e *ShedError) RetryAfter() time.Duration { return e.After }

// StatusCode returns the HTTP status for the rejection: 429 Too Many Requests
// when rate limited, 503 Service Unavailable when overloaded.
func (e *ShedError) StatusCode() int {
	if e.Reason == ErrorTypeRateLimited {
		return http.StatusTooManyRequests
	}
	return http.StatusServiceUnavailable
}

// ---------------------------------------------------------------- degradation

// ErrDegraded matches every [DegradedError].
var ErrDegraded = errors.New("failover: feature off")

// DegradedError is returned by a [Gate] whose feature is off.
type DegradedError struct {
	Feature string // the gate's feature
	Mode    Mode   // the mode the gate turns off at
}

// Error implements error.
func (e *DegradedError) Error() string {
	return fmt.Sprintf("failover: feature %q is off (switched off or mode %s or worse)", e.Feature, e.Mode)
}

// Is reports whether target is [ErrDegraded].
func (e *DegradedError) Is(target error) bool { return target == ErrDegraded }

// ErrorType returns [ErrorTypeDegraded].
func (e *DegradedError) ErrorType() string { return ErrorTypeDegraded }

// Rejection implements [firebreak.Rejecter]: a feature switched off is
// [firebreak.RejectDisabled], so retries do not retry it and no breaker
// counts it.
func (e *DegradedError) Rejection() firebreak.Rejection { return firebreak.RejectDisabled }

// ---------------------------------------------------------------- helpers

// isCancellation reports whether the error or the context says the caller
// gave up: such calls are neither retried, failed over nor answered with a
// fallback.
func isCancellation(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, context.Canceled)
}

// walk calls f on err and every error it wraps, depth first, until f returns
// true.
func walk(err error, f func(error) bool) bool {
	for err != nil {
		if f(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walk(e, f) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// ---------------------------------------------------------------- bulkhead and concurrency limit

// The error.type values of the overload policies' rejections.
const (
	// ErrorTypeBulkheadFull: a [Bulkhead] was full (and its queue, if any).
	ErrorTypeBulkheadFull = "bulkhead_full"
	// ErrorTypeConcurrencyLimited: an [AdaptiveLimiter]'s limit was reached.
	ErrorTypeConcurrencyLimited = "concurrency_limited"
)

var (
	_ firebreak.Rejecter = (*BulkheadError)(nil)
	_ firebreak.Rejecter = (*LimitError)(nil)
)

// ErrBulkheadFull matches every [BulkheadError].
var ErrBulkheadFull = errors.New("failover: bulkhead full")

// BulkheadError is the rejection of a [Bulkhead]: it was full and the call
// could not wait (no queue, or the queue full) or waited in vain. It
// matches [ErrBulkheadFull] and is a [firebreak.RejectOverload] rejection,
// so no breaker counts it and no retry repeats it.
type BulkheadError struct {
	Limit  int           // calls the bulkhead admits at once
	Queue  int           // places in its queue
	Waited time.Duration // how long the call waited in the queue; 0 if it did not
}

// Error implements error: "failover: bulkhead full (8 in flight)", saying
// how long the call waited, if it did.
func (e *BulkheadError) Error() string {
	if e.Waited > 0 {
		return fmt.Sprintf("failover: bulkhead full (%d in flight), no place within %v in the queue", e.Limit, e.Waited)
	}
	if e.Queue > 0 {
		return fmt.Sprintf("failover: bulkhead full (%d in flight, %d queued)", e.Limit, e.Queue)
	}
	return fmt.Sprintf("failover: bulkhead full (%d in flight)", e.Limit)
}

// Is reports whether target is [ErrBulkheadFull].
func (e *BulkheadError) Is(target error) bool { return target == ErrBulkheadFull }

// ErrorType returns [ErrorTypeBulkheadFull].
func (e *BulkheadError) ErrorType() string { return ErrorTypeBulkheadFull }

// Rejection implements [firebreak.Rejecter]: [firebreak.RejectOverload].
func (e *BulkheadError) Rejection() firebreak.Rejection { return firebreak.RejectOverload }

// ErrLimited matches every [LimitError].
var ErrLimited = errors.New("failover: concurrency limit reached")

// LimitError is the rejection of an [AdaptiveLimiter]: as many calls of the
// priority's class were in flight as the current limit lets it have. It
// matches [ErrLimited] and is a [firebreak.RejectOverload] rejection.
type LimitError struct {
	Priority Priority // the class of the rejected call
}

// Error implements error.
func (e *LimitError) Error() string {
	return "failover: concurrency limit reached (" + e.Priority.String() + " priority)"
}

// Is reports whether target is [ErrLimited].
func (e *LimitError) Is(target error) bool { return target == ErrLimited }

// ErrorType returns [ErrorTypeConcurrencyLimited].
func (e *LimitError) ErrorType() string { return ErrorTypeConcurrencyLimited }

// Rejection implements [firebreak.Rejecter]: [firebreak.RejectOverload].
func (e *LimitError) Rejection() firebreak.Rejection { return firebreak.RejectOverload }
