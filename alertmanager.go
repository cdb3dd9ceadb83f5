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
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Alertmanager is a [Notifier] that hands firebreak's alerts to Prometheus
// Alertmanager through its API (POST /api/v2/alerts), so Alertmanager's
// routing, silences, inhibition and receivers take over from there. It is
// safe for concurrent use.
//
// # What it sends
//
// One postable alert per alert of the incident: its labels (alertname,
// service, env, component, dependency and the signal's own labels) plus
// "severity", the plan's AlertSeverity for the incident (critical, error,
// warning, info). Label names Alertmanager would refuse are rewritten, as
// Prometheus does: every character outside [a-zA-Z0-9_] becomes "_", and a
// leading digit gets a "_" before it. No label names the replica, so two
// replicas of a service reporting the same fault post the same labels and
// Alertmanager keeps one alert (same fingerprint). Annotations carry the
// summary, the incident's ID, level, lead, state, response deadline and
// escalation; generatorURL points at the incident under
// [WithHandoffExternalURL].
//
// A firing alert is sent with endsAt = now + 3 × the resend interval. An
// alert that clears, an incident that is resolved or closed, and an alert
// under a severity it no longer has (after an escalation or a downgrade,
// severity being part of its identity) are sent with endsAt = now, so
// Alertmanager resolves them at once; resolved alerts are sent again with
// the next two resends, so a peer that missed one still learns of it.
//
// # Resending
//
// Alertmanager resolves an alert whose endsAt passes, so firing alerts must
// be re-sent while they fire. The Alertmanager notifier owns a goroutine for
// that: it starts with the first notification (constructing starts none) and
// posts every firing alert once per resend interval ([WithResendInterval],
// default 1 minute), each time moving endsAt forward. Close stops it. Posts
// are serialised and each carries the state at the moment it is sent, so a
// resend never overtakes a resolution. A resend that fails is logged (with
// masked URLs) and tried again at the next interval; the alerts stay alive in
// Alertmanager for three intervals.
//
// # High availability
//
// Every URL ([NewAlertmanager]'s and [WithAlertmanagerPeers]') gets every
// post, concurrently, as Prometheus does with an Alertmanager cluster.
// Notify succeeds only when every peer accepted; its error names the peers
// that did not. Each post retries like [Webhook]: network errors, 5xx, 408
// and 429 (honouring Retry-After) until [WithHandoffRetryFor] runs out; no
// redirect is followed; URLs in errors and logs have their secrets masked.
// A post carries at most 500 alerts; more are sent in several posts.
type Alertmanager struct {
	targets []amTarget
	post    poster
	resend  time.Duration
	gen     string // external URL, for generatorURL
	logger  *slog.Logger

	sendSlot chan struct{} // a token: one post round at a time, so posts keep their order

	mu       sync.Mutex          // guards the fields below
	alerts   map[string]*amAlert // by incident key, then fingerprint (key "incident\x00fp")
	byInc    map[string][]string // incident key → keys in alerts
	started  bool                // the resend loop runs
	closed   bool
	loopCtx  context.Context // cancelled by Close
	stopLoop context.CancelFunc
	done     chan struct{} // closed when the loop returns
}

var _ Notifier = (*Alertmanager)(nil)

type amTarget struct{ url, masked string }

// amAlert is one alert as last posted, and what the resend loop re-sends.
type amAlert struct {
	alert       PostableAlert
	resolved    bool
	resendsLeft int // for resolved alerts: resends still to carry it
}

// PostableAlert is one alert of Alertmanager's POST /api/v2/alerts body.
type PostableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// DefaultResendInterval is how often the Alertmanager notifier re-sends
// firing alerts unless [WithResendInterval] says otherwise.
const DefaultResendInterval = time.Minute

// amBatch bounds the alerts of one post.
const amBatch = 500

