package drill

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/firebreak-go/firebreak"
)

// ReportInput is what only people add to a drill report: what they found,
// what they will do, and the evaluation the plan asks for.
type ReportInput struct {
	Findings    []string               `json:"findings,omitempty"`
	ActionItems []firebreak.ActionItem `json:"action_items,omitempty"`
	SignOff     SignOff                `json:"sign_off,omitzero"`
}

// SignOff is the reviewer's evaluation of the drill.
type SignOff struct {
	By      string    `json:"by,omitempty"`
	At      time.Time `json:"at,omitzero"`
	Verdict string    `json:"verdict,omitempty"` // e.g. "passed", "passed with findings", "failed"
	Notes   string    `json:"notes,omitempty"`
}

// Report is the record and evaluation of a drill: what was injected, what
// the board and the people did and how fast, against the plan's deadlines
// and the drill's hypothesis. It renders as JSON and as Markdown
// ([Report.Markdown]), like the incident postmortem.
type Report struct {
	ID          string     `json:"id"`
	Kind        Kind       `json:"kind"`
	Service     string     `json:"service"`
	Hypothesis  string     `json:"hypothesis,omitempty"`
	Scope       Scope      `json:"scope"`
	Dose        Dose       `json:"dose"`
	Faults      []Injected `json:"faults"`
	State       State      `json:"state"`
	AbortReason string     `json:"abort_reason,omitempty"`
	StartedAt   time.Time  `json:"started_at,omitzero"`
	EndedAt     time.Time  `json:"ended_at,omitzero"`
	GeneratedAt time.Time  `json:"generated_at"`

	Measured  Measured           `json:"measured"`
	Expected  firebreak.Severity `json:"expected_severity"`
	Reached   firebreak.Severity `json:"reached_severity"`
	Level     int                `json:"level"`
	Deadlines []Deadline         `json:"deadlines"`
	// SteadyState is the worst the drill measured ([WithSteadyState])
	// against Spec.SteadyState.
	SteadyState SteadyStateResult `json:"steady_state"`
	Automatic   []string          `json:"automatic"` // what firebreak mitigated on its own
	ByPeople    []string          `json:"by_people"` // what needed a person
	Incidents   []string          `json:"incidents"` // the drill's incident IDs
	Criteria    []Criterion       `json:"criteria"`
	Passed      bool              `json:"passed"` // every criterion passed

	Findings    []string               `json:"findings,omitempty"`
	ActionItems []firebreak.ActionItem `json:"action_items,omitempty"`
	SignOff     SignOff                `json:"sign_off"`
	Timeline    []Entry                `json:"timeline"`
}

// Injected is one injector's part in the drill.
type Injected struct {
	Injector   string `json:"injector"`
	Fault      string `json:"fault"`
	Component  string `json:"component"`
	Dependency string `json:"dependency,omitempty"`
}

// Measured are the drill's times: each moment, and how long after the
// first injected fault it came. A zero time did not happen.
type Measured struct {
	Injection       time.Time          `json:"injection,omitzero"`
	Detection       time.Time          `json:"detection,omitzero"`
	Announcement    time.Time          `json:"announcement,omitzero"`
	Acknowledgement time.Time          `json:"acknowledgement,omitzero"`
	Mitigation      time.Time          `json:"mitigation,omitzero"`
	Recovery        time.Time          `json:"recovery,omitzero"`
	ToDetect        firebreak.Duration `json:"to_detect,omitempty"`
	ToAnnounce      firebreak.Duration `json:"to_announce,omitempty"`
	ToAcknowledge   firebreak.Duration `json:"to_acknowledge,omitempty"`
	ToMitigate      firebreak.Duration `json:"to_mitigate,omitempty"`
	ToRecover       firebreak.Duration `json:"to_recover,omitempty"`
}

// Deadline is one incident's response deadline under the plan.
type Deadline struct {
	Incident     string             `json:"incident"`
	Severity     firebreak.Severity `json:"severity"`
	Within       firebreak.Duration `json:"within"`
	Due          time.Time          `json:"due"`
	Acknowledged time.Time          `json:"acknowledged,omitzero"`
	Met          bool               `json:"met"`
	Pending      bool               `json:"pending,omitempty"` // not acknowledged, not yet due
}

// SteadyStateResult compares the measured steady state with the
// hypothesis.
type SteadyStateResult struct {
	Hypothesis SteadyState `json:"hypothesis"`
	Measured   SteadyState `json:"measured"`
	Samples    int         `json:"samples"`
	Within     bool        `json:"within"`
}

// Criterion is one pass/fail line of the evaluation.
type Criterion struct {
	Name   string `json:"name"`
	Pass   bool   `json:"pass"`
	Detail string `json:"detail"`
}

