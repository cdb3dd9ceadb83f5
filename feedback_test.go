package firebreak_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

func newFeedback(t *testing.T, b *firebreak.Board, opts ...firebreak.FeedbackOption) *firebreak.Feedback {
	t.Helper()
	f, err := firebreak.NewFeedback(b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(context.Background()); err != nil {
			t.Errorf("Feedback.Close: %v", err)
		}
	})
	return f
}

func postFeedback(h http.Handler, client, ctype, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/feedback/", strings.NewReader(body))
	r.Header.Set("Content-Type", ctype)
	r.RemoteAddr = client + ":40000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// Forty users report checkout failing within five minutes of a breaker
// opening on its payments dependency: each report is a user_feedback signal
// whose value counts the reports in the window (a plan rule with min_value
// turns many reports into a Severe incident), each is attached as evidence
// to the open checkout incident, the contact never reaches a signal, the
// evidence or the report, and the incident report lists the feedback and
// the operator's reply. Ten minutes after the last report the signal clears.
func TestFeedbackBecomesSignalsAndEvidence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan := firebreak.DefaultPlan()
		twenty := 20.0
		plan.Rules = append([]firebreak.Rule{{Kind: firebreak.KindUserFeedback, MinValue: &twenty,
			Severity: firebreak.TierSeverity{Core: firebreak.Severe, Standard: firebreak.Severe, Auxiliary: firebreak.General}}}, plan.Rules...)
		b, _ := newBoard(t, firebreak.WithPlan(plan), firebreak.WithComponents("checkout", "search"))
		f := newFeedback(t, b, firebreak.WithFeedbackTier("checkout", firebreak.Core))
		h := f.Handler("Example Shop")
		burst(b, time.Minute, 100, firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "checkout", Tier: firebreak.Core, Firing: true, Value: 1})
		for i := range 40 {
			body, _ := json.Marshal(firebreak.FeedbackInput{Component: "checkout", Message: "Payment page spins forever", Contact: "user" + itoa(i) + "@example.com"})
			if w := postFeedback(h, "192.0.2."+itoa(i), "application/json", string(body)); w.Code != http.StatusCreated {
				t.Fatalf("report %d: %d %s", i, w.Code, w.Body)
			}
			time.Sleep(7 * time.Second)
		}
		// The reports join the checkout incident (same fault domain).
		var checkout, fb firebreak.Incident
		var alert firebreak.AlertRef
		for _, inc := range b.List(firebreak.Filter{}) {
			for _, a := range inc.Alerts {
				if a.Kind == firebreak.KindUserFeedback {
					fb, alert = inc, a
				} else if a.Kind == firebreak.KindBreakerOpen {
					checkout = inc
				}
			}
		}
		if alert.Severity != firebreak.Severe || alert.Peak != 40 || alert.Tier != firebreak.Core || fb.ID != checkout.ID {
			t.Fatalf("40 reports in 5 minutes: %+v in %s (checkout %s)", alert, fb.ID, checkout.ID)
		}
		n := 0
		for _, e := range checkout.Evidence {
			if e.Kind == string(firebreak.KindUserFeedback) {
				n++
			}
		}
		if n != 40 {
			t.Fatalf("checkout incident holds %d feedback evidence, want 40", n)
		}
		reps := f.Reports()
		if len(reps) != 40 || reps[0].Contact != "user39@example.com" || reps[0].Incident == "" {
			t.Fatalf("reports: %d, newest %+v", len(reps), reps[0])
		}
		if err := f.Reply(reps[0].ID, "alice", "We fixed the payment page; sorry for the wait.", true); err != nil {
			t.Fatal(err)
		}
		rep, err := b.IncidentReport(reps[0].Incident)
		if err != nil {
			t.Fatal(err)
		}
		md := rep.Markdown()
		if !strings.Contains(md, "Payment page spins forever") || !strings.Contains(md, "We fixed the payment page") {
			t.Fatalf("the incident report lacks the feedback or the reply:\n%s", md)
		}
		raw, _ := json.Marshal(b.List(firebreak.Filter{}))
		if strings.Contains(string(raw)+md, "@example.com") {
			t.Fatal("a contact address reached an incident or a report")
		}
		time.Sleep(11 * time.Minute)
		synctest.Wait()
		got, _ := b.Get(fb.ID)
		for _, a := range got.Alerts {
			if a.Kind == firebreak.KindUserFeedback && a.Firing {
				t.Fatalf("feedback signal still firing after a quiet window: %+v", a)
			}
		}
	})
}

