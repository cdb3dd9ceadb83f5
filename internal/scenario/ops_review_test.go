package scenario

import (
	"context"
	"encoding/json"
	"errors"
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
				// One page at expiry, then reminders at the plan's pace (every
				// 5 minutes), not a burst catching up on the silenced ones.
				for i := 1; i < len(after); i++ {
					if gap := after[i].At.Sub(after[i-1].At); gap < 5*time.Minute {
						t.Errorf("pages %v apart after expiry:%s", gap, w.list(after))
						break
					}
				}
				t.Logf("after expiry: %s", w.list(after))
			})
		})
	}
}

// Routing: a Fatal goes to the pager and to chat; a dependency that flaps
// (a minute down, a minute up, for 40 minutes) makes a flood of routine
// updates, which chat gets batched by its 5-minute group_interval; the
// pager's reminders are throttled by its 30-minute repeat_interval; and
// every lifecycle event reaches every receiver its route names.
func TestOpsReviewRoutingPagerAndChat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan := mustPlan(t, `{"route": {"receiver": "chat", "group_interval": "5m", "routes": [
			{"matchers": [{"name": "severity", "value": "fatal"}], "receiver": "pager", "continue": true, "repeat_interval": "30m"},
			{"receiver": "chat"}]}}`)
		pager, chat := &receiver{}, &receiver{}
		w := newOpsWorld(t, plan, firebreak.WithNotifierNamed("pager", pager), firebreak.WithNotifierNamed("chat", chat))
		d := newDep()
		s := newReviewed(w, d, svcOpts{})
		driveAll(rate, warm/2, s)
		onset := time.Now()
		for range 20 {
			d.set(1, false)
			driveAll(rate, time.Minute, s)
			d.set(0, false)
			driveAll(rate, time.Minute, s)
		}
		driveAll(rate, 20*time.Minute, s)
		all := w.rec.all()
		toPager, pagerAt := pager.all()
		toChat, chatAt := chat.all()
		if n, ok := w.rec.firstSince(onset, firebreak.Fatal); !ok || n.At.Sub(onset) > time.Minute {
			t.Fatalf("flapping core outage: no Fatal within 1m:%s", w.describe())
		}
		key := func(n firebreak.Notification) string { return string(n.Event) + n.Incident.ID + n.At.String() }
		has := func(ns []firebreak.Notification, n firebreak.Notification) bool {
			return slices.ContainsFunc(ns, func(x firebreak.Notification) bool { return key(x) == key(n) })
		}
		routine, lifecycle := 0, 0
		for _, n := range all {
			if n.Event.Routine() {
				routine++
				continue
			}
			if n.Event == firebreak.EventRenotify {
				continue
			}
			lifecycle++
			if !has(toChat, n) {
				t.Errorf("lifecycle event %s %s at %v lost on chat", n.Event, n.Incident.Severity, w.since(n.At))
			}
			if n.Incident.Severity == firebreak.Fatal && !has(toPager, n) {
				t.Errorf("Fatal lifecycle event %s at %v lost on the pager", n.Event, w.since(n.At))
			}
		}
		t.Logf("unrouted: %d notifications (%d routine, %d lifecycle); chat %d, pager %d", len(all), routine, lifecycle, len(toChat), len(toPager))
		// Chat: at most one routine update per incident per 5 minutes.
		last := map[string]time.Time{}
		chatRoutine := 0
		for i, n := range toChat {
			if !n.Event.Routine() {
				continue
			}
			chatRoutine++
			if at, ok := last[n.Incident.ID]; ok && chatAt[i].Sub(at) < 5*time.Minute-time.Second {
				t.Errorf("chat got routine updates of %s delivered %v apart, group_interval 5m", n.Incident.ID, chatAt[i].Sub(at))
			}
			last[n.Incident.ID] = chatAt[i]
		}
		if routine > 0 && chatRoutine == 0 {
			t.Errorf("chat got none of %d routine updates: batched means delayed, not dropped", routine)
		}
		// Pager: a reminder only 30 minutes after the last lifecycle event
		// or reminder it was sent for the incident.
		lastLife := map[string]time.Time{}
		for i, n := range toPager {
			if n.Event.Routine() {
				continue
			}
			if at, ok := lastLife[n.Incident.ID]; ok && n.Event == firebreak.EventRenotify && pagerAt[i].Sub(at) < 30*time.Minute-time.Second {
				t.Errorf("pager reminded of %s %v after the last page, repeat_interval 30m", n.Incident.ID, pagerAt[i].Sub(at))
			}
			lastLife[n.Incident.ID] = pagerAt[i]
		}
		if w.rec.count(firebreak.EventRenotify) > 0 && w.board.Stats().NotifyThrottled == 0 {
			t.Errorf("reminders made but none throttled")
		}
	})
}

