package firebreak

// The Board's side of drills: which signals belong to a running drill, the
// guard that trips when a real fault arrives meanwhile, and the routing that
// keeps a drill's notifications among its participants. The drill package
// (fault injection, reports, tabletop replays, the calendar) drives it
// through [Board.BeginDrill] and [Board.EndDrill].
//
// A drill's signals carry its ID in [Signal.Drill]. The ID is part of the
// alert's identity and of its incident's group key, so a drill never shares
// an alert or an incident with a real fault on the same dependency. Drill
// incidents are graded and timed by the plan exactly like real ones (that
// is what a drill measures); [Board.List] leaves them out unless
// [Filter.Drill] asks for them, so the public status never shows them; so
// do GET /incidents and GET /archive unless ?drill= asks, and
// [BoardStats].Open (they are in OpenDrills). Their reports carry
// [Report].Drill and a "Drill: <id>" line. A drill's alert never inhibits
// a real one, nor a real one a drill's.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LabelDrill is the label that carries a drill's ID on a drill's alerts
// (and the route label of a drill incident, [RouteLabelDrill]). The Board
// sets it; a signal's own label of that name is ignored.
const LabelDrill = "drill"

// AnyDrill, as [Filter.Drill], lists the incidents of every drill.
const AnyDrill = "*"

// Kinds of the signals drills raise.
const (
	// KindDrillAborted: a drill's guard stopped it early (a real incident, a
	// real SLO burn, its maximum duration, or a person). It carries the
	// drill's ID and joins the drill's incident; Summary says why.
	KindDrillAborted Kind = "drill_aborted"
	// KindDrillOverdue: a drill or inspection the plan's calendar asks for
	// was not run in time (firing), or has run since (cleared). Label
	// "calendar" names the calendar entry. It is a real signal: the plan
	// grades it like any other kind (the default plan: none, recorded).
	KindDrillOverdue Kind = "drill_overdue"
)

// ErrDrillRefused matches the error of [Board.BeginDrill] when the board
// may not run the drill: a production environment whose plan does not
// allow drills, a real incident open, or a drill of that ID already running.
var ErrDrillRefused = errors.New("firebreak: drill refused")

// DefaultDrillRecovery is how long after a drill ends the signals it left
// behind (a breaker closing again, a burn clearing) still count as the
// drill's, when [DrillSpec].Recovery is zero.
const DefaultDrillRecovery = 30 * time.Minute

// DefaultDrillAbortBurn is the burn rate of a real SLO that trips a drill's
// guard when [DrillSpec].AbortBurn is zero: the workbook's fast paging tier.
const DefaultDrillAbortBurn = 14.4

// DrillPlan is the plan's chapter on drills.
type DrillPlan struct {
	// AllowProduction lets a board whose env is one of ProductionEnvs run
	// live drills. Default: false, a production board refuses them.
	AllowProduction bool `json:"allow_production,omitempty"`
	// ProductionEnvs are the env names ([WithEnv]) that count as
	// production, compared without case. Default: "prod" and "production".
	ProductionEnvs []string `json:"production_envs,omitempty"`
	// Calendar lists the drills and inspections the plan asks for and how
	// often; the drill package's calendar raises [KindDrillOverdue] when
	// one is missed. Default: none.
	Calendar []DrillCadence `json:"calendar,omitempty"`
}

// DrillCadence is one line of the plan's drill calendar.
type DrillCadence struct {
	// Name identifies the entry, e.g. "monthly tabletop". Required, unique.
	Name string `json:"name"`
	// Kind is what is run: "tabletop", "live", "full_system", "restore" or
	// "inspection". Required.
	Kind string `json:"kind"`
	// Every is the cadence: 24h for a daily inspection, 720h for monthly.
	// Required, at least a minute.
	Every Duration `json:"every"`
	// Grace is how long past due the entry may be before it is overdue.
	// Default: 0.
	Grace Duration `json:"grace,omitempty"`
}

// DrillKinds are the kinds a [DrillCadence] may name.
var DrillKinds = []string{"tabletop", "live", "full_system", "restore", "inspection"}

func (p DrillPlan) clone() DrillPlan {
	p.ProductionEnvs = slices.Clone(p.ProductionEnvs)
	p.Calendar = slices.Clone(p.Calendar)
	return p
}

