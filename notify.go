package firebreak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cenkalti/backoff/v4"

	"github.com/firebreak-go/firebreak/internal/fingerprint"
)

// SlogNotifier returns a notifier that writes each notification as one
// structured log record, at a level that says who must look:
//
//   - a page (detected, escalated, breached, reminder, reopened, an
//     escalation step): ERROR for Fatal and Severe incidents, WARN for
//     General, INFO for None;
//   - a person's response (acknowledged, mitigated, resolved, closed, handed
//     off, downgraded, categorized, verified): INFO;
//   - a routine update (a signal joining, firing again or clearing, a
//     finding, evidence): DEBUG.
//
// A nil logger means slog.Default().
func SlogNotifier(l *slog.Logger) Notifier {
	if l == nil {
		l = slog.Default()
	}
	return NotifierFunc(func(ctx context.Context, n Notification) error {
		inc := &n.Incident
		level := logLevel(n.Event, inc.Severity)
		if !l.Enabled(ctx, level) {
			return nil
		}
		attrs := []slog.Attr{
			slog.String("incident", inc.ID),
			slog.String("event", string(n.Event)),
			slog.String("severity", inc.Severity.String()),
			slog.Int("plan_level", inc.Level),
			slog.String("state", inc.State.String()),
			slog.String("lead", inc.Lead),
			slog.String("fault_domain", inc.FaultDomain),
			slog.Any("components", inc.Components),
		}
		if !inc.ResponseDue.IsZero() {
			attrs = append(attrs, slog.Time("response_due", inc.ResponseDue))
		}
		if inc.Breached {
			attrs = append(attrs, slog.Bool("breached", true), slog.String("escalated_to", inc.EscalatedTo))
		}
		l.LogAttrs(ctx, level, "firebreak incident "+string(n.Event)+": "+inc.Title, attrs...)
		return nil
	})
}

// logLevel is the level SlogNotifier logs ev at, for an incident of sev.
func logLevel(ev Event, sev Severity) slog.Level {
	switch ev {
	case EventSignal, EventFinding, EventEvidence:
		return slog.LevelDebug
	case EventDetected, EventEscalated, EventBreached, EventRenotify, EventReopened, EventEscalationStep:
		switch {
		case sev >= Severe:
			return slog.LevelError
		case sev == General:
			return slog.LevelWarn
		}
	}
	return slog.LevelInfo
}

// Webhook is a [Notifier] that POSTs the Alertmanager webhook payload
// (version 4) for each notification, so existing alert routing, PagerDuty
// and chat bridges can receive firebreak's incidents. It is safe for
// concurrent use.
//
// It retries with exponential backoff on network errors, 5xx, 408 and 429
// (honouring Retry-After), and gives up on other 4xx. It never follows a
// redirect: a 3xx answer is a delivery failure, so the payload and any
// secret header are never re-sent to another host. Every error it returns,
// and so every log line about a failed delivery, shows the URL with its
// secrets masked: user info, query values and path segments that look like
// tokens (8 or more characters with a digit, or 20 or more) read "***"; the
// values of headers added with [WithHeader] never appear. A message carries
// at most [WithMaxAlertsPerMessage] alerts.
type Webhook struct {
	url         string
	masked      string
	client      *http.Client
	receiver    string
	externalURL string
	maxElapsed  time.Duration
	maxAlerts   int
	header      http.Header
}

// DefaultMaxAlertsPerMessage is how many alerts one webhook POST carries
// unless [WithMaxAlertsPerMessage] says otherwise.
const DefaultMaxAlertsPerMessage = 100

// maxDescription bounds an alert's "description" annotation (its summary).
const maxDescription = 1024

// WebhookOption configures a Webhook.
type WebhookOption interface{ applyWebhook(*Webhook) }

type webhookOptionFunc func(*Webhook)

func (f webhookOptionFunc) applyWebhook(w *Webhook) { f(w) }

// WithHTTPClient sets the client. The webhook uses a copy that never follows
// redirects. Default: a client with a 10-second timeout.
func WithHTTPClient(c *http.Client) WebhookOption {
	return webhookOptionFunc(func(w *Webhook) { w.client = c })
}

// WithReceiver sets the payload's "receiver". Default: "firebreak".
func WithReceiver(name string) WebhookOption {
	return webhookOptionFunc(func(w *Webhook) { w.receiver = name })
}

// WithExternalURL sets the payload's "externalURL", the link back to the
// operations API; alerts' generatorURL points at the incident under it.
// Default: none.
func WithExternalURL(u string) WebhookOption {
	return webhookOptionFunc(func(w *Webhook) { w.externalURL = strings.TrimRight(u, "/") })
}

