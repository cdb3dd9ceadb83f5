package firebreak_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// A maintenance window on payments: a payments outage inside it pages
// nobody and shows under_maintenance publicly, while a checkout fault in the
// same minutes pages; the still-firing payments fault pages once the window
// ends.
func TestMaintenanceWindowMutesItsComponents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		plan := firebreak.DefaultPlan()
		plan.Maintenance = []firebreak.MaintenanceWindow{{Name: "payments-db upgrade", Components: []string{"payments"},
			Start: start.Add(10 * time.Minute), End: start.Add(70 * time.Minute), Reason: "CHG-1234 postgres 17"}}
		b, s := newBoard(t, firebreak.WithPlan(plan), firebreak.WithComponents("payments", "checkout"))

		st := b.PublicStatus()
		if st.Status != firebreak.StatusOperational || len(st.Maintenance) != 1 || st.Maintenance[0].Active {
			t.Fatalf("before the window: %+v", st)
		}
		time.Sleep(20 * time.Minute)
		payments := firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "payments", Dependency: "payments-db", Tier: firebreak.Core, Firing: true}
		checkout := firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "checkout", Tier: firebreak.Core, Firing: true}
		burst(b, 5*time.Minute, 100, payments, checkout)
		synctest.Wait()
		var announced []string
		for _, n := range s.all() {
			if n.Event == firebreak.EventDetected {
				announced = append(announced, strings.Join(n.Incident.Components, ","))
			}
		}
		if len(announced) != 1 || announced[0] != "checkout" {
			t.Fatalf("announced %v, want only checkout", announced)
		}
		st = b.PublicStatus()
		want := map[string]string{"payments": firebreak.StatusUnderMaintenance, "checkout": firebreak.StatusDegraded}
		for _, c := range st.Components {
			if want[c.Name] != c.Status {
				t.Errorf("component %s is %s, want %s", c.Name, c.Status, want[c.Name])
			}
		}
		if st.Status != firebreak.StatusUnderMaintenance || len(st.Maintenance) != 1 || !st.Maintenance[0].Active ||
			!st.Maintenance[0].End.Equal(start.Add(70*time.Minute).UTC()) {
			t.Fatalf("status during the window: %+v", st)
		}
		raw, _ := json.Marshal(st)
		if strings.Contains(string(raw), "CHG-1234") || strings.Contains(string(raw), "postgres") {
			t.Fatalf("the public status leaks internal detail: %s", raw)
		}
		var pay firebreak.Incident
		for _, inc := range b.List(firebreak.Filter{Component: "payments"}) {
			pay = inc
		}
		if !timelineHas(pay, `under maintenance "payments-db upgrade" (CHG-1234 postgres 17)`) || !pay.NotifiedAt.IsZero() {
			t.Fatalf("payments incident: notified %v, timeline %+v", pay.NotifiedAt, pay.Timeline)
		}
		// The window ends at +70m while payments still fails.
		burst(b, 46*time.Minute, 10, payments, checkout)
		synctest.Wait()
		var at time.Time
		for _, n := range s.all() {
			if n.Event == firebreak.EventDetected && n.Incident.Components[0] == "payments" {
				at = n.At
			}
		}
		if at.IsZero() || at.Sub(start.Add(70*time.Minute)) > 30*time.Second || at.Before(start.Add(70*time.Minute)) {
			t.Fatalf("payments announced at %v, want within 30s of the window's end", at)
		}
		if st := b.PublicStatus(); len(st.Maintenance) != 0 || st.Status == firebreak.StatusUnderMaintenance {
			t.Fatalf("after the window: %+v", st)
		}
	})
}

// A weekly window (Sunday 02:00 UTC for 2h, from the plan document) mutes
// every week and pages outside it.
func TestWeeklyMaintenanceWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// synctest's clock starts on Saturday 2000-01-01 00:00 UTC.
		plan, err := firebreak.ParsePlan([]byte(`{"maintenance": [{"name": "weekly patching", "components": ["payments"],
			"weekly": {"weekday": "Sunday", "start": "02:00", "duration": "2h", "timezone": "UTC"}}]}`))
		if err != nil {
			t.Fatal(err)
		}
		b, s := newBoard(t, firebreak.WithPlan(plan), firebreak.WithComponents("payments"))
		fault := firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "payments", Tier: firebreak.Core, Firing: true}
		clear := fault
		clear.Firing = false
		for week := range 2 {
			sunday := time.Date(2000, 1, 2+7*week, 2, 0, 0, 0, time.UTC)
			time.Sleep(time.Until(sunday.Add(5 * time.Minute)))
			if st := b.PublicStatus(); st.Components[0].Status != firebreak.StatusUnderMaintenance {
				t.Fatalf("week %d: payments is %s during the window", week, st.Components[0].Status)
			}
			before := s.count(firebreak.EventDetected)
			burst(b, 100*time.Minute, 10, fault)
			synctest.Wait()
			if got := s.count(firebreak.EventDetected); got != before {
				t.Fatalf("week %d: paged inside the window", week)
			}
			burst(b, 20*time.Minute, 10, fault) // past 04:00
			synctest.Wait()
			if got := s.count(firebreak.EventDetected); got != before+1 {
				t.Fatalf("week %d: %d announcements after the window, want %d", week, got, before+1)
			}
			b.Report(clear)
			time.Sleep(time.Hour) // resolve and leave the reopen window
		}
	})
}

