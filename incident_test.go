package firebreak_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// One NaN in an evidence metric made every GET /incidents answer 500, and
// acknowledge answer 500 after applying the ack. Non-finite metrics are now
// refused where they enter, with the metric named, and an incident's JSON
// encoding cannot fail on a number.
func TestNonFiniteEvidenceKeepsOpsAPIWorking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		for range 60 { // a minute of burn reports, one a second
			b.Report(burn(math.Inf(1), 1))
			time.Sleep(time.Second)
		}
		id := only(t, b).ID
		for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			err := b.AddEvidence(id, "alice", firebreak.Evidence{Kind: "metrics", Metrics: map[string]float64{"p99_seconds": 0.2, "error_ratio": bad}})
			if err == nil || !strings.Contains(err.Error(), `metrics["error_ratio"]`) {
				t.Fatalf("AddEvidence with %v: %v", bad, err)
			}
		}
		if err := b.AddEvidence(id, "alice", firebreak.Evidence{Kind: "metrics", Metrics: map[string]float64{"p99_seconds": 0.2}}); err != nil {
			t.Fatal(err)
		}
		h := opsServer(t, b)
		for _, step := range []struct{ method, path string }{
			{"GET", "/incidents"}, {"GET", "/incidents/" + id}, {"POST", "/incidents/" + id + "/acknowledge"}, {"GET", "/incidents/" + id + "/report"},
		} {
			rec := do(h, step.method, step.path, token, "")
			if rec.Code != 200 || !json.Valid(rec.Body.Bytes()) {
				t.Errorf("%s %s: %d %s", step.method, step.path, rec.Code, rec.Body.String())
			}
		}
	})
}

// Whatever reaches an Incident or a Report (a Go caller building one, a
// sensor the board did not sanitise), its JSON encoding does not fail.
func TestIncidentAndReportJSONNeverFailOnANumber(t *testing.T) {
	inc := firebreak.Incident{ID: "INC-1", Severity: firebreak.Severe, MaxSeverity: firebreak.Severe,
		Alerts:   []firebreak.AlertRef{{Kind: firebreak.KindErrorBudgetBurn, Value: math.NaN(), Peak: math.Inf(1)}},
		Evidence: []firebreak.Evidence{{Kind: "metrics", Metrics: map[string]float64{"x": math.NaN(), "y": 2}}}}
	data, err := json.Marshal(inc)
	if err != nil || !json.Valid(data) {
		t.Fatalf("incident: %v %s", err, data)
	}
	var back firebreak.Incident
	if err := json.Unmarshal(data, &back); err != nil || back.Evidence[0].Metrics["y"] != 2 || back.Alerts[0].Peak != math.MaxFloat64 {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	if !math.IsNaN(inc.Alerts[0].Value) {
		t.Fatal("encoding changed the incident it encoded")
	}
	inc.Report = firebreak.BuildReport(inc, firebreak.DefaultPlan(), firebreak.ReportInput{}, time.Now())
	if data, err := json.Marshal(inc); err != nil || !json.Valid(data) {
		t.Fatalf("incident with report: %v", err)
	}
}
