package firebreak

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Plan is the emergency plan as data: how fast each severity must be answered
// and by whom, how signals are graded, when severity rises, and the timers of
// the incident lifecycle. [DefaultPlan] encodes the plan's three levels; load
// your own with [ParsePlan] or [LoadPlan]. A Plan is read, never changed, by
// the Board that uses it.
type Plan struct {
	// Name identifies the plan in reports.
	Name string `json:"name"`
	// Response is the response policy per severity; general, severe and
	// fatal are required.
	Response map[Severity]ResponsePolicy `json:"response"`
	// Rules grade signals. The first rule that matches a signal decides its
	// severity for the signal's tier; a signal no rule matches is None.
	Rules []Rule `json:"rules"`
	// Escalation says when severity rises on its own.
	Escalation Escalation `json:"escalation"`
	// Timers are the lifecycle's waits.
	Timers Timers `json:"timers"`
	// CustomKinds declares the signal kinds of your own sensors that a plan
	// document's rules may grade. [ParsePlan] rejects a rule whose kind is
	// neither built in nor declared here, so a typo such as "breaker_opne"
	// is an error rather than a rule that never matches. Plans built in Go
	// are not held to it. Default: none.
	CustomKinds []Kind `json:"custom_kinds,omitempty"`
	// Categories sorts incidents into fault categories (hardware, software,
	// network, data) and names the group responsible for each; see
	// [Categories]. Default: [DefaultCategories].
	Categories Categories `json:"categories"`
	// Directory lists the people, experts and outside vendors the plan can
	// call on; see [Directory]. Default: empty.
	Directory Directory `json:"directory,omitempty"`
	// VerifyBeforeClose, if set, requires every resolved incident to be
	// verified by the business owner ([Board.Verify]) before it can be
	// closed; ResponsePolicy.Verify asks it for one severity. Default: false.
	VerifyBeforeClose bool `json:"verify_before_close,omitempty"`
	// Route is the root of the notification routing tree (see [Route]);
	// nil hands every notification to every notifier. [WithRoute]
	// overrides it. Default: nil.
	Route *Route `json:"route,omitempty"`
	// Maintenance windows: planned work whose components' alerts page
	// nobody while a window is active (see [MaintenanceWindow]). Default:
	// none.
	Maintenance []MaintenanceWindow `json:"maintenance,omitempty"`
	// Inhibit rules: symptoms that do not page while their cause fires (see
	// [InhibitRule]). Default: a dependency's burns while a breaker on it is
	// open, and general and severe alerts in a fault domain with a fatal
	// one. A document's list replaces the default whole; write [] for none.
	Inhibit []InhibitRule `json:"inhibit,omitempty"`
	// Drills is the plan's chapter on drills: whether a production
	// environment may run one, and the calendar of drills and inspections
	// (see [DrillPlan]). Default: drills refused in production, no
	// calendar.
	Drills DrillPlan `json:"drills,omitzero"`
}

// ResponsePolicy is what the plan demands at one severity.
type ResponsePolicy struct {
	// Within is how soon after detection a person must acknowledge.
	Within Duration `json:"response_within"`
	// Lead is who leads the response, e.g. "technical lead".
	Lead string `json:"lead"`
	// EscalateTo is who is paged when Within passes unacknowledged.
	EscalateTo string `json:"escalate_to"`
	// RenotifyEvery repeats the notification while unacknowledged; 0 never.
	RenotifyEvery Duration `json:"renotify_every"`
	// Report is the report the plan requires afterwards.
	Report ReportKind `json:"report"`
	// AlertSeverity is the "severity" label sent to Alertmanager-style
	// receivers: "critical", "error", "warning" or "info".
	AlertSeverity string `json:"alert_severity"`
	// Verify, if set, requires a resolved incident of this severity to be
	// verified by the business owner ([Board.Verify]) before it can be
	// closed. Default: false.
	Verify bool `json:"verify,omitempty"`
	// Escalation is the escalation chain at this severity: steps that page
	// in turn while the incident stays unacknowledged (see
	// [EscalationStep]). Default: none, the single breach at Within that
	// pages EscalateTo.
	Escalation []EscalationStep `json:"escalation,omitempty"`
	// Repeat starts the chain over after its last step until somebody
	// acknowledges. Default: false.
	Repeat bool `json:"repeat,omitempty"`
}