// automaticKinds are the signals of firebreak mitigating on its own.
var automaticKinds = []firebreak.Kind{firebreak.KindBreakerOpen, firebreak.KindFailover, firebreak.KindFallbackActive,
	firebreak.KindLoadShed, firebreak.KindDegraded, firebreak.KindRollback}

// Report builds the drill's report from its record and its incidents on
// the board, as they stand now. Call it after the drill and its incidents
// have run their course; it may be called at any time.
func (d *Drill) Report(in ReportInput) *Report {
	now := time.Now()
	st := d.Status()
	d.mu.Lock()
	worst, samples := d.worst, d.samples
	d.mu.Unlock()
	plan := d.board.Plan()
	r := &Report{
		ID: d.spec.ID, Kind: d.spec.Kind, Service: d.board.Service(), Hypothesis: d.spec.Hypothesis,
		Scope: d.spec.Scope, Dose: slices.Clone(d.spec.Dose), State: st.State, AbortReason: st.AbortReason,
		StartedAt: st.StartedAt, EndedAt: st.EndedAt, GeneratedAt: now, Expected: d.spec.Expect.Severity,
		Findings: in.Findings, ActionItems: in.ActionItems, SignOff: in.SignOff, Timeline: st.Timeline,
		Automatic: []string{}, ByPeople: []string{}, Incidents: []string{}, Deadlines: []Deadline{},
	}
	for _, inj := range d.injectors {
		c := inj.Component()
		r.Faults = append(r.Faults, Injected{Injector: inj.name, Fault: inj.fault.String(), Component: c.Name, Dependency: c.Dependency})
	}
	m := &r.Measured
	if ns := d.run.firstNs.Load(); ns != 0 {
		m.Injection = time.Unix(0, ns)
	}
	incs := d.board.List(firebreak.Filter{Drill: d.spec.ID})
	slices.Reverse(incs) // oldest first
	allResolved := len(incs) > 0
	earliest := func(t *time.Time, v time.Time) {
		if !v.IsZero() && (t.IsZero() || v.Before(*t)) {
			*t = v
		}
	}
	for _, inc := range incs {
		if inc.MaxSeverity == firebreak.None && !slices.ContainsFunc(inc.Alerts, func(a firebreak.AlertRef) bool { return a.Kind != firebreak.KindDrillAborted }) {
			continue // only the abort's own record
		}
		r.Incidents = append(r.Incidents, inc.ID)
		earliest(&m.Detection, inc.DetectedAt)
		earliest(&m.Announcement, inc.NotifiedAt)
		earliest(&m.Acknowledgement, inc.AcknowledgedAt)
		earliest(&m.Mitigation, inc.MitigatedAt)
		if inc.MaxSeverity > r.Reached {
			r.Reached = inc.MaxSeverity
		}
		if inc.ResolvedAt.IsZero() {
			allResolved = false
		} else if inc.ResolvedAt.After(m.Recovery) {
			m.Recovery = inc.ResolvedAt
		}
		for _, a := range inc.Alerts {
			if slices.Contains(automaticKinds, a.Kind) {
				r.Automatic = append(r.Automatic, fmt.Sprintf("%s on %s at %s", a.Kind, who(a.Component, a.Dependency), a.FirstSeen.UTC().Format(time.RFC3339)))
				earliest(&m.Mitigation, a.FirstSeen)
			}
		}
		for _, e := range inc.Timeline {
			if e.Actor != "" && e.Actor != "firebreak" {
				r.ByPeople = append(r.ByPeople, fmt.Sprintf("%s: %s %s at %s", inc.ID, e.Actor, e.Event, e.At.UTC().Format(time.RFC3339)))
			}
		}
		if inc.MaxSeverity > firebreak.None {
			within := plan.Response[inc.MaxSeverity].Within
			due := inc.DetectedAt.Add(time.Duration(within))
			dl := Deadline{Incident: inc.ID, Severity: inc.MaxSeverity, Within: within, Due: due, Acknowledged: inc.AcknowledgedAt}
			dl.Met = !inc.AcknowledgedAt.IsZero() && !inc.AcknowledgedAt.After(due)
			dl.Pending = inc.AcknowledgedAt.IsZero() && now.Before(due)
			r.Deadlines = append(r.Deadlines, dl)
		}
	}
	if !allResolved {
		m.Recovery = time.Time{}
	}
	r.Level = r.Reached.Level()
	if !m.Injection.IsZero() {
		since := func(t time.Time) firebreak.Duration {
			if t.IsZero() {
				return 0
			}
			return firebreak.Duration(t.Sub(m.Injection))
		}
		m.ToDetect, m.ToAnnounce, m.ToAcknowledge = since(m.Detection), since(m.Announcement), since(m.Acknowledgement)
		m.ToMitigate, m.ToRecover = since(m.Mitigation), since(m.Recovery)
	}
	hyp := d.spec.SteadyState
	r.SteadyState = SteadyStateResult{Hypothesis: hyp, Measured: worst, Samples: samples,
		Within: (hyp.Burn == 0 || worst.Burn <= hyp.Burn) && (hyp.ErrorRatio == 0 || worst.ErrorRatio <= hyp.ErrorRatio) && (hyp.P99 == 0 || worst.P99 <= hyp.P99)}
	r.criteria(d.spec)
	return r
}

