package firebreak

import (
	"fmt"
	"time"

	"github.com/firebreak-go/firebreak/internal/fingerprint"
)

// Kind names what a sensor saw. Kinds are a small, documented set so that
// they can be used as metric attributes and alert names; a custom kind must be
// lower-case words joined by underscores, and is graded by the plan's rules
// like any other (with no rule it is [None]).
type Kind string

// The kinds reported by firebreak's own packages.
const (
	// KindBreakerOpen: a circuit breaker opened (firing) or closed again
	// (cleared). Signal.Fallback says whether a fallback serves meanwhile.
	KindBreakerOpen Kind = "breaker_open"
	// KindHealthFailed: a health check went down (firing) or came back.
	KindHealthFailed Kind = "health_failed"
	// KindErrorBudgetBurn: an availability SLO burns its error budget at a
	// page or ticket rate. Value is the burn rate of the long window.
	KindErrorBudgetBurn Kind = "error_budget_burn"
	// KindLatencySLOBurn: a latency SLO burns its budget. Value is the burn
	// rate of the long window.
	KindLatencySLOBurn Kind = "latency_slo_burn"
	// KindFallbackActive: fallbacks are being served in place of real results.
	KindFallbackActive Kind = "fallback_active"
	// KindFailover: traffic moved to a standby endpoint.
	KindFailover Kind = "failover"
	// KindLoadShed: requests are being shed to protect the service.
	KindLoadShed Kind = "load_shed"
	// KindDegraded: a degradation mode or kill switch is active.
	KindDegraded Kind = "degraded"
	// KindRollback: a version was rolled back to the last known good one.
	// Label "phase" is "canary" or "promoted".
	KindRollback Kind = "rollback"
	// KindRollbackFailed: a rollback failed or there is no stable version.
	KindRollbackFailed Kind = "rollback_failed"
	// KindAnalysisInconclusive: a rollout analysis could not decide and waits
	// for a person.
	KindAnalysisInconclusive Kind = "analysis_inconclusive"
	// KindUserFeedback: users report a problem (the plan's early warning).
	KindUserFeedback Kind = "user_feedback"
	// KindBoardOverflow: the Board itself refused a signal because it tracks
	// as many alerts as [WithMaxAlerts] allows and none could be evicted
	// (firing); it clears after five minutes without a refusal. Component is
	// "firebreak", Value the signals refused so far. The plan grades it like
	// any other kind.
	KindBoardOverflow Kind = "board_overflow"
	// KindSharedStateDegraded: a Board made WithStore cannot reach the
	// fleet's store (firing): it works on its local state and pages on its
	// own until the store answers again (cleared). Component is
	// "firebreak", Dependency "shared-state". The plan grades it like any
	// other kind.
	KindSharedStateDegraded Kind = "shared_state_degraded"
)

// alertNames maps the built-in kinds to Alertmanager-style alert names.
var alertNames = map[Kind]string{
	KindBreakerOpen:          "BreakerOpen",
	KindHealthFailed:         "HealthFailed",
	KindErrorBudgetBurn:      "ErrorBudgetBurn",
	KindLatencySLOBurn:       "LatencySLOBurn",
	KindFallbackActive:       "FallbackActive",
	KindFailover:             "Failover",
	KindLoadShed:             "LoadShed",
	KindDegraded:             "Degraded",
	KindRollback:             "Rollback",
	KindRollbackFailed:       "RollbackFailed",
	KindAnalysisInconclusive: "AnalysisInconclusive",
	KindUserFeedback:         "UserFeedback",
	KindBoardOverflow:        "BoardOverflow",
	KindSharedStateDegraded:  "SharedStateDegraded",
}

// AlertName returns the Alertmanager alert name for k ("ErrorBudgetBurn" for
// error_budget_burn); a custom kind is returned as it is.
func (k Kind) AlertName() string {
	switch k {
	case KindBreakerOpen:
		return "BreakerOpen"
	case KindHealthFailed:
		return "HealthFailed"
	case KindErrorBudgetBurn:
		return "ErrorBudgetBurn"
	case KindLatencySLOBurn:
		return "LatencySLOBurn"
	}
	if n, ok := alertNames[k]; ok {
		return n
	}
	return string(k)
}

// Valid reports whether k is non-empty and made of lower-case letters, digits
// and underscores.
func (k Kind) Valid() bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Signal is what a sensor saw: a breaker opened, a check failed, an SLO
// burns. Signals with the same identity (kind, component, dependency and
// labels) are one alert; a Board groups alerts into incidents.
type Signal struct {
	// Kind is what happened; see the Kind constants.
	Kind Kind
	// Component is the part of the service that saw it, e.g. "checkout-api".
	Component string
	// Dependency is what the component depends on and found at fault, e.g.
	// "payments-db". Empty when the fault is the component's own.
	Dependency string
	// Tier is how critical the component is.
	Tier Tier
	// Firing is true while the condition holds and false when it clears.
	Firing bool
	// Fallback is true when a fallback, cache or standby serves in place of
	// the failed dependency, so users see a degraded rather than a failed
	// service. The plan grades such a fault lower.
	Fallback bool
	// Value is the signal's main measurement: the burn rate for SLO burns,
	// the failure ratio for a breaker, the consecutive failures of a check.
	Value float64
	// Summary is one line for people. It may hold error text: it is shown
	// only to authorised callers, never on the public status page.
	Summary string
	// TraceIDs identify failing requests, as evidence.
	TraceIDs []string
	// Metrics is a snapshot of related measurements kept as evidence, e.g.
	// "error_ratio", "error_ratio_now", "p99_seconds", "burn_rate_5m". Plan
	// rules may test them.
	Metrics map[string]float64
	// Labels add identity, e.g. {"slo": "availability", "route": "GET /pay"}.
	// Keep them low-cardinality: each distinct set is a separate alert.
	Labels map[string]string
	// Time is when it was seen; the zero time means now.
	Time time.Time
	// Drill is the ID of the drill the signal belongs to, or "" for a real
	// one. A Board stamps it on the signals a running drill's scope covers
	// (see [Board.BeginDrill]); a drill's own signals carry it already. A
	// drill signal is a separate alert, in a separate incident, from the
	// same signal without it.
	Drill string
}

// A Reporter receives signals. Implementations must not block: Report is
// called from request paths. A [Board] is the usual Reporter.
type Reporter interface {
	Report(Signal)
}

// ReporterFunc adapts a function to the Reporter interface.
type ReporterFunc func(Signal)

// Report calls f(s).
func (f ReporterFunc) Report(s Signal) { f(s) }

// Discard is a Reporter that drops every signal.
var Discard Reporter = ReporterFunc(func(Signal) {})

// Fingerprint returns the Alertmanager fingerprint of a label set: FNV-1a 64
// over the labels sorted by name, as 16 hex digits. It equals what
// Alertmanager and Prometheus compute for the same labels, so deduplication
// agrees across them.
func Fingerprint(labels map[string]string) string {
	return fmt.Sprintf("%016x", fingerprint.Map(labels))
}
