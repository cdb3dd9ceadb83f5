package failover

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

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

// CheckResponse returns nil for a response with a status below 400 and a
// [*StatusError] otherwise, with the Retry-After header parsed (relative to
// now). It does not read or close the body.
func CheckResponse(resp *http.Response) error {
	if resp.StatusCode < 400 {
		return nil
	}
	e := &StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
	if e.Status == "" {
		e.Status = fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	if v := resp.Header.Get("Retry-After"); v != "" {
		if d, err := ParseRetryAfter(v, time.Now()); err == nil {
			e.After = d
		}
	}
	return e
}

// RetryHTTP is a classifier for [WithRetryIf]: an HTTP [StatusError] is
// retried only if it is temporary (408, 429, most 5xx); any other error (a
// transport error: a reset connection, a timeout) is retried.
func RetryHTTP(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	return true
}
