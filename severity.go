package firebreak

import (
	"fmt"
	"strings"
	"time"
)

// Severity grades an incident by the emergency plan's response levels. It is
// ordered like [log/slog.Level]: the worse of two severities is the larger, so
// max(a, b) is the one to respond to. The zero value is [None].
type Severity int8

const (
	// None is a signal worth recording that pages nobody.
	None Severity = iota
	// General is the plan's level 3 (一般故障): the on-duty engineer responds
	// within 30 minutes and reports back.
	General
	// Severe is the plan's level 2 (严重故障): part of the functions are
	// abnormal; the technical lead responds within 15 minutes.
	Severe
	// Fatal is the plan's level 1 (致命故障): a core system is down; the
	// command centre and all hands respond within 10 minutes.
	Fatal
)

var severityNames = [...]string{None: "none", General: "general", Severe: "severe", Fatal: "fatal"}

// String returns the lower-case name: "none", "general", "severe" or "fatal".
func (s Severity) String() string {
	if s >= None && s <= Fatal {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", int8(s))
}

// Level returns the plan's response level: 1 for Fatal, 2 for Severe, 3 for
// General and 0 for None.
func (s Severity) Level() int {
	switch s {
	case Fatal:
		return 1
	case Severe:
		return 2
	case General:
		return 3
	}
	return 0
}

// Valid reports whether s is one of the four defined severities.
func (s Severity) Valid() bool { return s >= None && s <= Fatal }

// MarshalText implements [encoding.TextMarshaler].
func (s Severity) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("firebreak: invalid severity %d", int8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler]. It accepts the names
// returned by String in any case, and the plan's level names "L1", "L2", "L3".
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity parses a severity name ("fatal", "severe", "general", "none",
// any case) or plan level ("L1", "L2", "L3").
func ParseSeverity(text string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(text)) {
	case "none":
		return None, nil
	case "general", "l3":
		return General, nil
	case "severe", "l2":
		return Severe, nil
	case "fatal", "l1":
		return Fatal, nil
	}
	return None, fmt.Errorf("firebreak: unknown severity %q (want none, general, severe or fatal)", text)
}

// Tier says how critical a component is to the service. The application
// decides which of its components are core; the SDK cannot guess. The zero
// value is [Standard].
type Tier int8

const (
	// Standard is an ordinary component: its failure impairs part of the
	// service.
	Standard Tier = iota
	// Core is a component without which the service is down.
	Core
	// Auxiliary is a component whose failure users barely notice.
	Auxiliary
)

var tierNames = [...]string{Standard: "standard", Core: "core", Auxiliary: "auxiliary"}

// String returns "core", "standard" or "auxiliary".
func (t Tier) String() string {
	if t >= Standard && t <= Auxiliary {
		return tierNames[t]
	}
	return fmt.Sprintf("tier(%d)", int8(t))
}

// Valid reports whether t is one of the three defined tiers.
func (t Tier) Valid() bool { return t >= Standard && t <= Auxiliary }

// MarshalText implements [encoding.TextMarshaler].
func (t Tier) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("firebreak: invalid tier %d", int8(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler].
func (t *Tier) UnmarshalText(b []byte) error {
	switch strings.ToLower(strings.TrimSpace(string(b))) {
	case "core":
		*t = Core
	case "standard":
		*t = Standard
	case "auxiliary":
		*t = Auxiliary
	default:
		return fmt.Errorf("firebreak: unknown tier %q (want core, standard or auxiliary)", b)
	}
	return nil
}

// Duration is a [time.Duration] that reads and writes JSON as a Go duration
// string such as "10m" or "1h30m".
type Duration time.Duration

// MarshalText implements [encoding.TextMarshaler].
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler].
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("firebreak: invalid duration %q (want a Go duration such as \"10m\")", b)
	}
	*d = Duration(v)
	return nil
}
