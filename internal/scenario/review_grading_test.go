package scenario

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// The grading review (core engine): what the SDK tells ops, played through
// the real breaker and tracing observers into a Board with the default plan.

// A flood of 30,000 distinct label sets (three times the Board's default
// WithMaxAlerts) on one kind (a standard-tier
// component burning per route) arrives while a core dependency goes fully
// down. The real outage is still announced Fatal within 2 minutes, and the
// Board stays bounded: no incident lists more than MaxAlertsPerIncident
// alerts in full.
func TestReviewGradingLabelFloodDoesNotHideFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newReviewed(w, d, svcOpts{})
		driveAll(rate, warm/2, s)
		onset := time.Now()
		d.set(1, false)
		for i := range 30000 {
			w.board.Report(firebreak.Signal{Kind: firebreak.KindErrorBudgetBurn, Component: "search", Dependency: "index",
				Tier: firebreak.Standard, Firing: true, Value: 20, Labels: map[string]string{"slo": "availability", "route": fmt.Sprintf("GET /r/%d", i)}})
		}
		driveAll(rate, 3*time.Minute, s)
		n, ok := w.rec.firstSince(onset, firebreak.Fatal)
		if !ok {
			t.Fatalf("core outage during a label flood never announced Fatal:%s", w.describe())
		}
		if got := n.At.Sub(onset); got > 2*time.Minute {
			t.Fatalf("Fatal announced %v after onset, want within 2m", got)
		}
		if n.Incident.FaultDomain != "payments" && !timelineHas(n.Incident, "payments") {
			t.Errorf("the Fatal is not the payments outage: %s %s", n.Incident.FaultDomain, n.Incident.Title)
		}
		if st := w.board.Stats(); st.Alerts > 10000+100 {
			t.Errorf("board tracks %d alerts after a 3x10k flood, want about its 10k bound", st.Alerts)
		} else {
			t.Logf("tracked %d alerts, evicted %d, dropped %d", st.Alerts, st.AlertsEvicted, st.AlertsDropped)
		}
		for _, inc := range w.board.List(firebreak.Filter{}) {
			if len(inc.Alerts) > firebreak.MaxAlertsPerIncident+len(inc.Alerts)/1000 && len(inc.Alerts) > firebreak.MaxAlertsPerIncident+10 {
				t.Errorf("incident %s lists %d alerts, want at most about %d", inc.ID, len(inc.Alerts), firebreak.MaxAlertsPerIncident)
			}
		}
		t.Logf("Fatal %v after onset; %s", n.At.Sub(onset), w.describe())
	})
}

// Two components depend on payments; a silence names only one of them. When
// payments goes fully down, the other component's Fatal still pages.
func TestReviewGradingSilenceOnOneComponentDoesNotHideAnother(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		a := newReviewed(w, d, svcOpts{name: "checkout-api"})
		b := newReviewed(w, d, svcOpts{name: "orders"})
		driveAll(rate, warm/2, a, b)
		if _, err := w.board.Silence(firebreak.Silence{
			Matchers:  firebreak.Matchers{{Name: "component", Value: "orders"}},
			EndsAt:    time.Now().Add(2 * time.Hour),
			CreatedBy: "alice", Comment: "orders migration",
		}); err != nil {
			t.Fatal(err)
		}
		onset := time.Now()
		d.set(1, false)
		driveAll(rate, 3*time.Minute, a, b)
		n, ok := w.rec.firstSince(onset, firebreak.Fatal)
		if !ok {
			t.Fatalf("a silence on orders hid checkout-api's Fatal:%s", w.describe())
		}
		if got := n.At.Sub(onset); got > 2*time.Minute {
			t.Fatalf("Fatal announced %v after onset, want within 2m", got)
		}
	})
}

