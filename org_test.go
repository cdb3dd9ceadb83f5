package firebreak_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// traffic reports s every interval for d, as a sensor repeating a firing
// signal does.
func traffic(b *firebreak.Board, s firebreak.Signal, every, d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(every) {
		b.Report(s)
	}
}

func hasEntry(inc firebreak.Incident, ev firebreak.Event, actor, note string) bool {
	return slices.ContainsFunc(inc.Timeline, func(e firebreak.Entry) bool {
		return e.Event == ev && (actor == "" || e.Actor == actor) && strings.Contains(e.Note, note)
	})
}

// A disk check of the payments database fails for ten minutes (hardware,
// General); then its breaker opens with no fallback (software, Fatal). The
// incident is the hardware group's until the worse alert makes it the
// software group's, and each notification says whose it is.
func TestCategoryFollowsWorstAlert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		disk := firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "checkout-api", Dependency: "payments-db",
			Tier: firebreak.Core, Firing: true, Summary: "disk 97% full"}
		traffic(b, disk, 10*time.Second, 10*time.Minute)
		synctest.Wait()
		inc := only(t, b)
		if inc.Category != firebreak.CategoryHardware || inc.Group != "hardware maintenance group" {
			t.Fatalf("after the disk check: category %q group %q, want hardware, hardware maintenance group", inc.Category, inc.Group)
		}
		notes := s.all()
		if len(notes) == 0 || notes[0].Event != firebreak.EventDetected || notes[0].Incident.Group != "hardware maintenance group" {
			t.Fatalf("announcement does not name the hardware group: %+v", notes)
		}

		breaker := firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "checkout-api", Dependency: "payments-db",
			Tier: firebreak.Core, Firing: true}
		traffic(b, breaker, time.Second, time.Minute)
		synctest.Wait()
		inc = only(t, b)
		if inc.Severity != firebreak.Fatal || inc.Category != firebreak.CategorySoftware || inc.Group != "software repair group" {
			t.Fatalf("after the breaker: %s, category %q group %q; want fatal, software, software repair group", inc.Severity, inc.Category, inc.Group)
		}
		if !hasEntry(inc, firebreak.EventCategorized, "firebreak", "category hardware → software (software repair group)") {
			t.Fatalf("no categorized entry in the timeline: %+v", inc.Timeline)
		}
		i := slices.IndexFunc(s.all(), func(n firebreak.Notification) bool { return n.Event == firebreak.EventEscalated })
		if i < 0 || s.all()[i].Incident.Group != "software repair group" {
			t.Fatalf("escalation does not name the software group")
		}

		// A General load shed joining does not take it from the software group.
		shed := firebreak.Signal{Kind: firebreak.KindLoadShed, Component: "gateway", Dependency: "payments-db", Tier: firebreak.Standard, Firing: true}
		traffic(b, shed, time.Second, time.Minute)
		synctest.Wait()
		if inc := only(t, b); inc.Category != firebreak.CategorySoftware {
			t.Fatalf("a lesser alert changed the category to %q", inc.Category)
		}
	})
}

// A backup check labels itself "data"; a label naming no category of the
// plan is ignored in favour of the kind's entry; user feedback has none.
func TestCategoryLabelOverridesKind(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kind  firebreak.Kind
		label string
		want  firebreak.Category
		group string
	}{
		{"backup check", firebreak.KindHealthFailed, "data", firebreak.CategoryData, "data recovery group"},
		{"unknown label", firebreak.KindHealthFailed, "plumbing", firebreak.CategoryHardware, "hardware maintenance group"},
		{"shed", firebreak.KindLoadShed, "", firebreak.CategoryNetwork, "network group"},
		{"feedback", firebreak.KindUserFeedback, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, _ := newBoard(t)
				sig := firebreak.Signal{Kind: tc.kind, Component: "ledger", Tier: firebreak.Core, Firing: true}
				if tc.label != "" {
					sig.Labels = map[string]string{firebreak.LabelCategory: tc.label}
				}
				traffic(b, sig, 15*time.Second, 5*time.Minute)
				synctest.Wait()
				inc := only(t, b)
				if inc.Category != tc.want || inc.Group != tc.group {
					t.Fatalf("category %q group %q, want %q %q", inc.Category, inc.Group, tc.want, tc.group)
				}
			})
		})
	}
}

