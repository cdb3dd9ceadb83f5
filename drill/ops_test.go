package drill_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/drill"
)

// The ops API starts (authorised, with scope and end), shows, aborts and
// reports drills through the root Authorizer.
func TestOpsAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(t, drill.Error(errors.New("injected")))
		stop := s.traffic()
		defer stop()
		m, err := drill.NewManager(s.board, s.inject)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(t.Context())
		auth, err := firebreak.BearerTokensWithRoles(map[string]firebreak.Grant{
			"responder-token-0123456789": {Principal: "ana", Role: firebreak.Responder},
			"viewer-token-0123456789ab":  {Principal: "bob", Role: firebreak.Viewer},
		})
		if err != nil {
			t.Fatal(err)
		}
		h, err := drill.OpsHandler(m, auth)
		if err != nil {
			t.Fatal(err)
		}
		do := func(method, path, token, body string) (int, string) {
			r := httptest.NewRequest(method, path, strings.NewReader(body))
			if token != "" {
				r.Header.Set("Authorization", "Bearer "+token)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w.Code, w.Body.String()
		}
		const ana, bob = "responder-token-0123456789", "viewer-token-0123456789ab"
		good := `{"id": "api-1", "scope": {"components": ["checkout"], "dependencies": ["payments"]}, "dose": [{"after": "0s", "percent": 1}, {"after": "1m", "percent": 5}], "duration": "30m", "participants": ["drill-team"]}`
		for _, tc := range []struct {
			name, token, body string
			code              int
			want              string
		}{
			{"no credentials", "", good, 401, "credentials"},
			{"viewer", bob, good, 403, "not allowed"},
			{"no end", ana, `{"id": "x", "scope": {"components": ["checkout"]}, "dose": [{"percent": 5}]}`, 400, "needs an end"},
			{"over 100%", ana, `{"id": "x", "scope": {"components": ["checkout"]}, "dose": [{"percent": 150}], "duration": "1m"}`, 400, "at most 100"},
			{"unknown scope", ana, `{"id": "x", "scope": {"components": ["ledger"]}, "dose": [{"percent": 5}], "duration": "1m"}`, 400, "no injector covers"},
			{"unknown field", ana, `{"id": "x", "ends": "soon"}`, 400, "unknown field"},
			{"start", ana, good, 201, `"state": "running"`},
			{"again", ana, good, 409, `already running: \"api-1\" (running)`},
		} {
			if code, body := do("POST", "/", tc.token, tc.body); code != tc.code || !strings.Contains(body, tc.want) {
				t.Errorf("%s: %d %s; want %d with %q", tc.name, code, body, tc.code, tc.want)
			}
		}
		time.Sleep(90 * time.Second)
		code, body := do("GET", "/api-1", bob, "")
		var st drill.Status
		json.Unmarshal([]byte(body), &st)
		if code != 200 || st.State != drill.StateRunning || st.Percent != 5 || st.Injected == 0 {
			t.Fatalf("status: %d %+v", code, st)
		}
		if code, _ := do("POST", "/api-1/abort", bob, `{"reason": "x"}`); code != 403 {
			t.Errorf("a viewer aborted: %d", code)
		}
		code, body = do("POST", "/api-1/abort", ana, `{"reason": "customer call"}`)
		if code != 200 || !strings.Contains(body, "aborted by ana: customer call") || s.inject.Armed() {
			t.Fatalf("abort: %d %s, armed %v", code, body, s.inject.Armed())
		}
		if code, _ := do("POST", "/api-1/abort", ana, ""); code != 409 {
			t.Errorf("abort twice: %d, want 409", code)
		}
		code, body = do("GET", "/api-1/report?format=markdown", bob, "")
		if code != 200 || !strings.Contains(body, "Aborted: aborted by ana: customer call") {
			t.Errorf("report: %d %s", code, body)
		}
		if code, _ := do("GET", "/nope", bob, ""); code != http.StatusNotFound {
			t.Errorf("unknown drill: %d", code)
		}
		if code, body := do("GET", "/", bob, ""); code != 200 || !strings.Contains(body, "api-1") {
			t.Errorf("list: %d %s", code, body)
		}
	})
}

// A Manager makes room for new drills by forgetting finished ones only: a
// long drill still running is neither forgotten nor aborted however many
// drills come after it.
func TestManagerNeverEvictsARunningDrill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(t, drill.Error(errors.New("injected")))
		m, err := drill.NewManager(s.board, s.inject)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(t.Context())
		spec := func(id string, d time.Duration) drill.Spec {
			sp := liveSpec(id, drill.Percent(1), d)
			sp.Participants = nil
			return sp
		}
		long, err := m.StartDrill(t.Context(), spec("long", 24*time.Hour), "ana")
		if err != nil {
			t.Fatal(err)
		}
		for i := range drill.MaxKept + 5 {
			// The long drill holds the only injector: each short one is
			// refused (ErrRunning), a finished drill all the same.
			d, err := m.StartDrill(t.Context(), spec("short-"+strconv.Itoa(i), time.Minute), "ana")
			if err != nil && !errors.Is(err, drill.ErrRunning) {
				t.Fatal(err)
			}
			<-d.Done()
		}
		if got, err := m.Get("long"); err != nil || got != long || long.State() != drill.StateRunning || !s.inject.Armed() {
			t.Fatalf("the long drill after %d others: %v, state %s; want kept and running", drill.MaxKept+5, err, long.State())
		}
		if n := len(m.List()); n != drill.MaxKept {
			t.Errorf("the manager keeps %d drills, want %d", n, drill.MaxKept)
		}
		if _, err := m.Get("short-0"); !errors.Is(err, drill.ErrNotFound) {
			t.Errorf("the oldest finished drill: %v, want forgotten", err)
		}
		if _, err := m.StartDrill(t.Context(), spec("long", time.Hour), "ana"); !errors.Is(err, drill.ErrRunning) {
			t.Errorf("a second drill named long: %v, want ErrRunning", err)
		}
	})
}
