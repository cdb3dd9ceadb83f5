package firebreak_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// runIncident plays a Severe outage through b — a breaker open for ten
// minutes, acknowledged, mitigated, resolved — and closes it.
func runIncident(t *testing.T, b *firebreak.Board, dep string) (string, *firebreak.Report) {
	t.Helper()
	sig := signalFor(firebreak.Severe)
	sig.Dependency = dep
	traffic(b, sig, time.Second, 3*time.Minute)
	var id string
	for _, inc := range b.List(firebreak.Filter{OpenOnly: true}) {
		if inc.FaultDomain == dep {
			id = inc.ID
		}
	}
	if id == "" {
		t.Fatalf("no open incident for %s", dep)
	}
	for _, err := range []error{b.Acknowledge(id, "lead"), b.Mitigate(id, "lead", "failed over to the replica")} {
		if err != nil {
			t.Fatal(err)
		}
	}
	traffic(b, sig, time.Second, 7*time.Minute)
	if err := b.Resolve(id, "lead", "primary back"); err != nil {
		t.Fatal(err)
	}
	rep, err := b.CloseWith(id, "lead", firebreak.ReportInput{RootCause: "disk full on " + dep})
	if err != nil {
		t.Fatal(err)
	}
	return id, rep
}

func dirArchive(t *testing.T, dir string) *firebreak.FileArchive {
	t.Helper()
	a, err := firebreak.DirArchive(dir)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A closed incident is written as <id>.json and <id>.md; a new Board on the
// same directory finds it, and numbers its own incidents after it.
func TestArchiveSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	var id string
	var filed *firebreak.Report
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithArchive(dirArchive(t, dir)))
		id, filed = runIncident(t, b, "payments-db")
		synctest.Wait()
		if st := b.ArchiveStats(); st.Stored != 1 || st.Failed != 0 || st.Pending != 0 {
			t.Fatalf("ArchiveStats = %+v, want 1 stored", st)
		}
	})
	md, err := os.ReadFile(filepath.Join(dir, id+".md"))
	if err != nil {
		t.Fatal(err)
	}
	if string(md) != filed.Markdown() {
		t.Fatalf("%s.md is not the filed report:\n%s", id, md)
	}
	data, err := os.ReadFile(filepath.Join(dir, id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Incident firebreak.Incident `json:"incident"`
		Report   *firebreak.Report  `json:"report"`
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Incident.ID != id || rec.Incident.State != firebreak.Closed || rec.Report == nil || rec.Report.Markdown() != filed.Markdown() {
		t.Fatalf("%s.json does not round-trip: incident %s %s", id, rec.Incident.ID, rec.Incident.State)
	}
	if len(rec.Incident.Alerts) == 0 || len(rec.Incident.Timeline) == 0 {
		t.Fatalf("archived incident lacks its alerts or timeline")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("archive holds %d files, want 2 (no temporary files left)", len(ents))
	}

	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithArchive(dirArchive(t, dir)))
		inc, err := b.Get(id)
		if err != nil {
			t.Fatalf("Get after restart: %v", err)
		}
		if inc.State != firebreak.Closed || inc.Report == nil || inc.Category != firebreak.CategorySoftware {
			t.Fatalf("Get after restart: %s, report %v, category %q", inc.State, inc.Report != nil, inc.Category)
		}
		rep, err := b.IncidentReport(id)
		if err != nil || rep.Markdown() != filed.Markdown() {
			t.Fatalf("IncidentReport after restart: %v", err)
		}
		// The next incident is not INC-0001 again: it must not overwrite.
		id2, _ := runIncident(t, b, "ledger-db")
		synctest.Wait()
		if id2 == id {
			t.Fatalf("new board reused ID %s", id)
		}
		if st := b.ArchiveStats(); st.Stored != 1 || st.Failed != 0 {
			t.Fatalf("ArchiveStats = %+v", st)
		}
		if inc, _ := b.Get(id); inc.Report == nil || inc.Report.RootCause != "disk full on payments-db" {
			t.Fatalf("first incident overwritten")
		}
	})
}

// An incident the board has forgotten (retention) is read from the archive.
func TestArchiveBackfillsEvicted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t, firebreak.WithArchive(dirArchive(t, t.TempDir())), firebreak.WithRetention(1))
		id, _ := runIncident(t, b, "payments-db")
		runIncident(t, b, "ledger-db")
		synctest.Wait()
		if got := len(b.List(firebreak.Filter{})); got != 1 {
			t.Fatalf("board holds %d incidents, want 1 (retention)", got)
		}
		inc, err := b.Get(id)
		if err != nil || inc.ID != id || inc.State != firebreak.Closed {
			t.Fatalf("Get(%s) of an evicted incident: %+v, %v", id, inc.State, err)
		}
		if _, err := b.Get("INC-0099"); !errors.Is(err, firebreak.ErrNotFound) {
			t.Fatalf("Get of an unknown incident: %v", err)
		}
	})
}