// WithRetryFor bounds how long one notification is retried. Default: 1 minute.
func WithRetryFor(d time.Duration) WebhookOption {
	return webhookOptionFunc(func(w *Webhook) { w.maxElapsed = d })
}

// WithHeader adds a header to every request, e.g. an Authorization token.
// Its value is treated as a secret: it never appears in errors or logs.
// Default: none.
func WithHeader(key, value string) WebhookOption {
	return webhookOptionFunc(func(w *Webhook) { w.header.Add(key, value) })
}

// WithMaxAlertsPerMessage bounds the alerts one POST carries, so that an
// incident with thousands of alerts does not send megabytes on every change.
// The alerts that changed with the notification come first, then firing
// ones, then resolved ones; the rest are counted in the payload's
// "truncatedAlerts" and summed up in each alert's "truncated" annotation
// ("and 9,000 more alerts"). Default: [DefaultMaxAlertsPerMessage] (100).
func WithMaxAlertsPerMessage(n int) WebhookOption {
	return webhookOptionFunc(func(w *Webhook) { w.maxAlerts = n })
}

// errRedirect stops the client at a redirect: the 3xx answer is returned.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// NewWebhook returns a webhook notifier posting to rawURL (http or https).
func NewWebhook(rawURL string, opts ...WebhookOption) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("firebreak: NewWebhook: URL %s must be an absolute http or https URL", maskRawURL(rawURL))
	}
	w := &Webhook{url: rawURL, masked: maskURL(u), receiver: "firebreak", maxElapsed: time.Minute, maxAlerts: DefaultMaxAlertsPerMessage, header: http.Header{}}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("firebreak: NewWebhook: option %d is nil", i)
		}
		o.applyWebhook(w)
	}
	c := http.Client{Timeout: 10 * time.Second}
	if w.client != nil {
		c = *w.client
	}
	c.CheckRedirect = refuseRedirect
	w.client = &c
	if w.maxElapsed <= 0 {
		return nil, fmt.Errorf("firebreak: WithRetryFor: must be longer than 0, got %s", w.maxElapsed)
	}
	if w.maxAlerts < 1 {
		return nil, fmt.Errorf("firebreak: WithMaxAlertsPerMessage: must be at least 1, got %d", w.maxAlerts)
	}
	for k, vs := range w.header {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") {
			return nil, fmt.Errorf("firebreak: WithHeader: %q is not a header name", k)
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				return nil, fmt.Errorf("firebreak: WithHeader: the value of %s holds a line break or NUL", k)
			}
		}
	}
	if w.externalURL != "" {
		if eu, err := url.Parse(w.externalURL); err != nil || eu.Scheme == "" {
			return nil, fmt.Errorf("firebreak: WithExternalURL: %s is not an absolute URL", maskRawURL(w.externalURL))
		}
	}
	return w, nil
}

// maskRawURL masks what parses of raw; what does not parse is not shown.
func maskRawURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return strconv.Quote(maskURL(u))
}

// maskURL writes u with its secrets masked: user info, every query value,
// the fragment and path segments that look like tokens.
func maskURL(u *url.URL) string {
	var b strings.Builder
	b.WriteString(u.Scheme + "://")
	if u.User != nil {
		b.WriteString("***@")
	}
	b.WriteString(u.Host)
	segs := strings.Split(u.EscapedPath(), "/")
	for i, seg := range segs {
		if tokenLike(seg) {
			segs[i] = "***"
		}
	}
	b.WriteString(strings.Join(segs, "/"))
	if u.RawQuery != "" {
		sep := "?"
		for _, k := range slices.Sorted(maps.Keys(u.Query())) {
			b.WriteString(sep)
			sep = "&"
			if tokenLike(k) {
				k = "***"
			}
			b.WriteString(url.QueryEscape(k) + "=***")
		}
	}
	if u.Fragment != "" {
		b.WriteString("#***")
	}
	return b.String()
}

// tokenLike reports whether a path segment may be a secret: 20 or more
// characters, or 8 or more with a digit in them.
func tokenLike(seg string) bool {
	return len(seg) >= 20 || len(seg) >= 8 && strings.ContainsAny(seg, "0123456789")
}

// WebhookMessage is the Alertmanager webhook payload, version 4.
type WebhookMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []WebhookAlert    `json:"alerts"`
}

