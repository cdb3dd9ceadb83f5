package firebreak

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StatusUnderMaintenance is the public status of a component inside an
// active maintenance window, and the overall status while one is active and
// nothing is worse than degraded.
const StatusUnderMaintenance = "under_maintenance"

// MaxMaintenanceDuration bounds one maintenance window, or one occurrence of
// a weekly one: 7 days.
const MaxMaintenanceDuration = 7 * 24 * time.Hour

// maxWindows bounds the maintenance windows a board holds.
const maxWindows = 256

// upcomingFor is how far ahead the public status lists windows.
const upcomingFor = 7 * 24 * time.Hour

// MaintenanceWindow is planned work on some components: while it is active,
// their alerts are muted like silenced ones (recorded, paging nobody), and
// the public status shows them as under_maintenance. A window is either one
// span, Start to End, or a weekly slot (Weekly), which recurs forever.
type MaintenanceWindow struct {
	// Name identifies the window; unique on a board. Required. It is shown
	// on the public status.
	Name string `json:"name"`
	// Components are the components whose alerts it mutes: the alert's
	// component must be one of them (a dependent's alert on one of them
	// still pages). Required.
	Components []string `json:"components"`
	// Start and End bound a one-off window (RFC 3339 in JSON). Required
	// unless Weekly is set, and then not allowed.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// Reason says why; kept in timelines, never shown publicly.
	Reason string `json:"reason,omitempty"`
	// Weekly makes the window recur.
	Weekly *WeeklySlot `json:"weekly,omitempty"`
	// CreatedBy is who scheduled it: "plan" for a window in the plan, the
	// person for [Board.ScheduleMaintenance].
	CreatedBy string `json:"created_by,omitempty"`
}

// WeeklySlot is a window that recurs every week: {"weekday": "sunday",
// "start": "02:00", "duration": "2h", "timezone": "Europe/Berlin"}.
type WeeklySlot struct {
	// Weekday, in English, any case: "monday" … "sunday". Required.
	Weekday string `json:"weekday"`
	// Start is the local time of day, "HH:MM" (24-hour). Required.
	Start string `json:"start"`
	// Duration of each occurrence: more than 0, at most 7 days. Required.
	Duration Duration `json:"duration"`
	// Timezone is an IANA name such as "Europe/Berlin". Default: UTC.
	Timezone string `json:"timezone,omitempty"`
}

// parse returns the slot's weekday, minutes after midnight and location.
func (w *WeeklySlot) parse() (time.Weekday, int, *time.Location, []Problem) {
	var probs []Problem
	day := time.Weekday(-1)
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.EqualFold(w.Weekday, d.String()) {
			day = d
		}
	}
	if day < 0 {
		probs = append(probs, Problem{Path: "weekday", Message: fmt.Sprintf("%q is not a weekday (monday … sunday)", w.Weekday)})
	}
	mins := -1
	if h, m, ok := strings.Cut(w.Start, ":"); ok && len(h) == 2 && len(m) == 2 {
		hh, err1 := strconv.Atoi(h)
		mm, err2 := strconv.Atoi(m)
		if err1 == nil && err2 == nil && hh >= 0 && hh < 24 && mm >= 0 && mm < 60 {
			mins = hh*60 + mm
		}
	}
	if mins < 0 {
		probs = append(probs, Problem{Path: "start", Message: fmt.Sprintf("%q is not a time of day HH:MM", w.Start)})
	}
	if w.Duration <= 0 || time.Duration(w.Duration) > MaxMaintenanceDuration {
		probs = append(probs, Problem{Path: "duration", Message: fmt.Sprintf("must be more than 0 and at most %s, got %s", MaxMaintenanceDuration, time.Duration(w.Duration))})
	}
	loc, err := time.LoadLocation(cmpOr(w.Timezone, "UTC"))
	if w.Timezone == "Local" { // the host's zone: the window would move with the machine
		probs = append(probs, Problem{Path: "timezone", Message: `"Local" is the host's zone, not an IANA name: name the zone, e.g. "Europe/Berlin"`})
	} else if err != nil {
		probs = append(probs, Problem{Path: "timezone", Message: fmt.Sprintf("%q is not a known time zone", w.Timezone)})
	}
	return day, mins, loc, probs
}