// Each client may send 5 reports in 10 minutes; the sixth is 429 with
// Retry-After, other clients still get through, and the client may send
// again once its budget refills. The channel's overall limit holds against
// many addresses.
func TestFeedbackRateLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithComponents("checkout"))
		f := newFeedback(t, b, firebreak.WithFeedbackTotalRate(30))
		h := f.Handler("")
		form := url.Values{"component": {"checkout"}, "message": {"It is broken"}}.Encode()
		for i := range 5 {
			if w := postFeedback(h, "198.51.100.7", "application/x-www-form-urlencoded", form); w.Code != 200 || !strings.Contains(w.Body.String(), "Thank you") {
				t.Fatalf("report %d: %d", i, w.Code)
			}
		}
		w := postFeedback(h, "198.51.100.7", "application/x-www-form-urlencoded", form)
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "120" {
			t.Fatalf("sixth report: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
		}
		if w := postFeedback(h, "198.51.100.8", "application/x-www-form-urlencoded", form); w.Code != 200 {
			t.Fatalf("another client: %d", w.Code)
		}
		time.Sleep(2 * time.Minute)
		if w := postFeedback(h, "198.51.100.7", "application/x-www-form-urlencoded", form); w.Code != 200 {
			t.Fatalf("after two minutes: %d", w.Code)
		}
		limited := 0
		for i := range 100 {
			if w := postFeedback(h, "203.0.113."+itoa(i), "application/x-www-form-urlencoded", form); w.Code == http.StatusTooManyRequests {
				limited++
			}
		}
		if limited < 70 {
			t.Fatalf("only %d of 100 reports from 100 addresses in one instant were limited by a total of 30 a minute", limited)
		}
		_, err := f.Submit(firebreak.FeedbackInput{Message: "x"}, "198.51.100.7")
		for range 10 {
			_, err = f.Submit(firebreak.FeedbackInput{Message: "x"}, "198.51.100.7")
		}
		var lim *firebreak.FeedbackLimitError
		if !errors.As(err, &lim) || !errors.Is(err, firebreak.ErrFeedbackRateLimited) || firebreak.RejectionOf(err) != firebreak.RejectOverload ||
			lim.ErrorType() != firebreak.ErrorTypeFeedbackRateLimited {
			t.Fatalf("limited Submit: %v", err)
		}
	})
}

