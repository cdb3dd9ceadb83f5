package firebreak_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// fakeReceiver is an http.RoundTripper standing in for an alert receiver,
// so webhook tests run in a synctest bubble with virtual time.
type fakeReceiver struct {
	mu       sync.Mutex
	answers  []int // status codes to give, in order; then 200
	header   http.Header
	attempts []time.Time
	bodies   [][]byte
}

func (f *fakeReceiver) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts = append(f.attempts, time.Now())
	code := http.StatusOK
	if len(f.answers) > 0 {
		code, f.answers = f.answers[0], f.answers[1:]
	} else {
		f.bodies = append(f.bodies, body)
	}
	h := http.Header{}
	if code != http.StatusOK {
		for k, v := range f.header {
			h[k] = v
		}
	}
	return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

func TestWebhookRetriesThenDeliversOnce(t *testing.T) {
	var got []byte
	synctest.Test(t, func(t *testing.T) {
		rt := &fakeReceiver{answers: []int{503, 502}}
		wh, err := firebreak.NewWebhook("http://alerts.example/hook", firebreak.WithHTTPClient(&http.Client{Transport: rt}),
			firebreak.WithExternalURL("https://ops.example/firebreak"))
		if err != nil {
			t.Fatal(err)
		}
		p := firebreak.DefaultPlan()
		p.Timers.GroupWait = 0
		b, err := firebreak.NewBoard("checkout", firebreak.WithEnv("prod"), firebreak.WithNotifier(wh), firebreak.WithPlan(p))
		if err != nil {
			t.Fatal(err)
		}
		b.Start(context.Background())
		b.Report(signalFor(firebreak.Fatal))
		time.Sleep(time.Second)
		// Close flushes the queue: it returns once the notification is delivered.
		if err := b.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if a, d := len(rt.attempts), len(rt.bodies); a != 3 || d != 1 {
			t.Fatalf("attempts %d, delivered %d; want 3, 1", a, d)
		}
		if st := b.Stats(); st.Notified != 1 || st.NotifyFailed != 0 {
			t.Fatalf("stats %+v", st)
		}
		got = rt.bodies[0]
	})

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

// A receiver's Retry-After is a floor on the wait before the next attempt.
func TestWebhookHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &fakeReceiver{answers: []int{429}, header: http.Header{"Retry-After": {"30"}}}
		wh, _ := firebreak.NewWebhook("http://alerts.example/hook", firebreak.WithHTTPClient(&http.Client{Transport: rt}))
		if err := wh.Notify(context.Background(), firebreak.Notification{Event: firebreak.EventDetected}); err != nil {
			t.Fatal(err)
		}
		if len(rt.attempts) != 2 {
			t.Fatalf("%d attempts", len(rt.attempts))
		}
		if gap := rt.attempts[1].Sub(rt.attempts[0]); gap < 30*time.Second {
			t.Fatalf("retried after %v, before the receiver's Retry-After of 30s", gap)
		}
	})
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
		b.Start(context.Background())
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

// A 307 or 308 re-posted the payload, with the custom secret headers, to
// whatever host the receiver named. Now no redirect is followed.
func TestWebhookFollowsNoRedirect(t *testing.T) {
	var stolen atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
	}))
	defer evil.Close()
	var attempts atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		http.Redirect(w, r, evil.URL+"/collect", http.StatusTemporaryRedirect)
	}))
	defer hook.Close()
	for _, client := range []*http.Client{nil, {}} {
		opts := []firebreak.WebhookOption{firebreak.WithHeader("X-Api-Key", "very-secret-key-123")}
		if client != nil {
			opts = append(opts, firebreak.WithHTTPClient(client))
		}
		wh, err := firebreak.NewWebhook(hook.URL, opts...)
		if err != nil {
			t.Fatal(err)
		}
		err = wh.Notify(context.Background(), firebreak.Notification{Event: firebreak.EventDetected})
		if err == nil || !strings.Contains(err.Error(), "redirects are not followed") || strings.Contains(err.Error(), "very-secret") {
			t.Fatalf("redirect: %v", err)
		}
	}
	if stolen.Load() != 0 || attempts.Load() != 2 {
		t.Fatalf("the other host got %d posts; the hook %d attempts", stolen.Load(), attempts.Load())
	}
}

