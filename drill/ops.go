package drill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/httpjson"
)

// Actions the drill ops API names to a [firebreak.Authorizer]: reads are
// [firebreak.ActionRead], so a [firebreak.Viewer] sees drills but cannot
// start or abort one.
const (
	ActionStart = "drill_start"
	ActionAbort = "drill_abort"
)

// Manager runs the drills of one board over a set of injectors, for the
// ops API and for code that starts drills by name. It keeps the last
// [MaxKept] drills, and runs (or waits to run) at most MaxKept at once.
// It is safe for concurrent use.
type Manager struct {
	board     *firebreak.Board
	injectors []*Injector

	mu     sync.Mutex // guards drills, order, closed
	drills map[string]*Drill
	order  []string
	closed bool
}

// MaxKept is how many drills a Manager remembers.
const MaxKept = 100

// NewManager returns a manager of the drills on b with the given
// injectors; a drill uses those its scope covers.
func NewManager(b *firebreak.Board, injectors ...*Injector) (*Manager, error) {
	if b == nil {
		return nil, errors.New("drill: NewManager: the board is nil")
	}
	if len(injectors) == 0 || slices.Contains(injectors, nil) {
		return nil, errors.New("drill: NewManager: injectors are required, none nil")
	}
	return &Manager{board: b, injectors: slices.Clone(injectors), drills: map[string]*Drill{}}, nil
}

// StartDrill creates and starts a drill of spec run by the person by, with
// the injectors whose component its scope covers. (It is not a lifecycle
// Start: a Manager has no background work of its own.) A drill of the same
// ID still pending or running is an error wrapping [ErrRunning]; a drill
// the board refuses, one wrapping [firebreak.ErrDrillRefused].
func (m *Manager) StartDrill(ctx context.Context, spec Spec, by string, opts ...Option) (*Drill, error) {
	if strings.TrimSpace(by) == "" {
		return nil, errors.New("drill: StartDrill: the person running the drill must be named")
	}
	spec.Owner = by
	var ins []*Injector
	for _, in := range m.injectors {
		c := in.Component()
		if (len(spec.Scope.Components) == 0 || slices.Contains(spec.Scope.Components, c.Name)) &&
			(len(spec.Scope.Dependencies) == 0 || slices.Contains(spec.Scope.Dependencies, c.Dependency)) {
			ins = append(ins, in)
		}
	}
	if len(ins) == 0 {
		return nil, fmt.Errorf("%w: drill %q: no injector covers components %q, dependencies %q", ErrUnknownScope, spec.ID, spec.Scope.Components, spec.Scope.Dependencies)
	}
	d, err := New(m.board, spec, ins, opts...)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, fmt.Errorf("drill: StartDrill: %w", firebreak.ErrClosed)
	}
	if old, ok := m.drills[spec.ID]; ok {
		if st := old.State(); st == StatePending || st == StateRunning {
			m.mu.Unlock()
			return nil, fmt.Errorf("%w: %q (%s)", ErrRunning, spec.ID, st)
		}
	} else if live := m.liveLocked(); live >= MaxKept {
		// Live drills are never forgotten: they must not pile up.
		m.mu.Unlock()
		return nil, fmt.Errorf("drill: StartDrill %q: %w: %d drills are pending or running", spec.ID, firebreak.ErrLimit, live)
	} else {
		m.order = append(m.order, spec.ID)
	}
	m.drills[spec.ID] = d
	var evicted []*Drill
	for i := 0; len(m.order) > MaxKept && i < len(m.order)-1; {
		old := m.drills[m.order[i]]
		if st := old.State(); st == StatePending || st == StateRunning {
			i++ // a drill still running is never forgotten (nor aborted) to make room
			continue
		}
		evicted = append(evicted, old)
		delete(m.drills, m.order[i])
		m.order = slices.Delete(m.order, i, i+1)
	}
	m.mu.Unlock()
	for _, e := range evicted {
		e.Close(ctx)
	}
	if err := d.Start(ctx); err != nil {
		return d, err
	}
	return d, nil
}