// An escalation chain (5m technical lead, 10m executive on call, 20m CTO,
// repeating) over an unacknowledged Fatal outage that recovers after 12
// minutes: steps 1 and 2 page on time; after the recovery the chain stops —
// no step 3, no new cycle, no reminder.
func TestOpsReviewEscalationChainStopsOnRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan := mustPlan(t, `{"response": {"fatal": {"repeat": true, "escalation": [
			{"after": "5m", "notify": "technical lead"}, {"after": "10m", "notify": "executive on call"}, {"after": "20m", "notify": "cto"}]}}}`)
		w := newOpsWorld(t, plan)
		d := newDep()
		s := newReviewed(w, d, svcOpts{})
		driveAll(rate, warm/2, s)
		onset := time.Now()
		d.set(1, false)
		driveAll(rate, 12*time.Minute, s)
		recovered := time.Now()
		d.set(0, false)
		driveAll(rate, time.Hour, s)
		ann, ok := w.rec.firstSince(onset, firebreak.Fatal)
		if !ok {
			t.Fatalf("no Fatal:%s", w.describe())
		}
		var steps []firebreak.Notification
		for _, n := range w.rec.all() {
			if n.Event == firebreak.EventEscalationStep {
				steps = append(steps, n)
			}
		}
		if len(steps) < 2 || steps[0].EscalationTarget != "technical lead" || steps[1].EscalationTarget != "executive on call" {
			t.Fatalf("want steps 1 and 2 during the outage; got:%s", w.list(steps))
		}
		// The chain counts from the response clock: detection, like the
		// plan's response deadline (the announcement follows the 30s group
		// wait).
		for i, want := range []time.Duration{5 * time.Minute, 10 * time.Minute} {
			if d := steps[i].At.Sub(ann.Incident.DetectedAt); d < want-time.Second || d > want+time.Second {
				t.Errorf("step %d %v after detection, want %v", i+1, d, want)
			}
		}
		late := between(w.rec.all(), recovered.Add(2*time.Minute), time.Now())
		late = slices.DeleteFunc(late, func(n firebreak.Notification) bool {
			return n.Event.Routine() || n.Event == firebreak.EventResolved
		})
		if len(late) != 0 {
			t.Errorf("the outage recovered at %v, yet paged from 2m later:%s", w.since(recovered), w.list(late))
		}
		inc, _ := w.incidentIn("payments")
		if inc.State.Open() {
			t.Errorf("an hour after recovery the incident is still %s", inc.State)
		}
	})
}

