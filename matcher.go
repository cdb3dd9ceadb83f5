package firebreak

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Matchers select alerts the way Alertmanager's do, for silences,
// maintenance windows, inhibition rules and notification routes. A matcher
// tests one label of an alert: its labels ([AlertRef].Labels: alertname,
// service, env, component, dependency and the signal's own) plus three the
// Board adds for matching only — "kind" (e.g. breaker_open), "tier" (core,
// standard, auxiliary) and "severity" (the plan's grade of the alert:
// none, general, severe, fatal). A label that is absent has the value "".

// MatchType is how a [Matcher] compares: =, !=, =~ or !~.
type MatchType uint8

// The match types, as Alertmanager writes them.
const (
	MatchEqual     MatchType = iota // =
	MatchNotEqual                   // !=
	MatchRegexp                     // =~, anchored at both ends
	MatchNotRegexp                  // !~, anchored at both ends
)

var matchOps = [...]string{MatchEqual: "=", MatchNotEqual: "!=", MatchRegexp: "=~", MatchNotRegexp: "!~"}

// String returns "=", "!=", "=~" or "!~".
func (t MatchType) String() string {
	if int(t) < len(matchOps) {
		return matchOps[t]
	}
	return "MatchType(" + strconv.Itoa(int(t)) + ")"
}

// Matcher tests one label of an alert. Build it with [NewMatcher] or
// [ParseMatcher] (a zero Matcher with a regexp type matches nothing until
// then); in JSON it is {"name": "component", "op": "=~", "value": "pay.*"}.
type Matcher struct {
	Name  string
	Type  MatchType
	Value string
	re    *regexp.Regexp
}

// NewMatcher returns a matcher, or an error for an empty or invalid label
// name, an unknown type, or a regular expression that does not compile.
// Regular expressions are anchored, as in Alertmanager: "pay.*" must match
// the whole value.
func NewMatcher(t MatchType, name, value string) (Matcher, error) {
	if !validLabelName(name) {
		return Matcher{}, fmt.Errorf("firebreak: matcher label name %q must be letters, digits and underscores, not starting with a digit", name)
	}
	m := Matcher{Name: name, Type: t, Value: value}
	switch t {
	case MatchEqual, MatchNotEqual:
	case MatchRegexp, MatchNotRegexp:
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return Matcher{}, fmt.Errorf("firebreak: matcher %s%s%q: %w", name, t, value, err)
		}
		m.re = re
	default:
		return Matcher{}, fmt.Errorf("firebreak: matcher %s: unknown type %d", name, t)
	}
	return m, nil
}

// ParseMatcher parses one matcher as Alertmanager writes it:
// `component="payments"`, `env!="dev"`, `kind=~"breaker_open|health_failed"`,
// `dependency!~"cache.*"`. The value may be quoted (Go string syntax) or
// bare.
func ParseMatcher(s string) (Matcher, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, "=!")
	if i <= 0 {
		return Matcher{}, fmt.Errorf("firebreak: matcher %q: want name=value, name!=value, name=~regexp or name!~regexp", s)
	}
	name, rest := strings.TrimSpace(s[:i]), s[i:]
	var t MatchType
	switch {
	case strings.HasPrefix(rest, "=~"):
		t, rest = MatchRegexp, rest[2:]
	case strings.HasPrefix(rest, "!~"):
		t, rest = MatchNotRegexp, rest[2:]
	case strings.HasPrefix(rest, "!="):
		t, rest = MatchNotEqual, rest[2:]
	case strings.HasPrefix(rest, "="):
		t, rest = MatchEqual, rest[1:]
	default:
		return Matcher{}, fmt.Errorf("firebreak: matcher %q: want name=value, name!=value, name=~regexp or name!~regexp", s)
	}
	value := strings.TrimSpace(rest)
	if strings.HasPrefix(value, `"`) {
		v, err := strconv.Unquote(value)
		if err != nil {
			return Matcher{}, fmt.Errorf("firebreak: matcher %q: bad quoted value: %w", s, err)
		}
		value = v
	}
	return NewMatcher(t, name, value)
}

// String returns the matcher as ParseMatcher reads it.
func (m Matcher) String() string { return m.Name + m.Type.String() + strconv.Quote(m.Value) }

// Matches reports whether labels satisfy m.
func (m Matcher) Matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.Type {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp:
		return m.re != nil && m.re.MatchString(v)
	case MatchNotRegexp:
		return m.re != nil && !m.re.MatchString(v)
	}
	return false
}

type matcherJSON struct {
	Name  string `json:"name"`
	Op    string `json:"op"`
	Value string `json:"value"`
}

// MarshalJSON writes {"name", "op", "value"}.
func (m Matcher) MarshalJSON() ([]byte, error) {
	return json.Marshal(matcherJSON{Name: m.Name, Op: m.Type.String(), Value: m.Value})
}

// UnmarshalJSON reads {"name", "op", "value"}; op defaults to "=".
func (m *Matcher) UnmarshalJSON(b []byte) error {
	var j matcherJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	t := MatchEqual
	switch j.Op {
	case "", "=":
	case "!=":
		t = MatchNotEqual
	case "=~":
		t = MatchRegexp
	case "!~":
		t = MatchNotRegexp
	default:
		return fmt.Errorf("firebreak: matcher %s: unknown op %q (want =, !=, =~ or !~)", j.Name, j.Op)
	}
	x, err := NewMatcher(t, j.Name, j.Value)
	if err != nil {
		return err
	}
	*m = x
	return nil
}

// Matchers is a conjunction: all must match. No matchers match everything.
type Matchers []Matcher

// Matches reports whether every matcher matches labels.
func (ms Matchers) Matches(labels map[string]string) bool {
	for i := range ms {
		if !ms[i].Matches(labels) {
			return false
		}
	}
	return true
}

// ParseMatchers parses a comma-separated list, optionally in braces, as
// Alertmanager's amtool and API write it: {component="payments",env!="dev"}.
// Commas inside quoted values are kept.
func ParseMatchers(s string) (Matchers, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	var out Matchers
	var cur strings.Builder
	quoted, escaped := false, false
	flush := func() error {
		if strings.TrimSpace(cur.String()) == "" {
			cur.Reset()
			return nil
		}
		m, err := ParseMatcher(cur.String())
		cur.Reset()
		if err != nil {
			return err
		}
		out = append(out, m)
		return nil
	}
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
		case r == '\\' && quoted:
			escaped = true
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		cur.WriteRune(r)
	}
	if quoted {
		return nil, fmt.Errorf("firebreak: matchers %q: unterminated quote", s)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// MatchLabels returns the labels an alert is matched on: its labels plus
// kind, tier and severity (see [Matcher]). The result is a new map.
func (r *AlertRef) MatchLabels() map[string]string {
	m := make(map[string]string, len(r.Labels)+3)
	for k, v := range r.Labels {
		m[k] = v
	}
	m["kind"] = string(r.Kind)
	m["tier"] = r.Tier.String()
	m["severity"] = r.Severity.String()
	return m
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
