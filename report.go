package firebreak

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// ReportKind is the kind of report the plan asks for after an incident.
type ReportKind string

const (
	// Postmortem is the full analysis required for Fatal and Severe incidents.
	Postmortem ReportKind = "postmortem"
	// ReportBack is the on-duty engineer's summary for General incidents.
	ReportBack ReportKind = "report-back"
)

// ActionItem is a follow-up the report commits to.
type ActionItem struct {
	Description string    `json:"description"`
	Owner       string    `json:"owner,omitempty"`
	Due         time.Time `json:"due,omitzero"`
	Type        string    `json:"type,omitempty"` // "prevent", "detect" or "mitigate"
}

// ReportInput is what only people can add to a report.
type ReportInput struct {
	Author      string       `json:"author,omitempty"`
	Summary     string       `json:"summary,omitempty"` // replaces the generated summary
	RootCause   string       `json:"root_cause,omitempty"`
	Trigger     string       `json:"trigger,omitempty"`
	Lessons     []string     `json:"lessons,omitempty"`
	ActionItems []ActionItem `json:"action_items,omitempty"`
}

// Report is the written report on an incident, built from its timeline: a
// postmortem for Fatal and Severe incidents, a report-back for General ones.
// It renders as JSON (encoding/json) and as Markdown ([Report.Markdown]).
type Report struct {
	Kind        ReportKind `json:"kind"`
	IncidentID  string     `json:"incident_id"`
	Title       string     `json:"title"`
	Service     string     `json:"service"`
	GeneratedAt time.Time  `json:"generated_at"`
	Author      string     `json:"author,omitempty"`
	State       State      `json:"state"`

	Severity    Severity              `json:"severity"`
	MaxSeverity Severity              `json:"max_severity"`
	Level       int                   `json:"level"`
	TimeIn      map[Severity]Duration `json:"time_in_severity"`
	Summary     string                `json:"summary"`
	Impact      Impact                `json:"impact"`
	Response    ResponseRecord        `json:"response"`
	Detection   string                `json:"detection"`
	Isolation   []string              `json:"isolation_and_mitigation"`
	RootCause   string                `json:"root_cause,omitempty"`
	Trigger     string                `json:"trigger,omitempty"`
	Timeline    []Entry               `json:"timeline"`
	Evidence    []Evidence            `json:"evidence"`
	Findings    []Finding             `json:"findings"`
	Lessons     []string              `json:"lessons,omitempty"`
	ActionItems []ActionItem          `json:"action_items"`
	Alerts      []AlertRef            `json:"alerts"`

	// Category and Group are the incident's fault category and the group
	// responsible for it; VerifiedBy and VerifiedAt the business owner's
	// confirmation of the fix, if the plan asked for one.
	Category   Category  `json:"category,omitempty"`
	Group      string    `json:"group,omitempty"`
	VerifiedBy string    `json:"verified_by,omitempty"`
	VerifiedAt time.Time `json:"verified_at,omitzero"`

	// Drill is the ID of the drill whose incident this is, "" for a real
	// one; a drill's report is titled "[DRILL] …" (drill.go).
	Drill string `json:"drill,omitempty"`
}

// Impact sums up what users felt.
type Impact struct {
	Components   []string `json:"components"`
	CoreAffected bool     `json:"core_affected"`
	Duration     Duration `json:"duration"` // detection to resolution, or to the report if unresolved
	Signals      int64    `json:"signals"`
	PeakValue    float64  `json:"peak_value"` // the largest signal value, e.g. the peak burn rate
}

