package firebreak

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/firebreak-go/firebreak/internal/web"
)

// The feedback channel (feedback.go): users report a problem through a
// public form or JSON; the reports become user_feedback signals aggregated
// per component and evidence on the matching open incident; operators reply
// and publish "what we changed" notes on the status page.

// Limits of the feedback channel.
const (
	// MaxFeedbackLen is the longest report message, in bytes.
	MaxFeedbackLen = 2000
	// MaxContactLen is the longest contact address, in bytes.
	MaxContactLen = 200
	// MaxFeedbackReports is how many reports a Feedback keeps; the oldest
	// goes first.
	MaxFeedbackReports = 1000
	// MaxFeedbackEvidence is how many reports are attached to one incident
	// as evidence; later ones are still counted in the signal.
	MaxFeedbackEvidence = 50
	// MaxChangeNotes is how many "what we changed" notes are kept.
	MaxChangeNotes  = 100
	maxFeedbackBody = 8 << 10
	maxClients      = 10000
	// maxTotalPerMinute bounds WithFeedbackTotalRate: 1000 a second.
	maxTotalPerMinute = 60000
)

// ErrorTypeFeedbackRateLimited is the ErrorType of a [FeedbackLimitError].
const ErrorTypeFeedbackRateLimited = "feedback_rate_limited"

// ErrFeedbackRateLimited is matched by a [FeedbackLimitError].
var ErrFeedbackRateLimited = errors.New("firebreak: feedback rate limited")

// FeedbackLimitError refuses a report because its client sent too many, or
// the channel took too many in all. It is a local refusal
// ([RejectOverload]).
type FeedbackLimitError struct {
	RetryAfter time.Duration
	Global     bool // the channel's overall limit, not the client's
}

func (e *FeedbackLimitError) Error() string {
	who := "this client"
	if e.Global {
		who = "everyone"
	}
	return fmt.Sprintf("firebreak: feedback: too many reports from %s; try again in %s", who, e.RetryAfter.Round(time.Second))
}

// Is matches [ErrFeedbackRateLimited].
func (e *FeedbackLimitError) Is(target error) bool { return target == ErrFeedbackRateLimited }

// Rejection is [RejectOverload].
func (e *FeedbackLimitError) Rejection() Rejection { return RejectOverload }

// ErrorType is [ErrorTypeFeedbackRateLimited].
func (e *FeedbackLimitError) ErrorType() string { return ErrorTypeFeedbackRateLimited }

// FeedbackInput is what a user sends.
type FeedbackInput struct {
	// Component is the declared public component the problem is with;
	// empty when the user does not know.
	Component string `json:"component,omitempty"`
	// Message is what went wrong, in the user's words: 1 to
	// [MaxFeedbackLen] bytes of text, no markup.
	Message string `json:"message"`
	// Contact is an optional e-mail address or phone number for a reply.
	// It is shown only in the console, never on a public page, in a signal
	// or in an incident report.
	Contact string `json:"contact,omitempty"`
}

// FeedbackReport is one report as operators see it.
type FeedbackReport struct {
	ID        string          `json:"id"`
	At        time.Time       `json:"at"`
	Component string          `json:"component,omitempty"`
	Message   string          `json:"message"`
	Contact   string          `json:"contact,omitempty"`
	Incident  string          `json:"incident,omitempty"` // the open incident it was attached to as evidence
	Replies   []FeedbackReply `json:"replies"`
}

// FeedbackReply is an operator's answer to a report.
type FeedbackReply struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Text   string    `json:"text"`
	Public bool      `json:"public"` // shown on the status page, without the report
}

// ChangeNote is a "what we changed" note on the status page.
type ChangeNote struct {
	At         time.Time `json:"at"`
	By         string    `json:"by"`
	Title      string    `json:"title"`
	Body       string    `json:"body"`
	Components []string  `json:"components,omitempty"`
}

// PublicReply is a public reply as the status page shows it: no report
// text, no contact, no operator name.
type PublicReply struct {
	At        time.Time
	Component string
	Text      string
}

