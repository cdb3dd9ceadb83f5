package firebreak_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// leakWords are fragments of Go internals that an API error must not show.
var leakWords = []string{"json:", "struct", "float64", "time.Time", "firebreak.", "goroutine", "panic", "runtime", "reflect", "interface {}", "[]string", "map["}

// TestReviewOpsAPIHostileInput plays a battery of hostile bodies against
// every change the ops API serves: none gets a 5xx or an error that shows
// Go internals, and each is a 4xx or a success.
func TestReviewOpsAPIHostileInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		b.Report(signalFor(firebreak.Severe))
		id := only(t, b).ID
		h := opsServer(t, b)
		paths := []string{
			"/incidents/" + id + "/acknowledge", "/incidents/" + id + "/mitigate", "/incidents/" + id + "/resolve",
			"/incidents/" + id + "/findings", "/incidents/" + id + "/evidence", "/incidents/" + id + "/severity",
			"/incidents/" + id + "/category", "/incidents/" + id + "/verify", "/incidents/" + id + "/close",
			"/incidents/" + id + "/handoff", "/silences", "/maintenance",
			"/incidents/INC-404/acknowledge", "/incidents/INC-404/close", "/incidents/../x/acknowledge",
		}
		bodies := []string{
			"", "{", `{"a":`, "not json", "[]", "null", `"x"`, "1e400", "{}{}", `{} x`,
			`{"unknown":1}`, `{"action":1e400}`, `{"severity":-1}`, `{"severity":1e400}`, `{"severity":99}`,
			`{"severity":"fatal","reason":"` + strings.Repeat("r", 5000) + `"}`,
			`{"metrics":{"x":1e400}}`, `{"metrics":{"x":-1e308}}`, `{"kind":"log","metrics":{"x":NaN}}`,
			`{"trace_ids":["` + strings.Repeat("a", 5000) + `"]}`, `{"trace_ids":[1]}`,
			`{"matchers":"{component=\"x\"}","ends_at":"0001-01-01T00:00:00Z"}`,
			`{"matchers":"{component=\"x\"}","ends_at":"9999-12-31T23:59:59Z"}`,
			`{"matchers":"{component=\"x\"}","starts_at":"9999-12-31T22:59:59Z","ends_at":"9999-12-31T23:59:59Z"}`,
			`{"matchers":"{component=\"x\"}","starts_at":"0001-01-01T00:00:00Z","ends_at":"2100-01-01T00:00:00Z"}`,
			`{"matchers":"{component=\"x\"}","ends_at":"yesterday"}`,
			`{"matchers":[{"name":"component","op":"=~","value":"("}],"ends_at":"2100-01-01T00:00:00Z"}`,
			`{"matchers":"{","ends_at":"2100-01-01T00:00:00Z"}`,
			`{"name":"w","components":["checkout-api"],"start":"0001-01-01T00:00:00Z","end":"9999-12-31T23:59:59Z"}`,
			`{"name":"w","components":["checkout-api"],"weekly":{"weekday":"sunday","start":"25:99","duration":"-1h"}}`,
			`{"name":"w","components":["checkout-api"],"weekly":{"weekday":"sunday","start":"02:00","duration":"9999999999h"}}`,
			`{"name":"w","components":["checkout-api"],"weekly":{"weekday":"sunday","start":"02:00","duration":1e400}}`,
			`{"name":"w","components":["checkout-api"],"weekly":{"weekday":"sunday","start":"02:00","duration":"2h","timezone":"../../etc/passwd"}}`,
			`{"action_items":[{"title":"x","due":"0001-01-01T00:00:00Z"}]}`,
			`{"to":"","note":""}`, `{"category":"` + strings.Repeat("c", 300) + `"}`,
			strings.Repeat("[", 100000),
			`{"action":"` + strings.Repeat("x", 2<<20) + `"}`,
		}
		for _, p := range paths {
			for _, body := range bodies {
				for _, auth := range []string{token, "", "forged-forged-forged-forged"} {
					rec := do(h, "POST", p, auth, body)
					short := body
					if len(short) > 60 {
						short = short[:60] + "…"
					}
					if rec.Code >= 500 {
						t.Errorf("POST %s %q auth=%q: %d %s", p, short, auth, rec.Code, rec.Body)
					}
					if auth != token && rec.Code != 401 && rec.Code != 403 && !strings.Contains(p, "..") {
						t.Errorf("POST %s %q auth=%q: %d without valid credentials", p, short, auth, rec.Code)
					}
					if rec.Code >= 400 {
						for _, w := range leakWords {
							if strings.Contains(rec.Body.String(), w) {
								t.Errorf("POST %s %q: %d error shows %q: %s", p, short, rec.Code, w, rec.Body)
							}
						}
					}
				}
			}
		}
		for _, m := range []string{"PUT", "PATCH", "DELETE", "GET", "OPTIONS"} {
			for _, p := range paths[:10] {
				if rec := do(h, m, p, token, ""); rec.Code != 405 && rec.Code != 404 && !(m == "GET" && rec.Code == 200) {
					t.Errorf("%s %s: %d, want 405", m, p, rec.Code)
				}
			}
		}
		for _, p := range []string{"/silences/S-404", "/maintenance/none", "/silences/", "/maintenance/%00"} {
			for _, auth := range []string{"", "forged-forged-forged-forged"} {
				if rec := do(h, "DELETE", p, auth, ""); rec.Code != 401 && rec.Code != 403 && rec.Code != 400 && rec.Code != 404 {
					t.Errorf("DELETE %s auth=%q: %d", p, auth, rec.Code)
				}
			}
			if rec := do(h, "DELETE", p, token, ""); rec.Code >= 500 || rec.Code < 400 {
				t.Errorf("DELETE %s: %d %s", p, rec.Code, rec.Body)
			}
		}
		_ = fmt.Sprint
		_ = http.MethodGet
		_ = httptest.NewRecorder
	})
}