// WebhookAlert is one alert of a WebhookMessage.
type WebhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// alertSeverity is the Alertmanager "severity" label for s.
func alertSeverity(s Severity) string {
	switch s {
	case Fatal:
		return "critical"
	case Severe:
		return "error"
	case General:
		return "warning"
	}
	return "info"
}

// Message builds the payload for n. Every alert carries a "severity" label
// (the incident's severity in Alertmanager's words: critical, error, warning,
// info) and the incident's ID, level, lead, response deadline and, once
// breached, whom it was escalated to as annotations; its fingerprint is
// computed over the labels sent, as Alertmanager computes it. Because the
// severity label is part of an alert's identity, an escalation or downgrade
// also sends the alerts under their previous severity as resolved, so a
// receiver that deduplicates on fingerprints retires them. The group status
// is "firing" when any alert in the message fires.
func (w *Webhook) Message(n Notification) WebhookMessage {
	inc := &n.Incident
	sevLabel := cmpOr(n.AlertSeverity, alertSeverity(inc.Severity))
	msg := WebhookMessage{
		Version:     "4",
		GroupKey:    inc.GroupKey,
		Status:      "resolved",
		Receiver:    w.receiver,
		GroupLabels: map[string]string{"service": inc.Service, "fault_domain": inc.FaultDomain},
		ExternalURL: w.externalURL,
		Alerts:      []WebhookAlert{},
	}
	if inc.Env != "" {
		msg.GroupLabels["env"] = inc.Env
	}
	gen := ""
	if w.externalURL != "" {
		gen = w.externalURL + "/incidents/" + url.PathEscape(inc.ID)
	}
	ann := map[string]string{
		"summary":     inc.Title,
		"incident_id": inc.ID,
		"level":       strconv.Itoa(inc.Level),
		"lead":        inc.Lead,
		"state":       inc.State.String(),
		"event":       string(n.Event),
	}
	if !inc.ResponseDue.IsZero() {
		ann["response_due"] = inc.ResponseDue.UTC().Format(time.RFC3339)
	}
	if inc.Breached {
		ann["breached"] = "true"
		ann["escalated_to"] = inc.EscalatedTo
	}
	changed := (n.Event == EventEscalated || n.Event == EventDowngraded) && n.PreviousSeverity != inc.Severity
	prevLabel := cmpOr(n.PreviousAlertSeverity, alertSeverity(n.PreviousSeverity))
	limit := cmpOr(w.maxAlerts, DefaultMaxAlertsPerMessage)
	var kept []int // indexes into msg.Alerts, for the truncation note
	for _, a := range alertsByPriority(&n) {
		if a.Aggregated > 0 {
			// The Board keeps a bounded number of alerts per incident in
			// full; the rest are counted per kind in one entry.
			msg.TruncatedAlerts += a.Aggregated
			if a.Firing && inc.State.Open() {
				msg.Status = "firing"
			}
			continue
		}
		labels := maps.Clone(a.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels["severity"] = sevLabel
		status, ends := "firing", time.Time{}
		if !a.Firing || !inc.State.Open() {
			status, ends = "resolved", cmpOr(a.ClearedAt, cmpOr(inc.ResolvedAt, n.At))
		}
		pair := changed && prevLabel != sevLabel && status == "firing"
		need := 1
		if pair {
			need = 2
		}
		if len(msg.Alerts)+need > limit {
			msg.TruncatedAlerts++
			if status == "firing" {
				msg.Status = "firing"
			}
			continue
		}
		alertAnn := maps.Clone(ann)
		if a.Summary != "" {
			alertAnn["description"] = truncateText(a.Summary, maxDescription)
		}
		if pair {
			old := maps.Clone(labels)
			old["severity"] = prevLabel
			kept = append(kept, len(msg.Alerts))
			msg.Alerts = append(msg.Alerts, WebhookAlert{
				Status: "resolved", Labels: old, Annotations: alertAnn,
				StartsAt: a.FirstSeen, EndsAt: n.At, GeneratorURL: gen,
				Fingerprint: fmt.Sprintf("%016x", fingerprint.Map(old)),
			})
		}
		if status == "firing" {
			msg.Status = "firing"
		}
		kept = append(kept, len(msg.Alerts))
		msg.Alerts = append(msg.Alerts, WebhookAlert{
			Status: status, Labels: labels, Annotations: alertAnn,
			StartsAt: a.FirstSeen, EndsAt: ends, GeneratorURL: gen,
			Fingerprint: fmt.Sprintf("%016x", fingerprint.Map(labels)),
		})
	}
	if msg.TruncatedAlerts > 0 {
		note := fmt.Sprintf("and %s more alerts", thousands(msg.TruncatedAlerts))
		if gen != "" {
			note += " (see " + gen + ")"
		}
		for _, i := range kept {
			msg.Alerts[i].Annotations["truncated"] = note
		}
	}
	msg.CommonLabels = common(msg.Alerts, func(a WebhookAlert) map[string]string { return a.Labels })
	msg.CommonAnnotations = common(msg.Alerts, func(a WebhookAlert) map[string]string { return a.Annotations })
	return msg
}

// alertsByPriority orders the incident's alerts for a message that may be
// truncated: those that changed with this notification first, then firing
// ones, then the rest, each group in the incident's order.
func alertsByPriority(n *Notification) []AlertRef {
	alerts := n.Incident.Alerts
	if len(n.Fired)+len(n.Resolved) == 0 && !slices.ContainsFunc(alerts, func(a AlertRef) bool { return !a.Firing }) {
		return alerts
	}
	changed := map[string]bool{}
	for _, a := range n.Fired {
		changed[a.Fingerprint] = true
	}
	for _, a := range n.Resolved {
		changed[a.Fingerprint] = true
	}
	rank := func(a AlertRef) int {
		switch {
		case changed[a.Fingerprint]:
			return 0
		case a.Firing:
			return 1
		}
		return 2
	}
	out := slices.Clone(alerts)
	slices.SortStableFunc(out, func(x, y AlertRef) int { return rank(x) - rank(y) })
	return out
}

// thousands writes n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// truncateText cuts s to at most n bytes at a rune boundary, marking the cut.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func cmpOr[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

func common(alerts []WebhookAlert, get func(WebhookAlert) map[string]string) map[string]string {
	out := map[string]string{}
	if len(alerts) == 0 {
		return out
	}
	maps.Copy(out, get(alerts[0]))
	for _, a := range alerts[1:] {
		m := get(a)
		for k, v := range out {
			if m[k] != v {
				delete(out, k)
			}
		}
	}
	return out
}

// statusError is a response that was not 2xx; retryAfter is the server's
// Retry-After, if it gave one.
type statusError struct {
	code       int
	retryAfter time.Duration
	redirect   bool
}

func (e *statusError) Error() string {
	if e.redirect {
		return fmt.Sprintf("webhook answered %d: redirects are not followed", e.code)
	}
	return fmt.Sprintf("webhook answered %d", e.code)
}

// Notify posts the payload, retrying on network errors, 5xx, 408 and 429
// until it succeeds, ctx ends, or the retry time runs out.
func (w *Webhook) Notify(ctx context.Context, n Notification) error {
	body, err := json.Marshal(w.Message(n))
	if err != nil {
		return fmt.Errorf("firebreak: webhook: encoding payload: %w", err)
	}
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 500 * time.Millisecond
	bo.MaxInterval = 10 * time.Second
	bo.MaxElapsedTime = w.maxElapsed
	op := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
		if err != nil {
			return backoff.Permanent(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "firebreak-webhook")
		for k, vs := range w.header {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		resp, err := w.client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return backoff.Permanent(ctx.Err())
			}
			return w.mask(err)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return nil
		case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
			return &statusError{code: resp.StatusCode, retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			return backoff.Permanent(&statusError{code: resp.StatusCode, redirect: true})
		default:
			return backoff.Permanent(&statusError{code: resp.StatusCode})
		}
	}
	// Honour a server's Retry-After: wait at least that long before the
	// next attempt, within the retry time.
	notify := func(err error, next time.Duration) {
		var se *statusError
		if errors.As(err, &se) && se.retryAfter > next {
			t := time.NewTimer(se.retryAfter - next)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
	}
	if err := backoff.RetryNotify(op, backoff.WithContext(bo, ctx), notify); err != nil {
		return fmt.Errorf("firebreak: webhook %s: %w", w.masked, err)
	}
	return nil
}

// retryAfter parses a Retry-After header given in seconds (the HTTP-date
// form counts as absent); it is capped at 5 minutes.
func retryAfter(h string) time.Duration {
	secs, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || secs <= 0 {
		return 0
	}
	return min(time.Duration(secs)*time.Second, 5*time.Minute)
}

// mask rewrites the URL that net/http puts in its errors, and any other
// copy of the raw URL, to the masked one.
func (w *Webhook) mask(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = w.masked
	}
	if strings.Contains(err.Error(), w.url) {
		return errors.New(strings.ReplaceAll(err.Error(), w.url, w.masked))
	}
	return err
}
