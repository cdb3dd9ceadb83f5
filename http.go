package firebreak

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-go/firebreak/internal/httpjson"
)

// Actions named to an [Authorizer].
const (
	ActionRead        = "read"
	ActionAcknowledge = "acknowledge"
	ActionMitigate    = "mitigate"
	ActionResolve     = "resolve"
	ActionFinding     = "finding"
	ActionEvidence    = "evidence"
	ActionSeverity    = "severity"
	ActionClose       = "close"
)

// ErrUnauthenticated is returned by an Authorizer when the request carries
// no credentials; any other error means the credentials were refused.
var ErrUnauthenticated = errors.New("firebreak: no credentials")

// ErrForbidden is returned by an Authorizer when the credentials are good
// but their role does not allow the action, e.g. a viewer acknowledging.
var ErrForbidden = errors.New("firebreak: not allowed")

// An Authorizer decides whether a request may perform an action on the
// operations API, and names the person or system acting: the name goes into
// the incident's timeline. It returns [ErrUnauthenticated] when the request
// has no credentials, an error wrapping [ErrForbidden] when the caller may
// not perform this action (the API answers 403 either way), and another
// error when the credentials are refused. The action is [ActionRead] for
// every read and one of the other Action constants for every change, so an
// Authorizer that admits only ActionRead gives read-only access.
type Authorizer interface {
	Authorize(r *http.Request, action string) (principal string, err error)
}

// AuthorizerFunc adapts a function to the Authorizer interface.
type AuthorizerFunc func(r *http.Request, action string) (string, error)

// Authorize calls f(r, action).
func (f AuthorizerFunc) Authorize(r *http.Request, action string) (string, error) {
	return f(r, action)
}

// Role is what a token may do on the operations API.
type Role int8

const (
	// Viewer may read: list, get, report, stats.
	Viewer Role = iota + 1
	// Responder may also act: acknowledge, mitigate, resolve, add findings
	// and evidence, change the severity, close.
	Responder
)

// String returns "viewer" or "responder".
func (r Role) String() string {
	switch r {
	case Viewer:
		return "viewer"
	case Responder:
		return "responder"
	}
	return fmt.Sprintf("role(%d)", int8(r))
}

// Allows reports whether the role may perform action.
func (r Role) Allows(action string) bool {
	switch r {
	case Responder:
		return true
	case Viewer:
		return action == ActionRead
	}
	return false
}

// Grant is what one bearer token stands for: who acts with it, and in which
// role.
type Grant struct {
	Principal string
	Role      Role
}

type bearerTokens struct {
	hashes [][sha256.Size]byte
	grants []Grant
}

// BearerTokens returns an Authorizer that admits requests carrying
// "Authorization: Bearer <token>" for one of the given tokens, mapped to the
// principal that acts with it. Every token is a [Responder]; use
// [BearerTokensWithRoles] to give read-only tokens. Tokens are compared in
// constant time. Every token must be at least 16 characters and every
// principal non-empty.
func BearerTokens(tokens map[string]string) (Authorizer, error) {
	grants := make(map[string]Grant, len(tokens))
	for tok, who := range tokens {
		grants[tok] = Grant{Principal: who, Role: Responder}
	}
	return bearerTokensWithRoles("BearerTokens", grants)
}

// BearerTokensWithRoles is [BearerTokens] with a role for each token: a
// [Viewer] token may read, and gets 403 on every change; a [Responder]
// token may also act.
//
//	auth, err := firebreak.BearerTokensWithRoles(map[string]firebreak.Grant{
//		os.Getenv("OPS_TOKEN"):       {Principal: "on-duty", Role: firebreak.Responder},
//		os.Getenv("DASHBOARD_TOKEN"): {Principal: "dashboard", Role: firebreak.Viewer},
//	})
func BearerTokensWithRoles(tokens map[string]Grant) (Authorizer, error) {
	return bearerTokensWithRoles("BearerTokensWithRoles", tokens)
}

