package firebreak

import (
	"fmt"
	"slices"
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

// inhibitRule is a rule with the firing alerts that match its source.
type inhibitRule struct {
	InhibitRule
	sources []source
}

type source struct {
	a      *alert
	labels map[string]string
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
// labels), or nil.
func (e *engine) inhibitor(a *alert, labels map[string]string) *alert {
	for i := range e.mute.rules {
		r := &e.mute.rules[i]
		if len(r.sources) == 0 || !r.TargetMatchers.Matches(labels) {
			continue
		}
	next:
		for _, s := range r.sources {
			if s.a == a || !s.a.ref.Firing || !s.a.tracked {
				continue
			}
			for _, l := range r.Equal {
				if s.labels[l] != labels[l] {
					continue next
				}
			}
			return s.a
		}
	}
	return nil
}

// sourceFired records a, which just fired, as a source of the rules it
// matches, and reports whether it is a new one.
func (e *engine) sourceFired(a *alert) bool {
	if len(e.mute.rules) == 0 {
		return false
	}
	var labels map[string]string
	added := false
	for i := range e.mute.rules {
		r := &e.mute.rules[i]
		if slices.ContainsFunc(r.sources, func(s source) bool { return s.a == a }) {
			continue
		}
		if labels == nil {
			labels = e.matchLabels(a)
		}
		if r.SourceMatchers.Matches(labels) {
			r.sources = append(r.sources, source{a: a, labels: labels})
			added = true
		}
	}
	return added
}

// pruneSources drops sources that no longer fire or are no longer tracked,
// and reports whether it dropped any.
func (e *engine) pruneSources() bool {
	dropped := false
	for i := range e.mute.rules {
		r := &e.mute.rules[i]
		n := len(r.sources)
		r.sources = slices.DeleteFunc(r.sources, func(s source) bool { return !s.a.ref.Firing || !s.a.tracked })
		dropped = dropped || len(r.sources) < n
	}
	return dropped
}

// inhibitChanged is called after alert a fired or cleared: it updates the
// rules' sources and, if they changed, decides again what is muted.
func (e *engine) inhibitChanged(a *alert, now time.Time) {
	if len(e.mute.rules) == 0 {
		return
	}
	changed := e.pruneSources()
	if a.ref.Firing && a.tracked && e.sourceFired(a) {
		changed = true
	}
	if changed {
		e.remute(now)
	}
}
