package firebreak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Slack is a [Notifier] that posts incidents to a Slack channel with the Web
// API and a bot token: one message per incident, every later event a reply
// in that message's thread, and the message itself updated (chat.update) to
// show the incident's current severity, state and lead. It is safe for
// concurrent use and holds no lock while it sends.
//
// Incoming webhooks cannot thread, so the bot token (xoxb-…, with the
// chat:write scope, the bot invited to the channel) is required. The first
// event of an incident posts the parent message with chat.postMessage and
// keeps its ts; later events post with thread_ts = that ts, then update the
// parent. Threads are forgotten when the incident is closed, and beyond
// 10,000 open threads the oldest are forgotten first (a later event of a
// forgotten incident starts a new message).
//
// Messages are Block Kit: a header, a section of fields and a context line
// linking to the incident under [WithHandoffExternalURL]. Text from signals
// and people is escaped for mrkdwn (&, < and > become &amp;, &lt;, &gt;), so
// it can neither mention @channel nor forge a link. Signal summaries,
// evidence and findings' text are not posted; timeline notes are.
//
// Delivery retries like [Webhook] (network errors, 5xx, 429 with
// Retry-After) and also on Slack's transient errors (internal_error,
// fatal_error, service_unavailable, request_timeout); other "ok": false
// answers are permanent errors naming Slack's error code. The token is sent
// only in the Authorization header and never appears in an error or a log.
type Slack struct {
	token   string
	channel string
	base    string // ends in "/"
	masked  string
	ext     string
	post    poster

	mu      sync.Mutex              // guards threads and order
	threads map[string]*slackThread // by incident key
	order   []string                // keys in creation order, for the bound
}

var _ Notifier = (*Slack)(nil)

// slackThread is an incident's parent message. ready is closed once the
// parent was posted (ts and channel set) or failed (failed set); the fields
// are written once, before ready closes.
type slackThread struct {
	ready   chan struct{}
	ts      string
	channel string
	failed  bool
}

// DefaultSlackBaseURL is the Slack Web API's base URL.
const DefaultSlackBaseURL = "https://slack.com/api/"

const maxSlackThreads = 10000

// WithSlackBaseURL sets the Web API's base URL, e.g. for a proxy or a test
// server; method names (chat.postMessage) are appended. Applies to
// [NewSlack]. Default: [DefaultSlackBaseURL].
func WithSlackBaseURL(u string) HandoffOption {
	return handoffOpt("WithSlackBaseURL", func(h *handoffConfig) { h.baseURL = u })
}

// NewSlack returns a notifier posting to channel (an ID such as C0123ABCD,
// or a name such as #ops) with the bot token.
func NewSlack(token, channel string, opts ...HandoffOption) (*Slack, error) {
	c, err := newHandoffConfig("NewSlack", opts, "WithSlackBaseURL")
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(token, "xox") || strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return nil, errors.New("firebreak: NewSlack: token must be a Slack bot token (xoxb-…, printable, no spaces)")
	}
	if channel == "" || strings.ContainsAny(channel, " \t\r\n") {
		return nil, fmt.Errorf("firebreak: NewSlack: channel must be a channel ID or name without spaces, got %q", channel)
	}
	base := cmpOr(c.baseURL, DefaultSlackBaseURL)
	u, masked, err := parseEndpoint("NewSlack: WithSlackBaseURL", base)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		u.RawPath = ""
	}
	return &Slack{
		token: token, channel: channel, base: u.String(), masked: masked, ext: c.externalURL,
		post: poster{client: c.client, retryFor: c.retryFor, agent: "firebreak-slack",
			header: map[string][]string{"Authorization": {"Bearer " + token}}},
		threads: map[string]*slackThread{},
	}, nil
}

// SlackEscape escapes s for Slack mrkdwn: &, < and > become &amp;, &lt;
// and &gt;.
func SlackEscape(s string) string {
	return slackEscaper.Replace(s)
}

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// SlackMessage is the body of chat.postMessage and chat.update.
type SlackMessage struct {
	Channel  string       `json:"channel"`
	TS       string       `json:"ts,omitempty"`        // chat.update: the message to update
	ThreadTS string       `json:"thread_ts,omitempty"` // a reply in this thread
	Text     string       `json:"text"`                // the notification fallback
	Blocks   []SlackBlock `json:"blocks"`
}