func bearerTokensWithRoles(name string, tokens map[string]Grant) (Authorizer, error) {
	if len(tokens) == 0 {
		return nil, fmt.Errorf("firebreak: %s: at least one token is required", name)
	}
	a := &bearerTokens{}
	for _, tok := range slices.Sorted(maps.Keys(tokens)) {
		g := tokens[tok]
		if strings.TrimSpace(g.Principal) == "" {
			return nil, fmt.Errorf("firebreak: %s: every token needs a principal", name)
		}
		if len(tok) < 16 {
			return nil, fmt.Errorf("firebreak: %s: token for %q is shorter than 16 characters", name, g.Principal)
		}
		if g.Role != Viewer && g.Role != Responder {
			return nil, fmt.Errorf("firebreak: %s: token for %q: Role must be Viewer or Responder, got %s", name, g.Principal, g.Role)
		}
		a.hashes = append(a.hashes, sha256.Sum256([]byte(tok)))
		a.grants = append(a.grants, g)
	}
	return a, nil
}

func (a *bearerTokens) Authorize(r *http.Request, action string) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrUnauthenticated
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	found := -1
	for i := range a.hashes {
		// Compare with every token so the time taken does not tell which matched.
		if subtle.ConstantTimeCompare(sum[:], a.hashes[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", errors.New("firebreak: token refused")
	}
	g := a.grants[found]
	if !g.Role.Allows(action) {
		return "", fmt.Errorf("%w: %s is a %s and may not %s", ErrForbidden, g.Principal, g.Role, action)
	}
	return g.Principal, nil
}

const maxBody = 64 << 10

type opsAPI struct {
	b    *Board
	auth Authorizer
}

// OpsHandler returns the operations API for board b, for the people who run
// the incident response. Every request, reads included, must pass auth (the
// API shows error text and internal names). Routes, relative to where the
// handler is mounted:
//
//	GET  /incidents                  list, newest first; query: state, severity (at least), component,
//	                                 open=true, limit (default 50, at most 500), cursor,
//	                                 drill=<id> (that drill's incidents) or drill=* (every drill's);
//	                                 without drill, real incidents only
//	GET  /incidents/{id}             one incident with its timeline
//	POST /incidents/{id}/acknowledge {}
//	POST /incidents/{id}/mitigate    {"action": "what was done"}
//	POST /incidents/{id}/resolve     {"note": "..."}
//	POST /incidents/{id}/findings    {"hypothesis": "...", "suspected_cause": "...", "confidence": "...", "next_steps": "..."}
//	POST /incidents/{id}/evidence    {"kind": "log", "source": "...", "trace_ids": [...], "metrics": {...}, "note": "..."}
//	POST /incidents/{id}/severity    {"severity": "general", "reason": "..."}
//	POST /incidents/{id}/category    {"category": "network", "reason": "..."}
//	POST /incidents/{id}/verify      {"note": "the business owner's confirmation"}
//	POST /incidents/{id}/close       {"root_cause": "...", "action_items": [...], ...}
//	GET  /archive                    archived incidents, newest first; query: limit (default 50, at most 500),
//	                                 drill as for /incidents (without it, real incidents only)
//	GET  /archive/{id}               {"incident": ..., "report": ...}; ?format=markdown gives the report
//	POST /incidents/{id}/handoff     {"to": "person or role", "note": "..."} (see Board.HandOff)
//	GET  /incidents/{id}/report      ?format=json (default) or markdown
//	GET  /stats                      the board's counters
//	GET  /silences                   silences, active and pending first, then expired (the audit list)
//	POST /silences                   {"matchers": [...] or "{kind=\"x\"}", "ends_at": "RFC 3339", "comment": "..."}; 201 {"id"}
//	DELETE /silences/{id}            expire a silence now
//	GET  /maintenance                maintenance windows
//	POST /maintenance                {"name", "components", "start", "end" or "weekly", "reason"}
//	DELETE /maintenance/{name}       cancel a window
//
// A list answers {"incidents": [...], "next_cursor": "..."}; pass
// next_cursor back as ?cursor= for the next page, with the same filters. It
// is absent on the last page.
//
// The acting person is the principal the Authorizer names; reads are
// authorised as [ActionRead] and each change as its own action, so a
// [Viewer] token gets 403 on every change. Errors are JSON {"error": "..."}
// with 400 for malformed requests (a bad limit or cursor, a text over
// [MaxTextLen]), 401 without credentials, 403 when refused, 404 for an
// unknown incident, 405 for a wrong method, 409 when the action does not fit
// the incident's state or the incident is full ([MaxFindings],
// [MaxEvidence], [MaxPersonEntries]), 413 for a body over 64 KiB and 415 for
// a body that is not JSON. /stats keys are snake_case, like every other.
//
// Mounted under a path, pass that path with [WithPathPrefix] (no
// [http.StripPrefix] needed):
//
//	ops, err := firebreak.OpsHandler(board, auth, firebreak.WithPathPrefix("/ops"))
//	mux.Handle("/ops/", ops)
//
// A request for a path the API does not serve gets a 404 naming the paths it
// does, and, when the path looks mounted under a prefix the handler was not
// told about, the option to pass.
func OpsHandler(b *Board, auth Authorizer, opts ...OpsOption) (http.Handler, error) {
	if b == nil {
		return nil, errors.New("firebreak: OpsHandler: board is nil")
	}
	if auth == nil {
		return nil, errors.New("firebreak: OpsHandler: an Authorizer is required; every request must be authorised")
	}
	var cfg opsConfig
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("firebreak: OpsHandler: option %d is nil", i)
		}
		o.applyOps(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	api := &opsAPI{b: b, auth: auth}
	mux := http.NewServeMux()
	mux.HandleFunc("/incidents", api.only(http.MethodGet, ActionRead, api.list))
	mux.HandleFunc("/incidents/{id}", api.only(http.MethodGet, ActionRead, api.get))
	mux.HandleFunc("/incidents/{id}/report", api.only(http.MethodGet, ActionRead, api.report))
	mux.HandleFunc("/stats", api.only(http.MethodGet, ActionRead, api.stats))
	mux.HandleFunc("/archive", api.only(http.MethodGet, ActionRead, api.archiveList))
	mux.HandleFunc("/archive/{id}", api.only(http.MethodGet, ActionRead, api.archiveGet))
	for action, fn := range map[string]func(w http.ResponseWriter, r *http.Request, who string){
		ActionAcknowledge: api.acknowledge, ActionMitigate: api.mitigate, ActionResolve: api.resolve,
		"findings": api.finding, ActionEvidence: api.evidence, ActionSeverity: api.severity, ActionClose: api.close,
		ActionCategory: api.category, ActionVerify: api.verify,
		ActionHandOff: api.handoff,
	} {
		name := action
		if action == "findings" {
			name = ActionFinding
		}
		mux.HandleFunc("/incidents/{id}/"+action, api.only(http.MethodPost, name, fn))
	}
	api.silenceRoutes(mux)
	for _, add := range cfg.routes { // WithStatusUpdates, WithFeedbackReplies (pages_ops.go)
		add(mux, auth)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		writeError(w, http.StatusNotFound, cfg.notFound(r.URL.Path))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if cfg.prefix != "" {
			rest, ok := strings.CutPrefix(p, cfg.prefix)
			if !ok || (rest != "" && rest[0] != '/') {
				w.Header().Set("Cache-Control", "no-store")
				writeError(w, http.StatusNotFound, fmt.Sprintf("the ops API is served under %s/", cfg.prefix))
				return
			}
			r = stripped(r, cmp.Or(rest, "/"), cfg.prefix)
			p = r.URL.Path
		}
		// ServeMux would answer an unclean path with an HTML redirect.
		if p == "" || p[0] != '/' || path.Clean(p) != p {
			w.Header().Set("Cache-Control", "no-store")
			writeError(w, http.StatusBadRequest, "malformed path")
			return
		}
		mux.ServeHTTP(w, r)
	}), nil
}

