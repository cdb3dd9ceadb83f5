package firebreak

import (
	"context"
	"errors"
	"time"
)

// The defaults of the hang rule ([Hung]) that the breaker and tracing
// packages apply to calls their callers gave up on.
const (
	// DefaultHangThreshold: a call the caller gave up on after running this
	// long shows that the dependency hung.
	DefaultHangThreshold = 500 * time.Millisecond
	// DefaultHangBudget: a call that used up a deadline which had given it
	// at least this long shows that the dependency hung.
	DefaultHangBudget = 20 * time.Millisecond
)

// Hung reports whether a call that ended after its caller's context ended
// (ctx.Err() is set) says that the dependency hung, rather than that the
// caller gave up early: it ran from start to end for at least threshold, or
// ctx's deadline passed and had given the call at least minBudget when it
// started. A caller who cancels a short call, or arrives with almost no
// deadline left, says nothing about the dependency. A threshold of zero or
// less turns the rule off: Hung is then always false.
func Hung(ctx context.Context, start, end time.Time, threshold, minBudget time.Duration) bool {
	if threshold <= 0 {
		return false
	}
	if end.Sub(start) >= threshold {
		return true
	}
	if err := ctx.Err(); err != context.DeadlineExceeded && !errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	deadline, ok := ctx.Deadline()
	return ok && deadline.Sub(start) >= minBudget
}
