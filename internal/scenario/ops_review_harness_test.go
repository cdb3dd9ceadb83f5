package scenario

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/health"
)

// The operations review's helpers: a world with a plan and options of its
// own, a health probe on a dependency, and readings per fault domain.

// newOpsWorld is newWorld with plan and extra board options (named
// notifiers, declared components, an archive). The world's recorder is an
// unnamed notifier: it hears everything, routes or not.
func newOpsWorld(t *testing.T, plan *firebreak.Plan, opts ...firebreak.BoardOption) *world {
	t.Helper()
	rec := &recorder{}
	all := append([]firebreak.BoardOption{firebreak.WithEnv("prod"), firebreak.WithPlan(plan), firebreak.WithNotifier(rec)}, opts...)
	b, err := firebreak.NewBoard("shop", all...)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(context.Background()); err != nil {
			t.Errorf("Board.Close: %v", err)
		}
	})
	return &world{t: t, start: time.Now(), board: b, rec: rec}
}

// mustPlan parses a plan or fails the test.
func mustPlan(t *testing.T, js string) *firebreak.Plan {
	t.Helper()
	p, err := firebreak.ParsePlan([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// probe registers a health check of component comp on dependency name,
// failing while d fails every call, every 10 s (the default interval).
func probe(w *world, comp, name string, d *dep) {
	t := w.t
	t.Helper()
	reg, err := health.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Bind(firebreak.Component{Name: comp, Tier: firebreak.Core, Reporter: w.board}); err != nil {
		t.Fatal(err)
	}
	err = reg.Register(name, health.CheckFunc(func(context.Context) error {
		d.mu.Lock()
		down := d.errRate >= 1
		d.mu.Unlock()
		if down {
			return errDep
		}
		return nil
	}), health.ForComponent(firebreak.Component{Name: comp, Dependency: name, Tier: firebreak.Core, Reporter: w.board}))
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close(context.Background()) })
}

// inDomain keeps the notifications of incidents in fault domain fd.
func inDomain(ns []firebreak.Notification, fd string) []firebreak.Notification {
	var out []firebreak.Notification
	for _, n := range ns {
		if n.Incident.FaultDomain == fd {
			out = append(out, n)
		}
	}
	return out
}

// between keeps the notifications sent in [from, to).
func between(ns []firebreak.Notification, from, to time.Time) []firebreak.Notification {
	var out []firebreak.Notification
	for _, n := range ns {
		if !n.At.Before(from) && n.At.Before(to) {
			out = append(out, n)
		}
	}
	return out
}

// list describes notifications for failure messages, times relative to w's
// start.
func (w *world) list(ns []firebreak.Notification) string {
	var b strings.Builder
	for _, n := range ns {
		b.WriteString("\n\t" + w.since(n.At).String() + " " + string(n.Event) + " " + n.Incident.ID + " " +
			n.Incident.FaultDomain + " " + n.Incident.Severity.String())
		if n.EscalationTarget != "" {
			b.WriteString(" → " + n.EscalationTarget)
		}
	}
	if b.Len() == 0 {
		return " (none)"
	}
	return b.String()
}

// incidentIn returns the newest incident of fault domain fd.
func (w *world) incidentIn(fd string) (firebreak.Incident, bool) {
	var found firebreak.Incident
	ok := false
	for _, inc := range w.board.List(firebreak.Filter{}) {
		if inc.FaultDomain == fd && (!ok || inc.DetectedAt.After(found.DetectedAt)) {
			found, ok = inc, true
		}
	}
	return found, ok
}

// timelineHas reports whether inc's timeline has an entry whose note
// contains s.
func timelineHas(inc firebreak.Incident, s string) bool {
	for _, e := range inc.Timeline {
		if strings.Contains(e.Note, s) {
			return true
		}
	}
	return false
}

// opsCall serves one request of the operations API with token "tok-alice-0123456789"
// (principal alice) and returns the recorder.
func opsCall(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer tok-alice-0123456789")
	r.Header.Set("Content-Type", "application/json")
	rw := httptest.NewRecorder()
	h.ServeHTTP(rw, r)
	return rw
}

func opsHandler(t *testing.T, b *firebreak.Board) http.Handler {
	t.Helper()
	auth, err := firebreak.BearerTokens(map[string]string{"tok-alice-0123456789": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := firebreak.OpsHandler(b, auth)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// statusOf returns the public status word of component name.
func statusOf(st firebreak.PublicStatus, name string) string {
	for _, c := range st.Components {
		if c.Name == name {
			return c.Status
		}
	}
	return "(absent)"
}

// receiver is a named notifier that keeps every notification and when it
// was delivered (a batched update carries the time of its latest change, not
// of its delivery).
type receiver struct {
	mu    sync.Mutex
	notes []firebreak.Notification
	at    []time.Time
}

func (r *receiver) Notify(_ context.Context, n firebreak.Notification) error {
	r.mu.Lock()
	r.notes = append(r.notes, n)
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
	return nil
}

func (r *receiver) all() ([]firebreak.Notification, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.notes), slices.Clone(r.at)
}