// OpsOption configures [OpsHandler].
type OpsOption interface{ applyOps(*opsConfig) }

type opsConfig struct {
	prefix string
	routes []func(*http.ServeMux, Authorizer) // more routes: the pages' (pages_ops.go)
}

func (c *opsConfig) validate() error {
	if c.prefix == "" {
		return nil
	}
	if c.prefix[0] != '/' || path.Clean(c.prefix) != c.prefix || c.prefix == "/" {
		return fmt.Errorf("firebreak: WithPathPrefix: %q is not a clean absolute path such as \"/ops\"", c.prefix)
	}
	return nil
}

// opsRoots are the first path segments the ops API serves, for the 404.
var opsRoots = []string{"/incidents", "/stats", "/archive", "/silences", "/maintenance"}

// notFound is the 404 message for p: the paths served, and a hint when p
// looks mounted under a prefix the handler was not told about.
func (c *opsConfig) notFound(p string) string {
	msg := "no such endpoint; the ops API serves " + strings.Join(opsRoots, ", ")
	if c.prefix != "" {
		msg += " under " + c.prefix
	}
	for _, root := range opsRoots {
		if i := strings.Index(p, root); i > 0 && (len(p) == i+len(root) || p[i+len(root)] == '/') {
			return msg + fmt.Sprintf("; mounted under %s? pass firebreak.WithPathPrefix(%q)", p[:i], c.prefix+p[:i])
		}
	}
	return msg
}

