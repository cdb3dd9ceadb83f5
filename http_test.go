package firebreak_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

const token = "s3cret-token-for-tests"

func opsServer(t *testing.T, b *firebreak.Board) http.Handler {
	t.Helper()
	auth, err := firebreak.BearerTokens(map[string]string{token: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := firebreak.OpsHandler(b, auth)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func do(h http.Handler, method, path, auth, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestOpsAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		sig := signalFor(firebreak.Severe)
		sig.Summary = "dial tcp 10.0.0.7:5432: connection refused"
		b.Report(sig)
		id := only(t, b).ID
		h := opsServer(t, b)

		for _, tc := range []struct {
			name, method, path, auth, body string
			code                           int
			want                           string
		}{
			{"no credentials", "GET", "/incidents", "", "", 401, "credentials required"},
			{"wrong token", "GET", "/incidents", "wrong-token-wrong-token", "", 403, "not allowed"},
			{"change without credentials", "POST", "/incidents/" + id + "/acknowledge", "", "", 401, ""},
			{"list", "GET", "/incidents?state=detected&severity=severe", token, "", 200, id},
			{"bad state", "GET", "/incidents?state=sleeping", token, "", 400, "unknown state"},
			{"bad severity", "GET", "/incidents?severity=huge", token, "", 400, "unknown severity"},
			{"unknown param", "GET", "/incidents?colour=red", token, "", 400, "unknown query parameter"},
			{"get", "GET", "/incidents/" + id, token, "", 200, "connection refused"},
			{"missing", "GET", "/incidents/INC-9999", token, "", 404, "not found"},
			{"wrong method", "DELETE", "/incidents/" + id, token, "", 405, "use GET"},
			{"malformed", "POST", "/incidents/" + id + "/mitigate", token, `{"action":`, 400, "malformed JSON"},
			{"unknown field", "POST", "/incidents/" + id + "/mitigate", token, `{"acton":"x"}`, 400, "unknown field"},
			{"empty action", "POST", "/incidents/" + id + "/mitigate", token, `{}`, 400, "say what was done"},
			{"acknowledge", "POST", "/incidents/" + id + "/acknowledge", token, "", 200, `"acknowledged_by": "alice"`},
			{"again", "POST", "/incidents/" + id + "/acknowledge", token, "", 409, "cannot acknowledge"},
			{"finding", "POST", "/incidents/" + id + "/findings", token, `{"hypothesis":"pool exhausted","suspected_cause":"leak in v2.3"}`, 200, "pool exhausted"},
			{"evidence", "POST", "/incidents/" + id + "/evidence", token, `{"kind":"log","note":"grep ERROR"}`, 200, "grep ERROR"},
			{"severity", "POST", "/incidents/" + id + "/severity", token, `{"severity":"bogus","reason":"x"}`, 400, "malformed JSON"},
			{"severity missing", "POST", "/incidents/" + id + "/severity", token, `{"reason":"x"}`, 400, "severity is required"},
			{"mitigate", "POST", "/incidents/" + id + "/mitigate", token, `{"action":"failed over to standby"}`, 200, `"state": "mitigated"`},
			{"close unresolved", "POST", "/incidents/" + id + "/close", token, `{}`, 409, "cannot close"},
			{"resolve", "POST", "/incidents/" + id + "/resolve", token, `{"note":"fixed"}`, 200, `"state": "resolved"`},
			{"report md", "GET", "/incidents/" + id + "/report?format=markdown", token, "", 200, "# Postmortem: " + id},
			{"report bad format", "GET", "/incidents/" + id + "/report?format=pdf", token, "", 400, "format"},
			{"close", "POST", "/incidents/" + id + "/close", token, `{"root_cause":"leak","action_items":[{"description":"fix leak","owner":"bob"}]}`, 200, `"kind": "postmortem"`},
			{"stats", "GET", "/stats", token, "", 200, `"notify_queue_len"`},
			{"nowhere", "GET", "/nowhere", token, "", 404, "no such endpoint"},
		} {
			rec := do(h, tc.method, tc.path, tc.auth, tc.body)
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("%s: %d %s; want %d containing %q", tc.name, rec.Code, rec.Body.String(), tc.code, tc.want)
			}
			if ct := rec.Header().Get("Content-Type"); rec.Code >= 400 && ct != "application/json" {
				t.Errorf("%s: error content type %q", tc.name, ct)
			}
		}
	})
}