// WithAlertmanagerPeers adds the URLs of the other members of an
// Alertmanager cluster; each gets every post. Applies to [NewAlertmanager].
// Default: none.
func WithAlertmanagerPeers(urls ...string) HandoffOption {
	return handoffOpt("WithAlertmanagerPeers", func(h *handoffConfig) { h.peers = append(h.peers, urls...) })
}

// WithResendInterval sets how often firing alerts are re-sent to
// Alertmanager; each is sent with endsAt three intervals ahead. It must be
// at least 10 milliseconds. Applies to [NewAlertmanager]. Default:
// [DefaultResendInterval] (1 minute).
func WithResendInterval(d time.Duration) HandoffOption {
	return handoffOpt("WithResendInterval", func(h *handoffConfig) { h.resend = d })
}

// NewAlertmanager returns a notifier posting to the Alertmanager at baseURL
// (e.g. "http://alertmanager:9093"; a path prefix such as a --web.route-prefix
// is kept, and "/api/v2/alerts" is added). It starts no goroutine; its first
// Notify starts the resend loop. A Board it is given to closes it in
// [Board.Close]; used on its own, call Close when done with it.
func NewAlertmanager(baseURL string, opts ...HandoffOption) (*Alertmanager, error) {
	c, err := newHandoffConfig("NewAlertmanager", opts, "WithAlertmanagerPeers", "WithResendInterval")
	if err != nil {
		return nil, err
	}
	if c.resend == 0 {
		c.resend = DefaultResendInterval
	}
	if c.resend < 10*time.Millisecond {
		return nil, fmt.Errorf("firebreak: NewAlertmanager: WithResendInterval: must be at least 10ms, got %s", c.resend)
	}
	a := &Alertmanager{
		post:     poster{client: c.client, retryFor: c.retryFor, agent: "firebreak-alertmanager"},
		resend:   c.resend,
		gen:      c.externalURL,
		logger:   c.logger,
		sendSlot: make(chan struct{}, 1),
		alerts:   map[string]*amAlert{},
		byInc:    map[string][]string{},
		done:     make(chan struct{}),
	}
	a.loopCtx, a.stopLoop = context.WithCancel(context.Background())
	seen := map[string]bool{}
	for i, raw := range append([]string{baseURL}, c.peers...) {
		field := "NewAlertmanager"
		if i > 0 {
			field = fmt.Sprintf("WithAlertmanagerPeers[%d]", i-1)
		}
		u, _, err := parseEndpoint(field, raw)
		if err != nil {
			return nil, err
		}
		u.Path = strings.TrimRight(u.Path, "/") + "/api/v2/alerts"
		u.RawPath = ""
		if seen[u.String()] {
			return nil, fmt.Errorf("firebreak: %s: URL %s is given twice", field, maskRawURL(raw))
		}
		seen[u.String()] = true
		a.targets = append(a.targets, amTarget{url: u.String(), masked: maskURL(u)})
	}
	return a, nil
}

// Alerts returns the alerts a notification makes: the incident's firing
// alerts with endsAt = at + 3 × the resend interval, and those that stopped
// firing with endsAt = at.
func (a *Alertmanager) Alerts(n Notification) []PostableAlert {
	firing, resolved := a.alertsFor(&n)
	return append(firing, resolved...)
}