type opsOptionFunc func(*opsConfig)

func (f opsOptionFunc) applyOps(c *opsConfig) { f(c) }

// WithPathPrefix serves the ops API under prefix, e.g. "/ops": a request for
// /ops/incidents is answered as /incidents. The prefix is a clean absolute
// path without a trailing slash. Default: the API is served at the root of
// whatever path reaches the handler.
func WithPathPrefix(prefix string) OpsOption {
	return opsOptionFunc(func(c *opsConfig) { c.prefix = prefix })
}

// stripped returns a shallow copy of r whose URL path is p, as
// [http.StripPrefix] makes it.
func stripped(r *http.Request, p, prefix string) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = new(url.URL)
	*r2.URL = *r.URL
	r2.URL.Path = p
	if raw, ok := strings.CutPrefix(r.URL.RawPath, prefix); ok {
		r2.URL.RawPath = cmp.Or(raw, "/")
	} else {
		r2.URL.RawPath = ""
	}
	return r2
}

// Authorize asks a whether r may perform action, for a handler that serves
// only authorised callers: the ops API, the health inspections, the console.
// It returns the principal a names and true; otherwise it has answered the
// request — 401 with WWW-Authenticate: Bearer without credentials, 403 when
// refused or when the authoriser names nobody, each as JSON {"error": ...}
// — and returns false.
func Authorize(w http.ResponseWriter, r *http.Request, a Authorizer, action string) (principal string, ok bool) {
	who, err := a.Authorize(r, action)
	switch {
	case errors.Is(err, ErrUnauthenticated):
		w.Header().Set("WWW-Authenticate", `Bearer realm="firebreak"`)
		writeError(w, http.StatusUnauthorized, "credentials required")
	case errors.Is(err, ErrForbidden):
		writeError(w, http.StatusForbidden, strings.TrimPrefix(err.Error(), "firebreak: "))
	case err != nil:
		writeError(w, http.StatusForbidden, "not allowed to "+action)
	case strings.TrimSpace(who) == "":
		writeError(w, http.StatusForbidden, "the authoriser named nobody")
	default:
		return who, true
	}
	return "", false
}

func (api *opsAPI) only(method, action string, fn func(w http.ResponseWriter, r *http.Request, who string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, "use "+method)
			return
		}
		who, ok := Authorize(w, r, api.auth, action)
		if !ok {
			return
		}
		if method == http.MethodPost {
			if inc, err := api.b.Get(r.PathValue("id")); err == nil && personEntries(&inc) >= MaxPersonEntries {
				writeError(w, http.StatusConflict, fmt.Sprintf("incident %s already holds %d entries added by people (the limit)", inc.ID, MaxPersonEntries))
				return
			}
		}
		fn(w, r, who)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) { httpjson.Write(w, code, v) }

