package firebreak

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what people may add to one incident, so that a script gone wrong
// (or a hostile caller with a token) cannot grow an incident without bound.
// The operations API answers 409 when an incident is full and 400 when one
// piece is too large.
const (
	// MaxFindings is how many findings one incident holds.
	MaxFindings = 100
	// MaxEvidence is how many pieces of evidence one incident holds, those
	// the board collects on its own included.
	MaxEvidence = 500
	// MaxPersonEntries is how many timeline entries people may add to one
	// incident through the operations API (acknowledgements, mitigations,
	// resolutions, severity changes, findings, evidence).
	MaxPersonEntries = 200
	// MaxTextLen is the longest text field (a hypothesis, a note, an
	// action, a reason), in bytes.
	MaxTextLen = 4096
	// MaxTraceIDs and MaxMetrics bound one piece of evidence.
	MaxTraceIDs = 100
	MaxMetrics  = 100
)

// ErrLimit is returned when an incident already holds as much as a limit
// allows (see [MaxFindings]).
var ErrLimit = errors.New("firebreak: limit reached")

func checkText(field, s string) error {
	if len(s) > MaxTextLen {
		return fmt.Errorf("firebreak: %s is %d bytes, longer than %d", field, len(s), MaxTextLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("firebreak: %s is not valid UTF-8", field)
	}
	return nil
}

// checkFinding validates a finding's text fields.
func checkFinding(f Finding) error {
	for _, fv := range []struct{ name, v string }{{"hypothesis", f.Hypothesis}, {"suspected_cause", f.SuspectedCause},
		{"confidence", f.Confidence}, {"next_steps", f.NextSteps}, {"author", f.Author}} {
		if err := checkText("AddFinding: "+fv.name, fv.v); err != nil {
			return err
		}
	}
	return nil
}

// checkEvidence validates a piece of evidence: text lengths, counts and
// finite metrics.
func checkEvidence(e Evidence) error {
	for _, fv := range []struct{ name, v string }{{"kind", e.Kind}, {"source", e.Source}, {"note", e.Note}} {
		if err := checkText("AddEvidence: "+fv.name, fv.v); err != nil {
			return err
		}
	}
	if len(e.TraceIDs) > MaxTraceIDs {
		return fmt.Errorf("firebreak: AddEvidence: trace_ids has %d entries, more than %d", len(e.TraceIDs), MaxTraceIDs)
	}
	for i, id := range e.TraceIDs {
		if len(id) > 128 || id == "" {
			return fmt.Errorf("firebreak: AddEvidence: trace_ids[%d] must be 1 to 128 bytes", i)
		}
	}
	if len(e.Metrics) > MaxMetrics {
		return fmt.Errorf("firebreak: AddEvidence: metrics has %d entries, more than %d", len(e.Metrics), MaxMetrics)
	}
	return checkMetrics("AddEvidence: metrics", e.Metrics)
}

// personEntries counts the timeline entries people added.
func personEntries(inc *Incident) int {
	n := 0
	for _, e := range inc.Timeline {
		if e.Actor != systemActor && e.Actor != "" {
			n++
		}
	}
	return n
}

// checkReportInput bounds what people write into a report.
func checkReportInput(in ReportInput) error {
	for _, fv := range []struct{ name, v string }{{"author", in.Author}, {"summary", in.Summary}, {"root_cause", in.RootCause}, {"trigger", in.Trigger}} {
		if err := checkText(fv.name, fv.v); err != nil {
			return err
		}
	}
	if len(in.Lessons) > maxReportItems || len(in.ActionItems) > maxReportItems {
		return fmt.Errorf("firebreak: a report holds at most %d lessons and %d action items", maxReportItems, maxReportItems)
	}
	for i, l := range in.Lessons {
		if err := checkText(fmt.Sprintf("lessons[%d]", i), l); err != nil {
			return err
		}
	}
	for i, a := range in.ActionItems {
		for _, fv := range []struct{ name, v string }{{"description", a.Description}, {"owner", a.Owner}, {"type", a.Type}} {
			if err := checkText(fmt.Sprintf("action_items[%d].%s", i, fv.name), fv.v); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxReportItems bounds the lessons and action items of one report.
const maxReportItems = 100

// checkNames refuses a service name, env or declared component that would
// show oddly or ambiguously where people read it (the public status, pages,
// notifications): control characters such as CR/LF, surrounding spaces, an
// empty or repeated component.
func checkNames(service, env string, components []string) []error {
	var errs []error
	bad := func(s string) bool {
		return strings.TrimSpace(s) != s || strings.ContainsFunc(s, unicode.IsControl) || !utf8.ValidString(s)
	}
	if bad(service) {
		errs = append(errs, fmt.Errorf("firebreak: NewBoard: service name %q has surrounding spaces, control characters or invalid UTF-8", service))
	}
	if bad(env) {
		errs = append(errs, fmt.Errorf("firebreak: WithEnv: %q has surrounding spaces, control characters or invalid UTF-8", env))
	}
	seen := map[string]bool{}
	for i, c := range components {
		switch {
		case c == "":
			errs = append(errs, fmt.Errorf("firebreak: WithComponents: component %d is empty", i))
		case bad(c):
			errs = append(errs, fmt.Errorf("firebreak: WithComponents: component %d (%q) has surrounding spaces, control characters or invalid UTF-8", i, c))
		case seen[c]:
			errs = append(errs, fmt.Errorf("firebreak: WithComponents: component %q is declared twice", c))
		}
		seen[c] = true
	}
	return errs
}
