package firebreak

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"time"

	"github.com/firebreak-go/firebreak/internal/fingerprint"
)

// alert is one signal identity. An incident's first MaxAlertsPerIncident
// alerts are kept in full (labels, Alertmanager fingerprint, trace IDs); the
// others only count in their kind's aggregate (agg != nil).
type alert struct {
	fp        uint64
	ref       AlertRef
	inc       *incident  // nil until it joins
	agg       *aggregate // non-nil for an alert kept only in an aggregate
	pos       int        // index in inc.light, for an aggregated alert
	tracked   bool       // in engine.alerts, counting against maxAlerts
	class     int8       // the eviction list it is on; -1 for none
	prev      *alert     // eviction list links
	next      *alert
	traces    [traceRing]string
	traceN    int
	peak      float64
	evidence  bool        // metrics evidence taken for the current firing episode
	snapshots int         // firing episodes with evidence taken
	waived    Severity    // the grade a person accepted when lowering severity; -1 if none
	muted     string      // why it pages nobody (silence.go); "" if it pages
	symptom   string      // why its own changes are not notified: inhibited within its cause's incident
	source    []sourceKey // where it is listed as an inhibiting source (inhibit.go)
}

// aggregate stands for the alerts of one kind an incident holds beyond
// MaxAlertsPerIncident.
type aggregate struct {
	ref     AlertRef // identity of the entry; the counts below fill in the rest
	alerts  int      // alerts it has stood for (one returning after eviction counts again)
	firing  int      // of them firing now
	signals int64
	peak    float64
	sev     Severity // the worst grade seen
	summary string   // cached Summary, for summaryOf
	sumOf   [2]int   // the (alerts, firing) summary was made for
}

func (a *alert) touch(s *Signal) {
	a.ref.Count++
	a.ref.LastSeen = s.Time
	for _, id := range s.TraceIDs {
		a.traces[a.traceN%traceRing] = id
		a.traceN++
	}
	if s.Value > a.peak {
		a.peak = s.Value
	}
	if g := a.agg; g != nil {
		g.signals++
		g.ref.LastSeen = s.Time
		g.peak = max(g.peak, s.Value)
	}
}

// finite maps NaN to 0 and ±Inf to the largest finite values.
func finite(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return 0
	case math.IsInf(v, 1):
		return math.MaxFloat64
	case math.IsInf(v, -1):
		return -math.MaxFloat64
	}
	return v
}

func finiteMetrics(m map[string]float64) map[string]float64 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = finite(v)
	}
	return out
}

func reserved(label string) bool {
	switch label {
	case "alertname", "service", "env", "component", "dependency", "severity", LabelDrill:
		return true // set by the board
	}
	return false
}

// fingerprint computes the alert identity of s without allocating or
// sorting: a seeded maphash of the kind, component and dependency, plus the
// sum of one hash per label, so that the labels' order does not matter. The
// service and env are the same for every alert of a board and are left out.
// The Alertmanager FNV fingerprint is computed once, when a full alert is
// created.
func (e *engine) fingerprint(s *Signal) uint64 {
	var h maphash.Hash
	h.SetSeed(e.seed)
	h.WriteString(string(s.Kind))
	h.WriteByte(0)
	h.WriteString(s.Component)
	h.WriteByte(0)
	h.WriteString(s.Dependency)
	if s.Drill != "" {
		h.WriteByte(1) // a drill's alert is not the real one (drill.go)
		h.WriteString(s.Drill)
	}
	sum := h.Sum64()
	for k, v := range s.Labels {
		if v == "" || reserved(k) {
			continue
		}
		h.Reset()
		h.WriteString(k)
		h.WriteByte(0xff)
		h.WriteString(v)
		x := h.Sum64()
		sum += x ^ x>>29 // mixed, so that two labels' hashes cannot cancel out
	}
	return sum
}

