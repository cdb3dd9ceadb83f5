package firebreak_test

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// Category, verification and the archive through the ops API: a viewer
// reads, a responder acts, and every change lands in the timeline.
func TestOpsAPIOrg(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan, err := firebreak.ParsePlan([]byte(`{"verify_before_close": true}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := newBoard(t, firebreak.WithPlan(plan), firebreak.WithArchive(dirArchive(t, t.TempDir())))
		traffic(b, signalFor(firebreak.Severe), time.Second, 5*time.Minute)
		id := only(t, b).ID
		h := rolesServer(t, b)
		p := "/incidents/" + id
		for _, tc := range []struct {
			name, method, path, auth, body string
			code                           int
			want                           string
		}{
			{"viewer cannot categorize", "POST", p + "/category", viewerToken, `{"category": "network", "reason": "x"}`, 403, ""},
			{"unknown category", "POST", p + "/category", token, `{"category": "plumbing", "reason": "x"}`, 400, "not in the plan"},
			{"malformed category", "POST", p + "/category", token, `{"category": "Bad!", "reason": "x"}`, 400, "not a category"},
			{"no category", "POST", p + "/category", token, `{"reason": "x"}`, 400, "category is required"},
			{"categorize", "POST", p + "/category", token, `{"category": "network", "reason": "uplink down"}`, 200, `"group": "network group"`},
			{"verify open", "POST", p + "/verify", token, `{"note": "early"}`, 409, "cannot verify"},
			{"resolve", "POST", p + "/resolve", token, `{"note": "uplink back"}`, 200, `"state": "resolved"`},
			{"close unverified", "POST", p + "/close", token, `{"root_cause": "uplink"}`, 409, "verif"},
			{"viewer cannot verify", "POST", p + "/verify", viewerToken, `{"note": "ok"}`, 403, ""},
			{"verify", "POST", p + "/verify", token, `{"note": "orders flow"}`, 200, `"verified_by": "alice"`},
			{"close", "POST", p + "/close", token, `{"root_cause": "uplink"}`, 200, `"verified_by": "alice"`},
			{"archive list viewer", "GET", "/archive", viewerToken, "", 200, `"id": "` + id + `"`},
			{"archive get", "GET", "/archive/" + id, viewerToken, "", 200, `"root_cause": "uplink"`},
			{"archive markdown", "GET", "/archive/" + id + "?format=markdown", viewerToken, "", 200, "- Verified by alice at"},
			{"archive unknown", "GET", "/archive/INC-0099", viewerToken, "", 404, "not archived"},
			{"archive traversal", "GET", "/archive/..%2Fsecret", viewerToken, "", 400, "malformed path"},
			{"archive hidden file", "GET", "/archive/.INC-0001.json.tmp", viewerToken, "", 404, "not archived"},
			{"archive bad limit", "GET", "/archive?limit=0", viewerToken, "", 400, "limit"},
			{"archive bad format", "GET", "/archive/" + id + "?format=pdf", viewerToken, "", 400, "format"},
			{"archive post", "POST", "/archive", token, "", 405, ""},
			{"archive anonymous", "GET", "/archive", "", "", 401, ""},
		} {
			rec := do(h, tc.method, tc.path, tc.auth, tc.body)
			if tc.name == "close" || tc.name == "archive list viewer" {
				synctest.Wait() // the archive stores on its own goroutine
			}
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%s: %d %s, want %d containing %q", tc.name, rec.Code, rec.Body, tc.code, tc.want)
			}
		}
		inc, err := b.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if !hasEntry(inc, firebreak.EventCategorized, "alice", "uplink down") || !hasEntry(inc, firebreak.EventVerified, "alice", "orders flow") {
			t.Fatalf("the API's changes are not in the timeline: %+v", inc.Timeline)
		}
		var body struct {
			Incidents []firebreak.ArchiveEntry `json:"incidents"`
		}
		rec := do(h, "GET", "/archive", viewerToken, "")
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Incidents) != 1 || body.Incidents[0].Category != firebreak.CategoryNetwork {
			t.Fatalf("archive list: %v %+v", err, body)
		}
	})
}

// Without WithArchive the archive routes say so.
func TestOpsAPINoArchive(t *testing.T) {
	b, err := firebreak.NewBoard("svc")
	if err != nil {
		t.Fatal(err)
	}
	h := rolesServer(t, b)
	for _, path := range []string{"/archive", "/archive/INC-0001"} {
		if rec := do(h, "GET", path, viewerToken, ""); rec.Code != 404 || !strings.Contains(rec.Body.String(), "no archive configured") {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
}
