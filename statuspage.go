package firebreak

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak/internal/web"
)

// The public status page: what users see (statuspage.go).
//
// A StatusPage renders the page — HTML, a Statuspage-compatible
// summary.json and an Atom feed — on its own goroutine, from the Board's
// [Board.PublicStatus] and the incident updates people post, and keeps the
// rendered bytes behind an atomic pointer. A request loads the pointer and
// writes the bytes: it never takes the Board's lock, never renders and never
// allocates for the body.

// UpdateStatus is where a public incident stands, in Statuspage's words.
type UpdateStatus string

// The stages of a public incident, in the order people usually post them.
const (
	UpdateInvestigating UpdateStatus = "investigating"
	UpdateIdentified    UpdateStatus = "identified"
	UpdateMonitoring    UpdateStatus = "monitoring"
	UpdateResolved      UpdateStatus = "resolved"
)

func (s UpdateStatus) valid() bool {
	switch s {
	case UpdateInvestigating, UpdateIdentified, UpdateMonitoring, UpdateResolved:
		return true
	}
	return false
}

// PublicImpact is how badly a public incident hurts users, in Statuspage's words:
// none, minor, major or critical.
type PublicImpact string

// Impacts, from least to worst.
const (
	ImpactNone     PublicImpact = "none"
	ImpactMinor    PublicImpact = "minor"
	ImpactMajor    PublicImpact = "major"
	ImpactCritical PublicImpact = "critical"
)

func (i PublicImpact) rank() int {
	switch i {
	case ImpactMinor:
		return 1
	case ImpactMajor:
		return 2
	case ImpactCritical:
		return 3
	}
	return 0
}

// StatusDegradedPerformance is Statuspage's word for a degraded component;
// the status page and its summary.json use it where [Board.PublicStatus]
// says [StatusDegraded].
const StatusDegradedPerformance = "degraded_performance"

// Limits of the status page.
const (
	// MaxPublicIncidents is how many public incidents a status page keeps;
	// the oldest resolved one goes first, and any older than 90 days.
	MaxPublicIncidents = 1000
	// MaxPublicUpdates is how many updates one public incident holds.
	MaxPublicUpdates = 100
	// MaxTitleLen is the longest public incident title, in bytes.
	MaxTitleLen = 200
	// HistoryDays is how far back the page shows incidents and each
	// component's daily state.
	HistoryDays = 90
)

// StatusUpdate is what a person posts to the status page: a new public
// incident (IncidentID empty) or the next update of one.
type StatusUpdate struct {
	// IncidentID is the public incident to update; empty opens a new one.
	IncidentID string `json:"incident_id,omitempty"`
	// Incident is the Board incident the update speaks about, if any: the
	// update is recorded in its timeline as evidence of kind
	// "public_update". It is never shown publicly.
	Incident string `json:"incident,omitempty"`
	// Title names a new public incident in plain words. Required when
	// opening one; when updating, a non-empty Title renames it.
	Title string `json:"title,omitempty"`
	// Status is the stage: investigating, identified, monitoring or
	// resolved. Required.
	Status UpdateStatus `json:"status"`
	// Message is what users read. Required.
	Message string `json:"message"`
	// Impact is none, minor, major or critical; empty keeps the incident's
	// impact (minor for a new one).
	Impact PublicImpact `json:"impact,omitempty"`
	// Components are the declared public components affected; empty keeps
	// the incident's. A name not declared with [WithComponents] is an error.
	Components []string `json:"components,omitempty"`
}

// PublicIncident is an incident as people described it to users.
type PublicIncident struct {
	ID            string         `json:"id"`
	Title         string         `json:"title"`
	Status        UpdateStatus   `json:"status"`
	Impact        PublicImpact   `json:"impact"`
	Components    []string       `json:"components"`
	BoardIncident string         `json:"board_incident,omitempty"` // internal: never on the public page
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
	MonitoringAt  time.Time      `json:"monitoring_at,omitzero"`
	ResolvedAt    time.Time      `json:"resolved_at,omitzero"`
	Updates       []PublicUpdate `json:"updates"` // newest first
}

// PublicUpdate is one update of a public incident.
type PublicUpdate struct {
	ID         string       `json:"id"`
	Status     UpdateStatus `json:"status"`
	Message    string       `json:"message"`
	Components []string     `json:"components"`
	At         time.Time    `json:"at"`
	By         string       `json:"by"` // internal: never on the public page
}

func (p *PublicIncident) clone() PublicIncident {
	c := *p
	c.Components = slices.Clone(p.Components)
	c.Updates = slices.Clone(p.Updates)
	for i := range c.Updates {
		c.Updates[i].Components = slices.Clone(c.Updates[i].Components)
	}
	return c
}

