package firebreak

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// PagerDuty is a [Notifier] that sends incidents to PagerDuty's Events API
// v2. It is safe for concurrent use and holds no lock while it sends.
//
// # Events
//
// One PagerDuty alert per firebreak incident: its dedup_key is the
// incident's group key (service, env and fault domain, the same on every
// replica, so two replicas page once), or "firebreak:" and the SHA-256 of the
// group key when that is longer than 255 characters. Announcement,
// escalation, breach, re-notification, reopening and a downgrade send
// "trigger" (a trigger on an open alert updates it; it does not page again);
// acknowledgement sends "acknowledge"; resolution and closing send
// "resolve". Routine updates (a signal joining or clearing, findings,
// evidence) and mitigation send nothing: PagerDuty is a pager. Severities
// map Fatal, Severe, General to critical, error, warning; an incident graded
// None is never triggered (it pages nobody), though its acknowledgement and
// resolution are still sent.
//
// payload.summary is the incident's title (at most 1024 characters);
// source is [WithPagerDutySource] or the service (with "/env" when set);
// component the fault domain; group the service; class the kind of the
// incident's first alert; custom_details the incident's ID, level, lead,
// state, response deadline, escalation, components and each alert's labels
// and value. Signal summaries, evidence and findings are not sent: they may
// hold error text.
//
// Delivery: 202 is success; 429 and 5xx are retried with backoff (honouring
// Retry-After) until [WithHandoffRetryFor] runs out; 400 and other answers
// are permanent. The routing key never appears in an error or a log.
type PagerDuty struct {
	routingKey string
	endpoint   string
	masked     string
	source     string
	ext        string
	post       poster
}

var _ Notifier = (*PagerDuty)(nil)

// DefaultPagerDutyEndpoint is the Events API v2 endpoint.
const DefaultPagerDutyEndpoint = "https://events.pagerduty.com/v2/enqueue"

// WithPagerDutyEndpoint sets the Events API URL, e.g. for a proxy or a test
// receiver. Applies to [NewPagerDuty]. Default: [DefaultPagerDutyEndpoint].
func WithPagerDutyEndpoint(u string) HandoffOption {
	return handoffOpt("WithPagerDutyEndpoint", func(h *handoffConfig) { h.endpoint = u })
}

// WithPagerDutySource sets payload.source, "the unique location of the
// affected system". Applies to [NewPagerDuty]. Default: the incident's
// service, with "/" and its env when it has one.
func WithPagerDutySource(s string) HandoffOption {
	return handoffOpt("WithPagerDutySource", func(h *handoffConfig) { h.source = s })
}

// NewPagerDuty returns a notifier sending to the PagerDuty service whose
// Events API v2 integration key is routingKey (32 characters).
func NewPagerDuty(routingKey string, opts ...HandoffOption) (*PagerDuty, error) {
	c, err := newHandoffConfig("NewPagerDuty", opts, "WithPagerDutyEndpoint", "WithPagerDutySource")
	if err != nil {
		return nil, err
	}
	if len(routingKey) != 32 || strings.ContainsFunc(routingKey, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return nil, fmt.Errorf("firebreak: NewPagerDuty: routingKey must be 32 printable characters (the integration key), got %d characters", len(routingKey))
	}
	endpoint := cmpOr(c.endpoint, DefaultPagerDutyEndpoint)
	_, masked, err := parseEndpoint("NewPagerDuty: WithPagerDutyEndpoint", endpoint)
	if err != nil {
		return nil, err
	}
	if len(c.source) > 255 {
		return nil, fmt.Errorf("firebreak: NewPagerDuty: WithPagerDutySource: at most 255 characters, got %d", len(c.source))
	}
	return &PagerDuty{
		routingKey: routingKey, endpoint: endpoint, masked: masked, source: c.source, ext: c.externalURL,
		post: poster{client: c.client, retryFor: c.retryFor, agent: "firebreak-pagerduty"},
	}, nil
}

// PagerDutyEvent is an Events API v2 event.
type PagerDutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"` // trigger, acknowledge, resolve
	DedupKey    string            `json:"dedup_key"`
	Payload     *PagerDutyPayload `json:"payload,omitempty"` // trigger only
	Client      string            `json:"client,omitempty"`
	ClientURL   string            `json:"client_url,omitempty"`
	Links       []PagerDutyLink   `json:"links,omitempty"`
}