func (r *Report) criteria(spec Spec) {
	add := func(name string, pass bool, format string, args ...any) {
		r.Criteria = append(r.Criteria, Criterion{Name: name, Pass: pass, Detail: fmt.Sprintf(format, args...)})
	}
	m := r.Measured
	if r.Expected > firebreak.None {
		add(fmt.Sprintf("graded %s (level %d)", r.Expected, r.Expected.Level()), r.Reached >= r.Expected,
			"reached %s (level %d)", r.Reached, r.Level)
	}
	switch {
	case m.Injection.IsZero():
		add("detected within "+spec.Expect.DetectWithin.String(), false, "no fault was injected")
	case m.Detection.IsZero():
		add("detected within "+spec.Expect.DetectWithin.String(), false, "the board detected nothing")
	default:
		add("detected within "+spec.Expect.DetectWithin.String(), time.Duration(m.ToDetect) <= spec.Expect.DetectWithin,
			"detected %s after the first injected fault", time.Duration(m.ToDetect).Round(time.Millisecond))
	}
	for _, dl := range r.Deadlines {
		name := fmt.Sprintf("%s: response within %s (%s)", dl.Incident, time.Duration(dl.Within), dl.Severity)
		switch {
		case dl.Met:
			add(name, true, "acknowledged %s after detection", dl.Acknowledged.Sub(dl.Due.Add(-time.Duration(dl.Within))).Round(time.Millisecond))
		case dl.Pending:
			add(name, false, "not acknowledged yet; due %s", dl.Due.UTC().Format(time.RFC3339))
		case dl.Acknowledged.IsZero():
			add(name, false, "never acknowledged")
		default:
			add(name, false, "acknowledged %s late", dl.Acknowledged.Sub(dl.Due))
		}
	}
	hyp := spec.SteadyState
	if hyp != (SteadyState{}) {
		ss := r.SteadyState
		switch {
		case ss.Samples == 0:
			add("steady state within the hypothesis", false, "not measured (drill.WithSteadyState)")
		default:
			add("steady state within the hypothesis", ss.Within, "worst burn %.2f, error ratio %.3f, p99 %s over %d samples",
				ss.Measured.Burn, ss.Measured.ErrorRatio, ss.Measured.P99.Round(time.Microsecond), ss.Samples)
		}
	}
	add("ran to its end", r.State == StateCompleted, "state %s%s", r.State, map[bool]string{true: ": " + r.AbortReason, false: ""}[r.AbortReason != ""])
	r.Passed = !slices.ContainsFunc(r.Criteria, func(c Criterion) bool { return !c.Pass })
}

func who(c, dep string) string {
	if dep == "" {
		return c
	}
	return c + " → " + dep
}

func at(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(time.RFC3339)
}

func after(d firebreak.Duration, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return time.Duration(d).Round(time.Millisecond).String()
}