// StatusPage is the public status page of a Board: the declared components
// in Statuspage's vocabulary, the incident updates people post, scheduled
// maintenance ahead of time and 90 days of history, as HTML, a
// Statuspage-compatible summary.json and an Atom feed. It shows nothing a
// person did not write for users or declare public: no signal summaries,
// error text, host names, versions or undeclared component names.
//
// The page is rendered on the StatusPage's own goroutine every refresh
// interval and after each update, and served from that cache: a request
// never takes the Board's lock. Start starts the renderer; before Start the
// handler answers 503. A StatusPage is safe for concurrent use.
type StatusPage struct {
	b        *Board
	name     string
	refresh  time.Duration
	maxAge   time.Duration
	feedback *Feedback
	formURL  string
	logger   *slog.Logger
	tmpl     *template.Template
	css      []byte

	mu        sync.Mutex // guards incidents, days, seq and lastHash
	incidents []*PublicIncident
	days      map[string]map[int64]int // component -> day number -> worst status rank seen
	seq       int
	lastHash  [sha256.Size]byte

	cache  atomic.Pointer[statusCache]
	kick   chan struct{}
	worker // Start and Close (worker.go)
}

// statusCache is one rendering of the page: immutable once stored.
type statusCache struct {
	html, json, atom []byte
	htmlTag, jsonTag string
	atomTag          string
	// Header values, made once per rendering so serving allocates nothing.
	hdr map[string][3][]string // ETag, Content-Length by body: "html", "json", "atom"
	mod []string               // Last-Modified
	cc  []string               // Cache-Control
}

// NewStatusPage returns the status page of board b. It starts nothing:
// call Start.
func NewStatusPage(b *Board, opts ...StatusPageOption) (*StatusPage, error) {
	if b == nil {
		return nil, errors.New("firebreak: NewStatusPage: board is nil")
	}
	cfg := statusConfig{refresh: 10 * time.Second, maxAge: 30 * time.Second, name: b.service}
	var errs []error
	for i, o := range opts {
		if o == nil {
			errs = append(errs, fmt.Errorf("firebreak: NewStatusPage: option %d is nil", i))
			continue
		}
		o.applyStatus(&cfg)
	}
	if cfg.refresh < time.Second || cfg.refresh > 10*time.Minute {
		errs = append(errs, fmt.Errorf("firebreak: WithRefreshInterval: must be from 1s to 10m, got %v", cfg.refresh))
	}
	if cfg.maxAge < 0 || cfg.maxAge > time.Hour {
		errs = append(errs, fmt.Errorf("firebreak: WithMaxAge: must be from 0 to 1h, got %v", cfg.maxAge))
	}
	if strings.TrimSpace(cfg.name) == "" || len(cfg.name) > MaxTitleLen {
		errs = append(errs, fmt.Errorf("firebreak: WithPageName: must be 1 to %d bytes, got %d", MaxTitleLen, len(cfg.name)))
	}
	if cfg.formURL != "" && !safeLink(cfg.formURL) {
		errs = append(errs, fmt.Errorf("firebreak: WithFeedbackForm: %q is not a relative path or an https URL", cfg.formURL))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	css, _ := readStatic("pages.css")
	p := &StatusPage{
		b: b, name: cfg.name, refresh: cfg.refresh, maxAge: cfg.maxAge, feedback: cfg.feedback, formURL: cfg.formURL,
		logger: cmpLogger(cfg.logger), tmpl: web.Templates(pageFuncs, "status.html"), css: css,
		days: map[string]map[int64]int{}, kick: make(chan struct{}, 1), worker: newWorker(),
	}
	if p.feedback != nil {
		p.feedback.subscribe(p.Refresh)
	}
	return p, nil
}

func cmpLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

// safeLink reports whether u may be a link on a public page: a path
// relative to the page or the site, or an https URL.
func safeLink(u string) bool {
	if strings.ContainsAny(u, "\"'<> \t\r\n\\") {
		return false
	}
	return strings.HasPrefix(u, "https://") || (!strings.Contains(u, ":") && !strings.HasPrefix(u, "//"))
}

// StatusPageOption configures [NewStatusPage].
type StatusPageOption interface{ applyStatus(*statusConfig) }

type statusConfig struct {
	refresh, maxAge time.Duration
	name, formURL   string
	feedback        *Feedback
	logger          *slog.Logger
}

type statusOptionFunc func(*statusConfig)

func (f statusOptionFunc) applyStatus(c *statusConfig) { f(c) }

// WithRefreshInterval sets how often the page is rendered again from the
// Board, from 1s to 10m; a posted update renders it at once. Default: 10s.
func WithRefreshInterval(d time.Duration) StatusPageOption {
	return statusOptionFunc(func(c *statusConfig) { c.refresh = d })
}

// WithMaxAge sets the Cache-Control max-age the page is served with, so a
// CDN can front it, from 0 to 1h. Default: 30s.
func WithMaxAge(d time.Duration) StatusPageOption {
	return statusOptionFunc(func(c *statusConfig) { c.maxAge = d })
}

// WithPageName sets the name the page shows users. Default: the Board's
// service name.
func WithPageName(name string) StatusPageOption {
	return statusOptionFunc(func(c *statusConfig) { c.name = name })
}

// WithFeedback shows the public replies and "what we changed" notes of f
// on the page. Default: none are shown.
func WithFeedback(f *Feedback) StatusPageOption {
	return statusOptionFunc(func(c *statusConfig) { c.feedback = f })
}

// WithFeedbackForm links the page to the feedback form at u, a relative
// path or an https URL. Default: no link.
func WithFeedbackForm(u string) StatusPageOption {
	return statusOptionFunc(func(c *statusConfig) { c.formURL = u })
}

// WithStatusLogger sets where the page logs a failed rendering. Default:
// slog.Default().
func WithStatusLogger(l *slog.Logger) StatusPageOption {
	return statusOptionFunc(func(c *statusConfig) { c.logger = l })
}

// Start renders the page once and starts the goroutine that renders it
// again every refresh interval and after each posted update. It returns
// once the first rendering is cached. Start again does nothing; after Close
// it returns an error wrapping [ErrClosed].
func (p *StatusPage) Start(ctx context.Context) error {
	return p.startWorker(ctx, "StatusPage", func() { p.render(time.Now()) }, p.loop)
}

// Close stops the renderer and waits for it within ctx. It is idempotent,
// and Close without Start is fine.
func (p *StatusPage) Close(ctx context.Context) error {
	return p.closeWorker(ctx, "StatusPage", "the renderer")
}

func (p *StatusPage) loop() {
	defer close(p.loopDone)
	t := time.NewTicker(p.refresh)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		case <-p.kick:
		}
		p.render(time.Now())
	}
}

