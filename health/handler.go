package health

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Header values, shared by every response. They are assigned to the header
// map directly (no Header.Set) so the success path does not allocate; the
// slices have len == cap, so an append by a middleware copies rather than
// writes into them.
var (
	hdrTextPlain  = []string{"text/plain; charset=utf-8"}
	hdrHealthJSON = []string{"application/health+json"}
	hdrNoStore    = []string{"no-store"}
	hdrNoSniff    = []string{"nosniff"}
	hdrAllow      = []string{"GET, HEAD"}
	hdrGetOnly    = []string{"GET"}
	bodyOK        = []byte("ok")
)

const (
	maxQueryLen  = 2048
	maxExcludes  = 64
	maxReasonLen = 256
)

// Handler returns the HTTP handler serving the probe endpoints, relative to
// the root (mount it at "/" or wrap it in [http.StripPrefix]):
//
//	/livez, /readyz, /startupz          Kubernetes style: "ok", ?verbose, ?exclude=
//	/livez/<name>, /readyz/<name>, ...  one check
//	/health                             application/health+json, every check
//
// /livez, /readyz and /startupz also answer in application/health+json when
// the Accept header asks for it. Only GET and HEAD are allowed. Answers come
// from the cached results and never run a check. Before [Registry.Start],
// every endpoint but /livez answers 503 with [ErrNotStarted].
func (r *Registry) Handler() http.Handler { return handler{r} }

type handler struct{ r *Registry }

func (h handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		hd := w.Header()
		hd["Allow"] = hdrAllow
		hd["Cache-Control"] = hdrNoStore
		http.Error(w, "health: method "+req.Method+" not allowed (want GET or HEAD)", http.StatusMethodNotAllowed)
		return
	}
	p := req.URL.Path
	if p == "/health" {
		h.r.serveJSON(w, req, allGroups)
		return
	}
	for _, g := range [...]Group{Readiness, Liveness, Startup} {
		ep := g.endpoint()
		if len(p) < len(ep)+1 || p[0] != '/' || p[1:len(ep)+1] != ep {
			continue
		}
		rest := p[len(ep)+1:]
		switch {
		case rest == "":
			if wantsJSON(req) {
				h.r.serveJSON(w, req, g)
			} else {
				h.r.serveGroup(w, req, g)
			}
			return
		case rest[0] == '/' && len(rest) > 1:
			h.r.serveCheck(w, req, g, rest[1:])
			return
		}
	}
	w.Header()["Cache-Control"] = hdrNoStore
	http.NotFound(w, req)
}

func wantsJSON(req *http.Request) bool {
	return strings.Contains(req.Header.Get("Accept"), "application/health+json")
}

// query is a parsed probe query string.
type query struct {
	verbose bool
	exclude []string
}

// parseQuery parses ?verbose and repeatable ?exclude=name. verbose takes no
// value or a boolean ("verbose=false" turns it off); exclude needs a name;
// either with a malformed escape in its value is an error. Every other
// parameter is ignored, as the Kubernetes API server ignores it — including
// one whose name is malformed, which cannot be verbose or exclude — so an
// extra parameter on a probe URL never turns into a restart loop. A query
// longer than maxQueryLen or with more than maxExcludes exclusions is an
// error.
func parseQuery(raw string) (query, error) {
	var q query
	if len(raw) > maxQueryLen {
		return q, &queryError{Reason: fmt.Sprintf("longer than %d bytes", maxQueryLen)}
	}
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, hasValue := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil || key != "verbose" && key != "exclude" {
			continue // not ours
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return q, &queryError{Param: key, Reason: "malformed escape in value"}
		}
		switch key {
		case "verbose":
			if !hasValue || val == "" {
				q.verbose = true
				continue
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				return q, &queryError{Param: key, Reason: fmt.Sprintf("value %q is not a boolean", val)}
			}
			q.verbose = b
		case "exclude":
			if val == "" {
				return q, &queryError{Param: key, Reason: "needs a check name, as in exclude=db"}
			}
			if len(q.exclude) >= maxExcludes {
				return q, &queryError{Param: key, Reason: fmt.Sprintf("more than %d exclusions", maxExcludes)}
			}
			q.exclude = append(q.exclude, val)
		}
	}
	return q, nil
}