func TestOpsAPIRequiresAuthorizer(t *testing.T) {
	b, _ := firebreak.NewBoard("svc")
	if _, err := firebreak.OpsHandler(b, nil); err == nil {
		t.Fatal("OpsHandler accepted a nil Authorizer")
	}
	if _, err := firebreak.BearerTokens(map[string]string{"short": "x"}); err == nil {
		t.Fatal("short token accepted")
	}
}

func TestOpsAPIBodyLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		b.Report(signalFor(firebreak.General))
		id := only(t, b).ID
		h := opsServer(t, b)
		big := `{"action":"` + strings.Repeat("x", 70<<10) + `"}`
		if rec := do(h, "POST", "/incidents/"+id+"/mitigate", token, big); rec.Code != 413 {
			t.Fatalf("big body: %d", rec.Code)
		}
		req := httptest.NewRequest("POST", "/incidents/"+id+"/mitigate", strings.NewReader("action=x"))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 415 {
			t.Fatalf("form body: %d", rec.Code)
		}
	})
}

func TestPublicStatusHidesDetail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithComponents("checkout-api", "search"))
		sig := signalFor(firebreak.Fatal)
		sig.Summary = "dial tcp db-7.internal.example:5432: connection refused (v2.3.1)"
		b.Report(sig)
		time.Sleep(time.Minute) // past the group wait: announced
		rec := httptest.NewRecorder()
		firebreak.StatusHandler(b).ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
		body := rec.Body.String()
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
		for _, secret := range []string{"db-7", "internal", "5432", "v2.3.1", "refused", "payments-db", "INC-"} {
			if strings.Contains(body, secret) {
				t.Errorf("public status leaks %q: %s", secret, body)
			}
		}
		var st firebreak.PublicStatus
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatal(err)
		}
		if st.Status != firebreak.StatusMajorOutage || len(st.Components) != 2 ||
			st.Components[0] != (firebreak.ComponentStatus{Name: "checkout-api", Status: firebreak.StatusMajorOutage}) ||
			st.Components[1] != (firebreak.ComponentStatus{Name: "search", Status: firebreak.StatusOperational}) {
			t.Fatalf("status %+v", st)
		}
		rec = httptest.NewRecorder()
		firebreak.StatusHandler(b).ServeHTTP(rec, httptest.NewRequest("POST", "/status", io.NopCloser(strings.NewReader(""))))
		if rec.Code != 405 {
			t.Fatalf("POST: %d", rec.Code)
		}
	})
}

const viewerToken = "viewer-token-for-dashboards"

func rolesServer(t *testing.T, b *firebreak.Board) http.Handler {
	t.Helper()
	auth, err := firebreak.BearerTokensWithRoles(map[string]firebreak.Grant{
		token:       {Principal: "alice", Role: firebreak.Responder},
		viewerToken: {Principal: "dashboard", Role: firebreak.Viewer},
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := firebreak.OpsHandler(b, auth)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Any token could do anything. A viewer token now reads, and gets 403 on
// every change, which leaves the incident as it was.
func TestOpsAPIViewerIsReadOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		b.Report(signalFor(firebreak.Severe))
		time.Sleep(time.Minute)
		id := only(t, b).ID
		h := rolesServer(t, b)
		for _, path := range []string{"/incidents", "/incidents/" + id, "/incidents/" + id + "/report", "/stats"} {
			if rec := do(h, "GET", path, viewerToken, ""); rec.Code != 200 {
				t.Errorf("viewer GET %s: %d %s", path, rec.Code, rec.Body.String())
			}
		}
		before := only(t, b)
		for action, body := range map[string]string{"acknowledge": "", "mitigate": `{"action":"x"}`, "resolve": `{"note":"x"}`,
			"findings": `{"hypothesis":"x"}`, "evidence": `{"kind":"log"}`, "severity": `{"severity":"fatal","reason":"x"}`, "close": `{}`} {
			rec := do(h, "POST", "/incidents/"+id+"/"+action, viewerToken, body)
			if rec.Code != 403 || !strings.Contains(rec.Body.String(), "dashboard is a viewer") {
				t.Errorf("viewer POST %s: %d %s", action, rec.Code, rec.Body.String())
			}
		}
		if after := only(t, b); len(after.Timeline) != len(before.Timeline) || after.State != before.State {
			t.Fatal("a refused change changed the incident")
		}
		if rec := do(h, "POST", "/incidents/"+id+"/acknowledge", token, ""); rec.Code != 200 {
			t.Fatalf("responder acknowledge: %d %s", rec.Code, rec.Body.String())
		}
		if _, err := firebreak.BearerTokensWithRoles(map[string]firebreak.Grant{viewerToken: {Principal: "x"}}); err == nil ||
			!strings.Contains(err.Error(), "Role") {
			t.Fatalf("a token without a role: %v", err)
		}
	})
}

