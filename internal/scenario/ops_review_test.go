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

var _ = json.Marshal
var _ = fmt.Sprint
var _ = http.MethodGet
var _ = slices.Contains[[]string]
