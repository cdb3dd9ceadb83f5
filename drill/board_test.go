package drill_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/drill"
)

const opsToken = "ops-token-for-drill-tests"

func opsGet(t *testing.T, h http.Handler, path string, into any) int {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+opsToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code == http.StatusOK && into != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), into); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, rec.Body)
		}
	} else if into != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), into); err != nil {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
	}
	return rec.Code
}

func rootOps(t *testing.T, b *firebreak.Board) http.Handler {
	t.Helper()
	auth, err := firebreak.BearerTokens(map[string]string{opsToken: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := firebreak.OpsHandler(b, auth)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type incidentPage struct {
	Incidents []firebreak.Incident `json:"incidents"`
	Error     string               `json:"error"`
}

func ids(incs []firebreak.Incident) []string {
	var out []string
	for _, inc := range incs {
		out = append(out, inc.ID+"/"+inc.Drill)
	}
	return out
}

// The root ops API lists drill incidents only when asked (?drill=<id>,
// ?drill=*), and the board's counters count open drill incidents apart
// from the real ones.
func TestOpsAPIListsDrillIncidentsApart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(t, drill.Error(errors.New("payments: injected outage")))
		stop := s.traffic()
		defer stop()
		h := rootOps(t, s.board)
		time.Sleep(time.Minute)
		d, err := drill.New(s.board, liveSpec("gd-ops", drill.Percent(100), 20*time.Minute), []*drill.Injector{s.inject})
		if err != nil {
			t.Fatal(err)
		}
		defer closeDrill(t, d)
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute)

		var page incidentPage
		if code := opsGet(t, h, "/incidents", &page); code != 200 || len(page.Incidents) != 0 {
			t.Fatalf("GET /incidents during a drill: %d %q, want no real incident", code, ids(page.Incidents))
		}
		for _, q := range []string{"gd-ops", "*"} {
			page = incidentPage{}
			if code := opsGet(t, h, "/incidents?drill="+q, &page); code != 200 || len(page.Incidents) != 1 ||
				page.Incidents[0].Drill != "gd-ops" || page.Incidents[0].Severity != firebreak.Fatal {
				t.Fatalf("GET /incidents?drill=%s: %d %q, want the drill's fatal incident", q, code, ids(page.Incidents))
			}
		}
		page = incidentPage{}
		if code := opsGet(t, h, "/incidents?drill=gd-other", &page); code != 200 || len(page.Incidents) != 0 {
			t.Errorf("GET /incidents?drill=gd-other: %d %q, want none", code, ids(page.Incidents))
		}
		page = incidentPage{}
		if code := opsGet(t, h, "/incidents?drill=a%20b", &page); code != 400 || !strings.Contains(page.Error, "drill must be") {
			t.Errorf("GET /incidents?drill=a b: %d %q, want 400 naming drill", code, page.Error)
		}
		if st := s.board.Stats(); st.Open != 0 || st.OpenDrills != 1 {
			t.Errorf("stats during the drill: open %d, open drills %d; want 0 and 1", st.Open, st.OpenDrills)
		}
		var stats map[string]any
		opsGet(t, h, "/stats", &stats)
		if stats["open"] != 0.0 || stats["open_drills"] != 1.0 {
			t.Errorf("GET /stats: open %v, open_drills %v; want 0 and 1", stats["open"], stats["open_drills"])
		}

		// A real fault: the drill stops, the lists stay apart.
		s.idxDep.down.Store(true)
		time.Sleep(time.Minute)
		if d.State() != drill.StateAborted {
			t.Fatalf("state %s after a real fault, want aborted", d.State())
		}
		page = incidentPage{}
		opsGet(t, h, "/incidents", &page)
		if len(page.Incidents) != 1 || page.Incidents[0].Drill != "" {
			t.Errorf("GET /incidents: %q, want the one real incident", ids(page.Incidents))
		}
		page = incidentPage{}
		opsGet(t, h, "/incidents?drill=*", &page)
		if len(page.Incidents) != 1 || page.Incidents[0].Drill != "gd-ops" {
			t.Errorf("GET /incidents?drill=*: %q, want the drill's incident alone", ids(page.Incidents))
		}
		if st := s.board.Stats(); st.Open != 1 || st.OpenDrills != 1 {
			t.Errorf("stats: open %d, open drills %d; want 1 real and 1 drill", st.Open, st.OpenDrills)
		}
		s.idxDep.down.Store(false)
	})
}

