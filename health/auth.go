package health

import (
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
// exists only for authorised callers (the inspections), answering as the
// operations API does when the caller is not admitted.
func (r *Registry) admitRead(w http.ResponseWriter, req *http.Request) bool {
	_, ok := firebreak.Authorize(w, req, r.auth, firebreak.ActionRead)
	return ok
}
