package health

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
)

// An Authorizer decides whether the caller of a health endpoint may see
// details: failure reasons, error text and observed values. Probes from the
// kubelet or a load balancer usually carry no credentials, so they get the
// status code and check names only. Implementations must be safe for
// concurrent use and fast: they run on failing and verbose requests.
type Authorizer interface {
	Authorized(r *http.Request) bool
}

// AuthorizerFunc adapts a function to the [Authorizer] interface.
type AuthorizerFunc func(r *http.Request) bool

// Authorized calls f(r).
func (f AuthorizerFunc) Authorized(r *http.Request) bool { return f(r) }

type denyAll struct{}

func (denyAll) Authorized(*http.Request) bool { return false }

// BearerToken returns an Authorizer that admits requests carrying
// "Authorization: Bearer <token>". The comparison takes the same time
// whatever the presented token (both sides are hashed with SHA-256 and
// compared with [subtle.ConstantTimeCompare]), so it reveals neither the
// token nor its length. The token must be at least 16 bytes.
func BearerToken(token string) (Authorizer, error) {
	if len(token) < 16 {
		return nil, errors.New("health: BearerToken: token must be at least 16 bytes")
	}
	return bearer(sha256.Sum256([]byte(token))), nil
}

type bearer [sha256.Size]byte

func (b bearer) Authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(h[len(prefix):])))
	return subtle.ConstantTimeCompare(got[:], b[:]) == 1
}