// An unacknowledged Fatal breaches its 10-minute deadline exactly once; one
// acknowledged before it never breaches.
func TestReviewGradingFatalBreachesOnceUnlessAcknowledged(t *testing.T) {
	for _, ack := range []bool{false, true} {
		t.Run(fmt.Sprintf("ack=%v", ack), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				d := newDep()
				s := newReviewed(w, d, svcOpts{})
				driveAll(rate, warm/2, s)
				onset := time.Now()
				d.set(1, false)
				driveAll(rate, 2*time.Minute, s)
				n, ok := w.rec.firstSince(onset, firebreak.Fatal)
				if !ok {
					t.Fatalf("no Fatal:%s", w.describe())
				}
				if gw := time.Duration(firebreak.DefaultPlan().Timers.GroupWait); n.At.Sub(n.Incident.DetectedAt) > gw {
					t.Errorf("announced %v after detection, want within the plan's group wait %v", n.At.Sub(n.Incident.DetectedAt), gw)
				}
				if ack {
					if err := w.board.Acknowledge(n.Incident.ID, "alice"); err != nil {
						t.Fatal(err)
					}
				}
				driveAll(rate, 40*time.Minute, s)
				var breaches []firebreak.Notification
				for _, x := range w.rec.all() {
					if x.Event == firebreak.EventBreached && x.Incident.ID == n.Incident.ID {
						breaches = append(breaches, x)
					}
				}
				if ack {
					if len(breaches) != 0 {
						t.Fatalf("acknowledged Fatal breached %d times:%s", len(breaches), w.describe())
					}
					return
				}
				if len(breaches) != 1 {
					t.Fatalf("unacknowledged Fatal breached %d times, want 1:%s", len(breaches), w.describe())
				}
				// The response clock starts at detection (incident.md: DetectedAt +
				// ResponseWithin), not at the announcement a group wait later.
				if got := breaches[0].At.Sub(n.Incident.DetectedAt); got < 10*time.Minute || got > 10*time.Minute+time.Second {
					t.Errorf("breached %v after detection, want at its 10m deadline", got)
				}
				if !n.Incident.ResponseDue.Equal(n.Incident.DetectedAt.Add(10 * time.Minute)) {
					t.Errorf("response deadline %v, want detection + 10m", w.since(n.Incident.ResponseDue))
				}
			})
		})
	}
}

// The only replica restarts 5 minutes into an unacknowledged core outage:
// its Board comes back from the shared store, the service's breaker and
// observer start fresh. The fault is still one incident (no second
// announcement), and its 10-minute response deadline, counted from the
// first detection, breaches exactly once.
func TestReviewGradingDeadlineSurvivesRestartFromStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, err := firebreak.NewMemoryStore(2*time.Second, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		boot := func() *world {
			b, err := firebreak.NewBoard("shop", firebreak.WithEnv("prod"), firebreak.WithNotifier(rec), firebreak.WithStore(st))
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close(context.Background()) })
			return &world{t: t, start: time.Now(), board: b, rec: rec}
		}
		w := boot()
		d := newDep()
		s := newReviewed(w, d, svcOpts{})
		driveAll(rate, warm/2, s)
		onset := time.Now()
		d.set(1, false)
		driveAll(rate, 5*time.Minute, s)
		first, ok := rec.firstSince(onset, firebreak.Fatal)
		if !ok {
			t.Fatalf("no Fatal before the restart:%s", w.describe())
		}
		if err := w.board.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		w2 := boot()
		w2.start = w.start
		s2 := newReviewed(w2, d, svcOpts{})
		driveAll(rate, 30*time.Minute, s2)
		if n := rec.count(firebreak.EventDetected); n != 1 {
			t.Errorf("%d announcements, want 1 (the restart opened another incident):%s", n, w2.describe())
		}
		var breaches []firebreak.Notification
		for _, x := range rec.all() {
			if x.Event == firebreak.EventBreached {
				breaches = append(breaches, x)
			}
		}
		if len(breaches) != 1 {
			t.Fatalf("%d breaches, want 1:%s", len(breaches), w2.describe())
		}
		if got := breaches[0].At.Sub(first.Incident.DetectedAt); got < 10*time.Minute || got > 10*time.Minute+5*time.Second {
			t.Errorf("breached %v after detection, want at its 10m deadline", got)
		}
		if breaches[0].Incident.ID != first.Incident.ID {
			t.Errorf("breach for %s, announced %s", breaches[0].Incident.ID, first.Incident.ID)
		}
	})
}