// A person's category stays, whatever joins later.
func TestSetCategory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		traffic(b, signalFor(firebreak.General), 10*time.Second, 2*time.Minute)
		id := only(t, b).ID
		if err := b.SetCategory(id, "lead", firebreak.CategoryNetwork, "the database host lost its uplink"); err != nil {
			t.Fatal(err)
		}
		traffic(b, signalFor(firebreak.Fatal), time.Second, time.Minute)
		synctest.Wait()
		inc := only(t, b)
		if inc.Severity != firebreak.Fatal || inc.Category != firebreak.CategoryNetwork || inc.Group != "network group" {
			t.Fatalf("%s category %q group %q, want fatal network", inc.Severity, inc.Category, inc.Group)
		}
		if !hasEntry(inc, firebreak.EventCategorized, "lead", "category software → network (network group): the database host lost its uplink") {
			t.Fatalf("timeline lacks the change: %+v", inc.Timeline)
		}
		for name, err := range map[string]error{
			"unknown":   b.SetCategory(id, "lead", "plumbing", "x"),
			"no reason": b.SetCategory(id, "lead", firebreak.CategoryData, " "),
			"nobody":    b.SetCategory(id, "", firebreak.CategoryData, "x"),
		} {
			if err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		if err := b.SetCategory("INC-9999", "lead", firebreak.CategoryData, "x"); !errors.Is(err, firebreak.ErrNotFound) {
			t.Errorf("unknown incident: %v", err)
		}
		if err := b.Resolve(id, "lead", "uplink restored"); err != nil {
			t.Fatal(err)
		}
		rep, err := b.CloseWith(id, "lead", firebreak.ReportInput{RootCause: "uplink"})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Category != firebreak.CategoryNetwork || !strings.Contains(rep.Markdown(), "- Category: network (network group)") {
			t.Fatalf("report lacks the category: %q %q", rep.Category, rep.Markdown())
		}
		if err := b.SetCategory(id, "lead", firebreak.CategoryData, "x"); !errors.Is(err, firebreak.ErrTransition) {
			t.Fatalf("closed incident: %v, want ErrTransition", err)
		}
	})
}

func TestIncidentMatchLabels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		traffic(b, signalFor(firebreak.Fatal), time.Second, time.Minute)
		inc := only(t, b)
		got := inc.MatchLabels()
		want := map[string]string{"service": "checkout", "env": "prod", "fault_domain": "payments-db", "severity": "fatal",
			"level": "1", "category": "software", "group": "software repair group", "state": "detected"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("MatchLabels = %v, want %v", got, want)
		}
		ms, err := firebreak.ParseMatchers(`{category="software",group=~"software.*",severity!="general"}`)
		if err != nil {
			t.Fatal(err)
		}
		if !ms.Matches(got) {
			t.Fatalf("%v does not match %v", ms, got)
		}
		other, _ := firebreak.ParseMatchers(`{category="network"}`)
		if other.Matches(got) {
			t.Fatal("network matcher matched a software incident")
		}
	})
}

