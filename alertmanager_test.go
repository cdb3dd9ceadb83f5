package firebreak_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/testserver"
)

// amAlert is an alert as Alertmanager's GET /api/v2/alerts shows it.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Fingerprint string            `json:"fingerprint"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

// testClient is an HTTP client whose connections are closed when t ends, so
// goleak sees no idle connection goroutines.
func testClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// activeAlerts asks Alertmanager for its active alerts.
func activeAlerts(t *testing.T, c *http.Client, base string) []amAlert {
	t.Helper()
	resp, err := c.Get(base + "/api/v2/alerts?active=true&silenced=false&inhibited=false")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET alerts: %d %s", resp.StatusCode, body)
	}
	var out []amAlert
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	var active []amAlert
	for _, a := range out {
		if a.Status.State == "active" {
			active = append(active, a)
		}
	}
	return active
}

// eventually polls cond every 50ms until it holds or 10 seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		<-tick.C
	}
}

// realBoard is a board in real time posting to Alertmanager at urls.
func realBoard(t *testing.T, c *http.Client, resend time.Duration, urls ...string) (*firebreak.Board, *firebreak.Alertmanager) {
	t.Helper()
	am, err := firebreak.NewAlertmanager(urls[0], firebreak.WithAlertmanagerPeers(urls[1:]...),
		firebreak.WithHandoffClient(c), firebreak.WithResendInterval(resend), firebreak.WithHandoffRetryFor(5*time.Second),
		firebreak.WithHandoffExternalURL("https://ops.example/firebreak"))
	if err != nil {
		t.Fatal(err)
	}
	p := firebreak.DefaultPlan()
	p.Timers.GroupWait = 0
	b, err := firebreak.NewBoard("checkout", firebreak.WithEnv("prod"), firebreak.WithPlan(p), firebreak.WithNotifier(am))
	if err != nil {
		t.Fatal(err)
	}
	b.Start(context.Background())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("board Close: %v", err)
		}
		if err := am.Close(ctx); err != nil {
			t.Errorf("alertmanager Close: %v", err)
		}
	})
	return b, am
}

