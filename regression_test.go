package firebreak_test

// Regression tests from a review of the incident engine. The comment above
// each test describes the fault it caught (now mended) or the behaviour it
// pins. Helpers come from board_test.go.

import (
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// burn is an error-budget-burn signal from a core component.
func burn(value, ratio float64) firebreak.Signal {
	return firebreak.Signal{Kind: firebreak.KindErrorBudgetBurn, Component: "checkout-api", Dependency: "payments-db",
		Tier: firebreak.Core, Firing: true, Value: value,
		Metrics: map[string]float64{"error_ratio": ratio, "error_ratio_short": ratio, "error_ratio_now": ratio, "burn_rate_threshold": tierOf(value)},
		Labels:  map[string]string{"slo": "availability"}}
}

// tierOf is the threshold of the fastest workbook tier a burn rate fires.
func tierOf(value float64) float64 {
	for _, t := range []float64{14.4, 6, 3, 1} {
		if value > t {
			return t
		}
	}
	return 0
}

func breakerOpen(component string, tier firebreak.Tier, fallback bool) firebreak.Signal {
	return firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: component, Dependency: "payments-db",
		Tier: tier, Firing: true, Fallback: fallback}
}

// A burn rate of +Inf (or NaN: 0/0 with no traffic) is stored as it is, and
// encoding/json cannot encode it: the ops API answers 200 with a truncated
// body.
func TestNonFiniteValueKeepsOpsJSONValid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		b.Report(burn(math.Inf(1), 1))
		id := only(t, b).ID
		auth, _ := firebreak.BearerTokens(map[string]string{"review-token-0123456789": "rev"})
		h, _ := firebreak.OpsHandler(b, auth)
		for _, path := range []string{"/incidents", "/incidents/" + id, "/incidents/" + id + "/report"} {
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Authorization", "Bearer review-token-0123456789")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if !json.Valid(rec.Body.Bytes()) {
				t.Errorf("GET %s: %d with invalid JSON body %q", path, rec.Code, rec.Body.String())
			}
		}
	})
}

// Lowering a Fatal false alarm to General keeps the Fatal 10-minute deadline,
// so the General incident is breached at 10 minutes instead of 30.
func TestDowngradeMovesDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		start := time.Now()
		b.Report(burn(1000, 1))
		id := only(t, b).ID
		time.Sleep(5 * time.Minute)
		if err := b.SetSeverity(id, "ic", firebreak.General, "synthetic traffic"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(6 * time.Minute) // 11 minutes after detection
		synctest.Wait()
		inc := only(t, b)
		if inc.Breached || s.count(firebreak.EventBreached) != 0 {
			t.Errorf("General incident breached at 11m (due %v after detection)", inc.ResponseDue.Sub(start))
		}
		if want := start.Add(30 * time.Minute); !inc.ResponseDue.Equal(want) {
			t.Errorf("ResponseDue = detection+%v, want detection+30m", inc.ResponseDue.Sub(start))
		}
	})
}

// A person lowers the severity; the next report of the same alert with a
// slightly different value re-grades it and undoes the person's decision.
func TestDowngradeHoldsAgainstSameAlert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		b.Report(burn(1000, 1))
		id := only(t, b).ID
		if err := b.SetSeverity(id, "ic", firebreak.General, "synthetic traffic"); err != nil {
			t.Fatal(err)
		}
		b.Report(burn(1001, 1)) // same alert, burn rate wobbles
		if got := only(t, b).Severity; got != firebreak.General {
			t.Fatalf("severity %s after the same alert reported again; a person set general", got)
		}
	})
}

// An incident recorded at None for hours that then becomes Severe is
// breached at once: the deadline counts from detection of the None signal.
func TestNoneIncidentStartsClockWhenItPages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		b.Report(burn(3, 0.003)) // ticket tier: None
		time.Sleep(2 * time.Hour)
		b.Report(burn(20, 0.02)) // page tier: Severe for core
		synctest.Wait()
		inc := only(t, b)
		if inc.Severity != firebreak.Severe {
			t.Fatalf("severity %s", inc.Severity)
		}
		if inc.Breached || !inc.ResponseDue.After(time.Now()) {
			t.Fatalf("breached=%v, due %v before now: the Severe response clock never ran", inc.Breached, time.Since(inc.ResponseDue))
		}
	})
}

// None means "record, no page", yet a None incident is announced to every
// notifier (the webhook sends it as a firing alert).
func TestNoneIncidentIsNotPaged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		b.Report(burn(3, 0.003))
		time.Sleep(time.Hour)
		synctest.Wait()
		if only(t, b).Severity != firebreak.None {
			t.Fatal("not None")
		}
		if n := len(s.all()); n != 0 {
			t.Fatalf("a None incident notified %d times: first %s", n, s.all()[0].Event)
		}
	})
}