// Rule grades the signals it matches. Every condition that is set must hold.
type Rule struct {
	// Kind the rule applies to. Required.
	Kind Kind `json:"kind"`
	// Fallback, if set, must equal the signal's Fallback.
	Fallback *bool `json:"fallback,omitempty"`
	// MinValue, if set, is the least Signal.Value that matches.
	MinValue *float64 `json:"min_value,omitempty"`
	// MinMetrics are least values of entries of Signal.Metrics; a missing
	// entry does not match.
	MinMetrics map[string]float64 `json:"min_metrics,omitempty"`
	// Labels must all be present in Signal.Labels with these values.
	Labels map[string]string `json:"labels,omitempty"`
	// Severity is the grade for each tier.
	Severity TierSeverity `json:"severity"`
}

// TierSeverity is a severity for each tier of component.
type TierSeverity struct {
	Core      Severity `json:"core"`
	Standard  Severity `json:"standard"`
	Auxiliary Severity `json:"auxiliary"`
}

// For returns the severity for tier t.
func (ts TierSeverity) For(t Tier) Severity {
	switch t {
	case Core:
		return ts.Core
	case Auxiliary:
		return ts.Auxiliary
	}
	return ts.Standard
}

// Escalation rules. Severity only rises on its own; only a person lowers it.
type Escalation struct {
	// Persistence raises an incident that is still unmitigated a while after
	// detection.
	Persistence []PersistenceRule `json:"persistence"`
	// SpreadComponents raises severity one level when this many distinct
	// components have joined one incident (capped at Severe unless a core
	// component is affected). 0 turns it off.
	SpreadComponents int `json:"spread_components"`
	// CoreJoins raises severity one level when a core component joins an
	// incident that had none.
	CoreJoins bool `json:"core_joins"`
	// RollbackFailed raises severity one level above its grade when a
	// rollback fails.
	RollbackFailed bool `json:"rollback_failed"`
}

// PersistenceRule: an incident at From that is not mitigated After its
// detection becomes To.
type PersistenceRule struct {
	From  Severity `json:"from"`
	After Duration `json:"after"`
	To    Severity `json:"to"`
}

// Timers of the incident lifecycle.
type Timers struct {
	// GroupWait holds a new incident back before the first notification; if
	// all its signals clear within it, nobody is notified (a flap).
	GroupWait Duration `json:"group_wait"`
	// ResolveHoldDown is how long every signal must stay clear before an
	// incident resolves on its own.
	ResolveHoldDown Duration `json:"resolve_hold_down"`
	// ReopenWindow is how long after resolution a returning signal reopens
	// the incident instead of starting a new one.
	ReopenWindow Duration `json:"reopen_window"`
}

func ptr[T any](v T) *T { return &v }

