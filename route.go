package firebreak

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Routing: which notifier hears of what, in Alertmanager's manner.
//
// A Board without a route hands every notification to every notifier. With
// a route (the plan's "route", or [WithRoute]) each notification walks the
// tree from the root: a route that matches hands the notification to its
// children in order, the first child that matches takes it and, unless that
// child says continue, the walk stops there; a route none of whose children
// took the notification delivers it to its own receiver. The root matches
// everything, so it is the default route: what nothing else matched goes to
// its receiver. Receivers are the names given with [WithNotifierNamed];
// notifiers added with [WithNotifier] have no name and keep receiving every
// notification, routes or not (a log, an audit trail).

// Route is one node of the routing tree. The zero intervals, and an empty
// receiver, are inherited from the parent route.
type Route struct {
	// Matchers select the notifications this route takes; none match
	// everything. See [RouteLabelSeverity] and the other
	// route labels for what they are matched on.
	Matchers Matchers `json:"matchers,omitempty"`
	// Receiver names the notifier (see [WithNotifierNamed]) that gets what
	// this route takes. Required on the root; default: the parent's.
	Receiver string `json:"receiver,omitempty"`
	// Continue makes matching go on to the route's next siblings after
	// this route took a notification. Default: false, the first matching
	// sibling wins.
	Continue bool `json:"continue,omitempty"`
	// GroupInterval batches routine updates ([Event.Routine]) to the
	// receiver: at most one per incident per interval, carrying the latest
	// state; lifecycle events are never held back by it. Default: the
	// parent's; 0 at the root sends each update as soon as it can.
	GroupInterval Duration `json:"group_interval,omitempty"`
	// RepeatInterval throttles reminders ([EventRenotify]) to the
	// receiver: one is sent only if this long has passed since the
	// receiver was last sent a lifecycle event or reminder of the incident;
	// the others are counted in [BoardStats].NotifyThrottled. Default: the
	// parent's; 0 at the root sends every reminder the plan makes.
	RepeatInterval Duration `json:"repeat_interval,omitempty"`
	// Routes are the child routes, tried in order.
	Routes []Route `json:"routes,omitempty"`
}

// Route labels: a route's matchers are tested against these, computed for
// each notification (an absent label has the value ""):
//
//   - single-valued, from the incident and the event: "severity" (the
//     incident's: none, general, severe, fatal), "level" (1 to 3, 0 for
//     none), "state", "event", "service", "env", "fault_domain", "lead",
//     "owner" (see [Board.HandOff]), "escalation_target" and
//     "escalation_step" (set on [EventEscalationStep], see [EscalationStep]);
//   - many-valued, one value per affected component or alert:
//     "component", and every other name — "kind", "tier", "alertname",
//     "dependency", a signal's own labels such as "category" — from the
//     incident's alerts.
//
// A matcher with = or =~ on a many-valued label matches if any value does;
// one with != or !~ matches if every value does (kind!="rollback": no alert
// of the incident is a rollback).
const (
	RouteLabelSeverity         = "severity"
	RouteLabelLevel            = "level"
	RouteLabelState            = "state"
	RouteLabelEvent            = "event"
	RouteLabelService          = "service"
	RouteLabelEnv              = "env"
	RouteLabelFaultDomain      = "fault_domain"
	RouteLabelLead             = "lead"
	RouteLabelOwner            = "owner"
	RouteLabelEscalationTarget = "escalation_target"
	RouteLabelEscalationStep   = "escalation_step"
	RouteLabelComponent        = "component"
	// RouteLabelDrill is the drill's ID for a drill incident, "" for a
	// real one (single-valued; see drill.go).
	RouteLabelDrill = LabelDrill
)

const (
	maxRouteDepth = 16
	maxRoutes     = 1000
	maxRepeatKeep = 4096 // incidents per receiver whose last reminder time is kept
)

// clone returns a deep copy of r.
func (r *Route) clone() *Route {
	if r == nil {
		return nil
	}
	c := *r
	c.Matchers = slices.Clone(r.Matchers)
	c.Routes = make([]Route, len(r.Routes))
	for i := range r.Routes {
		c.Routes[i] = *r.Routes[i].clone()
	}
	if len(r.Routes) == 0 {
		c.Routes = nil
	}
	return &c
}

