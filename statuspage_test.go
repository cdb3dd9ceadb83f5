package firebreak_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// secrets are strings that must never reach a public page: error text, host
// names, versions and undeclared component names, all put into signals.
var secrets = []string{"10.2.3.4", "db-7.internal.example", "connection refused", "postgres 15.4", "v2.3.1-rc1",
	"checkout-worker-3", "payments-db-7", "ledger-sidecar", "kubelet"}

func leakySignals() []firebreak.Signal {
	return []firebreak.Signal{
		{Kind: firebreak.KindBreakerOpen, Component: "checkout", Dependency: "payments-db-7", Tier: firebreak.Core, Firing: true, Value: 0.9,
			Summary: "dial tcp 10.2.3.4:5432: connection refused (db-7.internal.example, postgres 15.4)",
			Labels:  map[string]string{"host": "db-7.internal.example", "version": "v2.3.1-rc1"}, TraceIDs: []string{"4bf92f3577b34da6a3ce929d0e0e4736"}},
		{Kind: firebreak.KindHealthFailed, Component: "checkout-worker-3", Tier: firebreak.Core, Firing: true, Value: 5,
			Summary: "kubelet probe failed on ledger-sidecar v2.3.1-rc1"},
	}
}

func newStatusPage(t *testing.T, b *firebreak.Board, opts ...firebreak.StatusPageOption) *firebreak.StatusPage {
	t.Helper()
	p, err := firebreak.NewStatusPage(b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("StatusPage.Close: %v", err)
		}
	})
	return p
}

// get serves one request and returns the response and its body.
func get(t *testing.T, h http.Handler, target string, hdr ...string) (*http.Response, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := w.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func assertNoSecrets(t *testing.T, where, body string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(body, s) {
			t.Errorf("%s shows %q", where, s)
		}
	}
}

// An hour of an outage at 1,000 signals a second whose summaries, labels and
// components carry error text, host names, versions and undeclared names:
// the page, its summary.json and its feed show the declared components in
// Statuspage's words and the update a person wrote, and none of the rest. An
// update naming an internal part is refused.
func TestStatusPageNeverLeaks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithComponents("checkout", "search"))
		p := newStatusPage(t, b, firebreak.WithPageName("Example Shop"))
		h := p.Handler()
		sigs := leakySignals()
		burst(b, 10*time.Minute, 1000, sigs...)
		inc := b.List(firebreak.Filter{Component: "checkout"})[0]
		if _, err := p.PostUpdate(firebreak.StatusUpdate{Title: "Payments failing", Status: firebreak.UpdateInvestigating,
			Message: "Our payments-db-7 cluster is down", Components: []string{"checkout"}}, "alice"); err == nil ||
			!strings.Contains(err.Error(), `"payments-db-7"`) {
			t.Fatalf("an update naming an internal part: %v, want refused naming it", err)
		}
		if _, err := p.PostUpdate(firebreak.StatusUpdate{Title: "Payments failing", Incident: inc.ID, Status: firebreak.UpdateInvestigating,
			Message: "Card payments fail for some customers. We are investigating.", Impact: firebreak.ImpactMajor, Components: []string{"checkout"}}, "alice"); err != nil {
			t.Fatal(err)
		}
		burst(b, 50*time.Minute, 1000, sigs...)
		synctest.Wait()
		_, html := get(t, h, "/status/")
		_, js := get(t, h, "/status/summary.json")
		_, atom := get(t, h, "/status/history.atom")
		for where, body := range map[string]string{"page": html, "summary.json": js, "feed": atom} {
			assertNoSecrets(t, where, body)
			if !strings.Contains(body, "Card payments fail for some customers") {
				t.Errorf("%s lacks the public update", where)
			}
		}
		var sum struct {
			Status     struct{ Indicator, Description string }
			Components []struct{ Name, Status string }
		}
		if err := json.Unmarshal([]byte(js), &sum); err != nil {
			t.Fatal(err)
		}
		if sum.Status.Indicator != "critical" || len(sum.Components) != 2 || sum.Components[0].Name != "checkout" ||
			sum.Components[0].Status != firebreak.StatusMajorOutage || sum.Components[1].Status != firebreak.StatusOperational {
			t.Fatalf("summary: %+v", sum)
		}
		if !strings.Contains(html, "Major Service Outage") || !strings.Contains(html, "Example Shop") {
			t.Fatalf("page lacks the overall state:\n%s", html)
		}
	})
}