// A token in the URL's user info, path or query appeared in every
// delivery-failure log line. Now every error, and so the board's log, masks it.
func TestWebhookMasksSecretsInErrorsAndLogs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		down := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return nil, errors.New("connection refused")
		})
		raw := "https://bot:hunter2hunter2@hooks.example.com/services/T0AB12CD3/B0XY98ZW7/abcdefghijklmnopqrstuvwx?token=Zm9vYmFyYmF6cXV4&channel=ops#frag-secret"
		wh, err := firebreak.NewWebhook(raw, firebreak.WithHTTPClient(&http.Client{Transport: down}),
			firebreak.WithRetryFor(time.Minute), firebreak.WithHeader("Authorization", "Bearer header-secret-0987"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := firebreak.NewBoard("checkout", firebreak.WithNotifier(wh), firebreak.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		b.Start(context.Background())
		b.Report(burn(1000, 1))
		time.Sleep(5 * time.Minute)
		b.Close(context.Background())
		out := logs.String()
		if !strings.Contains(out, "notification not delivered") || !strings.Contains(out, "hooks.example.com/services/***/***/***") {
			t.Fatalf("log: %s", out)
		}
		for _, secret := range []string{"hunter2", "T0AB12CD3", "B0XY98ZW7", "abcdefghijklmnop", "Zm9vYmFy", "frag-secret", "header-secret", "bot:"} {
			if strings.Contains(out, secret) {
				t.Errorf("log shows %q: %s", secret, out)
			}
		}
		if _, err := firebreak.NewWebhook("ftp://u:hunter2@x/abcdefghij1234"); err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "abcdefghij1234") {
			t.Fatalf("NewWebhook error: %v", err)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// 408 Request Timeout was not retried.
func TestWebhookRetries408(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &fakeReceiver{answers: []int{408, 408}}
		wh, _ := firebreak.NewWebhook("http://alerts.example/hook", firebreak.WithHTTPClient(&http.Client{Transport: rt}))
		if err := wh.Notify(context.Background(), firebreak.Notification{Event: firebreak.EventDetected}); err != nil {
			t.Fatal(err)
		}
		if len(rt.attempts) != 3 || len(rt.bodies) != 1 {
			t.Fatalf("%d attempts, %d delivered", len(rt.attempts), len(rt.bodies))
		}
	})
}

// Every POST carried all of an incident's alerts: about 5 MB per change at
// 10,000 alerts. Now a message carries at most the documented maximum, the
// alerts that changed first, and says how many it left out.
func TestWebhookBoundsAlertsPerMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &fakeReceiver{}
		wh, err := firebreak.NewWebhook("http://alerts.example/hook", firebreak.WithHTTPClient(&http.Client{Transport: rt}),
			firebreak.WithExternalURL("https://ops.example"))
		if err != nil {
			t.Fatal(err)
		}
		p := firebreak.DefaultPlan()
		p.Escalation.SpreadComponents = 0
		b, err := firebreak.NewBoard("checkout", firebreak.WithPlan(p), firebreak.WithNotifier(wh), firebreak.WithMaxAlerts(20000))
		if err != nil {
			t.Fatal(err)
		}
		b.Start(context.Background())
		defer b.Close(context.Background())
		// 10,000 replicas of a worker each see the payments database fail.
		for i := range 10000 {
			b.Report(firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: fmt.Sprintf("worker-%05d", i), Dependency: "payments-db",
				Tier: firebreak.Standard, Firing: true, Summary: strings.Repeat("connection refused ", 20)})
		}
		time.Sleep(time.Minute)
		// Then one more fails: the change must be in the message.
		b.Report(firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "worker-late", Dependency: "payments-db", Tier: firebreak.Standard, Firing: true})
		time.Sleep(time.Minute)
		synctest.Wait()
		rt.mu.Lock()
		defer rt.mu.Unlock()
		if len(rt.bodies) < 2 {
			t.Fatalf("%d deliveries", len(rt.bodies))
		}
		for _, body := range rt.bodies {
			var msg firebreak.WebhookMessage
			if err := json.Unmarshal(body, &msg); err != nil {
				t.Fatal(err)
			}
			if len(msg.Alerts) > firebreak.DefaultMaxAlertsPerMessage || len(body) > 256<<10 {
				t.Fatalf("%d alerts, %d bytes in one POST", len(msg.Alerts), len(body))
			}
			if msg.TruncatedAlerts+len(msg.Alerts) < 10000 || !strings.HasPrefix(msg.CommonAnnotations["truncated"], "and 9,9") {
				t.Fatalf("truncated %d, note %q", msg.TruncatedAlerts, msg.CommonAnnotations["truncated"])
			}
		}
		var last firebreak.WebhookMessage
		json.Unmarshal(rt.bodies[len(rt.bodies)-1], &last)
		if last.Alerts[0].Labels["component"] != "worker-late" {
			t.Fatalf("the alert that changed is not first: %v", last.Alerts[0].Labels)
		}
	})
}
