package firebreak

import (
	"errors"
	"net/http"
	"strings"
)

// The pages' routes on the operations API (pages_ops.go): incident updates
// for the status page, replies to feedback and "what we changed" notes.

// Actions named to an [Authorizer] by the pages.
const (
	// ActionPublish posts to the public status page: an incident update
	// or a "what we changed" note.
	ActionPublish = "publish"
	// ActionReply answers a user's feedback.
	ActionReply = "reply"
	// ActionSwitch changes a degradation mode or kill switch from the
	// console.
	ActionSwitch = "switch"
)

// WithStatusUpdates adds the status page's routes to the ops API:
//
//	GET  /status/incidents   the public incidents, newest first, with who posted each update
//	POST /status/updates     a [StatusUpdate]; 201 with the public incident
//
// Posting is authorised as [ActionPublish]. Default: the ops API has no
// status page routes.
func WithStatusUpdates(p *StatusPage) OpsOption {
	return opsOptionFunc(func(c *opsConfig) {
		c.routes = append(c.routes, func(mux *http.ServeMux, auth Authorizer) {
			mux.HandleFunc("/status/incidents", opsRoute(auth, http.MethodGet, ActionRead, func(w http.ResponseWriter, r *http.Request, _ string) {
				writeJSON(w, http.StatusOK, map[string]any{"incidents": p.Incidents()})
			}))
			mux.HandleFunc("/status/updates", opsRoute(auth, http.MethodPost, ActionPublish, func(w http.ResponseWriter, r *http.Request, who string) {
				var u StatusUpdate
				if !decode(w, r, &u) {
					return
				}
				inc, err := p.PostUpdate(u, who)
				if err != nil {
					writeActionError(w, err)
					return
				}
				writeJSON(w, http.StatusCreated, inc)
			}))
		})
	})
}

// WithFeedbackReplies adds the feedback channel's routes to the ops API:
//
//	GET  /feedback              the reports kept, newest first, contacts included
//	POST /feedback/{id}/reply   {"text": "...", "public": true}
//	POST /feedback/changes      {"title": "...", "body": "...", "components": [...]}: a "what we changed" note
//
// Replies are authorised as [ActionReply], notes as [ActionPublish].
// Default: the ops API has no feedback routes.
func WithFeedbackReplies(f *Feedback) OpsOption {
	return opsOptionFunc(func(c *opsConfig) {
		c.routes = append(c.routes, func(mux *http.ServeMux, auth Authorizer) {
			mux.HandleFunc("/feedback", opsRoute(auth, http.MethodGet, ActionRead, func(w http.ResponseWriter, r *http.Request, _ string) {
				writeJSON(w, http.StatusOK, map[string]any{"feedback": f.Reports()})
			}))
			mux.HandleFunc("/feedback/{id}/reply", opsRoute(auth, http.MethodPost, ActionReply, func(w http.ResponseWriter, r *http.Request, who string) {
				var body struct {
					Text   string `json:"text"`
					Public bool   `json:"public"`
				}
				if !decode(w, r, &body) {
					return
				}
				if err := f.Reply(r.PathValue("id"), who, body.Text, body.Public); err != nil {
					if errors.Is(err, ErrNotFound) {
						writeError(w, http.StatusNotFound, "feedback not found")
						return
					}
					writeActionError(w, err)
					return
				}
				writeJSON(w, http.StatusOK, map[string]string{"status": "replied"})
			}))
			mux.HandleFunc("/feedback/changes", opsRoute(auth, http.MethodPost, ActionPublish, func(w http.ResponseWriter, r *http.Request, who string) {
				var n ChangeNote
				if !decode(w, r, &n) {
					return
				}
				if !n.At.IsZero() || n.By != "" {
					writeError(w, http.StatusBadRequest, "at and by are set by the server")
					return
				}
				if err := f.PublishChange(n, who); err != nil {
					writeActionError(w, err)
					return
				}
				writeJSON(w, http.StatusCreated, map[string]string{"status": "published"})
			}))
		})
	})
}

// opsRoute answers a route of the ops API: the method, then authorisation.
func opsRoute(auth Authorizer, method, action string, fn func(w http.ResponseWriter, r *http.Request, who string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, "use "+method)
			return
		}
		who, ok := Authorize(w, r, auth, action)
		if !ok {
			return
		}
		fn(w, r, who)
	}
}

// trimErr is an error's text without the package prefix, for people.
func trimErr(err error) string {
	return strings.ReplaceAll(err.Error(), "firebreak: ", "")
}