// Resolved by hand within the group wait, then the signal returns within the
// reopen window: the reopened incident is never announced, so it is never
// breached and never escalated.
func TestReopenAfterResolveInGroupWaitIsAnnounced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		b.Report(burn(1000, 1)) // Fatal
		id := only(t, b).ID
		time.Sleep(10 * time.Second)
		if err := b.Resolve(id, "alice", "restarted it"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		b.Report(burn(1000, 1))
		time.Sleep(20 * time.Minute)
		synctest.Wait()
		inc := only(t, b)
		if !inc.State.Open() || inc.ReopenCount != 1 {
			t.Fatalf("state %s reopen %d", inc.State, inc.ReopenCount)
		}
		if !inc.Breached || s.count(firebreak.EventBreached) != 1 {
			t.Fatalf("reopened Fatal unacknowledged for 20m: breached=%v notified_at=%v breach notes=%d",
				inc.Breached, inc.NotifiedAt, s.count(firebreak.EventBreached))
		}
	})
}

// When an alert of a resolved incident fires after the reopen window, it is
// moved to the new incident: the old incident loses its alert (its report has
// no detection, no signals), and the new one inherits the old FirstSeen,
// Count and peak.
func TestNewIncidentLeavesOldAlertInPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		b.Report(burn(20, 0.02))
		old := only(t, b).ID
		time.Sleep(time.Minute)
		if err := b.Resolve(old, "alice", "fixed"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(31 * time.Minute)
		b.Report(burn(20, 0.02))
		list := b.List(firebreak.Filter{})
		if len(list) != 2 {
			t.Fatalf("%d incidents", len(list))
		}
		newer := list[0]
		got, _ := b.Get(old)
		if len(got.Alerts) != 1 {
			t.Errorf("old incident has %d alerts after the signal returned, want 1", len(got.Alerts))
		}
		if rep, _ := b.IncidentReport(old); rep.Detection == "" || rep.Impact.Signals == 0 {
			t.Errorf("old incident's report lost its detection/signals: %q, %d", rep.Detection, rep.Impact.Signals)
		}
		if a := newer.Alerts[0]; a.FirstSeen.Before(newer.DetectedAt) || a.Count != 1 {
			t.Errorf("new incident's alert: first seen %v before detection, count %d", newer.DetectedAt.Sub(a.FirstSeen), a.Count)
		}
	})
}

// The fast path skips re-grading when only Metrics change: an error ratio
// that crosses the Fatal threshold (rule min_metrics) is ignored.
func TestMetricsChangeRegrades(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		b.Report(burn(20, 0.1)) // Severe
		b.Report(burn(20, 0.9)) // error_ratio >= 0.5 on core: Fatal
		if got := only(t, b).Severity; got != firebreak.Fatal {
			t.Fatalf("severity %s, want fatal (plan rule on error_ratio)", got)
		}
	})
}

// Breached at General (escalated to the technical lead), then the incident
// rises to Severe past Severe's deadline: EscalatedTo still names General's
// target and the Severe escalation target is never paged.
func TestRaiseAfterBreachPagesNewLevel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		b.Report(breakerOpen("orders-api", firebreak.Standard, true)) // General
		time.Sleep(31 * time.Minute)
		synctest.Wait()
		if inc := only(t, b); !inc.Breached || inc.EscalatedTo != "technical lead" {
			t.Fatalf("setup: breached=%v to %q", inc.Breached, inc.EscalatedTo)
		}
		b.Report(breakerOpen("ledger", firebreak.Core, true)) // core joins: Severe
		time.Sleep(time.Second)
		synctest.Wait()
		inc := only(t, b)
		if inc.Severity != firebreak.Severe {
			t.Fatalf("severity %s", inc.Severity)
		}
		if inc.EscalatedTo != "command centre (all hands)" || s.count(firebreak.EventBreached) != 2 {
			t.Fatalf("Severe incident past its deadline: escalated to %q, breach notifications %d",
				inc.EscalatedTo, s.count(firebreak.EventBreached))
		}
	})
}