// ResponseRecord says whether the plan's response deadline was met.
//
// Outcome is one of:
//   - "met": acknowledged by the deadline;
//   - "breached": the deadline passed unacknowledged. A breach, once the
//     timeline records it, stays in the report whatever happens afterwards
//     (a late acknowledgement, a downgrade);
//   - "pending": not acknowledged, and the deadline has not passed yet;
//   - "none": no response was required (the incident was graded None).
//
// Severity, ResponseWithin, Lead and Due all describe the same deadline: the
// one breached (the first breach), or else the one in force for the current
// severity, so Due is always ResponseWithin after the response clock started.
type ResponseRecord struct {
	Outcome        string    `json:"outcome"`
	Severity       Severity  `json:"severity"` // whose deadline this records
	Lead           string    `json:"lead"`
	ResponseWithin Duration  `json:"response_within"`
	Due            time.Time `json:"due,omitzero"`
	AcknowledgedAt time.Time `json:"acknowledged_at,omitzero"`
	AcknowledgedBy string    `json:"acknowledged_by,omitempty"`
	Met            bool      `json:"met"`
	Breached       bool      `json:"breached"`
	BreachedAt     time.Time `json:"breached_at,omitzero"`
	EscalatedTo    string    `json:"escalated_to,omitempty"`
	// Breaches lists every breach the timeline records, oldest first: one
	// per severity whose deadline passed unacknowledged.
	Breaches       []Breach `json:"breaches,omitempty"`
	TimeToAck      Duration `json:"time_to_acknowledge,omitempty"`
	TimeToMitigate Duration `json:"time_to_mitigate,omitempty"`
	TimeToResolve  Duration `json:"time_to_resolve,omitempty"`
}

// Response outcomes; see [ResponseRecord].
const (
	OutcomeMet      = "met"
	OutcomeBreached = "breached"
	OutcomePending  = "pending"
	OutcomeNone     = "none"
)

// Breach is one response deadline that passed unacknowledged.
type Breach struct {
	At          time.Time `json:"at"`
	Severity    Severity  `json:"severity"`
	EscalatedTo string    `json:"escalated_to,omitempty"`
}

// responseRecord derives the response record from the incident, its
// timeline's breached entries (which survive downgrades) and the plan.
func responseRecord(inc *Incident, p *Plan, end time.Time) ResponseRecord {
	rr := ResponseRecord{AcknowledgedAt: inc.AcknowledgedAt, AcknowledgedBy: inc.AcknowledgedBy}
	for _, e := range inc.Timeline {
		if e.Event == EventBreached {
			rr.Breaches = append(rr.Breaches, Breach{At: e.At, Severity: e.Severity, EscalatedTo: p.Response[e.Severity].EscalateTo})
		}
	}
	if n := len(rr.Breaches); n > 0 && inc.Breached && inc.EscalatedTo != "" {
		rr.Breaches[n-1].EscalatedTo = inc.EscalatedTo
	}
	if len(rr.Breaches) > 0 {
		first := rr.Breaches[0]
		rp := p.Response[first.Severity]
		// The board marks the breach when the deadline passes.
		rr.Outcome, rr.Severity, rr.Lead, rr.ResponseWithin, rr.Due = OutcomeBreached, first.Severity, rp.Lead, rp.Within, first.At
		rr.Breached, rr.BreachedAt, rr.EscalatedTo = true, first.At, first.EscalatedTo
	} else {
		rp := p.Response[inc.Severity]
		rr.Severity, rr.Lead, rr.Due = inc.Severity, rp.Lead, inc.ResponseDue
		switch {
		case inc.ResponseDue.IsZero():
			rr.Outcome = OutcomeNone
		case !inc.AcknowledgedAt.IsZero() && !inc.AcknowledgedAt.After(inc.ResponseDue):
			rr.Outcome, rr.Met = OutcomeMet, true
		case !inc.AcknowledgedAt.IsZero() || !end.Before(inc.ResponseDue):
			// Acknowledged late, or not at all by the deadline, without the
			// board having paged a breach (its signals had cleared).
			rr.Outcome, rr.Breached, rr.BreachedAt = OutcomeBreached, true, inc.ResponseDue
		default:
			rr.Outcome = OutcomePending
		}
		if rr.Outcome != OutcomeNone {
			rr.ResponseWithin = rp.Within
		}
	}
	if !inc.AcknowledgedAt.IsZero() {
		rr.TimeToAck = Duration(inc.AcknowledgedAt.Sub(inc.DetectedAt))
	}
	if !inc.MitigatedAt.IsZero() {
		rr.TimeToMitigate = Duration(inc.MitigatedAt.Sub(inc.DetectedAt))
	}
	if !inc.ResolvedAt.IsZero() {
		rr.TimeToResolve = Duration(inc.ResolvedAt.Sub(inc.DetectedAt))
	}
	return rr
}

