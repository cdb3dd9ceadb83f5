package firebreak

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// State is where an incident is in its lifecycle:
// Detected → Acknowledged → Mitigated → Resolved → Closed. A resolved
// incident whose signals fire again within the plan's reopen window goes back
// to the state it had before it was resolved.
type State int8

const (
	Detected State = iota
	Acknowledged
	Mitigated
	Resolved
	Closed
)

var stateNames = [...]string{Detected: "detected", Acknowledged: "acknowledged", Mitigated: "mitigated", Resolved: "resolved", Closed: "closed"}

// String returns the lower-case name of the state.
func (s State) String() string {
	if s >= Detected && s <= Closed {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int8(s))
}

// Open reports whether the incident still needs work: detected, acknowledged
// or mitigated.
func (s State) Open() bool { return s <= Mitigated }

// MarshalText implements [encoding.TextMarshaler].
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler].
func (s *State) UnmarshalText(b []byte) error {
	v, err := ParseState(string(b))
	if err == nil {
		*s = v
	}
	return err
}

// ParseState parses a state name as returned by String.
func ParseState(text string) (State, error) {
	for i, n := range stateNames {
		if strings.EqualFold(n, text) {
			return State(i), nil
		}
	}
	return 0, fmt.Errorf("firebreak: unknown state %q (want detected, acknowledged, mitigated, resolved or closed)", text)
}

// Event says what happened to an incident in a timeline entry or a
// notification.
type Event string

// Timeline and notification events.
const (
	EventDetected     Event = "detected"     // the incident passed its group wait and was announced
	EventSignal       Event = "signal"       // an alert joined, fired again or cleared
	EventEscalated    Event = "escalated"    // severity rose
	EventDowngraded   Event = "downgraded"   // a person lowered the severity
	EventBreached     Event = "breached"     // the response deadline passed unacknowledged
	EventRenotify     Event = "renotify"     // still unacknowledged: reminder
	EventAcknowledged Event = "acknowledged" // a person took it
	EventMitigated    Event = "mitigated"    // user impact stopped
	EventResolved     Event = "resolved"     // the service works as usual again
	EventReopened     Event = "reopened"     // signals fired again within the reopen window
	EventFinding      Event = "finding"      // a preliminary conclusion was recorded
	EventEvidence     Event = "evidence"     // evidence was attached
	EventClosed       Event = "closed"       // the report was filed
)

// Entry is one line of an incident's timeline.
type Entry struct {
	At       time.Time `json:"at"`
	Event    Event     `json:"event"`
	Actor    string    `json:"actor,omitempty"` // a person's name, or "firebreak" for automatic changes
	Severity Severity  `json:"severity"`        // the severity after the entry
	State    State     `json:"state"`           // the state after the entry
	Note     string    `json:"note,omitempty"`
}

// AlertRef is one alert (a distinct signal identity) inside an incident.
type AlertRef struct {
	Fingerprint string            `json:"fingerprint"`
	Kind        Kind              `json:"kind"`
	Component   string            `json:"component"`
	Dependency  string            `json:"dependency,omitempty"`
	Tier        Tier              `json:"tier"`
	Labels      map[string]string `json:"labels"`
	Firing      bool              `json:"firing"`
	Fallback    bool              `json:"fallback"`
	Severity    Severity          `json:"severity"` // what the plan grades this alert on its own
	Value       float64           `json:"value"`
	Peak        float64           `json:"peak"` // the largest value reported
	Summary     string            `json:"summary,omitempty"`
	Count       int64             `json:"count"` // signals received
	FirstSeen   time.Time         `json:"first_seen"`
	LastSeen    time.Time         `json:"last_seen"`
	ClearedAt   time.Time         `json:"cleared_at,omitzero"`
	// Aggregated is, for an entry that stands for the alerts of one kind an
	// incident holds beyond [MaxAlertsPerIncident], how many alerts it
	// stands for ("and 9,000 more alerts of kind X" in Summary); 0 for an
	// ordinary alert. Such an entry has no fingerprint of a real alert: its
	// labels are the kind's alert name, the service, env, fault domain and
	// "aggregated".
	Aggregated int `json:"aggregated,omitempty"`
}

