package firebreak

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/firebreak-go/firebreak/internal/web"
)

// The ops console (console.go): one server-rendered page for the people who
// run the incident response, authorised with the ops API's Authorizer.

// DependencyStatus is one dependency at a glance: its breaker's state and
// the tracing statistics of the calls to it.
type DependencyStatus struct {
	Component  string        `json:"component"`
	Dependency string        `json:"dependency"`
	Breaker    string        `json:"breaker,omitempty"` // "closed", "half-open", "open", or "" without a breaker
	Rate       float64       `json:"rate"`              // calls a second
	ErrorRatio float64       `json:"error_ratio"`       // 0 to 1
	P99        time.Duration `json:"p99"`
}

// DependencySource lists dependencies for the console, e.g. from breakers
// and tracing observers. It is called on each console request, outside any
// lock, and must be quick.
type DependencySource interface{ Dependencies() []DependencyStatus }

// DependencySourceFunc adapts a function to DependencySource.
type DependencySourceFunc func() []DependencyStatus

// Dependencies calls f.
func (f DependencySourceFunc) Dependencies() []DependencyStatus { return f() }

// SLOBurn is how fast one SLO's error budget burns.
type SLOBurn struct {
	Component string  `json:"component"`
	Tier      Tier    `json:"tier"`
	SLO       string  `json:"slo"`
	Burn1h    float64 `json:"burn_1h"`
	Burn5m    float64 `json:"burn_5m"`
}

// SLOSource lists SLO burn rates for the console.
type SLOSource interface{ SLOBurns() []SLOBurn }

// SLOSourceFunc adapts a function to SLOSource.
type SLOSourceFunc func() []SLOBurn

// SLOBurns calls f.
func (f SLOSourceFunc) SLOBurns() []SLOBurn { return f() }

// CheckStatus is a health check's last result.
type CheckStatus struct {
	Name      string    `json:"name"`
	Component string    `json:"component,omitempty"`
	OK        bool      `json:"ok"`
	Detail    string    `json:"detail,omitempty"`
	At        time.Time `json:"at"`
}

// CheckSource lists health checks for the console.
type CheckSource interface{ Checks() []CheckStatus }

// CheckSourceFunc adapts a function to CheckSource.
type CheckSourceFunc func() []CheckStatus

// Checks calls f.
func (f CheckSourceFunc) Checks() []CheckStatus { return f() }

// Switch is a degradation mode or kill switch the console shows and an
// authorised operator may set.
type Switch struct {
	Name    string   `json:"name"`
	Value   string   `json:"value"`
	Choices []string `json:"choices"` // the values it may take, e.g. "on", "off"
	Note    string   `json:"note,omitempty"`
}

// SwitchSource lists switches and sets one. SetSwitch is called with the
// principal the Authorizer named, authorised as [ActionSwitch].
type SwitchSource interface {
	Switches() []Switch
	SetSwitch(name, value, by string) error
}

// RolloutStatus is a rollout and its analysis.
type RolloutStatus struct {
	Name     string `json:"name"`
	Stable   string `json:"stable"`
	Canary   string `json:"canary,omitempty"`
	Weight   int    `json:"weight"` // percent of traffic on the canary
	Phase    string `json:"phase"`
	Analysis string `json:"analysis,omitempty"`
}

// RolloutSource lists rollouts for the console.
type RolloutSource interface{ Rollouts() []RolloutStatus }

// RolloutSourceFunc adapts a function to RolloutSource.
type RolloutSourceFunc func() []RolloutStatus

// Rollouts calls f.
func (f RolloutSourceFunc) Rollouts() []RolloutStatus { return f() }

// ConsoleOption configures [NewConsole].
type ConsoleOption interface{ applyConsole(*consoleConfig) }

type consoleConfig struct {
	deps     []DependencySource
	slos     []SLOSource
	checks   []CheckSource
	switches []SwitchSource
	rollouts []RolloutSource
	status   *StatusPage
	feedback *Feedback
	key      []byte
	logger   *slog.Logger
	poll     time.Duration
}