// MarshalJSON encodes the report as its fields, with any number that JSON
// cannot carry (NaN, ±Inf) written as a finite one, so that encoding a
// report never fails on a number.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report // without the method, so this does not recurse
	r.Impact.PeakValue = finite(r.Impact.PeakValue)
	r.Alerts = finiteAlerts(r.Alerts)
	r.Evidence = finiteEvidence(r.Evidence)
	return json.Marshal(plain(r))
}

// clone returns a deep copy of r (nil for nil).
func (r *Report) clone() *Report {
	if r == nil {
		return nil
	}
	c := *r
	c.TimeIn = maps.Clone(r.TimeIn)
	c.Impact.Components = slices.Clone(r.Impact.Components)
	c.Isolation = slices.Clone(r.Isolation)
	c.Timeline = slices.Clone(r.Timeline)
	c.Evidence = cloneEvidence(r.Evidence)
	c.Findings = slices.Clone(r.Findings)
	c.Lessons = slices.Clone(r.Lessons)
	c.ActionItems = slices.Clone(r.ActionItems)
	c.Alerts = slices.Clone(r.Alerts)
	for i := range c.Alerts {
		c.Alerts[i].Labels = maps.Clone(c.Alerts[i].Labels)
	}
	return &c
}

// isolationKinds are the signals that record an isolating or mitigating
// action taken by the SDK itself.
var isolationKinds = []Kind{KindBreakerOpen, KindFallbackActive, KindFailover, KindLoadShed, KindDegraded, KindRollback}

