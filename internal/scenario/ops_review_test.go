package scenario

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// The outside review of planned maintenance and the response chain: its own
// shapes, played through the real breaker, tracing and health packages.

// A 30-minute maintenance window on payments, during which payments' own
// database goes 100% down at full traffic: its breaker opens, its SLO burns
// and its health check fails. Nobody is paged, nothing breaches or
// escalates, the public status says under_maintenance. checkout-api failing
// on its own dependency in the same minutes pages as usual. payments still
// down when the window ends pages within the group wait.
func TestOpsReviewMaintenanceWindowOnPayments(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newOpsWorld(t, firebreak.DefaultPlan(), firebreak.WithComponents("payments", "checkout-api"))
		db, inv := newDep(), newDep()
		pay := newReviewed(w, db, svcOpts{name: "payments", dep: "payments-db"})
		chk := newReviewed(w, inv, svcOpts{name: "checkout-api", dep: "inventory"})
		probe(w, "payments", "payments-db", db)
		driveAll(rate, warm, pay, chk)
		if ps := pages(w.rec.all()); len(ps) != 0 {
			t.Fatalf("healthy traffic paged:%s", w.list(ps))
		}
		start := time.Now().Add(time.Minute)
		end := start.Add(30 * time.Minute)
		if err := w.board.ScheduleMaintenance(firebreak.MaintenanceWindow{Name: "payments-db upgrade", Components: []string{"payments"},
			Start: start, End: end, Reason: "CHG-7 major version upgrade"}, "alice"); err != nil {
			t.Fatal(err)
		}
		driveAll(rate, time.Minute, pay, chk)
		db.set(1, false) // the upgrade takes the database down
		driveAll(rate, 10*time.Minute, pay, chk)

		st := w.board.PublicStatus()
		if got := statusOf(st, "payments"); got != firebreak.StatusUnderMaintenance {
			t.Errorf("payments shown %q during its window, want under_maintenance", got)
		}
		if st.Status != firebreak.StatusUnderMaintenance {
			t.Errorf("overall status %q during the window with nothing else wrong, want under_maintenance", st.Status)
		}
		if pay.cb.State().String() != "open" {
			t.Errorf("payments breaker %s with its database down", pay.cb.State())
		}

		// checkout-api's own dependency fails for five minutes meanwhile.
		onset := time.Now()
		inv.set(1, false)
		driveAll(rate, 2*time.Minute, pay, chk)
		st = w.board.PublicStatus()
		if got := statusOf(st, "checkout-api"); got != firebreak.StatusMajorOutage {
			t.Errorf("checkout-api shown %q in a core outage, want major_outage", got)
		}
		if got := statusOf(st, "payments"); got != firebreak.StatusUnderMaintenance {
			t.Errorf("payments shown %q during its window, want under_maintenance", got)
		}
		driveAll(rate, 3*time.Minute, pay, chk)
		inv.set(0, false)
		chkPages := inDomain(pages(w.rec.all()), "inventory")
		if len(chkPages) == 0 || chkPages[0].Incident.Severity != firebreak.Fatal || chkPages[0].At.Sub(onset) > time.Minute {
			t.Errorf("checkout-api's core outage inside payments' window: want Fatal within 1m; pages:%s", w.list(chkPages))
		}
		driveAll(rate, time.Until(end)-time.Second, pay, chk)

		// Nothing about payments reached anybody during the window.
		if ps := between(inDomain(w.rec.all(), "payments-db"), start, end); len(ps) != 0 {
			t.Errorf("payments' planned outage notified during its window:%s", w.list(ps))
		}
		inc, ok := w.incidentIn("payments-db")
		if !ok {
			t.Fatal("payments' outage left no record")
		}
		if inc.Breached || inc.Severity != firebreak.None || !inc.NotifiedAt.IsZero() {
			t.Errorf("during the window: breached=%v severity=%s notified=%v, want unbreached, none, unannounced", inc.Breached, inc.Severity, inc.NotifiedAt)
		}
		if !timelineHas(inc, "under maintenance") {
			t.Errorf("the incident does not record the window:%v", inc.Timeline)
		}

		// The window ends with the database still down.
		driveAll(rate, 2*time.Minute, pay, chk)
		after := inDomain(pages(w.rec.all()), "payments-db")
		if len(after) == 0 {
			t.Fatalf("payments still down 2m after its window ended: no page")
		}
		if d := after[0].At.Sub(end); d > 30*time.Second || after[0].Incident.Severity != firebreak.Fatal {
			t.Errorf("payments down after its window: first page %s %s %v after the end, want Fatal within the 30s group wait", after[0].Event, after[0].Incident.Severity, d)
		}
		t.Logf("payments paged %v after its window ended: %s", after[0].At.Sub(end), after[0].Event)
		if got := statusOf(w.board.PublicStatus(), "payments"); got != firebreak.StatusMajorOutage {
			t.Errorf("payments shown %q after its window, still down, want major_outage", got)
		}
	})
}