// identity appends s's identity labels to l, sorted by name.
func (e *engine) identity(s *Signal, l []fingerprint.Label) []fingerprint.Label {
	l = append(l,
		fingerprint.Label{Name: "alertname", Value: s.Kind.AlertName()},
		fingerprint.Label{Name: "service", Value: e.service},
		fingerprint.Label{Name: "env", Value: e.env},
		fingerprint.Label{Name: "component", Value: s.Component},
		fingerprint.Label{Name: "dependency", Value: s.Dependency},
	)
	if s.Drill != "" {
		l = append(l, fingerprint.Label{Name: LabelDrill, Value: s.Drill})
	}
	for k, v := range s.Labels {
		if !reserved(k) {
			l = append(l, fingerprint.Label{Name: k, Value: v})
		}
	}
	fingerprint.Sort(l)
	return l
}

func (e *engine) alertLabels(s *Signal) map[string]string {
	m := make(map[string]string, 5+len(s.Labels))
	for k, v := range s.Labels {
		if v != "" {
			m[k] = v
		}
	}
	m["alertname"] = s.Kind.AlertName()
	m["service"] = e.service
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		} else {
			delete(m, k)
		}
	}
	set("env", e.env)
	set("component", s.Component)
	set("dependency", s.Dependency)
	set(LabelDrill, s.Drill)
	delete(m, "severity")
	return m
}

// maxGroupKeys bounds the cache of group keys by fault domain.
const maxGroupKeys = 4096

func (e *engine) groupKey(s *Signal) (key, domain string) {
	domain = cmp.Or(s.Dependency, s.Component, "unknown")
	cached := domain
	if s.Drill != "" {
		cached = s.Drill + "\x00" + domain // a drill's incidents are its own (drill.go)
	}
	if key, ok := e.groupKeys[cached]; ok {
		return key, domain
	}
	m := map[string]string{"service": e.service, "fault_domain": domain}
	if e.env != "" {
		m["env"] = e.env
	}
	if s.Drill != "" {
		m[LabelDrill] = s.Drill
	}
	key = "{}:" + fingerprint.String(m)
	if e.groupKeys == nil || len(e.groupKeys) >= maxGroupKeys {
		e.groupKeys = make(map[string]string)
	}
	e.groupKeys[cached] = key
	return key, domain
}

// newAlert makes the alert for s in inc: in full while inc has room,
// otherwise in its kind's aggregate. It does not join it (a.inc stays nil).
func (e *engine) newAlert(fp uint64, s *Signal, inc *incident) *alert {
	a := &alert{fp: fp, waived: -1, class: -1}
	a.ref = AlertRef{Kind: s.Kind, Component: s.Component, Dependency: s.Dependency, Tier: s.Tier, FirstSeen: s.Time}
	if len(inc.alerts) < MaxAlertsPerIncident {
		a.ref.Fingerprint = fmt.Sprintf("%016x", fingerprint.Sum(e.identity(s, nil)))
		a.ref.Labels = e.alertLabels(s)
		inc.alerts = append(inc.alerts, a)
		inc.full[fp] = a
		return a
	}
	i := slices.IndexFunc(inc.aggs, func(g *aggregate) bool { return g.ref.Kind == s.Kind })
	if i < 0 {
		labels := map[string]string{"alertname": s.Kind.AlertName(), "service": e.service, "fault_domain": inc.FaultDomain, "aggregated": "true"}
		if e.env != "" {
			labels["env"] = e.env
		}
		g := &aggregate{ref: AlertRef{Fingerprint: fmt.Sprintf("%016x", fingerprint.Map(labels)), Kind: s.Kind,
			Component: s.Component, Dependency: s.Dependency, Tier: s.Tier, Labels: labels, FirstSeen: s.Time}}
		inc.aggs = append(inc.aggs, g)
		i = len(inc.aggs) - 1
	}
	a.agg = inc.aggs[i]
	a.agg.alerts++
	inc.aggregated++
	a.pos = len(inc.light)
	inc.light = append(inc.light, a)
	return a
}

func (g *aggregate) snapshot() AlertRef {
	r := g.ref
	r.Firing = g.firing > 0
	r.Severity = g.sev
	r.Value, r.Peak = g.peak, g.peak
	r.Count = g.signals
	r.Aggregated = g.alerts
	if g.summary == "" || g.sumOf != [2]int{g.alerts, g.firing} {
		g.summary = fmt.Sprintf("and %s more alerts of kind %s (%s firing)", thousands(g.alerts), g.ref.Kind, thousands(g.firing))
		g.sumOf = [2]int{g.alerts, g.firing}
	}
	r.Summary = g.summary
	return r
}

