package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/health/healthtest"
	"github.com/firebreak-go/firebreak/internal/race"
)

// TestKubernetesTextFormat pins the exact bodies of the Kubernetes-style
// endpoints, as the API server writes them (healthz.go), with the status
// codes of this package (503 on failure). Unknown query parameters are
// ignored, as the API server ignores them; this test used to expect 400 for
// them, which turned a probe URL with an extra parameter into a failing
// probe (a restart loop, for liveness).
func TestKubernetesTextFormat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		ping := healthtest.NewCheck()
		db := healthtest.NewCheck()
		mustRegister(t, r, "ping", ping, health.InGroups(health.Liveness, health.Readiness))
		mustRegister(t, r, "db", db)
		mustRegister(t, r, "informer/sync", healthtest.NewCheck())
		r.Start(context.Background())
		defer r.Close(context.Background())
		synctest.Wait()
		h := r.Handler()

		type row struct {
			target string
			auth   bool
			code   int
			body   string
		}
		check := func(phase string, rows []row) {
			t.Helper()
			for _, tc := range rows {
				got := get(h, tc.target, tc.auth)
				if got.code != tc.code || got.body != tc.body {
					t.Errorf("%s: GET %s (auth %v) = %d %q, want %d %q", phase, tc.target, tc.auth, got.code, got.body, tc.code, tc.body)
				}
				if got.code != 400 {
					if ct := got.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
						t.Errorf("%s: GET %s: Content-Type %q", phase, tc.target, ct)
					}
					if got.header.Get("X-Content-Type-Options") != "nosniff" {
						t.Errorf("%s: GET %s: no nosniff", phase, tc.target)
					}
				}
				if cc := got.header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("%s: GET %s: Cache-Control %q", phase, tc.target, cc)
				}
			}
		}
		check("healthy", []row{
			{"/readyz", false, 200, "ok"},
			{"/livez", false, 200, "ok"},
			{"/startupz", false, 200, "ok"}, // empty group
			{"/readyz?verbose", false, 200, "[+]ping ok\n[+]db ok\n[+]informer/sync ok\nreadyz check passed\n"},
			{"/readyz?verbose=true", false, 200, "[+]ping ok\n[+]db ok\n[+]informer/sync ok\nreadyz check passed\n"},
			{"/readyz?verbose=false", false, 200, "ok"},
			{"/livez?verbose", false, 200, "[+]ping ok\nlivez check passed\n"},
			{"/readyz?exclude=db", false, 200, "ok"},
			{"/readyz?verbose&exclude=db", false, 200, "[+]ping ok\n[+]db excluded: ok\n[+]informer/sync ok\nreadyz check passed\n"},
			{"/readyz?verbose&exclude=db&exclude=ping", false, 200, "[+]ping excluded: ok\n[+]db excluded: ok\n[+]informer/sync ok\nreadyz check passed\n"},
			{"/readyz?exclude=nope", false, 200, "ok"},
			{"/readyz?verbose&exclude=zz&exclude=aa&exclude=zz", false, 200,
				"[+]ping ok\n[+]db ok\n[+]informer/sync ok\nwarn: some health checks cannot be excluded: no matches for \"aa\",\"zz\"\nreadyz check passed\n"},
			{"/livez?verbose&exclude=db", false, 200, "[+]ping ok\nwarn: some health checks cannot be excluded: no matches for \"db\"\nlivez check passed\n"},
			{"/readyz/db", false, 200, "ok"},
			{"/readyz/informer/sync", false, 200, "ok"},
			{"/livez/ping", false, 200, "ok"},
			{"/livez/db", false, 404, "health: no check \"db\" in livez\n"},
			{"/readyz/nope", false, 404, "health: no check \"nope\" in readyz\n"},
			{"/livez?timeout=32s", false, 200, "ok"},
			{"/readyz?full=1&verbose", false, 200, "[+]ping ok\n[+]db ok\n[+]informer/sync ok\nreadyz check passed\n"},
			{"/readyz/db?x=%zz", false, 200, "ok"},
		})

		db.Fail(errors.New("dial tcp 10.0.0.7:5432: connection refused\nsecond line"))
		time.Sleep(health.DefaultInterval)
		synctest.Wait()
		check("db down", []row{
			{"/readyz", false, 503, "[+]ping ok\n[-]db failed: reason withheld\n[+]informer/sync ok\nreadyz check failed\n"},
			{"/readyz?verbose", false, 503, "[+]ping ok\n[-]db failed: reason withheld\n[+]informer/sync ok\nreadyz check failed\n"},
			{"/readyz", true, 503, "[+]ping ok\n[-]db failed: dial tcp 10.0.0.7:5432: connection refused\n[+]informer/sync ok\nreadyz check failed\n"},
			{"/readyz?exclude=db", false, 200, "ok"},
			{"/readyz?exclude=db&verbose", false, 200, "[+]ping ok\n[+]db excluded: ok\n[+]informer/sync ok\nreadyz check passed\n"},
			{"/readyz/db", false, 503, "internal server error: reason withheld\n"},
			{"/readyz/db", true, 503, "internal server error: dial tcp 10.0.0.7:5432: connection refused\n"},
			{"/readyz/ping", false, 200, "ok"},
			{"/livez", false, 200, "ok"},
			{"/readyz?full=1", false, 503, "[+]ping ok\n[-]db failed: reason withheld\n[+]informer/sync ok\nreadyz check failed\n"},
			{"/readyz/db?x=1", false, 503, "internal server error: reason withheld\n"},
			{"/livez?%zz&timeout=1s", false, 200, "ok"},
		})
		check("bad queries", []row{
			{"/readyz?verbose=maybe", false, 400, "health: bad query parameter \"verbose\": value \"maybe\" is not a boolean\n"},
			{"/readyz?exclude", false, 400, "health: bad query parameter \"exclude\": needs a check name, as in exclude=db\n"},
			{"/readyz?exclude=", false, 400, "health: bad query parameter \"exclude\": needs a check name, as in exclude=db\n"},
			{"/readyz?exclude=%zz", false, 400, "health: bad query parameter \"exclude\": malformed escape in value\n"},
			{"/readyz/db?verbose=2", false, 400, "health: bad query parameter \"verbose\": value \"2\" is not a boolean\n"},
			{"/health?verbose=2", false, 400, "health: bad query parameter \"verbose\": value \"2\" is not a boolean\n"},
			{"/readyz?" + strings.Repeat("exclude=a&", 65), false, 400, "health: bad query parameter \"exclude\": more than 64 exclusions\n"},
			{"/readyz?" + strings.Repeat("x", 3000), false, 400, "health: bad query: longer than 2048 bytes\n"},
		})
	})
}