// Feedback is the users' feedback channel of a Board. Each accepted report
// is a [KindUserFeedback] signal for its component whose Value is the
// number of reports in the window (see [WithFeedbackWindow]), so many
// reports in a short time are the plan's early warning and the plan grades
// them (a rule with min_value sets how many make an incident). The report is
// attached as evidence to the worst open incident of its component, and
// listed in the console. The signal clears once a window passes without a
// report.
//
// Start starts the goroutine that clears quiet components; Submit before
// Start returns an error saying so. A Feedback is safe for concurrent use.
type Feedback struct {
	b         *Board
	window    time.Duration
	perClient rate.Limit
	burst     int
	all       *rate.Limiter
	tiers     map[string]Tier
	clientKey func(*http.Request) string
	logger    *slog.Logger
	tmpl      *template.Template

	mu       sync.Mutex // guards everything below
	reports  []*FeedbackReport
	recent   map[string][]time.Time // component -> report times in the window
	clients  map[string]*clientLimit
	notes    []ChangeNote
	seq      int
	onChange []func()

	worker // Start and Close (worker.go)
}

type clientLimit struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewFeedback returns the feedback channel of board b. It starts nothing:
// call Start.
func NewFeedback(b *Board, opts ...FeedbackOption) (*Feedback, error) {
	if b == nil {
		return nil, errors.New("firebreak: NewFeedback: board is nil")
	}
	cfg := feedbackConfig{window: 10 * time.Minute, perN: 5, per: 10 * time.Minute, allPerMinute: 120, tiers: map[string]Tier{}}
	var errs []error
	for i, o := range opts {
		if o == nil {
			errs = append(errs, fmt.Errorf("firebreak: NewFeedback: option %d is nil", i))
			continue
		}
		o.applyFeedback(&cfg)
	}
	if cfg.window < time.Minute || cfg.window > 24*time.Hour {
		errs = append(errs, fmt.Errorf("firebreak: WithFeedbackWindow: must be from 1m to 24h, got %v", cfg.window))
	}
	// A rate finer than the limiter can count (per/n rounding to 0) would
	// silently mean no limit at all.
	if cfg.perN < 1 || cfg.per < time.Second || cfg.perN > 1000 {
		errs = append(errs, fmt.Errorf("firebreak: WithFeedbackRate: want 1 to 1000 reports per a duration of 1s or more, got %d per %v", cfg.perN, cfg.per))
	}
	if cfg.allPerMinute < 1 || cfg.allPerMinute > maxTotalPerMinute {
		errs = append(errs, fmt.Errorf("firebreak: WithFeedbackTotalRate: must be from 1 to %d a minute, got %d", maxTotalPerMinute, cfg.allPerMinute))
	}
	for c, t := range cfg.tiers {
		if !slices.Contains(b.known, c) {
			errs = append(errs, fmt.Errorf("firebreak: WithFeedbackTier: component %q is not declared public with WithComponents", c))
		}
		if t < Core || t > Auxiliary {
			errs = append(errs, fmt.Errorf("firebreak: WithFeedbackTier: component %q: invalid tier %d", c, t))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.clientKey == nil {
		cfg.clientKey = remoteIP
	}
	return &Feedback{
		b: b, window: cfg.window, perClient: rate.Every(cfg.per / time.Duration(cfg.perN)), burst: cfg.perN,
		all: rate.NewLimiter(rate.Every(time.Minute/time.Duration(cfg.allPerMinute)), cfg.allPerMinute), tiers: cfg.tiers,
		clientKey: cfg.clientKey, logger: cmpLogger(cfg.logger), tmpl: web.Templates(pageFuncs, "feedback.html"),
		recent: map[string][]time.Time{}, clients: map[string]*clientLimit{}, worker: newWorker(),
	}, nil
}

// remoteIP is the default client key: the request's remote IP address.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// FeedbackOption configures [NewFeedback].
type FeedbackOption interface{ applyFeedback(*feedbackConfig) }

type feedbackConfig struct {
	window, per  time.Duration
	perN         int
	allPerMinute int
	tiers        map[string]Tier
	clientKey    func(*http.Request) string
	logger       *slog.Logger
}

type feedbackOptionFunc func(*feedbackConfig)

func (f feedbackOptionFunc) applyFeedback(c *feedbackConfig) { f(c) }

// WithFeedbackWindow sets the window over which reports of one component
// are counted into its signal's Value, from 1m to 24h. Default: 10m.
func WithFeedbackWindow(d time.Duration) FeedbackOption {
	return feedbackOptionFunc(func(c *feedbackConfig) { c.window = d })
}

// WithFeedbackRate limits each client to n reports (1 to 1000) per d (1s or
// more), with a burst of n. Default: 5 per 10 minutes.
func WithFeedbackRate(n int, d time.Duration) FeedbackOption {
	return feedbackOptionFunc(func(c *feedbackConfig) { c.perN, c.per = n, d })
}

// WithFeedbackTotalRate limits the channel to n reports a minute from
// everyone together, so that a flood from many addresses cannot bury the
// board; n is from 1 to 60000. Default: 120.
func WithFeedbackTotalRate(n int) FeedbackOption {
	return feedbackOptionFunc(func(c *feedbackConfig) { c.allPerMinute = n })
}

// WithFeedbackTier sets the tier the signal of component's reports carries.
// Default: Standard for every component.
func WithFeedbackTier(component string, t Tier) FeedbackOption {
	return feedbackOptionFunc(func(c *feedbackConfig) { c.tiers[component] = t })
}

// WithClientKey sets how a request's client is told apart for the rate
// limit, e.g. from a header a trusted proxy sets. Default: the remote IP
// address.
func WithClientKey(f func(*http.Request) string) FeedbackOption {
	return feedbackOptionFunc(func(c *feedbackConfig) { c.clientKey = f })
}

// WithFeedbackLogger sets where the channel logs. Default: slog.Default().
func WithFeedbackLogger(l *slog.Logger) FeedbackOption {
	return feedbackOptionFunc(func(c *feedbackConfig) { c.logger = l })
}

// Start starts the goroutine that clears the signal of a component whose
// window passed without a report. Start again does nothing; after Close it
// returns an error wrapping [ErrClosed].
func (f *Feedback) Start(ctx context.Context) error {
	return f.startWorker(ctx, "Feedback", nil, f.loop)
}

// Close stops the goroutine, waiting for it within ctx. It is idempotent,
// and Close without Start is fine.
func (f *Feedback) Close(ctx context.Context) error {
	return f.closeWorker(ctx, "Feedback", "the clearing goroutine")
}

func (f *Feedback) loop() {
	defer close(f.loopDone)
	t := time.NewTicker(max(f.window/10, time.Second))
	defer t.Stop()
	for {
		select {
		case <-f.done:
			return
		case <-t.C:
			f.clearQuiet(time.Now())
		}
	}
}

// clearQuiet clears the signal of every component without a report in the
// window, and forgets idle clients.
func (f *Feedback) clearQuiet(now time.Time) {
	var quiet []string
	f.mu.Lock()
	for c, ts := range f.recent {
		if now.Sub(ts[len(ts)-1]) >= f.window {
			quiet = append(quiet, c)
			delete(f.recent, c)
		}
	}
	for k, c := range f.clients {
		if now.Sub(c.seen) > f.window && now.Sub(c.seen) > time.Hour {
			delete(f.clients, k)
		}
	}
	f.mu.Unlock()
	for _, c := range quiet {
		f.b.Report(Signal{Kind: KindUserFeedback, Component: c, Tier: f.tier(c), Firing: false, Summary: "no user reports in " + f.window.String()})
	}
}

func (f *Feedback) tier(c string) Tier {
	if t, ok := f.tiers[c]; ok {
		return t
	}
	return Standard
}

// checkFeedback validates a report, naming the field.
func (f *Feedback) checkFeedback(in *FeedbackInput) error {
	in.Message, in.Contact, in.Component = strings.TrimSpace(in.Message), strings.TrimSpace(in.Contact), strings.TrimSpace(in.Component)
	var errs []error
	switch {
	case in.Message == "":
		errs = append(errs, errors.New("firebreak: feedback: message is required"))
	case len(in.Message) > MaxFeedbackLen:
		errs = append(errs, fmt.Errorf("firebreak: feedback: message is %d bytes, longer than %d", len(in.Message), MaxFeedbackLen))
	default:
		if err := plainText("message", in.Message); err != nil {
			errs = append(errs, err)
		}
	}
	if in.Component != "" && !slices.Contains(f.b.known, in.Component) {
		errs = append(errs, errors.New("firebreak: feedback: component is not one of the components on the form"))
	}
	if in.Contact != "" {
		if len(in.Contact) > MaxContactLen {
			errs = append(errs, fmt.Errorf("firebreak: feedback: contact is %d bytes, longer than %d", len(in.Contact), MaxContactLen))
		} else if !validContact(in.Contact) {
			errs = append(errs, errors.New("firebreak: feedback: contact must be an e-mail address or a phone number"))
		}
	}
	return errors.Join(errs...)
}

// plainText refuses markup and control characters: no script is accepted
// as content, even though every page escapes what it shows.
func plainText(field, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("firebreak: feedback: %s is not valid UTF-8", field)
	}
	low := strings.ToLower(s)
	for i := 0; i < len(low); i++ {
		if low[i] == '<' && i+1 < len(low) && (low[i+1] == '/' || low[i+1] == '!' || low[i+1] == '?' || unicode.IsLetter(rune(low[i+1]))) {
			return fmt.Errorf("firebreak: feedback: %s may not contain markup (\"<%c…\")", field, s[i+1])
		}
	}
	for _, bad := range []string{"javascript:", "vbscript:", "data:text/html"} {
		if strings.Contains(low, bad) {
			return fmt.Errorf("firebreak: feedback: %s may not contain %q", field, bad)
		}
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return fmt.Errorf("firebreak: feedback: %s may not contain control characters", field)
		}
	}
	return nil
}

