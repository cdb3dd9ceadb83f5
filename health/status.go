package health

import (
	"fmt"
	"strings"
)

// Status is the health of one check or of a group of checks. The zero value
// is [StatusUnknown]: a check that has not run yet, or whose last result is
// too old to trust, is unknown — never silently up.
type Status int8

const (
	// StatusUnknown: no result yet, or the last result is stale.
	StatusUnknown Status = iota
	// StatusUp: the check passes.
	StatusUp
	// StatusDegraded: the check passes with a warning (it returned an error
	// marked with [Warn]), or, for a group, a non-critical check fails. A
	// degraded service still answers 200.
	StatusDegraded
	// StatusDown: the check fails.
	StatusDown
)

var statusNames = [...]string{StatusUnknown: "unknown", StatusUp: "up", StatusDegraded: "degraded", StatusDown: "down"}

// String returns "unknown", "up", "degraded" or "down".
func (s Status) String() string {
	if s >= StatusUnknown && s <= StatusDown {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", int8(s))
}

// Valid reports whether s is one of the four defined statuses.
func (s Status) Valid() bool { return s >= StatusUnknown && s <= StatusDown }

// MarshalText implements [encoding.TextMarshaler].
func (s Status) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("health: invalid status %d", int8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler]; it accepts the names
// returned by String in any case.
func (s *Status) UnmarshalText(b []byte) error {
	for i, n := range statusNames {
		if strings.EqualFold(n, string(b)) {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("health: unknown status %q (want up, degraded, down or unknown)", b)
}

// healthJSON maps a status to the application/health+json vocabulary.
func (s Status) healthJSON() string {
	switch s {
	case StatusUp:
		return "pass"
	case StatusDegraded:
		return "warn"
	}
	return "fail"
}

// Group is a probe kind a check belongs to. A check may belong to several
// groups; it still runs once per interval.
type Group uint8

const (
	// Startup checks gate /startupz: has initialisation finished?
	Startup Group = 1 << iota
	// Liveness checks gate /livez: is the process able to make progress?
	// Keep shared dependencies out of liveness, or one outage restarts
	// every replica.
	Liveness
	// Readiness checks gate /readyz: should this instance receive traffic?
	Readiness

	allGroups = Startup | Liveness | Readiness
)

// String returns "startup", "liveness", "readiness", or the names of a
// combination joined by "+".
func (g Group) String() string {
	var parts []string
	for _, x := range [...]Group{Startup, Liveness, Readiness} {
		if g&x != 0 {
			parts = append(parts, groupName(x))
		}
	}
	if g&^allGroups != 0 || len(parts) == 0 {
		return fmt.Sprintf("group(%d)", uint8(g))
	}
	return strings.Join(parts, "+")
}

func groupName(g Group) string {
	switch g {
	case Startup:
		return "startup"
	case Liveness:
		return "liveness"
	case Readiness:
		return "readiness"
	}
	return ""
}

// endpoint is the Kubernetes-style path element of a single group.
func (g Group) endpoint() string {
	switch g {
	case Startup:
		return "startupz"
	case Liveness:
		return "livez"
	case Readiness:
		return "readyz"
	}
	return "health"
}

// MarshalText implements [encoding.TextMarshaler].
func (g Group) MarshalText() ([]byte, error) {
	if g == 0 || g&^allGroups != 0 {
		return nil, fmt.Errorf("health: invalid group %d", uint8(g))
	}
	return []byte(g.String()), nil
}

// aggregate folds check statuses into a group status. The rule, in order:
//
//  1. a critical check that is down makes the group down;
//  2. otherwise a critical check that is unknown makes the group unknown;
//  3. otherwise a degraded check, or a non-critical check that is down or
//     unknown, makes the group degraded;
//  4. otherwise (including an empty group) the group is up.
type aggregate struct {
	down, unknown, degraded bool
}

func (a *aggregate) add(s Status, critical bool) {
	switch {
	case s == StatusUp:
	case s == StatusDegraded:
		a.degraded = true
	case !critical:
		a.degraded = true
	case s == StatusDown:
		a.down = true
	default:
		a.unknown = true
	}
}

func (a aggregate) status() Status {
	switch {
	case a.down:
		return StatusDown
	case a.unknown:
		return StatusUnknown
	case a.degraded:
		return StatusDegraded
	}
	return StatusUp
}

// passes reports whether a group status answers 200. Up and degraded pass;
// down fails; unknown fails except for liveness, where a check that has not
// produced a result must not get the process restarted.
func passes(s Status, g Group) bool {
	switch s {
	case StatusUp, StatusDegraded:
		return true
	case StatusUnknown:
		return g == Liveness
	}
	return false
}
