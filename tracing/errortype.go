package tracing

import (
	"context"
	"errors"
	"net"
)

// The error.type values firebreak uses. They are low-cardinality and stable,
// as the OpenTelemetry conventions ask ("Recording errors"): the same value
// goes on the span and on the duration histogram.
const (
	// ErrorTypeCircuitOpen: a circuit breaker rejected the call.
	ErrorTypeCircuitOpen = "circuit_open"
	// ErrorTypeBulkheadFull: a concurrency limit rejected the call.
	ErrorTypeBulkheadFull = "bulkhead_full"
	// ErrorTypeRateLimited: a rate limiter or the dependency (HTTP 429)
	// refused the call.
	ErrorTypeRateLimited = "rate_limited"
	// ErrorTypeLoadShed: the call was shed to protect the service.
	ErrorTypeLoadShed = "load_shed"
	// ErrorTypeOverloaded: a concurrency limit was full (the failover
	// package's shedder; its token-bucket rejections are rate_limited).
	ErrorTypeOverloaded = "overloaded"
	// ErrorTypeDegraded: an optional feature is switched off by the
	// service's degradation mode or a kill switch.
	ErrorTypeDegraded = "degraded"
	// ErrorTypeTimeout: a deadline passed (context.DeadlineExceeded, or a
	// net.Error whose Timeout method reports true).
	ErrorTypeTimeout = "timeout"
	// ErrorTypeCanceled: the caller canceled (context.Canceled).
	ErrorTypeCanceled = "canceled"
	// ErrorTypeHealthCheckFailed: a health check failed.
	ErrorTypeHealthCheckFailed = "health_check_failed"
	// ErrorTypeFallbackFailed: the fallback failed as well as the call.
	ErrorTypeFallbackFailed = "fallback_failed"
	// ErrorTypeDependencyUnavailable: no endpoint of the dependency was
	// available (all ejected, no standby left).
	ErrorTypeDependencyUnavailable = "dependency_unavailable"
	// ErrorTypePanic: the call panicked.
	ErrorTypePanic = "panic"
	// ErrorTypeOther is the fallback for errors that name no type.
	ErrorTypeOther = "_OTHER"
)

// ErrorTyper is implemented by errors that know their error.type, so that
// spans and metrics name them without this package importing theirs: a
// breaker's open-state error should return [ErrorTypeCircuitOpen], a load
// shedder's rejection [ErrorTypeRateLimited] or [ErrorTypeOverloaded], and an application's errors may
// implement it too. The value should be one of the ErrorType constants or
// another short, stable, low-cardinality name in snake_case; an empty value
// is ignored.
//
//	func (*OpenStateError) ErrorType() string { return "circuit_open" }
type ErrorTyper interface {
	ErrorType() string
}

// ErrorType returns the error.type of err: "" for nil; the value of the first
// error in err's chain that implements [ErrorTyper]; [ErrorTypeTimeout] for
// context.DeadlineExceeded or a timing-out net.Error; [ErrorTypeCanceled] for
// context.Canceled; otherwise [ErrorTypeOther].
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
