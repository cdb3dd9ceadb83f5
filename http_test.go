package firebreak_test

import (
	"encoding/json"
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
			{"stats", "GET", "/stats", token, "", 200, "Signals"},
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
		b, _ := newBoard(t, firebreak.WithComponents("search"))
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
