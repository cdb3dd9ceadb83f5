// Command quickstart shows firebreak at work on a small service, "checkout",
// whose core dependency "payments" breaks after a bad deploy: the breaker
// isolates it and a fallback keeps checkout serving, tracing sees the error
// budget burn, the health probes fail, the incident board grades the incident
// by the emergency plan and pages the right people, the rollout analysis
// rolls the bad version back, the on-duty engineer acknowledges and mitigates
// through the operations API, and a postmortem is written from the timeline.
//
// It needs nothing but loopback and finishes by itself in about ten seconds:
//
//	go run ./examples/quickstart
//
// Every server here is an httptest server on 127.0.0.1; in a real service
// they would be your own HTTP server, your alert receiver and your payments
// provider.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/failover"
	"github.com/firebreak-go/firebreak/failover/rollout"
	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/tracing"
	"github.com/firebreak-go/firebreak/tracing/otelsetup"
)

// In production: from your secret store.
const (
	opsToken       = "quickstart-ops-token-1234"       // the on-duty engineer: may act
	dashboardToken = "quickstart-dashboard-token-5678" // a wall dashboard: may only read
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// Payment is what checkout gets back from payments.
type Payment struct {
	ID     string `json:"id"`
	Status string `json:"status"` // "captured", or "queued" when served by the fallback
}

func run(ctx context.Context, out io.Writer) error {
	step := func(format string, args ...any) { fmt.Fprintf(out, "\n== "+format+"\n", args...) }
	say := func(format string, args ...any) { fmt.Fprintf(out, "   "+format+"\n", args...) }

	// The dependency: a payments service whose version v2.0.0 is broken.
	payments := newPayments("v1.9.3")
	defer payments.Close()

	// Where the alerts go: an Alertmanager-compatible webhook receiver.
	receiver := newAlertReceiver(out)
	defer receiver.Close()

	// ---------------------------------------------------------------- setup
	step("setup: the plan, the incident board, tracing, the pipeline, health probes, rollout")
	plan := firebreak.DefaultPlan()
	plan.Name = "quickstart"
	// Shorter lifecycle timers so the demonstration ends in seconds; the
	// response deadlines stay the plan's 10, 15 and 30 minutes.
	plan.Timers.GroupWait = firebreak.Duration(300 * time.Millisecond)
	plan.Timers.ResolveHoldDown = firebreak.Duration(time.Second)
	for _, sev := range []firebreak.Severity{firebreak.Fatal, firebreak.Severe, firebreak.General} {
		r := plan.Response[sev]
		say("plan: %-7s level %d, respond within %-6s led by %s", sev, sev.Level(), time.Duration(r.Within), r.Lead)
	}

	webhook, err := firebreak.NewWebhook(receiver.URL, firebreak.WithExternalURL("http://127.0.0.1/ops"))
	if err != nil {
		return err
	}
	// One short line per event that matters: pages by severity, people's
	// responses at INFO; routine updates are DEBUG and not shown.
	logger := slog.New(&lineHandler{out: out, level: slog.LevelInfo})
	// Graceful degradation follows the board: a Severe incident switches the
	// optional "recommendations" feature off until it is over.
	degrader, err := failover.NewDegrader(failover.WithSwitches("recommendations"))
	if err != nil {
		return err
	}
	recommendations, err := failover.NewGate[[]string](degrader, "recommendations", failover.ModeDegraded)
	if err != nil {
		return err
	}
	board, err := firebreak.NewBoard("checkout", firebreak.WithEnv("demo"), firebreak.WithPlan(plan),
		firebreak.WithNotifier(firebreak.SlogNotifier(logger)), firebreak.WithNotifier(webhook),
		firebreak.WithNotifier(degrader), firebreak.WithComponents("checkout-api"))
	if err != nil {
		return err
	}
	if err := degrader.Bind(firebreak.Component{Name: "checkout-api", Tier: firebreak.Core, Reporter: board}); err != nil {
		return err
	}
	if err := board.Start(ctx); err != nil {
		return err
	}
	defer board.Close(context.Background())

	// Tracing: the OpenTelemetry SDK, exporting spans to a buffer we look at
	// at the end (set OTEL_EXPORTER_OTLP_ENDPOINT to send them to a collector).
	var spans syncBuffer
	otelSDK, err := otelsetup.New(otelsetup.WithServiceName("checkout"), otelsetup.WithOutput(&spans))
	if err != nil {
		return err
	}
	if err := otelSDK.Start(ctx); err != nil {
		return err
	}
	defer otelSDK.Close(context.Background())

	component := firebreak.Component{Name: "checkout-api", Dependency: "payments", Tier: firebreak.Core, Reporter: board}
	// The SRE workbook's fast-burn page (14.4× over 1h and 5m), scaled down
	// 3600 times to 1s and 83ms so that the outage is detected in the
	// second of traffic this demonstration plays.
	slo := tracing.SLO{Name: "availability", Availability: 0.999,
		Windows: tracing.ScaleWindows(tracing.WorkbookWindows()[:1], 1.0/3600), MinRequests: 20}

	// The HTTP client to payments: spans, W3C trace context, RED statistics
	// and the SLO on what the dependency itself answers.
	// Its statistics cover the last 2 seconds, for the rollout analysis. The
	// pipeline below serves a fallback for the calls it makes, so its burns
	// say so: the plan grades them Severe, not Fatal.
	viaClient := component
	viaClient.Fallback = true
	transport, err := tracing.NewTransport(http.DefaultTransport, viaClient, tracing.WithSLO(slo), tracing.WithStatsWindow(2*time.Second))
	if err != nil {
		return err
	}
	httpClient := &http.Client{Transport: transport, Timeout: time.Second}

	// The pipeline around every call to payments, outermost first:
	// observe → fallback → retry → breaker → the call.
	observe, err := tracing.New[Payment]()
	if err != nil {
		return err
	}
	fallback, err := failover.NewFallback(func(ctx context.Context, err error) (Payment, error) {
		return Payment{Status: "queued"}, nil // take the order now, charge when payments is back
	})
	if err != nil {
		return err
	}
	retry, err := failover.NewRetry[Payment](failover.WithMaxAttempts(2), failover.WithBackoff(5*time.Millisecond, 20*time.Millisecond, 2))
	if err != nil {
		return err
	}
	cb, err := breaker.New[Payment](breaker.WithConsecutiveFailures(5), breaker.WithOpenTimeout(500*time.Millisecond))
	if err != nil {
		return err
	}
	pipeline, err := firebreak.NewPipeline(component, []firebreak.Policy[Payment]{cb, retry, fallback, observe})
	if err != nil {
		return err
	}
	charge := func(ctx context.Context) (Payment, error) { return chargeCard(ctx, httpClient, payments.URL) }

	// Health probes, as Kubernetes would call them.
	probes, err := health.New(health.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return err
	}
	if err := probes.Bind(firebreak.Component{Name: "checkout-api", Tier: firebreak.Core, Reporter: board}); err != nil {
		return err
	}
	if err := probes.Register("payments", health.HTTPGet(payments.URL+"/healthz", nil), health.ForComponent(component),
		health.WithInterval(200*time.Millisecond), health.WithTimeout(100*time.Millisecond), health.WithFailureThreshold(2)); err != nil {
		return err
	}
	if err := probes.Start(ctx); err != nil {
		return err
	}
	defer probes.Close(context.Background())
	probeServer := httptest.NewServer(probes.Handler())
	defer probeServer.Close()

	// Rollout: the registry of versions and an analysis on payments' error
	// ratio as the transport measures it.
	versions, err := rollout.NewVersions("v1.9.3")
	if err != nil {
		return err
	}
	errorRatio := func(ctx context.Context) (float64, int, error) {
		st, ok := transport.Stats("POST " + strings.TrimPrefix(payments.URL, "http://"))
		if !ok {
			return 0, 0, nil
		}
		snap := st.Snapshot()
		return snap.ErrorRatio, int(snap.Requests), nil
	}
	analysis, err := rollout.NewAnalysis(rollout.Metric{Name: "payments-error-ratio", Measure: errorRatio,
		Success: func(v float64) bool { return v < 0.01 }, Failure: func(v float64) bool { return v >= 0.05 }, MinSamples: 5})
	if err != nil {
		return err
	}
	canary, err := rollout.NewRollout(versions, analysis,
		rollout.WithRollbackHook("redeploy payments", func(ctx context.Context, from, to rollout.Version) error {
			payments.Deploy(to.ID)
			return nil
		}))
	if err != nil {
		return err
	}
	if err := canary.Bind(component); err != nil {
		return err
	}

	// The operations API and the public status page.
	auth, err := firebreak.BearerTokensWithRoles(map[string]firebreak.Grant{
		opsToken:       {Principal: "alice (on-duty)", Role: firebreak.Responder},
		dashboardToken: {Principal: "wall dashboard", Role: firebreak.Viewer},
	})
	if err != nil {
		return err
	}
	opsHandler, err := firebreak.OpsHandler(board, auth)
	if err != nil {
		return err
	}
	ops := httptest.NewServer(opsHandler)
	defer ops.Close()
	status := httptest.NewServer(firebreak.StatusHandler(board))
	defer status.Close()

	// --------------------------------------------------------- normal traffic
	step("1. normal traffic: payments %s answers", payments.Version())
	res := traffic(ctx, pipeline, charge, 60, 5*time.Millisecond)
	say("%d checkouts: %d captured, %d queued by the fallback, %d failed", res.total, res.captured, res.queued, res.failed)
	waitFor(ctx, func() bool { return probeBody(probeServer.URL+"/readyz") == "200 ok" })
	say("GET /readyz  → %s", probeBody(probeServer.URL+"/readyz"))
	say("GET /status  → %s", publicStatus(status.URL))

	// ---------------------------------------------------------------- outage
	step("2. payments v2.0.0 is deployed, and it is broken")
	if err := versions.Deploy("v2.0.0", "new fraud rules"); err != nil {
		return err
	}
	payments.Deploy("v2.0.0")
	res = traffic(ctx, pipeline, charge, 100, 5*time.Millisecond)
	say("%d checkouts: %d captured, %d queued by the fallback, %d failed — checkout keeps serving", res.total, res.captured, res.queued, res.failed)
	say("breaker: %s; fallback serving: %v", cb.State(), fallback.Active())
	waitFor(ctx, func() bool { return strings.HasPrefix(probeBody(probeServer.URL+"/readyz"), "503") })
	say("GET /readyz?verbose → %s", strings.ReplaceAll(probeBody(probeServer.URL+"/readyz?verbose"), "\n", " | "))

	// ---------------------------------------------------------- the incident
	step("3. the incident board, after its group wait")
	var inc firebreak.Incident
	waitFor(ctx, func() bool {
		open := board.List(firebreak.Filter{OpenOnly: true})
		if len(open) == 0 || open[0].NotifiedAt.IsZero() {
			return false
		}
		inc = open[0]
		return true
	})
	say("%s %q", inc.ID, inc.Title)
	say("severity %s → plan level %d, led by %s, response due by %s (in %s)", inc.Severity, inc.Level, inc.Lead,
		inc.ResponseDue.Format(time.TimeOnly), time.Until(inc.ResponseDue).Round(time.Minute))
	for _, a := range inc.Alerts {
		say("alert %-17s %-6s graded %-7s %s", a.Kind, firing(a.Firing), a.Severity, clip(a.Summary, 90))
	}
	say("public status → %s", publicStatus(status.URL))
	waitFor(ctx, func() bool { return degrader.Mode() != failover.ModeNormal })
	say("service mode %s: recommendations shown: %v", degrader.Mode(), recommendations.Open())

	// -------------------------------------------------------------- rollback
	step("4. the rollout analysis judges v2.0.0 and rolls it back")
	outcome, err := canary.Analyze(ctx, rollout.ExposurePromoted)
	if err != nil {
		return err
	}
	say("analysis %s → %s: %s marked %s, now on %s", outcome.Analysis.Phase, outcome.Decision, outcome.Version.ID,
		outcome.Version.Status, versions.Current().ID)

	// ------------------------------------------------------------- response
	step("5. the on-duty engineer answers through the operations API")
	say("POST without a token → %d", opsCall(ops.URL, "", "POST", "/incidents/"+inc.ID+"/acknowledge", ""))
	say("POST as the dashboard → %d (a viewer may only read)", opsCall(ops.URL, dashboardToken, "POST", "/incidents/"+inc.ID+"/acknowledge", ""))
	say("POST acknowledge    → %d", opsCall(ops.URL, opsToken, "POST", "/incidents/"+inc.ID+"/acknowledge", ""))
	say("POST findings       → %d", opsCall(ops.URL, opsToken, "POST", "/incidents/"+inc.ID+"/findings",
		`{"hypothesis":"v2.0.0 fraud rules reject every card","suspected_cause":"payments v2.0.0","confidence":"high"}`))
	say("POST mitigate       → %d", opsCall(ops.URL, opsToken, "POST", "/incidents/"+inc.ID+"/mitigate",
		`{"action":"rolled payments back to v1.9.3; orders queued by the fallback meanwhile"}`))

	// ------------------------------------------------------------- recovery
	step("6. recovery: traffic flows again, the signals clear, the incident resolves")
	time.Sleep(600 * time.Millisecond) // the breaker's open timeout: it will try again
	res = traffic(ctx, pipeline, charge, 60, 10*time.Millisecond)
	say("%d checkouts: %d captured, %d queued, %d failed; breaker %s", res.total, res.captured, res.queued, res.failed, cb.State())
	// Keep serving until the failures of v2.0.0 have left the statistics'
	// window, then let the analysis confirm the stable version.
	waitFor(ctx, func() bool {
		traffic(ctx, pipeline, charge, 10, 10*time.Millisecond)
		v, n, _ := errorRatio(ctx)
		return n >= 5 && v < 0.01
	})
	outcome, err = canary.Analyze(ctx, rollout.ExposurePromoted)
	if err != nil {
		return err
	}
	last, _ := versions.LastKnownGood()
	say("analysis of %s %s → %s; last known good: %s", outcome.Version.ID, outcome.Analysis.Phase, outcome.Decision, last.ID)
	waitFor(ctx, func() bool {
		got, err := board.Get(inc.ID)
		return err == nil && got.State == firebreak.Resolved
	})
	inc, _ = board.Get(inc.ID)
	say("%s is %s, %s after detection", inc.ID, inc.State, inc.ResolvedAt.Sub(inc.DetectedAt).Round(100*time.Millisecond))

	// ------------------------------------------------------------ postmortem
	step("7. close the incident with its postmortem")
	say("POST close → %d", opsCall(ops.URL, opsToken, "POST", "/incidents/"+inc.ID+"/close",
		`{"root_cause":"payments v2.0.0 shipped fraud rules that rejected every card","action_items":[{"description":"canary payments releases behind the error-ratio analysis","owner":"payments team","type":"prevent"}]}`))
	report := strings.Split(strings.TrimSpace(opsGet(ops.URL, opsToken, "/incidents/"+inc.ID+"/report?format=markdown")), "\n")
	fmt.Fprintln(out)
	shown := 0
	for _, line := range report { // the head of the report: its summary and the response
		if strings.HasPrefix(line, "## Detection") {
			break
		}
		if line != "" {
			fmt.Fprintln(out, "   | "+clip(line, 100))
			shown++
		}
	}
	say("… %d more lines: GET /ops/incidents/%s/report?format=markdown", len(report)-shown, inc.ID)

	// -------------------------------------------------------------- shutdown
	step("8. the aftermath")
	say("public status → %s", publicStatus(status.URL))
	waitFor(ctx, func() bool { return degrader.Mode() == failover.ModeNormal })
	say("service mode %s: recommendations shown: %v", degrader.Mode(), recommendations.Open())
	say("alerts the webhook receiver got: %s", receiver.Summary())
	if err := otelSDK.Close(ctx); err != nil { // flushes the spans still batched
		return err
	}
	say("spans exported: %d, e.g. %s", spans.Lines(), clip(spans.FirstFailing(), 80))
	probes.Drain() // on shutdown readiness fails first, so traffic drains
	say("after Drain, GET /readyz → %s", strings.ReplaceAll(probeBody(probeServer.URL+"/readyz"), "\n", " | "))
	st := board.Stats()
	say("board: %d signals, %d notifications delivered, %d dropped", st.Signals, st.Notified, st.NotifyDropped)
	return nil
}

// chargeCard calls the payments service.
func chargeCard(ctx context.Context, client *http.Client, base string) (Payment, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/charge", strings.NewReader(`{"amount":4200}`))
	if err != nil {
		return Payment{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return Payment{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return Payment{}, fmt.Errorf("payments answered %s", resp.Status)
	}
	var p Payment
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		return Payment{}, fmt.Errorf("payments: %w", err)
	}
	return p, nil
}

type result struct{ total, captured, queued, failed int }

// traffic sends n checkouts through the pipeline, one every gap.
func traffic(ctx context.Context, p *firebreak.Pipeline[Payment], charge firebreak.Func[Payment], n int, gap time.Duration) result {
	var r result
	for range n {
		pay, err := p.Execute(ctx, charge)
		r.total++
		switch {
		case err != nil:
			r.failed++
		case pay.Status == "queued":
			r.queued++
		default:
			r.captured++
		}
		time.Sleep(gap)
	}
	return r
}

// waitFor polls cond until it holds or ctx ends; the demonstration waits on
// real background work (probes, timers), so it polls, briefly.
func waitFor(ctx context.Context, cond func() bool) {
	for !cond() && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
}

func firing(f bool) string {
	if f {
		return "firing"
	}
	return "clear"
}

// lineHandler writes a log record as one short line: level, message and the
// incident's ID, severity and lead.
type lineHandler struct {
	out   io.Writer
	level slog.Level
	mu    sync.Mutex
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }
func (h *lineHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *lineHandler) WithGroup(string) slog.Handler                { return h }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var tags []string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "incident", "severity", "lead":
			tags = append(tags, a.Value.String())
		}
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := fmt.Fprintf(h.out, "   log %-5s %s [%s]\n", r.Level, strings.TrimPrefix(r.Message, "firebreak "), strings.Join(tags, ", "))
	return err
}