// A public incident goes investigating → identified → monitoring →
// resolved: each update is on the page and in the feed, recorded in the
// Board incident's timeline, and summary.json lists the incident until it is
// resolved, in Statuspage's shape; then it is in the 90-day history.
func TestStatusPageIncidentUpdates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithComponents("checkout", "search"))
		p := newStatusPage(t, b)
		h := p.Handler()
		sig := firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "checkout", Dependency: "payments", Tier: firebreak.Core, Firing: true, Value: 1}
		burst(b, 2*time.Minute, 100, sig)
		inc := b.List(firebreak.Filter{})[0]
		steps := []struct {
			status firebreak.UpdateStatus
			msg    string
		}{
			{firebreak.UpdateInvestigating, "Checkout is failing for some customers."},
			{firebreak.UpdateIdentified, "We found the cause: a failed payment provider connection."},
			{firebreak.UpdateMonitoring, "A fix is in place and we are watching the results."},
			{firebreak.UpdateResolved, "Checkout works normally again."},
		}
		var id string
		for i, s := range steps {
			u := firebreak.StatusUpdate{IncidentID: id, Status: s.status, Message: s.msg}
			if i == 0 {
				u.Title, u.Incident, u.Components, u.Impact = "Checkout errors", inc.ID, []string{"checkout"}, firebreak.ImpactMajor
			}
			pi, err := p.PostUpdate(u, "alice")
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			id = pi.ID
			time.Sleep(time.Minute)
			synctest.Wait()
			_, js := get(t, h, "/summary.json")
			var sum struct {
				Page struct {
					ID, Name string
					TimeZone string `json:"time_zone"`
				}
				Incidents []struct {
					ID, Name, Status, Impact string
					IncidentUpdates          []struct{ Status, Body, IncidentID string } `json:"incident_updates"`
					Components               []struct{ Name, Status string }
				}
				ScheduledMaintenances []any `json:"scheduled_maintenances"`
			}
			if err := json.Unmarshal([]byte(js), &sum); err != nil {
				t.Fatal(err)
			}
			if s.status == firebreak.UpdateResolved {
				if len(sum.Incidents) != 0 {
					t.Fatalf("a resolved incident is still in summary.json: %+v", sum.Incidents)
				}
				continue
			}
			if len(sum.Incidents) != 1 || sum.Incidents[0].Status != string(s.status) || sum.Incidents[0].Impact != "major" ||
				len(sum.Incidents[0].IncidentUpdates) != i+1 || sum.Incidents[0].IncidentUpdates[0].Body != s.msg ||
				sum.Incidents[0].Components[0].Name != "checkout" || sum.Page.TimeZone != "Etc/UTC" || sum.ScheduledMaintenances == nil {
				t.Fatalf("step %d: summary %s", i, js)
			}
		}
		if _, err := p.PostUpdate(firebreak.StatusUpdate{IncidentID: id, Status: firebreak.UpdateMonitoring, Message: "again"}, "alice"); err == nil {
			t.Fatal("an update to a resolved public incident was accepted")
		}
		_, html := get(t, h, "/")
		hist := html[strings.Index(html, `id="history"`):]
		if !strings.Contains(hist, "Checkout errors") || !strings.Contains(hist, "Checkout works normally again.") {
			t.Fatalf("history lacks the resolved incident:\n%s", html)
		}
		_, atom := get(t, h, "/history.atom")
		var feed struct {
			Entries []struct {
				Title   string `xml:"title"`
				Content string `xml:"content"`
			} `xml:"entry"`
		}
		if err := xml.Unmarshal([]byte(atom), &feed); err != nil || len(feed.Entries) != 4 || !strings.Contains(feed.Entries[0].Title, "resolved") {
			t.Fatalf("feed (%v): %s", err, atom)
		}
		got, _ := b.Get(inc.ID)
		n := 0
		for _, e := range got.Evidence {
			if e.Kind == "public_update" {
				n++
			}
		}
		if n != 4 {
			t.Fatalf("board incident holds %d public updates, want 4: %+v", n, got.Evidence)
		}
	})
}