// The list had no pagination. A storm of 120 incidents is now read in pages
// of ?limit= with an opaque cursor, each incident exactly once.
func TestOpsAPIPaginates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		for i := range 120 {
			s := signalFor(firebreak.General)
			s.Dependency = fmt.Sprintf("dep-%03d", i)
			b.Report(s)
			time.Sleep(time.Duration(i%3) * time.Second) // some detected in the same instant
		}
		h := opsServer(t, b)
		var page struct {
			Incidents  []firebreak.Incident `json:"incidents"`
			NextCursor string               `json:"next_cursor"`
		}
		get := func(q string) int {
			rec := do(h, "GET", "/incidents"+q, token, "")
			page.NextCursor = ""
			json.Unmarshal(rec.Body.Bytes(), &page)
			return rec.Code
		}
		if get("") != 200 || len(page.Incidents) != firebreak.DefaultListLimit || page.NextCursor == "" {
			t.Fatalf("default page: %d incidents, cursor %q", len(page.Incidents), page.NextCursor)
		}
		seen := map[string]bool{}
		var sizes []int
		for q := "?limit=50&open=true"; ; {
			if code := get(q); code != 200 {
				t.Fatalf("GET %s: %d", q, code)
			}
			sizes = append(sizes, len(page.Incidents))
			for _, inc := range page.Incidents {
				if seen[inc.ID] {
					t.Fatalf("%s listed twice", inc.ID)
				}
				seen[inc.ID] = true
			}
			if page.NextCursor == "" {
				break
			}
			q = "?limit=50&open=true&cursor=" + page.NextCursor
		}
		if len(seen) != 120 || fmt.Sprint(sizes) != "[50 50 20]" {
			t.Fatalf("pages %v, %d incidents", sizes, len(seen))
		}
		for _, q := range []string{"?limit=0", "?limit=501", "?limit=ten", "?cursor=not-a-cursor", "?cursor=" + strings.Repeat("A", 400)} {
			rec := do(h, "GET", "/incidents"+q, token, "")
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), strings.TrimPrefix(strings.SplitN(q, "=", 2)[0], "?")) {
				t.Errorf("GET %s: %d %s", q, rec.Code, rec.Body.String())
			}
		}
	})
}

// /stats answered in PascalCase while everything else is snake_case.
func TestOpsAPIStatsAreSnakeCase(t *testing.T) {
	b, _ := firebreak.NewBoard("svc")
	rec := do(opsServer(t, b), "GET", "/stats", token, "")
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || len(m) < 10 {
		t.Fatalf("%v %s", err, rec.Body.String())
	}
	for k := range m {
		if strings.ToLower(k) != k {
			t.Errorf("stats key %q is not snake_case", k)
		}
	}
}

// Nothing bounded what people could add to an incident.
func TestOpsAPILimitsWhatPeopleAdd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		b.Report(signalFor(firebreak.Severe))
		time.Sleep(time.Minute)
		id := only(t, b).ID
		h := opsServer(t, b)
		long := strings.Repeat("x", firebreak.MaxTextLen+1)
		for _, tc := range []struct{ action, body string }{
			{"mitigate", `{"action":"` + long + `"}`}, {"findings", `{"hypothesis":"` + long + `"}`},
			{"evidence", `{"kind":"log","note":"` + long + `"}`}, {"severity", `{"severity":"fatal","reason":"` + long + `"}`},
			{"close", `{"lessons":["` + long + `"]}`},
		} {
			if rec := do(h, "POST", "/incidents/"+id+"/"+tc.action, token, tc.body); rec.Code != 400 || !strings.Contains(rec.Body.String(), "longer than 4096") {
				t.Errorf("%s with a long text: %d %s", tc.action, rec.Code, rec.Body.String())
			}
		}
		// A script gone wrong posts findings in a loop.
		for i := range firebreak.MaxFindings {
			if rec := do(h, "POST", "/incidents/"+id+"/findings", token, fmt.Sprintf(`{"hypothesis":"guess %d"}`, i)); rec.Code != 200 {
				t.Fatalf("finding %d: %d %s", i, rec.Code, rec.Body.String())
			}
		}
		if rec := do(h, "POST", "/incidents/"+id+"/findings", token, `{"hypothesis":"one more"}`); rec.Code != 409 || !strings.Contains(rec.Body.String(), "100 findings") {
			t.Fatalf("finding %d: %d %s", firebreak.MaxFindings+1, rec.Code, rec.Body.String())
		}
		for i := 0; ; i++ {
			rec := do(h, "POST", "/incidents/"+id+"/evidence", token, `{"kind":"log","trace_ids":["4bf92f3577b34da6a3ce929d0e0e4736"]}`)
			if rec.Code == 409 {
				if !strings.Contains(rec.Body.String(), "entries added by people") || i != firebreak.MaxPersonEntries-firebreak.MaxFindings {
					t.Fatalf("after %d evidence: %s", i, rec.Body.String())
				}
				break
			}
			if rec.Code != 200 || i > firebreak.MaxPersonEntries {
				t.Fatalf("evidence %d: %d %s", i, rec.Code, rec.Body.String())
			}
		}
		// Reads still work, and so does the incident's owner's work: the
		// limit only stops additions.
		if rec := do(h, "GET", "/incidents/"+id, token, ""); rec.Code != 200 {
			t.Fatalf("get: %d", rec.Code)
		}
	})
}