// clip shortens s to n runes, marking the cut.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func probeBody(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
}

func publicStatus(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var st firebreak.PublicStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return err.Error()
	}
	parts := []string{st.Status}
	for _, c := range st.Components {
		parts = append(parts, c.Name+"="+c.Status)
	}
	return strings.Join(parts, " ")
}

func opsCall(base, token, method, path, body string) int {
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func opsGet(base, token, path string) string {
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// payments is a stand-in payments service. Version v2.0.0 rejects every
// charge and fails its health check.
type payments struct {
	*httptest.Server
	version atomic.Value
	seq     atomic.Int64
}

func newPayments(version string) *payments {
	p := &payments{}
	p.version.Store(version)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /charge", func(w http.ResponseWriter, r *http.Request) {
		if p.Version() == "v2.0.0" {
			http.Error(w, "fraud rules rejected the card", http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(Payment{ID: fmt.Sprintf("pay_%d", p.seq.Add(1)), Status: "captured"})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if p.Version() == "v2.0.0" {
			http.Error(w, "fraud engine unavailable", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})
	p.Server = httptest.NewServer(mux)
	return p
}

func (p *payments) Version() string { return p.version.Load().(string) }
func (p *payments) Deploy(v string) { p.version.Store(v) }

// alertReceiver is a stand-in Alertmanager webhook receiver.
type alertReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newAlertReceiver(out io.Writer) *alertReceiver {
	a := &alertReceiver{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg firebreak.WebhookMessage
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		sev := ""
		if len(msg.Alerts) > 0 {
			sev = msg.Alerts[0].Labels["severity"]
		}
		a.mu.Lock()
		a.seen = append(a.seen, fmt.Sprintf("%s/%s(%s)", msg.Status, sev, msg.Alerts[0].Annotations["event"]))
		a.mu.Unlock()
	}))
	return a
}

func (a *alertReceiver) Summary() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	counts := map[string]int{}
	var order []string
	for _, s := range a.seen {
		if counts[s] == 0 {
			order = append(order, s)
		}
		counts[s]++
	}
	parts := make([]string, len(order))
	for i, s := range order {
		parts[i] = fmt.Sprintf("%s×%d", s, counts[s])
	}
	return fmt.Sprintf("%d: %s", len(a.seen), strings.Join(parts, " "))
}

// syncBuffer collects exported spans, one per line.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Lines() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Count(b.buf.Bytes(), []byte("\n"))
}

func (b *syncBuffer) FirstFailing() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, line := range strings.Split(b.buf.String(), "\n") {
		if strings.Contains(line, "Error") {
			if len(line) > 160 {
				line = line[:160] + "…"
			}
			return line
		}
	}
	return "(none failed)"
}