func badQuery(w http.ResponseWriter, err error) {
	w.Header()["Cache-Control"] = hdrNoStore
	http.Error(w, err.Error(), http.StatusBadRequest)
}

func writeHeaders(w http.ResponseWriter, ct []string) {
	h := w.Header()
	h["Content-Type"] = ct
	h["Cache-Control"] = hdrNoStore
	h["X-Content-Type-Options"] = hdrNoSniff
}

func statusCode(pass bool) int {
	if pass {
		return http.StatusOK
	}
	return http.StatusServiceUnavailable
}

// serveGroup answers /livez, /readyz or /startupz.
func (r *Registry) serveGroup(w http.ResponseWriter, req *http.Request, g Group) {
	if !r.started.Load() && r.refuseUnstarted(w, req, g, false) {
		return
	}
	now := time.Now()
	if req.URL.RawQuery == "" {
		// The hot path: no query, read the cached statuses, no allocation.
		st, _ := r.groupStatus(g, now, nil)
		if r.groupPasses(g, st) {
			writeHeaders(w, hdrTextPlain)
			w.WriteHeader(http.StatusOK)
			if req.Method != http.MethodHead {
				_, _ = w.Write(bodyOK)
			}
			return
		}
	}
	q, err := parseQuery(req.URL.RawQuery)
	if err != nil {
		badQuery(w, err)
		return
	}
	excluded := func(c *check) bool { return slices.Contains(q.exclude, c.name) }
	st, snap := r.groupStatus(g, now, excluded)
	pass := r.groupPasses(g, st)
	if pass && !q.verbose {
		writeHeaders(w, hdrTextPlain)
		w.WriteHeader(http.StatusOK)
		if req.Method != http.MethodHead {
			_, _ = w.Write(bodyOK)
		}
		return
	}
	// Verbose, and always verbose on failure, as the Kubernetes API server.
	authorized := r.mayRead(req)
	var b []byte
	members := snap.members(g)
	for _, c := range members {
		if slices.Contains(q.exclude, c.name) {
			b = fmt.Appendf(b, "[+]%s excluded: ok\n", c.name)
			continue
		}
		cs, res := c.statusAt(now)
		b = appendLine(b, c, cs, res, g, pass, now, authorized)
	}
	if g&Readiness != 0 && r.draining.Load() {
		b = append(b, "[-]shutdown failed: "...)
		b = append(b, reasonOr(authorized, "draining for shutdown")...)
		b = append(b, '\n')
	}
	if missing := unmatched(q.exclude, members); len(missing) > 0 {
		b = fmt.Appendf(b, "warn: some health checks cannot be excluded: no matches for %s\n", formatQuoted(missing))
	}
	verdict := "passed"
	if !pass {
		verdict = "failed"
	}
	b = fmt.Appendf(b, "%s check %s\n", g.endpoint(), verdict)
	writeHeaders(w, hdrTextPlain)
	w.WriteHeader(statusCode(pass))
	if req.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// groupPasses applies the status-code rule, and latches startup: once the
// startup group has passed it keeps passing, as a startup probe is only
// consulted until it first succeeds.
func (r *Registry) groupPasses(g Group, st Status) bool {
	if g == Startup {
		if r.startupLatched.Load() {
			return true
		}
		if passes(st, g) {
			r.startupLatched.Store(true)
			return true
		}
		return false
	}
	return passes(st, g)
}

// appendLine writes one check's line in the API server's two forms only:
// "[+]name ok", or "[-]name failed: reason withheld" (the reason itself for
// authorised callers). A check is "[-]" exactly when it fails the verdict:
// the group fails, the check is critical, and its own status fails the
// group (down; or unknown, outside liveness). Everything else — up,
// degraded, a non-critical check in any state, an unknown liveness check,
// every check of a latched startup group — is "[+]name ok", because it does
// not fail the probe; its true state is in the JSON and in [Registry.State].
// So the lines always agree with the verdict line below them.
func appendLine(b []byte, c *check, st Status, res *result, g Group, groupPass bool, now time.Time, authorized bool) []byte {
	if groupPass || !c.cfg.critical || passes(st, g) {
		return fmt.Appendf(b, "[+]%s ok\n", c.name)
	}
	return fmt.Appendf(b, "[-]%s failed: %s\n", c.name, reasonOr(authorized, c.reason(st, res, now)))
}

func reasonOr(authorized bool, reason string) string {
	if !authorized {
		return "reason withheld"
	}
	return reason
}

// reason explains a status for authorised callers: the error text on one
// line, or why the check is unknown.
func (c *check) reason(st Status, res *result, now time.Time) string {
	switch {
	case res == nil:
		return "no result yet"
	case st == StatusUnknown && now.Sub(res.checkedAt) > c.cfg.staleAfter:
		return fmt.Sprintf("stale: last result %v ago", now.Sub(res.checkedAt).Truncate(time.Millisecond))
	case st == StatusUnknown:
		return fmt.Sprintf("waiting for %d passing runs", c.cfg.successThreshold)
	case res.err == nil:
		return "ok"
	}
	return oneLine(res.errText)
}

func oneLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > maxReasonLen {
		s = s[:maxReasonLen] + "…"
	}
	return s
}

