package fbgrpc

import (
	"strconv"

	"google.golang.org/grpc/codes"
)

// Class is what a status code means to the policies of a pipeline.
type Class uint8

// The classes.
const (
	// ClassOK: the call succeeded.
	ClassOK Class = iota
	// ClassCaller: the caller's own business (a bad argument, not found,
	// permission denied…). It passes through the pipeline as a result: no
	// breaker counts it, no retry repeats it, no SLO burns on it; the
	// caller still gets the status.
	ClassCaller
	// ClassRetryable: the dependency failed in a way that is safe to try
	// again; a breaker counts it.
	ClassRetryable
	// ClassFailure: the dependency failed and the call may have taken
	// effect; a breaker counts it, no retry repeats it.
	ClassFailure
)

// String returns "ok", "caller", "retryable" or "failure".
func (c Class) String() string {
	switch c {
	case ClassOK:
		return "ok"
	case ClassCaller:
		return "caller"
	case ClassRetryable:
		return "retryable"
	case ClassFailure:
		return "failure"
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// Classify is the default of [WithClassifier]:
//
//	code                    class       retried   breaker counts
//	OK                      ok          -         success
//	UNAVAILABLE             retryable   yes       yes
//	RESOURCE_EXHAUSTED      retryable   yes, after the server's pushback; never if it forbids
//	DEADLINE_EXCEEDED       failure     no        yes, while the caller's context is alive
//	INTERNAL, UNKNOWN,
//	DATA_LOSS               failure     no        yes
//	CANCELLED               caller      no        no
//	every other code        caller      no        no
//
// A DEADLINE_EXCEEDED or CANCELLED that the caller's own context caused
// (its deadline passed, it was cancelled) is an error wrapping the
// context's error whatever the class: no retry repeats it, and a breaker
// judges it by its hang rule (a call that ran long or used up a real
// deadline is the dependency hanging; a caller who gave up early is not
// counted). UNAVAILABLE is retryable because gRPC returns it when the
// call did not reach the application; RESOURCE_EXHAUSTED is the server
// pushing back, which gRPC's own retry policy (gRFC A6) honours.
func Classify(c codes.Code) Class {
	switch c {
	case codes.OK:
		return ClassOK
	case codes.Unavailable, codes.ResourceExhausted:
		return ClassRetryable
	case codes.DeadlineExceeded, codes.Internal, codes.Unknown, codes.DataLoss:
		return ClassFailure
	}
	return ClassCaller
}
