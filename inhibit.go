package firebreak

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// InhibitRule mutes symptoms while their cause fires, with Alertmanager's
// semantics: while an alert matching SourceMatchers fires, an alert matching
// TargetMatchers whose Equal labels have the same values as the source's
// (an absent label equals an absent label) does not page on its own.
// Matchers test [AlertRef.MatchLabels] plus "fault_domain". An alert never
// inhibits itself. A source that is itself silenced still inhibits.
//
// A target in the source's own incident is a symptom: it joins the incident
// (timeline note "inhibited by …"), its grade still counts toward the
// incident's severity, but its firing is not notified on its own. A target
// in another incident is muted like a silenced alert: it does not announce,
// escalate, remind or breach that incident.
type InhibitRule struct {
	SourceMatchers Matchers `json:"source_matchers"`
	TargetMatchers Matchers `json:"target_matchers"`
	Equal          []string `json:"equal,omitempty"`
}

// inhibitRule is a rule with the firing alerts that match its source, by
// the values of its Equal labels.
type inhibitRule struct {
	InhibitRule
	sources map[string]map[*alert]struct{}
}

// key joins the values of r's Equal labels.
func (r *inhibitRule) key(labels map[string]string) string {
	switch len(r.Equal) {
	case 0:
		return ""
	case 1:
		return labels[r.Equal[0]]
	}
	var b strings.Builder
	for _, l := range r.Equal {
		b.WriteString(labels[l])
		b.WriteByte(0xff)
	}
	return b.String()
}

// defaultInhibit is the default plan's inhibition: (a) a dependency's
// latency and error-budget burns while a breaker on that dependency is open,
// (b) general and severe alerts in a fault domain with a fatal alert.
func defaultInhibit() []InhibitRule {
	m := func(t MatchType, name, value string) Matcher {
		x, _ := NewMatcher(t, name, value) // constants that compile
		return x
	}
	return []InhibitRule{
		{SourceMatchers: Matchers{m(MatchEqual, "kind", string(KindBreakerOpen))},
			TargetMatchers: Matchers{m(MatchRegexp, "kind", "latency_slo_burn|error_budget_burn")},
			Equal:          []string{"dependency"}},
		{SourceMatchers: Matchers{m(MatchEqual, "severity", "fatal")},
			TargetMatchers: Matchers{m(MatchRegexp, "severity", "general|severe")},
			Equal:          []string{"fault_domain"}},
	}
}

func cloneInhibit(in []InhibitRule) []InhibitRule {
	out := slices.Clone(in)
	for i := range out {
		out[i].SourceMatchers = slices.Clone(out[i].SourceMatchers)
		out[i].TargetMatchers = slices.Clone(out[i].TargetMatchers)
		out[i].Equal = slices.Clone(out[i].Equal)
	}
	return out
}

// validateInhibit adds the problems of the plan's inhibition rules.
func validateInhibit(rules []InhibitRule, add func(path, format string, args ...any)) {
	for i, r := range rules {
		path := fmt.Sprintf("inhibit[%d]", i)
		for _, p := range checkMatchers(r.SourceMatchers, path+".source_matchers", false) {
			add(p.Path, "%s", p.Message)
		}
		for _, p := range checkMatchers(r.TargetMatchers, path+".target_matchers", false) {
			add(p.Path, "%s", p.Message)
		}
		for j, l := range r.Equal {
			if !validLabelName(l) {
				add(fmt.Sprintf("%s.equal[%d]", path, j), "%q is not a label name", l)
			}
		}
	}
}

// inhibitor returns a firing source that inhibits a (whose match labels are
// labels), preferring one in a's own incident, or nil.
func (e *engine) inhibitor(a *alert, labels map[string]string) *alert {
	var other *alert
	for i := range e.mute.rules {
		r := &e.mute.rules[i]
		if len(r.sources) == 0 || !r.TargetMatchers.Matches(labels) {
			continue
		}
		looked := 0
		for s := range r.sources[r.key(labels)] {
			if s == a || !s.ref.Firing || !s.tracked || s.drill() != a.drill() {
				continue // a drill's alert never mutes a real one, nor a real one a drill's (drill.go)
			}
			if s.inc == a.inc {
				return s
			}
			if other == nil {
				other = s
			}
			if looked++; looked >= 8 {
				break
			}
		}
	}
	return other
}

// sourceFired records a, which fires, as a source of the rules it matches,
// and reports whether a key had no source before.
func (e *engine) sourceFired(a *alert) bool {
	var labels map[string]string
	changed := false
	for i := range e.mute.rules {
		r := &e.mute.rules[i]
		if labels == nil {
			labels = e.matchLabels(a)
		}
		if !r.SourceMatchers.Matches(labels) {
			continue
		}
		k := r.key(labels)
		if r.sources == nil {
			r.sources = map[string]map[*alert]struct{}{}
		}
		set := r.sources[k]
		if set == nil {
			set = map[*alert]struct{}{}
			r.sources[k] = set
		}
		if _, ok := set[a]; !ok {
			changed = changed || len(set) == 0
			set[a] = struct{}{}
			a.source = append(a.source, sourceKey{i, k})
		}
	}
	return changed
}

// sourceKey is where an alert is listed as a source.
type sourceKey struct {
	rule int
	key  string
}

// dropSource takes a out of the rules' sources, and reports whether a key
// lost its last source.
func (e *engine) dropSource(a *alert) bool {
	changed := false
	for _, sk := range a.source {
		set := e.mute.rules[sk.rule].sources[sk.key]
		delete(set, a)
		if len(set) == 0 {
			delete(e.mute.rules[sk.rule].sources, sk.key)
			changed = true
		}
	}
	a.source = nil
	return changed
}

// untracked is called when the engine stops tracking a: a source no longer
// inhibits; what it inhibited is decided again on the next step.
func (e *engine) untracked(a *alert) {
	if len(a.source) > 0 && e.dropSource(a) {
		e.mute.stale = true
	}
}

// inhibitChanged is called after alert a fired or cleared: it updates the
// rules' sources and, if a key gained its first or lost its last source,
// decides again what is muted.
func (e *engine) inhibitChanged(a *alert, now time.Time) {
	if len(e.mute.rules) == 0 {
		return
	}
	changed := e.mute.stale
	e.mute.stale = false
	if a.ref.Firing && a.tracked {
		changed = e.sourceFired(a) || changed
	} else if len(a.source) > 0 {
		changed = e.dropSource(a) || changed
	}
	if changed {
		e.remute(now)
	}
}

// Equal reports whether m and o test the same label the same way (go-cmp
// and plan comparisons use it; the compiled expression is not compared).
func (m Matcher) Equal(o Matcher) bool {
	return m.Name == o.Name && m.Type == o.Type && m.Value == o.Value
}