// Hand-off, then acknowledgement by the new owner: the chain and the
// reminders stop, no breach. Recovery, resolution, a close refused until
// the business owner verifies, the archive, and a Board restart: the new
// Board finds the closed incident and its report in the archive, with who
// had it, who acknowledged and who verified, and numbers new incidents
// after it.
func TestOpsReviewHandOffVerifyArchiveRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		arch, err := firebreak.DirArchive(dir)
		if err != nil {
			t.Fatal(err)
		}
		plan := mustPlan(t, `{"verify_before_close": true, "response": {"fatal": {"escalation": [
			{"after": "5m", "notify": "technical lead"}, {"after": "10m", "notify": "executive on call"}]}}}`)
		w := newOpsWorld(t, plan, firebreak.WithArchive(arch))
		d := newDep()
		s := newReviewed(w, d, svcOpts{})
		driveAll(rate, warm/2, s)
		onset := time.Now()
		d.set(1, false)
		driveAll(rate, 3*time.Minute, s)
		inc, ok := w.incidentIn("payments")
		if !ok || inc.NotifiedAt.IsZero() {
			t.Fatalf("outage not announced:%s", w.describe())
		}
		if err := w.board.HandOff(inc.ID, "alice", "bob", "bob knows payments"); err != nil {
			t.Fatal(err)
		}
		driveAll(rate, time.Minute, s)
		if got, _ := w.board.Get(inc.ID); got.State != firebreak.Detected || got.Owner != "bob" {
			t.Errorf("after hand-off: state %s owner %q, want still detected (a hand-off is no acknowledgement), owner bob", got.State, got.Owner)
		}
		if err := w.board.Acknowledge(inc.ID, "bob"); err != nil {
			t.Fatal(err)
		}
		acked := time.Now()
		driveAll(rate, 15*time.Minute, s)
		if ps := w.rec.pagesSince(acked); len(ps) != 0 {
			t.Errorf("acknowledged at %v, yet paged:%s", w.since(acked), w.list(ps))
		}
		for _, n := range w.rec.all() {
			if n.Event == firebreak.EventEscalationStep {
				t.Errorf("escalation step %d (%s) at %v, acknowledged at %v", n.EscalationStep, n.EscalationTarget, w.since(n.At), acked.Sub(onset))
			}
		}
		if w.rec.count(firebreak.EventHandedOff) != 1 {
			t.Errorf("%d hand-off notifications, want 1", w.rec.count(firebreak.EventHandedOff))
		}
		// The 6× tier (30m short window) keeps the incident open for up to
		// half an hour after recovery, then the 5m hold-down.
		d.set(0, false)
		driveAll(rate, time.Hour, s)
		got, _ := w.board.Get(inc.ID)
		if got.State != firebreak.Resolved {
			var firing []string
			for _, a := range got.Alerts {
				if a.Firing {
					firing = append(firing, fmt.Sprintf("%s %s %v", a.Kind, a.Severity, a.Labels))
				}
			}
			t.Fatalf("an hour after recovery: %s; firing: %v", got.State, firing)
		}
		if _, err := w.board.CloseWith(inc.ID, "bob", firebreak.ReportInput{RootCause: "payments primary lost its disk"}); !errors.Is(err, firebreak.ErrNotVerified) {
			t.Fatalf("close before verification: %v, want ErrNotVerified", err)
		}
		if err := w.board.Verify(inc.ID, "carol", "payments flow again"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.board.CloseWith(inc.ID, "bob", firebreak.ReportInput{RootCause: "payments primary lost its disk"}); err != nil {
			t.Fatal(err)
		}
		for w.board.ArchiveStats().Stored == 0 {
			time.Sleep(100 * time.Millisecond)
			if time.Since(acked) > 2*time.Hour {
				t.Fatalf("archive never stored: %+v", w.board.ArchiveStats())
			}
		}

		// Restart: a new Board on the same archive.
		if err := w.board.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		w2 := newOpsWorld(t, plan, firebreak.WithArchive(arch))
		old, err := w2.board.Get(inc.ID)
		if err != nil {
			t.Fatalf("after restart Get(%s): %v", inc.ID, err)
		}
		if old.State != firebreak.Closed || old.Owner != "bob" || old.AcknowledgedBy != "bob" || old.VerifiedBy != "carol" {
			t.Errorf("archived: state %s owner %q acked by %q verified by %q", old.State, old.Owner, old.AcknowledgedBy, old.VerifiedBy)
		}
		rep, err := w2.board.IncidentReport(inc.ID)
		if err != nil || rep.VerifiedBy != "carol" {
			t.Errorf("archived report: %v, verified by %q", err, rep.VerifiedBy)
		}
		s2 := newReviewed(w2, d, svcOpts{})
		driveAll(rate, warm/2, s2)
		d.set(1, false)
		driveAll(rate, 2*time.Minute, s2)
		d.set(0, false)
		incs := w2.board.List(firebreak.Filter{})
		if len(incs) != 1 || incs[0].ID == inc.ID {
			t.Errorf("after restart: incidents %v, want one new one numbered after %s", incs, inc.ID)
		}
	})
}