// SlackBlock is a Block Kit block: header, section or context.
type SlackBlock struct {
	Type     string      `json:"type"`
	Text     *SlackText  `json:"text,omitempty"`
	Fields   []SlackText `json:"fields,omitempty"`
	Elements []SlackText `json:"elements,omitempty"`
}

// SlackText is a Block Kit text object.
type SlackText struct {
	Type string `json:"type"` // plain_text or mrkdwn
	Text string `json:"text"`
}

var slackIcons = map[Severity]string{Fatal: ":red_circle:", Severe: ":large_orange_circle:", General: ":large_yellow_circle:", None: ":white_circle:"}

// Parent returns the parent message for n: the incident as it stands.
func (s *Slack) Parent(n Notification) SlackMessage {
	inc := &n.Incident
	title := fmt.Sprintf("%s %s · %s", slackIcons[inc.Severity], inc.Severity, cmpOr(inc.Title, inc.ID))
	if !inc.State.Open() {
		title = fmt.Sprintf(":white_check_mark: %s (was %s) · %s", inc.State, inc.MaxSeverity, cmpOr(inc.Title, inc.ID))
	}
	state := inc.State.String()
	if inc.AcknowledgedBy != "" && inc.State.Open() {
		state += " by " + inc.AcknowledgedBy
	}
	fields := []SlackText{
		{Type: "mrkdwn", Text: fmt.Sprintf("*Severity*\n%s (level %d)", inc.Severity, inc.Level)},
		{Type: "mrkdwn", Text: "*State*\n" + SlackEscape(state)},
		{Type: "mrkdwn", Text: "*Lead*\n" + SlackEscape(cmpOr(inc.Lead, "-"))},
		{Type: "mrkdwn", Text: "*Fault domain*\n" + SlackEscape(cmpOr(inc.FaultDomain, "-"))},
		{Type: "mrkdwn", Text: "*Components*\n" + truncateText(SlackEscape(cmpOr(strings.Join(inc.Components, ", "), "-")), 1900)},
	}
	if !inc.ResponseDue.IsZero() && inc.State.Open() {
		due := "*Response due*\n" + inc.ResponseDue.UTC().Format(time.RFC3339)
		if inc.Breached {
			due += " (breached: escalated to " + SlackEscape(inc.EscalatedTo) + ")"
		}
		fields = append(fields, SlackText{Type: "mrkdwn", Text: due})
	}
	ctxLine := "Incident " + SlackEscape(inc.ID) + " · " + SlackEscape(inc.Service)
	if inc.Env != "" {
		ctxLine += " (" + SlackEscape(inc.Env) + ")"
	}
	if u := incidentURL(s.ext, inc.ID); u != "" {
		ctxLine += " · <" + u + "|open in firebreak>"
	}
	return SlackMessage{
		Channel: s.channel,
		Text:    truncateText(title, 3000),
		Blocks: []SlackBlock{
			{Type: "header", Text: &SlackText{Type: "plain_text", Text: truncateText(title, 150)}},
			{Type: "section", Fields: fields},
			{Type: "context", Elements: []SlackText{{Type: "mrkdwn", Text: truncateText(ctxLine, 2000)}}},
		},
	}
}

// Reply returns the thread reply for n: what happened.
func (s *Slack) Reply(n Notification) SlackMessage {
	inc := &n.Incident
	line := fmt.Sprintf("*%s* · %s · %s", n.Event, inc.Severity, inc.State)
	if n.PreviousSeverity != inc.Severity && (n.Event == EventEscalated || n.Event == EventDowngraded) {
		line = fmt.Sprintf("*%s* from %s to %s · %s", n.Event, n.PreviousSeverity, inc.Severity, inc.State)
	}
	// The timeline entry this event made, if it is the last one.
	if k := len(inc.Timeline); k > 0 && inc.Timeline[k-1].Event == n.Event {
		e := inc.Timeline[k-1]
		if e.Actor != "" && e.Actor != "firebreak" {
			line += " · by " + SlackEscape(e.Actor)
		}
		if e.Note != "" {
			line += "\n" + SlackEscape(e.Note)
		}
	}
	for _, a := range n.Fired {
		line += "\n:rotating_light: firing: " + SlackEscape(alertWho(&a)) + " (" + SlackEscape(a.Kind.AlertName()) + ")"
	}
	for _, a := range n.Resolved {
		line += "\n:white_check_mark: cleared: " + SlackEscape(alertWho(&a)) + " (" + SlackEscape(a.Kind.AlertName()) + ")"
	}
	line = truncateText(line, 3000)
	return SlackMessage{
		Channel: s.channel,
		Text:    truncateText(fmt.Sprintf("%s: %s", n.Event, cmpOr(inc.Title, inc.ID)), 3000),
		Blocks:  []SlackBlock{{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: line}}},
	}
}