func validContact(s string) bool {
	if strings.ContainsAny(s, " \t\r\n<>\"'") && strings.Contains(s, "@") {
		return false
	}
	if at := strings.LastIndexByte(s, '@'); at > 0 {
		return at < len(s)-3 && strings.Contains(s[at:], ".") && !strings.ContainsAny(s, " <>\"'")
	}
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+-() .", r):
		default:
			return false
		}
	}
	return digits >= 6 && digits <= 20
}

// Submit takes a report from client (the rate limit's key): it validates
// it, applies the rate limits, reports the component's signal and attaches
// the report to the worst open incident of the component. It returns the
// stored report, a [FeedbackLimitError] when limited, or an error naming the
// bad field.
func (f *Feedback) Submit(in FeedbackInput, client string) (FeedbackReport, error) {
	if !f.started.Load() || f.closed.Load() {
		if f.closed.Load() {
			return FeedbackReport{}, fmt.Errorf("firebreak: feedback: %w", ErrClosed)
		}
		return FeedbackReport{}, errors.New("firebreak: feedback: Start was not called")
	}
	if err := f.checkFeedback(&in); err != nil {
		return FeedbackReport{}, err
	}
	now := time.Now()
	f.mu.Lock()
	cl := f.clients[client]
	if cl == nil {
		if len(f.clients) >= maxClients {
			f.evictClientLocked()
		}
		cl = &clientLimit{lim: rate.NewLimiter(f.perClient, f.burst)}
		f.clients[client] = cl
	}
	cl.seen = now
	own := cl.lim.ReserveN(now, 1)
	if !own.OK() || own.DelayFrom(now) > 0 {
		d := own.DelayFrom(now)
		own.CancelAt(now)
		f.mu.Unlock()
		return FeedbackReport{}, &FeedbackLimitError{RetryAfter: d}
	}
	if res := f.all.ReserveN(now, 1); res.DelayFrom(now) > 0 {
		d := res.DelayFrom(now)
		res.CancelAt(now)
		own.CancelAt(now) // a report refused by the total limit spends none of the client's
		f.mu.Unlock()
		return FeedbackReport{}, &FeedbackLimitError{RetryAfter: d, Global: true}
	}
	comp := in.Component
	if comp == "" {
		comp = f.b.service
	}
	ts := append(f.recent[comp], now)
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= f.window {
		i++
	}
	ts = ts[i:]
	f.recent[comp] = ts
	n := len(ts)
	f.seq++
	rep := &FeedbackReport{ID: "f" + strconv.Itoa(f.seq), At: now, Component: in.Component, Message: in.Message, Contact: in.Contact, Replies: []FeedbackReply{}}
	f.reports = append(f.reports, rep)
	if len(f.reports) > MaxFeedbackReports {
		f.reports = slices.Delete(f.reports, 0, len(f.reports)-MaxFeedbackReports)
	}
	f.mu.Unlock()

	f.b.Report(Signal{Kind: KindUserFeedback, Component: comp, Tier: f.tier(comp), Firing: true, Value: float64(n),
		Metrics: map[string]float64{"reports": float64(n), "window_seconds": f.window.Seconds()},
		Summary: fmt.Sprintf("%d user reports in %s", n, f.window)})
	if id := f.attach(rep.ID, comp, in.Message); id != "" {
		f.mu.Lock()
		rep.Incident = id
		f.mu.Unlock()
	}
	f.changed()
	return f.copyOf(rep), nil
}

