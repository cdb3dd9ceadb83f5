package firebreak

// Silences, and the muting they share with maintenance windows
// (maintenance.go) and inhibition rules (inhibit.go).
//
// A muted alert is recorded on its incident, holds it open while it fires,
// and pages nobody: it does not raise the incident's severity, announce it,
// remind, breach or escalate it, and its own changes are not notified. The
// engine counts the firing graded alerts that are muted (firingMuted); an
// incident all of whose firing graded alerts are muted is muted() and its
// timers do nothing. When an alert stops being muted (its silence expires,
// its window ends, its inhibiting source clears) it is graded again as if it
// had just fired, so a still-firing fault pages as usual.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ActionSilence is the [Authorizer] action for creating and expiring
// silences and scheduling maintenance on the operations API.
const ActionSilence = "silence"

// MaxSilenceDuration bounds a silence: from its start to its end at most 7
// days. A longer quiet belongs in the plan (a maintenance window, or a rule
// that grades the signal None).
const MaxSilenceDuration = 7 * 24 * time.Hour

// maxSilences bounds the silences a board keeps: active and pending ones
// count against it, expired ones are kept for the audit list up to the same
// number, oldest dropped first.
const maxSilences = 1000

// ErrSilenceNotFound: no silence has that ID, or it has expired already.
var ErrSilenceNotFound = errors.New("firebreak: silence not found")

// Silence mutes the alerts its matchers select between StartsAt and EndsAt,
// as Alertmanager's silences do. Matchers are tested against
// [AlertRef.MatchLabels] plus "fault_domain" (the incident's group). A
// silenced alert is recorded on its incident with a timeline note ("silenced
// by S-1 (comment)") but pages nobody; see the package documentation,
// "Silences, maintenance and inhibition".
type Silence struct {
	// ID is set by [Board.Silence]: "S-1", "S-2", …
	ID string `json:"id"`
	// Matchers select the alerts; all must match. At least one must not
	// match an empty label, so that a silence cannot mute everything.
	Matchers Matchers `json:"matchers"`
	// StartsAt is when the silence begins. Default: now.
	StartsAt time.Time `json:"starts_at,omitzero"`
	// EndsAt is when it expires by itself: after StartsAt, at most
	// [MaxSilenceDuration] later, and not in the past. Required.
	EndsAt time.Time `json:"ends_at"`
	// CreatedBy names who made it. Required.
	CreatedBy string `json:"created_by"`
	// Comment says why, e.g. a change ticket.
	Comment string `json:"comment,omitempty"`

	// Set by the Board.
	CreatedAt time.Time `json:"created_at,omitzero"`
	ExpiredBy string    `json:"expired_by,omitempty"` // who expired it before its end
	ExpiredAt time.Time `json:"expired_at,omitzero"`  // when it expired, early or at EndsAt
}

// State returns "pending", "active" or "expired" at now.
func (s *Silence) State(now time.Time) string {
	switch {
	case !s.ExpiredAt.IsZero() && !now.Before(s.ExpiredAt), !now.Before(s.EndsAt):
		return "expired"
	case now.Before(s.StartsAt):
		return "pending"
	}
	return "active"
}

func (s *Silence) active(now time.Time) bool { return s.State(now) == "active" }

// check validates s as it is to be created at now, filling in StartsAt.
func (s *Silence) check(now time.Time) error {
	var errs []string
	if strings.TrimSpace(s.CreatedBy) == "" {
		errs = append(errs, "created_by: required: who makes the silence")
	}
	if len(s.CreatedBy) > MaxTextLen || len(s.Comment) > MaxTextLen {
		errs = append(errs, fmt.Sprintf("created_by, comment: at most %d bytes", MaxTextLen))
	}
	if probs := checkMatchers(s.Matchers, "matchers", true); len(probs) > 0 {
		for _, p := range probs {
			errs = append(errs, p.Path+": "+p.Message)
		}
	}
	if s.StartsAt.IsZero() {
		s.StartsAt = now
	}
	switch {
	case s.EndsAt.IsZero():
		errs = append(errs, "ends_at: required: a silence must end")
	case !s.EndsAt.After(s.StartsAt):
		errs = append(errs, fmt.Sprintf("ends_at: %s is not after starts_at %s", s.EndsAt.UTC().Format(time.RFC3339), s.StartsAt.UTC().Format(time.RFC3339)))
	case !s.EndsAt.After(now):
		errs = append(errs, "ends_at: in the past")
	case s.EndsAt.Sub(s.StartsAt) > MaxSilenceDuration:
		errs = append(errs, fmt.Sprintf("ends_at: the silence lasts %s, longer than %s (MaxSilenceDuration)", s.EndsAt.Sub(s.StartsAt), MaxSilenceDuration))
	}
	if len(errs) > 0 {
		return fmt.Errorf("firebreak: Silence: %s", strings.Join(errs, "; "))
	}
	return nil
}