func unmatched(exclude []string, members []*check) []string {
	var out []string
	for _, e := range exclude {
		if !slices.ContainsFunc(members, func(c *check) bool { return c.name == e }) && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out
}

// formatQuoted quotes names and joins them with ",", as the Kubernetes API
// server does.
func formatQuoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ",")
}

// serveCheck answers /<group>z/<name>: "ok", or 503 with
// "internal server error: <reason>" (the reason withheld unless authorised).
func (r *Registry) serveCheck(w http.ResponseWriter, req *http.Request, g Group, name string) {
	if !r.started.Load() && r.refuseUnstarted(w, req, g, false) {
		return
	}
	if req.URL.RawQuery != "" {
		if _, err := parseQuery(req.URL.RawQuery); err != nil {
			badQuery(w, err)
			return
		}
	}
	c, ok := r.snap.Load().byName[name]
	if !ok || c.cfg.groups&g == 0 {
		writeHeaders(w, hdrTextPlain)
		w.WriteHeader(http.StatusNotFound)
		if req.Method != http.MethodHead {
			_, _ = fmt.Fprintf(w, "health: no check %q in %s\n", name, g.endpoint())
		}
		return
	}
	now := time.Now()
	st, res := c.statusAt(now)
	pass := passes(st, g)
	writeHeaders(w, hdrTextPlain)
	w.WriteHeader(statusCode(pass))
	if req.Method == http.MethodHead {
		return
	}
	if pass {
		_, _ = w.Write(bodyOK)
		return
	}
	_, _ = fmt.Fprintf(w, "internal server error: %s\n", reasonOr(r.mayRead(req), c.reason(st, res, now)))
}

// Document is the application/health+json document served by the JSON
// endpoint (draft-inadarei-api-health-check-06).
type Document struct {
	// Status is "pass", "warn" (degraded) or "fail".
	Status      string `json:"status"`
	ServiceID   string `json:"serviceId,omitempty"`
	Description string `json:"description,omitempty"`
	// Notes hold conditions worth knowing, such as draining.
	Notes []string `json:"notes,omitempty"`
	// Output names the failing checks; authorised callers only.
	Output string `json:"output,omitempty"`
	// Checks are keyed "name" or "name:measurement", one element each.
	Checks map[string][]DocumentCheck `json:"checks,omitempty"`
}

// DocumentCheck is one check in [Document].
type DocumentCheck struct {
	ComponentID   string `json:"componentId"`
	ComponentType string `json:"componentType"`
	// Status is "pass", "warn" or "fail"; unknown is "fail".
	Status string `json:"status"`
	// Health is the firebreak status: "up", "degraded", "down", "unknown".
	Health   Status `json:"health"`
	Critical bool   `json:"critical"`
	// Time is when the result was taken (RFC 3339); absent before the first.
	Time string `json:"time,omitempty"`
	// ObservedValue, ObservedUnit and Output are shown to authorised
	// callers only.
	ObservedValue *float64 `json:"observedValue,omitempty"`
	ObservedUnit  string   `json:"observedUnit,omitempty"`
	Output        string   `json:"output,omitempty"`
}