// validateRoute checks the shape of the plan's routing tree: the names of
// receivers are checked against the notifiers by [NewBoard].
func validateRoute(r *Route, add func(path, format string, args ...any)) {
	if r == nil {
		return
	}
	if r.Receiver == "" {
		add("route.receiver", "required: the default receiver, which gets what no other route takes")
	}
	if len(r.Matchers) > 0 {
		add("route.matchers", "the root route matches everything: put matchers on its child routes")
	}
	n := 0
	var walk func(r *Route, path string, depth int)
	walk = func(r *Route, path string, depth int) {
		n++
		if n == maxRoutes+1 {
			add(path, "more than %d routes", maxRoutes)
		}
		if depth > maxRouteDepth {
			add(path, "nested deeper than %d routes", maxRouteDepth)
			return
		}
		if r.GroupInterval < 0 {
			add(path+".group_interval", "must not be negative, got %s", time.Duration(r.GroupInterval))
		}
		if r.RepeatInterval < 0 {
			add(path+".repeat_interval", "must not be negative, got %s", time.Duration(r.RepeatInterval))
		}
		for i, m := range r.Matchers {
			if (m.Type == MatchRegexp || m.Type == MatchNotRegexp) && m.re == nil {
				add(fmt.Sprintf("%s.matchers[%d]", path, i), "matcher %s was not built with NewMatcher or ParseMatcher", m)
			}
			if !validLabelName(m.Name) {
				add(fmt.Sprintf("%s.matchers[%d].name", path, i), "%q is not a label name", m.Name)
			}
		}
		for i := range r.Routes {
			walk(&r.Routes[i], fmt.Sprintf("%s.routes[%d]", path, i), depth+1)
		}
	}
	walk(r, "route", 0)
}

// checkReceivers reports every receiver a route or escalation step names
// that is not a named notifier. Escalation steps may also name a role that
// is no receiver; only routes are held to the names.
func checkReceivers(r *Route, names map[string]int, add func(path, format string, args ...any)) {
	known := slices.Sorted(func(yield func(string) bool) {
		for n := range names {
			if !yield(n) {
				return
			}
		}
	})
	var walk func(r *Route, path string)
	walk = func(r *Route, path string) {
		if _, ok := names[r.Receiver]; r.Receiver != "" && !ok {
			add(path+".receiver", "unknown receiver %q: name notifiers with WithNotifierNamed (named: %q)", r.Receiver, known)
		}
		for i := range r.Routes {
			walk(&r.Routes[i], fmt.Sprintf("%s.routes[%d]", path, i))
		}
	}
	walk(r, "route")
}

// node is a route compiled with what it inherits.
type node struct {
	matchers Matchers
	receiver int // queue index
	cont     bool
	group    time.Duration
	repeat   time.Duration
	children []node
}

func compile(r *Route, parent *node, names map[string]int) node {
	n := node{matchers: r.Matchers, cont: r.Continue, group: time.Duration(r.GroupInterval), repeat: time.Duration(r.RepeatInterval), receiver: -1}
	if parent != nil {
		n.receiver = parent.receiver
		if n.group == 0 {
			n.group = parent.group
		}
		if n.repeat == 0 {
			n.repeat = parent.repeat
		}
	}
	if i, ok := names[r.Receiver]; ok {
		n.receiver = i
	}
	for i := range r.Routes {
		n.children = append(n.children, compile(&r.Routes[i], &n, names))
	}
	return n
}

// router sends each notification to the queues its routes match. It is
// safe for concurrent use.
type router struct {
	root    node
	names   map[string]int // receiver name → queue index
	all     []int          // queues of unnamed notifiers: they get everything
	queues  int
	mu      sync.Mutex             // guards lastLife
	lastLif []map[string]time.Time // per queue, by incident ID: the last lifecycle event or reminder routed to it
	// throttled counts reminders withheld by a repeat interval, per queue.
	throttled []int64
}

func newRouter(root *Route, names map[string]int, unnamed []int, queues int) *router {
	r := &router{names: names, all: unnamed, queues: queues, lastLif: make([]map[string]time.Time, queues), throttled: make([]int64, queues)}
	r.root = compile(root, nil, names)
	return r
}

// target is one queue a notification goes to, with the route's intervals.
type target struct {
	q             int
	group, repeat time.Duration
}

