package firebreak

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ErrAlreadyBound matches the [*AlreadyBoundError] a policy's Bind returns
// when the policy is bound to one component and asked to bind to another.
var ErrAlreadyBound = errors.New("firebreak: policy already bound to another component")

// AlreadyBoundError is the error of a Bind that would change a policy's
// identity. It matches [ErrAlreadyBound].
type AlreadyBoundError struct {
	Policy    string    // the policy, e.g. `breaker "payments"`
	Bound     Component // the identity it has
	Requested Component // the identity it was asked to take
}

func (e *AlreadyBoundError) Error() string {
	return fmt.Sprintf("%s is bound to %s and cannot be bound to %s; build one per component",
		e.Policy, e.Bound.identity(), e.Requested.identity())
}

// Is reports whether target is [ErrAlreadyBound].
func (e *AlreadyBoundError) Is(target error) bool { return target == ErrAlreadyBound }

// Binding holds the identity a policy takes from the component it protects,
// with the one rule every firebreak policy follows:
//
//   - The first [Binding.Bind] fixes the identity.
//   - Binding again to the same identity (Name, Dependency and Tier) does
//     nothing: the first Reporter stays.
//   - Binding to a different identity is an [*AlreadyBoundError],
//     because the policy's state (counts, budgets, statistics) belongs to one
//     dependency of one component.
//
// A service-wide policy, one that guards the whole service and sits in many
// pipelines (a load shedder, a degrader), sets ServiceWide: its identity is
// Name and Tier, and it reports without a dependency.
//
// An unbound policy still works; it reports to [Discard].
//
// The zero value is an unbound Binding for one dependency. A Binding must not
// be copied after first use. It is safe for concurrent use: readers on the
// hot path pay one atomic load.
type Binding struct {
	// ServiceWide makes the identity the service (Name and Tier) rather than
	// one dependency of it. Set it before the first Bind.
	ServiceWide bool

	mu sync.Mutex // serialises Bind; readers load c
	c  atomic.Pointer[Component]
}

// Bind validates c and binds to it under the rule above. policy names the
// policy in errors, e.g. `breaker "payments"`. It reports whether this call
// was the one that fixed the identity.
func (b *Binding) Bind(policy string, c Component) (first bool, err error) {
	if err := c.Validate(); err != nil {
		return false, fmt.Errorf("%s: Bind: %w", policy, err)
	}
	if c.Reporter == nil {
		c.Reporter = Discard
	}
	if b.ServiceWide {
		c.Dependency = ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if cur := b.c.Load(); cur != nil {
		if cur.Name == c.Name && cur.Dependency == c.Dependency && cur.Tier == c.Tier {
			return false, nil
		}
		return false, &AlreadyBoundError{Policy: policy, Bound: *cur, Requested: c}
	}
	b.c.Store(&c)
	return true, nil
}

// Bound reports whether Bind has fixed the identity.
func (b *Binding) Bound() bool { return b.c.Load() != nil }

// Component returns the bound component, or, before the first Bind, an
// anonymous one that reports to [Discard].
func (b *Binding) Component() Component {
	if c := b.c.Load(); c != nil {
		return *c
	}
	return Component{Reporter: Discard}
}

// Signal returns a signal of the given kind carrying the bound identity.
func (b *Binding) Signal(kind Kind, firing bool) Signal { return b.Component().Signal(kind, firing) }

// Report sends s to the bound component's Reporter; before the first Bind it
// drops s. Never call it with a lock held: the Reporter is user code.
func (b *Binding) Report(s Signal) {
	if c := b.c.Load(); c != nil {
		c.Reporter.Report(s)
	}
}

// identity renders the identity for error messages: "checkout-api" or
// "checkout-api → payments".
func (c Component) identity() string {
	if c.Dependency == "" {
		return fmt.Sprintf("%q (%s)", c.Name, c.Tier)
	}
	return fmt.Sprintf("%q → %q (%s)", c.Name, c.Dependency, c.Tier)
}