// checkMatchers reports problems of a matcher list at path. A list must not
// be empty; with selective, one matcher at least must not match the empty
// string, so that the list cannot select every alert.
func checkMatchers(ms Matchers, path string, selective bool) []Problem {
	var probs []Problem
	if len(ms) == 0 {
		return []Problem{{Path: path, Message: "at least one matcher is required"}}
	}
	narrow := false
	for i, m := range ms {
		p := fmt.Sprintf("%s[%d]", path, i)
		if !validLabelName(m.Name) {
			probs = append(probs, Problem{Path: p + ".name", Message: fmt.Sprintf("%q is not a label name", m.Name)})
			continue
		}
		if (m.Type == MatchRegexp || m.Type == MatchNotRegexp) && m.re == nil {
			probs = append(probs, Problem{Path: p, Message: "a regular-expression matcher must be built with NewMatcher or ParseMatcher"})
			continue
		}
		if m.Type > MatchNotRegexp {
			probs = append(probs, Problem{Path: p + ".op", Message: "unknown op"})
			continue
		}
		if !m.Matches(map[string]string{}) {
			narrow = true
		}
	}
	if selective && len(probs) == 0 && !narrow {
		probs = append(probs, Problem{Path: path, Message: "every matcher matches an alert without the label: the silence would mute everything"})
	}
	return probs
}

// muting is the engine's state for silences, maintenance windows and
// inhibition. It lives inside the engine and is guarded by the Board's lock.
type muting struct {
	seq      int
	silences []*Silence // pending and active, in order of creation
	expired  []Silence  // the audit list, oldest first, at most maxSilences
	windows  []*window  // the plan's and those scheduled at run time
	rules    []inhibitRule
	nextAt   time.Time // the next start or end of a silence or window; zero for none
	stale    bool      // an inhibiting source was released: decide again on the next step
}

// initMute compiles the plan's inhibition rules and maintenance windows.
func (e *engine) initMute() {
	for i := range e.plan.Inhibit {
		e.mute.rules = append(e.mute.rules, inhibitRule{InhibitRule: e.plan.Inhibit[i]})
	}
	for i := range e.plan.Maintenance {
		w := e.plan.Maintenance[i].clone()
		w.CreatedBy = "plan"
		e.mute.windows = append(e.mute.windows, newWindow(w))
	}
	if len(e.mute.windows) > 0 {
		// The engine has no clock: its first step finds the windows' times.
		e.mute.nextAt = time.Unix(1, 0)
	}
}

// matchLabels returns what matchers test on a: its match labels plus
// fault_domain, and its identity for an alert kept only in an aggregate.
func (e *engine) matchLabels(a *alert) map[string]string {
	m := a.ref.MatchLabels()
	if a.ref.Labels == nil {
		m["alertname"] = a.ref.Kind.AlertName()
		m["service"] = e.service
		if e.env != "" {
			m["env"] = e.env
		}
		if a.ref.Component != "" {
			m["component"] = a.ref.Component
		}
		if a.ref.Dependency != "" {
			m["dependency"] = a.ref.Dependency
		}
	}
	if a.inc != nil {
		m["fault_domain"] = a.inc.FaultDomain
	}
	return m
}

// muteFor decides whether alert a, firing and joined, is muted now, and
// why: the first matching silence, else an active maintenance window on its
// component, else an inhibiting source in another incident. An inhibiting
// source in a's own incident makes a a symptom instead: it is not muted (its
// grade counts toward the incident's severity) but its own change is not
// notified.
func (e *engine) muteFor(a *alert, now time.Time) (muted, symptom string) {
	if len(e.mute.silences) == 0 && len(e.mute.windows) == 0 && len(e.mute.rules) == 0 {
		return "", ""
	}
	labels := e.matchLabels(a)
	for _, s := range e.mute.silences {
		if s.active(now) && s.Matchers.Matches(labels) {
			return "silenced by " + s.ID + " (" + cmpOr(s.Comment, "by "+s.CreatedBy) + ")", ""
		}
	}
	for _, w := range e.mute.windows {
		if w.activeAt(now) && slices.Contains(w.Components, a.ref.Component) {
			return "under maintenance " + strconv.Quote(w.Name) + " (" + cmpOr(w.Reason, "planned") + ")", ""
		}
	}
	if src := e.inhibitor(a, labels); src != nil {
		why := "inhibited by " + string(src.ref.Kind) + " for " + alertWho(&src.ref)
		if src.inc == a.inc {
			return "", why
		}
		return why + " (" + src.inc.ID + ")", ""
	}
	return "", ""
}