// getPage fetches path from h and returns the body, failing on a non-200.
func getPage(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != 200 {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// TestReviewPublicPagesShowNothingInternal: after a Fatal outage whose
// signals carry a Go error, a host name and a version in their summaries,
// from a declared component and an undeclared one, and with a maintenance
// window on an internal database only, neither PublicStatus, the status
// page, its summary.json nor its feed shows any of it.
func TestReviewPublicPagesShowNothingInternal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithComponents("checkout-api", "search"))
		page, err := firebreak.NewStatusPage(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := page.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer page.Close(context.Background())
		sig := signalFor(firebreak.Fatal)
		sig.Summary = `<script>alert(1)</script> dial tcp db-7.internal:5432: connection refused (pgx v5.5.1)`
		b.Report(sig)
		b.Report(firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "ledger-worker-3", Dependency: "db-7.internal",
			Tier: firebreak.Core, Firing: true, Summary: "panic: runtime error: index out of range [3] with length 3"})
		// A window's name is public: one naming an internal part is refused.
		for _, w := range []firebreak.MaintenanceWindow{
			{Name: "upgrade on db-7.internal", Components: []string{"db-7.internal"}},
			{Name: "ledger-worker-3 restart", Components: []string{"checkout-api"}},
		} {
			w.Start, w.End = time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)
			if err := b.ScheduleMaintenance(w, "alice"); err == nil || !strings.Contains(err.Error(), "name:") {
				t.Errorf("ScheduleMaintenance(%q): %v, want an error naming the name", w.Name, err)
			}
		}
		// A window on internal parts only is not public at all.
		if err := b.ScheduleMaintenance(firebreak.MaintenanceWindow{Name: "pg 16.2 upgrade",
			Components: []string{"db-7.internal"}, Start: time.Now().Add(time.Hour), End: time.Now().Add(2 * time.Hour)}, "alice"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		page.Refresh()
		synctest.Wait()
		st, _ := json.Marshal(b.PublicStatus())
		h := page.Handler()
		for name, body := range map[string]string{"PublicStatus": string(st), "page": getPage(t, h, "/"),
			"summary.json": getPage(t, h, "/summary.json"), "feed": getPage(t, h, "/history.atom")} {
			for _, w := range []string{"<script>", "db-7", "5432", "connection refused", "pgx", "v5.5", "16.2", "ledger-worker", "panic", "runtime error"} {
				if strings.Contains(body, w) {
					t.Errorf("%s shows %q:\n%s", name, w, body)
				}
			}
		}
		if !strings.Contains(string(st), firebreak.StatusMajorOutage) {
			t.Errorf("PublicStatus does not show the outage: %s", st)
		}
	})
}

// TestReviewMaintenanceRefusesTheHostZone: "Local" is accepted by
// time.LoadLocation but means the host's zone, so a weekly window would move
// with the machine (and differ across a fleet). It is refused, naming the
// field.
func TestReviewMaintenanceRefusesTheHostZone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithComponents("checkout-api"))
		w := firebreak.MaintenanceWindow{Name: "weekly restart", Components: []string{"checkout-api"},
			Weekly: &firebreak.WeeklySlot{Weekday: "sunday", Start: "02:00", Duration: firebreak.Duration(2 * time.Hour), Timezone: "Local"}}
		if err := b.ScheduleMaintenance(w, "alice"); err == nil || !strings.Contains(err.Error(), "timezone") {
			t.Fatalf("ScheduleMaintenance with timezone Local: %v, want an error naming timezone", err)
		}
		w.Weekly.Timezone = "Europe/Berlin"
		if err := b.ScheduleMaintenance(w, "alice"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestReviewFeedbackGlobalRefusalKeepsTheClientsBudget: during a flood
// from other addresses the total limit refuses a user's report; that
// refusal must not spend the user's own allowance, so once the total limit
// has room again the user's next report is taken, not refused for ten
// minutes.
func TestReviewFeedbackGlobalRefusalKeepsTheClientsBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithComponents("checkout"))
		f := newFeedback(t, b, firebreak.WithFeedbackRate(1, 10*time.Minute), firebreak.WithFeedbackTotalRate(1))
		in := firebreak.FeedbackInput{Component: "checkout", Message: "checkout fails"}
		if _, err := f.Submit(in, "203.0.113.1"); err != nil {
			t.Fatal(err)
		}
		_, err := f.Submit(in, "198.51.100.7")
		var lim *firebreak.FeedbackLimitError
		if !errors.As(err, &lim) || !lim.Global {
			t.Fatalf("second report within the total limit: %v, want the total limit's refusal", err)
		}
		time.Sleep(lim.RetryAfter)
		if _, err := f.Submit(in, "198.51.100.7"); err != nil {
			t.Fatalf("after the total limit's Retry-After the user's first accepted report was refused: %v", err)
		}
	})
}