// fullRef returns alert a in full, as a notification of its change names
// it: for an alert kept only in an aggregate, its labels and fingerprint are
// made from the signal s.
func (e *engine) fullRef(a *alert, s *Signal) AlertRef {
	r := a.snapshot()
	if a.agg != nil {
		r.Fingerprint = fmt.Sprintf("%016x", fingerprint.Sum(e.identity(s, nil)))
		r.Labels = e.alertLabels(s)
	}
	return r
}

// snapshot returns a's AlertRef. Its Labels map is shared: the board never
// changes it after the alert is made.
func (a *alert) snapshot() AlertRef {
	r := a.ref
	r.Peak = a.peak
	return r
}

// count adds d times a's contribution to its incident's firing counts.
func (inc *incident) count(a *alert, d int) {
	if !a.ref.Firing {
		return
	}
	if a.ref.Severity > None {
		inc.firingGraded += d
		if a.muted != "" {
			inc.firingMuted += d
		}
	} else {
		inc.firingNone += d
	}
	if g := a.agg; g != nil {
		g.firing += d
		if d > 0 {
			g.sev = max(g.sev, a.ref.Severity)
		}
	}
}

// size is how many alerts have joined inc.
func (inc *incident) size() int { return len(inc.alerts) + inc.aggregated }

// holds reports whether alert a keeps incident inc open. A firing alert
// holds it, except that once an alert graded above None has joined, alerts
// graded None — ticket-tier burns, recorded-only kinds — no longer do: an
// incident that paged resolves when what paged clears.
func (inc *incident) holds(a *alert) bool {
	return a.ref.Firing && (a.ref.Severity > None || !inc.graded)
}

// held reports whether any alert holds inc open.
func (inc *incident) held() bool {
	return inc.firingGraded > 0 || !inc.graded && inc.firingNone > 0
}

// warranted reports whether what fires now still warrants paging at the
// incident's severity: an alert that holds it is graded at that severity or
// worse — or the severity came from an escalation rule or a person, and
// something still holds it. A Fatal incident whose outage has ended while a
// slower burn still fires at a lower grade stops reminding and breaching; it
// pages again if the fault returns at its grade.
func (inc *incident) warranted() bool {
	if inc.byRule {
		return inc.held() && !inc.muted()
	}
	for _, a := range inc.alerts {
		if inc.holds(a) && a.muted == "" && a.ref.Severity >= inc.Severity {
			return true
		}
	}
	for _, a := range inc.light {
		if inc.holds(a) && a.muted == "" && a.ref.Severity >= inc.Severity {
			return true
		}
	}
	return false
}

func (inc *incident) anyFiring() bool { return inc.firingGraded+inc.firingNone > 0 }

func (inc *incident) notified() bool { return !inc.NotifiedAt.IsZero() }

// needsResponse reports whether the plan wants a person to acknowledge the
// incident at its current severity.
func (inc *incident) needsResponse() bool {
	return inc.Severity > None && inc.ackSeverity < inc.Severity
}

// firing returns the firing alerts kept in full and the aggregates with a
// firing alert.
func (inc *incident) firing() []AlertRef {
	var out []AlertRef
	for _, a := range inc.alerts {
		if a.ref.Firing {
			out = append(out, a.snapshot())
		}
	}
	for _, g := range inc.aggs {
		if g.firing > 0 {
			out = append(out, g.snapshot())
		}
	}
	return out
}

// uniq returns the distinct strings of ids, in order.
func uniq(ids []string) []string {
	var out []string
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func alertWho(r *AlertRef) string {
	if r.Dependency != "" {
		return r.Component + " → " + r.Dependency
	}
	return r.Component
}

// Eviction classes, in the order the engine evicts from them at the cap.
const (
	classCleared    = iota // not firing
	classQuiet             // firing, graded None
	classAggregated        // firing, graded, kept only in an aggregate
	classes
)

// alertList is an intrusive list of alerts, oldest first.
type alertList struct{ head, tail *alert }

func (l *alertList) push(a *alert) {
	a.prev, a.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = a
	} else {
		l.head = a
	}
	l.tail = a
}