// setMute is the one place an alert's muting changes while it may be
// counted as firing.
func (inc *incident) setMute(a *alert, muted, symptom string) {
	inc.count(a, -1)
	a.muted, a.symptom = muted, symptom
	inc.count(a, +1)
}

// muted reports whether every firing graded alert of inc is muted.
func (inc *incident) muted() bool {
	return inc.firingMuted > 0 && inc.firingMuted >= inc.firingGraded
}

// quiet reports whether a's own changes are not to be notified.
func (a *alert) quiet() bool { return a.muted != "" || a.symptom != "" }

// muteNote records why a firing alert that just joined or fired again is
// muted or a symptom.
func (e *engine) muteNote(inc *incident, a *alert, now time.Time) {
	switch {
	case a.muted != "":
		e.line(inc, now, EventSignal, systemActor, fmt.Sprintf("%s for %s %s: recorded, pages nobody", a.ref.Kind, alertWho(&a.ref), a.muted), true)
	case a.symptom != "":
		e.line(inc, now, EventSignal, systemActor, fmt.Sprintf("%s for %s %s: a symptom, not paged on its own", a.ref.Kind, alertWho(&a.ref), a.symptom), false)
	}
}

// remute decides again for every firing tracked alert whether it is muted,
// after a silence, window or inhibiting source changed.
func (e *engine) remute(now time.Time) {
	for _, a := range e.alerts {
		if !a.ref.Firing || a.inc == nil || !a.inc.State.Open() && a.muted == "" {
			continue
		}
		muted, symptom := e.muteFor(a, now)
		if muted == a.muted && symptom == a.symptom {
			continue
		}
		inc := a.inc
		inc.dirty = true
		was, wasSymptom := a.muted, a.symptom
		inc.setMute(a, muted, symptom)
		switch {
		case muted == "" && was == "" && symptom != "" && wasSymptom == "":
			e.muteNote(inc, a, now)
		case muted != "" && was == "":
			e.line(inc, now, EventSignal, systemActor, fmt.Sprintf("%s for %s %s: pages nobody from now", a.ref.Kind, alertWho(&a.ref), muted), true)
		case muted == "" && was != "":
			e.unmuted(inc, a, was, now)
		}
		e.schedule(inc)
	}
}

// unmuted grades a again as if it had just fired: it may reopen, raise,
// announce or notify its incident as usual.
func (e *engine) unmuted(inc *incident, a *alert, was string, now time.Time) {
	e.line(inc, now, EventSignal, systemActor, fmt.Sprintf("%s for %s no longer %s: pages as usual", a.ref.Kind, alertWho(&a.ref), was), true)
	if inc.State == Resolved {
		if a.ref.Severity == None {
			return
		}
		e.reopen(inc, now)
	}
	e.regrade(inc, a, false, true, inc.CoreAffected, now)
	e.hold(inc, now)
	if !inc.notified() && inc.waitOver && inc.State.Open() && inc.Severity > None && inc.held() && !inc.muted() {
		e.announce(inc, now)
		return
	}
	if inc.notified() && inc.holds(a) && a.agg == nil && a.symptom == "" {
		e.emitChange(inc, now, a, nil, true)
	}
}

// muteTick runs when a silence or window starts or ends.
func (e *engine) muteTick(now time.Time) {
	m := &e.mute
	var ended []*Silence
	m.silences = slices.DeleteFunc(m.silences, func(s *Silence) bool {
		if !now.Before(s.EndsAt) {
			ended = append(ended, s)
			return true
		}
		return false
	})
	for _, s := range ended {
		s.ExpiredAt = s.EndsAt
		e.auditExpired(*s)
	}
	e.mute.stale = false
	e.remute(now)
	e.nextMute(now)
}

