package firebreak

// Rejection says how a call was refused locally, before it reached the
// dependency: by isolation (an open breaker), by overload protection (a
// shedder, rate limit or bulkhead), or because a person switched the feature
// off. A rejection is never a failure of the dependency: no breaker counts
// it, no retry repeats it. The tracing package counts [RejectIsolated] calls
// as failed (users see the dependency down) and leaves the other two out of
// the dependency's error ratio (they say the service protects itself, which
// the shedder's own load_shed signal reports).
type Rejection uint8

// The rejections. The zero value means "not a rejection".
const (
	// RejectIsolated: the dependency is isolated — an open or forced-open
	// breaker, an ejected endpoint with no standby.
	RejectIsolated Rejection = iota + 1
	// RejectOverload: local overload protection — load shedding, a rate
	// limit, a full bulkhead or concurrency limit.
	RejectOverload
	// RejectDisabled: a degradation mode or kill switch turned the feature
	// off.
	RejectDisabled
)

// String returns "isolated", "overload", "disabled", or "" for the zero value.
func (r Rejection) String() string {
	switch r {
	case RejectIsolated:
		return "isolated"
	case RejectOverload:
		return "overload"
	case RejectDisabled:
		return "disabled"
	}
	return ""
}

// A Rejecter is an error that refuses a call locally. Errors made by
// firebreak's policies implement it; so may an application's own.
type Rejecter interface {
	Rejection() Rejection
}

// RejectionOf returns the rejection carried by the first error in err's tree
// (depth first, as [errors.As] walks it) that implements [Rejecter] and
// reports a non-zero Rejection, or 0 if there is none. It does not allocate.
func RejectionOf(err error) Rejection {
	for err != nil {
		if r, ok := err.(Rejecter); ok {
			if x := r.Rejection(); x != 0 {
				return x
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if x := RejectionOf(e); x != 0 {
					return x
				}
			}
			return 0
		default:
			return 0
		}
	}
	return 0
}

// IsRejected reports whether err is a local rejection of any kind.
func IsRejected(err error) bool { return RejectionOf(err) != 0 }