// The public status published every component name that ever reported
// ("batch-worker@ip-10-0-3-7"), and showed a mitigated incident as an
// outage.
func TestPublicStatusShowsDeclaredComponentsOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithComponents("checkout-api", "search"))
		b.Report(signalFor(firebreak.Fatal))
		b.Report(firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "batch-worker@ip-10-0-3-7", Tier: firebreak.Auxiliary, Firing: true})
		b.Report(firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "batch-worker@ip-10-0-3-8", Dependency: "queue", Tier: firebreak.Standard, Firing: true})
		time.Sleep(time.Minute)
		st := b.PublicStatus()
		data, _ := json.Marshal(st)
		if strings.Contains(string(data), "batch-worker") || strings.Contains(string(data), "ip-10") {
			t.Fatalf("undeclared component published: %s", data)
		}
		want := []firebreak.ComponentStatus{{Name: "checkout-api", Status: firebreak.StatusMajorOutage}, {Name: "search", Status: firebreak.StatusOperational}}
		if st.Status != firebreak.StatusMajorOutage || fmt.Sprint(st.Components) != fmt.Sprint(want) {
			t.Fatalf("status %+v", st)
		}
		var fatal string
		for _, inc := range b.List(firebreak.Filter{MinSeverity: firebreak.Fatal}) {
			fatal = inc.ID
		}
		b.Acknowledge(fatal, "alice")
		b.Mitigate(fatal, "alice", "failed over to the standby database")
		st = b.PublicStatus()
		// The worker's General incident keeps the service degraded overall.
		if st.Status != firebreak.StatusDegraded || st.Components[0].Status != firebreak.StatusDegraded {
			t.Fatalf("after mitigation: %+v", st)
		}
	})
}

// Mounted under /ops with WithPathPrefix, the API answers without
// http.StripPrefix; mounted without it, the 404 says what to pass.
func TestOpsHandlerUnderAPrefix(t *testing.T) {
	b, _ := newBoard(t)
	b.Report(signalFor(firebreak.Fatal))
	auth, _ := firebreak.BearerTokens(map[string]string{token: "alice"})
	h, err := firebreak.OpsHandler(b, auth, firebreak.WithPathPrefix("/ops"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ops/", h)
	if rec := do(mux, "GET", "/ops/incidents", token, ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"incidents"`) {
		t.Errorf("GET /ops/incidents = %d %s", rec.Code, rec.Body)
	}
	if rec := do(mux, "GET", "/ops/nothing", token, ""); rec.Code != 404 || !strings.Contains(rec.Body.String(), "/incidents") {
		t.Errorf("GET /ops/nothing = %d %s; want a 404 naming the paths served", rec.Code, rec.Body)
	}

	plain := opsServer(t, b) // no prefix given
	mux2 := http.NewServeMux()
	mux2.Handle("/ops/", plain)
	rec := do(mux2, "GET", "/ops/incidents", token, "")
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), `WithPathPrefix(\"/ops\")`) {
		t.Errorf("mounted without the prefix: %d %s; want a 404 naming WithPathPrefix(\"/ops\")", rec.Code, rec.Body)
	}

	for _, bad := range []string{"ops", "/ops/", "/", "/a/../b"} {
		if _, err := firebreak.OpsHandler(b, auth, firebreak.WithPathPrefix(bad)); err == nil {
			t.Errorf("WithPathPrefix(%q) accepted", bad)
		}
	}
	if _, err := firebreak.OpsHandler(b, auth, nil); err == nil {
		t.Error("a nil option was accepted")
	}
}
