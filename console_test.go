package firebreak_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

const (
	consoleResponder = "responder-token-0123456789"
	consoleViewer    = "viewer-token-0123456789ab"
)

func pagesAuth(t testing.TB) firebreak.Authorizer {
	t.Helper()
	a, err := firebreak.BearerTokensWithRoles(map[string]firebreak.Grant{
		consoleResponder: {Principal: "alice", Role: firebreak.Responder},
		consoleViewer:    {Principal: "dashboard", Role: firebreak.Viewer},
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// consoleGet fetches a console page with a bearer token.
func consoleGet(t *testing.T, c http.Handler, path, token string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

func consolePost(t *testing.T, c http.Handler, token string, form url.Values, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/console/act", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	return w
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", page)
	}
	return m[1]
}

// A Fatal outage at 1,000 signals a second: the console lists it first with
// its level, lead and a countdown to the 10-minute deadline; an acknowledge
// form post with the CSRF token lands in the timeline; posts without the
// token, with another credential's token, cross-site or by a viewer are
// refused and change nothing.
func TestConsoleFatalIncidentAndActions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithComponents("checkout"))
		c, err := firebreak.NewConsole(b, pagesAuth(t))
		if err != nil {
			t.Fatal(err)
		}
		burst(b, 30*time.Second, 1000, signalFor(firebreak.General))
		burst(b, 2*time.Minute, 1000, signalFor(firebreak.Fatal))
		open := b.List(firebreak.Filter{OpenOnly: true})
		var fatal firebreak.Incident
		for _, inc := range open {
			if inc.Severity == firebreak.Fatal {
				fatal = inc
			}
		}
		if fatal.ID == "" {
			t.Fatalf("no Fatal incident: %+v", open)
		}
		code, page := consoleGet(t, c, "/console/", consoleResponder)
		if code != 200 {
			t.Fatalf("console: %d %s", code, page)
		}
		first := page[strings.Index(page, `<article class="inc`):]
		left := time.Until(fatal.ResponseDue)
		if !strings.HasPrefix(first, `<article class="inc sev-fatal" id="inc-`+fatal.ID) || !strings.Contains(first, "fatal · level 1") ||
			!strings.Contains(first, "lead: "+fatal.Lead) || !strings.Contains(first, clockText(left)) ||
			!strings.Contains(first, `data-due="`+fatal.ResponseDue.UTC().Format(time.RFC3339)+`"`) {
			t.Fatalf("first incident (due in %v):\n%.1500s", left, first)
		}
		token := csrfOf(t, page)
		ack := url.Values{"do": {"acknowledge"}, "incident": {fatal.ID}}
		for name, w := range map[string]*httptest.ResponseRecorder{
			"no token":         consolePost(t, c, consoleResponder, ack),
			"viewer's token":   consolePost(t, c, consoleResponder, withCSRF(ack, csrfOf(t, mustGet(t, c, consoleViewer)))),
			"cross-site":       consolePost(t, c, consoleResponder, withCSRF(ack, token), "Sec-Fetch-Site", "cross-site"),
			"viewer":           consolePost(t, c, consoleViewer, withCSRF(ack, csrfOf(t, mustGet(t, c, consoleViewer)))),
			"no credentials":   consolePost(t, c, "", withCSRF(ack, token)),
			"other origin":     consolePost(t, c, consoleResponder, withCSRF(ack, token), "Origin", "https://evil.example"),
			"unknown incident": consolePost(t, c, consoleResponder, withCSRF(url.Values{"do": {"acknowledge"}, "incident": {"nope"}}, token)),
		} {
			if w.Code < 400 {
				t.Errorf("%s: %d", name, w.Code)
			}
		}
		if inc, _ := b.Get(fatal.ID); inc.State != firebreak.Detected {
			t.Fatalf("a refused post changed the incident: %s", inc.State)
		}
		w := consolePost(t, c, consoleResponder, withCSRF(ack, token), "Sec-Fetch-Site", "same-origin")
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/console/#inc-"+fatal.ID {
			t.Fatalf("acknowledge: %d %s", w.Code, w.Body)
		}
		for _, form := range []url.Values{
			{"do": {"finding"}, "incident": {fatal.ID}, "hypothesis": {"pool exhausted"}, "confidence": {"medium"}},
			{"do": {"mitigate"}, "incident": {fatal.ID}, "note": {"failed over to the standby"}},
			{"do": {"severity"}, "incident": {fatal.ID}, "severity": {"severe"}, "reason": {"standby serves"}},
			{"do": {"handoff"}, "incident": {fatal.ID}, "to": {"payments-team"}, "note": {"theirs now"}},
			{"do": {"resolve"}, "incident": {fatal.ID}, "note": {"recovered"}},
		} {
			if w := consolePost(t, c, consoleResponder, withCSRF(form, token)); w.Code != http.StatusSeeOther {
				t.Fatalf("%s: %d %s", form.Get("do"), w.Code, w.Body)
			}
		}
		inc, _ := b.Get(fatal.ID)
		var events []string
		for _, e := range inc.Timeline {
			if e.Actor == "alice" {
				events = append(events, string(e.Event))
			}
		}
		if got := strings.Join(events, ","); got != "acknowledged,finding,mitigated,downgraded,handed_off,resolved" {
			t.Fatalf("alice's timeline entries: %s", got)
		}
		// A wrong action is answered on the page with the error, escaped.
		w = consolePost(t, c, consoleResponder, withCSRF(url.Values{"do": {"severity"}, "incident": {fatal.ID}, "severity": {"<b>huge</b>"}, "reason": {"x"}}, token))
		if w.Code != 400 || strings.Contains(w.Body.String(), "<b>huge") || !strings.Contains(w.Body.String(), "&lt;b&gt;huge") {
			t.Fatalf("bad severity: %d", w.Code)
		}
	})
}