// DefaultPlan returns the plan's three levels — Fatal answered within 10
// minutes by all hands, Severe within 15 by the technical lead, General within
// 30 by the on-duty engineer who reports back — and the default grading of
// signals by tier (see the package documentation). Each call returns a new
// Plan that the caller may change.
func DefaultPlan() *Plan {
	ts := func(core, std, aux Severity) TierSeverity { return TierSeverity{core, std, aux} }
	return &Plan{
		Name: "default",
		Response: map[Severity]ResponsePolicy{
			Fatal: {Within: Duration(10 * time.Minute), Lead: "command centre (all hands)", EscalateTo: "executive on call",
				RenotifyEvery: Duration(5 * time.Minute), Report: Postmortem, AlertSeverity: "critical"},
			Severe: {Within: Duration(15 * time.Minute), Lead: "technical lead", EscalateTo: "command centre (all hands)",
				RenotifyEvery: Duration(5 * time.Minute), Report: Postmortem, AlertSeverity: "error"},
			General: {Within: Duration(30 * time.Minute), Lead: "on-duty engineer", EscalateTo: "technical lead",
				RenotifyEvery: Duration(15 * time.Minute), Report: ReportBack, AlertSeverity: "warning"},
			None: {Lead: "nobody (recorded only)", Report: ReportBack, AlertSeverity: "info"},
		},
		Rules: []Rule{
			{Kind: KindBreakerOpen, Fallback: ptr(true), Severity: ts(General, General, None)},
			// An open breaker with no fallback refuses every call: for a core
			// component that function is down for its users.
			{Kind: KindBreakerOpen, Severity: ts(Fatal, Severe, General)},
			{Kind: KindHealthFailed, Severity: ts(General, General, None)},
			// Half or more of the calls fail over the last minute: the
			// component is down, not degraded. (The last minute, not the
			// tier's short window: once calls succeed again the grade
			// drops within a minute.)
			{Kind: KindErrorBudgetBurn, Fallback: ptr(false), MinMetrics: map[string]float64{"error_ratio_now": 0.5}, Severity: ts(Fatal, Severe, General)},
			// Burns are graded by the tier that fires: the workbook pages on
			// the 14.4× and 6× tiers and opens a ticket on the slower ones,
			// whatever the burn rate itself has reached.
			{Kind: KindErrorBudgetBurn, MinMetrics: map[string]float64{"burn_rate_threshold": 14.4}, Severity: ts(Severe, Severe, General)},
			{Kind: KindErrorBudgetBurn, MinMetrics: map[string]float64{"burn_rate_threshold": 6}, Severity: ts(General, General, None)},
			{Kind: KindErrorBudgetBurn, Severity: ts(None, None, None)},
			{Kind: KindLatencySLOBurn, MinMetrics: map[string]float64{"burn_rate_threshold": 14.4}, Severity: ts(Severe, General, None)},
			{Kind: KindLatencySLOBurn, MinMetrics: map[string]float64{"burn_rate_threshold": 6}, Severity: ts(General, General, None)},
			{Kind: KindLatencySLOBurn, Severity: ts(None, None, None)},
			{Kind: KindRollback, Labels: map[string]string{"phase": "promoted"}, Severity: ts(Severe, Severe, General)},
			{Kind: KindRollback, Severity: ts(General, General, None)},
			{Kind: KindRollbackFailed, Severity: ts(Fatal, Severe, Severe)},
			{Kind: KindAnalysisInconclusive, Severity: ts(General, General, None)},
			{Kind: KindDegraded, Severity: ts(General, General, None)},
			{Kind: KindFallbackActive, Severity: ts(General, General, None)},
			{Kind: KindFailover, Severity: ts(General, General, None)},
			{Kind: KindLoadShed, Severity: ts(General, General, None)},
			{Kind: KindUserFeedback, Severity: ts(General, General, None)},
			// The Board itself refused signals: somebody must look, whatever
			// the component.
			{Kind: KindBoardOverflow, Severity: ts(General, General, General)},
			// The fleet's store is unreachable: every replica pages on its
			// own, which somebody must know of.
			{Kind: KindSharedStateDegraded, Severity: ts(General, General, General)},
		},
		Escalation: Escalation{
			Persistence:      []PersistenceRule{{From: General, After: Duration(60 * time.Minute), To: Severe}},
			SpreadComponents: 3,
			CoreJoins:        true,
			RollbackFailed:   true,
		},
		Timers: Timers{
			GroupWait:       Duration(30 * time.Second),
			ResolveHoldDown: Duration(5 * time.Minute),
			ReopenWindow:    Duration(30 * time.Minute),
		},
		Categories: DefaultCategories(),
		Inhibit:    defaultInhibit(),
	}
}

// Clone returns a deep copy of p.
func (p *Plan) Clone() *Plan {
	c := *p
	c.Response = maps.Clone(p.Response)
	c.Rules = slices.Clone(p.Rules)
	for i, r := range c.Rules {
		c.Rules[i].MinMetrics = maps.Clone(r.MinMetrics)
		c.Rules[i].Labels = maps.Clone(r.Labels)
	}
	c.Escalation.Persistence = slices.Clone(p.Escalation.Persistence)
	c.CustomKinds = slices.Clone(p.CustomKinds)
	p.cloneOrg(&c)
	for sev, rp := range c.Response {
		rp.Escalation = slices.Clone(rp.Escalation)
		c.Response[sev] = rp
	}
	c.Route = p.Route.clone()
	c.Maintenance = cloneMaintenance(p.Maintenance)
	c.Inhibit = cloneInhibit(p.Inhibit)
	c.Drills = p.Drills.clone()
	return &c
}