func (p *DrillPlan) validate(add func(path, format string, args ...any)) {
	for i, env := range p.ProductionEnvs {
		if strings.TrimSpace(env) == "" {
			add(fmt.Sprintf("drills.production_envs[%d]", i), "an env name is required")
		}
	}
	seen := map[string]bool{}
	for i, c := range p.Calendar {
		path := fmt.Sprintf("drills.calendar[%d]", i)
		switch {
		case strings.TrimSpace(c.Name) == "":
			add(path+".name", "required")
		case seen[c.Name]:
			add(path+".name", "%q is given twice", c.Name)
		}
		seen[c.Name] = true
		if !slices.Contains(DrillKinds, c.Kind) {
			add(path+".kind", "%q is not one of %q", c.Kind, DrillKinds)
		}
		if time.Duration(c.Every) < time.Minute {
			add(path+".every", "must be at least 1m, got %s", time.Duration(c.Every))
		}
		if c.Grace < 0 {
			add(path+".grace", "must not be negative, got %s", time.Duration(c.Grace))
		}
	}
}

// Production reports whether env counts as production under p.
func (p *DrillPlan) Production(env string) bool {
	envs := p.ProductionEnvs
	if len(envs) == 0 {
		envs = []string{"prod", "production"}
	}
	return slices.ContainsFunc(envs, func(e string) bool { return strings.EqualFold(strings.TrimSpace(e), env) })
}

// DrillSpec tells a Board about a live drill: which signals are the
// drill's, who hears of its incidents, when it ends and what stops it.
type DrillSpec struct {
	// ID names the drill; it is stamped on its signals. Required: letters,
	// digits, '-', '_' and '.', at most 64.
	ID string
	// Components and Dependencies are the drill's scope on the board: a
	// signal is the drill's when its component is one of Components (or
	// Components is empty) and its dependency one of Dependencies (or
	// Dependencies is empty). At least one of them is required.
	Components, Dependencies []string
	// Participants are the receivers (see [WithNotifierNamed]) that hear
	// of the drill's incidents; nobody else does, not even the notifiers
	// added with [WithNotifier]. Without participants the drill's
	// notifications take the usual routes, titled "[DRILL] …" and with
	// route label "drill" set, so a route can match them.
	Participants []string
	// End is when the drill stops at the latest. Required, after now.
	End time.Time
	// Recovery is how long after the drill stops the signals it left
	// behind — an alert of the drill's still tracked by the board firing
	// again or clearing — are the drill's; a new fault in the scope is
	// real. Default: [DefaultDrillRecovery].
	Recovery time.Duration
	// AbortBurn is the burn rate of a real (non-drill) SLO signal that
	// trips the guard, even when the plan grades the signal none.
	// Default: [DefaultDrillAbortBurn].
	AbortBurn float64
	// OnAbort is called once when the guard trips: a real signal graded
	// above none, or a real burn at AbortBurn or more, arrived while the
	// drill ran, or a real incident was announced. A real signal muted by a
	// silence or a maintenance window pages nobody and does not trip it
	// (its announcement does, if it still fires when the muting ends). It
	// is called on the reporting goroutine with no lock held, so it must
	// not block (turn the injectors off, hand the rest to a goroutine); a
	// panic in it is recovered and logged. Optional.
	OnAbort func(reason string)
}

// boardDrill is a drill the board knows of. Its fields are fixed once it is
// published, except the atomics.
type boardDrill struct {
	id         string
	components []string
	deps       []string
	end        time.Time
	recovery   time.Duration
	abortBurn  float64
	onAbort    func(string)
	stoppedNs  atomic.Int64 // unix nanoseconds when it stopped early; 0 while not
	tripped    atomic.Bool
}

func (d *boardDrill) covers(s *Signal) bool {
	return (len(d.components) == 0 || slices.Contains(d.components, s.Component)) &&
		(len(d.deps) == 0 || slices.Contains(d.deps, s.Dependency))
}

// stopped returns when the drill stopped: early, or at its end.
func (d *boardDrill) stopped() time.Time {
	if ns := d.stoppedNs.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return d.end
}

func (d *boardDrill) running(now time.Time) bool { return now.Before(d.stopped()) }