func withCSRF(v url.Values, token string) url.Values {
	out := url.Values{"csrf": {token}}
	for k, vs := range v {
		out[k] = vs
	}
	return out
}

func mustGet(t *testing.T, c http.Handler, token string) string {
	t.Helper()
	code, page := consoleGet(t, c, "/console/", token)
	if code != 200 {
		t.Fatalf("GET as %s: %d", token, code)
	}
	return page
}

// clockText is the console's m:ss countdown.
func clockText(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	return fmt.Sprintf("%d:%02d left", s/60, s%60)
}

func itoa(n int) string { return strconv.Itoa(n) }

// Without credentials the console shows the sign-in form; signing in sets
// an HttpOnly, SameSite=Strict cookie that authorises the next requests; a
// refused token gets the form again; a viewer sees no forms.
func TestConsoleSignIn(t *testing.T) {
	b, err := firebreak.NewBoard("shop")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	c, err := firebreak.NewConsole(b, pagesAuth(t))
	if err != nil {
		t.Fatal(err)
	}
	code, page := consoleGet(t, c, "/console/", "")
	if code != 401 || !strings.Contains(page, `action="login"`) {
		t.Fatalf("no credentials: %d", code)
	}
	if code, _ := consoleGet(t, c, "/console/live", ""); code != 401 {
		t.Fatalf("live without credentials: %d", code)
	}
	login := func(tok string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/console/login", strings.NewReader(url.Values{"token": {tok}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		c.ServeHTTP(w, r)
		return w
	}
	if w := login("wrong-token-0123456789"); w.Code != 401 || len(w.Result().Cookies()) != 0 {
		t.Fatalf("bad token: %d", w.Code)
	}
	w := login(consoleResponder)
	ck := w.Result().Cookies()
	if w.Code != http.StatusSeeOther || len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("sign in: %d %+v", w.Code, ck)
	}
	r := httptest.NewRequest(http.MethodGet, "/console/", nil)
	r.AddCookie(ck[0])
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, r)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "signed in as alice") {
		t.Fatalf("with the cookie: %d", rec.Code)
	}
	if strings.Contains(rec.Body.String(), consoleResponder) {
		t.Fatal("the page shows the token")
	}
	if page := mustGet(t, c, consoleViewer); strings.Contains(page, `value="acknowledge"`) {
		t.Fatal("a viewer sees action forms")
	}
}