// PagerDutyPayload is the payload of a trigger event.
type PagerDutyPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"` // critical, error, warning, info
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// PagerDutyLink is a link shown with the alert.
type PagerDutyLink struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// PagerDutyDedupKey is the dedup_key for an incident's group key.
func PagerDutyDedupKey(groupKey string) string {
	if len(groupKey) <= 255 && groupKey != "" {
		return groupKey
	}
	sum := sha256.Sum256([]byte(groupKey))
	return "firebreak:" + hex.EncodeToString(sum[:])
}

// Event returns the event n makes, and false when n sends none. The
// routing key is left empty.
func (p *PagerDuty) Event(n Notification) (PagerDutyEvent, bool) {
	inc := &n.Incident
	ev := PagerDutyEvent{DedupKey: PagerDutyDedupKey(inc.GroupKey)}
	switch n.Event {
	case EventDetected, EventEscalated, EventBreached, EventEscalationStep, EventRenotify, EventReopened, EventDowngraded:
		if inc.Severity <= None || !inc.State.Open() {
			return ev, false
		}
		ev.EventAction = "trigger"
	case EventAcknowledged:
		ev.EventAction = "acknowledge"
		return ev, true
	case EventResolved, EventClosed:
		ev.EventAction = "resolve"
		return ev, true
	default:
		return ev, false
	}
	source := p.source
	if source == "" {
		source = inc.Service
		if inc.Env != "" {
			source += "/" + inc.Env
		}
	}
	details := map[string]any{
		"incident_id": inc.ID,
		"event":       string(n.Event),
		"level":       inc.Level,
		"lead":        inc.Lead,
		"state":       inc.State.String(),
		"components":  inc.Components,
	}
	if !inc.ResponseDue.IsZero() {
		details["response_due"] = inc.ResponseDue.UTC().Format(time.RFC3339)
	}
	if inc.Breached {
		details["breached"] = true
		details["escalated_to"] = inc.EscalatedTo
	}
	type alertDetail struct {
		Labels map[string]string `json:"labels"`
		Firing bool              `json:"firing"`
		Value  float64           `json:"value"`
	}
	var alerts []alertDetail
	for _, a := range inc.Alerts {
		if len(alerts) == 20 {
			details["alerts_omitted"] = len(inc.Alerts) - 20
			break
		}
		alerts = append(alerts, alertDetail{Labels: a.Labels, Firing: a.Firing, Value: finite(a.Value)})
	}
	details["alerts"] = alerts
	class := ""
	if len(inc.Alerts) > 0 {
		class = string(inc.Alerts[0].Kind)
	}
	ev.Payload = &PagerDutyPayload{
		Summary:       truncateText(cmpOr(inc.Title, inc.ID), 1024),
		Source:        truncateText(source, 255),
		Severity:      cmpOr(n.AlertSeverity, alertSeverity(inc.Severity)),
		Timestamp:     cmpOr(n.At, time.Now()).UTC().Format(time.RFC3339Nano),
		Component:     inc.FaultDomain,
		Group:         inc.Service,
		Class:         class,
		CustomDetails: details,
	}
	if !slices.Contains([]string{"critical", "error", "warning", "info"}, ev.Payload.Severity) {
		ev.Payload.Severity = alertSeverity(inc.Severity)
	}
	ev.Client = "firebreak"
	if u := incidentURL(p.ext, inc.ID); u != "" {
		ev.ClientURL = u
		ev.Links = []PagerDutyLink{{Href: u, Text: "firebreak incident " + inc.ID}}
	}
	return ev, true
}

// Notify sends the event n makes, if any.
func (p *PagerDuty) Notify(ctx context.Context, n Notification) error {
	ev, ok := p.Event(n)
	if !ok {
		return nil
	}
	ev.RoutingKey = p.routingKey
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("firebreak: pagerduty: encoding event: %w", err)
	}
	_, err = p.post.post(ctx, p.endpoint, p.masked, body, func(code int, answer []byte) error {
		if code == 202 || code == 200 {
			return nil
		}
		var e struct {
			Message string   `json:"message"`
			Errors  []string `json:"errors"`
		}
		detail := ""
		if json.Unmarshal(answer, &e) == nil {
			parts := slices.DeleteFunc(append([]string{e.Message}, e.Errors...), func(s string) bool { return s == "" })
			detail = strings.Join(parts, "; ")
		}
		detail = strings.ReplaceAll(shortDetail(detail), p.routingKey, "***")
		return backoff.Permanent(&answerError{code: code, detail: detail})
	})
	if err != nil {
		return fmt.Errorf("firebreak: pagerduty %s: %s %s: %w", p.masked, ev.EventAction, ev.DedupKey, err)
	}
	return nil
}