func TestHandlerMethodsAndPaths(t *testing.T) {
	r := newRegistry(t, nil)
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	h := r.Handler()
	for _, tc := range []struct {
		method, target string
		code           int
	}{
		{http.MethodPost, "/readyz", 405},
		{http.MethodDelete, "/health", 405},
		{http.MethodGet, "/", 404},
		{http.MethodGet, "/readyzz", 404},
		{http.MethodGet, "/readyz/", 404},
		{http.MethodGet, "/metrics", 404},
		{http.MethodHead, "/livez", 200},
		{http.MethodHead, "/readyz", 200},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
		if rec.Code != tc.code {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.target, rec.Code, tc.code)
		}
		if tc.method == http.MethodHead && rec.Body.Len() != 0 {
			t.Errorf("HEAD %s wrote a body", tc.target)
		}
		if tc.code == 405 && rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.target, rec.Header().Get("Allow"))
		}
	}
}

// TestHealthJSON checks the application/health+json document, with details
// withheld and shown.
func TestHealthJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		db := healthtest.NewCheck()
		disk := healthtest.NewCheck()
		cache := healthtest.NewCheck()
		db.SetObserved(0.012, "s")
		disk.SetObserved(12e9, "By")
		disk.Warn(errors.New("disk /var: 12000000000 bytes free, below twice 10000000000"))
		cache.Fail(errors.New("redis 10.0.0.9:6379: i/o timeout"))
		mustRegister(t, r, "db", db, health.WithComponentType("datastore"), health.WithMeasurement("responseTime"))
		mustRegister(t, r, "disk", disk, health.InGroups(health.Liveness), health.WithComponentType("system"), health.WithMeasurement("utilization"))
		mustRegister(t, r, "cache", cache, health.NonCritical())
		r.Start(context.Background())
		defer r.Close(context.Background())
		synctest.Wait()
		h := r.Handler()
		now := time.Now().UTC().Format(time.RFC3339Nano)

		decode := func(resp response) health.Document {
			t.Helper()
			if ct := resp.header.Get("Content-Type"); ct != "application/health+json" {
				t.Fatalf("Content-Type %q", ct)
			}
			if cc := resp.header.Get("Cache-Control"); cc != "no-store" {
				t.Fatalf("Cache-Control %q", cc)
			}
			var doc health.Document
			dec := json.NewDecoder(strings.NewReader(resp.body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("decode %q: %v", resp.body, err)
			}
			return doc
		}
		f := func(v float64) *float64 { return &v }

		got := get(h, "/health", false)
		if got.code != 200 {
			t.Fatalf("/health = %d", got.code)
		}
		want := health.Document{
			Status: "warn", ServiceID: "checkout", Description: "health of checkout",
			Checks: map[string][]health.DocumentCheck{
				"db:responseTime":  {{ComponentID: "db", ComponentType: "datastore", Status: "pass", Health: health.StatusUp, Critical: true, Time: now}},
				"disk:utilization": {{ComponentID: "disk", ComponentType: "system", Status: "warn", Health: health.StatusDegraded, Critical: true, Time: now}},
				"cache":            {{ComponentID: "cache", ComponentType: "component", Status: "fail", Health: health.StatusDown, Critical: false, Time: now}},
			},
		}
		if diff := cmp.Diff(want, decode(got)); diff != "" {
			t.Errorf("unauthorised /health (-want +got):\n%s", diff)
		}
		if strings.Contains(got.body, "10.0.0.9") || strings.Contains(got.body, "observedValue") || strings.Contains(got.body, "output") {
			t.Errorf("unauthorised body leaks details: %s", got.body)
		}

		got = get(h, "/health", true)
		want.Output = "not up: disk, cache"
		want.Checks["db:responseTime"][0].ObservedValue, want.Checks["db:responseTime"][0].ObservedUnit = f(0.012), "s"
		want.Checks["disk:utilization"][0].ObservedValue, want.Checks["disk:utilization"][0].ObservedUnit = f(12e9), "By"
		want.Checks["disk:utilization"][0].Output = "disk /var: 12000000000 bytes free, below twice 10000000000"
		want.Checks["cache"][0].Output = "redis 10.0.0.9:6379: i/o timeout"
		if diff := cmp.Diff(want, decode(got)); diff != "" {
			t.Errorf("authorised /health (-want +got):\n%s", diff)
		}

		// Content negotiation on a group endpoint, with exclusion.
		req := httptest.NewRequest(http.MethodGet, "/readyz?exclude=cache&exclude=ghost", nil)
		req.Header.Set("Accept", "application/health+json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		doc := decode(response{rec.Code, rec.Body.String(), rec.Header()})
		if rec.Code != 200 || doc.Status != "pass" || len(doc.Checks) != 1 || doc.Notes[0] != `some health checks cannot be excluded: no matches for "ghost"` {
			t.Errorf("readyz JSON = %d %+v", rec.Code, doc)
		}

		// Failing critical check: 503 and "fail".
		db.Fail(nil)
		time.Sleep(health.DefaultInterval)
		synctest.Wait()
		got = get(h, "/health", false)
		if doc := decode(got); got.code != 503 || doc.Status != "fail" || doc.Checks["db:responseTime"][0].Status != "fail" {
			t.Errorf("failing /health = %d %+v", got.code, doc)
		}
		r.Drain()
		db.Pass()
		cache.Pass()
		disk.Pass()
		time.Sleep(health.DefaultInterval)
		synctest.Wait()
		got = get(h, "/health", false)
		if doc := decode(got); got.code != 503 || doc.Status != "fail" || len(doc.Notes) != 1 || !strings.HasPrefix(doc.Notes[0], "draining") {
			t.Errorf("draining /health = %d %+v", got.code, doc)
		}
	})
}