// Markdown renders the report for people.
func (r *Report) Markdown() string {
	var b strings.Builder
	// Text from people (hypothesis, reasons, names, findings) is put on
	// one line, so that it cannot open a section of its own.
	p := func(format string, args ...any) {
		for i, a := range args {
			if s, ok := a.(string); ok {
				args[i] = oneLine(s)
			}
		}
		fmt.Fprintf(&b, format+"\n", args...)
	}
	verdict := "FAILED"
	if r.Passed {
		verdict = "PASSED"
	}
	p("# Drill report: %s (%s) — %s", r.ID, r.Kind, verdict)
	p("")
	p("Service %s; %s from %s to %s.", r.Service, r.State, at(r.StartedAt), at(r.EndedAt))
	if r.AbortReason != "" {
		p("Aborted: %s.", r.AbortReason)
	}
	p("")
	p("**Hypothesis:** %s", cmpOr(r.Hypothesis, "none stated"))
	p("")
	p("**Scope:** components %q, dependencies %q", r.Scope.Components, r.Scope.Dependencies)
	if len(r.Scope.Endpoints)+len(r.Scope.Tenants) > 0 || r.Scope.Header != "" {
		p("; endpoints %q, tenants %q, header %q", r.Scope.Endpoints, r.Scope.Tenants, r.Scope.Header)
	}
	var dose []string
	for _, s := range r.Dose {
		dose = append(dose, fmt.Sprintf("%g%% from %s", s.Percent, s.After))
	}
	p("")
	p("**Dose:** %s", strings.Join(dose, " → "))
	p("")
	p("## Faults")
	p("")
	for _, f := range r.Faults {
		p("- %s: %s into %s", f.Injector, f.Fault, who(f.Component, f.Dependency))
	}
	m := r.Measured
	p("")
	p("## Measured")
	p("")
	p("| Step | At | After injection |")
	p("|---|---|---|")
	p("| Injection | %s | — |", at(m.Injection))
	p("| Time to detect | %s | %s |", at(m.Detection), after(m.ToDetect, m.Detection))
	p("| Time to announce | %s | %s |", at(m.Announcement), after(m.ToAnnounce, m.Announcement))
	p("| Time to acknowledge | %s | %s |", at(m.Acknowledgement), after(m.ToAcknowledge, m.Acknowledgement))
	p("| Time to mitigate | %s | %s |", at(m.Mitigation), after(m.ToMitigate, m.Mitigation))
	p("| Time to recover | %s | %s |", at(m.Recovery), after(m.ToRecover, m.Recovery))
	p("")
	p("Severity reached: %s (level %d); expected: %s.", r.Reached, r.Level, r.Expected)
	p("")
	if len(r.Deadlines) > 0 {
		p("| Incident | Severity | Within | Due | Acknowledged | Met |")
		p("|---|---|---|---|---|---|")
		for _, dl := range r.Deadlines {
			p("| %s | %s | %s | %s | %s | %v |", dl.Incident, dl.Severity, time.Duration(dl.Within), at(dl.Due), at(dl.Acknowledged), dl.Met)
		}
		p("")
	}
	ss := r.SteadyState
	p("## Steady state (SLO)")
	p("")
	if ss.Samples == 0 {
		p("Not measured (drill.WithSteadyStateFrom or drill.WithSteadyState).")
	} else {
		p("Worst of %d samples during the drill, against the hypothesis (at most; — is not tested).", ss.Samples)
		p("")
		p("| Measure | Hypothesis | Measured | Within |")
		p("|---|---|---|---|")
		h, m := ss.Hypothesis, ss.Measured
		row := func(name string, tested bool, hyp, got string, within bool) {
			if !tested {
				hyp, within = "—", true
			}
			p("| %s | %s | %s | %s |", name, hyp, got, map[bool]string{true: "yes", false: "no"}[within])
		}
		row("Burn rate", h.Burn > 0, fmt.Sprintf("%.2f", h.Burn), fmt.Sprintf("%.2f", m.Burn), m.Burn <= h.Burn)
		row("Error ratio", h.ErrorRatio > 0, fmt.Sprintf("%.3f", h.ErrorRatio), fmt.Sprintf("%.3f", m.ErrorRatio), m.ErrorRatio <= h.ErrorRatio)
		row("p99", h.P99 > 0, h.P99.String(), m.P99.Round(time.Microsecond).String(), m.P99 <= h.P99)
	}
	p("")
	p("## Mitigation")
	p("")
	p("Automatic: %s", list(r.Automatic))
	p("")
	p("By people: %s", list(r.ByPeople))
	p("")
	p("## Criteria")
	p("")
	for _, c := range r.Criteria {
		mark := "FAIL"
		if c.Pass {
			mark = "pass"
		}
		p("- [%s] %s — %s", mark, c.Name, c.Detail)
	}
	if len(r.Findings) > 0 {
		p("")
		p("## Findings")
		p("")
		for _, f := range r.Findings {
			p("- %s", f)
		}
	}
	if len(r.ActionItems) > 0 {
		p("")
		p("## Action items")
		p("")
		for _, a := range r.ActionItems {
			p("- %s (%s)", a.Description, cmpOr(a.Owner, "unassigned"))
		}
	}
	p("")
	p("## Timeline")
	p("")
	for _, e := range r.Timeline {
		p("- %s %s %s %s", at(e.At), e.Event, e.Actor, e.Note)
	}
	p("")
	p("## Sign-off")
	p("")
	if r.SignOff.By == "" {
		p("Not signed off yet. Reviewer: ______  Verdict: ______  Date: ______")
	} else {
		p("%s, %s: %s. %s", r.SignOff.By, at(r.SignOff.At), r.SignOff.Verdict, r.SignOff.Notes)
	}
	return b.String()
}

// oneLine replaces line breaks and other control characters with spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

func list(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, "; ")
}