// The webhook's breach notification does not say who it escalates to, so an
// Alertmanager-style receiver cannot route it "to the next level".
func TestWebhookBreachCarriesEscalationTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		b.Report(burn(1000, 1))
		time.Sleep(11 * time.Minute)
		synctest.Wait()
		wh, _ := firebreak.NewWebhook("http://alerts.example/hook")
		for _, n := range s.all() {
			if n.Event != firebreak.EventBreached {
				continue
			}
			msg := wh.Message(n)
			for _, a := range msg.Alerts {
				all := a.Annotations["escalated_to"] + a.Labels["escalated_to"]
				if !strings.Contains(all, "executive on call") {
					t.Fatalf("breach alert has no escalation target: labels %v annotations %v", a.Labels, a.Annotations)
				}
			}
			return
		}
		t.Fatal("no breach notification")
	})
}

// Alertmanager: the group status is "firing" iff any alert fires. An open
// incident whose alerts all cleared (hold-down) is sent as "firing" with only
// resolved alerts.
func TestWebhookGroupStatusFollowsAlerts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		sig := burn(20, 0.02)
		b.Report(sig)
		time.Sleep(time.Minute)
		sig.Firing = false
		b.Report(sig)
		synctest.Wait()
		wh, _ := firebreak.NewWebhook("http://alerts.example/hook")
		notes := s.all()
		last := notes[len(notes)-1]
		msg := wh.Message(last)
		for _, a := range msg.Alerts {
			if a.Status == "firing" {
				t.Fatal("setup: an alert still fires")
			}
		}
		if msg.Status != "resolved" {
			t.Fatalf("group status %q with every alert resolved", msg.Status)
		}
	})
}

// The alert's webhook fingerprint includes the incident's severity label, so
// an escalation changes it; the alert sent firing under the old fingerprint is
// never sent resolved, and a receiver deduplicating on it keeps it open.
func TestWebhookFiringAlertsAreEventuallyResolved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		b.Report(breakerOpen("orders-api", firebreak.Standard, true)) // General
		time.Sleep(time.Minute)
		b.Report(breakerOpen("ledger", firebreak.Core, true)) // Severe
		time.Sleep(time.Minute)
		id := only(t, b).ID
		if err := b.Resolve(id, "alice", "fixed"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		wh, _ := firebreak.NewWebhook("http://alerts.example/hook")
		open := map[string]bool{}
		for _, n := range s.all() {
			for _, a := range wh.Message(n).Alerts {
				open[a.Fingerprint] = a.Status == "firing"
			}
		}
		for fp, firing := range open {
			if firing {
				t.Errorf("alert %s was sent firing and never resolved", fp)
			}
		}
	})
}

// Reports and snapshots are documented as copies, yet the report returned
// shares its slices with the board's filed report.
func TestReportIsACopy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		b.Report(burn(20, 0.02))
		id := only(t, b).ID
		if err := b.Resolve(id, "alice", "fixed"); err != nil {
			t.Fatal(err)
		}
		rep, err := b.CloseWith(id, "alice", firebreak.ReportInput{ActionItems: []firebreak.ActionItem{{Description: "a"}}})
		if err != nil {
			t.Fatal(err)
		}
		rep.Timeline[0].Note = "tampered"
		r2, _ := b.IncidentReport(id)
		r2.ActionItems[0].Description = "tampered"
		got, _ := b.IncidentReport(id)
		if got.Timeline[0].Note == "tampered" || got.ActionItems[0].Description == "tampered" {
			t.Fatal("changing a returned report changed the board's filed report")
		}
	})
}

// Evidence is unbounded: every fire/clear cycle of a flapping alert in an
// open incident appends a metrics snapshot, while the timeline is capped.
func TestEvidenceBoundedForFlappingAlert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		sig := burn(20, 0.02)
		b.Report(sig)
		time.Sleep(time.Minute) // past the group wait: not a flap
		for range 2000 {
			sig.Firing = true
			b.Report(sig)
			time.Sleep(time.Second)
			sig.Firing = false
			b.Report(sig)
			time.Sleep(time.Second)
		}
		inc := only(t, b)
		if !inc.State.Open() {
			t.Fatalf("setup: %s", inc.State)
		}
		if n := len(inc.Evidence); n > 500 {
			t.Fatalf("%d evidence entries for one flapping alert (timeline capped at %d)", n, len(inc.Timeline))
		}
	})
}

// The public status shows an outage for an incident still inside its group
// wait; if it is a flap, users saw an outage nobody was told about.
func TestPublicStatusIgnoresGroupWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		b.Report(burn(1000, 1))
		if st := b.PublicStatus(); st.Status != firebreak.StatusOperational {
			t.Fatalf("public status %q for an incident still in its group wait", st.Status)
		}
	})
}