// serveJSON answers in application/health+json for a group, or for every
// check (g == allGroups).
func (r *Registry) serveJSON(w http.ResponseWriter, req *http.Request, g Group) {
	if !r.started.Load() && r.refuseUnstarted(w, req, g, true) {
		return
	}
	q, err := parseQuery(req.URL.RawQuery)
	if err != nil {
		badQuery(w, err)
		return
	}
	now := time.Now()
	excluded := func(c *check) bool { return slices.Contains(q.exclude, c.name) }
	st, snap := r.groupStatus(g, now, excluded)
	pass := r.groupPasses(g, st)
	authorized := r.mayRead(req)
	doc := Document{Status: st.healthJSON()}
	if name := r.binding.Component().Name; name != "" {
		doc.ServiceID, doc.Description = name, "health of "+name
	}
	if pass && st == StatusUnknown {
		doc.Status = "pass" // liveness before the first result
	}
	if !pass {
		doc.Status = "fail"
	}
	members := snap.members(g)
	var failing []string
	if len(members) > 0 {
		doc.Checks = make(map[string][]DocumentCheck, len(members))
	}
	for _, c := range members {
		if excluded(c) {
			continue
		}
		cs, res := c.statusAt(now)
		cj := DocumentCheck{ComponentID: c.name, ComponentType: c.cfg.componentType, Status: cs.healthJSON(), Health: cs, Critical: c.cfg.critical}
		if res != nil {
			cj.Time = res.checkedAt.UTC().Format(time.RFC3339Nano)
		}
		if cs != StatusUp {
			failing = append(failing, c.name)
		}
		if authorized {
			if res != nil && res.observed && !math.IsNaN(res.value) && !math.IsInf(res.value, 0) {
				v := res.value
				cj.ObservedValue, cj.ObservedUnit = &v, res.unit
			}
			if cs != StatusUp {
				cj.Output = c.reason(cs, res, now)
			}
		}
		key := c.name
		if c.cfg.measurement != "" {
			key += ":" + c.cfg.measurement
		}
		doc.Checks[key] = []DocumentCheck{cj}
	}
	if g&Readiness != 0 && r.draining.Load() {
		doc.Notes = append(doc.Notes, "draining: readiness fails while the service shuts down")
	}
	if missing := unmatched(q.exclude, members); len(missing) > 0 {
		doc.Notes = append(doc.Notes, "some health checks cannot be excluded: no matches for "+formatQuoted(missing))
	}
	if authorized && len(failing) > 0 {
		doc.Output = "not up: " + strings.Join(failing, ", ")
	}
	body, err := json.Marshal(doc)
	if err != nil { // cannot happen: the document holds only strings, numbers and bools
		r.logger().Error("health: encoding health+json", "error", err)
		http.Error(w, "health: internal error", http.StatusInternalServerError)
		return
	}
	writeHeaders(w, hdrHealthJSON)
	w.WriteHeader(statusCode(pass))
	if req.Method != http.MethodHead {
		_, _ = w.Write(append(body, '\n'))
	}
}

// refuseUnstarted handles a probe served before [Registry.Start]: no check
// has run, and none will. The first such request logs [ErrNotStarted] at
// ERROR. Readiness, startup and the JSON endpoint then answer 503 with that
// text (the caller returns); liveness answers as it always does before the
// first results (it passes: restarting the process would not start the
// registry).
func (r *Registry) refuseUnstarted(w http.ResponseWriter, req *http.Request, g Group, asJSON bool) bool {
	if !r.notStartedLogged.Swap(true) {
		r.logger().Error(ErrNotStarted.Error(), "path", req.URL.Path)
	}
	if g == Liveness {
		return false
	}
	var body []byte
	if asJSON {
		writeHeaders(w, hdrHealthJSON)
		body, _ = json.Marshal(Document{Status: "fail", Notes: []string{ErrNotStarted.Error()}}) // strings only: always encodes
	} else {
		writeHeaders(w, hdrTextPlain)
		body = []byte(ErrNotStarted.Error())
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	if req.Method != http.MethodHead {
		_, _ = w.Write(append(body, '\n'))
	}
	return true
}