// Evidence is material collected for root-cause analysis: trace IDs of
// failing requests, metric snapshots, health results, versions.
type Evidence struct {
	At       time.Time          `json:"at"`
	Kind     string             `json:"kind"` // "trace", "metrics", "health", "version", "log" or your own
	Source   string             `json:"source,omitempty"`
	TraceIDs []string           `json:"trace_ids,omitempty"`
	Metrics  map[string]float64 `json:"metrics,omitempty"`
	Note     string             `json:"note,omitempty"`
}

// Finding is a preliminary conclusion, as the plan asks the responders to
// report.
type Finding struct {
	At             time.Time `json:"at"`
	Author         string    `json:"author"`
	Hypothesis     string    `json:"hypothesis"`
	SuspectedCause string    `json:"suspected_cause,omitempty"`
	Confidence     string    `json:"confidence,omitempty"` // "low", "medium", "high"
	NextSteps      string    `json:"next_steps,omitempty"`
}

// Incident is a snapshot of one incident. Board methods return copies; changing
// one changes nothing on the board.
type Incident struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Service     string   `json:"service"`
	Env         string   `json:"env,omitempty"`
	FaultDomain string   `json:"fault_domain"` // the dependency at fault, else the component
	GroupKey    string   `json:"group_key"`
	Severity    Severity `json:"severity"`
	MaxSeverity Severity `json:"max_severity"`
	Level       int      `json:"level"`           // the plan's response level, 1 to 3 (0 for none)
	Lead        string   `json:"lead"`            // who leads the response at this severity
	Owner       string   `json:"owner,omitempty"` // the person or role it was handed to (Board.HandOff); empty until then
	State       State    `json:"state"`

	DetectedAt     time.Time `json:"detected_at"`
	NotifiedAt     time.Time `json:"notified_at,omitzero"` // when the announcement (EventDetected) was queued for every notifier, not a delivery receipt (BoardStats.AnnouncementsLost counts those no notifier delivered); zero while still in its group wait
	AcknowledgedAt time.Time `json:"acknowledged_at,omitzero"`
	AcknowledgedBy string    `json:"acknowledged_by,omitempty"`
	MitigatedAt    time.Time `json:"mitigated_at,omitzero"`
	ResolvedAt     time.Time `json:"resolved_at,omitzero"`
	ClosedAt       time.Time `json:"closed_at,omitzero"`

	// ResponseDue is when a response must have started at the current
	// severity; Breached is set once it passed unacknowledged.
	ResponseDue time.Time `json:"response_due"`
	Breached    bool      `json:"breached"`
	EscalatedTo string    `json:"escalated_to,omitempty"` // the role paged after a breach, or by the last escalation step
	// EscalationStep counts the steps of the severity's escalation chain
	// fired in this response (repeats included); 0 without a chain.
	EscalationStep int      `json:"escalation_step,omitempty"`
	ReopenCount    int      `json:"reopen_count"`
	Components     []string `json:"components"` // affected components, sorted
	CoreAffected   bool     `json:"core_affected"`

	// Category is the fault category (see [Categories]), derived from the
	// alerts or set by a person ([Board.SetCategory]); Group is the group
	// the plan makes responsible for it. Both are empty until an alert of a
	// categorised kind joins.
	Category Category `json:"category,omitempty"`
	Group    string   `json:"group,omitempty"`
	// VerifiedAt and VerifiedBy record the business owner's confirmation
	// of the fix ([Board.Verify]); zero until then, and cleared on reopen.
	VerifiedAt time.Time `json:"verified_at,omitzero"`
	VerifiedBy string    `json:"verified_by,omitempty"`

	// Drill is the ID of the drill that raised the incident, or "" for a
	// real incident. Drill incidents are graded and timed like real ones,
	// but kept out of [Board.List] by default and out of the public
	// status, and routed to the drill's participants (drill.go).
	Drill string `json:"drill,omitempty"`

	Alerts   []AlertRef `json:"alerts"`
	Timeline []Entry    `json:"timeline"`
	Evidence []Evidence `json:"evidence"`
	Findings []Finding  `json:"findings"`
	Report   *Report    `json:"report,omitempty"`
}