func (d *boardDrill) forgotten(now time.Time) bool { return !now.Before(d.stopped().Add(d.recovery)) }

// drillBook is the board's record of drills.
type drillBook struct {
	mu        sync.Mutex                    // serialises changes to list; guards parts
	list      atomic.Pointer[[]*boardDrill] // running and recovering drills; nil when none
	seen      atomic.Bool                   // a drill has run: dispatch looks for drill incidents
	receivers map[string]int                // receiver name → queue index; fixed by NewBoard
	parts     map[string][]int              // drill ID → its participants' queues
	order     []string                      // drill IDs in parts, oldest first
}

// maxDrillRouting bounds how many drills' participants the board keeps, so
// a drill's late notifications (its incident resolving after the drill)
// still reach only its participants.
const maxDrillRouting = 256

// BeginDrill tells the board that a live drill runs from now until
// spec.End: signals in its scope carry its ID, its incidents go to its
// participants, and a real fault meanwhile trips spec.OnAbort. It returns an
// error wrapping [ErrDrillRefused] when the board's env is production
// ([DrillPlan.Production]) and the plan does not allow drills there, when a
// real incident graded above none is open, or when a drill of the same ID
// is running; and an error naming the field for a bad spec.
func (b *Board) BeginDrill(spec DrillSpec) error {
	now := time.Now()
	var errs []error
	if !validDrillID(spec.ID) {
		errs = append(errs, fmt.Errorf("firebreak: BeginDrill: ID %q: want 1 to 64 letters, digits, '-', '_' or '.'", spec.ID))
	}
	if len(spec.Components) == 0 && len(spec.Dependencies) == 0 {
		errs = append(errs, errors.New("firebreak: BeginDrill: a scope is required: name Components or Dependencies"))
	}
	if slices.Contains(spec.Components, "") || slices.Contains(spec.Dependencies, "") {
		errs = append(errs, errors.New("firebreak: BeginDrill: an empty name in the scope"))
	}
	switch {
	case spec.End.IsZero():
		errs = append(errs, errors.New("firebreak: BeginDrill: End is required: a drill without an end cannot run"))
	case !spec.End.After(now):
		errs = append(errs, fmt.Errorf("firebreak: BeginDrill: End %s is not after now (%s)", spec.End.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
	}
	if spec.Recovery < 0 {
		errs = append(errs, fmt.Errorf("firebreak: BeginDrill: Recovery must not be negative, got %s", spec.Recovery))
	}
	if !(spec.AbortBurn >= 0) || spec.AbortBurn > 1e9 {
		errs = append(errs, fmt.Errorf("firebreak: BeginDrill: AbortBurn must be a burn rate of 0 or more, got %v", spec.AbortBurn))
	}
	var queues []int
	for _, p := range spec.Participants {
		i, ok := b.drills.receivers[p]
		if !ok {
			errs = append(errs, fmt.Errorf("firebreak: BeginDrill: participant %q is not a receiver: name notifiers with WithNotifierNamed", p))
			continue
		}
		queues = append(queues, i)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if b.plan.Drills.Production(b.env) && !b.plan.Drills.AllowProduction {
		return fmt.Errorf("%w: env %q is production and the plan does not allow drills there (drills.allow_production)", ErrDrillRefused, b.env)
	}
	if open := b.List(Filter{OpenOnly: true, MinSeverity: General}); len(open) > 0 {
		return fmt.Errorf("%w: real incident %s (%s) is open", ErrDrillRefused, open[0].ID, open[0].Severity)
	}
	d := &boardDrill{
		id: spec.ID, components: slices.Clone(spec.Components), deps: slices.Clone(spec.Dependencies),
		end: spec.End, recovery: spec.Recovery, abortBurn: spec.AbortBurn, onAbort: spec.OnAbort,
	}
	if d.recovery == 0 {
		d.recovery = DefaultDrillRecovery
	}
	if d.abortBurn == 0 {
		d.abortBurn = DefaultDrillAbortBurn
	}
	bk := &b.drills
	bk.mu.Lock()
	defer bk.mu.Unlock()
	var cur []*boardDrill
	if p := bk.list.Load(); p != nil {
		cur = *p
	}
	if slices.ContainsFunc(cur, func(x *boardDrill) bool { return x.id == spec.ID && x.running(now) }) {
		return fmt.Errorf("%w: drill %q is already running", ErrDrillRefused, spec.ID)
	}
	next := slices.DeleteFunc(slices.Clone(cur), func(x *boardDrill) bool { return x.id == spec.ID || x.forgotten(now) })
	next = append(next, d)
	bk.list.Store(&next)
	if bk.parts == nil {
		bk.parts = map[string][]int{}
	}
	if _, ok := bk.parts[spec.ID]; !ok {
		bk.order = append(bk.order, spec.ID)
	}
	bk.parts[spec.ID] = queues
	for len(bk.order) > maxDrillRouting {
		delete(bk.parts, bk.order[0])
		bk.order = bk.order[1:]
	}
	bk.seen.Store(true)
	return nil
}

// EndDrill tells the board that drill id has stopped: from now on only the
// signals it left behind are its own (see [DrillSpec].Recovery). Ending a
// drill that is not running does nothing.
func (b *Board) EndDrill(id string) {
	now := time.Now()
	bk := &b.drills
	bk.mu.Lock()
	defer bk.mu.Unlock()
	p := bk.list.Load()
	if p == nil {
		return
	}
	for _, d := range *p {
		if d.id == id && d.running(now) {
			d.stoppedNs.Store(now.UnixNano())
		}
	}
	next := slices.DeleteFunc(slices.Clone(*p), func(x *boardDrill) bool { return x.forgotten(now) })
	if len(next) == 0 {
		bk.list.Store(nil)
		return
	}
	bk.list.Store(&next)
}

// RunningDrills returns the IDs of the drills running now.
func (b *Board) RunningDrills() []string {
	now := time.Now()
	var ids []string
	if p := b.drills.list.Load(); p != nil {
		for _, d := range *p {
			if d.running(now) {
				ids = append(ids, d.id)
			}
		}
	}
	return ids
}

// drillSignal runs on Report while the board knows of a drill: it stamps a
// signal in a drill's scope with the drill's ID, and trips the guard of
// every running drill when a real fault arrives. It holds no lock while it
// calls a guard.
func (b *Board) drillSignal(ds []*boardDrill, s *Signal, now time.Time) {
	if s.Drill != "" {
		return
	}
	for _, d := range ds {
		if !d.covers(s) {
			continue
		}
		if d.running(now) || !d.forgotten(now) && b.tracksDrillAlert(s, d.id) {
			s.Drill = d.id
			return
		}
	}
	if !s.Firing || strings.HasPrefix(string(s.Kind), "drill_") {
		return // a clear, or the drills' own bookkeeping, is no fault
	}
	sev := b.plan.Classify(s)
	burn := s.Kind == KindErrorBudgetBurn || s.Kind == KindLatencySLOBurn
	muted, checked := false, false
	for _, d := range ds {
		if !d.running(now) {
			continue
		}
		var reason string
		switch {
		case sev > None:
			reason = fmt.Sprintf("real incident: %s from %s graded %s", s.Kind, signalWho(s), sev)
		case burn && s.Value >= d.abortBurn:
			reason = fmt.Sprintf("real SLO burn: %s from %s at %.1f× (abort at %.1f×)", s.Kind, signalWho(s), s.Value, d.abortBurn)
		default:
			continue
		}
		if !checked {
			muted, checked = b.mutedByPeople(s, sev, now), true
		}
		if muted {
			return // silenced or under maintenance: nobody is paged, the drill goes on
		}
		b.tripDrill(d, reason, now)
	}
}

// mutedByPeople reports whether a real signal graded sev would be muted now
// by a silence or a maintenance window: muting people asked for, so the
// signal pages nobody and does not trip a drill's guard. Inhibition does
// not count: its source is another alert, and a drill's alert never
// inhibits a real one.
func (b *Board) mutedByPeople(s *Signal, sev Severity, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.eng
	if len(e.mute.silences) == 0 && len(e.mute.windows) == 0 {
		return false
	}
	labels := e.alertLabels(s) // the labels a silence matches on the alert s becomes (matchLabels)
	labels["kind"] = string(s.Kind)
	labels["tier"] = s.Tier.String()
	labels["severity"] = sev.String()
	_, labels["fault_domain"] = e.groupKey(s)
	for _, sl := range e.mute.silences {
		if sl.active(now) && sl.Matchers.Matches(labels) {
			return true
		}
	}
	for _, w := range e.mute.windows {
		if w.activeAt(now) && slices.Contains(w.Components, s.Component) {
			return true
		}
	}
	return false
}

// drill returns the ID of the drill a's alert belongs to, "" for a real one.
func (a *alert) drill() string {
	if a.inc != nil {
		return a.inc.Drill
	}
	return a.ref.Labels[LabelDrill]
}

// tripDrill stops d and calls its guard, once.
func (b *Board) tripDrill(d *boardDrill, reason string, now time.Time) {
	if !d.tripped.CompareAndSwap(false, true) {
		return
	}
	d.stoppedNs.CompareAndSwap(0, now.UnixNano())
	if d.onAbort == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			b.logger.Error("firebreak: a drill's OnAbort panicked", "drill", d.id, "panic", r)
		}
	}()
	d.onAbort(reason)
}

// AbortDrill stops drill id now as its guard would, calling its OnAbort
// with reason; it reports whether the drill was running.
func (b *Board) AbortDrill(id, reason string) bool {
	now := time.Now()
	p := b.drills.list.Load()
	if p == nil {
		return false
	}
	for _, d := range *p {
		if d.id == id && d.running(now) {
			b.tripDrill(d, reason, now)
			return true
		}
	}
	return false
}

// tracksDrillAlert reports whether the board tracks the alert s would be as
// a signal of drill id.
func (b *Board) tracksDrillAlert(s *Signal, id string) bool {
	c := *s
	c.Drill = id
	fp := b.eng.fingerprint(&c)
	b.mu.Lock()
	_, ok := b.eng.alerts[fp]
	b.mu.Unlock()
	return ok
}

// drillDispatch trips the guard of every running drill when a real
// incident is announced, marks the notifications of drill incidents
// "[DRILL]" and hands those of a drill with participants to its
// participants' queues only. It returns the notifications left for the
// usual routing. It runs with no lock held.
func (b *Board) drillDispatch(notes []Notification) []Notification {
	b.guardAnnouncements(notes)
	if !slices.ContainsFunc(notes, func(n Notification) bool { return n.Incident.Drill != "" }) {
		return notes
	}
	rest := make([]Notification, 0, len(notes))
	for _, n := range notes {
		id := n.Incident.Drill
		if id == "" {
			rest = append(rest, n)
			continue
		}
		if !strings.HasPrefix(n.Incident.Title, drillMark) {
			n.Incident.Title = drillMark + n.Incident.Title
		}
		b.drills.mu.Lock()
		qi, ok := b.drills.parts[id]
		b.drills.mu.Unlock()
		if !ok || len(qi) == 0 {
			rest = append(rest, n)
			continue
		}
		qs := make([]*queue, 0, len(qi))
		for _, i := range qi {
			qs = append(qs, b.queues[i])
		}
		fanOut(qs, []Notification{n})
	}
	return rest
}

const drillMark = "[DRILL] "

// guardAnnouncements trips the guard of every running drill when notes
// page people for a real incident: its announcement, a rise in severity or
// a reopening. The guard trips on the real signal itself first (see
// drillSignal); this catches a fault that was muted when it arrived — a
// silence or maintenance window — and pages once the muting ends.
func (b *Board) guardAnnouncements(notes []Notification) {
	p := b.drills.list.Load()
	if p == nil {
		return
	}
	now := time.Now()
	for _, n := range notes {
		inc := &n.Incident
		if inc.Drill != "" || inc.Severity == None {
			continue
		}
		switch n.Event {
		case EventDetected, EventEscalated, EventReopened:
		default:
			continue
		}
		for _, d := range *p {
			if d.running(now) {
				b.tripDrill(d, fmt.Sprintf("real incident %s announced (%s, %s)", inc.ID, inc.Severity, n.Event), now)
			}
		}
	}
}

func matchDrill(want, have string) bool {
	switch want {
	case "":
		return have == ""
	case AnyDrill:
		return have != ""
	}
	return want == have
}

func validDrillID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func signalWho(s *Signal) string {
	if s.Dependency == "" {
		return s.Component
	}
	return s.Component + " → " + s.Dependency
}