// match walks the tree as Alertmanager does, appending the routes that take
// the notification.
func (n *node) match(m *routeMatch, out []*node) ([]*node, bool) {
	if !m.matches(n.matchers) {
		return out, false
	}
	took := false
	for i := range n.children {
		var ok bool
		out, ok = n.children[i].match(m, out)
		if ok {
			took = true
			if !n.children[i].cont {
				break
			}
		}
	}
	if !took {
		out = append(out, n)
	}
	return out, true
}

// targets returns the queues n goes to, each once, with the intervals of
// the first route that sent it there.
func (r *router) targets(n *Notification) []target {
	m := newRouteMatch(n)
	nodes, _ := r.root.match(m, nil)
	out := make([]target, 0, len(nodes)+len(r.all)+1)
	add := func(t target) {
		if t.q < 0 || slices.ContainsFunc(out, func(x target) bool { return x.q == t.q }) {
			return
		}
		out = append(out, t)
	}
	for _, x := range nodes {
		add(target{q: x.receiver, group: x.group, repeat: x.repeat})
	}
	if n.Event == EventEscalationStep {
		// A step that names a receiver reaches it, whatever the routes.
		if i, ok := r.names[n.EscalationTarget]; ok {
			add(target{q: i})
		}
	}
	for _, i := range r.all {
		add(target{q: i})
	}
	return out
}

// dispatch routes notes to qs, following announcements across the queues
// that receive them. Reminders within a route's repeat interval are
// withheld and counted.
func (r *router) dispatch(qs []*queue, notes []Notification) {
	for i := range notes {
		n := &notes[i]
		ts := r.targets(n)
		ts = r.throttle(n, ts)
		var ann *announcement
		if n.Event == EventDetected && len(ts) > 0 {
			ann = &announcement{}
			ann.left.Store(int32(len(ts)))
		}
		for _, t := range ts {
			qs[t.q].enqueueEvery(*n, ann, t.group)
		}
	}
}

// throttle drops from ts the receivers that were told of n's incident
// within their repeat interval, if n is a reminder, and records when each
// receiver was last sent a lifecycle event.
func (r *router) throttle(n *Notification, ts []target) []target {
	if n.Event.Routine() {
		return ts
	}
	id := n.Incident.ID
	r.mu.Lock()
	defer r.mu.Unlock()
	out := ts[:0]
	for _, t := range ts {
		last := r.lastLif[t.q]
		if n.Event == EventRenotify && t.repeat > 0 && last != nil {
			if at, ok := last[id]; ok && n.At.Sub(at) < t.repeat {
				r.throttled[t.q]++
				continue
			}
		}
		out = append(out, t)
		switch {
		case n.Event == EventResolved || n.Event == EventClosed:
			delete(last, id)
		case t.repeat > 0:
			if last == nil {
				last = make(map[string]time.Time)
				r.lastLif[t.q] = last
			}
			if len(last) >= maxRepeatKeep {
				for k, at := range last {
					if n.At.Sub(at) >= t.repeat {
						delete(last, k)
					}
				}
			}
			if len(last) < maxRepeatKeep {
				last[id] = n.At
			}
		}
	}
	return out
}

func (r *router) throttledTotal() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s int64
	for _, t := range r.throttled {
		s += t
	}
	return s
}

// routeMatch evaluates matchers against one notification's route labels.
type routeMatch struct {
	n    *Notification
	seen []string // distinct values of one many-valued label, reused
}

func newRouteMatch(n *Notification) *routeMatch { return &routeMatch{n: n} }

// single returns the value of a single-valued route label, and false for a
// many-valued one.
func (m *routeMatch) single(name string) (string, bool) {
	n, inc := m.n, &m.n.Incident
	switch name {
	case RouteLabelSeverity:
		return inc.Severity.String(), true
	case RouteLabelLevel:
		return strconv.Itoa(inc.Level), true
	case RouteLabelState:
		return inc.State.String(), true
	case RouteLabelEvent:
		return string(n.Event), true
	case RouteLabelService:
		return inc.Service, true
	case RouteLabelEnv:
		return inc.Env, true
	case RouteLabelFaultDomain:
		return inc.FaultDomain, true
	case RouteLabelLead:
		return inc.Lead, true
	case RouteLabelOwner:
		return inc.Owner, true
	case RouteLabelDrill:
		return inc.Drill, true
	case RouteLabelEscalationTarget:
		if n.Event == EventEscalationStep {
			return n.EscalationTarget, true
		}
		return "", true
	case RouteLabelEscalationStep:
		if n.Event == EventEscalationStep {
			return strconv.Itoa(n.EscalationStep), true
		}
		return "", true
	}
	return "", false
}