// BuildReport builds the report on inc under plan p, as at now. Most callers
// use [Board.CloseWith] or [Board.IncidentReport] instead.
func BuildReport(inc Incident, p *Plan, in ReportInput, now time.Time) *Report {
	kind := p.Response[inc.MaxSeverity].Report
	if kind == "" {
		kind = ReportBack
		if inc.MaxSeverity >= Severe {
			kind = Postmortem
		}
	}
	end := cmp.Or(inc.ResolvedAt, now)
	r := &Report{
		Kind: kind, IncidentID: inc.ID, Title: inc.Title, Service: inc.Service, GeneratedAt: now,
		Author: in.Author, State: inc.State,
		Severity: inc.Severity, MaxSeverity: inc.MaxSeverity, Level: inc.MaxSeverity.Level(),
		TimeIn:      timeInSeverity(inc, end),
		Timeline:    slices.Clone(inc.Timeline),
		Evidence:    cloneEvidence(inc.Evidence),
		Findings:    slices.Clone(inc.Findings),
		Lessons:     slices.Clone(in.Lessons),
		ActionItems: slices.Clone(in.ActionItems),
		Alerts:      slices.Clone(inc.Alerts),
		RootCause:   in.RootCause,
		Trigger:     in.Trigger,
		Category:    inc.Category, Group: inc.Group, VerifiedBy: inc.VerifiedBy, VerifiedAt: inc.VerifiedAt,
	}
	if inc.Drill != "" { // drill.go
		r.Drill = inc.Drill
		if !strings.HasPrefix(r.Title, drillMark) {
			r.Title = drillMark + r.Title
		}
	}
	if r.ActionItems == nil {
		r.ActionItems = []ActionItem{}
	}
	r.Impact = Impact{Components: slices.Clone(inc.Components), CoreAffected: inc.CoreAffected, Duration: Duration(end.Sub(inc.DetectedAt))}
	for _, a := range inc.Alerts {
		r.Impact.Signals += a.Count
		r.Impact.PeakValue = max(r.Impact.PeakValue, a.Peak)
	}
	r.Response = responseRecord(&inc, p, end)
	if len(inc.Alerts) > 0 {
		first := inc.Alerts[0]
		for _, a := range inc.Alerts[1:] {
			if a.FirstSeen.Before(first.FirstSeen) {
				first = a
			}
		}
		r.Detection = fmt.Sprintf("Detected at %s by a %s signal from %s.", inc.DetectedAt.UTC().Format(time.RFC3339), first.Kind, alertWho(&first))
		if !inc.NotifiedAt.IsZero() {
			r.Detection += fmt.Sprintf(" Responders were notified at %s.", inc.NotifiedAt.UTC().Format(time.RFC3339))
		}
	}
	for _, a := range inc.Alerts {
		if slices.Contains(isolationKinds, a.Kind) {
			line := fmt.Sprintf("%s on %s", a.Kind, alertWho(&a))
			if a.Kind == KindBreakerOpen && a.Fallback {
				line += " (fallback serving)"
			}
			r.Isolation = append(r.Isolation, line)
		}
	}
	for _, e := range inc.Timeline {
		if e.Event == EventMitigated {
			r.Isolation = append(r.Isolation, fmt.Sprintf("%s by %s at %s", e.Note, e.Actor, e.At.UTC().Format(time.RFC3339)))
		}
	}
	if r.RootCause == "" && len(inc.Findings) > 0 {
		r.RootCause = inc.Findings[len(inc.Findings)-1].SuspectedCause
	}
	r.Summary = in.Summary
	if r.Summary == "" {
		state := "is still open"
		if !inc.ResolvedAt.IsZero() {
			state = "was resolved after " + fmtDuration(end.Sub(inc.DetectedAt))
		}
		r.Summary = fmt.Sprintf("%s. A %s (level %d) incident affecting %s; it %s. %s.",
			inc.Title, inc.MaxSeverity, inc.MaxSeverity.Level(), strings.Join(inc.Components, ", "), state, outcomeSentence(&r.Response))
	}
	return r
}

func outcomeSentence(rr *ResponseRecord) string {
	switch rr.Outcome {
	case OutcomeMet:
		return "The response deadline was met"
	case OutcomeBreached:
		return fmt.Sprintf("The %s response deadline was breached", rr.Severity)
	case OutcomePending:
		return "The response deadline has not passed yet"
	}
	return "No response was required"
}

func fmtDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// timeInSeverity sums how long the incident spent at each severity.
func timeInSeverity(inc Incident, end time.Time) map[Severity]Duration {
	out := map[Severity]Duration{}
	if inc.DetectedAt.IsZero() || len(inc.Timeline) == 0 {
		return out
	}
	at, sev := inc.DetectedAt, inc.Timeline[0].Severity
	for _, e := range inc.Timeline {
		if e.At.After(end) {
			break
		}
		if e.Severity != sev {
			out[sev] += Duration(e.At.Sub(at))
			at, sev = e.At, e.Severity
		}
	}
	out[sev] += Duration(end.Sub(at))
	for k, v := range out {
		if v <= 0 {
			delete(out, k)
		}
	}
	return out
}

