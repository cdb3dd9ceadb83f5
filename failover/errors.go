package failover

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-go/firebreak"
)

// RetryAfterError carries a server's request to wait before trying again,
// such as an HTTP Retry-After header on a 429 or 503 answer. [Retry] waits
// that long, clamped to [WithMaxRetryAfter] (or gives up at once if the wait
// would end past its time limit or the caller's deadline).
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

// RetryAfterOf returns the wait requested by the first error in err's tree
// that has a RetryAfter() time.Duration method, such as [RetryAfterError] and
// [ShedError].
func RetryAfterOf(err error) (time.Duration, bool) {
	var d time.Duration
	found := walk(err, func(e error) bool {
		if ra, ok := e.(interface{ RetryAfter() time.Duration }); ok {
			d = ra.RetryAfter()
			return true
		}
		return false
	})
	return d, found
}

// ParseRetryAfter parses the value of an HTTP Retry-After header, either
// delay-seconds ("120") or an HTTP date, relative to now. A date in the past
// gives 0. A negative number of seconds, or one too large for a
// [time.Duration] (more than 9223372036, about 292 years), is an error,
// never a negative or wrapped-around duration. [Retry] clamps what it is
// given to [WithMaxRetryAfter].
func ParseRetryAfter(value string, now time.Time) (time.Duration, error) {
	value = strings.TrimSpace(value)
	if rest := strings.TrimLeft(strings.TrimPrefix(value, "-"), "0123456789"); rest == "" && value != "" && value != "-" {
		if value[0] == '-' {
			return 0, fmt.Errorf("failover: Retry-After %q is negative", value)
		}
		secs, err := strconv.ParseInt(value, 10, 64)
		if err != nil || secs > maxRetryAfterSeconds {
			return 0, fmt.Errorf("failover: Retry-After %q seconds overflows a duration (at most %d)", value, maxRetryAfterSeconds)
		}
		return time.Duration(secs) * time.Second, nil
	}
	t, err := http.ParseTime(value)
	if err != nil {
		return 0, fmt.Errorf("failover: Retry-After %q is neither seconds nor an HTTP date", value)
	}
	return max(t.Sub(now), 0), nil
}

// maxRetryAfterSeconds is the largest delay-seconds a Duration holds.
const maxRetryAfterSeconds = int64(math.MaxInt64 / time.Second)

var (
	_ firebreak.Rejecter = (*ShedError)(nil)
	_ firebreak.Rejecter = (*DegradedError)(nil)
)

// ErrShed matches every [ShedError].
var ErrShed = errors.New("failover: request shed")

// ShedError is the rejection of a [Shedder]. It matches [ErrShed] and says,
// as the breaker's open-circuit error does, what kind of rejection it is, so
// retries and fallbacks can tell it from a dependency's failure.
type ShedError struct {
	// Reason is "rate_limited" (the token bucket is empty) or "overloaded"
	// (the concurrency limit is reached).
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

// ErrorType returns Reason: "rate_limited" or "overloaded".
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
	if e.Reason == "rate_limited" {
		return http.StatusTooManyRequests
	}
	return http.StatusServiceUnavailable
}
