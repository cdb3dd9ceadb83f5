package firebreak_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/firebreak-go/firebreak"
)

const chromiumSkip = "firebreak: the pages' browser tests need headless Chromium (apt-get install chromium)"

// browser starts headless Chromium for t, or skips (fails under
// FIREBREAK_REQUIRE_SERVERS=1) when it is missing.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if path, err = exec.LookPath("/usr/bin/chromium"); err != nil {
			if os.Getenv("FIREBREAK_REQUIRE_SERVERS") == "1" {
				t.Fatal(chromiumSkip)
			}
			t.Skip(chromiumSkip)
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1200, 900), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// screenshot writes a full-page PNG to the test's artefacts and, with
// FIREBREAK_UPDATE_SCREENSHOTS=1, to docs/ for the README.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := t.ArtifactDir()
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", filepath.Join(dir, name))
	if os.Getenv("FIREBREAK_UPDATE_SCREENSHOTS") == "1" {
		if err := os.WriteFile(filepath.Join("docs", name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The pages in a real browser: the console lists a Fatal incident with a
// countdown that ticks and acknowledges it through its form; the status
// page shows the public update and no internal names; the feedback form
// submits and the console shows the report; the console fits a phone's
// width.
func TestPagesInBrowser(t *testing.T) {
	ctx := browser(t)
	b, err := firebreak.NewBoard("checkout", firebreak.WithComponents("checkout", "search", "accounts"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	fb, err := firebreak.NewFeedback(b, firebreak.WithFeedbackTier("checkout", firebreak.Core))
	if err != nil {
		t.Fatal(err)
	}
	page, err := firebreak.NewStatusPage(b, firebreak.WithPageName("Example Shop"), firebreak.WithFeedback(fb), firebreak.WithFeedbackForm("feedback/"))
	if err != nil {
		t.Fatal(err)
	}
	con, err := firebreak.NewConsole(b, pagesAuth(t), firebreak.WithConsoleStatusPage(page), firebreak.WithConsoleFeedback(fb),
		firebreak.WithPollInterval(time.Second),
		firebreak.WithDependencies(firebreak.DependencySourceFunc(func() []firebreak.DependencyStatus {
			return []firebreak.DependencyStatus{{Component: "checkout-api", Dependency: "payments-db-7", Breaker: "open", Rate: 1000, ErrorRatio: 0.62, P99: 870 * time.Millisecond}}
		})))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []interface{ Start(context.Context) error }{fb, page} {
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { page.Close(context.Background()); fb.Close(context.Background()) })
	mux := http.NewServeMux()
	mux.Handle("/status/feedback/", fb.Handler("Example Shop"))
	mux.Handle("/status/", page.Handler())
	mux.Handle("/console/", con)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	for _, s := range leakySignals() {
		b.Report(s)
	}
	fatal := signalFor(firebreak.Fatal)
	fatal.Component, fatal.Dependency = "checkout", "payments-db-7"
	fatal.Summary = "dial tcp 10.2.3.4:5432: connection refused (db-7.internal.example, postgres 15.4)"
	b.Report(fatal)
	var inc firebreak.Incident
	for _, x := range b.List(firebreak.Filter{OpenOnly: true}) {
		if x.Severity == firebreak.Fatal {
			inc = x
		}
	}
	if inc.ID == "" {
		t.Fatal("no Fatal incident")
	}

	// The console: sign in, the Fatal incident first with a ticking countdown.
	sel := "#inc-" + inc.ID
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/console/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), consoleResponder),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS(sel+" .countdown")),
	); err != nil {
		t.Fatal(err)
	}
	firstAttr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#open article"), "id"))
	if err != nil {
		t.Fatal(err)
	}
	first := firstAttr.Value
	countdown, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel+" .countdown")))
	if err != nil {
		t.Fatal(err)
	}
	if first != "inc-"+inc.ID || !regexp.MustCompile(`^\d+:\d\d left$`).MatchString(countdown) {
		t.Fatalf("first incident %q, countdown %q", first, countdown)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("`+sel+` .countdown").textContent !== "`+countdown+`"`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the countdown does not tick: %v", err)
	}
	screenshot(t, ctx, "console.png")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(sel+" button.ack")),
		chromedp.WaitVisible(chromedp.CSS(sel+` .countdown[data-state="acknowledged"]`)),
	); err != nil {
		t.Fatal(err)
	}
	timeline, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel+" .tl")))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Get(inc.ID); got.State != firebreak.Acknowledged || got.AcknowledgedBy != "alice" || !strings.Contains(timeline, "acknowledged by alice") {
		t.Fatalf("after the form: %s by %q; timeline %q", got.State, got.AcknowledgedBy, timeline)
	}

	// A phone's width: nothing wider than the screen.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("open"))); err != nil {
		t.Fatal(err)
	}
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if width > 390 {
		t.Fatalf("the console is %dpx wide on a 390px phone", width)
	}
	screenshot(t, ctx, "console-phone.png")

	// The status page: the update people wrote, nothing internal.
	if _, err := page.PostUpdate(firebreak.StatusUpdate{Incident: inc.ID, Title: "Card payments failing", Status: firebreak.UpdateIdentified,
		Message: "Card payments fail for some customers. We found the cause and are fixing it.", Impact: firebreak.ImpactMajor,
		Components: []string{"checkout"}}, "alice"); err != nil {
		t.Fatal(err)
	}
	// The renderer draws the posted update on its own goroutine: load the
	// page again until it has (each load is a real request; the deadline
	// only bounds a renderer that never draws it).
	var text string
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1200, 900), chromedp.Navigate(srv.URL+"/status/"),
			chromedp.WaitVisible(chromedp.ID("components"))); err != nil {
			t.Fatal(err)
		}
		if text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"))); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, "Card payments fail for some customers") || time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(text, "Card payments fail for some customers") || !strings.Contains(text, "Identified") {
		t.Fatalf("status page lacks the update:\n%s", text)
	}
	assertNoSecrets(t, "status page in the browser", text)
	screenshot(t, ctx, "status.png")

	// The feedback form, then the report in the console.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href="feedback/"]`)),
		chromedp.WaitVisible(chromedp.ID("message")),
		chromedp.SetValue(chromedp.ID("component"), "checkout"),
		chromedp.SendKeys(chromedp.ID("message"), "The payment page spins and never finishes."),
		chromedp.SendKeys(chromedp.ID("contact"), "carol@example.com"),
		chromedp.Submit(chromedp.ID("message")),
		chromedp.WaitVisible(chromedp.ID("thanks")),
	); err != nil {
		t.Fatal(err)
	}
	thanks, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("thanks")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(thanks, "we received your report") {
		t.Fatalf("after submitting: %q", thanks)
	}
	screenshot(t, ctx, "feedback.png")
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/console/"), chromedp.WaitVisible(chromedp.CSS("#feedback article"))); err != nil {
		t.Fatal(err)
	}
	reports, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("feedback")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reports, "The payment page spins and never finishes.") || !strings.Contains(reports, "carol@example.com") ||
		!strings.Contains(reports, "attached to "+inc.ID) {
		t.Fatalf("console feedback section:\n%s", reports)
	}
}