// A real fault that people muted — a silence, a maintenance window — pages
// nobody and does not abort the drill; once the muting ends and the fault
// pages, the guard aborts it.
func TestMutedRealFaultDoesNotAbortDrill(t *testing.T) {
	for _, mute := range []string{"silence", "maintenance"} {
		t.Run(mute, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newService(t, drill.Error(errors.New("payments: injected")))
				stop := s.traffic()
				defer stop()
				time.Sleep(time.Minute)
				var unmute func() error
				switch mute {
				case "silence":
					m, err := firebreak.ParseMatchers(`{component="search"}`)
					if err != nil {
						t.Fatal(err)
					}
					id, err := s.board.Silence(firebreak.Silence{Matchers: m, EndsAt: time.Now().Add(2 * time.Hour), CreatedBy: "ana", Comment: "reindexing search"})
					if err != nil {
						t.Fatal(err)
					}
					unmute = func() error { return s.board.ExpireSilence(id, "ana") }
				case "maintenance":
					err := s.board.ScheduleMaintenance(firebreak.MaintenanceWindow{Name: "reindex", Components: []string{"search"},
						Start: time.Now(), End: time.Now().Add(2 * time.Hour), Reason: "reindexing search"}, "ana")
					if err != nil {
						t.Fatal(err)
					}
					unmute = func() error { return s.board.CancelMaintenance("reindex", "ana") }
				}
				d, err := drill.New(s.board, liveSpec("gd-mute", drill.Percent(20), time.Hour), []*drill.Injector{s.inject})
				if err != nil {
					t.Fatal(err)
				}
				defer closeDrill(t, d)
				if err := d.Start(context.Background()); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Minute)
				s.idxDep.down.Store(true) // the reindexing breaks search, as expected
				for s.realAt.Load() == 0 {
					time.Sleep(100 * time.Millisecond)
				}
				time.Sleep(5 * time.Minute)
				synctest.Wait()
				if d.State() != drill.StateRunning || !s.inject.Armed() {
					t.Fatalf("5 min after a %s real fault: state %s (%s), armed %v; want the drill running", mute, d.State(), d.Status().AbortReason, s.inject.Armed())
				}
				if p := s.pager.all(); len(p) != 0 {
					t.Fatalf("the pager heard of the muted fault: %d notifications (%s)", len(p), p[0].Incident.Title)
				}
				real := s.board.List(firebreak.Filter{})
				if len(real) != 1 || !slices.Contains(real[0].Components, "search") {
					t.Fatalf("the muted fault should be recorded as one real incident: %q", ids(real))
				}

				// The muting ends while search is still down: it pages, and
				// the drill stops.
				if err := unmute(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Minute)
				synctest.Wait()
				st := d.Status()
				if st.State != drill.StateAborted || s.inject.Armed() || !strings.Contains(st.AbortReason, "real incident "+real[0].ID+" announced") {
					t.Fatalf("after the %s ended: state %s, armed %v, reason %q; want aborted for %s", mute, st.State, s.inject.Armed(), st.AbortReason, real[0].ID)
				}
				if len(s.pager.all()) == 0 {
					t.Error("the unmuted real fault paged nobody")
				}
				s.idxDep.down.Store(false)
			})
		})
	}
}

// A drill's incidents are marked in their reports (JSON and Markdown), and
// the archive keeps them out of the real history unless asked.
func TestDrillReportsAndArchiveAreMarked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		arch, err := firebreak.DirArchive(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		s := newService(t, drill.Error(errors.New("payments: injected outage")), firebreak.WithArchive(arch))
		stop := s.traffic()
		defer stop()
		h := rootOps(t, s.board)
		d, err := drill.New(s.board, liveSpec("gd-arch", drill.Percent(100), 5*time.Minute), []*drill.Injector{s.inject})
		if err != nil {
			t.Fatal(err)
		}
		defer closeDrill(t, d)
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-d.Done()
		time.Sleep(30 * time.Minute) // recovery and resolution
		drillIncs := s.board.List(firebreak.Filter{Drill: "gd-arch", States: []firebreak.State{firebreak.Resolved}})
		if len(drillIncs) != 1 {
			t.Fatalf("resolved drill incidents: %q", ids(s.board.List(firebreak.Filter{Drill: "*"})))
		}
		drillID := drillIncs[0].ID

		// A real incident after the drill, resolved and closed too.
		s.idxDep.down.Store(true)
		time.Sleep(2 * time.Minute)
		s.idxDep.down.Store(false)
		time.Sleep(30 * time.Minute)
		realIncs := s.board.List(firebreak.Filter{States: []firebreak.State{firebreak.Resolved}})
		if len(realIncs) != 1 {
			t.Fatalf("resolved real incidents: %q", ids(s.board.List(firebreak.Filter{})))
		}
		realID := realIncs[0].ID

		for _, id := range []string{drillID, realID} {
			rep, err := s.board.CloseWith(id, "ana", firebreak.ReportInput{RootCause: "see the timeline"})
			if err != nil {
				t.Fatal(err)
			}
			md := rep.Markdown()
			raw, _ := json.Marshal(rep)
			isDrill := id == drillID
			if got := strings.Contains(md, "Drill: gd-arch"); got != isDrill {
				t.Errorf("%s: markdown has the Drill line: %v, want %v:\n%s", id, got, isDrill, md)
			}
			if got := strings.Contains(string(raw), `"drill":"gd-arch"`); got != isDrill {
				t.Errorf("%s: JSON has drill: %v, want %v: %s", id, got, isDrill, raw)
			}
			if got := strings.HasPrefix(rep.Title, "[DRILL] "); got != isDrill {
				t.Errorf("%s: title %q", id, rep.Title)
			}
		}
		synctest.Wait() // the archive stores on its own goroutine

		entries, err := arch.List(context.Background(), 0)
		if err != nil || len(entries) != 2 {
			t.Fatalf("archive: %v, %+v", err, entries)
		}
		for _, e := range entries {
			if want := map[bool]string{true: "gd-arch", false: ""}[e.ID == drillID]; e.Drill != want {
				t.Errorf("archive entry %s: drill %q, want %q", e.ID, e.Drill, want)
			}
		}
		var list struct {
			Incidents []firebreak.ArchiveEntry `json:"incidents"`
		}
		for q, want := range map[string]string{"": realID, "?drill=*": drillID, "?drill=gd-arch": drillID} {
			list.Incidents = nil
			if code := opsGet(t, h, "/archive"+q, &list); code != 200 || len(list.Incidents) != 1 || list.Incidents[0].ID != want {
				t.Errorf("GET /archive%s: %d %+v, want %s alone", q, code, list.Incidents, want)
			}
		}
		var e incidentPage
		if code := opsGet(t, h, "/archive?drill=%2F..", &e); code != 400 {
			t.Errorf("GET /archive?drill=/..: %d, want 400", code)
		}
		if st := s.board.PublicStatus(); st.Status != firebreak.StatusOperational {
			t.Errorf("public status %q", st.Status)
		}
	})
}