// Markdown renders the report for people. Everything that came from
// people or from signals (titles, names, error text, notes, findings) is
// escaped: it renders as the text it is, on one line, and cannot add
// headings, emphasis, links, HTML or table cells. Line breaks in it become
// spaces, and URLs and e-mail addresses in it are not turned into links.
func (r *Report) Markdown() string {
	var b strings.Builder
	title := "Postmortem"
	if r.Kind == ReportBack {
		title = "Report-back"
	}
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	fmt.Fprintf(&b, "# %s: %s — %s\n\n", title, md(r.IncidentID), md(r.Title))
	if r.Drill != "" { // drill.go
		fmt.Fprintf(&b, "Drill: %s — an exercise, not a real incident.\n\n", md(r.Drill))
	}
	fmt.Fprintf(&b, "- Service: %s\n- Severity: %s (level %d), highest %s\n- State: %s\n", md(r.Service), r.Severity, r.Severity.Level(), r.MaxSeverity, r.State)
	for _, s := range []Severity{Fatal, Severe, General, None} {
		if d, ok := r.TimeIn[s]; ok {
			fmt.Fprintf(&b, "- Time at %s: %s\n", s, fmtDuration(time.Duration(d)))
		}
	}
	if r.Author != "" {
		fmt.Fprintf(&b, "- Author: %s\n", md(r.Author))
	}
	r.markdownOrg(&b)
	fmt.Fprintf(&b, "\n## Summary\n\n%s\n", md(r.Summary))
	fmt.Fprintf(&b, "\n## Impact\n\n- Components: %s", mdJoin(r.Impact.Components))
	if r.Impact.CoreAffected {
		b.WriteString(" (core affected)")
	}
	fmt.Fprintf(&b, "\n- Duration: %s\n- Signals: %d\n- Peak value: %.4g\n", fmtDuration(time.Duration(r.Impact.Duration)), r.Impact.Signals, finite(r.Impact.PeakValue))
	rr := r.Response
	b.WriteString("\n## Response\n\n")
	if rr.Outcome != OutcomeNone && rr.Outcome != "" {
		fmt.Fprintf(&b, "- Lead: %s, to respond within %s (%s)\n", md(rr.Lead), fmtDuration(time.Duration(rr.ResponseWithin)), rr.Severity)
	}
	if !rr.Due.IsZero() {
		fmt.Fprintf(&b, "- Due: %s\n", ts(rr.Due))
	}
	if !rr.AcknowledgedAt.IsZero() {
		fmt.Fprintf(&b, "- Acknowledged by %s at %s, after %s\n", md(rr.AcknowledgedBy), ts(rr.AcknowledgedAt), fmtDuration(time.Duration(rr.TimeToAck)))
	}
	fmt.Fprintf(&b, "- Deadline: %s", strings.ToUpper(cmp.Or(rr.Outcome, OutcomeNone)))
	if rr.Breached {
		fmt.Fprintf(&b, " at %s", ts(rr.BreachedAt))
	}
	if rr.EscalatedTo != "" {
		fmt.Fprintf(&b, " (escalated to %s)", md(rr.EscalatedTo))
	}
	b.WriteString("\n")
	for _, br := range rr.Breaches[min(1, len(rr.Breaches)):] {
		fmt.Fprintf(&b, "- Also breached at %s: %s", ts(br.At), br.Severity)
		if br.EscalatedTo != "" {
			fmt.Fprintf(&b, " (escalated to %s)", md(br.EscalatedTo))
		}
		b.WriteString("\n")
	}
	if rr.TimeToMitigate > 0 {
		fmt.Fprintf(&b, "- Time to mitigate: %s\n", fmtDuration(time.Duration(rr.TimeToMitigate)))
	}
	if rr.TimeToResolve > 0 {
		fmt.Fprintf(&b, "- Time to resolve: %s\n", fmtDuration(time.Duration(rr.TimeToResolve)))
	}
	fmt.Fprintf(&b, "\n## Detection\n\n%s\n", cmp.Or(md(r.Detection), "(no signal recorded)"))
	b.WriteString("\n## Isolation and mitigation\n\n")
	writeList(&b, r.Isolation, "(none recorded)")
	if r.Kind == Postmortem || r.RootCause != "" {
		fmt.Fprintf(&b, "\n## Root cause\n\n%s\n", cmp.Or(md(r.RootCause), "(not yet established)"))
		if r.Trigger != "" {
			fmt.Fprintf(&b, "\nTrigger: %s\n", md(r.Trigger))
		}
	}
	b.WriteString("\n## Timeline\n\n| Time (UTC) | Event | Severity | State | By | Note |\n|---|---|---|---|---|---|\n")
	for _, e := range r.Timeline {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", e.At.UTC().Format("2006-01-02 15:04:05"), md(string(e.Event)), e.Severity, e.State, md(e.Actor), md(e.Note))
	}
	b.WriteString("\n## Evidence\n\n")
	var ev []string
	for _, e := range r.Evidence {
		line := fmt.Sprintf("%s from %s", e.Kind, cmp.Or(e.Source, "unknown"))
		if len(e.TraceIDs) > 0 {
			line += ": traces " + strings.Join(e.TraceIDs, ", ")
		}
		if len(e.Metrics) > 0 {
			keys := slices.Sorted(maps.Keys(e.Metrics))
			parts := make([]string, 0, len(keys))
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s=%.4g", k, finite(e.Metrics[k])))
			}
			line += ": " + strings.Join(parts, ", ")
		}
		if e.Note != "" {
			line += " — " + e.Note
		}
		ev = append(ev, line)
	}
	writeList(&b, ev, "(none collected)")
	b.WriteString("\n## Findings\n\n")
	var fs []string
	for _, f := range r.Findings {
		line := fmt.Sprintf("%s (%s, %s)", f.Hypothesis, f.Author, ts(f.At))
		if f.SuspectedCause != "" {
			line += "; suspected cause: " + f.SuspectedCause
		}
		if f.NextSteps != "" {
			line += "; next: " + f.NextSteps
		}
		fs = append(fs, line)
	}
	writeList(&b, fs, "(no preliminary conclusion recorded)")
	if len(r.Lessons) > 0 {
		b.WriteString("\n## Lessons\n\n")
		writeList(&b, r.Lessons, "")
	}
	b.WriteString("\n## Action items\n\n")
	var ai []string
	for _, a := range r.ActionItems {
		line := a.Description
		if a.Type != "" {
			line = "[" + a.Type + "] " + line
		}
		if a.Owner != "" {
			line += " — " + a.Owner
		}
		if !a.Due.IsZero() {
			line += ", due " + a.Due.UTC().Format("2006-01-02")
		}
		ai = append(ai, line)
	}
	writeList(&b, ai, "(none yet)")
	return b.String()
}