// TestReviewFeedbackRatesTooFineAreRefused: a rate whose interval rounds to
// zero (5 per nanosecond, 2^40 a minute) used to make the limiter unlimited
// without a word; it is now an error naming the option.
func TestReviewFeedbackRatesTooFineAreRefused(t *testing.T) {
	b, _ := newBoard(t, firebreak.WithComponents("checkout"))
	for _, tc := range []struct {
		opt  firebreak.FeedbackOption
		want string
	}{
		{firebreak.WithFeedbackRate(5, time.Nanosecond), "WithFeedbackRate"},
		{firebreak.WithFeedbackRate(1000, 999*time.Nanosecond), "WithFeedbackRate"},
		{firebreak.WithFeedbackTotalRate(1 << 40), "WithFeedbackTotalRate"},
	} {
		if _, err := firebreak.NewFeedback(b, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewFeedback: %v, want an error naming %s", err, tc.want)
		}
	}
	if _, err := firebreak.NewFeedback(b, firebreak.WithFeedbackRate(1000, time.Second), firebreak.WithFeedbackTotalRate(60000)); err != nil {
		t.Fatal(err)
	}
}

// TestReviewStatusUpdatesAfterResolveAreRefused: operators post updates to
// one public incident at once, some of them resolving it, each tied to the
// Board incident (so each posting records evidence between its checks). A
// resolved incident takes no further updates: none may land after the
// resolution, and the incident stays resolved.
func TestReviewStatusUpdatesAfterResolveAreRefused(t *testing.T) {
	for round := range 20 {
		b, _ := newBoard(t, firebreak.WithComponents("checkout-api"))
		b.Report(signalFor(firebreak.Severe))
		id := b.List(firebreak.Filter{})[0].ID
		page, err := firebreak.NewStatusPage(b)
		if err != nil {
			t.Fatal(err)
		}
		first, err := page.PostUpdate(firebreak.StatusUpdate{Title: "Checkout errors", Status: firebreak.UpdateInvestigating,
			Message: "We are looking into failed payments.", Incident: id}, "alice")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				st := firebreak.UpdateIdentified
				if i%4 == 0 {
					st = firebreak.UpdateResolved
				}
				page.PostUpdate(firebreak.StatusUpdate{IncidentID: first.ID, Status: st, Message: "Update " + strconv.Itoa(i)}, "bob")
			})
		}
		wg.Wait()
		inc := page.Incidents()[0]
		resolved := slices.IndexFunc(inc.Updates, func(u firebreak.PublicUpdate) bool { return u.Status == firebreak.UpdateResolved })
		n := 0
		for _, u := range inc.Updates {
			if u.Status == firebreak.UpdateResolved {
				n++
			}
		}
		if inc.Status != firebreak.UpdateResolved || resolved != 0 || n != 1 {
			t.Fatalf("round %d: incident %s with %d updates, %d resolutions, the newest at %d (newest first): updates landed after the resolution", round, inc.Status, len(inc.Updates), n, resolved)
		}
	}
}

// TestReviewBoardNamesAreChecked: declared components are shown on the
// public status, and the service and env in every notification; an empty,
// repeated, padded or CR/LF-holding name used to be taken as it was. Each is
// now an error naming the option.
func TestReviewBoardNamesAreChecked(t *testing.T) {
	for _, tc := range []struct {
		service string
		opt     firebreak.BoardOption
		want    string
	}{
		{"checkout", firebreak.WithComponents("search", "search"), `component "search" is declared twice`},
		{"checkout", firebreak.WithComponents("search", ""), "WithComponents: component 1 is empty"},
		{"checkout", firebreak.WithComponents(" search"), "WithComponents: component 0"},
		{"checkout", firebreak.WithComponents("search\r\nX-Injected: 1"), "WithComponents: component 0"},
		{"checkout", firebreak.WithEnv("prod\n"), "WithEnv"},
		{"check\r\nout", firebreak.WithEnv("prod"), "service name"},
	} {
		b, err := firebreak.NewBoard(tc.service, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewBoard(%q, …): %v, want an error with %q", tc.service, err, tc.want)
		}
		if b != nil {
			b.Close(context.Background())
		}
	}
}