// liveLocked counts the drills pending or running; m.mu is held.
func (m *Manager) liveLocked() (n int) {
	for _, d := range m.drills {
		if st := d.State(); st == StatePending || st == StateRunning {
			n++
		}
	}
	return n
}

// Get returns the drill of that ID.
func (m *Manager) Get(id string) (*Drill, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.drills[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return d, nil
}

// List returns the drills' statuses, newest first.
func (m *Manager) List() []Status {
	m.mu.Lock()
	ds := make([]*Drill, 0, len(m.order))
	for _, id := range slices.Backward(m.order) {
		ds = append(ds, m.drills[id])
	}
	m.mu.Unlock()
	out := make([]Status, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Status())
	}
	return out
}

// Close closes every drill (aborting those still running) within ctx.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	ds := make([]*Drill, 0, len(m.drills))
	for _, d := range m.drills {
		ds = append(ds, d)
	}
	m.mu.Unlock()
	var errs []error
	for _, d := range ds {
		errs = append(errs, d.Close(ctx))
	}
	return errors.Join(errs...)
}

// StartRequest is the body of POST / on the ops API.
type StartRequest struct {
	ID           string             `json:"id"`
	Kind         Kind               `json:"kind,omitempty"`
	Hypothesis   string             `json:"hypothesis,omitempty"`
	Scope        Scope              `json:"scope"`
	Dose         []StepRequest      `json:"dose"`
	Start        time.Time          `json:"start,omitzero"`
	End          time.Time          `json:"end,omitzero"`
	Duration     firebreak.Duration `json:"duration,omitempty"` // instead of end: from now
	MaxDuration  firebreak.Duration `json:"max_duration,omitempty"`
	Participants []string           `json:"participants,omitempty"`
	Expect       struct {
		Severity     firebreak.Severity `json:"severity,omitempty"`
		DetectWithin firebreak.Duration `json:"detect_within,omitempty"`
	} `json:"expect"`
	SteadyState struct {
		Burn       float64            `json:"burn,omitempty"`
		ErrorRatio float64            `json:"error_ratio,omitempty"`
		P99        firebreak.Duration `json:"p99,omitempty"`
	} `json:"steady_state"`
}

// StepRequest is one dose step: {"after": "2m", "percent": 5}.
type StepRequest struct {
	After   firebreak.Duration `json:"after"`
	Percent float64            `json:"percent"`
}

func (r *StartRequest) spec(now time.Time) (Spec, error) {
	s := Spec{ID: r.ID, Kind: r.Kind, Hypothesis: r.Hypothesis, Scope: r.Scope, Start: r.Start, End: r.End,
		MaxDuration: time.Duration(r.MaxDuration), Participants: r.Participants,
		Expect:      Expect{Severity: r.Expect.Severity, DetectWithin: time.Duration(r.Expect.DetectWithin)},
		SteadyState: SteadyState{Burn: r.SteadyState.Burn, ErrorRatio: r.SteadyState.ErrorRatio, P99: time.Duration(r.SteadyState.P99)}}
	for _, st := range r.Dose {
		s.Dose = append(s.Dose, Step{After: time.Duration(st.After), Percent: st.Percent})
	}
	switch {
	case !r.End.IsZero() && r.Duration != 0:
		return s, errors.New("drill: give end or duration, not both")
	case r.Duration < 0:
		return s, fmt.Errorf("drill: duration must be positive, got %s", time.Duration(r.Duration))
	case r.Duration > 0:
		s.End = now.Add(time.Duration(r.Duration))
		if !r.Start.IsZero() {
			s.End = r.Start.Add(time.Duration(r.Duration))
		}
	}
	return s, nil
}