func TestMaintenancePlanErrors(t *testing.T) {
	_, err := firebreak.ParsePlan([]byte(`{
		"maintenance": [
			{"name": "a", "components": [], "start": "2030-01-01T02:00:00Z", "end": "2030-01-01T01:00:00Z"},
			{"name": "a", "components": ["x"], "weekly": {"weekday": "funday", "start": "25:00", "duration": "0s", "timezone": "Mars/Base"}},
			{"name": "c", "components": ["x"], "start": "yesterday"}
		],
		"inhibit": [
			{"source_matchers": [], "target_matchers": [{"name": "kind", "op": "=~", "value": "("}], "equal": ["1bad"]},
			{"source_matchers": [{"name": "kind", "op": "<>", "value": "x"}], "target_matchers": [{"name": "kind", "value": "x"}]}
		]}`))
	var pe *firebreak.PlanError
	if !errors.As(err, &pe) {
		t.Fatalf("want a PlanError, got %v", err)
	}
	got := map[string]bool{}
	for _, p := range pe.Problems {
		got[p.Path] = true
	}
	for _, path := range []string{"maintenance[2].start", "inhibit[0].target_matchers[0]", "inhibit[1].source_matchers[0]"} {
		if !got[path] {
			t.Errorf("shape problem at %s missing: %v", path, err)
		}
	}
	// With the shape right, Validate names the rest.
	_, err = firebreak.ParsePlan([]byte(`{
		"maintenance": [
			{"name": "a", "components": [], "start": "2030-01-01T02:00:00Z", "end": "2030-01-01T01:00:00Z"},
			{"name": "a", "components": ["x"], "weekly": {"weekday": "funday", "start": "25:00", "duration": "0s", "timezone": "Mars/Base"}}
		],
		"inhibit": [{"source_matchers": [], "target_matchers": [{"name": "kind", "value": "x"}], "equal": ["1bad"]}]}`))
	if !errors.As(err, &pe) {
		t.Fatalf("want a PlanError, got %v", err)
	}
	got = map[string]bool{}
	for _, p := range pe.Problems {
		got[p.Path] = true
	}
	for _, path := range []string{"maintenance[0].components", "maintenance[0].end", "maintenance[1].name",
		"maintenance[1].weekly.weekday", "maintenance[1].weekly.start", "maintenance[1].weekly.duration", "maintenance[1].weekly.timezone",
		"inhibit[0].source_matchers", "inhibit[0].equal[0]"} {
		if !got[path] {
			t.Errorf("problem at %s missing: %v", path, err)
		}
	}
	// Omitted, the default inhibition; [] turns it off.
	p, err := firebreak.ParsePlan([]byte(`{}`))
	if err != nil || len(p.Inhibit) != 2 {
		t.Fatalf("default inhibit: %v, %d rules", err, len(p.Inhibit))
	}
	p, err = firebreak.ParsePlan([]byte(`{"inhibit": []}`))
	if err != nil || len(p.Inhibit) != 0 {
		t.Fatalf("inhibit off: %v, %d rules", err, len(p.Inhibit))
	}
}

func TestOpsSilencesAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		h := rolesServer(t, b)
		end := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		body := `{"matchers": "{component=\"checkout-api\"}", "ends_at": "` + end + `", "comment": "deploy"}`
		for _, tc := range []struct {
			name, method, path, auth, body string
			code                           int
			want                           string
		}{
			{"viewer may not silence", "POST", "/silences", viewerToken, body, 403, "not allowed"},
			{"no credentials", "GET", "/silences", "", "", 401, "credentials"},
			{"no end", "POST", "/silences", token, `{"matchers": [{"name": "component", "value": "x"}]}`, 400, "ends_at: required"},
			{"bad matcher", "POST", "/silences", token, `{"matchers": "{component=~\"(\"}", "ends_at": "` + end + `"}`, 400, "matchers"},
			{"unknown field", "POST", "/silences", token, `{"matcher": []}`, 400, "unknown field"},
			{"responder silences", "POST", "/silences", token, body, 201, `"id": "S-1"`},
			{"viewer lists", "GET", "/silences", viewerToken, "", 200, `"created_by": "alice"`},
			{"viewer may not expire", "DELETE", "/silences/S-1", viewerToken, "", 403, "not allowed"},
			{"responder expires", "DELETE", "/silences/S-1", token, "", 200, "expired"},
			{"expired twice", "DELETE", "/silences/S-1", token, "", 404, "not found"},
			{"maintenance bad", "POST", "/maintenance", token, `{"name": "x", "components": ["payments"]}`, 400, "start"},
			{"maintenance", "POST", "/maintenance", token, `{"name": "x", "components": ["payments"], "start": "` +
				time.Now().UTC().Format(time.RFC3339) + `", "end": "` + end + `"}`, 201, `"name": "x"`},
			{"maintenance viewer", "DELETE", "/maintenance/x", viewerToken, "", 403, "not allowed"},
			{"maintenance list", "GET", "/maintenance", viewerToken, "", 200, `"created_by": "alice"`},
			{"maintenance cancel", "DELETE", "/maintenance/x", token, "", 200, "cancelled"},
		} {
			rec := do(h, tc.method, tc.path, tc.auth, tc.body)
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("%s: %d %s, want %d containing %q", tc.name, rec.Code, rec.Body, tc.code, tc.want)
			}
		}
		if rec := do(h, http.MethodPut, "/silences", token, ""); rec.Code != 405 {
			t.Errorf("PUT /silences: %d", rec.Code)
		}
		// The API's silence works: a fault under it pages nobody.
		rec := do(h, "POST", "/silences", token, body)
		if rec.Code != 201 {
			t.Fatal(rec.Body)
		}
		burst(b, 5*time.Minute, 10, signalFor(firebreak.Fatal))
		synctest.Wait()
		if len(s.all()) != 0 {
			t.Fatalf("paged under an API silence: %v", s.events())
		}
	})
}