func (f *Feedback) evictClientLocked() {
	var oldest string
	var at time.Time
	for k, c := range f.clients {
		if oldest == "" || c.seen.Before(at) {
			oldest, at = k, c.seen
		}
	}
	delete(f.clients, oldest)
}

// attach adds the report to the worst open incident of comp (the newest of
// the worst) as evidence, and returns that incident's ID ("" when none, or
// it is full).
func (f *Feedback) attach(id, comp, msg string) string {
	open := f.b.List(Filter{OpenOnly: true, Component: comp})
	if len(open) == 0 {
		return ""
	}
	// MaxFunc keeps the first of the worst, and List is newest first.
	inc := slices.MaxFunc(open, func(x, y Incident) int { return int(x.Severity) - int(y.Severity) })
	n := 0
	for _, e := range inc.Evidence {
		if e.Kind == string(KindUserFeedback) {
			n++
		}
	}
	if n >= MaxFeedbackEvidence || len(inc.Evidence) >= MaxEvidence-1 {
		return ""
	}
	if err := f.b.AddEvidence(inc.ID, "feedback", Evidence{Kind: string(KindUserFeedback), Source: "feedback " + id, Note: msg}); err != nil {
		f.logger.Warn("firebreak: feedback: could not attach a report", "report", id, "incident", inc.ID, "error", err)
		return ""
	}
	return inc.ID
}