// writeList writes items as a Markdown list, escaping each.
func writeList(b *strings.Builder, items []string, empty string) {
	if len(items) == 0 {
		b.WriteString(empty + "\n")
		return
	}
	for _, it := range items {
		b.WriteString("- " + md(it) + "\n")
	}
}

func mdJoin(items []string) string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = md(it)
	}
	return strings.Join(out, ", ")
}

// mdReplacer escapes text for Markdown (CommonMark and GitHub's flavour):
// line breaks of every kind become spaces, HTML's special characters become
// entities, the characters that start emphasis, code, links, headings,
// strikethrough and table cells are backslash-escaped, and the sequences
// that GitHub turns into links on their own are broken with an escape.
var mdReplacer = strings.NewReplacer(
	"\r\n", " ", "\r", " ", "\n", " ", "\v", " ", "\f", " ", "\u0085", " ", "\u2028", " ", "\u2029", " ",
	"&", "&amp;", "<", "&lt;", ">", "&gt;",
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "#", `\#`, "|", `\|`, "~", `\~`,
	"@", `\@`, "://", `:\/\/`, "www.", `www\.`, "WWW.", `WWW\.`,
)

// md escapes s for use anywhere in a Markdown line: a paragraph, a list
// item, a heading or a table cell.
func md(s string) string {
	s = strings.TrimSpace(mdReplacer.Replace(s))
	if s == "" {
		return s
	}
	// What would start a list, a quote, a heading underline or a thematic
	// break at the start of a line.
	switch s[0] {
	case '-', '+', '=':
		return `\` + s
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); i > 0 && (s[i] == '.' || s[i] == ')') {
		return s[:i] + `\` + s[i:]
	}
	return s
}