// Refresh asks the renderer to render the page again now, for instance
// from a [Notifier] when an incident changes. It never blocks.
func (p *StatusPage) Refresh() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Notifier returns a Notifier that refreshes the page on every
// notification, for [WithNotifier], so the page follows the Board within
// moments rather than a refresh interval.
func (p *StatusPage) Notifier() Notifier {
	return NotifierFunc(func(context.Context, Notification) error { p.Refresh(); return nil })
}

// PostUpdate posts a human-written update, opening a public incident when
// u.IncidentID is empty, and returns the public incident as it stands. by
// is the person posting. The text must not name an undeclared component or
// a dependency the Board has seen that looks like an internal name (with a
// digit, dot, colon, hyphen or underscore: a host, a database, a replica):
// such an update is refused with an error naming it. Plain words pass. A resolved incident takes
// no further updates.
func (p *StatusPage) PostUpdate(u StatusUpdate, by string) (PublicIncident, error) {
	if err := requireActor(by); err != nil {
		return PublicIncident{}, err
	}
	if err := p.checkUpdate(&u); err != nil {
		return PublicIncident{}, err
	}
	if p.closed.Load() {
		return PublicIncident{}, fmt.Errorf("firebreak: PostUpdate: %w", ErrClosed)
	}
	now := time.Now()
	p.mu.Lock()
	var inc *PublicIncident
	if u.IncidentID != "" {
		i := slices.IndexFunc(p.incidents, func(x *PublicIncident) bool { return x.ID == u.IncidentID })
		if i < 0 {
			p.mu.Unlock()
			return PublicIncident{}, fmt.Errorf("%w: public incident %q", ErrNotFound, u.IncidentID)
		}
		inc = p.incidents[i]
		if inc.Status == UpdateResolved {
			p.mu.Unlock()
			return PublicIncident{}, fmt.Errorf("%w: public incident %s is resolved: open a new one", ErrTransition, inc.ID)
		}
		if len(inc.Updates) >= MaxPublicUpdates {
			p.mu.Unlock()
			return PublicIncident{}, fmt.Errorf("%w: public incident %s holds %d updates", ErrLimit, inc.ID, MaxPublicUpdates)
		}
	} else if u.Title == "" {
		p.mu.Unlock()
		return PublicIncident{}, errors.New("firebreak: PostUpdate: Title is required to open a public incident")
	}
	boardID := u.Incident
	if inc != nil && boardID == "" {
		boardID = inc.BoardIncident
	}
	p.mu.Unlock()

	// Record it in the Board incident's timeline first: an unknown
	// incident is an error before anything is published.
	pubID := u.IncidentID
	if pubID == "" {
		pubID = "(new)"
	}
	if boardID != "" {
		if err := p.b.AddEvidence(boardID, by, Evidence{Kind: "public_update", Source: "status page " + pubID,
			Note: string(u.Status) + ": " + u.Message}); err != nil {
			return PublicIncident{}, fmt.Errorf("firebreak: PostUpdate: incident %q: %w", boardID, err)
		}
	}

	p.mu.Lock()
	if inc != nil { // another update may have resolved or filled it meanwhile
		switch {
		case inc.Status == UpdateResolved:
			p.mu.Unlock()
			return PublicIncident{}, fmt.Errorf("%w: public incident %s is resolved: open a new one", ErrTransition, inc.ID)
		case len(inc.Updates) >= MaxPublicUpdates:
			p.mu.Unlock()
			return PublicIncident{}, fmt.Errorf("%w: public incident %s holds %d updates", ErrLimit, inc.ID, MaxPublicUpdates)
		}
	}
	if inc == nil {
		p.seq++
		inc = &PublicIncident{ID: "p" + strconv.Itoa(p.seq), Title: u.Title, Impact: ImpactMinor, Components: []string{}, CreatedAt: now, BoardIncident: boardID}
		p.incidents = append(p.incidents, inc)
		p.pruneLocked(now)
	}
	if u.Title != "" {
		inc.Title = u.Title
	}
	if u.Impact != "" {
		inc.Impact = u.Impact
	}
	if u.Components != nil {
		inc.Components = slices.Compact(slices.Sorted(slices.Values(u.Components)))
	}
	if u.Incident != "" {
		inc.BoardIncident = u.Incident
	}
	inc.Status, inc.UpdatedAt = u.Status, now
	switch u.Status {
	case UpdateMonitoring:
		inc.MonitoringAt = now
	case UpdateResolved:
		inc.ResolvedAt = now
	}
	p.seq++
	up := PublicUpdate{ID: "u" + strconv.Itoa(p.seq), Status: u.Status, Message: u.Message, Components: slices.Clone(inc.Components), At: now, By: by}
	inc.Updates = append([]PublicUpdate{up}, inc.Updates...)
	out := inc.clone()
	p.mu.Unlock()
	p.Refresh()
	return out, nil
}