func TestAlertmanagerRealServerFatalAlertArrives(t *testing.T) {
	srv := testserver.Alertmanager(t)
	c := testClient(t)
	b, _ := realBoard(t, c, time.Minute, srv.URL)
	b.Report(signalFor(firebreak.Fatal))
	var got []amAlert
	eventually(t, "the alert is active in Alertmanager", func() bool {
		got = activeAlerts(t, c, srv.URL)
		return len(got) > 0
	})
	if len(got) != 1 {
		t.Fatalf("want 1 alert, got %+v", got)
	}
	want := map[string]string{
		"alertname": "ErrorBudgetBurn", "service": "checkout", "env": "prod", "component": "checkout-api",
		"dependency": "payments-db", "slo": "availability", "severity": "critical",
	}
	if a := got[0]; !equalMaps(a.Labels, want) {
		t.Fatalf("labels %v, want %v", a.Labels, want)
	}
	inc := only(t, b)
	if a := got[0]; a.Annotations["incident_id"] != inc.ID || a.Annotations["level"] != "1" || a.Fingerprint != firebreak.Fingerprint(want) {
		t.Fatalf("alert %+v (incident %s)", a, inc.ID)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// Two replicas report the same fault to an HA pair of Alertmanagers: each
// Alertmanager holds one alert, and resolving it on both replicas retires it.
func TestAlertmanagerRealServerTwoReplicasOneAlert(t *testing.T) {
	am1, am2 := testserver.Alertmanager(t), testserver.Alertmanager(t)
	c := testClient(t)
	b1, _ := realBoard(t, c, time.Minute, am1.URL, am2.URL)
	b2, _ := realBoard(t, c, time.Minute, am2.URL, am1.URL)
	b1.Report(signalFor(firebreak.Fatal))
	b2.Report(signalFor(firebreak.Fatal))
	for _, srv := range []*testserver.Server{am1, am2} {
		eventually(t, "both replicas' posts arrived", func() bool {
			// Each replica's alert carries its own incident ID as an
			// annotation; wait until the later post has landed.
			got := activeAlerts(t, c, srv.URL)
			return len(got) > 0
		})
	}
	// Let both notifiers finish: both boards have delivered once.
	eventually(t, "both boards delivered", func() bool {
		return b1.Stats().Notified >= 1 && b2.Stats().Notified >= 1
	})
	for _, srv := range []*testserver.Server{am1, am2} {
		if got := activeAlerts(t, c, srv.URL); len(got) != 1 {
			t.Fatalf("%s: want one alert from two replicas, got %d: %+v", srv.URL, len(got), got)
		}
	}
	for _, b := range []*firebreak.Board{b1, b2} {
		if err := b.Resolve(only(t, b).ID, "ana", "fixed"); err != nil {
			t.Fatal(err)
		}
	}
	for _, srv := range []*testserver.Server{am1, am2} {
		eventually(t, "the resolution retires the alert", func() bool { return len(activeAlerts(t, c, srv.URL)) == 0 })
	}
}

func TestAlertmanagerRealServerResolution(t *testing.T) {
	srv := testserver.Alertmanager(t)
	c := testClient(t)
	b, _ := realBoard(t, c, time.Minute, srv.URL)
	b.Report(signalFor(firebreak.Fatal))
	eventually(t, "the alert is active", func() bool { return len(activeAlerts(t, c, srv.URL)) == 1 })
	if err := b.Resolve(only(t, b).ID, "ana", "rolled back"); err != nil {
		t.Fatal(err)
	}
	// With a one-minute resend the alert's endsAt is three minutes away: it
	// leaves the active alerts only because the resolution was posted.
	eventually(t, "the alert is no longer active", func() bool { return len(activeAlerts(t, c, srv.URL)) == 0 })
}

// A firing alert outlives its first endsAt because the notifier re-sends it;
// once the notifier is closed, the alert expires.
func TestAlertmanagerRealServerResendKeepsFiringAlertAlive(t *testing.T) {
	srv := testserver.Alertmanager(t)
	c := testClient(t)
	const resend = 300 * time.Millisecond // endsAt = now + 900ms
	b, am := realBoard(t, c, resend, srv.URL)
	b.Report(signalFor(firebreak.Fatal))
	var first amAlert
	eventually(t, "the alert is active", func() bool {
		got := activeAlerts(t, c, srv.URL)
		if len(got) == 1 {
			first = got[0]
		}
		return len(got) == 1
	})
	// For three seconds — more than three times the first endsAt away —
	// the alert must stay active at every look.
	until := first.EndsAt.Add(2 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last amAlert
	for time.Now().Before(until) {
		<-tick.C
		got := activeAlerts(t, c, srv.URL)
		if len(got) != 1 {
			t.Fatalf("at %s (first endsAt %s) the firing alert is gone", time.Now().Format(time.StampMilli), first.EndsAt.Format(time.StampMilli))
		}
		last = got[0]
	}
	if !last.EndsAt.After(first.EndsAt.Add(time.Second)) {
		t.Fatalf("endsAt did not move forward: first %s, last %s", first.EndsAt, last.EndsAt)
	}
	if n := am.Firing(); n != 1 {
		t.Fatalf("notifier keeps %d alerts alive, want 1", n)
	}
	// Without resends the alert expires within three intervals.
	if err := am.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the alert expires without resends", func() bool { return len(activeAlerts(t, c, srv.URL)) == 0 })
}

// An escalation retires the alert under its old severity (severity is part
// of its identity) and posts it under the new one; label names Alertmanager
// would refuse are rewritten; the URL's credentials never show in an error.
func TestAlertmanagerEscalationRetiresOldSeverity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var posts [][]firebreak.PostableAlert
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			var got []firebreak.PostableAlert
			json.NewDecoder(r.Body).Decode(&got)
			mu.Lock()
			posts = append(posts, got)
			mu.Unlock()
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
		})
		am, err := firebreak.NewAlertmanager("http://am:9093", firebreak.WithHandoffClient(&http.Client{Transport: rt}))
		if err != nil {
			t.Fatal(err)
		}
		n := handoffNotification()
		n.Incident.Alerts[0].Labels["http.route"] = "pay"
		n.Event, n.AlertSeverity, n.PreviousSeverity, n.PreviousAlertSeverity = firebreak.EventEscalated, "critical", firebreak.Severe, "error"
		if err := am.Notify(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		first := posts[0]
		mu.Unlock()
		sevs := map[string]bool{}
		for _, a := range first {
			sevs[a.Labels["severity"]+" "+map[bool]string{true: "firing", false: "resolved"}[a.EndsAt.After(n.At)]] = true
			if a.Labels["http_route"] != "pay" {
				t.Fatalf("labels %v", a.Labels)
			}
		}
		if !sevs["critical firing"] || !sevs["error resolved"] || len(first) != 2 {
			t.Fatalf("posted %+v", first)
		}
		// Resends keep only the firing one alive; the resolved one is sent
		// twice more, then forgotten.
		time.Sleep(5 * time.Minute)
		if n := am.Firing(); n != 1 {
			t.Fatalf("firing %d", n)
		}
		if err := am.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(posts) < 5 || len(posts[len(posts)-1]) != 1 {
			t.Fatalf("%d posts, the last %+v", len(posts), posts[len(posts)-1])
		}

		down := roundTripFunc(func(r *http.Request) (*http.Response, error) { return nil, errors.New("connection refused") })
		am2, err := firebreak.NewAlertmanager("http://ops:pa55w0rdpa55@am:9093", firebreak.WithHandoffClient(&http.Client{Transport: down}),
			firebreak.WithHandoffRetryFor(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		err = am2.Notify(context.Background(), handoffNotification())
		if err == nil || strings.Contains(err.Error(), "pa55w0rd") || !strings.Contains(err.Error(), "***@am:9093") {
			t.Fatalf("err = %v", err)
		}
		am2.Close(context.Background())
	})
}

// A Board closes the Alertmanager notifier it was given: Board.Close stops
// the resend loop (goleak would see it otherwise), and the notifier refuses
// what comes after.
func TestBoardClosesItsAlertmanager(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var posts atomic.Int64
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			posts.Add(1)
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
		})
		am, err := firebreak.NewAlertmanager("http://am:9093", firebreak.WithHandoffClient(&http.Client{Transport: rt}))
		if err != nil {
			t.Fatal(err)
		}
		b, err := firebreak.NewBoard("checkout", firebreak.WithNotifier(am))
		if err != nil {
			t.Fatal(err)
		}
		b.Start(context.Background())
		b.Report(signalFor(firebreak.Fatal))
		time.Sleep(5 * time.Minute) // announced, then resent while it fires
		synctest.Wait()
		if posts.Load() < 2 {
			t.Fatalf("%d posts, want the announcement and resends", posts.Load())
		}
		if err := b.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := am.Notify(context.Background(), handoffNotification()); err == nil {
			t.Fatal("the Alertmanager notifier still accepts notifications after Board.Close")
		}
		n := posts.Load()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if posts.Load() != n {
			t.Fatalf("resends went on after Board.Close: %d → %d posts", n, posts.Load())
		}
	})
}