// The page is served with headers a CDN can use: public max-age, an ETag
// honoured by If-None-Match and a Last-Modified that moves only when what
// users see changes.
func TestStatusPageCacheHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithComponents("checkout"))
		p := newStatusPage(t, b, firebreak.WithMaxAge(45*time.Second))
		h := p.Handler()
		res, _ := get(t, h, "/")
		tag, mod := res.Header.Get("ETag"), res.Header.Get("Last-Modified")
		if res.StatusCode != 200 || tag == "" || mod == "" || res.Header.Get("Cache-Control") != "public, max-age=45, stale-while-revalidate=60" ||
			res.Header.Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("headers: %v", res.Header)
		}
		time.Sleep(5 * time.Minute) // 30 renderings with nothing new
		synctest.Wait()
		if res, _ := get(t, h, "/", "If-None-Match", tag); res.StatusCode != http.StatusNotModified || res.Header.Get("Last-Modified") != mod {
			t.Fatalf("unchanged page: %d, Last-Modified %q (was %q)", res.StatusCode, res.Header.Get("Last-Modified"), mod)
		}
		if _, err := p.PostUpdate(firebreak.StatusUpdate{Title: "Slow search", Status: firebreak.UpdateInvestigating, Message: "Looking into it."}, "bob"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if res, _ := get(t, h, "/", "If-None-Match", tag); res.StatusCode != 200 || res.Header.Get("ETag") == tag {
			t.Fatalf("changed page: %d, ETag %q", res.StatusCode, res.Header.Get("ETag"))
		}
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusMethodNotAllowed {
			t.Fatalf("POST: %d", w.Code)
		}
		if res, _ := get(t, h, "/nope"); res.StatusCode != 404 {
			t.Fatalf("unknown path: %d", res.StatusCode)
		}
	})
}

// Scheduled maintenance shows ahead of time, then in progress.
func TestStatusPageMaintenanceAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithComponents("checkout", "search"))
		p := newStatusPage(t, b)
		start := time.Now().Add(48 * time.Hour)
		if err := b.ScheduleMaintenance(firebreak.MaintenanceWindow{Name: "Search upgrade", Components: []string{"search", "search-indexer-2"},
			Start: start, End: start.Add(time.Hour), Reason: "CHG-77 elasticsearch 8.15 on es-3.internal"}, "carol"); err != nil {
			t.Fatal(err)
		}
		p.Refresh()
		synctest.Wait()
		h := p.Handler()
		_, html := get(t, h, "/")
		_, js := get(t, h, "/summary.json")
		if !strings.Contains(html, "Scheduled maintenance") || !strings.Contains(html, "Search upgrade") || !strings.Contains(js, `"status": "scheduled"`) {
			t.Fatalf("maintenance not shown ahead:\n%s\n%s", html, js)
		}
		for _, s := range []string{"CHG-77", "elasticsearch", "es-3.internal", "search-indexer-2"} {
			if strings.Contains(html+js, s) {
				t.Errorf("maintenance shows %q", s)
			}
		}
		time.Sleep(48*time.Hour + time.Minute)
		synctest.Wait()
		_, js = get(t, h, "/summary.json")
		if !strings.Contains(js, `"status": "in_progress"`) || !strings.Contains(js, `"status": "under_maintenance"`) {
			t.Fatalf("maintenance in progress:\n%s", js)
		}
	})
}