// Every string that reached the board from outside is escaped on the
// console, and the page stays under 200 KB with 50 open incidents full of
// entries.
func TestConsoleEscapesAndStaysSmall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithComponents("checkout"))
		evil := `<script>alert("x")</script><img src=x onerror=alert(1)>`
		for i := range 60 {
			b.Report(firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "checkout" + evil, Dependency: "dep-" + itoa(i) + evil,
				Tier: firebreak.Core, Firing: true, Value: 1, Summary: evil, Labels: map[string]string{"x": evil}})
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		for _, inc := range b.List(firebreak.Filter{OpenOnly: true}) {
			for range 20 {
				b.AddFinding(inc.ID, "alice"+evil, firebreak.Finding{Hypothesis: strings.Repeat("long hypothesis ", 20) + evil})
				b.AddEvidence(inc.ID, "alice", firebreak.Evidence{Kind: "log", Note: evil, TraceIDs: []string{evil}})
			}
		}
		deps := firebreak.DependencySourceFunc(func() []firebreak.DependencyStatus {
			return []firebreak.DependencyStatus{{Component: evil, Dependency: "db", Breaker: "open", Rate: 1000, ErrorRatio: 0.5, P99: 250 * time.Millisecond}}
		})
		c, err := firebreak.NewConsole(b, pagesAuth(t), firebreak.WithDependencies(deps))
		if err != nil {
			t.Fatal(err)
		}
		page := mustGet(t, c, consoleResponder)
		if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") {
			t.Fatal("unescaped input on the console")
		}
		if !strings.Contains(page, "&lt;script&gt;") || !strings.Contains(page, "1000.0/s") || !strings.Contains(page, "50.0%") || !strings.Contains(page, "250.0 ms") {
			t.Fatal("the console lacks the escaped text or the dependency row")
		}
		if len(page) > 200<<10 {
			t.Fatalf("console page is %d bytes, over 200 KB", len(page))
		}
		t.Logf("console page with 50 open incidents: %d bytes", len(page))
		if n := strings.Count(page, `<article class="inc`); n != 50 {
			t.Fatalf("%d incidents listed, want the 50 newest worst", n)
		}
	})
}

type switches struct{ mode string }

func (s *switches) Switches() []firebreak.Switch {
	return []firebreak.Switch{{Name: "mode", Value: s.mode, Choices: []string{"normal", "degraded"}}}
}

func (s *switches) SetSwitch(name, value, by string) error {
	s.mode = value
	return nil
}

type panicky struct{}

func (panicky) Checks() []firebreak.CheckStatus { panic("boom") }

// A responder switches the degradation mode from the console; a viewer may
// not; a value not among the choices is refused; a panicking source is
// named on the page instead of killing it.
func TestConsoleSwitchesAndSources(t *testing.T) {
	b, err := firebreak.NewBoard("shop")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	sw := &switches{mode: "normal"}
	c, err := firebreak.NewConsole(b, pagesAuth(t), firebreak.WithSwitches(sw), firebreak.WithChecks(panicky{}),
		firebreak.WithConsoleLogger(pagesLogger()))
	if err != nil {
		t.Fatal(err)
	}
	page := mustGet(t, c, consoleResponder)
	if !strings.Contains(page, "Sources that failed: health checks") {
		t.Fatal("a panicking source is not named")
	}
	tok := csrfOf(t, page)
	if w := consolePost(t, c, consoleViewer, withCSRF(url.Values{"do": {"switch"}, "switch": {"mode"}, "value": {"degraded"}}, csrfOf(t, mustGet(t, c, consoleViewer)))); w.Code != 403 || sw.mode != "normal" {
		t.Fatalf("viewer switch: %d, mode %s", w.Code, sw.mode)
	}
	if w := consolePost(t, c, consoleResponder, withCSRF(url.Values{"do": {"switch"}, "switch": {"mode"}, "value": {"off"}}, tok)); w.Code != 400 {
		t.Fatalf("bad value: %d", w.Code)
	}
	if w := consolePost(t, c, consoleResponder, withCSRF(url.Values{"do": {"switch"}, "switch": {"mode"}, "value": {"degraded"}}, tok)); w.Code != 303 || sw.mode != "degraded" {
		t.Fatalf("switch: %d, mode %s", w.Code, sw.mode)
	}
	for _, o := range []struct {
		opt  firebreak.ConsoleOption
		want string
	}{
		{nil, "NewConsole: option 0 is nil"},
		{firebreak.WithCSRFKey([]byte("short")), "WithCSRFKey: the key must be at least 32 bytes, got 5"},
		{firebreak.WithPollInterval(time.Hour), "WithPollInterval"},
		{firebreak.WithDependencies(nil), "WithDependencies: source 0 is nil"},
	} {
		if _, err := firebreak.NewConsole(b, pagesAuth(t), o.opt); err == nil || !strings.Contains(err.Error(), o.want) {
			t.Errorf("%s: %v", o.want, err)
		}
	}
	if _, err := firebreak.NewConsole(b, nil); err == nil {
		t.Error("a console without an Authorizer")
	}
}

func pagesLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