// pruneLocked drops public incidents resolved more than HistoryDays ago,
// and the oldest resolved ones beyond MaxPublicIncidents.
func (p *StatusPage) pruneLocked(now time.Time) {
	horizon := now.Add(-HistoryDays * 24 * time.Hour)
	p.incidents = slices.DeleteFunc(p.incidents, func(x *PublicIncident) bool {
		return x.Status == UpdateResolved && x.ResolvedAt.Before(horizon)
	})
	for len(p.incidents) > MaxPublicIncidents {
		i := slices.IndexFunc(p.incidents, func(x *PublicIncident) bool { return x.Status == UpdateResolved })
		if i < 0 {
			i = 0
		}
		p.incidents = slices.Delete(p.incidents, i, i+1)
	}
}

func (p *StatusPage) checkUpdate(u *StatusUpdate) error {
	var errs []error
	u.Title, u.Message = strings.TrimSpace(u.Title), strings.TrimSpace(u.Message)
	if !u.Status.valid() {
		errs = append(errs, fmt.Errorf("firebreak: PostUpdate: Status must be investigating, identified, monitoring or resolved, got %q", u.Status))
	}
	if u.Message == "" {
		errs = append(errs, errors.New("firebreak: PostUpdate: Message is required: what users should know"))
	}
	if err := checkText("message", u.Message); err != nil {
		errs = append(errs, err)
	}
	if len(u.Title) > MaxTitleLen {
		errs = append(errs, fmt.Errorf("firebreak: PostUpdate: Title is %d bytes, longer than %d", len(u.Title), MaxTitleLen))
	}
	if u.Impact != "" && u.Impact.rank() == 0 && u.Impact != ImpactNone {
		errs = append(errs, fmt.Errorf("firebreak: PostUpdate: Impact must be none, minor, major or critical, got %q", u.Impact))
	}
	for _, c := range u.Components {
		if !slices.Contains(p.b.known, c) {
			errs = append(errs, fmt.Errorf("firebreak: PostUpdate: component %q is not declared public with WithComponents", c))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return errors.Join(checkPublicText(p.b, "Title", u.Title), checkPublicText(p.b, "Message", u.Message))
}

// readStatic returns an embedded static file.
func readStatic(name string) ([]byte, error) { return fs.ReadFile(web.Static, name) }

// Incidents returns the public incidents, newest first, with their internal
// fields (who posted, the Board incident), for the console and the ops API.
func (p *StatusPage) Incidents() []PublicIncident {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PublicIncident, 0, len(p.incidents))
	for i := len(p.incidents) - 1; i >= 0; i-- {
		out = append(out, p.incidents[i].clone())
	}
	return out
}

// statusRank orders the public component words, best first.
func statusRank(s string) int {
	switch s {
	case StatusUnderMaintenance:
		return 1
	case StatusDegradedPerformance, StatusDegraded:
		return 2
	case StatusPartialOutage:
		return 3
	case StatusMajorOutage:
		return 4
	}
	return 0
}

var rankWords = [...]string{StatusOperational, StatusUnderMaintenance, StatusDegradedPerformance, StatusPartialOutage, StatusMajorOutage}

func impactStatus(i PublicImpact) int {
	return [...]int{0, 2, 3, 4}[i.rank()]
}

// pageModel is what the templates and the JSON see.
type pageModel struct {
	Name, Indicator, Description, FeedbackURL string
	UpdatedAt                                 time.Time
	Components                                []pageComponent
	Active, History                           []pageIncident
	Maintenance                               []PublicMaintenance
	Changes                                   []ChangeNote
	Replies                                   []PublicReply
}

type pageComponent struct {
	Name, Status string
	Days         []string // oldest first; "" for a day without data
}

type pageIncident struct {
	ID, Title                               string
	Status                                  UpdateStatus
	Impact                                  PublicImpact
	Components                              []string
	CreatedAt, UpdatedAt, MonitorAt, Solved time.Time
	Updates                                 []PublicUpdate
}

// Last is the latest update.
func (i pageIncident) Last() *PublicUpdate {
	if len(i.Updates) == 0 {
		return nil
	}
	return &i.Updates[0]
}

// render builds the page from the Board and the posted updates and stores
// it, unless nothing changed since the last rendering.
func (p *StatusPage) render(now time.Time) {
	defer func() {
		if r := recover(); r != nil {
			p.logger.Error("firebreak: status page rendering panicked", "panic", fmt.Sprint(r))
		}
	}()
	st := p.b.PublicStatus()
	var changes []ChangeNote
	var replies []PublicReply
	if p.feedback != nil {
		changes, replies = p.feedback.published()
	}
	m := pageModel{Name: p.name, FeedbackURL: p.formURL, Maintenance: st.Maintenance, Changes: changes, Replies: replies}

	p.mu.Lock()
	p.pruneLocked(now)
	worst := map[string]int{}
	for _, c := range st.Components {
		worst[c.Name] = statusRank(c.Status)
	}
	for i := len(p.incidents) - 1; i >= 0; i-- {
		x := p.incidents[i]
		pi := pageIncident{ID: x.ID, Title: x.Title, Status: x.Status, Impact: x.Impact, Components: slices.Clone(x.Components),
			CreatedAt: x.CreatedAt, UpdatedAt: x.UpdatedAt, MonitorAt: x.MonitoringAt, Solved: x.ResolvedAt, Updates: slices.Clone(x.Updates)}
		if x.Status == UpdateResolved {
			m.History = append(m.History, pi)
			continue
		}
		m.Active = append(m.Active, pi)
		for _, c := range x.Components {
			if r, ok := worst[c]; ok && r != 1 { // maintenance stays maintenance unless the board says worse
				worst[c] = max(r, impactStatus(x.Impact))
			}
		}
	}
	today := now.UTC().Unix() / 86400
	overall := 0
	for _, c := range st.Components {
		r := worst[c.Name]
		overall = max(overall, r)
		d := p.days[c.Name]
		if d == nil {
			d = map[int64]int{}
			p.days[c.Name] = d
		}
		d[today] = max(d[today], r)
		for day := range d {
			if day <= today-HistoryDays {
				delete(d, day)
			}
		}
		pc := pageComponent{Name: c.Name, Status: rankWords[r], Days: make([]string, HistoryDays)}
		for i := range HistoryDays {
			if v, ok := d[today-HistoryDays+1+int64(i)]; ok {
				pc.Days[i] = rankWords[v]
			} else {
				pc.Days[i] = "none"
			}
		}
		m.Components = append(m.Components, pc)
	}
	p.mu.Unlock()

	overall = max(overall, statusRank(st.Status))
	for _, a := range m.Active {
		overall = max(overall, impactStatus(a.Impact))
	}
	m.Indicator, m.Description = indicator(overall)

	// Render only when something users see changed, so the ETag and
	// Last-Modified stay put between changes.
	probe, _ := json.Marshal(m)
	sum := sha256.Sum256(probe)
	p.mu.Lock()
	same := sum == p.lastHash && p.cache.Load() != nil
	p.lastHash = sum
	p.mu.Unlock()
	if same {
		return
	}
	m.UpdatedAt = now.UTC().Truncate(time.Second)
	var html bytes.Buffer
	if err := p.tmpl.Execute(&html, m); err != nil {
		p.logger.Error("firebreak: status page rendering failed", "error", err)
		return
	}
	js, err := json.MarshalIndent(p.summary(m), "", "  ")
	if err != nil {
		p.logger.Error("firebreak: status page summary.json failed", "error", err)
		return
	}
	atom, err := p.atom(m)
	if err != nil {
		p.logger.Error("firebreak: status page feed failed", "error", err)
		return
	}
	c := &statusCache{html: html.Bytes(), json: append(js, '\n'), atom: atom,
		mod: []string{m.UpdatedAt.Format(http.TimeFormat)},
		cc:  []string{"public, max-age=" + strconv.Itoa(int(p.maxAge/time.Second)) + ", stale-while-revalidate=60"}}
	c.htmlTag, c.jsonTag, c.atomTag = etag(c.html), etag(c.json), etag(c.atom)
	c.hdr = map[string][3][]string{}
	for k, v := range map[string][]byte{"html": c.html, "json": c.json, "atom": c.atom} {
		c.hdr[k] = [3][]string{{etag(v)}, {strconv.Itoa(len(v))}}
	}
	p.cache.Store(c)
}

func etag(b []byte) string {
	s := sha256.Sum256(b)
	return `"` + hex.EncodeToString(s[:12]) + `"`
}

// indicator returns Statuspage's overall indicator and description for the
// worst component rank.
func indicator(rank int) (string, string) {
	switch rank {
	case 1:
		return "maintenance", "Service Under Maintenance"
	case 2:
		return "minor", "Minor Service Outage"
	case 3:
		return "major", "Partial System Outage"
	case 4:
		return "critical", "Major Service Outage"
	}
	return "none", "All Systems Operational"
}

// Statuspage's summary.json shapes.
type (
	spSummary struct {
		Page                  spPage          `json:"page"`
		Status                spStatus        `json:"status"`
		Components            []spComponent   `json:"components"`
		Incidents             []spIncident    `json:"incidents"`
		ScheduledMaintenances []spMaintenance `json:"scheduled_maintenances"`
	}
	spPage struct {
		ID        string    `json:"id"`
		Name      string    `json:"name"`
		URL       string    `json:"url"`
		TimeZone  string    `json:"time_zone"`
		UpdatedAt time.Time `json:"updated_at"`
	}
	spStatus struct {
		Indicator   string `json:"indicator"`
		Description string `json:"description"`
	}
	spComponent struct {
		ID                 string    `json:"id"`
		Name               string    `json:"name"`
		Status             string    `json:"status"`
		CreatedAt          time.Time `json:"created_at"`
		UpdatedAt          time.Time `json:"updated_at"`
		Position           int       `json:"position"`
		Description        *string   `json:"description"`
		Showcase           bool      `json:"showcase"`
		StartDate          *string   `json:"start_date"`
		GroupID            *string   `json:"group_id"`
		PageID             string    `json:"page_id"`
		Group              bool      `json:"group"`
		OnlyShowIfDegraded bool      `json:"only_show_if_degraded"`
	}
	spIncident struct {
		ID              string        `json:"id"`
		Name            string        `json:"name"`
		Status          string        `json:"status"`
		CreatedAt       time.Time     `json:"created_at"`
		UpdatedAt       time.Time     `json:"updated_at"`
		MonitoringAt    *time.Time    `json:"monitoring_at"`
		ResolvedAt      *time.Time    `json:"resolved_at"`
		Impact          string        `json:"impact"`
		Shortlink       string        `json:"shortlink"`
		StartedAt       time.Time     `json:"started_at"`
		PageID          string        `json:"page_id"`
		IncidentUpdates []spUpdate    `json:"incident_updates"`
		Components      []spComponent `json:"components"`
	}
	spUpdate struct {
		ID                 string       `json:"id"`
		Status             string       `json:"status"`
		Body               string       `json:"body"`
		IncidentID         string       `json:"incident_id"`
		CreatedAt          time.Time    `json:"created_at"`
		UpdatedAt          time.Time    `json:"updated_at"`
		DisplayAt          time.Time    `json:"display_at"`
		AffectedComponents []spAffected `json:"affected_components"`
		DeliverNotify      bool         `json:"deliver_notifications"`
		CustomTweet        *string      `json:"custom_tweet"`
		TweetID            *string      `json:"tweet_id"`
	}
	spAffected struct {
		Code      string `json:"code"`
		Name      string `json:"name"`
		OldStatus string `json:"old_status"`
		NewStatus string `json:"new_status"`
	}
	spMaintenance struct {
		ID              string        `json:"id"`
		Name            string        `json:"name"`
		Status          string        `json:"status"` // scheduled or in_progress
		CreatedAt       time.Time     `json:"created_at"`
		UpdatedAt       time.Time     `json:"updated_at"`
		Impact          string        `json:"impact"`
		ScheduledFor    time.Time     `json:"scheduled_for"`
		ScheduledUntil  time.Time     `json:"scheduled_until"`
		PageID          string        `json:"page_id"`
		IncidentUpdates []spUpdate    `json:"incident_updates"`
		Components      []spComponent `json:"components"`
	}
)

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// summary returns the page as Statuspage's /api/v2/summary.json: unresolved
// incidents only, as Statuspage does.
func (p *StatusPage) summary(m pageModel) spSummary {
	page := slug(p.name)
	s := spSummary{Page: spPage{ID: page, Name: p.name, URL: "", TimeZone: "Etc/UTC", UpdatedAt: m.UpdatedAt},
		Components: []spComponent{}, Incidents: []spIncident{}, ScheduledMaintenances: []spMaintenance{}}
	s.Status.Indicator, s.Status.Description = m.Indicator, m.Description
	comps := map[string]spComponent{}
	for i, c := range m.Components {
		sc := spComponent{ID: slug(c.Name), Name: c.Name, Status: c.Status, CreatedAt: m.UpdatedAt, UpdatedAt: m.UpdatedAt, Position: i + 1, PageID: page}
		comps[c.Name] = sc
		s.Components = append(s.Components, sc)
	}
	pick := func(names []string) []spComponent {
		out := []spComponent{}
		for _, n := range names {
			if c, ok := comps[n]; ok {
				out = append(out, c)
			}
		}
		return out
	}
	for _, a := range m.Active {
		inc := spIncident{ID: a.ID, Name: a.Title, Status: string(a.Status), CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC(),
			MonitoringAt: optTime(a.MonitorAt), ResolvedAt: optTime(a.Solved), Impact: string(a.Impact), StartedAt: a.CreatedAt.UTC(),
			PageID: page, Components: pick(a.Components), IncidentUpdates: []spUpdate{}}
		for _, u := range a.Updates {
			up := spUpdate{ID: u.ID, Status: string(u.Status), Body: u.Message, IncidentID: a.ID, CreatedAt: u.At.UTC(), UpdatedAt: u.At.UTC(), DisplayAt: u.At.UTC(), AffectedComponents: []spAffected{}}
			for _, c := range pick(u.Components) {
				up.AffectedComponents = append(up.AffectedComponents, spAffected{Code: c.ID, Name: c.Name, OldStatus: c.Status, NewStatus: c.Status})
			}
			inc.IncidentUpdates = append(inc.IncidentUpdates, up)
		}
		s.Incidents = append(s.Incidents, inc)
	}
	for _, w := range m.Maintenance {
		status := "scheduled"
		if w.Active {
			status = "in_progress"
		}
		s.ScheduledMaintenances = append(s.ScheduledMaintenances, spMaintenance{ID: slug(w.Name) + "-" + strconv.FormatInt(w.Start.Unix(), 10), Name: w.Name, Status: status,
			CreatedAt: w.Start, UpdatedAt: w.Start, Impact: "maintenance", ScheduledFor: w.Start, ScheduledUntil: w.End, PageID: page,
			IncidentUpdates: []spUpdate{}, Components: pick(w.Components)})
	}
	return s
}

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Title   string      `xml:"title"`
	ID      string      `xml:"id"`
	Updated string      `xml:"updated"`
	Link    atomLink    `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr"`
	Href string `xml:"href,attr"`
}

