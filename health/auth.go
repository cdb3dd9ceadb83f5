package health

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/firebreak-go/firebreak"
)

// denyAll is the default Authorizer: it admits nobody.
type denyAll struct{}

func (denyAll) Authorize(*http.Request, string) (string, error) {
	return "", firebreak.ErrUnauthenticated
}

// mayRead reports whether the caller may see details: failure reasons,
// error text and observed values. The probes ask it and withhold the
// details otherwise; they never refuse the probe itself.
func (r *Registry) mayRead(req *http.Request) bool {
	who, err := r.auth.Authorize(req, firebreak.ActionRead)
	return err == nil && strings.TrimSpace(who) != ""
}

// admitRead authorises req for [firebreak.ActionRead] on an endpoint that
// exists only for authorised callers (the inspections). When the caller is
// not admitted it answers 401 (with WWW-Authenticate: Bearer) or 403 and
// returns false.
//
// The mapping mirrors (*opsAPI).only in the root package's http.go, so the
// health details answer as the operations API does; keep the two in step
// until the root package exports it.
func (r *Registry) admitRead(w http.ResponseWriter, req *http.Request) bool {
	who, err := r.auth.Authorize(req, firebreak.ActionRead)
	switch {
	case errors.Is(err, firebreak.ErrUnauthenticated):
		w.Header().Set("WWW-Authenticate", `Bearer realm="firebreak"`)
		writeJSONError(w, http.StatusUnauthorized, "credentials required")
	case errors.Is(err, firebreak.ErrForbidden):
		writeJSONError(w, http.StatusForbidden, strings.TrimPrefix(err.Error(), "firebreak: "))
	case err != nil:
		writeJSONError(w, http.StatusForbidden, "not allowed to "+firebreak.ActionRead)
	case strings.TrimSpace(who) == "":
		writeJSONError(w, http.StatusForbidden, "the authoriser named nobody")
	default:
		return true
	}
	return false
}

// writeJSONError answers {"error": msg}, as the operations API does.
func writeJSONError(w http.ResponseWriter, code int, msg string) {
	body, _ := json.Marshal(map[string]string{"error": msg}) // a map of strings always encodes
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}
