package firebreak

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The plan's organisation: fault categories and the groups responsible for
// them, the directory of people and vendors, and the business owner's
// verification before an incident closes.

// Category is a fault category of the plan: which kind of fault an incident
// is, and so which group answers it. The built-in categories are
// [CategoryHardware], [CategorySoftware], [CategoryNetwork] and
// [CategoryData]; a plan may add its own in [Categories].Groups. The empty
// Category means "not categorised" (user feedback, say, says nothing about
// the kind of fault).
type Category string

// The plan's four fault categories.
const (
	CategoryHardware Category = "hardware" // servers, disks, power: the hardware maintenance group
	CategorySoftware Category = "software" // code, releases, configuration: the software repair group
	CategoryNetwork  Category = "network"  // links, traffic floods: the network group
	CategoryData     Category = "data"     // lost or corrupt data, backups: the data recovery group
)

// Valid reports whether c is a well-formed category name: lower-case
// letters, digits and underscores, 1 to 32 of them. (Whether the plan knows
// it is [Categories.Known].)
func (c Category) Valid() bool {
	if c == "" || len(c) > 32 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if ch := c[i]; !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '_') {
			return false
		}
	}
	return true
}

// UnmarshalText implements [encoding.TextUnmarshaler]: it accepts a valid
// name or "" (not categorised).
func (c *Category) UnmarshalText(b []byte) error {
	v := Category(b)
	if v != "" && !v.Valid() {
		return fmt.Errorf("firebreak: %q is not a category (lower-case letters, digits and underscores, 1 to 32)", string(b))
	}
	*c = v
	return nil
}

// LabelCategory is the signal label that names a signal's category
// outright, overriding the plan's table of kinds: a health check of a
// database's backups reports "category": "data".
const LabelCategory = "category"

// Categories is the plan's first and fourth chapters as data: which fault
// category each kind of signal points to, and which group is responsible for
// each category. The command centre still decides severity (the plan's
// rules); the category decides who is called to fix it.
//
// An incident's category is that of its worst-graded alert whose category
// is known: the alert's [LabelCategory] label if it names a category the
// plan knows, else Kinds[alert kind]. A person's choice
// ([Board.SetCategory]) is kept from then on.
type Categories struct {
	// Kinds maps a signal kind to its category; a kind not listed, or
	// listed as "", is not categorised. In a plan document, the entries
	// given are merged onto the default table.
	Kinds map[Kind]Category `json:"kinds"`
	// Groups names the group responsible for each category; its keys are
	// the categories the plan knows. In a plan document, the entries given
	// are merged onto the default groups.
	Groups map[Category]string `json:"groups"`
}

// DefaultCategories returns the default table, a new one each call:
//
//   - software (software repair group): breaker_open, error_budget_burn,
//     latency_slo_burn, rollback, rollback_failed, analysis_inconclusive,
//     degraded, fallback_active, failover — a dependency call that fails,
//     a release that misbehaves, a function switched off;
//   - hardware (hardware maintenance group): health_failed — resource
//     checks (CPU, memory, disk) are the health package's first job; a check
//     of something else says so with a "category" label;
//   - network (network group): load_shed — a traffic flood;
//   - data (data recovery group): no kind by default; backup freshness and
//     integrity checks report "category": "data";
//   - not categorised: user_feedback and board_overflow.
//
// Hardware and supplies that must be bought or shipped are the logistics
// support group's part of the plan: add a category for it
// ("groups": {"logistics": "logistics support group"}) and label the
// signals that need it.
func DefaultCategories() Categories {
	sw := CategorySoftware
	return Categories{
		Kinds: map[Kind]Category{
			KindBreakerOpen: sw, KindErrorBudgetBurn: sw, KindLatencySLOBurn: sw, KindRollback: sw,
			KindRollbackFailed: sw, KindAnalysisInconclusive: sw, KindDegraded: sw, KindFallbackActive: sw,
			KindFailover: sw, KindHealthFailed: CategoryHardware, KindLoadShed: CategoryNetwork,
		},
		Groups: map[Category]string{
			CategoryHardware: "hardware maintenance group",
			CategorySoftware: "software repair group",
			CategoryNetwork:  "network group",
			CategoryData:     "data recovery group",
		},
	}
}

