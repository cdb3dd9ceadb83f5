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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-go/firebreak"
)

const pdKey = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY32" // 32 characters

// pdReceiver is a faithful PagerDuty Events API v2 endpoint: it validates
// each event against the documented schema and records the valid ones.
type pdReceiver struct {
	mu      sync.Mutex
	events  []map[string]any
	refused []string
	answers []int // status codes to give first, then 202
}

func (r *pdReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.answers) > 0 {
		code := r.answers[0]
		r.answers = r.answers[1:]
		if code == 429 {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(code)
		return
	}
	problems := pdValidate(req, body)
	w.Header().Set("Content-Type", "application/json")
	if len(problems) > 0 {
		r.refused = append(r.refused, problems...)
		w.WriteHeader(400)
		json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": problems})
		return
	}
	var ev map[string]any
	json.Unmarshal(body, &ev)
	r.events = append(r.events, ev)
	w.WriteHeader(202)
	json.NewEncoder(w).Encode(map[string]any{"status": "success", "message": "Event processed", "dedup_key": ev["dedup_key"]})
}

// pdValidate checks an event as the Events API v2 documents it.
func pdValidate(req *http.Request, body []byte) []string {
	var out []string
	bad := func(f string, a ...any) { out = append(out, fmt.Sprintf(f, a...)) }
	if req.Method != http.MethodPost || req.URL.Path != "/v2/enqueue" {
		bad("%s %s is not the enqueue endpoint", req.Method, req.URL.Path)
	}
	if !strings.HasPrefix(req.Header.Get("Content-Type"), "application/json") {
		bad("Content-Type %q", req.Header.Get("Content-Type"))
	}
	type link struct {
		Href string `json:"href"`
		Text string `json:"text"`
	}
	type payload struct {
		Summary       string         `json:"summary"`
		Source        string         `json:"source"`
		Severity      string         `json:"severity"`
		Timestamp     string         `json:"timestamp"`
		Component     string         `json:"component"`
		Group         string         `json:"group"`
		Class         string         `json:"class"`
		CustomDetails map[string]any `json:"custom_details"`
	}
	var ev struct {
		RoutingKey  *string  `json:"routing_key"`
		EventAction string   `json:"event_action"`
		DedupKey    string   `json:"dedup_key"`
		Payload     *payload `json:"payload"`
		Client      string   `json:"client"`
		ClientURL   string   `json:"client_url"`
		Links       []link   `json:"links"`
		Images      []any    `json:"images"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return append(out, "invalid JSON: "+err.Error())
	}
	if ev.RoutingKey == nil || len(*ev.RoutingKey) != 32 {
		bad("Length of 'routing_key' is incorrect (should be 32 characters)")
	}
	if !slices.Contains([]string{"trigger", "acknowledge", "resolve"}, ev.EventAction) {
		bad("'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')")
	}
	if len(ev.DedupKey) > 255 {
		bad("'dedup_key' must be at most 255 characters")
	}
	if ev.EventAction != "trigger" && ev.DedupKey == "" {
		bad("'dedup_key' is required for %s", ev.EventAction)
	}
	if ev.EventAction == "trigger" {
		switch p := ev.Payload; {
		case p == nil:
			bad("'payload' is missing or blank")
		default:
			if p.Summary == "" || len(p.Summary) > 1024 {
				bad("'payload.summary' must be 1 to 1024 characters, got %d", len(p.Summary))
			}
			if p.Source == "" || len(p.Source) > 255 {
				bad("'payload.source' is missing or blank")
			}
			if !slices.Contains([]string{"critical", "error", "warning", "info"}, p.Severity) {
				bad("'payload.severity' is invalid: %q", p.Severity)
			}
			if p.Timestamp != "" {
				if _, err := time.Parse(time.RFC3339Nano, p.Timestamp); err != nil {
					bad("'payload.timestamp' is not ISO 8601: %q", p.Timestamp)
				}
			}
		}
	}
	for _, l := range ev.Links {
		if l.Href == "" {
			bad("a link needs 'href'")
		}
	}
	return out
}

func (r *pdReceiver) sequence() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.events {
		s := ev["event_action"].(string)
		if p, ok := ev["payload"].(map[string]any); ok {
			s += ":" + p["severity"].(string)
		}
		out = append(out, s)
	}
	return out
}

func (r *pdReceiver) all() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func newPagerDutyBoard(t *testing.T, rcv http.Handler, opts ...firebreak.HandoffOption) (*firebreak.Board, *firebreak.PagerDuty, *bytes.Buffer) {
	t.Helper()
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	c := testClient(t)
	pd, err := firebreak.NewPagerDuty(pdKey, append([]firebreak.HandoffOption{
		firebreak.WithPagerDutyEndpoint(srv.URL + "/v2/enqueue"), firebreak.WithHandoffClient(c),
		firebreak.WithHandoffExternalURL("https://ops.example/firebreak"), firebreak.WithHandoffRetryFor(5 * time.Second),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	p := firebreak.DefaultPlan()
	p.Timers.GroupWait = 0
	var logs bytes.Buffer
	b, err := firebreak.NewBoard("checkout", firebreak.WithEnv("prod"), firebreak.WithPlan(p), firebreak.WithNotifier(pd),
		firebreak.WithLogger(slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))))
	if err != nil {
		t.Fatal(err)
	}
	b.Start(context.Background())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.Close(ctx)
	})
	return b, pd, &logs
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// An incident's life on PagerDuty: announced at Severe (error), escalated to
// Fatal (critical) when a core component's fault joins it, acknowledged,
// resolved, closed; routine updates send nothing. Every event passes the
// schema, and all share one dedup_key.
func TestPagerDutyIncidentLifeSequence(t *testing.T) {
	rcv := &pdReceiver{answers: []int{429, 503}} // the first event is retried twice
	b, _, _ := newPagerDutyBoard(t, rcv)
	b.Report(signalFor(firebreak.Severe))
	eventually(t, "the trigger arrives", func() bool { return len(rcv.sequence()) == 1 })
	b.Report(signalFor(firebreak.Fatal)) // same fault domain: joins and escalates
	eventually(t, "the escalation arrives", func() bool { return len(rcv.sequence()) == 2 })
	id := only(t, b).ID
	if err := b.Acknowledge(id, "ana"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the acknowledgement arrives", func() bool { return len(rcv.sequence()) == 3 })
	if err := b.AddFinding(id, "ana", firebreak.Finding{Author: "ana", Hypothesis: "pool exhausted"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Resolve(id, "ana", "pool resized"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the resolution arrives", func() bool { return len(rcv.sequence()) == 4 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"trigger:error", "trigger:critical", "acknowledge", "resolve"}
	if got := rcv.sequence(); !slices.Equal(got, want) {
		t.Fatalf("sequence %v, want %v (refused: %v)", got, want, rcv.refused)
	}
	if len(rcv.refused) > 0 {
		t.Fatalf("receiver refused: %v", rcv.refused)
	}
	evs := rcv.all()
	key := evs[0]["dedup_key"]
	for _, ev := range evs {
		if ev["dedup_key"] != key || ev["routing_key"] != pdKey {
			t.Fatalf("event %v: dedup_key %v, want %v", ev, ev["dedup_key"], key)
		}
	}
	if key != `{}:{env="prod", fault_domain="payments-db", service="checkout"}` {
		t.Fatalf("dedup_key %v", key)
	}
	p := evs[1]["payload"].(map[string]any)
	if p["source"] != "checkout/prod" || p["component"] != "payments-db" || p["group"] != "checkout" || p["class"] == "" {
		t.Fatalf("payload %v", p)
	}
	d := p["custom_details"].(map[string]any)
	if d["incident_id"] != id || d["level"] != float64(1) || d["lead"] == "" {
		t.Fatalf("custom_details %v", d)
	}
}

// A permanent refusal (400) is not retried, and neither the error nor the
// board's log shows the routing key, even when the receiver echoes it.
func TestPagerDutyRefusalKeepsRoutingKeySecret(t *testing.T) {
	var calls int
	var mu sync.Mutex
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"status":"invalid event","message":"Event object is invalid","errors":["bad key %s"]}`, pdKey)
	})
	srv := httptest.NewServer(echo)
	defer srv.Close()
	pd, err := firebreak.NewPagerDuty(pdKey, firebreak.WithPagerDutyEndpoint(srv.URL+"/v2/enqueue"), firebreak.WithHandoffClient(testClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	n := firebreak.Notification{Event: firebreak.EventDetected, At: time.Now(), AlertSeverity: "critical",
		Incident: firebreak.Incident{ID: "inc-1", Title: "t", Service: "checkout", GroupKey: "g", Severity: firebreak.Fatal}}
	err = pd.Notify(context.Background(), n)
	if err == nil || !strings.Contains(err.Error(), "400") || strings.Contains(err.Error(), pdKey) {
		t.Fatalf("err = %v", err)
	}
	if calls != 1 {
		t.Fatalf("a 400 was tried %d times", calls)
	}
	// A network failure: the error names the masked endpoint, never the key.
	srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = pd.Notify(ctx, n)
	if err == nil || strings.Contains(err.Error(), pdKey) {
		t.Fatalf("err = %v", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "refused") {
		t.Logf("network error: %v", err)
	}
}

func TestPagerDutyEventMapping(t *testing.T) {
	pd, err := firebreak.NewPagerDuty(pdKey)
	if err != nil {
		t.Fatal(err)
	}
	inc := firebreak.Incident{ID: "i", Title: strings.Repeat("x", 3000), Service: "s", GroupKey: strings.Repeat("g", 300), Severity: firebreak.General, State: firebreak.Detected}
	for _, tc := range []struct {
		ev     firebreak.Event
		sev    firebreak.Severity
		action string // "" = nothing sent
	}{
		{firebreak.EventDetected, firebreak.General, "trigger"},
		{firebreak.EventDetected, firebreak.None, ""},
		{firebreak.EventEscalated, firebreak.Fatal, "trigger"},
		{firebreak.EventBreached, firebreak.Fatal, "trigger"},
		{firebreak.EventRenotify, firebreak.Severe, "trigger"},
		{firebreak.EventReopened, firebreak.Severe, "trigger"},
		{firebreak.EventAcknowledged, firebreak.Severe, "acknowledge"},
		{firebreak.EventMitigated, firebreak.Severe, ""},
		{firebreak.EventSignal, firebreak.Severe, ""},
		{firebreak.EventFinding, firebreak.Severe, ""},
		{firebreak.EventResolved, firebreak.Severe, "resolve"},
		{firebreak.EventClosed, firebreak.None, "resolve"},
	} {
		in := inc
		in.Severity = tc.sev
		got, ok := pd.Event(firebreak.Notification{Event: tc.ev, Incident: in})
		if (tc.action == "") == ok || ok && got.EventAction != tc.action {
			t.Errorf("%s at %s: %v %q, want %q", tc.ev, tc.sev, ok, got.EventAction, tc.action)
		}
		if ok && (len(got.DedupKey) > 255 || !strings.HasPrefix(got.DedupKey, "firebreak:")) {
			t.Errorf("dedup_key %q", got.DedupKey)
		}
		if got.Payload != nil && len(got.Payload.Summary) > 1024 {
			t.Errorf("summary of %d bytes", len(got.Payload.Summary))
		}
	}
	sevs := map[firebreak.Severity]string{firebreak.Fatal: "critical", firebreak.Severe: "error", firebreak.General: "warning"}
	for s, want := range sevs {
		in := inc
		in.Severity = s
		got, _ := pd.Event(firebreak.Notification{Event: firebreak.EventDetected, Incident: in})
		if got.Payload.Severity != want {
			t.Errorf("%s → %s, want %s", s, got.Payload.Severity, want)
		}
	}
}

func TestHandoffOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"short key", func() error { _, err := firebreak.NewPagerDuty("abc"); return err }, "routingKey must be 32"},
		{"bad endpoint", func() error {
			_, err := firebreak.NewPagerDuty(pdKey, firebreak.WithPagerDutyEndpoint("ftp://x"))
			return err
		}, "WithPagerDutyEndpoint"},
		{"wrong option", func() error {
			_, err := firebreak.NewPagerDuty(pdKey, firebreak.WithResendInterval(time.Second))
			return err
		}, "option WithResendInterval does not apply"},
		{"retry", func() error { _, err := firebreak.NewPagerDuty(pdKey, firebreak.WithHandoffRetryFor(-1)); return err }, "WithHandoffRetryFor"},
		{"am url", func() error { _, err := firebreak.NewAlertmanager("localhost:9093"); return err }, "NewAlertmanager: URL"},
		{"am peer", func() error {
			_, err := firebreak.NewAlertmanager("http://a:9093", firebreak.WithAlertmanagerPeers("http://b:9093", "nope"))
			return err
		}, "WithAlertmanagerPeers[1]"},
		{"am twice", func() error {
			_, err := firebreak.NewAlertmanager("http://a:9093", firebreak.WithAlertmanagerPeers("http://a:9093/"))
			return err
		}, "given twice"},
		{"am resend", func() error {
			_, err := firebreak.NewAlertmanager("http://a:9093", firebreak.WithResendInterval(time.Millisecond))
			return err
		}, "WithResendInterval: must be at least 10ms"},
		{"external", func() error {
			_, err := firebreak.NewAlertmanager("http://a:9093", firebreak.WithHandoffExternalURL("/ops"))
			return err
		}, "WithHandoffExternalURL"},
		{"slack token", func() error { _, err := firebreak.NewSlack("", "C1"); return err }, "token"},
		{"slack channel", func() error { _, err := firebreak.NewSlack("xoxb-1-2-abc", ""); return err }, "channel"},
		{"slack base", func() error {
			_, err := firebreak.NewSlack("xoxb-1-2-abc", "C1", firebreak.WithSlackBaseURL("slack.com"))
			return err
		}, "WithSlackBaseURL"},
	} {
		err := tc.err()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to say %q", tc.name, err, tc.want)
		}
	}
	if _, err := firebreak.NewAlertmanager("http://user:s3cretpass1@a:9093", firebreak.WithHandoffExternalURL("nope:s3cretpass1")); err == nil || strings.Contains(err.Error(), "s3cretpass1") {
		t.Errorf("err = %v", err)
	}
}