// Bad reports get a 400 naming the field; markup and scripts are refused;
// a body over 8 KiB is 413; nothing is stored.
func TestFeedbackValidation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithComponents("checkout"))
		f := newFeedback(t, b)
		h := f.Handler("")
		for _, c := range []struct {
			in   firebreak.FeedbackInput
			want string
		}{
			{firebreak.FeedbackInput{Message: " "}, "message is required"},
			{firebreak.FeedbackInput{Message: "<script>alert(1)</script>"}, "may not contain markup"},
			{firebreak.FeedbackInput{Message: "see javascript:alert(1)"}, `javascript:`},
			{firebreak.FeedbackInput{Message: "bell \a"}, "control characters"},
			{firebreak.FeedbackInput{Message: strings.Repeat("x", 2001)}, "message is 2001 bytes, longer than 2000"},
			{firebreak.FeedbackInput{Message: "ok", Component: "payments-db"}, "component is not one of the components on the form"},
			{firebreak.FeedbackInput{Message: "ok", Contact: "not a contact"}, "contact must be an e-mail address or a phone number"},
			{firebreak.FeedbackInput{Message: "ok", Contact: `a@b.c"><script>`}, "contact must be"},
		} {
			body, _ := json.Marshal(c.in)
			w := postFeedback(h, "192.0.2.1", "application/json", string(body))
			if w.Code != 400 || !strings.Contains(w.Body.String(), c.want) {
				t.Errorf("%s: %d %s", c.want, w.Code, w.Body)
			}
		}
		if w := postFeedback(h, "192.0.2.1", "application/x-www-form-urlencoded", "message="+strings.Repeat("x", 9000)); w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("9 kB form: %d", w.Code)
		}
		if w := postFeedback(h, "192.0.2.1", "text/plain", "hi"); w.Code != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain: %d", w.Code)
		}
		// A refused form shows the user's text back, escaped.
		w := postFeedback(h, "192.0.2.1", "application/x-www-form-urlencoded", url.Values{"message": {`"><b>x</b>`}}.Encode())
		if w.Code != 400 || strings.Contains(w.Body.String(), "<b>x") || !strings.Contains(w.Body.String(), "&lt;b&gt;x") {
			t.Errorf("refused form: %d", w.Code)
		}
		if len(f.Reports()) != 0 {
			t.Fatalf("refused reports were stored: %+v", f.Reports())
		}
		if _, err := f.Submit(firebreak.FeedbackInput{Message: "+49 30 1234567 works", Contact: "+49 (30) 123-4567"}, "x"); err != nil {
			t.Fatalf("a phone contact: %v", err)
		}
	})
}

// Public replies and "what we changed" notes appear on the status page,
// without the report's text, the contact or the operator's name; a note
// naming an internal part is refused.
func TestFeedbackRepliesOnStatusPage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithComponents("checkout"))
		f := newFeedback(t, b)
		p := newStatusPage(t, b, firebreak.WithFeedback(f), firebreak.WithFeedbackForm("feedback/"))
		b.Report(firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "checkout", Dependency: "ledger-db-3", Tier: firebreak.Core, Firing: true, Value: 1})
		rep, err := f.Submit(firebreak.FeedbackInput{Component: "checkout", Message: "My order vanished", Contact: "bob@example.com"}, "192.0.2.9")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Reply(rep.ID, "alice", "Orders placed 10:00-10:20 were restored.", true); err != nil {
			t.Fatal(err)
		}
		if err := f.Reply(rep.ID, "alice", "Internal: ledger replay pending", false); err != nil {
			t.Fatal(err)
		}
		if err := f.PublishChange(firebreak.ChangeNote{Title: "Faster refunds", Body: "We now retry ledger-db-3 writes"}, "alice"); err == nil ||
			!strings.Contains(err.Error(), `"ledger-db-3"`) {
			t.Fatalf("a note naming an internal part: %v", err)
		}
		if err := f.PublishChange(firebreak.ChangeNote{Title: "Orders are kept safe", Body: "Orders are now saved before payment.", Components: []string{"checkout"}}, "alice"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		_, html := get(t, p.Handler(), "/")
		_, atom := get(t, p.Handler(), "/history.atom")
		for _, want := range []string{"Orders placed 10:00-10:20 were restored.", "Orders are kept safe", `href="feedback/"`} {
			if !strings.Contains(html, want) {
				t.Errorf("status page lacks %q", want)
			}
		}
		if !strings.Contains(atom, "Orders are now saved before payment.") {
			t.Error("feed lacks the note")
		}
		for _, bad := range []string{"My order vanished", "bob@example.com", "alice", "Internal: ledger", "ledger-db-3"} {
			if strings.Contains(html+atom, bad) {
				t.Errorf("status page shows %q", bad)
			}
		}
	})
}