// A weekly window (Sunday 02:00 UTC, one hour) in the plan: payments fails
// inside it on two Sundays a week apart and nobody is paged; the same fault
// at 04:00, outside the window, pages Fatal.
func TestOpsReviewWeeklyWindowRecurs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan := mustPlan(t, `{"maintenance": [{"name": "weekly patching", "components": ["payments"],
			"reason": "OS patches", "weekly": {"weekday": "sunday", "start": "02:00", "duration": "1h"}}]}`)
		w := newOpsWorld(t, plan, firebreak.WithComponents("payments"))
		db := newDep()
		pay := newReviewed(w, db, svcOpts{name: "payments", dep: "payments-db"})
		probe(w, "payments", "payments-db", db)
		// The bubble starts on Saturday 2000-01-01 00:00 UTC.
		sunday := func(week int, hh int) time.Time {
			return time.Date(2000, 1, 2+7*week, hh, 0, 0, 0, time.UTC)
		}
		inWindow := func(week int) {
			t.Helper()
			time.Sleep(time.Until(sunday(week, 1)))
			driveAll(rate/2, 65*time.Minute, pay) // warm up into the window
			from := time.Now()
			if st := w.board.PublicStatus(); statusOf(st, "payments") != firebreak.StatusUnderMaintenance {
				t.Errorf("week %d: payments shown %q inside the weekly window", week, statusOf(st, "payments"))
			}
			db.set(1, false)
			driveAll(rate/2, 40*time.Minute, pay)
			db.set(0, false)
			driveAll(rate/2, 10*time.Minute, pay)
			if ps := pages(between(w.rec.all(), from, time.Now())); len(ps) != 0 {
				t.Errorf("week %d: payments down inside its weekly window paged:%s", week, w.list(ps))
			}
		}
		inWindow(0)
		// Outside the window the same fault pages.
		time.Sleep(time.Until(sunday(0, 4)))
		driveAll(rate/2, 10*time.Minute, pay)
		onset := time.Now()
		db.set(1, false)
		driveAll(rate/2, 3*time.Minute, pay)
		db.set(0, false)
		driveAll(rate/2, 10*time.Minute, pay)
		if n, ok := w.rec.firstSince(onset, firebreak.Fatal); !ok || n.At.Sub(onset) > 2*time.Minute {
			t.Errorf("payments down outside the window: want Fatal within 2m; pages:%s", w.describe())
		}
		if inc, ok := w.incidentIn("payments-db"); ok && inc.State.Open() {
			if err := w.board.Acknowledge(inc.ID, "alice"); err != nil {
				t.Fatal(err)
			}
		}
		inWindow(1)
	})
}