func (f *Feedback) copyOf(r *FeedbackReport) FeedbackReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := *r
	c.Replies = slices.Clone(r.Replies)
	return c
}

// Reports returns the reports kept, newest first, for the console.
func (f *Feedback) Reports() []FeedbackReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]FeedbackReport, 0, len(f.reports))
	for i := len(f.reports) - 1; i >= 0; i-- {
		c := *f.reports[i]
		c.Replies = slices.Clone(c.Replies)
		out = append(out, c)
	}
	return out
}

// Reply records an operator's answer to report id. A public reply is shown
// on the status page (without the report or the contact); a reply to a
// report attached to an incident is also recorded as evidence of kind
// "feedback_reply", so the incident report lists it.
func (f *Feedback) Reply(id, by, text string, public bool) error {
	if err := requireActor(by); err != nil {
		return err
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return errors.New("firebreak: Reply: text is required")
	}
	if err := checkText("text", text); err != nil {
		return err
	}
	if public {
		if err := checkPublicText(f.b, "text", text); err != nil {
			return err
		}
	}
	f.mu.Lock()
	i := slices.IndexFunc(f.reports, func(r *FeedbackReport) bool { return r.ID == id })
	if i < 0 {
		f.mu.Unlock()
		return fmt.Errorf("%w: feedback %q", ErrNotFound, id)
	}
	r := f.reports[i]
	if len(r.Replies) >= 20 {
		f.mu.Unlock()
		return fmt.Errorf("%w: feedback %s holds 20 replies", ErrLimit, id)
	}
	r.Replies = append(r.Replies, FeedbackReply{At: time.Now(), By: by, Text: text, Public: public})
	inc := r.Incident
	f.mu.Unlock()
	if inc != "" {
		if err := f.b.AddEvidence(inc, by, Evidence{Kind: "feedback_reply", Source: "reply to feedback " + id, Note: text}); err != nil {
			f.logger.Warn("firebreak: feedback: could not record a reply on its incident", "report", id, "incident", inc, "error", err)
		}
	}
	f.changed()
	return nil
}