// A silence on payments, set before the outage, keeps the outage from paging
// but not from being recorded; when it ends on time with payments still
// down, the Fatal is announced within a minute, once.
func TestReviewGradingSilenceBeforeOutageEndsOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newReviewed(w, d, svcOpts{})
		driveAll(rate, warm/2, s)
		ends := time.Now().Add(15 * time.Minute)
		if _, err := w.board.Silence(firebreak.Silence{
			Matchers: firebreak.Matchers{{Name: "dependency", Value: "payments"}},
			EndsAt:   ends, CreatedBy: "alice", Comment: "CHG-11 payments cutover",
		}); err != nil {
			t.Fatal(err)
		}
		driveAll(rate, time.Minute, s)
		d.set(1, false)
		driveAll(rate, time.Until(ends)-time.Second, s)
		if ps := pages(w.rec.all()); len(ps) != 0 {
			t.Fatalf("silenced outage paged:%s", w.describe())
		}
		inc, ok := w.incidentIn("payments")
		if !ok {
			t.Fatal("silenced outage not recorded")
		}
		worst := firebreak.None
		for _, a := range inc.Alerts {
			worst = max(worst, a.Severity)
		}
		t.Logf("while silenced: incident %s severity %s, worst alert %s, public %q", inc.ID, inc.Severity, worst, w.board.PublicStatus().Status)
		if worst != firebreak.Fatal {
			t.Errorf("silenced outage's alerts graded %s, want the record to keep Fatal", worst)
		}
		driveAll(rate, 3*time.Minute, s)
		after := w.rec.pagesSince(ends)
		if len(after) == 0 || after[0].At.Sub(ends) > time.Minute {
			t.Fatalf("silence ended with payments down: want a page within 1m:%s", w.describe())
		}
		if n := w.rec.count(firebreak.EventDetected); n != 1 || after[0].Incident.Severity != firebreak.Fatal {
			t.Errorf("%d announcements, first page %s %s, want one Fatal announcement:%s", n, after[0].Event, after[0].Incident.Severity, w.describe())
		}
		t.Logf("%s", w.describe())
	})
}

// Finding (design decision, not fixed): a silence mutes grading, not only
// paging. With payments 100% down for 14 minutes under a silence on
// dependency=payments, the incident's Severity is none (its breaker alert
// keeps Fatal) and the public status says "operational". A silence is meant
// to stop pages; whether it may also lower what the board and the public
// page say is for the design to decide (regrade returns early for a muted
// alert, engine.go).
func TestReviewGradingSilencedOutageKeepsItsGrade(t *testing.T) {
	t.Skip("finding: a silenced 100% core outage reads severity none on the board and \"operational\" publicly for the whole silence (14m); alerts keep fatal; needs a design decision")
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newReviewed(w, d, svcOpts{})
		driveAll(rate, warm/2, s)
		if _, err := w.board.Silence(firebreak.Silence{
			Matchers: firebreak.Matchers{{Name: "dependency", Value: "payments"}},
			EndsAt:   time.Now().Add(15 * time.Minute), CreatedBy: "alice", Comment: "CHG-11",
		}); err != nil {
			t.Fatal(err)
		}
		d.set(1, false)
		driveAll(rate, 10*time.Minute, s)
		inc, _ := w.incidentIn("payments")
		if inc.Severity != firebreak.Fatal {
			t.Errorf("silenced core outage graded %s on the board, want fatal", inc.Severity)
		}
		if st := w.board.PublicStatus().Status; st == firebreak.StatusOperational {
			t.Errorf("public status %q during a total core outage", st)
		}
	})
}