// alertsFor builds the postable alerts of n: firing ones and the ones n
// resolves (cleared alerts, all alerts of a finished incident, alerts under
// the previous severity after an escalation or downgrade).
func (a *Alertmanager) alertsFor(n *Notification) (firing, resolved []PostableAlert) {
	inc := &n.Incident
	at := cmpOr(n.At, time.Now())
	sev := cmpOr(n.AlertSeverity, alertSeverity(inc.Severity))
	prev := ""
	if (n.Event == EventEscalated || n.Event == EventDowngraded) && n.PreviousSeverity != inc.Severity {
		prev = cmpOr(n.PreviousAlertSeverity, alertSeverity(n.PreviousSeverity))
	}
	ann := map[string]string{
		"summary":     inc.Title,
		"incident_id": inc.ID,
		"level":       strconv.Itoa(inc.Level),
		"lead":        inc.Lead,
		"state":       inc.State.String(),
	}
	if !inc.ResponseDue.IsZero() {
		ann["response_due"] = inc.ResponseDue.UTC().Format(time.RFC3339)
	}
	if inc.Breached {
		ann["breached"] = "true"
		ann["escalated_to"] = inc.EscalatedTo
	}
	gen := incidentURL(a.gen, inc.ID)
	for _, ref := range inc.Alerts {
		labels := amLabels(ref.Labels)
		labels["severity"] = sev
		an := maps.Clone(ann)
		if ref.Summary != "" {
			an["description"] = truncateText(ref.Summary, maxDescription)
		}
		p := PostableAlert{Labels: labels, Annotations: an, StartsAt: ref.FirstSeen, GeneratorURL: gen}
		if ref.Firing && inc.State.Open() {
			p.EndsAt = at.Add(3 * a.resend)
			firing = append(firing, p)
		} else {
			p.EndsAt = cmpOr(ref.ClearedAt, at)
			if p.EndsAt.After(at) || p.EndsAt.Before(p.StartsAt) {
				p.EndsAt = at
			}
			resolved = append(resolved, p)
		}
		if prev != "" && prev != sev {
			old := maps.Clone(labels)
			old["severity"] = prev
			resolved = append(resolved, PostableAlert{Labels: old, Annotations: an, StartsAt: ref.FirstSeen, EndsAt: at, GeneratorURL: gen})
		}
	}
	return firing, resolved
}

// amLabels copies labels with every name made one Alertmanager accepts.
func amLabels(in map[string]string) map[string]string {
	out := make(map[string]string, len(in)+1)
	for k, v := range in {
		if v == "" || k == "severity" {
			continue
		}
		out[amLabelName(k)] = v
	}
	return out
}

// amLabelName makes name match [a-zA-Z_][a-zA-Z0-9_]*.
func amLabelName(name string) string {
	if name == "" {
		return "_"
	}
	b := []byte(name)
	ok := true
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			ok = false
			break
		}
	}
	if ok {
		return name
	}
	var s strings.Builder
	if name[0] >= '0' && name[0] <= '9' {
		s.WriteByte('_')
	}
	for _, c := range b {
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			s.WriteByte(c)
		} else {
			s.WriteByte('_')
		}
	}
	return s.String()
}

// Notify records the incident's alerts and posts them to every peer: its
// firing alerts, and the ones that stopped firing (including, resolved, any
// alert sent before for this incident that this notification no longer
// holds). It starts the resend loop on its first call.
func (a *Alertmanager) Notify(ctx context.Context, n Notification) error {
	firing, resolved := a.alertsFor(&n)
	incKey := n.Incident.GroupKey + "\x00" + n.Incident.ID
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return errors.New("firebreak: alertmanager: notifier is closed")
	}
	if !a.started {
		a.started = true
		go a.loop()
	}
	fresh := map[string]*amAlert{}
	for _, p := range firing {
		fresh[Fingerprint(p.Labels)] = &amAlert{alert: p}
	}
	for _, p := range resolved {
		fp := Fingerprint(p.Labels)
		if fresh[fp] == nil {
			fresh[fp] = &amAlert{alert: p, resolved: true, resendsLeft: 2}
		}
	}
	for _, k := range a.byInc[incKey] {
		// An alert posted before that this notification does not carry
		// (its severity changed and the pair was already retired, or the
		// board forgot it) is resolved now rather than left to expire.
		old := a.alerts[k]
		fp := k[len(incKey)+1:]
		if fresh[fp] == nil && old != nil && !old.resolved {
			p := old.alert
			p.EndsAt = cmpOr(n.At, time.Now())
			fresh[fp] = &amAlert{alert: p, resolved: true, resendsLeft: 2}
		}
		delete(a.alerts, k)
	}
	keys := make([]string, 0, len(fresh))
	for _, fp := range slices.Sorted(maps.Keys(fresh)) {
		k := incKey + "\x00" + fp
		a.alerts[k] = fresh[fp]
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		delete(a.byInc, incKey)
	} else {
		a.byInc[incKey] = keys
	}
	a.mu.Unlock()
	return a.send(ctx, func() []PostableAlert {
		// What this incident holds when the post goes out, which may be
		// newer than what this call recorded.
		a.mu.Lock()
		defer a.mu.Unlock()
		var out []PostableAlert
		for _, k := range a.byInc[incKey] {
			if al := a.alerts[k]; al != nil {
				out = append(out, al.alert)
			}
		}
		return out
	})
}