// PublishChange publishes a "what we changed" note on the status page.
// Title and Body are required; Components must be declared public; the text
// must not name internal parts the Board has seen.
func (f *Feedback) PublishChange(n ChangeNote, by string) error {
	if err := requireActor(by); err != nil {
		return err
	}
	n.Title, n.Body = strings.TrimSpace(n.Title), strings.TrimSpace(n.Body)
	var errs []error
	if n.Title == "" || len(n.Title) > MaxTitleLen {
		errs = append(errs, fmt.Errorf("firebreak: PublishChange: Title must be 1 to %d bytes, got %d", MaxTitleLen, len(n.Title)))
	}
	if n.Body == "" {
		errs = append(errs, errors.New("firebreak: PublishChange: Body is required"))
	}
	if err := checkText("body", n.Body); err != nil {
		errs = append(errs, err)
	}
	for _, c := range n.Components {
		if !slices.Contains(f.b.known, c) {
			errs = append(errs, fmt.Errorf("firebreak: PublishChange: component %q is not declared public with WithComponents", c))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := errors.Join(checkPublicText(f.b, "Title", n.Title), checkPublicText(f.b, "Body", n.Body)); err != nil {
		return err
	}
	n.At, n.By = time.Now(), by
	f.mu.Lock()
	f.notes = append(f.notes, n)
	if len(f.notes) > MaxChangeNotes {
		f.notes = slices.Delete(f.notes, 0, len(f.notes)-MaxChangeNotes)
	}
	f.mu.Unlock()
	f.changed()
	return nil
}

// published returns the notes and the public replies, newest first, for
// the status page.
func (f *Feedback) published() ([]ChangeNote, []PublicReply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var notes []ChangeNote
	for i := len(f.notes) - 1; i >= 0; i-- {
		n := f.notes[i]
		n.By = ""
		notes = append(notes, n)
	}
	var replies []PublicReply
	for i := len(f.reports) - 1; i >= 0 && len(replies) < 20; i-- {
		for _, rp := range f.reports[i].Replies {
			if rp.Public {
				replies = append(replies, PublicReply{At: rp.At, Component: f.reports[i].Component, Text: rp.Text})
			}
		}
	}
	return notes, replies
}

// subscribe calls fn, which must not block, after every change.
func (f *Feedback) subscribe(fn func()) {
	f.mu.Lock()
	f.onChange = append(f.onChange, fn)
	f.mu.Unlock()
}

func (f *Feedback) changed() {
	f.mu.Lock()
	fns := slices.Clone(f.onChange)
	f.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// feedbackPage is what the form template sees.
type feedbackPage struct {
	Name       string
	Components []string
	In         FeedbackInput
	Error      string
	Thanks     string
}

// Handler returns the public feedback endpoint; mount it at a path ending
// in "/". It serves:
//
//	GET  /            the form (HTML)
//	POST /            a report: a form (application/x-www-form-urlencoded), answered with a page,
//	                  or JSON {"component", "message", "contact"}, answered 201 {"id": "...", "status": "received"}
//	GET  /pages.css   the style sheet
//
// A body over 8 KiB is 413, a bad field 400 naming it, a client over its
// rate 429 with Retry-After. Nothing the user sent is shown back except on
// the form being corrected, escaped.
func (f *Feedback) Handler(name string) http.Handler {
	if strings.TrimSpace(name) == "" {
		name = f.b.service
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		switch {
		case strings.HasSuffix(r.URL.Path, "/pages.css"):
			h.Set("Content-Type", "text/css; charset=utf-8")
			h.Set("Cache-Control", "public, max-age=86400")
			css, _ := readStatic("pages.css")
			w.Write(css)
			return
		case !strings.HasSuffix(r.URL.Path, "/"):
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		page := feedbackPage{Name: name, Components: slices.Sorted(slices.Values(f.b.known))}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			f.page(w, http.StatusOK, page)
		case http.MethodPost:
			f.post(w, r, page)
		default:
			h.Set("Allow", "GET, HEAD, POST")
			http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		}
	})
}

func (f *Feedback) page(w http.ResponseWriter, code int, page feedbackPage) {
	var buf strings.Builder
	if err := f.tmpl.Execute(&buf, page); err != nil {
		f.logger.Error("firebreak: feedback form rendering failed", "error", err)
		http.Error(w, "the form could not be shown", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(buf.String()))
}

func (f *Feedback) post(w http.ResponseWriter, r *http.Request, page feedbackPage) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isJSON := mt == "application/json"
	var in FeedbackInput
	if isJSON {
		r.Body = http.MaxBytesReader(w, r.Body, maxFeedbackBody)
		if !decode(w, r, &in) {
			return
		}
	} else {
		if mt != "application/x-www-form-urlencoded" && mt != "multipart/form-data" {
			http.Error(w, "send a form or application/json", http.StatusUnsupportedMediaType)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFeedbackBody)
		if err := r.ParseForm(); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(w, "report over 8 KiB", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "malformed form", http.StatusBadRequest)
			return
		}
		in = FeedbackInput{Component: r.PostFormValue("component"), Message: r.PostFormValue("message"), Contact: r.PostFormValue("contact")}
	}
	rep, err := f.Submit(in, f.clientKey(r))
	if err != nil {
		code := http.StatusBadRequest
		var lim *FeedbackLimitError
		switch {
		case errors.As(err, &lim):
			code = http.StatusTooManyRequests
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(lim.RetryAfter.Seconds()+0.999))))
		case errors.Is(err, ErrClosed):
			code = http.StatusServiceUnavailable
		}
		msg := strings.ReplaceAll(err.Error(), "firebreak: ", "")
		if isJSON {
			writeError(w, code, msg)
			return
		}
		page.In, page.Error = in, msg
		f.page(w, code, page)
		return
	}
	if isJSON {
		writeJSON(w, http.StatusCreated, map[string]string{"id": rep.ID, "status": "received"})
		return
	}
	page.Thanks = rep.ID
	f.page(w, http.StatusOK, page)
}