type atomEntry struct {
	Title   string   `xml:"title"`
	ID      string   `xml:"id"`
	Updated string   `xml:"updated"`
	Content atomText `xml:"content"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

// atom returns the feed: the latest 50 updates and notes, newest first.
func (p *StatusPage) atom(m pageModel) ([]byte, error) {
	type item struct {
		at        time.Time
		title, id string
		body      string
	}
	var items []item
	for _, list := range [][]pageIncident{m.Active, m.History} {
		for _, inc := range list {
			for _, u := range inc.Updates {
				items = append(items, item{at: u.At, title: inc.Title + " — " + string(u.Status), id: "urn:firebreak:" + slug(p.name) + ":" + inc.ID + ":" + u.ID, body: u.Message})
			}
		}
	}
	for i, c := range m.Changes {
		items = append(items, item{at: c.At, title: "What we changed: " + c.Title, id: "urn:firebreak:" + slug(p.name) + ":change:" + strconv.Itoa(i) + ":" + strconv.FormatInt(c.At.Unix(), 10), body: c.Body})
	}
	slices.SortStableFunc(items, func(a, b item) int { return b.at.Compare(a.at) })
	items = items[:min(len(items), 50)]
	f := atomFeed{Title: p.name + " status", ID: "urn:firebreak:" + slug(p.name), Updated: m.UpdatedAt.Format(time.RFC3339), Link: atomLink{Rel: "alternate", Href: "./"}}
	for _, it := range items {
		f.Entries = append(f.Entries, atomEntry{Title: it.title, ID: it.id, Updated: it.at.UTC().Format(time.RFC3339), Content: atomText{Type: "text", Body: it.body}})
	}
	out, err := xml.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

// Handler returns the page's public handler, for anyone: mount it at a
// path ending in "/" (relative links on the page need it). It serves, under
// that path:
//
//	GET /                      the page (HTML)
//	GET /summary.json          Statuspage's summary (also at /api/v2/summary.json)
//	GET /history.atom          an Atom feed of the updates and "what we changed" notes
//	GET /pages.css             the style sheet
//
// Every answer comes from the cache with Cache-Control: public, max-age
// (see [WithMaxAge]), an ETag and Last-Modified, and honours If-None-Match.
// Before Start it answers 503 with Retry-After.
func (p *StatusPage) Handler() http.Handler {
	return http.HandlerFunc(p.serve)
}

func (p *StatusPage) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h["Allow"] = allowGetHead
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	c := p.cache.Load()
	if c == nil {
		h["Retry-After"] = retryAfterHdr
		http.Error(w, "status page not started", http.StatusServiceUnavailable)
		return
	}
	var body []byte
	var tag, kind string
	var ctype []string
	pth := r.URL.Path
	switch {
	case strings.HasSuffix(pth, "/"):
		body, tag, ctype, kind = c.html, c.htmlTag, ctHTML, "html"
	case strings.HasSuffix(pth, "/summary.json"):
		body, tag, ctype, kind = c.json, c.jsonTag, ctJSON, "json"
	case strings.HasSuffix(pth, "/history.atom"):
		body, tag, ctype, kind = c.atom, c.atomTag, ctAtom, "atom"
	case strings.HasSuffix(pth, "/pages.css"):
		h["Content-Type"] = ctCSS
		h["Cache-Control"] = cacheDay
		h["X-Content-Type-Options"] = nosniff
		w.Write(p.css)
		return
	default:
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	hv := c.hdr[kind]
	h["Content-Type"] = ctype
	h["Cache-Control"] = c.cc
	h["Etag"] = hv[0]
	h["Last-Modified"] = c.mod
	h["X-Content-Type-Options"] = nosniff
	h["Content-Security-Policy"] = cspPublic
	h["Referrer-Policy"] = noReferrer
	h["Access-Control-Allow-Origin"] = star
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Length"] = hv[1]
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// Header values, shared so that serving a page sets headers without
// allocating.
var (
	allowGetHead  = []string{"GET, HEAD"}
	retryAfterHdr = []string{"5"}
	ctHTML        = []string{"text/html; charset=utf-8"}
	ctJSON        = []string{"application/json"}
	ctAtom        = []string{"application/atom+xml; charset=utf-8"}
	ctCSS         = []string{"text/css; charset=utf-8"}
	cacheDay      = []string{"public, max-age=86400"}
	nosniff       = []string{"nosniff"}
	cspPublic     = []string{"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"}
	noReferrer    = []string{"no-referrer"}
	star          = []string{"*"}
)

// pageFuncs are the templates' functions.
var pageFuncs = template.FuncMap{
	"join":    strings.Join,
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"when":    func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") },
	"title": func(s UpdateStatus) string {
		if s == "" {
			return ""
		}
		return strings.ToUpper(string(s[:1])) + string(s[1:])
	},
	"words": func(s string) string {
		switch s {
		case "none", "":
			return "no data"
		case StatusDegradedPerformance:
			return "Degraded performance"
		}
		w := strings.ReplaceAll(s, "_", " ")
		return strings.ToUpper(w[:1]) + w[1:]
	},
}