// Finding (design decision, not fixed): the same fault returning after the
// plan's reopen window (30m) opens a new incident that names nothing of the
// first one: no field, no timeline line, so ops do not see it is a
// recurrence. Within the window it reopens the first (ReopenCount), which is
// guarded by TestReviewFailsAgainAfterRecovery.
func TestReviewGradingRecurrenceIsLinked(t *testing.T) {
	t.Skip("finding: a core outage returning 2h after the first one resolved opens INC-0002 with no reference to INC-0001 (no field, no timeline line); needs an API decision (e.g. Incident.Recurs)")
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newReviewed(w, d, svcOpts{})
		driveAll(rate, warm/2, s)
		d.set(1, false)
		driveAll(rate, 3*time.Minute, s)
		first, ok := w.incidentIn("payments")
		if !ok {
			t.Fatalf("no incident:%s", w.describe())
		}
		if err := w.board.Acknowledge(first.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		d.set(0, false)
		driveAll(rate, 2*time.Hour, s)
		d.set(1, false)
		driveAll(rate, 3*time.Minute, s)
		second, _ := w.incidentIn("payments")
		if second.ID == first.ID {
			t.Fatalf("reopened %s 2h after, want a new incident", first.ID)
		}
		if !timelineHas(second, first.ID) {
			t.Errorf("%s does not name %s, the same fault 2h earlier", second.ID, first.ID)
		}
	})
}

// A hung dependency (calls return only at the callers' 1 s deadline) after
// a warm half hour is a core outage like any other: Fatal within 2 minutes.
func TestReviewGradingHangIsFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newReviewed(w, d, svcOpts{})
		s.drive(rate/2, warm/2, withDeadline(time.Second))
		onset := time.Now()
		d.set(0, true)
		s.drive(rate/2, 3*time.Minute, withDeadline(time.Second))
		w.wantTold(firebreak.Fatal, onset, 2*time.Minute)
	})
}

// A dependency flapping (a minute down, two up) for an hour: one
// announcement, and pages at most at the plan's pace — the announcement,
// the breach at 10m, and reminders no closer than the plan's RenotifyEvery.
func TestReviewGradingFlappingPagesBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newReviewed(w, d, svcOpts{})
		driveAll(rate, warm/2, s)
		onset := time.Now()
		for range 20 {
			d.set(1, false)
			driveAll(rate, time.Minute, s)
			d.set(0, false)
			driveAll(rate, 2*time.Minute, s)
		}
		ps := w.rec.pagesSince(onset)
		if n := w.rec.count(firebreak.EventDetected); n != 1 {
			t.Errorf("%d announcements for one flapping fault:%s", n, w.describe())
		}
		t.Logf("%d pages in an hour of flapping:%s", len(ps), w.describe())
		// RenotifyEvery is 5m for Fatal: a reminder comes no sooner than 5m
		// after the page before it, even when the flapping delayed it.
		for i := 1; i < len(ps); i++ {
			if ps[i].Event == firebreak.EventRenotify && ps[i].At.Sub(ps[i-1].At) < 5*time.Minute {
				t.Errorf("reminder at %v only %v after the page before it, want at least the plan's 5m", w.since(ps[i].At), ps[i].At.Sub(ps[i-1].At))
			}
		}
		if len(ps) > 1+1+12 {
			t.Errorf("%d pages in an hour of flapping, want at most announcement + breach + one reminder per 5m", len(ps))
		}
	})
}

// 10% errors for two hours after a warm half hour: graded below Fatal the
// whole time (the persistence rule raises General to Severe at most), and
// never reported as a breaker outage.
func TestReviewGradingLongPartialFailureStaysBelowFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		s := newReviewed(w, d, svcOpts{})
		driveAll(rate, warm/2, s)
		d.set(0.10, false)
		driveAll(rate, 2*time.Hour, s)
		if worst := w.rec.maxSeverity(); worst >= firebreak.Fatal || worst == firebreak.None {
			t.Errorf("10%% errors for 2h told as %s, want Severe or General:%s", worst, w.describe())
		}
		for _, inc := range w.board.List(firebreak.Filter{}) {
			for _, a := range inc.Alerts {
				if a.Kind == firebreak.KindBreakerOpen {
					t.Errorf("%s holds a breaker_open alert for a 10%% error rate", inc.ID)
				}
			}
		}
		t.Logf("%s", w.describe())
	})
}