// checkPublicText refuses public text that names an internal part the Board
// has seen: an undeclared component, a dependency, a fault domain (see
// internalNames for what counts as a name).
func checkPublicText(b *Board, field, text string) error {
	low := strings.ToLower(text)
	var errs []error
	for _, word := range internalNames(b) {
		if strings.Contains(low, strings.ToLower(word)) {
			errs = append(errs, fmt.Errorf("firebreak: %s names %q, an internal part the Board has seen; public text names only declared components", field, word))
		}
	}
	return errors.Join(errs...)
}

// internalNames returns the component and dependency names the Board's
// incidents know that are not declared public and look like names of
// internal parts rather than words: at least 4 bytes with a digit, a dot, a
// colon, a hyphen or an underscore ("payments-db-7", "db-7.internal",
// "checkout-worker-3"). A plain word such as "payments" may be said in
// public text.
func internalNames(b *Board) []string {
	seen := map[string]bool{}
	for _, inc := range b.List(Filter{}) {
		names := append(slices.Clone(inc.Components), inc.FaultDomain)
		for _, a := range inc.Alerts {
			names = append(names, a.Component, a.Dependency)
		}
		for _, n := range names {
			if len(n) >= 4 && strings.ContainsAny(n, "0123456789.:-_") && !slices.Contains(b.known, n) {
				seen[n] = true
			}
		}
	}
	return slices.Sorted(func(yield func(string) bool) {
		for n := range seen {
			if !yield(n) {
				return
			}
		}
	})
}