// Known reports whether the plan names a group for category c.
func (cs Categories) Known(c Category) bool {
	_, ok := cs.Groups[c]
	return ok && c != ""
}

// Of returns the category of an alert of kind k with the given labels: the
// "category" label if it names a known category, else the kind's entry.
func (cs Categories) Of(k Kind, labels map[string]string) Category {
	if c := Category(labels[LabelCategory]); c != "" && cs.Known(c) {
		return c
	}
	return cs.Kinds[k]
}

// Group returns the group responsible for category c, or "".
func (cs Categories) Group(c Category) string { return cs.Groups[c] }

// Contact is one entry of the plan's [Directory]: a person, a team's
// rota or an outside vendor.
type Contact struct {
	// Name is unique in the directory (compared without case). Required.
	Name string `json:"name"`
	// Role is what the contact is called on as, e.g. "technical lead",
	// "DBA on call".
	Role string `json:"role,omitempty"`
	// Skills are what the contact is an expert in, e.g. "postgres".
	Skills []string `json:"skills,omitempty"`
	// Contact is how to reach them: an address, a phone number, a pager
	// service. Required.
	Contact string `json:"contact"`
	// Vendor marks an outside vendor (a support contract, not staff).
	Vendor bool `json:"vendor,omitempty"`
}

// Directory lists the people, experts and outside vendors a plan can call
// on. Lookups compare without case and return entries in directory order;
// the results are copies.
type Directory []Contact

// Person returns the contact with the given name.
func (d Directory) Person(name string) (Contact, bool) {
	for _, c := range d {
		if strings.EqualFold(c.Name, name) {
			return c.clone(), true
		}
	}
	return Contact{}, false
}

// Find returns the contacts whose role is roleOrSkill, then those that
// list it among their skills; none for "".
func (d Directory) Find(roleOrSkill string) []Contact {
	q := strings.TrimSpace(roleOrSkill)
	if q == "" {
		return nil
	}
	var out []Contact
	for _, c := range d {
		if strings.EqualFold(c.Role, q) {
			out = append(out, c.clone())
		}
	}
	for _, c := range d {
		if !strings.EqualFold(c.Role, q) && slices.ContainsFunc(c.Skills, func(s string) bool { return strings.EqualFold(s, q) }) {
			out = append(out, c.clone())
		}
	}
	return out
}

// Resolve returns whom a target names, for escalation steps that say
// "page X": the person named X if there is one, else everyone Find(X)
// returns, else none.
func (d Directory) Resolve(target string) []Contact {
	if c, ok := d.Person(target); ok {
		return []Contact{c}
	}
	return d.Find(target)
}

func (c Contact) clone() Contact {
	c.Skills = slices.Clone(c.Skills)
	return c
}