func writeError(w http.ResponseWriter, code int, msg string) { httpjson.Error(w, code, msg) }

func writeActionError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "incident not found")
	case errors.Is(err, ErrTransition):
		writeError(w, http.StatusConflict, strings.TrimPrefix(err.Error(), "firebreak: "))
	case errors.Is(err, ErrLimit):
		writeError(w, http.StatusConflict, strings.TrimPrefix(err.Error(), "firebreak: "))
	case errors.Is(err, ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "board closed")
	default:
		writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "firebreak: "))
	}
}

// decode reads a JSON body into v, refusing unknown fields, trailing data,
// other content types and bodies over 64 KiB. An empty body is an empty
// object.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			writeError(w, http.StatusUnsupportedMediaType, "send application/json")
			return false
		}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "body over 64 KiB")
		} else {
			writeError(w, http.StatusBadRequest, "could not read the body")
		}
		return false
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		data = []byte("{}")
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "malformed JSON: "+jsonMessage(err))
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "malformed JSON: data after the object")
		return false
	}
	return true
}

// jsonMessage describes a decoding error without Go type names.
func jsonMessage(err error) string {
	var typ *json.UnmarshalTypeError
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q cannot be a JSON %s", typ.Field, typ.Value)
		}
		return fmt.Sprintf("a JSON %s is not expected here", typ.Value)
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "json: "), "firebreak: ")
}

func (api *opsAPI) list(w http.ResponseWriter, r *http.Request, _ string) {
	q := r.URL.Query()
	var f Filter
	for key, vals := range q {
		switch key {
		case "state":
			for _, v := range vals {
				for _, s := range strings.Split(v, ",") {
					st, err := ParseState(s)
					if err != nil {
						writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "firebreak: "))
						return
					}
					f.States = append(f.States, st)
				}
			}
		case "severity":
			sev, err := ParseSeverity(q.Get(key))
			if err != nil {
				writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "firebreak: "))
				return
			}
			f.MinSeverity = sev
		case "component":
			f.Component = q.Get(key)
		case "open":
			v, err := strconv.ParseBool(q.Get(key))
			if err != nil {
				writeError(w, http.StatusBadRequest, "open must be true or false")
				return
			}
			f.OpenOnly = v
		case "drill": // drill.go
			if v := q.Get(key); v != AnyDrill && !validDrillID(v) {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("drill must be a drill's ID (letters, digits, '-', '_', '.') or %q, got %q", AnyDrill, v))
				return
			}
			f.Drill = q.Get(key)
		case "limit", "cursor":
		default:
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown query parameter %q (want state, severity, component, open, drill, limit or cursor)", key))
			return
		}
	}
	limit := DefaultListLimit
	if v := q.Get("limit"); q.Has("limit") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxListLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit must be a whole number from 1 to %d, got %q", MaxListLimit, v))
			return
		}
		limit = n
	}
	list := api.b.List(f)
	start := 0
	if q.Has("cursor") {
		at, id, ok := parseCursor(q.Get("cursor"))
		if !ok {
			writeError(w, http.StatusBadRequest, "cursor is malformed: pass the next_cursor of the previous page as it is")
			return
		}
		// Continue after the incident the cursor names; if it has been
		// forgotten since, after the last one detected no later than it.
		start = slices.IndexFunc(list, func(inc Incident) bool { return inc.ID == id }) + 1
		if start == 0 {
			start = len(list)
			if i := slices.IndexFunc(list, func(inc Incident) bool { return inc.DetectedAt.Before(at) }); i >= 0 {
				start = i
			}
		}
	}
	page := list[start:min(start+limit, len(list))]
	out := listPage{Incidents: page}
	if page == nil {
		out.Incidents = []Incident{}
	}
	if end := start + len(page); end < len(list) {
		out.NextCursor = makeCursor(list[end-1])
	}
	writeJSON(w, http.StatusOK, out)
}

// Pagination of GET /incidents.
const (
	// DefaultListLimit is how many incidents one page holds when the
	// request gives no limit.
	DefaultListLimit = 50
	// MaxListLimit is the largest limit a request may ask for.
	MaxListLimit = 500
)