// Notify posts the incident's message on its first event; on later events
// it replies in the message's thread and updates the message.
func (s *Slack) Notify(ctx context.Context, n Notification) error {
	key := n.Incident.GroupKey + "\x00" + n.Incident.ID
	for {
		th, mine := s.thread(key)
		if mine {
			ch, ts, err := s.call(ctx, "chat.postMessage", s.Parent(n))
			if err != nil {
				th.failed = true
				s.forget(key, th)
				close(th.ready)
				return err
			}
			th.channel, th.ts = ch, ts
			close(th.ready)
			if n.Event == EventClosed {
				s.forget(key, th)
			}
			return nil
		}
		select {
		case <-th.ready:
		case <-ctx.Done():
			return fmt.Errorf("firebreak: slack: %w", ctx.Err())
		}
		if th.failed {
			continue // the post that would have made the thread failed: make it now
		}
		reply := s.Reply(n)
		reply.Channel, reply.ThreadTS = th.channel, th.ts
		if _, _, err := s.call(ctx, "chat.postMessage", reply); err != nil {
			return err
		}
		parent := s.Parent(n)
		parent.Channel, parent.TS = th.channel, th.ts
		if _, _, err := s.call(ctx, "chat.update", parent); err != nil {
			return err
		}
		if n.Event == EventClosed {
			s.forget(key, th)
		}
		return nil
	}
}

// thread returns key's thread, making it (mine = true) if there is none.
func (s *Slack) thread(key string) (th *slackThread, mine bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if th := s.threads[key]; th != nil {
		return th, false
	}
	th = &slackThread{ready: make(chan struct{})}
	s.threads[key] = th
	s.order = append(s.order, key)
	for len(s.threads) > maxSlackThreads && len(s.order) > 0 {
		delete(s.threads, s.order[0])
		s.order = s.order[1:]
	}
	return th, true
}

// forget drops key's thread if it is still th.
func (s *Slack) forget(key string, th *slackThread) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.threads[key] == th {
		delete(s.threads, key)
		if i := slices.Index(s.order, key); i >= 0 {
			s.order = slices.Delete(s.order, i, i+1)
		}
	}
}

var slackTransient = []string{"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}

// call posts msg to the Web API method and returns the message's channel
// and ts.
func (s *Slack) call(ctx context.Context, method string, msg SlackMessage) (channel, ts string, err error) {
	body, err := json.Marshal(msg)
	if err != nil {
		return "", "", fmt.Errorf("firebreak: slack: encoding message: %w", err)
	}
	var ans struct {
		OK      bool   `json:"ok"`
		Error   string `json:"error"`
		Channel string `json:"channel"`
		TS      string `json:"ts"`
	}
	raw := s.base + method
	_, err = s.post.post(ctx, raw, s.masked+method, body, func(code int, answer []byte) error {
		ans.OK, ans.Error = false, ""
		if code != 200 {
			return backoff.Permanent(&answerError{code: code})
		}
		if err := json.Unmarshal(answer, &ans); err != nil {
			return backoff.Permanent(&answerError{code: code, detail: "answer is not JSON"})
		}
		if !ans.OK {
			e := &answerError{code: code, detail: strings.ReplaceAll(shortDetail(cmpOr(ans.Error, "ok is false")), s.token, "***")}
			if slices.Contains(slackTransient, ans.Error) {
				return e
			}
			return backoff.Permanent(e)
		}
		if ans.TS == "" {
			return backoff.Permanent(&answerError{code: code, detail: "answer has no ts"})
		}
		return nil
	})
	if err != nil {
		return "", "", fmt.Errorf("firebreak: slack %s: %w", url.PathEscape(method), err)
	}
	return cmpOr(ans.Channel, msg.Channel), ans.TS, nil
}