// send takes the post token, reads the alerts to post with collect, and
// posts them to every peer. The token keeps posts in order: a post always
// carries the state of the moment it was sent.
func (a *Alertmanager) send(ctx context.Context, collect func() []PostableAlert) error {
	select {
	case a.sendSlot <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("firebreak: alertmanager: %w", ctx.Err())
	}
	defer func() { <-a.sendSlot }()
	alerts := collect()
	if len(alerts) == 0 {
		return nil
	}
	var bodies [][]byte
	for chunk := range slices.Chunk(alerts, amBatch) {
		body, err := json.Marshal(chunk)
		if err != nil {
			return fmt.Errorf("firebreak: alertmanager: encoding alerts: %w", err)
		}
		bodies = append(bodies, body)
	}
	errs := make([]error, len(a.targets))
	var wg sync.WaitGroup
	for i, t := range a.targets {
		wg.Go(func() {
			for _, body := range bodies {
				if _, err := a.post.post(ctx, t.url, t.masked, body, amCheck); err != nil {
					errs[i] = fmt.Errorf("firebreak: alertmanager %s: %w", t.masked, err)
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// amCheck accepts a 2xx answer; any other is permanent.
func amCheck(code int, answer []byte) error {
	if code >= 200 && code < 300 {
		return nil
	}
	var e struct {
		Message string `json:"message"`
	}
	detail := ""
	if json.Unmarshal(answer, &e) == nil && e.Message != "" {
		detail = shortDetail(e.Message)
	} else if len(answer) > 0 && json.Valid(answer) {
		detail = shortDetail(string(answer))
	} else if len(answer) > 0 {
		detail = shortDetail(string(bytes.TrimSpace(answer)))
	}
	return backoff.Permanent(&answerError{code: code, detail: detail})
}

func (a *Alertmanager) loop() {
	defer close(a.done)
	t := time.NewTicker(a.resend)
	defer t.Stop()
	for {
		select {
		case <-a.loopCtx.Done():
			return
		case <-t.C:
		}
		// A resend gets two intervals; Close cancels it at once.
		ctx, cancel := context.WithTimeout(a.loopCtx, 2*a.resend)
		err := a.send(ctx, a.resendBatch)
		cancel()
		if err != nil && a.loopCtx.Err() == nil { // a resend cut short by Close is no failure
			a.logger.LogAttrs(context.Background(), slog.LevelWarn, "firebreak: alertmanager resend failed", slog.String("error", err.Error()))
		}
	}
}

// resendBatch returns every alert to re-send, firing ones with endsAt moved
// forward, and forgets resolved ones whose last resend this is.
func (a *Alertmanager) resendBatch() []PostableAlert {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]PostableAlert, 0, len(a.alerts))
	for incKey, keys := range a.byInc {
		kept := keys[:0]
		for _, k := range keys {
			al := a.alerts[k]
			if al == nil {
				continue
			}
			if !al.resolved {
				al.alert.EndsAt = now.Add(3 * a.resend)
			} else {
				al.resendsLeft--
			}
			out = append(out, al.alert)
			if al.resolved && al.resendsLeft <= 0 {
				delete(a.alerts, k)
				continue
			}
			kept = append(kept, k)
		}
		if len(kept) == 0 {
			delete(a.byInc, incKey)
		} else {
			a.byInc[incKey] = kept
		}
	}
	return out
}

// Firing returns how many alerts the notifier keeps alive by resending.
func (a *Alertmanager) Firing() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, al := range a.alerts {
		if !al.resolved {
			n++
		}
	}
	return n
}

// Close stops the resend loop and waits for it within ctx. Alerts still
// firing are not resolved: Alertmanager resolves them when their endsAt
// passes, unless another replica keeps them alive. Notify after Close
// returns an error. Close is idempotent.
func (a *Alertmanager) Close(ctx context.Context) error {
	a.mu.Lock()
	started := a.started
	if !a.closed {
		a.closed = true
		a.stopLoop()
	}
	a.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("firebreak: alertmanager: Close: %w", ctx.Err())
	}
}

// The hand-off notifiers' shared options and delivery (Alertmanager,
// PagerDuty, Slack).

// HandoffOption configures a hand-off notifier: [NewAlertmanager],
// [NewPagerDuty] or [NewSlack]. An option that does not apply to the
// notifier it is given to is an error naming it, never silently ignored.
type HandoffOption interface{ applyHandoff(*handoffConfig) }

type handoffConfig struct {
	set         []string // names of the options given, for the applicability check
	client      *http.Client
	retryFor    time.Duration
	externalURL string
	logger      *slog.Logger

	peers  []string      // Alertmanager
	resend time.Duration // Alertmanager

	endpoint string // PagerDuty
	source   string // PagerDuty

	baseURL string // Slack
}

type handoffOptionFunc struct {
	name string
	f    func(*handoffConfig)
}

func (o handoffOptionFunc) applyHandoff(c *handoffConfig) {
	c.set = append(c.set, o.name)
	o.f(c)
}

func handoffOpt(name string, f func(*handoffConfig)) HandoffOption {
	return handoffOptionFunc{name: name, f: f}
}

// WithHandoffClient sets the HTTP client. The notifier uses a copy that
// never follows redirects, so a payload or a secret is never re-sent to
// another host. Default: a client with a 10-second timeout.
func WithHandoffClient(c *http.Client) HandoffOption {
	return handoffOpt("WithHandoffClient", func(h *handoffConfig) { h.client = c })
}

// WithHandoffRetryFor bounds how long one delivery is retried (network
// errors, 5xx, 408, 429 with its Retry-After). Default: 1 minute.
func WithHandoffRetryFor(d time.Duration) HandoffOption {
	return handoffOpt("WithHandoffRetryFor", func(h *handoffConfig) { h.retryFor = d })
}

// WithHandoffExternalURL sets the link back to firebreak's operations API:
// Alertmanager's generatorURL, PagerDuty's links and client_url, and Slack's
// "open" link point at the incident under it. Default: none.
func WithHandoffExternalURL(u string) HandoffOption {
	return handoffOpt("WithHandoffExternalURL", func(h *handoffConfig) { h.externalURL = strings.TrimRight(u, "/") })
}

// WithHandoffLogger sets where failures of background work are logged (the
// Alertmanager resend loop; Notify returns its own errors). Default:
// slog.Default().
func WithHandoffLogger(l *slog.Logger) HandoffOption {
	return handoffOpt("WithHandoffLogger", func(h *handoffConfig) { h.logger = l })
}

// newHandoffConfig applies opts with the shared defaults and checks the
// shared settings; allowed names the notifier-specific options who may be
// given.
func newHandoffConfig(who string, opts []HandoffOption, allowed ...string) (*handoffConfig, error) {
	c := &handoffConfig{retryFor: time.Minute}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("firebreak: %s: option %d is nil", who, i)
		}
		o.applyHandoff(c)
	}
	var errs []error
	shared := []string{"WithHandoffClient", "WithHandoffRetryFor", "WithHandoffExternalURL", "WithHandoffLogger"}
	for _, name := range c.set {
		if !slices.Contains(shared, name) && !slices.Contains(allowed, name) {
			errs = append(errs, fmt.Errorf("firebreak: %s: option %s does not apply to it", who, name))
		}
	}
	if c.retryFor <= 0 {
		errs = append(errs, fmt.Errorf("firebreak: %s: WithHandoffRetryFor: must be longer than 0, got %s", who, c.retryFor))
	}
	if c.externalURL != "" {
		if eu, err := url.Parse(c.externalURL); err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
			errs = append(errs, fmt.Errorf("firebreak: %s: WithHandoffExternalURL: %s is not an absolute http or https URL", who, maskRawURL(c.externalURL)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	hc := http.Client{Timeout: 10 * time.Second}
	if c.client != nil {
		hc = *c.client
	}
	hc.CheckRedirect = refuseRedirect
	c.client = &hc
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c, nil
}

// parseEndpoint checks that raw is an absolute http or https URL and
// returns it parsed with its masked form; field names it in the error.
func parseEndpoint(field, raw string) (*url.URL, string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, "", fmt.Errorf("firebreak: %s: URL %s must be an absolute http or https URL", field, maskRawURL(raw))
	}
	return u, maskURL(u), nil
}

// maxResponse bounds what is read of a receiver's answer.
const maxResponse = 64 << 10

// poster delivers JSON bodies with the webhook's retry rules. Its fields are
// set once; it is safe for concurrent use.
type poster struct {
	client   *http.Client
	retryFor time.Duration
	agent    string
	header   http.Header // secret values: never shown
}

// answerError is an answer the receiver refused; it never carries secrets.
type answerError struct {
	code   int
	detail string // the receiver's own short reason, if it gave one
}

func (e *answerError) Error() string {
	if e.detail != "" {
		return fmt.Sprintf("answered %d: %s", e.code, e.detail)
	}
	return fmt.Sprintf("answered %d", e.code)
}

// post sends body to rawURL, retrying on network errors, 5xx, 408 and 429
// (honouring Retry-After) until check accepts the answer, check returns a
// permanent error, ctx ends or the retry time runs out. check gets the status
// and at most maxResponse bytes of the answer; it returns nil to accept,
// a retryable error, or a backoff.Permanent one. Errors show masked in place
// of rawURL.
func (p *poster) post(ctx context.Context, rawURL, masked string, body []byte, check func(code int, answer []byte) error) ([]byte, error) {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 500 * time.Millisecond
	bo.MaxInterval = 10 * time.Second
	bo.MaxElapsedTime = p.retryFor
	var answer []byte
	op := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
		if err != nil {
			return backoff.Permanent(maskErr(err, rawURL, masked))
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("User-Agent", p.agent)
		for k, vs := range p.header {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		resp, err := p.client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return backoff.Permanent(ctx.Err())
			}
			return maskErr(err, rawURL, masked)
		}
		answer, err = io.ReadAll(io.LimitReader(resp.Body, maxResponse))
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
		resp.Body.Close()
		if err != nil {
			return maskErr(err, rawURL, masked)
		}
		code := resp.StatusCode
		switch {
		case code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
			return &statusError{code: code, retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
		case code >= 300 && code < 400:
			return backoff.Permanent(&statusError{code: code, redirect: true})
		}
		return check(code, answer)
	}
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
		return nil, err
	}
	return answer, nil
}

// maskErr rewrites every copy of rawURL in err to masked.
func maskErr(err error, rawURL, masked string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = masked
	}
	if strings.Contains(err.Error(), rawURL) {
		return errors.New(strings.ReplaceAll(err.Error(), rawURL, masked))
	}
	return err
}

// shortDetail keeps a receiver's reason printable and short, for errors.
func shortDetail(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return truncateText(strings.TrimSpace(s), 200)
}

// incidentURL is the link to the incident under the external URL, or "".
func incidentURL(external, id string) string {
	if external == "" {
		return ""
	}
	return external + "/incidents/" + url.PathEscape(id)
}