// A recorded-only incident is never announced, so no notifier hears it
// close; the archive still gets it.
func TestArchiveStoresUnannounced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		b, s := newBoard(t, firebreak.WithArchive(dirArchive(t, dir)))
		aux := firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "thumbnails", Tier: firebreak.Auxiliary, Firing: true}
		traffic(b, aux, 10*time.Second, 5*time.Minute)
		id := only(t, b).ID
		if err := b.Resolve(id, "engineer", "cache cleared"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.CloseWith(id, "engineer", firebreak.ReportInput{}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := len(s.all()); n != 0 {
			t.Fatalf("a None incident notified %d times", n)
		}
		if _, err := os.Stat(filepath.Join(dir, id+".json")); err != nil {
			t.Fatalf("not archived: %v", err)
		}
	})
}

type failingArchive struct {
	firebreak.Archive
	mu    sync.Mutex
	tries int
}

func (f *failingArchive) Store(context.Context, firebreak.Incident, *firebreak.Report) error {
	f.mu.Lock()
	f.tries++
	f.mu.Unlock()
	return errors.New("disk on fire")
}

func (f *failingArchive) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tries
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A store that keeps failing is retried, then counted and logged.
func TestArchiveFailureCountedAndLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log syncBuffer
		fa := &failingArchive{Archive: dirArchive(t, t.TempDir())}
		b, _ := newBoard(t, firebreak.WithArchive(fa), firebreak.WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
		id, _ := runIncident(t, b, "payments-db")
		time.Sleep(2 * time.Second) // the first retry
		synctest.Wait()
		if st := b.ArchiveStats(); st.Failed != 0 || fa.count() != 2 {
			t.Fatalf("before the last retry: %+v after %d tries, want 0 failed after 2", st, fa.count())
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		st := b.ArchiveStats()
		if st.Failed != 1 || st.Stored != 0 || fa.count() != 3 {
			t.Fatalf("ArchiveStats = %+v after %d tries, want 1 failed after 3", st, fa.count())
		}
		if l := log.String(); !strings.Contains(l, "closed incident not archived") || !strings.Contains(l, id) || !strings.Contains(l, "disk on fire") {
			t.Fatalf("failure not logged: %s", l)
		}
	})
}

func TestDirArchive(t *testing.T) {
	ctx := context.Background()
	a := dirArchive(t, t.TempDir())
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	inc := firebreak.Incident{ID: "INC-0001", Title: "t", DetectedAt: at, ClosedAt: at.Add(time.Hour), State: firebreak.Closed}
	if err := a.Store(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Store(ctx, inc, &firebreak.Report{IncidentID: "INC-0001"}); err != nil {
		t.Fatalf("storing the same incident again: %v", err)
	}
	other := inc
	other.DetectedAt = at.Add(24 * time.Hour)
	if err := a.Store(ctx, other, nil); !errors.Is(err, firebreak.ErrArchiveConflict) {
		t.Fatalf("another incident under the same ID: %v, want ErrArchiveConflict", err)
	}
	for _, id := range []string{"../etc/passwd", ".hidden", "", "a/b"} {
		if _, _, err := a.Load(ctx, id); !errors.Is(err, firebreak.ErrNotFound) {
			t.Errorf("Load(%q) = %v, want ErrNotFound", id, err)
		}
		if err := a.Store(ctx, firebreak.Incident{ID: id}, nil); err == nil {
			t.Errorf("Store(%q) accepted", id)
		}
	}
	later := firebreak.Incident{ID: "INC-0002", DetectedAt: at, ClosedAt: at.Add(2 * time.Hour)}
	if err := a.Store(ctx, later, nil); err != nil {
		t.Fatal(err)
	}
	list, err := a.List(ctx, 0)
	if err != nil || len(list) != 2 || list[0].ID != "INC-0002" || list[1].Report != "" {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if list, _ := a.List(ctx, 1); len(list) != 1 {
		t.Fatalf("List(1) = %d entries", len(list))
	}
	if _, err := firebreak.DirArchive(""); err == nil {
		t.Fatal("DirArchive(\"\") accepted")
	}
	if _, err := firebreak.NewBoard("svc", firebreak.WithArchive(nil)); err == nil || !strings.Contains(err.Error(), "WithArchive") {
		t.Fatalf("WithArchive(nil): %v", err)
	}
}