type consoleOptionFunc func(*consoleConfig)

func (f consoleOptionFunc) applyConsole(c *consoleConfig) { f(c) }

// WithDependencies adds a source of dependency states. Default: none.
func WithDependencies(s DependencySource) ConsoleOption {
	return consoleOptionFunc(func(c *consoleConfig) { c.deps = append(c.deps, s) })
}

// WithSLOs adds a source of SLO burn rates. Default: none.
func WithSLOs(s SLOSource) ConsoleOption {
	return consoleOptionFunc(func(c *consoleConfig) { c.slos = append(c.slos, s) })
}

// WithChecks adds a source of health check results. Default: none.
func WithChecks(s CheckSource) ConsoleOption {
	return consoleOptionFunc(func(c *consoleConfig) { c.checks = append(c.checks, s) })
}

// WithSwitches adds degradation modes and kill switches. Default: none.
func WithSwitches(s SwitchSource) ConsoleOption {
	return consoleOptionFunc(func(c *consoleConfig) { c.switches = append(c.switches, s) })
}

// WithRollouts adds a source of rollout states. Default: none.
func WithRollouts(s RolloutSource) ConsoleOption {
	return consoleOptionFunc(func(c *consoleConfig) { c.rollouts = append(c.rollouts, s) })
}

// WithConsoleStatusPage lets operators post public incident updates from
// the console. Default: no status page form.
func WithConsoleStatusPage(p *StatusPage) ConsoleOption {
	return consoleOptionFunc(func(c *consoleConfig) { c.status = p })
}

// WithConsoleFeedback lists users' feedback in the console, with reply
// and "what we changed" forms. Default: no feedback section.
func WithConsoleFeedback(f *Feedback) ConsoleOption {
	return consoleOptionFunc(func(c *consoleConfig) { c.feedback = f })
}

// WithCSRFKey sets the key the console's CSRF tokens are made with, at
// least 32 bytes; give every replica behind one address the same key.
// Default: a random key per Console.
func WithCSRFKey(key []byte) ConsoleOption {
	return consoleOptionFunc(func(c *consoleConfig) { c.key = slices.Clone(key) })
}

// WithPollInterval sets how often the open page fetches the live sections
// again, from 1s to 1m. Default: 5s.
func WithPollInterval(d time.Duration) ConsoleOption {
	return consoleOptionFunc(func(c *consoleConfig) { c.poll = d })
}

// WithConsoleLogger sets where the console logs a failed source or
// rendering. Default: slog.Default().
func WithConsoleLogger(l *slog.Logger) ConsoleOption {
	return consoleOptionFunc(func(c *consoleConfig) { c.logger = l })
}

// Console is the ops console of a Board: open incidents first with their
// severity, level, lead, a live countdown to the response deadline,
// components, latest timeline, evidence and findings, and forms to
// acknowledge, mitigate, add a finding, resolve, change the severity and
// hand off; then the service at a glance from the sources the user
// registers. It is an http.Handler; mount it at a path ending in "/".
//
// Every request is authorised by the same [Authorizer] and roles as the
// ops API: a browser signs in once with its bearer token, which the console
// keeps in an HttpOnly, SameSite=Strict cookie; a [Viewer] sees the page
// without forms. Every form carries a CSRF token bound to the credential,
// and a cross-site post is refused. Every string is escaped by
// html/template. Nothing runs in the background: Console has no Start.
type Console struct {
	b    *Board
	auth Authorizer
	cfg  consoleConfig
	tmpl *template.Template
	js   []byte
	css  []byte
}

const consoleCookie = "firebreak_console"