// Classify returns the severity the plan gives signal s on its own.
func (p *Plan) Classify(s *Signal) Severity {
	for i := range p.Rules {
		if p.Rules[i].matches(s) {
			return p.Rules[i].Severity.For(s.Tier)
		}
	}
	return None
}

func (r *Rule) matches(s *Signal) bool {
	if r.Kind != s.Kind {
		return false
	}
	if r.Fallback != nil && *r.Fallback != s.Fallback {
		return false
	}
	if r.MinValue != nil && !(s.Value >= *r.MinValue) {
		return false
	}
	for k, min := range r.MinMetrics {
		v, ok := s.Metrics[k]
		if !ok || !(v >= min) {
			return false
		}
	}
	for k, want := range r.Labels {
		if s.Labels[k] != want {
			return false
		}
	}
	return true
}

// PlanError lists every problem found in a plan, each with the path of the
// field at fault, such as "rules[2].kind".
type PlanError struct {
	Problems []Problem
}

// Problem is one fault in a plan.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (e *PlanError) Error() string {
	var b strings.Builder
	b.WriteString("firebreak: invalid plan: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Path)
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	return b.String()
}

// Validate checks the plan and returns a *PlanError listing every problem, or
// nil.
func (p *Plan) Validate() error {
	var probs []Problem
	add := func(path, format string, args ...any) {
		probs = append(probs, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	for sev := range p.Response {
		if !sev.Valid() {
			add("response", "unknown severity %d", int8(sev))
		}
	}
	for _, sev := range []Severity{General, Severe, Fatal} {
		path := "response." + sev.String()
		rp, ok := p.Response[sev]
		if !ok {
			add(path, "missing: the plan must say how %s incidents are answered", sev)
			continue
		}
		if rp.Within <= 0 {
			add(path+".response_within", "must be longer than 0, got %s", time.Duration(rp.Within))
		}
		if rp.Lead == "" {
			add(path+".lead", "required: who leads the response")
		}
		if rp.RenotifyEvery < 0 {
			add(path+".renotify_every", "must not be negative")
		}
	}
	for sev, rp := range p.Response {
		path := "response." + sev.String()
		if rp.Report != "" && rp.Report != Postmortem && rp.Report != ReportBack {
			add(path+".report", "must be %q or %q, got %q", Postmortem, ReportBack, rp.Report)
		}
		switch rp.AlertSeverity {
		case "", "critical", "error", "warning", "info":
		default:
			add(path+".alert_severity", "must be critical, error, warning or info, got %q", rp.AlertSeverity)
		}
	}
	f, s, g := p.Response[Fatal].Within, p.Response[Severe].Within, p.Response[General].Within
	if f > 0 && s > 0 && f > s {
		add("response.fatal.response_within", "%s is longer than severe's %s: a worse fault must be answered sooner", time.Duration(f), time.Duration(s))
	}
	if s > 0 && g > 0 && s > g {
		add("response.severe.response_within", "%s is longer than general's %s: a worse fault must be answered sooner", time.Duration(s), time.Duration(g))
	}
	for i, r := range p.Rules {
		path := fmt.Sprintf("rules[%d]", i)
		switch {
		case r.Kind == "":
			add(path+".kind", "required: the kind of signal the rule grades")
		case !r.Kind.Valid():
			add(path+".kind", "%q is not a kind (lower-case letters, digits and underscores, 1 to 64)", r.Kind)
		}
		if r.MinValue != nil && (math.IsNaN(*r.MinValue) || math.IsInf(*r.MinValue, 0)) {
			add(path+".min_value", "must be a finite number")
		}
		for k, v := range r.MinMetrics {
			if k == "" {
				add(path+".min_metrics", "empty metric name")
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				add(path+".min_metrics."+k, "must be a finite number")
			}
		}
		for k := range r.Labels {
			if k == "" {
				add(path+".labels", "empty label name")
			}
		}
		for name, sev := range map[string]Severity{"core": r.Severity.Core, "standard": r.Severity.Standard, "auxiliary": r.Severity.Auxiliary} {
			if !sev.Valid() {
				add(path+".severity."+name, "unknown severity %d", int8(sev))
			}
		}
	}
	for i, pr := range p.Escalation.Persistence {
		path := fmt.Sprintf("escalation.persistence[%d]", i)
		if !pr.From.Valid() || pr.From == None {
			add(path+".from", "must be general or severe")
		}
		if !pr.To.Valid() || pr.To <= pr.From {
			add(path+".to", "must be worse than from (%s)", pr.From)
		}
		if pr.After <= 0 {
			add(path+".after", "must be longer than 0")
		}
	}
	if n := p.Escalation.SpreadComponents; n != 0 && n < 2 {
		add("escalation.spread_components", "must be 0 (off) or at least 2, got %d", n)
	}
	if p.Timers.GroupWait < 0 || p.Timers.GroupWait > Duration(time.Hour) {
		add("timers.group_wait", "must be between 0 and 1h, got %s", time.Duration(p.Timers.GroupWait))
	}
	if f > 0 && p.Timers.GroupWait >= f {
		add("timers.group_wait", "%s is not shorter than fatal's response time %s: incidents would be breached as they are announced",
			time.Duration(p.Timers.GroupWait), time.Duration(f))
	}
	if len(p.Rules) == 0 {
		add("rules", "empty: every signal would be graded none")
	}
	for i, k := range p.CustomKinds {
		if !k.Valid() {
			add(fmt.Sprintf("custom_kinds[%d]", i), "%q is not a kind (lower-case letters, digits and underscores, 1 to 64)", k)
		}
	}
	if p.Timers.ResolveHoldDown < 0 {
		add("timers.resolve_hold_down", "must not be negative")
	}
	if p.Timers.ReopenWindow < 0 {
		add("timers.reopen_window", "must not be negative")
	}
	p.validateOrg(add)
	validateRoute(p.Route, add)
	validateEscalationChains(p, add)
	validateMaintenance(p.Maintenance, add)
	validateInhibit(p.Inhibit, add)
	p.Drills.validate(add)
	if len(probs) == 0 {
		return nil
	}
	slices.SortStableFunc(probs, func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
	return &PlanError{Problems: probs}
}

// MaxPlanSize is the largest plan document [ParsePlan] and [LoadPlan]
// accept: 1 MiB.
const MaxPlanSize = 1 << 20

// ParsePlan reads a plan document (JSON) and validates it. Unknown fields are
// errors, and every problem is reported in a *PlanError with its field path,
// such as "rules[2].kind". What the document leaves out is filled in as
// follows, and nothing else is taken from [DefaultPlan]:
//
//   - name: "custom" when omitted.
//   - rules: omitted, the default rules; given, exactly the rules written,
//     each one starting from nothing. Every rule needs a kind that is built
//     in (the Kind constants) or declared in custom_kinds.
//   - response: omitted, the default policies. Given, each severity's
//     policy is filled field by field from that severity's default policy
//     (see [DefaultPlan]): {"fatal": {"response_within": "5m"}} keeps the
//     default lead, escalate_to, renotify_every, report and alert_severity of
//     Fatal. A severity the document does not name keeps its default policy.
//     Write "renotify_every": "0s" to turn reminders off.
//   - escalation and timers: omitted, the defaults; given, filled field by
//     field from the defaults. A persistence list given replaces the default
//     one whole.
//
// A document larger than [MaxPlanSize] is rejected.
//
//	{"name": "payments", "response": {"fatal": {"response_within": "5m", "lead": "incident commander"}},
//	 "timers": {"group_wait": "10s"}}
func ParsePlan(data []byte) (*Plan, error) {
	if len(data) > MaxPlanSize {
		return nil, &PlanError{Problems: []Problem{{Path: "(plan)", Message: fmt.Sprintf("larger than 1 MiB (%d bytes)", len(data))}}}
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, &PlanError{Problems: []Problem{jsonProblem(err)}}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &PlanError{Problems: []Problem{{Path: "(plan)", Message: "trailing data after the JSON object"}}}
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, &PlanError{Problems: []Problem{{Path: "(plan)", Message: "want a JSON object"}}}
	}
	var probs []Problem
	checkShape(reflect.TypeFor[Plan](), doc, "", &probs)
	if len(probs) > 0 {
		slices.SortStableFunc(probs, func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
		return nil, &PlanError{Problems: probs}
	}
	// The shape is right, so these decode without error; each part is
	// decoded onto exactly what the documentation above promises.
	var parts struct {
		Name        *string                      `json:"name"`
		Response    map[Severity]json.RawMessage `json:"response"`
		Rules       json.RawMessage              `json:"rules"`
		Escalation  json.RawMessage              `json:"escalation"`
		Timers      json.RawMessage              `json:"timers"`
		CustomKinds []Kind                       `json:"custom_kinds"`
		Route       json.RawMessage              `json:"route"`
		Maintenance json.RawMessage              `json:"maintenance"`
		Inhibit     json.RawMessage              `json:"inhibit"`
	}
	if err := json.Unmarshal(data, &parts); err != nil {
		return nil, &PlanError{Problems: []Problem{jsonProblem(err)}}
	}
	def := DefaultPlan()
	p := &Plan{Name: "custom", Response: def.Response, Rules: def.Rules, Escalation: def.Escalation, Timers: def.Timers,
		CustomKinds: parts.CustomKinds, Inhibit: def.Inhibit}
	if parts.Name != nil {
		p.Name = *parts.Name
	}
	decodeOnto := func(raw json.RawMessage, v any) {
		if len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, v); err != nil {
				probs = append(probs, jsonProblem(err))
			}
		}
	}
	for sev, raw := range parts.Response {
		rp := def.Response[sev] // the zero policy for a severity without a default
		decodeOnto(raw, &rp)
		p.Response[sev] = rp
	}
	if len(parts.Rules) > 0 {
		p.Rules = nil // decoding onto the default rules would merge them
		decodeOnto(parts.Rules, &p.Rules)
	}
	if len(parts.Escalation) > 0 {
		var persistence struct {
			Persistence json.RawMessage `json:"persistence"`
		}
		decodeOnto(parts.Escalation, &persistence)
		if len(persistence.Persistence) > 0 {
			p.Escalation.Persistence = nil
		}
		decodeOnto(parts.Escalation, &p.Escalation)
	}
	decodeOnto(parts.Timers, &p.Timers)
	decodeOrg(data, p, decodeOnto)
	decodeOnto(parts.Route, &p.Route)
	decodeOnto(parts.Maintenance, &p.Maintenance)
	if len(parts.Inhibit) > 0 {
		p.Inhibit = []InhibitRule{} // given, exactly the rules written; [] for none
		decodeOnto(parts.Inhibit, &p.Inhibit)
	}
	if len(probs) > 0 {
		return nil, &PlanError{Problems: probs}
	}
	for i, r := range p.Rules {
		if r.Kind.Valid() && !r.Kind.builtin() && !slices.Contains(p.CustomKinds, r.Kind) {
			probs = append(probs, Problem{Path: fmt.Sprintf("rules[%d].kind", i),
				Message: fmt.Sprintf("%q is not a built-in kind; declare your own kinds in custom_kinds", r.Kind)})
		}
	}
	err := p.Validate()
	var pe *PlanError
	if errors.As(err, &pe) {
		probs = append(probs, pe.Problems...)
	}
	if len(probs) > 0 {
		slices.SortStableFunc(probs, func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
		return nil, &PlanError{Problems: probs}
	}
	return p, nil
}

// builtin reports whether k is one of the kinds firebreak's packages report.
func (k Kind) builtin() bool {
	_, ok := alertNames[k]
	return ok
}

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

// checkShape walks a decoded JSON value against type t and records every
// mismatch with its path, so that one pass reports all problems.
func checkShape(t reflect.Type, v any, path string, probs *[]Problem) {
	at := path
	if at == "" {
		at = "(plan)"
	}
	add := func(format string, args ...any) {
		*probs = append(*probs, Problem{Path: at, Message: fmt.Sprintf(format, args...)})
	}
	if v == nil {
		if t.Kind() != reflect.Pointer && t.Kind() != reflect.Map && t.Kind() != reflect.Slice {
			add("null is not allowed here")
		}
		return
	}
	if t.Kind() == reflect.Pointer {
		checkShape(t.Elem(), v, path, probs)
		return
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshalerType) {
		// A type that decodes itself (a Matcher) is checked by decoding it.
		raw, err := json.Marshal(v)
		if err == nil {
			err = reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(raw)
		}
		if err != nil {
			add("%s", strings.TrimPrefix(err.Error(), "firebreak: "))
		}
		return
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		s, ok := v.(string)
		if !ok {
			add("want a string, got %s", jsonTypeName(v))
			return
		}
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			add("%s", strings.TrimPrefix(err.Error(), "firebreak: "))
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			add("want an object, got %s", jsonTypeName(v))
			return
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			ft, ok := fields[k]
			if !ok {
				*probs = append(*probs, Problem{Path: join(path, k), Message: "unknown field"})
				continue
			}
			checkShape(ft, m[k], join(path, k), probs)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			add("want an object, got %s", jsonTypeName(v))
			return
		}
		seen := map[string]string{} // parsed key → the key as written
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if reflect.PointerTo(t.Key()).Implements(textUnmarshalerType) {
				key := reflect.New(t.Key())
				if err := key.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(k)); err != nil {
					*probs = append(*probs, Problem{Path: join(path, k), Message: "not a valid key: " + strings.TrimPrefix(err.Error(), "firebreak: ")})
					continue
				}
				id := fmt.Sprint(key.Elem().Interface())
				if other, dup := seen[id]; dup {
					*probs = append(*probs, Problem{Path: join(path, k), Message: fmt.Sprintf("the same key as %q", other)})
					continue
				}
				seen[id] = k
			}
			checkShape(t.Elem(), m[k], join(path, k), probs)
		}
	case reflect.Slice:
		a, ok := v.([]any)
		if !ok {
			add("want an array, got %s", jsonTypeName(v))
			return
		}
		for i, e := range a {
			checkShape(t.Elem(), e, fmt.Sprintf("%s[%d]", path, i), probs)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			add("want a string, got %s", jsonTypeName(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			add("want true or false, got %s", jsonTypeName(v))
		}
	case reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			add("want a number, got %s", jsonTypeName(v))
			return
		}
		if f, err := n.Float64(); err != nil || math.IsInf(f, 0) {
			add("number %s is out of range", n)
		}
	case reflect.Int:
		n, ok := v.(json.Number)
		if !ok {
			add("want a whole number, got %s", jsonTypeName(v))
			return
		}
		if i, err := n.Int64(); err != nil || i < math.MinInt32 || i > math.MaxInt32 {
			add("want a whole number, got %s", n)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func jsonTypeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "null"
}

// LoadPlan reads a plan from r as ParsePlan does.
func LoadPlan(r io.Reader) (*Plan, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxPlanSize+1))
	if err != nil {
		return nil, fmt.Errorf("firebreak: reading plan: %w", err)
	}
	if len(data) > MaxPlanSize {
		return nil, &PlanError{Problems: []Problem{{Path: "(plan)", Message: "larger than 1 MiB"}}}
	}
	return ParsePlan(data)
}

func jsonProblem(err error) Problem {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return Problem{Path: "(plan)", Message: fmt.Sprintf("JSON syntax error at byte %d: %v", syn.Offset, syn)}
	case errors.As(err, &typ):
		path := typ.Field
		if path == "" {
			path = "(plan)"
		}
		return Problem{Path: path, Message: fmt.Sprintf("cannot use JSON %s as %s", typ.Value, typ.Type)}
	case errors.Is(err, io.EOF):
		return Problem{Path: "(plan)", Message: "empty input: want a JSON object"}
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return Problem{Path: strings.Trim(rest, `"`), Message: "unknown field"}
	}
	// Errors from UnmarshalText methods (severity, tier, duration) and others.
	msg = strings.TrimPrefix(msg, "json: ")
	return Problem{Path: "(plan)", Message: msg}
}