// The ops API gains the pages' routes: a responder posts an update and a
// reply; a viewer reads but may not post; no token is 401.
func TestOpsAPIPagesRoutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithComponents("checkout"))
		f := newFeedback(t, b)
		p := newStatusPage(t, b)
		ops, err := firebreak.OpsHandler(b, pagesAuth(t), firebreak.WithStatusUpdates(p), firebreak.WithFeedbackReplies(f), firebreak.WithPathPrefix("/ops"))
		if err != nil {
			t.Fatal(err)
		}
		call := func(method, path, token, body string) *httptest.ResponseRecorder {
			r := httptest.NewRequest(method, path, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			if token != "" {
				r.Header.Set("Authorization", "Bearer "+token)
			}
			w := httptest.NewRecorder()
			ops.ServeHTTP(w, r)
			return w
		}
		update := `{"title": "Slow checkout", "status": "investigating", "message": "Checkout is slow.", "components": ["checkout"]}`
		if w := call("POST", "/ops/status/updates", "", update); w.Code != 401 {
			t.Fatalf("no token: %d", w.Code)
		}
		if w := call("POST", "/ops/status/updates", consoleViewer, update); w.Code != 403 {
			t.Fatalf("viewer: %d", w.Code)
		}
		if w := call("POST", "/ops/status/updates", consoleResponder, `{"status": "fixed", "message": "x", "title": "t"}`); w.Code != 400 || !strings.Contains(w.Body.String(), "Status must be") {
			t.Fatalf("bad status: %d %s", w.Code, w.Body)
		}
		w := call("POST", "/ops/status/updates", consoleResponder, update)
		var pi firebreak.PublicIncident
		if w.Code != 201 || json.Unmarshal(w.Body.Bytes(), &pi) != nil || pi.ID == "" || pi.Updates[0].By != "alice" {
			t.Fatalf("update: %d %s", w.Code, w.Body)
		}
		if w := call("GET", "/ops/status/incidents", consoleViewer, ""); w.Code != 200 || !strings.Contains(w.Body.String(), "Slow checkout") {
			t.Fatalf("list: %d", w.Code)
		}
		rep, err := f.Submit(firebreak.FeedbackInput{Message: "slow"}, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if w := call("POST", "/ops/feedback/"+rep.ID+"/reply", consoleResponder, `{"text": "Looking into it", "public": false}`); w.Code != 200 {
			t.Fatalf("reply: %d %s", w.Code, w.Body)
		}
		if w := call("POST", "/ops/feedback/nope/reply", consoleResponder, `{"text": "x"}`); w.Code != 404 {
			t.Fatalf("reply to nothing: %d", w.Code)
		}
		if w := call("POST", "/ops/feedback/changes", consoleResponder, `{"title": "Faster", "body": "We made checkout faster."}`); w.Code != 201 {
			t.Fatalf("change: %d %s", w.Code, w.Body)
		}
		if w := call("GET", "/ops/feedback", consoleViewer, ""); w.Code != 200 || !strings.Contains(w.Body.String(), "Looking into it") {
			t.Fatalf("feedback list: %d", w.Code)
		}
	})
}

func TestFeedbackSettings(t *testing.T) {
	b, err := firebreak.NewBoard("shop", firebreak.WithComponents("checkout"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		opt  firebreak.FeedbackOption
		want string
	}{
		{nil, "NewFeedback: option 0 is nil"},
		{firebreak.WithFeedbackWindow(time.Second), "WithFeedbackWindow: must be from 1m to 24h, got 1s"},
		{firebreak.WithFeedbackRate(0, time.Minute), "WithFeedbackRate"},
		{firebreak.WithFeedbackTotalRate(0), "WithFeedbackTotalRate"},
		{firebreak.WithFeedbackTier("db", firebreak.Core), `WithFeedbackTier: component "db" is not declared public`},
	} {
		if _, err := firebreak.NewFeedback(b, c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.want, err)
		}
	}
	f, err := firebreak.NewFeedback(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Submit(firebreak.FeedbackInput{Message: "x"}, "c"); err == nil || !strings.Contains(err.Error(), "Start was not called") {
		t.Fatalf("Submit before Start: %v", err)
	}
	f.Close(context.Background())
	if err := f.Start(context.Background()); !errors.Is(err, firebreak.ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
}