// NewConsole returns the console of board b, authorised by auth.
func NewConsole(b *Board, auth Authorizer, opts ...ConsoleOption) (*Console, error) {
	if b == nil {
		return nil, errors.New("firebreak: NewConsole: board is nil")
	}
	if auth == nil {
		return nil, errors.New("firebreak: NewConsole: an Authorizer is required; every request must be authorised")
	}
	cfg := consoleConfig{poll: 5 * time.Second}
	var errs []error
	for i, o := range opts {
		if o == nil {
			errs = append(errs, fmt.Errorf("firebreak: NewConsole: option %d is nil", i))
			continue
		}
		o.applyConsole(&cfg)
	}
	if cfg.key != nil && len(cfg.key) < 32 {
		errs = append(errs, fmt.Errorf("firebreak: WithCSRFKey: the key must be at least 32 bytes, got %d", len(cfg.key)))
	}
	if cfg.poll < time.Second || cfg.poll > time.Minute {
		errs = append(errs, fmt.Errorf("firebreak: WithPollInterval: must be from 1s to 1m, got %v", cfg.poll))
	}
	for i, s := range cfg.deps {
		if s == nil {
			errs = append(errs, fmt.Errorf("firebreak: WithDependencies: source %d is nil", i))
		}
	}
	for i, s := range cfg.switches {
		if s == nil {
			errs = append(errs, fmt.Errorf("firebreak: WithSwitches: source %d is nil", i))
		}
	}
	if slices.Contains(cfg.slos, nil) || slices.Contains(cfg.checks, nil) || slices.Contains(cfg.rollouts, nil) {
		errs = append(errs, errors.New("firebreak: NewConsole: a source is nil"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.key == nil {
		cfg.key = make([]byte, 32)
		rand.Read(cfg.key)
	}
	cfg.logger = cmpLogger(cfg.logger)
	js, _ := readStatic("console.js")
	css, _ := readStatic("pages.css")
	more, _ := readStatic("console.css")
	return &Console{b: b, auth: auth, cfg: cfg, tmpl: web.Templates(consoleFuncs, "console.html"), js: js, css: append(append(css, '\n'), more...)}, nil
}

// credential returns r with its Authorization header taken from the
// console's cookie when it has none, and the credential.
func (c *Console) credential(r *http.Request) (*http.Request, string) {
	if h := r.Header.Get("Authorization"); h != "" {
		return r, h
	}
	ck, err := r.Cookie(consoleCookie)
	if err != nil || ck.Value == "" {
		return r, ""
	}
	tok, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return r, ""
	}
	r2 := r.Clone(r.Context())
	r2.Header.Set("Authorization", "Bearer "+string(tok))
	return r2, r2.Header.Get("Authorization")
}

func (c *Console) csrf(cred string) string {
	m := hmac.New(sha256.New, c.cfg.key)
	m.Write([]byte("firebreak console csrf\x00" + cred))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sameOrigin refuses a cross-site post: by Sec-Fetch-Site where the browser
// sends it, else by Origin.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" {
		return s == "same-origin"
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		return strings.TrimPrefix(strings.TrimPrefix(o, "https://"), "http://") == r.Host
	}
	return true
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	seg := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	switch seg {
	case "console.js", "console.css":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Cache-Control", "private, max-age=3600")
		if seg == "console.js" {
			h.Set("Content-Type", "text/javascript; charset=utf-8")
			w.Write(c.js)
		} else {
			h.Set("Content-Type", "text/css; charset=utf-8")
			w.Write(c.css)
		}
		return
	case "login":
		c.login(w, r)
		return
	case "logout":
		if r.Method != http.MethodPost || !sameOrigin(r) {
			http.Error(w, "use POST from the console", http.StatusMethodNotAllowed)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: consoleCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		http.Redirect(w, r, "login", http.StatusSeeOther)
		return
	case "", "live":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		r2, cred := c.credential(r)
		if cred == "" {
			if seg == "live" {
				Authorize(w, r2, c.auth, ActionRead) // 401 JSON for the script
				return
			}
			c.render(w, http.StatusUnauthorized, "login", consoleView{})
			return
		}
		who, ok := Authorize(w, r2, c.auth, ActionRead)
		if !ok {
			return
		}
		v := c.view(r2, who, cred)
		if seg == "live" {
			c.render(w, http.StatusOK, "live", v)
			return
		}
		c.render(w, http.StatusOK, "page", v)
		return
	case "act":
		c.act(w, r)
		return
	}
	http.Error(w, "not found", http.StatusNotFound)
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		c.render(w, http.StatusOK, "login", consoleView{})
	case http.MethodPost:
		if !sameOrigin(r) {
			http.Error(w, "cross-site sign-in refused", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		tok := strings.TrimSpace(r.PostFormValue("token"))
		r2 := r.Clone(r.Context())
		r2.Header.Set("Authorization", "Bearer "+tok)
		if _, err := c.auth.Authorize(r2, ActionRead); tok == "" || err != nil {
			c.render(w, http.StatusUnauthorized, "login", consoleView{Error: "That token was not accepted."})
			return
		}
		http.SetCookie(w, &http.Cookie{Name: consoleCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(tok)), Path: "/",
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 12 * 3600})
		http.Redirect(w, r, "./", http.StatusSeeOther)
	default:
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
	}
}

func (c *Console) render(w http.ResponseWriter, code int, name string, v consoleView) {
	var buf bytes.Buffer
	if err := c.tmpl.ExecuteTemplate(&buf, name, v); err != nil {
		c.cfg.logger.Error("firebreak: console rendering failed", "error", err)
		http.Error(w, "the console could not be shown", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// consoleView is what the console's templates see.
type consoleView struct {
	Service, Who, CSRF, Error string
	Now                       time.Time
	Poll                      int // milliseconds
	CanAct                    bool
	Open, Recent              []consoleIncident
	Deps                      []DependencyStatus
	SLOs                      []SLOBurn
	Checks                    []CheckStatus
	Switches                  []Switch
	Rollouts                  []RolloutStatus
	Silences                  []Silence
	Maintenance               []MaintenanceWindow
	Drills                    []string
	Feedback                  []FeedbackReport
	Public                    []PublicIncident
	HasStatus, HasFeedback    bool
	Components                []string
	Failed                    []string // sources that panicked
}

type consoleIncident struct {
	Incident
	Latest   []Entry
	Evidence []Evidence
	Findings []Finding
	Left     string // time left to the response deadline, or "breached"
	Forms    bool   // show every action form, not only Acknowledge
}

const (
	consoleOpenMax     = 50
	consoleRecentMax   = 10
	consoleEntries     = 3
	consoleEvidence    = 3
	consoleFindings    = 2
	consoleForms       = 10  // incidents with the full set of action forms; the rest get Acknowledge
	consoleTextMax     = 160 // bytes of a note shown; the ops API has the rest
	consoleFeedbackMax = 20
)

// guard calls a source, turning its panic into a named failure.
func guard[T any](v *consoleView, logger *slog.Logger, what string, fn func() []T) (out []T) {
	defer func() {
		if r := recover(); r != nil {
			logger.Error("firebreak: console source panicked", "source", what, "panic", fmt.Sprint(r))
			v.Failed = append(v.Failed, what)
			out = nil
		}
	}()
	return fn()
}

func (c *Console) view(r *http.Request, who, cred string) consoleView {
	now := time.Now()
	_, err := c.auth.Authorize(r, ActionAcknowledge)
	v := consoleView{Service: c.b.service, Who: who, CSRF: c.csrf(cred), Now: now, Poll: int(c.cfg.poll / time.Millisecond), CanAct: err == nil,
		HasStatus: c.cfg.status != nil, HasFeedback: c.cfg.feedback != nil, Components: slices.Sorted(slices.Values(c.b.known))}
	all := c.b.List(Filter{})
	open := slices.DeleteFunc(slices.Clone(all), func(inc Incident) bool { return !inc.State.Open() })
	slices.SortStableFunc(open, func(x, y Incident) int {
		return cmp.Or(cmp.Compare(y.Severity, x.Severity), y.DetectedAt.Compare(x.DetectedAt))
	})
	for i, inc := range open[:min(len(open), consoleOpenMax)] {
		ci := c.incidentView(inc, now)
		ci.Forms = i < consoleForms
		v.Open = append(v.Open, ci)
	}
	for _, inc := range all {
		if !inc.State.Open() && len(v.Recent) < consoleRecentMax {
			v.Recent = append(v.Recent, c.incidentView(inc, now))
		}
	}
	for _, s := range c.cfg.deps {
		v.Deps = append(v.Deps, guard(&v, c.cfg.logger, "dependencies", s.Dependencies)...)
	}
	for _, s := range c.cfg.slos {
		v.SLOs = append(v.SLOs, guard(&v, c.cfg.logger, "SLOs", s.SLOBurns)...)
	}
	for _, s := range c.cfg.checks {
		v.Checks = append(v.Checks, guard(&v, c.cfg.logger, "health checks", s.Checks)...)
	}
	for _, s := range c.cfg.switches {
		v.Switches = append(v.Switches, guard(&v, c.cfg.logger, "switches", s.Switches)...)
	}
	for _, s := range c.cfg.rollouts {
		v.Rollouts = append(v.Rollouts, guard(&v, c.cfg.logger, "rollouts", s.Rollouts)...)
	}
	for _, s := range c.b.Silences() {
		if s.ExpiredAt.IsZero() || s.ExpiredAt.After(now) {
			v.Silences = append(v.Silences, s)
		}
	}
	v.Maintenance = c.b.Maintenance()
	v.Drills = c.b.RunningDrills()
	if c.cfg.feedback != nil {
		fb := c.cfg.feedback.Reports()
		v.Feedback = fb[:min(len(fb), consoleFeedbackMax)]
	}
	if c.cfg.status != nil {
		for _, p := range c.cfg.status.Incidents() {
			if p.Status != UpdateResolved {
				v.Public = append(v.Public, p)
			}
		}
	}
	return v
}

func (c *Console) incidentView(inc Incident, now time.Time) consoleIncident {
	ci := consoleIncident{Incident: inc}
	tl := inc.Timeline
	for i := len(tl) - 1; i >= 0 && len(ci.Latest) < consoleEntries; i-- {
		ci.Latest = append(ci.Latest, tl[i])
	}
	ev := inc.Evidence
	for i := len(ev) - 1; i >= 0 && len(ci.Evidence) < consoleEvidence; i-- {
		ci.Evidence = append(ci.Evidence, ev[i])
	}
	fs := inc.Findings
	for i := len(fs) - 1; i >= 0 && len(ci.Findings) < consoleFindings; i-- {
		ci.Findings = append(ci.Findings, fs[i])
	}
	switch {
	case inc.Breached:
		ci.Left = "breached"
	case !inc.AcknowledgedAt.IsZero() && inc.State.Open():
		ci.Left = "acknowledged"
	case inc.State.Open() && !inc.ResponseDue.IsZero():
		ci.Left = clock(inc.ResponseDue.Sub(now))
	}
	return ci
}

// clock formats a countdown as m:ss, or "due" once past.
func clock(d time.Duration) string {
	if d <= 0 {
		return "due"
	}
	s := int(d.Round(time.Second) / time.Second)
	return fmt.Sprintf("%d:%02d left", s/60, s%60)
}

// act runs one form post: CSRF first, then the action's authorisation.
func (c *Console) act(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	if !sameOrigin(r) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	r2, cred := c.credential(r)
	if cred == "" {
		Authorize(w, r2, c.auth, ActionRead)
		return
	}
	if !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(c.csrf(cred))) {
		http.Error(w, "the form's CSRF token is missing or wrong: reload the console", http.StatusForbidden)
		return
	}
	f := r.PostFormValue
	id := f("incident")
	var action string
	var run func(who string) error
	anchor := "inc-" + id
	switch f("do") {
	case "acknowledge":
		action, run = ActionAcknowledge, func(who string) error { return c.b.Acknowledge(id, who) }
	case "mitigate":
		action, run = ActionMitigate, func(who string) error { return c.b.Mitigate(id, who, f("note")) }
	case "finding":
		action, run = ActionFinding, func(who string) error {
			return c.b.AddFinding(id, who, Finding{Hypothesis: f("hypothesis"), SuspectedCause: f("suspected_cause"), Confidence: f("confidence"), NextSteps: f("next_steps")})
		}
	case "resolve":
		action, run = ActionResolve, func(who string) error { return c.b.Resolve(id, who, f("note")) }
	case "severity":
		action, run = ActionSeverity, func(who string) error {
			sev, err := ParseSeverity(f("severity"))
			if err != nil {
				return err
			}
			return c.b.SetSeverity(id, who, sev, f("reason"))
		}
	case "handoff":
		action, run = ActionHandOff, func(who string) error { return c.b.HandOff(id, who, f("to"), f("note")) }
	case "status_update":
		if c.cfg.status == nil {
			break
		}
		anchor = "public"
		action, run = ActionPublish, func(who string) error {
			u := StatusUpdate{IncidentID: f("public_incident"), Incident: id, Title: f("title"), Status: UpdateStatus(f("status")),
				Message: f("message"), Impact: PublicImpact(f("impact"))}
			if comps := r.PostForm["components"]; len(comps) > 0 {
				u.Components = comps
			}
			_, err := c.cfg.status.PostUpdate(u, who)
			return err
		}
	case "reply":
		if c.cfg.feedback == nil {
			break
		}
		anchor = "feedback"
		action, run = ActionReply, func(who string) error {
			return c.cfg.feedback.Reply(f("feedback"), who, f("text"), f("public") == "on")
		}
	case "change":
		if c.cfg.feedback == nil {
			break
		}
		anchor = "feedback"
		action, run = ActionPublish, func(who string) error {
			return c.cfg.feedback.PublishChange(ChangeNote{Title: f("title"), Body: f("body"), Components: r.PostForm["components"]}, who)
		}
	case "switch":
		anchor = "switches"
		action, run = ActionSwitch, func(who string) error { return c.setSwitch(f("switch"), f("value"), who) }
	}
	if run == nil {
		http.Error(w, fmt.Sprintf("unknown action %q", f("do")), http.StatusBadRequest)
		return
	}
	who, ok := Authorize(w, r2, c.auth, action)
	if !ok {
		return
	}
	if err := run(who); err != nil {
		code := http.StatusBadRequest
		switch {
		case errors.Is(err, ErrNotFound):
			code = http.StatusNotFound
		case errors.Is(err, ErrTransition), errors.Is(err, ErrLimit):
			code = http.StatusConflict
		}
		v := c.view(r2, who, cred)
		v.Error = trimErr(err)
		c.render(w, code, "page", v)
		return
	}
	http.Redirect(w, r, "./#"+anchor, http.StatusSeeOther)
}

func (c *Console) setSwitch(name, value, who string) (err error) {
	for _, s := range c.cfg.switches {
		var sw []Switch
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("firebreak: console: switch source panicked: %v", r)
				}
			}()
			sw = s.Switches()
		}()
		if err != nil {
			return err
		}
		for _, x := range sw {
			if x.Name != name {
				continue
			}
			if !slices.Contains(x.Choices, value) {
				return fmt.Errorf("firebreak: console: switch %q takes %s, not %q", name, strings.Join(x.Choices, ", "), value)
			}
			func() {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("firebreak: console: switch %q panicked: %v", name, r)
					}
				}()
				err = s.SetSwitch(name, value, who)
			}()
			return err
		}
	}
	return fmt.Errorf("%w: switch %q", ErrNotFound, name)
}

var consoleFuncs = template.FuncMap{
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("15:04:05 UTC, 2 Jan")
	},
	"join": strings.Join,
	"short": func(s string) string {
		if len(s) <= consoleTextMax {
			return s
		}
		cut := consoleTextMax
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return s[:cut] + "…"
	},
	"pct": func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" },
	"num": func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"ms": func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	},
	"severities": func() []Severity { return []Severity{Fatal, Severe, General, None} },
	"statuses": func() []UpdateStatus {
		return []UpdateStatus{UpdateInvestigating, UpdateIdentified, UpdateMonitoring, UpdateResolved}
	},
}