// validateOrg checks the plan's categories and directory for Validate.
func (p *Plan) validateOrg(add func(path, format string, args ...any)) {
	cs := p.Categories
	if len(cs.Groups) == 0 && len(cs.Kinds) > 0 {
		add("categories.groups", "empty: every category needs a responsible group")
	}
	for _, c := range slices.Sorted(maps.Keys(cs.Groups)) {
		path := "categories.groups." + string(c)
		if !c.Valid() {
			add(path, "%q is not a category (lower-case letters, digits and underscores, 1 to 32)", c)
		}
		if strings.TrimSpace(cs.Groups[c]) == "" {
			add(path, "required: the group responsible for %s faults", c)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(cs.Kinds)) {
		path := "categories.kinds." + string(k)
		if !k.Valid() {
			add(path, "%q is not a kind (lower-case letters, digits and underscores, 1 to 64)", k)
		}
		if c := cs.Kinds[k]; c != "" && !cs.Known(c) {
			add(path, "category %q has no group in categories.groups", c)
		}
	}
	seen := map[string]int{}
	for i, c := range p.Directory {
		path := fmt.Sprintf("directory[%d]", i)
		name := strings.ToLower(strings.TrimSpace(c.Name))
		switch j, dup := seen[name]; {
		case name == "":
			add(path+".name", "required: who this is")
		case dup:
			add(path+".name", "%q is already directory[%d]: names must be unique", c.Name, j)
		default:
			seen[name] = i
		}
		if strings.TrimSpace(c.Contact) == "" {
			add(path+".contact", "required: how to reach %s", cmp.Or(c.Name, "them"))
		}
		for j, s := range c.Skills {
			if strings.TrimSpace(s) == "" {
				add(fmt.Sprintf("%s.skills[%d]", path, j), "empty skill")
			}
		}
	}
}

// cloneOrg deep-copies the organisation into c, for Clone.
func (p *Plan) cloneOrg(c *Plan) {
	c.Categories.Kinds = maps.Clone(p.Categories.Kinds)
	c.Categories.Groups = maps.Clone(p.Categories.Groups)
	c.Directory = slices.Clone(p.Directory)
	for i := range c.Directory {
		c.Directory[i] = c.Directory[i].clone()
	}
}

// decodeOrg fills in the organisation from a plan document, for ParsePlan:
// categories are merged onto the defaults entry by entry, the directory is
// exactly as written.
func decodeOrg(data []byte, p *Plan, decodeOnto func(json.RawMessage, any)) {
	var parts struct {
		Categories        json.RawMessage `json:"categories"`
		Directory         json.RawMessage `json:"directory"`
		VerifyBeforeClose bool            `json:"verify_before_close"`
	}
	if json.Unmarshal(data, &parts) != nil {
		return // ParsePlan has already reported it
	}
	p.Categories = DefaultCategories()
	decodeOnto(parts.Categories, &p.Categories)
	decodeOnto(parts.Directory, &p.Directory)
	p.VerifyBeforeClose = parts.VerifyBeforeClose
}

// orgState is the engine's record of how an incident's category was set.
type orgState struct {
	byHand bool     // a person chose it: derivation stops
	sev    Severity // the grade of the alert that decided it
}

// Timeline events of the organisation.
const (
	EventCategorized Event = "categorized" // the category (and so the responsible group) changed
	EventVerified    Event = "verified"    // the business owner confirmed the fix
)

// categorize derives inc's category from alert a, which fired or was
// regraded: the worst-graded categorised alert decides.
func (e *engine) categorize(inc *incident, a *alert, now time.Time) {
	if inc.org.byHand {
		return
	}
	cs := &e.plan.Categories
	c := cs.Of(a.ref.Kind, a.ref.Labels)
	if c == "" || (inc.Category != "" && a.ref.Severity <= inc.org.sev) {
		return
	}
	inc.org.sev = a.ref.Severity
	if c == inc.Category {
		return
	}
	if inc.Category != "" {
		e.line(inc, now, EventCategorized, systemActor, fmt.Sprintf("category %s → %s (%s): %s from %s graded %s",
			inc.Category, c, cs.Group(c), a.ref.Kind, alertWho(&a.ref), a.ref.Severity), true)
	}
	inc.Category, inc.Group = c, cs.Group(c)
}

// ErrNotVerified is returned, wrapped, by [Board.CloseWith] for an incident
// the plan wants verified ([ResponsePolicy].Verify, [Plan].VerifyBeforeClose)
// that nobody has verified with [Board.Verify]. It wraps [ErrTransition].
var ErrNotVerified = fmt.Errorf("%w: the business owner has not verified the fix", ErrTransition)

// needsVerify reports whether the plan wants inc verified before it closes:
// at its current severity, the one people settled on.
func (e *engine) needsVerify(inc *incident) bool {
	return e.plan.VerifyBeforeClose || e.plan.Response[inc.Severity].Verify
}

func (e *engine) checkVerified(inc *incident) error {
	if e.needsVerify(inc) && inc.VerifiedAt.IsZero() {
		return fmt.Errorf("%w: cannot close incident %s until the business owner verifies the fix (Verify)", ErrNotVerified, inc.ID)
	}
	return nil
}

func (e *engine) setCategory(inc *incident, by string, c Category, reason string, now time.Time) (Event, error) {
	if inc.State == Closed {
		return "", transitionError(inc, "change the category of")
	}
	from := cmp.Or(string(inc.Category), "none")
	inc.org.byHand = true
	inc.Category, inc.Group = c, e.plan.Categories.Group(c)
	e.line(inc, now, EventCategorized, by, fmt.Sprintf("category %s → %s (%s): %s", from, c, inc.Group, reason), true)
	return "", nil
}

func (e *engine) verify(inc *incident, by, note string, now time.Time) (Event, error) {
	if inc.State != Resolved {
		return "", transitionError(inc, "verify")
	}
	if !inc.VerifiedAt.IsZero() {
		return "", fmt.Errorf("%w: incident %s was already verified by %s", ErrTransition, inc.ID, inc.VerifiedBy)
	}
	inc.VerifiedAt, inc.VerifiedBy = now, by
	text := "fix verified by " + by
	if note != "" {
		text += ": " + note
	}
	e.line(inc, now, EventVerified, by, text, true)
	return "", nil
}

// SetCategory sets an incident's fault category by hand, and with it the
// responsible group; the board derives it no more for that incident. The
// category must be one the plan knows (a key of Categories.Groups); the
// reason is kept in the timeline. The change is recorded, not notified: the
// incident's next notification carries the new category and group.
func (b *Board) SetCategory(id, by string, c Category, reason string) error {
	if err := requireActor(by); err != nil {
		return err
	}
	if !b.plan.Categories.Known(c) {
		known := slices.Sorted(maps.Keys(b.plan.Categories.Groups))
		return fmt.Errorf("firebreak: SetCategory: category %q is not in the plan (want one of %v)", c, known)
	}
	if strings.TrimSpace(reason) == "" {
		return errors.New("firebreak: SetCategory: a reason is required")
	}
	if err := checkText("reason", reason); err != nil {
		return err
	}
	return b.actionOp(id, SharedAction{Op: OpSetCategory, By: by, To: string(c), Note: reason}, func(inc *incident, now time.Time) (Event, error) { return b.eng.setCategory(inc, by, c, reason, now) })
}

// Verify records that the business owner has confirmed the fix of a
// resolved incident: "verified by … at …" in the timeline and in the
// report. Where the plan asks for it, [Board.CloseWith] refuses to close an
// incident until then ([ErrNotVerified]). A reopened incident needs
// verifying again.
func (b *Board) Verify(id, by, note string) error {
	if err := requireActor(by); err != nil {
		return err
	}
	if err := checkText("note", note); err != nil {
		return err
	}
	return b.actionOp(id, SharedAction{Op: OpVerify, By: by, Note: note}, func(inc *incident, now time.Time) (Event, error) { return b.eng.verify(inc, by, note, now) })
}

// MatchLabels returns the labels an incident is matched on by routes and
// escalation: service, env, fault_domain, severity, level, category, group
// and state; a label with no value is left out. The result is a new map.
func (inc *Incident) MatchLabels() map[string]string {
	m := make(map[string]string, 8)
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("service", inc.Service)
	set("env", inc.Env)
	set("fault_domain", inc.FaultDomain)
	set("severity", inc.Severity.String())
	set("level", strconv.Itoa(inc.Level))
	set("category", string(inc.Category))
	set("group", inc.Group)
	set("state", inc.State.String())
	return m
}

// markdownOrg writes the report's category and verification lines.
func (r *Report) markdownOrg(b *strings.Builder) {
	if r.Category != "" {
		fmt.Fprintf(b, "- Category: %s (%s)\n", md(string(r.Category)), md(r.Group))
	}
	if !r.VerifiedAt.IsZero() {
		fmt.Fprintf(b, "- Verified by %s at %s\n", md(r.VerifiedBy), r.VerifiedAt.UTC().Format(time.RFC3339))
	}
}

// Actions of the organisation named to an [Authorizer].
const (
	ActionCategory = "category"
	ActionVerify   = "verify"
)

func (api *opsAPI) category(w http.ResponseWriter, r *http.Request, who string) {
	var body struct {
		Category Category `json:"category"`
		Reason   string   `json:"reason"`
	}
	if !decode(w, r, &body) || !textOK(w, "reason", body.Reason) {
		return
	}
	if body.Category == "" {
		writeError(w, http.StatusBadRequest, "category is required")
		return
	}
	api.done(w, r, api.b.SetCategory(r.PathValue("id"), who, body.Category, body.Reason))
}

func (api *opsAPI) verify(w http.ResponseWriter, r *http.Request, who string) {
	var body struct {
		Note string `json:"note"`
	}
	if decode(w, r, &body) && textOK(w, "note", body.Note) {
		api.done(w, r, api.b.Verify(r.PathValue("id"), who, body.Note))
	}
}
