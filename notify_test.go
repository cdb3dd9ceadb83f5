package firebreak_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

func TestWebhookRetriesThenDeliversOnce(t *testing.T) {
	var attempts, delivered atomic.Int32
	var mu sync.Mutex
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if attempts.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = body
		mu.Unlock()
		delivered.Add(1)
	}))
	defer srv.Close()
	wh, err := firebreak.NewWebhook(srv.URL, firebreak.WithExternalURL("https://ops.example/firebreak"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := firebreak.NewBoard("checkout", firebreak.WithEnv("prod"), firebreak.WithNotifier(wh),
		firebreak.WithPlan(func() *firebreak.Plan { p := firebreak.DefaultPlan(); p.Timers.GroupWait = 0; return p }()))
	if err != nil {
		t.Fatal(err)
	}
	b.Start()
	b.Report(signalFor(firebreak.Fatal))
	// Close flushes the queue: it returns once the notification is delivered.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if a, d := attempts.Load(), delivered.Load(); a != 3 || d != 1 {
		t.Fatalf("attempts %d, delivered %d; want 3, 1", a, d)
	}
	if st := b.Stats(); st.Notified != 1 || st.NotifyFailed != 0 {
		t.Fatalf("stats %+v", st)
	}

	// The payload uses Alertmanager's v4 field names.
	var raw map[string]any
	if err := json.Unmarshal(got, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels", "commonLabels", "commonAnnotations", "externalURL", "alerts"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("payload lacks %q", k)
		}
	}
	var msg firebreak.WebhookMessage
	dec := json.NewDecoder(bytes.NewReader(got))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&msg); err != nil {
		t.Fatal(err)
	}
	if msg.Version != "4" || msg.Status != "firing" || len(msg.Alerts) != 1 {
		t.Fatalf("message %+v", msg)
	}
	a := msg.Alerts[0]
	alert := raw["alerts"].([]any)[0].(map[string]any)
	for _, k := range []string{"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"} {
		if _, ok := alert[k]; !ok {
			t.Errorf("alert lacks %q", k)
		}
	}
	if a.Labels["alertname"] != "ErrorBudgetBurn" || a.Labels["severity"] != "critical" || a.Labels["service"] != "checkout" {
		t.Fatalf("labels %v", a.Labels)
	}
	if a.Fingerprint != firebreak.Fingerprint(a.Labels) {
		t.Fatalf("fingerprint %s does not match the labels", a.Fingerprint)
	}
	if alert["endsAt"] != "0001-01-01T00:00:00Z" {
		t.Fatalf("endsAt while firing = %v", alert["endsAt"])
	}
	if !strings.HasPrefix(a.GeneratorURL, "https://ops.example/firebreak/incidents/INC-") {
		t.Fatalf("generatorURL %q", a.GeneratorURL)
	}
	if msg.GroupKey != `{}:{env="prod", fault_domain="payments-db", service="checkout"}` {
		t.Fatalf("groupKey %s", msg.GroupKey)
	}
}

func TestFingerprintMatchesAlertmanager(t *testing.T) {
	got := firebreak.Fingerprint(map[string]string{
		"alertname": "ErrorBudgetBurn", "env": "prod", "service": "checkout",
		"severity": "critical", "slo": "availability", "window": "1h/5m",
	})
	if got != "d1a6536046f93e38" {
		t.Fatalf("Fingerprint = %s, want d1a6536046f93e38", got)
	}
}

func TestWebhookGivesUpOnClientError(t *testing.T) {
	var attempts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer srv.Close()
	wh, _ := firebreak.NewWebhook(srv.URL)
	err := wh.Notify(context.Background(), firebreak.Notification{Event: firebreak.EventDetected})
	if err == nil || attempts.Load() != 1 {
		t.Fatalf("err %v after %d attempts; want an error after 1", err, attempts.Load())
	}
}

func TestWebhookRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "not a url", "/relative"} {
		if _, err := firebreak.NewWebhook(u); err == nil {
			t.Errorf("NewWebhook(%q) accepted", u)
		}
	}
}

// A webhook that never answers must not slow Report; Close gives up at its
// deadline and counts what it could not deliver.
func TestHangingWebhookDoesNotSlowReport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := firebreak.NotifierFunc(func(ctx context.Context, n firebreak.Notification) error {
			<-ctx.Done() // a receiver that never answers
			return ctx.Err()
		})
		p := firebreak.DefaultPlan()
		p.Timers.GroupWait = 0
		b, err := firebreak.NewBoard("checkout", firebreak.WithPlan(p), firebreak.WithNotifier(hang), firebreak.WithQueueSize(4),
			firebreak.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		b.Start()
		start := time.Now()
		for i := range 100 {
			s := signalFor(firebreak.Severe)
			s.Dependency = "dep-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			b.Report(s)
		}
		time.Sleep(time.Second)
		if elapsed := time.Since(start); elapsed != time.Second {
			t.Fatalf("Report blocked for %v of virtual time", elapsed-time.Second)
		}
		st := b.Stats()
		if st.NotifyDropped == 0 {
			t.Fatalf("a full queue dropped nothing: %+v", st)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := b.Close(ctx); err == nil {
			t.Fatal("Close reported a flush that could not happen")
		}
	})
}

func TestSlogNotifier(t *testing.T) {
	var buf bytes.Buffer
	n := firebreak.SlogNotifier(slog.New(slog.NewJSONHandler(&buf, nil)))
	inc := firebreak.Incident{ID: "INC-0001", Title: "BreakerOpen: api → db", Severity: firebreak.Fatal, Level: 1, Lead: "all hands"}
	if err := n.Notify(context.Background(), firebreak.Notification{Event: firebreak.EventDetected, Incident: inc}); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["level"] != "ERROR" || rec["incident"] != "INC-0001" || rec["severity"] != "fatal" || rec["lead"] != "all hands" {
		t.Fatalf("record %v", rec)
	}
}