func TestDirectory(t *testing.T) {
	p, err := firebreak.ParsePlan([]byte(`{"directory": [
		{"name": "Wang Lei", "role": "technical lead", "skills": ["postgres"], "contact": "+86 10 5555 0101"},
		{"name": "Li Na", "role": "DBA on call", "skills": ["Postgres", "backups"], "contact": "dba@example.com"},
		{"name": "Acme Storage", "role": "storage vendor", "skills": ["san"], "contact": "support@acme.example", "vendor": true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	d := p.Directory
	names := func(cs []firebreak.Contact) (out []string) {
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	if got := names(d.Find("postgres")); !slices.Equal(got, []string{"Wang Lei", "Li Na"}) {
		t.Errorf("Find(postgres) = %v", got)
	}
	if got := names(d.Find("dba on call")); !slices.Equal(got, []string{"Li Na"}) {
		t.Errorf("Find(dba on call) = %v", got)
	}
	if got := d.Find(""); got != nil {
		t.Errorf("Find(\"\") = %v", got)
	}
	if c, ok := d.Person("acme storage"); !ok || !c.Vendor || c.Contact != "support@acme.example" {
		t.Errorf("Person(acme storage) = %+v, %v", c, ok)
	}
	if got := names(d.Resolve("Li Na")); !slices.Equal(got, []string{"Li Na"}) {
		t.Errorf("Resolve(Li Na) = %v", got)
	}
	if got := names(d.Resolve("storage vendor")); !slices.Equal(got, []string{"Acme Storage"}) {
		t.Errorf("Resolve(storage vendor) = %v", got)
	}
	if got := d.Resolve("nobody"); len(got) != 0 {
		t.Errorf("Resolve(nobody) = %v", got)
	}
	// Lookups hand out copies.
	d.Find("postgres")[0].Skills[0] = "changed"
	if p.Directory[0].Skills[0] != "postgres" {
		t.Error("Find shares the directory's skills")
	}
	c := p.Clone()
	c.Directory[0].Skills[0] = "changed"
	c.Categories.Groups[firebreak.CategoryData] = "changed"
	if p.Directory[0].Skills[0] != "postgres" || p.Categories.Groups[firebreak.CategoryData] != "data recovery group" {
		t.Error("Clone shares the organisation")
	}
}

// Every problem in the organisation is reported with its path.
func TestPlanOrgValidation(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want []string // paths, with a word of the message
	}{
		{`{"directory": [{"name": "a", "contact": "x"}, {"name": " A", "contact": "y"}, {"contact": "z"}, {"name": "b", "skills": [""]}]}`,
			[]string{"directory[1].name: \" A\" is already directory[0]", "directory[2].name: required", "directory[3].contact: required",
				"directory[3].skills[0]: empty"}},
		{`{"categories": {"kinds": {"health_failed": "plumbing"}}}`, []string{"categories.kinds.health_failed: category \"plumbing\" has no group"}},
		{`{"categories": {"kinds": {"health_failed": "Bad-Cat"}}}`, []string{"categories.kinds.health_failed: \"Bad-Cat\" is not a category"}},
		{`{"categories": {"groups": {"software": ""}}}`, []string{"categories.groups.software: required"}},
		{`{"categories": {"groups": {"Logistics": "logistics support group"}}}`, []string{"categories.groups.Logistics: not a valid key"}},
		{`{"categories": {"kinds": {"Breaker-Open": "software"}}}`, []string{"categories.kinds.Breaker-Open: \"Breaker-Open\" is not a kind"}},
		{`{"categories": {"colours": {}}}`, []string{"categories.colours: unknown field"}},
		{`{"verify_before_close": "yes"}`, []string{"verify_before_close: want true or false"}},
		{`{"response": {"severe": {"verify": 1}}}`, []string{"response.severe.verify: want true or false"}},
	} {
		_, err := firebreak.ParsePlan([]byte(tc.doc))
		var pe *firebreak.PlanError
		if !errors.As(err, &pe) {
			t.Errorf("%s: err = %v, want a PlanError", tc.doc, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s:\n got %v\nwant %q", tc.doc, err, w)
			}
		}
	}
	// A partial table is merged onto the defaults; "" removes a kind's entry.
	p, err := firebreak.ParsePlan([]byte(`{"categories": {"kinds": {"health_failed": "data", "load_shed": ""},
		"groups": {"logistics": "logistics support group"}}, "verify_before_close": true}`))
	if err != nil {
		t.Fatal(err)
	}
	cs := p.Categories
	if cs.Kinds[firebreak.KindHealthFailed] != firebreak.CategoryData || cs.Kinds[firebreak.KindLoadShed] != "" ||
		cs.Kinds[firebreak.KindBreakerOpen] != firebreak.CategorySoftware || cs.Group("logistics") != "logistics support group" ||
		cs.Group(firebreak.CategoryHardware) != "hardware maintenance group" || !p.VerifyBeforeClose {
		t.Fatalf("merged table wrong: %+v, verify %v", cs, p.VerifyBeforeClose)
	}
	// Plans built in Go are validated the same way.
	bad := firebreak.DefaultPlan()
	bad.Directory = firebreak.Directory{{Name: "x"}}
	if _, err := firebreak.NewBoard("svc", firebreak.WithPlan(bad)); err == nil || !strings.Contains(err.Error(), "directory[0].contact") {
		t.Fatalf("NewBoard with a bad directory: %v", err)
	}
}

// With "verify": true for Severe, a resolved incident stays open to the
// business owner: CloseWith refuses until Verify, and a reopen needs a new
// verification.
func TestVerifyBlocksClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan, err := firebreak.ParsePlan([]byte(`{"response": {"severe": {"verify": true}}}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := newBoard(t, firebreak.WithPlan(plan))
		sev := signalFor(firebreak.Severe)
		traffic(b, sev, time.Second, 10*time.Minute)
		id := only(t, b).ID
		if err := b.Verify(id, "owner", "early"); !errors.Is(err, firebreak.ErrTransition) {
			t.Fatalf("Verify of an open incident: %v, want ErrTransition", err)
		}
		if err := b.Acknowledge(id, "lead"); err != nil {
			t.Fatal(err)
		}
		if err := b.Resolve(id, "lead", "failed over to the replica"); err != nil {
			t.Fatal(err)
		}
		_, err = b.CloseWith(id, "lead", firebreak.ReportInput{RootCause: "primary disk"})
		if !errors.Is(err, firebreak.ErrNotVerified) || !errors.Is(err, firebreak.ErrTransition) || !strings.Contains(err.Error(), id) {
			t.Fatalf("CloseWith unverified: %v, want ErrNotVerified naming %s", err, id)
		}
		if only(t, b).State != firebreak.Resolved {
			t.Fatal("a refused close changed the state")
		}
		// The fault comes back: the fix did not hold, and the owner's word
		// given before it no longer counts.
		time.Sleep(time.Minute)
		if err := b.Verify(id, "owner", "orders flow again"); err != nil {
			t.Fatal(err)
		}
		traffic(b, sev, time.Second, time.Minute)
		inc := only(t, b)
		if inc.State != firebreak.Detected || !inc.VerifiedAt.IsZero() {
			t.Fatalf("after reopen: %s, verified at %v", inc.State, inc.VerifiedAt)
		}
		if err := b.Resolve(id, "lead", "replaced the disk"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.CloseWith(id, "lead", firebreak.ReportInput{}); !errors.Is(err, firebreak.ErrNotVerified) {
			t.Fatalf("CloseWith after reopen: %v, want ErrNotVerified", err)
		}
		at := time.Now()
		if err := b.Verify(id, "owner", "a day of orders without errors"); err != nil {
			t.Fatal(err)
		}
		if err := b.Verify(id, "owner", "again"); !errors.Is(err, firebreak.ErrTransition) {
			t.Fatalf("second Verify: %v, want ErrTransition", err)
		}
		rep, err := b.CloseWith(id, "lead", firebreak.ReportInput{RootCause: "primary disk"})
		if err != nil {
			t.Fatal(err)
		}
		if rep.VerifiedBy != "owner" || !rep.VerifiedAt.Equal(at) {
			t.Fatalf("report verified by %q at %v, want owner at %v", rep.VerifiedBy, rep.VerifiedAt, at)
		}
		if want := "- Verified by owner at " + at.UTC().Format(time.RFC3339); !strings.Contains(rep.Markdown(), want) {
			t.Fatalf("Markdown lacks %q:\n%s", want, rep.Markdown())
		}
		if !hasEntryIn(rep.Timeline, firebreak.EventVerified, "owner", "fix verified by owner: a day of orders without errors") {
			t.Fatalf("timeline lacks the verification: %+v", rep.Timeline)
		}
	})
}

// verify_before_close asks it of every severity; without it, nothing waits.
func TestVerifyBeforeClose(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want bool
	}{{`{"verify_before_close": true}`, true}, {`{}`, false}, {`{"response": {"fatal": {"verify": true}}}`, false}} {
		synctest.Test(t, func(t *testing.T) {
			plan, err := firebreak.ParsePlan([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := newBoard(t, firebreak.WithPlan(plan))
			traffic(b, signalFor(firebreak.General), 10*time.Second, 5*time.Minute)
			id := only(t, b).ID
			if err := b.Resolve(id, "engineer", "restarted"); err != nil {
				t.Fatal(err)
			}
			_, err = b.CloseWith(id, "engineer", firebreak.ReportInput{})
			if got := errors.Is(err, firebreak.ErrNotVerified); got != tc.want {
				t.Fatalf("%s: CloseWith = %v, want ErrNotVerified %v", tc.doc, err, tc.want)
			}
		})
	}
}

func hasEntryIn(tl []firebreak.Entry, ev firebreak.Event, actor, note string) bool {
	return hasEntry(firebreak.Incident{Timeline: tl}, ev, actor, note)
}