// Pin: a plan survives a JSON round trip (the loader accepts what a Plan
// marshals to).
func TestPlanJSONRoundTripExact(t *testing.T) {
	data, err := json.Marshal(firebreak.DefaultPlan())
	if err != nil {
		t.Fatal(err)
	}
	p, err := firebreak.ParsePlan(data)
	if err != nil {
		t.Fatalf("ParsePlan(json.Marshal(DefaultPlan())): %v", err)
	}
	again, _ := json.Marshal(p)
	if string(again) != string(data) {
		t.Fatalf("round trip changed the plan:\n%s\n%s", data, again)
	}
}

// Pin: notifiers and the logger run outside the board's lock, so a notifier
// may call back into the board (here: acknowledge what it is told) without a
// deadlock; and Report, actions, queries and Close race cleanly.
func TestNotifierMayCallBoardAndConcurrentUse(t *testing.T) {
	var b *firebreak.Board
	acker := firebreak.NotifierFunc(func(ctx context.Context, n firebreak.Notification) error {
		b.Get(n.Incident.ID)
		b.List(firebreak.Filter{OpenOnly: true})
		b.Acknowledge(n.Incident.ID, "bot")
		return nil
	})
	p := firebreak.DefaultPlan()
	p.Timers.GroupWait = 0
	p.Timers.ResolveHoldDown = 0
	var err error
	b, err = firebreak.NewBoard("svc", firebreak.WithPlan(p), firebreak.WithNotifier(acker), firebreak.WithRetention(3))
	if err != nil {
		t.Fatal(err)
	}
	b.Start(context.Background())
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 300 {
				s := breakerOpen("api", firebreak.Tier(g%3), i%2 == 0)
				s.Dependency = []string{"db", "cache", "queue"}[i%3]
				s.Firing = i%5 != 0
				b.Report(s)
				for _, inc := range b.List(firebreak.Filter{}) {
					b.Mitigate(inc.ID, "x", "y")
					b.Resolve(inc.ID, "x", "")
					b.CloseWith(inc.ID, "x", firebreak.ReportInput{})
				}
				b.PublicStatus()
				b.Stats()
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// Acknowledged within the group wait and then cleared: not treated as a flap;
// the board sends a "signal" update for an incident nobody was told about,
// then announces it as detected with no firing alert.
func TestAckInGroupWaitThenClearAnnouncesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		sig := burn(20, 0.02)
		b.Report(sig)
		time.Sleep(5 * time.Second)
		if err := b.Acknowledge(only(t, b).ID, "alice"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		sig.Firing = false
		b.Report(sig)
		time.Sleep(time.Minute)
		synctest.Wait()
		for _, n := range s.all() {
			if n.Event == firebreak.EventDetected && len(n.Fired) == 0 || n.Event == firebreak.EventSignal && n.Incident.NotifiedAt.IsZero() {
				t.Errorf("notification %s (notified_at %v, %d fired) for an incident cleared within its group wait",
					n.Event, n.Incident.NotifiedAt, len(n.Fired))
			}
		}
	})
}

// The filed report says the incident is "resolved": it is built before the
// state changes to closed.
func TestFiledReportStateIsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		b.Report(burn(20, 0.02))
		id := only(t, b).ID
		if err := b.Resolve(id, "alice", "fixed"); err != nil {
			t.Fatal(err)
		}
		rep, err := b.CloseWith(id, "alice", firebreak.ReportInput{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.State != firebreak.Closed {
			t.Fatalf("filed report state %s", rep.State)
		}
	})
}

// An unclean path gets a JSON 400, not ServeMux's HTML redirect.
func TestOpsAPIRejectsUncleanPath(t *testing.T) {
	b, _ := firebreak.NewBoard("svc")
	auth, _ := firebreak.BearerTokens(map[string]string{"review-token-0123456789": "rev"})
	h, _ := firebreak.OpsHandler(b, auth)
	req := httptest.NewRequest("GET", "/incidents/../stats", nil)
	req.Header.Set("Authorization", "Bearer review-token-0123456789")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 400 || !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%d %q", rec.Code, rec.Body.String())
	}
}

func TestPlanValidationCatchesContradictions(t *testing.T) {
	for name, doc := range map[string]string{
		"duplicate severity key": `{"response": {"l1": {"response_within": "5m", "lead": "x"}, "fatal": {"response_within": "5m", "lead": "y"}}}`,
		"group wait too long":    `{"timers": {"group_wait": "10m"}}`,
		"no rules":               `{"rules": []}`,
		"null rules":             `{"rules": null}`,
	} {
		if _, err := firebreak.ParsePlan([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestStartAfterCloseStartsNothing(t *testing.T) {
	b, _ := firebreak.NewBoard("svc", firebreak.WithNotifier(&sink{}))
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.Start(context.Background()) // goleak in TestMain fails the package if this leaves goroutines
}