func (e *engine) auditExpired(s Silence) {
	m := &e.mute
	m.expired = append(m.expired, s)
	if len(m.expired) > maxSilences {
		m.expired = slices.Delete(m.expired, 0, len(m.expired)-maxSilences)
	}
}

// nextMute sets when muteTick must next run.
func (e *engine) nextMute(now time.Time) {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, s := range e.mute.silences {
		consider(s.StartsAt)
		consider(s.EndsAt)
	}
	for _, w := range e.mute.windows {
		start, end := w.around(now)
		consider(start)
		consider(end)
	}
	e.mute.nextAt = next
}

// addSilence adds a checked silence and mutes what it selects.
func (e *engine) addSilence(s Silence, now time.Time) (string, error) {
	m := &e.mute
	if len(m.silences) >= maxSilences {
		return "", fmt.Errorf("firebreak: Silence: the board holds %d silences (the limit); expire some first", maxSilences)
	}
	m.seq++
	s.ID = "S-" + strconv.Itoa(m.seq)
	s.CreatedAt = now
	s.Matchers = slices.Clone(s.Matchers)
	m.silences = append(m.silences, &s)
	e.auditAffected(now, fmt.Sprintf("silence %s created by %s until %s: %s (%s)", s.ID, s.CreatedBy,
		s.EndsAt.UTC().Format(time.RFC3339), s.Matchers.String(), cmpOr(s.Comment, "no comment")), s.Matchers.Matches)
	e.remute(now)
	e.nextMute(now)
	return s.ID, nil
}

// expireSilence ends a silence early.
func (e *engine) expireSilence(id, by string, now time.Time) error {
	m := &e.mute
	i := slices.IndexFunc(m.silences, func(s *Silence) bool { return s.ID == id })
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrSilenceNotFound, id)
	}
	s := m.silences[i]
	m.silences = slices.Delete(m.silences, i, i+1)
	s.ExpiredBy, s.ExpiredAt = by, now
	e.auditExpired(*s)
	e.auditAffected(now, fmt.Sprintf("silence %s expired by %s", s.ID, by), s.Matchers.Matches)
	e.remute(now)
	e.nextMute(now)
	return nil
}

// auditAffected writes note into the timeline of every open incident with
// a firing alert that match selects.
func (e *engine) auditAffected(now time.Time, note string, match func(map[string]string) bool) {
	seen := map[*incident]bool{}
	for _, a := range e.alerts {
		inc := a.inc
		if inc == nil || seen[inc] || !a.ref.Firing || !inc.State.Open() || !match(e.matchLabels(a)) {
			continue
		}
		seen[inc] = true
		inc.dirty = true
		e.line(inc, now, EventSignal, systemActor, note, true)
	}
}

// silenceList returns the pending and active silences, then the expired
// ones, newest first.
func (e *engine) silenceList() []Silence {
	out := make([]Silence, 0, len(e.mute.silences)+len(e.mute.expired))
	for i := len(e.mute.silences) - 1; i >= 0; i-- {
		s := *e.mute.silences[i]
		s.Matchers = slices.Clone(s.Matchers)
		out = append(out, s)
	}
	for i := len(e.mute.expired) - 1; i >= 0; i-- {
		s := e.mute.expired[i]
		s.Matchers = slices.Clone(s.Matchers)
		out = append(out, s)
	}
	return out
}

// String writes the matchers as Alertmanager does: {a="b", c=~"d"}.
func (ms Matchers) String() string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// Silence mutes the alerts s selects from s.StartsAt (default now) to
// s.EndsAt and returns its ID. Alerts firing now that it selects stop paging
// at once; each affected open incident records the silence in its
// timeline. The silence expires by itself at EndsAt; a still-firing alert
// then pages as usual. Bad input is an error naming the field.
func (b *Board) Silence(s Silence) (id string, err error) {
	now := time.Now()
	if err := s.check(now); err != nil {
		return "", err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return "", ErrClosed
	}
	id, err = b.eng.addSilence(s, now)
	notes := b.eng.flush()
	b.mu.Unlock()
	b.dispatch(notes)
	b.kickLoop()
	return id, err
}

// Silences returns the board's silences — pending and active first, then
// the expired ones (the audit list, with who expired them and when), newest
// first within each.
func (b *Board) Silences() []Silence {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.eng.silenceList()
}