// problems returns what is wrong with the window, paths relative to it.
func (w *MaintenanceWindow) problems() []Problem {
	var probs []Problem
	add := func(path, format string, args ...any) {
		probs = append(probs, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(w.Name) == "" {
		add("name", "required: the window's public name")
	} else if len(w.Name) > 200 {
		add("name", "at most 200 bytes")
	}
	if len(w.Components) == 0 {
		add("components", "at least one component is required")
	}
	for i, c := range w.Components {
		if strings.TrimSpace(c) == "" {
			add(fmt.Sprintf("components[%d]", i), "empty component name")
		}
	}
	if w.Weekly != nil {
		if !w.Start.IsZero() || !w.End.IsZero() {
			add("weekly", "a weekly window takes no start or end: give one or the other")
		}
		_, _, _, ps := w.Weekly.parse()
		for _, p := range ps {
			add("weekly."+p.Path, "%s", p.Message)
		}
		return probs
	}
	switch {
	case w.Start.IsZero():
		add("start", "required (or weekly)")
	case w.End.IsZero():
		add("end", "required: a window must end")
	case !w.End.After(w.Start):
		add("end", "%s is not after start %s", w.End.UTC().Format(time.RFC3339), w.Start.UTC().Format(time.RFC3339))
	case w.End.Sub(w.Start) > MaxMaintenanceDuration:
		add("end", "the window lasts %s, longer than %s", w.End.Sub(w.Start), MaxMaintenanceDuration)
	}
	return probs
}

func (w MaintenanceWindow) clone() MaintenanceWindow {
	w.Components = slices.Clone(w.Components)
	if w.Weekly != nil {
		x := *w.Weekly
		w.Weekly = &x
	}
	return w
}

func cloneMaintenance(in []MaintenanceWindow) []MaintenanceWindow {
	out := slices.Clone(in)
	for i := range out {
		out[i] = out[i].clone()
	}
	return out
}

// validateMaintenance adds the problems of the plan's maintenance windows.
func validateMaintenance(ws []MaintenanceWindow, add func(path, format string, args ...any)) {
	seen := map[string]int{}
	for i := range ws {
		path := fmt.Sprintf("maintenance[%d]", i)
		for _, p := range ws[i].problems() {
			add(path+"."+p.Path, "%s", p.Message)
		}
		if j, dup := seen[ws[i].Name]; dup && ws[i].Name != "" {
			add(path+".name", "%q is also maintenance[%d]'s name", ws[i].Name, j)
		}
		seen[ws[i].Name] = i
	}
}

// window is a validated MaintenanceWindow with its weekly slot parsed.
type window struct {
	MaintenanceWindow
	day  time.Weekday
	mins int
	loc  *time.Location
}

func newWindow(w MaintenanceWindow) *window {
	x := &window{MaintenanceWindow: w}
	if w.Weekly != nil {
		x.day, x.mins, x.loc, _ = w.Weekly.parse()
	}
	return x
}

// around returns the occurrence active at now, or else the next one; zero
// times for a one-off window that has ended.
func (w *window) around(now time.Time) (start, end time.Time) {
	if w.Weekly == nil {
		if !now.Before(w.End) {
			return time.Time{}, time.Time{}
		}
		return w.Start, w.End
	}
	d := time.Duration(w.Weekly.Duration)
	local := now.In(w.loc)
	y, mo, dd := local.Date()
	// This week's occurrence, then step back or forward a week at a time.
	start = time.Date(y, mo, dd+int(w.day-local.Weekday()), 0, w.mins, 0, 0, w.loc)
	for !now.Before(start) {
		start = time.Date(start.Year(), start.Month(), start.Day()+7, 0, w.mins, 0, 0, w.loc)
	}
	for {
		prev := time.Date(start.Year(), start.Month(), start.Day()-7, 0, w.mins, 0, 0, w.loc)
		if now.Before(prev.Add(d)) {
			start = prev
			continue
		}
		break
	}
	return start, start.Add(d)
}

func (w *window) activeAt(now time.Time) bool {
	start, end := w.around(now)
	return !start.IsZero() && !now.Before(start) && now.Before(end)
}

// scheduleMaintenance adds a checked window at run time.
func (e *engine) scheduleMaintenance(w MaintenanceWindow, now time.Time) error {
	if len(e.mute.windows) >= maxWindows {
		return fmt.Errorf("firebreak: ScheduleMaintenance: the board holds %d windows (the limit)", maxWindows)
	}
	if slices.ContainsFunc(e.mute.windows, func(x *window) bool { return x.Name == w.Name }) {
		return fmt.Errorf("firebreak: ScheduleMaintenance: name: a window named %q exists", w.Name)
	}
	e.mute.windows = append(e.mute.windows, newWindow(w))
	where := "until " + w.End.UTC().Format(time.RFC3339)
	if w.Weekly != nil {
		where = fmt.Sprintf("every %s at %s %s for %s", w.Weekly.Weekday, w.Weekly.Start, cmpOr(w.Weekly.Timezone, "UTC"), time.Duration(w.Weekly.Duration))
	}
	comps := w.Components
	e.auditAffected(now, fmt.Sprintf("maintenance %q on %s scheduled by %s, %s", w.Name, strings.Join(comps, ", "), w.CreatedBy, where),
		func(l map[string]string) bool { return slices.Contains(comps, l["component"]) })
	e.remute(now)
	e.nextMute(now)
	return nil
}

// cancelMaintenance removes a window scheduled at run time or in the plan.
func (e *engine) cancelMaintenance(name, by string, now time.Time) error {
	i := slices.IndexFunc(e.mute.windows, func(x *window) bool { return x.Name == name })
	if i < 0 {
		return fmt.Errorf("%w: maintenance window %q", ErrNotFound, name)
	}
	comps := e.mute.windows[i].Components
	e.mute.windows = slices.Delete(e.mute.windows, i, i+1)
	e.auditAffected(now, fmt.Sprintf("maintenance %q cancelled by %s", name, by),
		func(l map[string]string) bool { return slices.Contains(comps, l["component"]) })
	e.remute(now)
	e.nextMute(now)
	return nil
}

// ScheduleMaintenance adds a maintenance window at run time, scheduled by
// the named person. While it is active its components' alerts page nobody
// and the public status shows them under maintenance. Bad input is an error
// naming the field.
func (b *Board) ScheduleMaintenance(w MaintenanceWindow, by string) error {
	if err := requireActor(by); err != nil {
		return err
	}
	w = w.clone()
	w.CreatedBy = by
	probs := w.problems()
	if err := b.checkMaintenanceName(w); err != nil {
		probs = append(probs, Problem{Path: "name", Message: err.Error()})
	}
	if len(probs) > 0 {
		var msgs []string
		for _, p := range probs {
			msgs = append(msgs, p.Path+": "+p.Message)
		}
		return errors.New("firebreak: ScheduleMaintenance: " + strings.Join(msgs, "; "))
	}
	return b.muteAction(func(now time.Time) error {
		if w.Weekly == nil && !w.End.After(now) {
			return errors.New("firebreak: ScheduleMaintenance: end: in the past")
		}
		return b.eng.scheduleMaintenance(w, now)
	})
}

// CancelMaintenance removes the named maintenance window, by the named
// person: its components' alerts page as usual again.
func (b *Board) CancelMaintenance(name, by string) error {
	if err := requireActor(by); err != nil {
		return err
	}
	return b.muteAction(func(now time.Time) error { return b.eng.cancelMaintenance(name, by, now) })
}

// Maintenance returns the board's maintenance windows, the plan's and those
// scheduled at run time, except one-off windows that have ended.
func (b *Board) Maintenance() []MaintenanceWindow {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []MaintenanceWindow
	for _, w := range b.eng.mute.windows {
		if s, _ := w.around(now); !s.IsZero() {
			out = append(out, w.MaintenanceWindow.clone())
		}
	}
	return out
}

func (b *Board) muteAction(fn func(now time.Time) error) error {
	now := time.Now()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	err := fn(now)
	notes := b.eng.flush()
	b.mu.Unlock()
	b.dispatch(notes)
	b.kickLoop()
	return err
}

// PublicMaintenance is a maintenance window as the public status shows it:
// its name, the declared components it covers, and the occurrence that is
// active or next.
type PublicMaintenance struct {
	Name       string    `json:"name"`
	Components []string  `json:"components"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Active     bool      `json:"active"`
}

// maintenanceStatus marks the declared components under an active window
// and lists the active and upcoming (within 7 days) windows on st that
// cover a declared component.
func (b *Board) maintenanceStatus(st *PublicStatus, now time.Time) {
	b.mu.Lock()
	type occ struct {
		name       string
		comps      []string
		start, end time.Time
	}
	var occs []occ
	for _, w := range b.eng.mute.windows {
		start, end := w.around(now)
		if start.IsZero() || start.Sub(now) > upcomingFor {
			continue
		}
		occs = append(occs, occ{w.Name, w.Components, start, end})
	}
	b.mu.Unlock()
	known := map[string]bool{}
	for _, c := range b.known {
		known[c] = true
	}
	under := map[string]bool{}
	st.Maintenance = []PublicMaintenance{}
	for _, o := range occs {
		active := !now.Before(o.start)
		comps := []string{}
		for _, c := range o.comps {
			if known[c] {
				comps = append(comps, c)
				if active {
					under[c] = true
				}
			}
		}
		if len(comps) == 0 {
			continue // a window on internal parts only is not public
		}
		slices.Sort(comps)
		st.Maintenance = append(st.Maintenance, PublicMaintenance{Name: o.name, Components: slices.Compact(comps),
			Start: o.start.UTC(), End: o.end.UTC(), Active: active})
	}
	slices.SortFunc(st.Maintenance, func(x, y PublicMaintenance) int { return x.Start.Compare(y.Start) })
	for i := range st.Components {
		if under[st.Components[i].Name] {
			st.Components[i].Status = StatusUnderMaintenance
		}
	}
	if len(under) > 0 && (st.Status == StatusOperational || st.Status == StatusDegraded) {
		st.Status = StatusUnderMaintenance
	}
}

// checkMaintenanceName refuses a window name, shown on the public status,
// that names an internal part: one of the window's own undeclared components
// or one the Board has seen (see checkPublicText).
func (b *Board) checkMaintenanceName(w MaintenanceWindow) error {
	low := strings.ToLower(w.Name)
	for _, c := range w.Components {
		if c != "" && !slices.Contains(b.known, c) && strings.Contains(low, strings.ToLower(c)) {
			return fmt.Errorf("names %q, an undeclared component; the name is public and names only declared components", c)
		}
	}
	if err := checkPublicText(b, "name", w.Name); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "firebreak: name "))
	}
	return nil
}