func (l *alertList) remove(a *alert) {
	if a.prev != nil {
		a.prev.next = a.next
	} else {
		l.head = a.next
	}
	if a.next != nil {
		a.next.prev = a.prev
	} else {
		l.tail = a.prev
	}
	a.prev, a.next = nil, nil
}

// relist moves a to the eviction list its state puts it on.
func (e *engine) relist(a *alert) {
	want := int8(-1)
	switch {
	case !a.tracked:
	case !a.ref.Firing:
		want = classCleared
	case a.ref.Severity == None:
		want = classQuiet
	case a.agg != nil:
		want = classAggregated
	}
	if want == a.class {
		return
	}
	if a.class >= 0 {
		e.evictable[a.class].remove(a)
	}
	if want >= 0 {
		e.evictable[want].push(a)
	}
	a.class = want
}

func (e *engine) track(a *alert) {
	a.tracked = true
	e.alerts[a.fp] = a
}

func (e *engine) untrack(a *alert) {
	if e.alerts[a.fp] == a {
		delete(e.alerts, a.fp)
	}
	a.tracked = false
	e.relist(a)
	e.untracked(a)
}

// release stops tracking inc's alerts; those kept only in an aggregate are
// dropped (the aggregate keeps their count).
func (e *engine) release(inc *incident) {
	for _, a := range inc.alerts {
		if a.tracked {
			e.untrack(a)
		}
	}
	for _, a := range inc.light {
		inc.count(a, -1)
		a.ref.Firing = false
		e.untrack(a)
	}
	clear(inc.light)
	inc.light = inc.light[:0]
}

// admit makes room for a new alert graded sev. Below the cap it does
// nothing; at the cap it evicts the oldest cleared alert, else the oldest
// firing alert graded None, else — for a signal graded General or above —
// the oldest firing alert kept only in an aggregate. A signal graded General
// or above is admitted even when nothing can be evicted: the board is never
// blind to what pages. It reports false when the signal must be refused.
func (e *engine) admit(sev Severity, now time.Time) bool {
	for len(e.alerts) >= e.maxAlerts {
		v := e.evictable[classCleared].head
		if v == nil {
			v = e.evictable[classQuiet].head
		}
		if v == nil && sev >= General {
			v = e.evictable[classAggregated].head
		}
		if v == nil {
			return sev >= General
		}
		n := len(e.alerts)
		e.evict(v, now)
		if len(e.alerts) >= n {
			return sev >= General // never expected; never spin
		}
	}
	return true
}

func (e *engine) evict(a *alert, now time.Time) {
	inc := a.inc
	inc.dirty = true
	if a.ref.Firing {
		inc.count(a, -1)
		a.ref.Firing = false
		a.ref.ClearedAt = now
		a.evidence = false
	}
	e.untrack(a)
	if a.agg != nil {
		last := inc.light[len(inc.light)-1]
		inc.light[a.pos], last.pos = last, a.pos
		inc.light[len(inc.light)-1] = nil
		inc.light = inc.light[:len(inc.light)-1]
	}
	e.evicted++
	e.line(inc, now, EventSignal, systemActor, fmt.Sprintf("%s for %s no longer tracked: the board holds %d alerts (WithMaxAlerts)", a.ref.Kind, alertWho(&a.ref), e.maxAlerts), false)
	e.hold(inc, now)
	e.schedule(inc)
}

// refuse counts a refused signal and raises the board's overflow alert.
func (e *engine) refuse(now time.Time) {
	e.refused++
	e.lastRefusal = now
	e.overflowFiring = true
	s := e.overflowSignal(true, now)
	fp := e.fingerprint(&s)
	if a := e.alerts[fp]; a == nil || !e.repeat(a, &s) {
		e.reportSlow(fp, &s, now, true)
	}
}

func (e *engine) overflowSignal(firing bool, now time.Time) Signal {
	return Signal{Kind: KindBoardOverflow, Component: systemActor, Tier: Standard, Firing: firing, Value: float64(e.refused), Time: now,
		Summary: fmt.Sprintf("the board refused %d signals graded none: it tracks %d alerts (WithMaxAlerts)", e.refused, e.maxAlerts)}
}