// An abort before anything was detected leaves no open drill incident: the
// abort's record is resolved at once and stays on the board.
func TestAbortBeforeDetectionLeavesNothingOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(t, drill.Error(errors.New("payments: injected")))
		stop := s.traffic()
		defer stop()
		d, err := drill.New(s.board, liveSpec("gd-early", drill.Percent(1), 30*time.Minute), []*drill.Injector{s.inject})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		if err := d.Abort("ana", "wrong day"); err != nil {
			t.Fatal(err)
		}
		<-d.Done()
		if open := s.board.List(firebreak.Filter{Drill: "*", OpenOnly: true}); len(open) != 0 {
			t.Fatalf("open drill incidents after an early abort: %+v", open)
		}
		if st := s.board.Stats(); st.OpenDrills != 0 || st.Open != 0 {
			t.Errorf("stats: open %d, open drills %d", st.Open, st.OpenDrills)
		}
		all := s.board.List(firebreak.Filter{Drill: "gd-early"})
		if len(all) != 1 || all[0].State != firebreak.Resolved || all[0].Alerts[0].Kind != firebreak.KindDrillAborted {
			t.Fatalf("the abort's record: %+v, want one resolved incident holding drill_aborted", all)
		}
		rep := d.Report(drill.ReportInput{})
		if len(rep.Incidents) != 0 {
			t.Errorf("the report counts the abort's record as a drill incident: %q", rep.Incidents)
		}
		closeDrill(t, d)
		if len(s.team.all())+len(s.pager.all())+len(s.audit.all()) != 0 {
			t.Error("an early abort notified somebody")
		}
	})
}

// A drill's fatal alert never inhibits a real alert in the same fault
// domain: the real fault pages as it would without the drill.
func TestDrillAlertDoesNotInhibitRealOnes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newService(t, drill.Error(errors.New("payments: injected outage")))
		stop := s.traffic()
		defer stop()
		d, err := drill.New(s.board, liveSpec("gd-inh", drill.Percent(100), 30*time.Minute), []*drill.Injector{s.inject})
		if err != nil {
			t.Fatal(err)
		}
		defer closeDrill(t, d)
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute)
		if incs := s.board.List(firebreak.Filter{Drill: "gd-inh"}); len(incs) != 1 || incs[0].Severity != firebreak.Fatal {
			t.Fatalf("drill incidents %q, want one fatal", ids(incs))
		}
		// A real, general signal in the drill's fault domain (payments),
		// from a component outside the drill's scope.
		s.board.Report(firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "refunds", Dependency: "payments",
			Tier: firebreak.Standard, Firing: true, Summary: "refunds: payments health check failed"})
		time.Sleep(time.Minute)
		real := s.board.List(firebreak.Filter{})
		if len(real) != 1 || real[0].Severity != firebreak.General || real[0].NotifiedAt.IsZero() {
			t.Fatalf("the real signal: %+v, want a general incident, announced", real)
		}
		if wait := real[0].NotifiedAt.Sub(real[0].DetectedAt); wait > 30*time.Second {
			t.Errorf("the real incident was announced %s after detection, want the plan's 30 s group wait", wait)
		}
		for _, e := range real[0].Timeline {
			if strings.Contains(e.Note, "inhibited") {
				t.Errorf("the drill's alert inhibited the real one: %s", e.Note)
			}
		}
		if d.State() != drill.StateAborted {
			t.Errorf("state %s, want aborted by the real signal", d.State())
		}
	})
}