// TestAuthorization: details only for an authorised caller; a wrong token
// sees nothing more than no token.
func TestAuthorization(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		c := healthtest.NewCheck()
		c.Fail(errors.New("password authentication failed for user app"))
		mustRegister(t, r, "db", c)
		r.Start(context.Background())
		defer r.Close(context.Background())
		synctest.Wait()
		h := r.Handler()
		for _, hdr := range []string{"", "Bearer wrong-token-0123456789", "Basic " + token, "Bearer " + token + "x", "Bearer"} {
			req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
			if hdr != "" {
				req.Header.Set("Authorization", hdr)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if strings.Contains(rec.Body.String(), "password") || !strings.Contains(rec.Body.String(), "reason withheld") {
				t.Errorf("Authorization %q: body %q", hdr, rec.Body.String())
			}
		}
		for _, hdr := range []string{"Bearer " + token, "bearer " + token, "BEARER  " + token} {
			req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
			req.Header.Set("Authorization", hdr)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if !strings.Contains(rec.Body.String(), "[-]db failed: password authentication failed for user app") {
				t.Errorf("Authorization %q: body %q", hdr, rec.Body.String())
			}
		}
		// A custom authoriser.
		r2 := newRegistry(t, nil, health.WithAuthorizer(firebreak.AuthorizerFunc(func(req *http.Request, action string) (string, error) {
			if req.Header.Get("X-Role") != "sre" || action != firebreak.ActionRead {
				return "", firebreak.ErrUnauthenticated
			}
			return "sre", nil
		})))
		mustRegister(t, r2, "db", c)
		r2.Start(context.Background())
		defer r2.Close(context.Background())
		synctest.Wait()
		req := httptest.NewRequest(http.MethodGet, "/readyz/db", nil)
		req.Header.Set("X-Role", "sre")
		rec := httptest.NewRecorder()
		r2.Handler().ServeHTTP(rec, req)
		if rec.Body.String() != "internal server error: password authentication failed for user app\n" {
			t.Errorf("custom authoriser: %q", rec.Body.String())
		}
	})
}

// TestReadyzDoesNotAllocate: the success path of /readyz allocates nothing.
func TestReadyzDoesNotAllocate(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are unreliable under -race")
	}
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		for i := range 10 {
			mustRegister(t, r, fmt.Sprintf("dep%d", i), healthtest.NewCheck())
		}
		r.Start(context.Background())
		defer r.Close(context.Background())
		synctest.Wait()
		h := r.Handler()
		req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
		w := newSinkWriter()
		allocs := testing.AllocsPerRun(1000, func() {
			w.reset()
			h.ServeHTTP(w, req)
		})
		if w.code != 200 || string(w.body) != "ok" {
			t.Fatalf("readyz = %d %q", w.code, w.body)
		}
		if allocs != 0 {
			t.Fatalf("readyz allocates %.1f times per request, want 0", allocs)
		}
	})
}
