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

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/health/healthtest"
)

// TestInspect runs every check now and reports in Markdown and JSON, without
// touching the cached results.
func TestInspect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		db := healthtest.NewCheck()
		db.SetObserved(0.004, "s")
		disk := healthtest.NewCheck()
		disk.Warn(errors.New("disk 85% full"))
		stuck := healthtest.NewCheck()
		mustRegister(t, r, "db", db)
		mustRegister(t, r, "disk", disk, health.InGroups(health.Liveness), health.NonCritical())
		mustRegister(t, r, "stuck", stuck, health.WithTimeout(time.Second))
		r.Start(context.Background())
		defer r.Close(context.Background())
		synctest.Wait()
		stuck.Hang(true)
		time.Sleep(health.DefaultInterval + 2*time.Second)
		synctest.Wait()
		runsBefore, _ := r.State("db")

		db.Fail(errors.New("too many connections"))
		in, err := r.Inspect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if in.Component != "checkout" || in.Status != health.StatusDown || len(in.Checks) != 3 {
			t.Fatalf("inspection = %+v", in)
		}
		byName := map[string]health.InspectionResult{}
		for _, c := range in.Checks {
			byName[c.Name] = c
		}
		if c := byName["db"]; c.Status != health.StatusDown || c.Error != "too many connections" || c.Cached != health.StatusUp || !c.Observed || c.Value != 0.004 || c.Groups != "readiness" {
			t.Errorf("db = %+v", c)
		}
		if c := byName["disk"]; c.Status != health.StatusDegraded || c.Critical || c.Groups != "liveness" {
			t.Errorf("disk = %+v", c)
		}
		if c := byName["stuck"]; c.Status != health.StatusDown || c.Error != health.ErrStillRunning.Error() || c.Abandoned != 1 {
			t.Errorf("stuck = %+v", c)
		}
		if stuck.Calls() != 2 {
			t.Errorf("stuck check started %d runs, want 2 (no run while one is stuck)", stuck.Calls())
		}
		after, _ := r.State("db")
		if after.Status != health.StatusUp || after.Runs != runsBefore.Runs {
			t.Errorf("inspection changed the cached result: %+v", after)
		}

		md := in.Markdown()
		for _, want := range []string{
			"# Health inspection: checkout",
			"- Overall: **down**",
			"- Checks: 0 up, 1 degraded, 2 down",
			"| Check | Groups | Critical | Result | Probes serve | Observed | Duration | Detail |",
			"| db | readiness | yes | down | up | 0.004 s | 0s | too many connections |",
			"| disk | liveness | no | degraded | degraded |  | 0s | disk 85% full |",
		} {
			if !strings.Contains(md, want) {
				t.Errorf("Markdown lacks %q:\n%s", want, md)
			}
		}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		json.Unmarshal(b, &back)
		checks := back["checks"].([]any)
		first := checks[0].(map[string]any)
		if back["status"] != "down" || first["name"] != "db" || first["error"] != "too many connections" || first["cached"] != "up" {
			t.Errorf("JSON = %s", b)
		}
		stuck.Release()
	})
}

func TestInspectTimeoutAndClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		slow := healthtest.NewCheck()
		slow.Hang(false)
		mustRegister(t, r, "slow", slow, health.WithTimeout(3*time.Second))
		in, err := r.Inspect(context.Background()) // works without Start
		if err != nil {
			t.Fatal(err)
		}
		if c := in.Checks[0]; c.Status != health.StatusDown || !strings.Contains(c.Error, "timed out after 3s") || time.Duration(in.Duration) != 3*time.Second {
			t.Fatalf("inspection = %+v", in)
		}
		r.Close(context.Background())
		if _, err := r.Inspect(context.Background()); !errors.Is(err, firebreak.ErrClosed) {
			t.Fatalf("Inspect after Close = %v", err)
		}
	})
}

// TestMetrics checks the instrument names and attributes.
func TestMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer mp.Shutdown(context.Background())
		r := newRegistry(t, nil, health.WithMeterProvider(mp))
		db := healthtest.NewCheck()
		mustRegister(t, r, "db", db, health.WithTimeout(time.Second))
		r.Start(context.Background())
		synctest.Wait()
		db.Fail(nil)
		time.Sleep(health.DefaultInterval)
		synctest.Wait()
		db.Hang(false)
		time.Sleep(health.DefaultInterval + time.Second)
		synctest.Wait()

		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		found := map[string]metricdata.Metrics{}
		for _, sm := range rm.ScopeMetrics {
			if sm.Scope.Name != "github.com/firebreak-go/firebreak/health" {
				t.Errorf("scope %q", sm.Scope.Name)
			}
			for _, m := range sm.Metrics {
				found[m.Name] = m
			}
		}
		status, ok := found["firebreak.health.check.status"].Data.(metricdata.Gauge[int64])
		if !ok {
			t.Fatalf("no status gauge: %v", found)
		}
		values := map[string]int64{}
		for _, dp := range status.DataPoints {
			c, _ := dp.Attributes.Value(attribute.Key("health.check"))
			s, _ := dp.Attributes.Value(attribute.Key("health.status"))
			values[c.AsString()+"/"+s.AsString()] = dp.Value
		}
		if values["db/down"] != 1 || values["db/up"] != 0 || values["db/unknown"] != 0 || values["db/degraded"] != 0 {
			t.Errorf("status gauge = %v", values)
		}
		runs, ok := found["firebreak.health.check.runs"].Data.(metricdata.Sum[int64])
		if !ok {
			t.Fatal("no runs counter")
		}
		byResult := map[string]int64{}
		for _, dp := range runs.DataPoints {
			res, _ := dp.Attributes.Value(attribute.Key("health.result"))
			byResult[res.AsString()] = dp.Value
		}
		if byResult["pass"] != 1 || byResult["fail"] != 1 || byResult["timeout"] != 1 {
			t.Errorf("runs by result = %v", byResult)
		}
		dur, ok := found["firebreak.health.check.duration"].Data.(metricdata.Histogram[float64])
		if !ok || found["firebreak.health.check.duration"].Unit != "s" || len(dur.DataPoints) != 1 || dur.DataPoints[0].Count != 3 {
			t.Errorf("duration histogram = %+v", found["firebreak.health.check.duration"])
		}
		db.Release()
		r.Close(context.Background())
	})
}

func TestInspectHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		db := healthtest.NewCheck()
		db.Fail(errors.New("too many connections"))
		mustRegister(t, r, "db", db)
		h := r.InspectHandler()
		if got := get(h, "/debug/inspect", false); got.code != 401 || got.header.Get("WWW-Authenticate") == "" || strings.Contains(got.body, "too many") {
			t.Fatalf("unauthorised = %d %q", got.code, got.body)
		}
		if db.Calls() != 0 {
			t.Fatal("an unauthorised request ran a check")
		}
		got := get(h, "/debug/inspect", true)
		if got.code != 200 || got.header.Get("Content-Type") != "text/markdown; charset=utf-8" || !strings.Contains(got.body, "| db | readiness | yes | down | unknown |") {
			t.Fatalf("markdown = %d %q", got.code, got.body)
		}
		got = get(h, "/debug/inspect?format=json", true)
		var in health.Inspection
		if err := json.Unmarshal([]byte(got.body), &in); err != nil || got.code != 200 || in.Checks[0].Error != "too many connections" || in.Status != health.StatusDown {
			t.Fatalf("json = %d %q %v", got.code, got.body, err)
		}
		if got := get(h, "/debug/inspect?format=xml", true); got.code != 400 {
			t.Fatalf("bad format = %d", got.code)
		}
		r.Close(context.Background())
		if got := get(h, "/debug/inspect", true); got.code != 503 {
			t.Fatalf("after Close = %d", got.code)
		}
	})
}

// TestInspectHandlerAnswersAsOpsAPI: the inspections ask the operations
// API's Authorizer for ActionRead and refuse as the operations API does:
// 401 with WWW-Authenticate: Bearer without credentials, 403 when the
// credentials are refused or the role may not read. A Viewer token reads.
func TestInspectHandlerAnswersAsOpsAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const viewer = "dashboard-token-0123456789"
		tokens, err := firebreak.BearerTokensWithRoles(map[string]firebreak.Grant{
			viewer: {Principal: "dashboard", Role: firebreak.Viewer},
		})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		auth := firebreak.AuthorizerFunc(func(req *http.Request, action string) (string, error) {
			actions = append(actions, action)
			if req.Header.Get("X-Suspended") != "" {
				return "", fmt.Errorf("%w: dashboard is suspended", firebreak.ErrForbidden)
			}
			return tokens.Authorize(req, action)
		})
		r := newRegistry(t, nil, health.WithAuthorizer(auth))
		mustRegister(t, r, "db", healthtest.NewCheck())
		h := r.InspectHandler()
		for _, tc := range []struct {
			name, authz, suspended string
			code                   int
			body, challenge        string
		}{
			{"no credentials", "", "", 401, `{"error":"credentialsrequired"}`, `Bearer realm="firebreak"`},
			{"wrong token", "Bearer not-the-token-0123456789", "", 403, `{"error":"notallowedtoread"}`, ""},
			{"forbidden", "Bearer " + viewer, "yes", 403, `{"error":"notallowed:dashboardissuspended"}`, ""},
			{"viewer", "Bearer " + viewer, "", 200, "", ""},
		} {
			req := httptest.NewRequest(http.MethodGet, "/debug/inspect?format=json", nil)
			if tc.authz != "" {
				req.Header.Set("Authorization", tc.authz)
			}
			if tc.suspended != "" {
				req.Header.Set("X-Suspended", tc.suspended)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := strings.Join(strings.Fields(rec.Body.String()), "")
			if rec.Code != tc.code || (tc.body != "" && body != tc.body) || rec.Header().Get("WWW-Authenticate") != tc.challenge {
				t.Errorf("%s: %d %q (WWW-Authenticate %q), want %d %q (%q)", tc.name, rec.Code, body,
					rec.Header().Get("WWW-Authenticate"), tc.code, tc.body, tc.challenge)
			}
		}
		for _, a := range actions {
			if a != firebreak.ActionRead {
				t.Errorf("asked for action %q, want read", a)
			}
		}
		// The probes themselves stay open to callers without credentials.
		r.Start(context.Background())
		defer r.Close(context.Background())
		req := httptest.NewRequest(http.MethodGet, "/readyz?verbose", nil)
		rec := httptest.NewRecorder()
		r.Handler().ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Errorf("/readyz?verbose without credentials = %d", rec.Code)
		}
	})
}