// A core dependency goes down under two components that call it, each with
// a breaker and an SLO, one of them with a health probe: one incident, and
// one page — the announcement — until the response deadline.
func TestOpsReviewCoreDependencyDownIsOnePage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		db := newDep()
		chk := newReviewed(w, db, svcOpts{name: "checkout-api", dep: "payments-db"})
		ord := newReviewed(w, db, svcOpts{name: "orders-api", dep: "payments-db"})
		probe(w, "checkout-api", "payments-db", db)
		driveAll(rate/2, warm/2, chk, ord)
		onset := time.Now()
		db.set(1, false)
		driveAll(rate/2, 9*time.Minute, chk, ord)
		// Reminders (every 5 minutes for Fatal) are the plan's, not extra
		// pages: count announcements, escalations and reopenings.
		ps := slices.DeleteFunc(w.rec.pagesSince(onset), func(n firebreak.Notification) bool { return n.Event == firebreak.EventRenotify })
		if len(ps) != 1 || ps[0].Event != firebreak.EventDetected || ps[0].Incident.Severity != firebreak.Fatal {
			t.Errorf("core dependency down under two callers: %d pages before the deadline, want one Fatal announcement:%s", len(ps), w.list(ps))
		}
		if incs := w.board.List(firebreak.Filter{}); len(incs) != 1 {
			t.Errorf("%d incidents, want one", len(incs))
		} else {
			inc := incs[0]
			if !slices.Equal(inc.Components, []string{"checkout-api", "orders-api"}) {
				t.Errorf("components %v", inc.Components)
			}
			kinds := map[firebreak.Kind]bool{}
			for _, a := range inc.Alerts {
				if a.Firing {
					kinds[a.Kind] = true
				}
			}
			for _, k := range []firebreak.Kind{firebreak.KindBreakerOpen, firebreak.KindErrorBudgetBurn, firebreak.KindHealthFailed} {
				if !kinds[k] {
					t.Errorf("the incident does not record a firing %s: %v", k, kinds)
				}
			}
		}
		// Every change after the announcement went out as a routine update
		// at most, never as a page.
		t.Logf("notifications after onset: %d (pages %d)", len(between(w.rec.all(), onset, time.Now())), len(ps))
	})
}

// A silence created through the ops API two minutes into an unacknowledged
// Fatal outage, for 20 minutes: the pages stop (no reminder, no breach at
// the 10-minute deadline), the incident records the silence and the
// silenced signals. When it expires: if the fault still fires, paging
// resumes at once (the deadline passed: a breach); if it recovered while
// silenced, nothing pages.
func TestOpsReviewSilenceMidIncident(t *testing.T) {
	for _, tc := range []struct {
		name      string
		recovered bool
	}{{"still failing", false}, {"recovered while silenced", true}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				h := opsHandler(t, w.board)
				d := newDep()
				s := newReviewed(w, d, svcOpts{})
				driveAll(rate, warm/2, s)
				onset := time.Now()
				d.set(1, false)
				driveAll(rate, 2*time.Minute, s)
				if _, ok := w.rec.firstSince(onset, firebreak.Fatal); !ok {
					t.Fatalf("outage not announced:%s", w.describe())
				}
				ends := time.Now().Add(20 * time.Minute)
				body := fmt.Sprintf(`{"matchers": "{dependency=\"payments\"}", "ends_at": %q, "comment": "CHG-9 failing over payments"}`, ends.UTC().Format(time.RFC3339))
				rw := opsCall(t, h, http.MethodPost, "/silences", body)
				if rw.Code != http.StatusCreated {
					t.Fatalf("POST /silences: %d %s", rw.Code, rw.Body)
				}
				var created struct{ ID string }
				_ = json.Unmarshal(rw.Body.Bytes(), &created)
				silenced := time.Now()
				if tc.recovered {
					driveAll(rate, 8*time.Minute, s)
					d.set(0, false)
				}
				driveAll(rate, time.Until(ends)-time.Second, s)
				if ps := pages(w.rec.pagesSince(silenced)); len(ps) != 0 {
					t.Errorf("silenced outage paged:%s", w.list(ps))
				}
				inc, _ := w.incidentIn("payments")
				if !timelineHas(inc, "silence "+created.ID+" created by alice") || !timelineHas(inc, "silenced by "+created.ID) {
					t.Errorf("the incident does not record the silence %q and what it muted:%v", created.ID, inc.Timeline)
				}
				if inc.Breached {
					t.Errorf("breached while silenced")
				}
				driveAll(rate, 5*time.Minute, s)
				after := pages(w.rec.pagesSince(ends))
				if tc.recovered {
					if len(after) != 0 {
						t.Errorf("recovered while silenced, yet paged when the silence expired:%s", w.list(after))
					}
					return
				}
				if len(after) == 0 || after[0].At.Sub(ends) > time.Minute {
					t.Fatalf("still failing when the silence expired: want a page within 1m; pages:%s", w.list(after))
				}
				if after[0].Event != firebreak.EventBreached {
					t.Errorf("first page after expiry %s, want breached (the 10m deadline passed unacknowledged)", after[0].Event)
				}
				t.Logf("after expiry: %s", w.list(after))
			})
		})
	}
}

var _ = json.Marshal
var _ = fmt.Sprint
var _ = http.MethodGet
var _ = slices.Contains[[]string]