// ExpireSilence ends silence id now, by the named person. What it muted and
// still fires pages as usual. It returns an error wrapping
// [ErrSilenceNotFound] for an unknown or already expired silence.
func (b *Board) ExpireSilence(id, by string) error {
	if err := requireActor(by); err != nil {
		return err
	}
	now := time.Now()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	err := b.eng.expireSilence(id, by, now)
	notes := b.eng.flush()
	b.mu.Unlock()
	b.dispatch(notes)
	b.kickLoop()
	return err
}

// silenceRoutes adds the silence and maintenance endpoints to the ops API:
//
//	GET    /silences                 {"silences": [...]}: pending, active, expired (the audit list)
//	POST   /silences                 {"matchers": [...], "starts_at", "ends_at", "comment"} → 201 {"id": "S-1"}
//	DELETE /silences/{id}            expire it now → 200
//	GET    /maintenance              {"maintenance": [...]}
//	POST   /maintenance              a MaintenanceWindow → 201
//	DELETE /maintenance/{name}       cancel it → 200
//
// Changes are authorised as [ActionSilence]; the creator is the principal.
// Matchers are JSON objects {"name", "op", "value"} or one string in
// Alertmanager's form: "matchers": "{component=\"payments\"}".
func (api *opsAPI) silenceRoutes(mux *http.ServeMux) {
	list := api.only(http.MethodGet, ActionRead, func(w http.ResponseWriter, _ *http.Request, _ string) {
		writeJSON(w, http.StatusOK, map[string][]Silence{"silences": api.b.Silences()})
	})
	create := api.only(http.MethodPost, ActionSilence, api.createSilence)
	mux.HandleFunc("/silences", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			create(w, r)
			return
		}
		list(w, r)
	})
	mux.HandleFunc("/silences/{id}", api.only(http.MethodDelete, ActionSilence, func(w http.ResponseWriter, r *http.Request, who string) {
		if err := api.b.ExpireSilence(r.PathValue("id"), who); err != nil {
			writeMuteError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id"), "state": "expired"})
	}))
	mlist := api.only(http.MethodGet, ActionRead, func(w http.ResponseWriter, _ *http.Request, _ string) {
		writeJSON(w, http.StatusOK, map[string][]MaintenanceWindow{"maintenance": api.b.Maintenance()})
	})
	mcreate := api.only(http.MethodPost, ActionSilence, func(w http.ResponseWriter, r *http.Request, who string) {
		var mw MaintenanceWindow
		if !decode(w, r, &mw) {
			return
		}
		if err := api.b.ScheduleMaintenance(mw, who); err != nil {
			writeMuteError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"name": mw.Name})
	})
	mux.HandleFunc("/maintenance", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			mcreate(w, r)
			return
		}
		mlist(w, r)
	})
	mux.HandleFunc("/maintenance/{name}", api.only(http.MethodDelete, ActionSilence, func(w http.ResponseWriter, r *http.Request, who string) {
		if err := api.b.CancelMaintenance(r.PathValue("name"), who); err != nil {
			writeMuteError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"name": r.PathValue("name"), "state": "cancelled"})
	}))
}

func (api *opsAPI) createSilence(w http.ResponseWriter, r *http.Request, who string) {
	var in struct {
		Matchers json.RawMessage `json:"matchers"`
		StartsAt time.Time       `json:"starts_at"`
		EndsAt   time.Time       `json:"ends_at"`
		Comment  string          `json:"comment"`
	}
	if !decode(w, r, &in) {
		return
	}
	var ms Matchers
	var text string
	switch {
	case len(in.Matchers) == 0 || string(in.Matchers) == "null":
	case json.Unmarshal(in.Matchers, &text) == nil:
		m, err := ParseMatchers(text)
		if err != nil {
			writeError(w, http.StatusBadRequest, "matchers: "+strings.TrimPrefix(err.Error(), "firebreak: "))
			return
		}
		ms = m
	default:
		if err := json.Unmarshal(in.Matchers, &ms); err != nil {
			writeError(w, http.StatusBadRequest, "matchers: "+jsonMessage(err))
			return
		}
	}
	id, err := api.b.Silence(Silence{Matchers: ms, StartsAt: in.StartsAt, EndsAt: in.EndsAt, CreatedBy: who, Comment: in.Comment})
	if err != nil {
		writeMuteError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
}

func writeMuteError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrSilenceNotFound), errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, strings.TrimPrefix(err.Error(), "firebreak: "))
	case errors.Is(err, ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "board closed")
	default:
		writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "firebreak: "))
	}
}