// Notification tells a [Notifier] what happened to an incident.
type Notification struct {
	Event    Event
	At       time.Time
	Incident Incident // a snapshot taken when the event happened
	// Fired and Resolved are the alerts that fired or cleared with this
	// event, for notifiers that speak in alerts (Alertmanager webhooks).
	Fired, Resolved []AlertRef
	// AlertSeverity is the plan's Alertmanager "severity" label for the
	// incident's severity: critical, error, warning or info.
	AlertSeverity string
	// PreviousSeverity and PreviousAlertSeverity are the severity before an
	// escalation or a downgrade, so that receivers keyed on the severity
	// label can retire what they were sent before.
	PreviousSeverity      Severity
	PreviousAlertSeverity string
	// EscalationStep and EscalationTarget are, for [EventEscalationStep],
	// the step's number in this response (1 for the first; repeats count
	// on) and whom it pages.
	EscalationStep   int
	EscalationTarget string

	view  *snapshot // the incident's alerts, filled in on delivery (materialize)
	extra bool      // the alert that changed is kept only in an aggregate: list it too
}

// A Notifier delivers notifications to people or systems. The Board calls it
// from its own delivery goroutine, one notification at a time per notifier, and
// never from Report; a slow notifier delays only its own queue. Notify should
// honour ctx, which is cancelled when the Board closes. Notify may call the
// Board's queries and actions; [Board.Close] called from Notify returns at
// once with [ErrCloseFromNotifier] (it cannot wait for the notifier that
// called it), and that notifier's queue drains after Notify returns.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// NotifierFunc adapts a function to the Notifier interface.
type NotifierFunc func(ctx context.Context, n Notification) error

// Notify calls f(ctx, n).
func (f NotifierFunc) Notify(ctx context.Context, n Notification) error { return f(ctx, n) }

// MarshalJSON encodes the incident as its fields, with any number that JSON
// cannot carry (NaN, ±Inf) written as a finite one (0, ±the largest float),
// so that encoding an incident never fails on a number.
func (inc Incident) MarshalJSON() ([]byte, error) {
	type plain Incident // without the method, so this does not recurse
	inc.Alerts = finiteAlerts(inc.Alerts)
	inc.Evidence = finiteEvidence(inc.Evidence)
	return json.Marshal(plain(inc))
}

// finiteAlerts returns alerts with non-finite values made finite; it copies
// only when there is one.
func finiteAlerts(alerts []AlertRef) []AlertRef {
	if !slices.ContainsFunc(alerts, func(a AlertRef) bool { return !isFinite(a.Value) || !isFinite(a.Peak) }) {
		return alerts
	}
	out := slices.Clone(alerts)
	for i := range out {
		out[i].Value, out[i].Peak = finite(out[i].Value), finite(out[i].Peak)
	}
	return out
}

// finiteEvidence returns evidence with non-finite metrics made finite; it
// copies only when there is one.
func finiteEvidence(ev []Evidence) []Evidence {
	bad := func(e Evidence) bool {
		for _, v := range e.Metrics {
			if !isFinite(v) {
				return true
			}
		}
		return false
	}
	if !slices.ContainsFunc(ev, bad) {
		return ev
	}
	out := slices.Clone(ev)
	for i := range out {
		if bad(out[i]) {
			out[i].Metrics = finiteMetrics(out[i].Metrics)
		}
	}
	return out
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// checkMetrics reports the first metric that is not a finite number, naming
// it, for callers that hand metrics in.
func checkMetrics(field string, m map[string]float64) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !isFinite(m[k]) {
			return fmt.Errorf("firebreak: %s[%q] is %v: metrics must be finite numbers", field, k, m[k])
		}
		if k == "" {
			return fmt.Errorf("firebreak: %s: a metric needs a name", field)
		}
	}
	return nil
}