// Ninety days of history: a day with an outage shows on the component's
// bar and the resolved incident in the history; 91 days later both are gone.
func TestStatusPageNinetyDays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithComponents("checkout"))
		p := newStatusPage(t, b, firebreak.WithRefreshInterval(10*time.Minute))
		h := p.Handler()
		sig := firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "checkout", Dependency: "payments", Tier: firebreak.Core, Firing: true, Value: 1}
		burst(b, 30*time.Minute, 10, sig)
		pi, err := p.PostUpdate(firebreak.StatusUpdate{Title: "Checkout down", Status: firebreak.UpdateInvestigating, Message: "Investigating.", Components: []string{"checkout"}}, "alice")
		if err != nil {
			t.Fatal(err)
		}
		sig.Firing = false
		b.Report(sig)
		for _, inc := range b.List(firebreak.Filter{OpenOnly: true}) {
			b.Resolve(inc.ID, "alice", "fixed")
		}
		if _, err := p.PostUpdate(firebreak.StatusUpdate{IncidentID: pi.ID, Status: firebreak.UpdateResolved, Message: "Fixed."}, "alice"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(24 * time.Hour)
		synctest.Wait()
		_, html := get(t, h, "/")
		bar := html[strings.Index(html, `class="days"`):]
		bar = bar[:strings.Index(bar, "</div>")]
		if strings.Count(bar, `<i class="d`) != firebreak.HistoryDays || !strings.Contains(bar, "st-major_outage") || !strings.Contains(html, "Checkout down") {
			t.Fatalf("day bar after the outage: %s", bar)
		}
		time.Sleep(90 * 24 * time.Hour)
		synctest.Wait()
		_, html = get(t, h, "/")
		bar = html[strings.Index(html, `class="days"`):]
		bar = bar[:strings.Index(bar, "</div>")]
		if strings.Contains(bar, "st-major_outage") || strings.Contains(html, "Checkout down") || !strings.Contains(html, "No incidents reported.") {
			t.Fatalf("91 days later the outage is still shown: %s", bar)
		}
	})
}

func TestStatusPageSettings(t *testing.T) {
	b, err := firebreak.NewBoard("shop", firebreak.WithComponents("checkout"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		opts []firebreak.StatusPageOption
		want string
	}{
		{[]firebreak.StatusPageOption{nil}, "NewStatusPage: option 0 is nil"},
		{[]firebreak.StatusPageOption{firebreak.WithRefreshInterval(time.Millisecond)}, "WithRefreshInterval: must be from 1s to 10m, got 1ms"},
		{[]firebreak.StatusPageOption{firebreak.WithMaxAge(-time.Second)}, "WithMaxAge"},
		{[]firebreak.StatusPageOption{firebreak.WithPageName(" ")}, "WithPageName"},
		{[]firebreak.StatusPageOption{firebreak.WithFeedbackForm("javascript:alert(1)")}, "WithFeedbackForm"},
	} {
		if _, err := firebreak.NewStatusPage(b, c.opts...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v", c.want, err)
		}
	}
	p, err := firebreak.NewStatusPage(b)
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := get(t, p.Handler(), "/"); res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("before Start: %d", res.StatusCode)
	}
	for _, c := range []struct {
		u    firebreak.StatusUpdate
		want string
	}{
		{firebreak.StatusUpdate{Title: "x", Status: "fixed", Message: "m"}, `Status must be investigating, identified, monitoring or resolved, got "fixed"`},
		{firebreak.StatusUpdate{Title: "x", Status: firebreak.UpdateInvestigating}, "Message is required"},
		{firebreak.StatusUpdate{Status: firebreak.UpdateInvestigating, Message: "m"}, "Title is required"},
		{firebreak.StatusUpdate{Title: "x", Status: firebreak.UpdateInvestigating, Message: "m", Components: []string{"db"}}, `component "db" is not declared public`},
		{firebreak.StatusUpdate{Title: "x", Status: firebreak.UpdateInvestigating, Message: "m", Impact: "huge"}, `Impact must be none, minor, major or critical, got "huge"`},
		{firebreak.StatusUpdate{IncidentID: "p99", Status: firebreak.UpdateInvestigating, Message: "m"}, `public incident "p99"`},
		{firebreak.StatusUpdate{Title: "x", Incident: "nope", Status: firebreak.UpdateInvestigating, Message: "m"}, `incident "nope"`},
	} {
		if _, err := p.PostUpdate(c.u, "alice"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v", c.want, err)
		}
	}
	if _, err := p.PostUpdate(firebreak.StatusUpdate{Title: "x", Status: firebreak.UpdateInvestigating, Message: "m"}, ""); err == nil {
		t.Error("an update by nobody was accepted")
	}
	p.Close(context.Background())
	if err := p.Start(context.Background()); err == nil {
		t.Error("Start after Close succeeded")
	}
}