type listPage struct {
	Incidents  []Incident `json:"incidents"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// makeCursor encodes the position after inc: its detection time and ID.
// Clients treat it as opaque.
func makeCursor(inc Incident) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + strconv.FormatInt(inc.DetectedAt.UnixNano(), 10) + ":" + inc.ID))
}

func parseCursor(c string) (time.Time, string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(c) > 256 {
		return time.Time{}, "", false
	}
	rest, ok := strings.CutPrefix(string(raw), "v1:")
	if !ok {
		return time.Time{}, "", false
	}
	nanos, id, ok := strings.Cut(rest, ":")
	n, err := strconv.ParseInt(nanos, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", false
	}
	return time.Unix(0, n), id, true
}

func (api *opsAPI) get(w http.ResponseWriter, r *http.Request, _ string) {
	inc, err := api.b.Get(r.PathValue("id"))
	if err != nil {
		writeActionError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

func (api *opsAPI) report(w http.ResponseWriter, r *http.Request, _ string) {
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "markdown" && format != "md" {
		writeError(w, http.StatusBadRequest, "format must be json or markdown")
		return
	}
	rep, err := api.b.IncidentReport(r.PathValue("id"))
	if err != nil {
		writeActionError(w, err)
		return
	}
	if format == "markdown" || format == "md" {
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		io.WriteString(w, rep.Markdown())
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (api *opsAPI) stats(w http.ResponseWriter, _ *http.Request, _ string) {
	writeJSON(w, http.StatusOK, api.b.Stats())
}

func (api *opsAPI) done(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		writeActionError(w, err)
		return
	}
	inc, err := api.b.Get(r.PathValue("id"))
	if err != nil {
		writeActionError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

// textOK answers 400 for a text field over [MaxTextLen].
func textOK(w http.ResponseWriter, field, v string) bool {
	if err := checkText(field, v); err != nil {
		writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "firebreak: "))
		return false
	}
	return true
}

func (api *opsAPI) acknowledge(w http.ResponseWriter, r *http.Request, who string) {
	var body struct{}
	if decode(w, r, &body) {
		api.done(w, r, api.b.Acknowledge(r.PathValue("id"), who))
	}
}

func (api *opsAPI) mitigate(w http.ResponseWriter, r *http.Request, who string) {
	var body struct {
		Action string `json:"action"`
	}
	if decode(w, r, &body) && textOK(w, "action", body.Action) {
		api.done(w, r, api.b.Mitigate(r.PathValue("id"), who, body.Action))
	}
}

func (api *opsAPI) resolve(w http.ResponseWriter, r *http.Request, who string) {
	var body struct {
		Note string `json:"note"`
	}
	if decode(w, r, &body) && textOK(w, "note", body.Note) {
		api.done(w, r, api.b.Resolve(r.PathValue("id"), who, body.Note))
	}
}

func (api *opsAPI) finding(w http.ResponseWriter, r *http.Request, who string) {
	var body struct {
		Hypothesis     string `json:"hypothesis"`
		SuspectedCause string `json:"suspected_cause"`
		Confidence     string `json:"confidence"`
		NextSteps      string `json:"next_steps"`
	}
	if decode(w, r, &body) {
		api.done(w, r, api.b.AddFinding(r.PathValue("id"), who, Finding{Hypothesis: body.Hypothesis,
			SuspectedCause: body.SuspectedCause, Confidence: body.Confidence, NextSteps: body.NextSteps}))
	}
}

func (api *opsAPI) evidence(w http.ResponseWriter, r *http.Request, who string) {
	var body struct {
		Kind     string             `json:"kind"`
		Source   string             `json:"source"`
		TraceIDs []string           `json:"trace_ids"`
		Metrics  map[string]float64 `json:"metrics"`
		Note     string             `json:"note"`
	}
	if decode(w, r, &body) {
		api.done(w, r, api.b.AddEvidence(r.PathValue("id"), who, Evidence{Kind: body.Kind, Source: body.Source,
			TraceIDs: body.TraceIDs, Metrics: body.Metrics, Note: body.Note}))
	}
}

func (api *opsAPI) severity(w http.ResponseWriter, r *http.Request, who string) {
	var body struct {
		Severity *Severity `json:"severity"`
		Reason   string    `json:"reason"`
	}
	if !decode(w, r, &body) || !textOK(w, "reason", body.Reason) {
		return
	}
	if body.Severity == nil {
		writeError(w, http.StatusBadRequest, "severity is required")
		return
	}
	api.done(w, r, api.b.SetSeverity(r.PathValue("id"), who, *body.Severity, body.Reason))
}

func (api *opsAPI) close(w http.ResponseWriter, r *http.Request, who string) {
	var in ReportInput
	if !decode(w, r, &in) {
		return
	}
	if err := checkReportInput(in); err != nil {
		writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "firebreak: "))
		return
	}
	rep, err := api.b.CloseWith(r.PathValue("id"), who, in)
	if err != nil {
		writeActionError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// ComponentStatus is one line of the public status.
type ComponentStatus struct {
	Name   string `json:"name"`
	Status string `json:"status"`
}

// PublicStatus is what users may see: each component's condition in plain
// words, and nothing else — no error text, hostnames, versions or incident
// details.
type PublicStatus struct {
	Service    string            `json:"service"`
	Status     string            `json:"status"`
	Components []ComponentStatus `json:"components"`
	// Maintenance lists the active and upcoming (within 7 days) maintenance
	// windows: name, declared components, start and end.
	Maintenance []PublicMaintenance `json:"maintenance"`
	UpdatedAt   time.Time           `json:"updated_at"`
}

// Public status words, from best to worst.
const (
	StatusOperational   = "operational"
	StatusDegraded      = "degraded"
	StatusPartialOutage = "partial_outage"
	StatusMajorOutage   = "major_outage"
)

func statusWord(s Severity) string {
	switch s {
	case Fatal:
		return StatusMajorOutage
	case Severe:
		return StatusPartialOutage
	case General:
		return StatusDegraded
	}
	return StatusOperational
}

// PublicStatus returns the public status. It lists only the components
// declared public with [WithComponents] — a name that merely reported a
// signal (a host, a replica, a worker) is never shown — each as bad as the
// worst open, announced incident affecting it: General is degraded, Severe a
// partial outage, Fatal a major outage, and a mitigated incident (user
// impact stopped) at most degraded. The overall status is the worst over
// every open, announced incident of the service, declared component or not,
// so users are not told "operational" during an outage of an internal part.
// An incident still in its group wait is not shown: it may be a flap.
func (b *Board) PublicStatus() PublicStatus {
	now := time.Now()
	worst := make(map[string]Severity, len(b.known))
	for _, name := range b.known {
		worst[name] = None
	}
	overall := None
	for _, inc := range b.List(Filter{OpenOnly: true}) {
		if inc.NotifiedAt.IsZero() {
			continue
		}
		sev := inc.Severity
		if inc.State == Mitigated {
			sev = min(sev, General)
		}
		overall = max(overall, sev)
		for _, c := range inc.Components {
			if w, ok := worst[c]; ok {
				worst[c] = max(w, sev)
			}
		}
	}
	st := PublicStatus{Service: b.service, Status: statusWord(overall), UpdatedAt: now.UTC().Truncate(time.Second), Components: []ComponentStatus{}}
	for _, name := range slices.Sorted(maps.Keys(worst)) {
		st.Components = append(st.Components, ComponentStatus{Name: name, Status: statusWord(worst[name])})
	}
	b.maintenanceStatus(&st, now)
	return st
}

// StatusHandler serves [Board.PublicStatus] as JSON to anyone, for a status
// page. It answers GET and HEAD only and takes no parameters.
func StatusHandler(b *Board) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		if r.URL.RawQuery != "" {
			writeError(w, http.StatusBadRequest, "no query parameters are accepted")
			return
		}
		writeJSON(w, http.StatusOK, b.PublicStatus())
	})
}