func (m *routeMatch) matches(ms Matchers) bool {
	for i := range ms {
		if !m.matchOne(&ms[i]) {
			return false
		}
	}
	return true
}

// matchValue reports whether value v of x's label satisfies x: Matches,
// for one value rather than a label set.
func matchValue(x *Matcher, v string) bool {
	switch x.Type {
	case MatchEqual:
		return v == x.Value
	case MatchNotEqual:
		return v != x.Value
	case MatchRegexp:
		return x.re != nil && x.re.MatchString(v)
	case MatchNotRegexp:
		return x.re != nil && !x.re.MatchString(v)
	}
	return false
}

func (m *routeMatch) matchOne(x *Matcher) bool {
	if v, ok := m.single(x.Name); ok {
		return matchValue(x, v)
	}
	// Many-valued: any value for = and =~, every value for != and !~. Each
	// distinct value is tested once.
	want := x.Type == MatchEqual || x.Type == MatchRegexp
	m.seen = m.seen[:0]
	decided := false
	test := func(v string) bool { // reports whether the answer is decided
		if len(m.seen) < 64 {
			if slices.Contains(m.seen, v) {
				return false
			}
			m.seen = append(m.seen, v)
		}
		decided = matchValue(x, v) == want
		return decided
	}
	if x.Name == RouteLabelComponent {
		for _, c := range m.n.Incident.Components {
			if test(c) {
				break
			}
		}
	} else {
		m.eachAlert(func(a *AlertRef) bool { return test(alertLabel(a, x.Name)) })
	}
	if !decided && len(m.seen) == 0 {
		test("")
	}
	if decided {
		return want
	}
	return !want
}

// eachAlert calls fn on the incident's alerts, read from the notification's
// snapshot without flattening it, and on the alerts that changed, until fn
// returns true; it reports whether one did.
func (m *routeMatch) eachAlert(fn func(*AlertRef) bool) bool {
	n := m.n
	if v := n.view; v != nil {
		for _, c := range v.chunks {
			for i := range c {
				if fn(&c[i]) {
					return true
				}
			}
		}
	} else {
		for i := range n.Incident.Alerts {
			if fn(&n.Incident.Alerts[i]) {
				return true
			}
		}
	}
	for _, l := range [][]AlertRef{n.Fired, n.Resolved} {
		for i := range l {
			if fn(&l[i]) {
				return true
			}
		}
	}
	return false
}

// alertLabel returns the value of label name of alert a for routing: its
// labels, plus kind and tier.
func alertLabel(a *AlertRef, name string) string {
	switch name {
	case "kind":
		return string(a.Kind)
	case "tier":
		return a.Tier.String()
	}
	return a.Labels[name]
}

// checkRouting checks the receiver names and the route chosen for the
// board, and returns the queue index of each name.
func checkRouting(cfg *boardConfig) (map[string]int, error) {
	var probs []Problem
	add := func(path, format string, args ...any) {
		probs = append(probs, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	names := make(map[string]int)
	for i, name := range cfg.names {
		switch {
		case name == "":
			// WithNotifier: unnamed.
		case strings.TrimSpace(name) != name || !validReceiverName(name):
			add(fmt.Sprintf("notifiers[%d]", i), "receiver name %q: want letters, digits, spaces, '-', '_' or '.', not starting or ending with a space", name)
		default:
			if _, dup := names[name]; dup {
				add(fmt.Sprintf("notifiers[%d]", i), "receiver name %q is given twice", name)
			}
			names[name] = i
		}
	}
	if cfg.route != nil {
		validateRoute(cfg.route, add) // the plan's was checked with the plan
	}
	if root := cmp.Or(cfg.route, planRoute(cfg.plan)); root != nil {
		checkReceivers(root, names, add)
	}
	if len(probs) == 0 {
		return names, nil
	}
	slices.SortStableFunc(probs, func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
	return nil, &PlanError{Problems: probs}
}

func planRoute(p *Plan) *Route {
	if p == nil {
		return nil
	}
	return p.Route
}

func validReceiverName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !(c == ' ' || c == '-' || c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func unnamedQueues(names []string) []int {
	var out []int
	for i, n := range names {
		if n == "" {
			out = append(out, i)
		}
	}
	return out
}
