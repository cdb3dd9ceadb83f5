package fbhttp

import (
	"errors"
	"fmt"

	"github.com/firebreak-go/firebreak"
)

// The error.type values of the package's errors, returned by their
// ErrorType methods: the tracing package records them on spans and metrics.
const (
	// ErrorTypeKeyLimit: a [NewPerKey] transport holds [WithMaxKeys]
	// pipelines and refused a new key.
	ErrorTypeKeyLimit = "key_limit"
	// ErrorTypeNotReplayable: a policy asked to send again a request that
	// may be sent only once.
	ErrorTypeNotReplayable = "not_replayable"
)

var _ firebreak.Rejecter = (*KeyLimitError)(nil)

// ErrKeyLimit matches every [KeyLimitError].
var ErrKeyLimit = errors.New("fbhttp: too many keys")

// KeyLimitError is the refusal of a request whose key (host or route) would
// need a new pipeline beyond [WithMaxKeys]. It is a local refusal
// ([firebreak.RejectOverload]): no breaker counts it, no retry repeats it.
type KeyLimitError struct {
	Key string // the refused key
	Max int    // the limit
}

// Error implements error.
func (e *KeyLimitError) Error() string {
	return fmt.Sprintf("fbhttp: key %q refused: the transport holds its limit of %d pipelines", e.Key, e.Max)
}

// Is reports whether target is [ErrKeyLimit].
func (e *KeyLimitError) Is(target error) bool { return target == ErrKeyLimit }

// ErrorType returns [ErrorTypeKeyLimit].
func (e *KeyLimitError) ErrorType() string { return ErrorTypeKeyLimit }

// Rejection implements [firebreak.Rejecter]: [firebreak.RejectOverload].
func (e *KeyLimitError) Rejection() firebreak.Rejection { return firebreak.RejectOverload }

// BuildError is the failure of the build function of a [NewPerKey]
// transport; the request that needed the pipeline fails with it.
type BuildError struct {
	Key string // the key whose pipeline could not be built
	Err error  // the build function's error
}

// Error implements error.
func (e *BuildError) Error() string {
	return fmt.Sprintf("fbhttp: building the pipeline for %q: %v", e.Key, e.Err)
}

// Unwrap returns the build function's error.
func (e *BuildError) Unwrap() error { return e.Err }

// ErrNotReplayable matches every [NotReplayableError].
var ErrNotReplayable = errors.New("fbhttp: request cannot be sent again")

// NotReplayableError is returned to a policy that calls again a request
// that may be sent only once: not idempotent ([WithIdempotent]), or with a
// body that cannot be replayed. A retry never asks (the first failure is
// permanent for it); a failover or a hedge might.
type NotReplayableError struct {
	Method string // the request's method
}

// Error implements error.
func (e *NotReplayableError) Error() string {
	return fmt.Sprintf("fbhttp: %s request cannot be sent again", e.Method)
}

// Is reports whether target is [ErrNotReplayable].
func (e *NotReplayableError) Is(target error) bool { return target == ErrNotReplayable }

// ErrorType returns [ErrorTypeNotReplayable].
func (e *NotReplayableError) ErrorType() string { return ErrorTypeNotReplayable }

// errLate is what an attempt returns when its response came after the
// request was answered (a hedge that lost): its response is closed, and the
// error reaches no caller.
var errLate = errors.New("fbhttp: the request was answered by another attempt")