// OpsHandler returns the drill operations API for m. Every request must
// pass auth, as on the board's ops API ([firebreak.OpsHandler]); mount it
// beside that, e.g. under /drills/. Routes, relative to where it is
// mounted:
//
//	GET  /                 the drills, newest first
//	POST /                 start: a StartRequest (scope and end or duration required); 201 with the status
//	GET  /{id}             status and timeline
//	POST /{id}/abort       {"reason": "..."}: every injector off now
//	GET  /{id}/report      ?format=json (default) or markdown
//
// Starting is [ActionStart] and aborting [ActionAbort]; reads are
// [firebreak.ActionRead]. Errors are JSON {"error": "..."}: 400 for a bad
// request (no end, a dose over 100%, an unknown scope), 401 without
// credentials, 403 when refused, 404 for an unknown drill, 409 when the
// board refuses the drill (production, a real incident open), it is not
// running, or MaxKept drills are pending or running.
func OpsHandler(m *Manager, auth firebreak.Authorizer) (http.Handler, error) {
	if m == nil {
		return nil, errors.New("drill: OpsHandler: the manager is nil")
	}
	if auth == nil {
		return nil, errors.New("drill: OpsHandler: an Authorizer is required; every request must be authorised")
	}
	mux := http.NewServeMux()
	handle := func(pattern, action string, fn func(w http.ResponseWriter, r *http.Request, who string)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			who, err := auth.Authorize(r, action)
			switch {
			case errors.Is(err, firebreak.ErrUnauthenticated):
				w.Header().Set("WWW-Authenticate", `Bearer realm="firebreak"`)
				writeError(w, http.StatusUnauthorized, "credentials required")
				return
			case err != nil:
				writeError(w, http.StatusForbidden, "not allowed to "+action)
				return
			case strings.TrimSpace(who) == "":
				writeError(w, http.StatusForbidden, "the authoriser named nobody")
				return
			}
			fn(w, r, who)
		})
	}
	handle("GET /{$}", firebreak.ActionRead, func(w http.ResponseWriter, _ *http.Request, _ string) {
		writeJSON(w, http.StatusOK, map[string]any{"drills": m.List()})
	})
	handle("POST /{$}", ActionStart, func(w http.ResponseWriter, r *http.Request, who string) {
		var req StartRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "the body is not a drill: "+err.Error())
			return
		}
		spec, err := req.spec(time.Now())
		if err == nil {
			var d *Drill
			d, err = m.StartDrill(r.Context(), spec, who)
			if err == nil {
				writeJSON(w, http.StatusCreated, d.Status())
				return
			}
		}
		code := http.StatusBadRequest
		if errors.Is(err, firebreak.ErrDrillRefused) || errors.Is(err, ErrRunning) || errors.Is(err, firebreak.ErrLimit) {
			code = http.StatusConflict
		}
		writeError(w, code, err.Error())
	})
	get := func(w http.ResponseWriter, r *http.Request) *Drill {
		d, err := m.Get(r.PathValue("id"))
		if err != nil {
			writeError(w, http.StatusNotFound, "drill not found")
			return nil
		}
		return d
	}
	handle("GET /{id}", firebreak.ActionRead, func(w http.ResponseWriter, r *http.Request, _ string) {
		if d := get(w, r); d != nil {
			writeJSON(w, http.StatusOK, d.Status())
		}
	})
	handle("POST /{id}/abort", ActionAbort, func(w http.ResponseWriter, r *http.Request, who string) {
		d := get(w, r)
		if d == nil {
			return
		}
		var body struct {
			Reason string `json:"reason"`
		}
		if r.ContentLength != 0 {
			if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body); err != nil {
				writeError(w, http.StatusBadRequest, "the body is not {\"reason\": \"...\"}")
				return
			}
		}
		if err := d.Abort(who, body.Reason); err != nil {
			writeError(w, http.StatusConflict, err.Error())
			return
		}
		select {
		case <-d.Done():
		case <-r.Context().Done():
		}
		writeJSON(w, http.StatusOK, d.Status())
	})
	handle("GET /{id}/report", firebreak.ActionRead, func(w http.ResponseWriter, r *http.Request, _ string) {
		d := get(w, r)
		if d == nil {
			return
		}
		rep := d.Report(ReportInput{})
		switch r.URL.Query().Get("format") {
		case "", "json":
			writeJSON(w, http.StatusOK, rep)
		case "markdown":
			w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
			io.WriteString(w, rep.Markdown())
		default:
			writeError(w, http.StatusBadRequest, "format is json or markdown")
		}
	})
	return mux, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) { httpjson.Write(w, code, v) }

func writeError(w http.ResponseWriter, code int, msg string) { httpjson.Error(w, code, msg) }
