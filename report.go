package firebreak

import "time"

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

// Report is the written report on an incident, built from its timeline.
type Report struct {
	Kind        ReportKind `json:"kind"`
	IncidentID  string     `json:"incident_id"`
	Title       string     `json:"title"`
	GeneratedAt time.Time  `json:"generated_at"`
	Author      string     `json:"author,omitempty"`

	Severity     Severity                    `json:"severity"`
	MaxSeverity  Severity                    `json:"max_severity"`
	Level        int                         `json:"level"`
	TimeIn       map[Severity]Duration       `json:"time_in_severity"`
	Summary      string                      `json:"summary"`
	Impact       Impact                      `json:"impact"`
	Response     ResponseRecord              `json:"response"`
	Detection    string                      `json:"detection"`
	Isolation    []string                    `json:"isolation_and_mitigation"`
	RootCause    string                      `json:"root_cause,omitempty"`
	Timeline     []Entry                     `json:"timeline"`
	Evidence     []Evidence                  `json:"evidence"`
	Findings     []Finding                   `json:"findings"`
	ActionItems  []ActionItem                `json:"action_items"`
	Alerts       []AlertRef                  `json:"alerts"`
	Extra        map[string]string           `json:"extra,omitempty"`
	_            struct{}                    `json:"-"`
	severityTime map[Severity]time.Duration `json:"-"`
}

// Impact sums up what users felt.
type Impact struct {
	Components   []string `json:"components"`
	CoreAffected bool     `json:"core_affected"`
	Duration     Duration `json:"duration"` // detection to resolution (or to the report, if unresolved)
	Signals      int64    `json:"signals"`
	PeakValue    float64  `json:"peak_value"` // the largest signal value seen, e.g. the peak burn rate
}

// ResponseRecord says whether the plan's response deadline was met.
type ResponseRecord struct {
	Lead            string   `json:"lead"`
	ResponseWithin  Duration `json:"response_within"`
	Due             time.Time `json:"due"`
	AcknowledgedAt  time.Time `json:"acknowledged_at,omitzero"`
	AcknowledgedBy  string    `json:"acknowledged_by,omitempty"`
	Met             bool      `json:"met"`
	TimeToAck       Duration  `json:"time_to_acknowledge"`
	TimeToMitigate  Duration  `json:"time_to_mitigate"`
	TimeToResolve   Duration  `json:"time_to_resolve"`
}
