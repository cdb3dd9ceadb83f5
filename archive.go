package firebreak

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// An Archive keeps closed incidents and their reports durably, so that they
// survive restarts and can be looked up after the Board has forgotten them
// ([WithRetention]). The Board calls Store from its own goroutine, never
// under its lock; Load and List from [Board.Get], [Board.IncidentReport] and
// the operations API. Implementations must be safe for concurrent use.
type Archive interface {
	// Store writes a closed incident and its filed report. Storing the same
	// incident again replaces it.
	Store(ctx context.Context, inc Incident, rep *Report) error
	// Load returns the incident with the given ID and its report; an error
	// wrapping [ErrNotFound] if there is none.
	Load(ctx context.Context, id string) (Incident, *Report, error)
	// List returns up to limit archived incidents (all for limit <= 0),
	// most recently closed first.
	List(ctx context.Context, limit int) ([]ArchiveEntry, error)
}

// ArchiveEntry is one line of an archive's list.
type ArchiveEntry struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Service     string     `json:"service"`
	Env         string     `json:"env,omitempty"`
	Severity    Severity   `json:"severity"`
	MaxSeverity Severity   `json:"max_severity"`
	Category    Category   `json:"category,omitempty"`
	Group       string     `json:"group,omitempty"`
	DetectedAt  time.Time  `json:"detected_at"`
	ClosedAt    time.Time  `json:"closed_at"`
	Report      ReportKind `json:"report,omitempty"`
	// Drill is the drill's ID for a drill incident, "" for a real one: a
	// history of real incidents leaves out the entries that have one.
	Drill string `json:"drill,omitempty"`
}

// ErrArchiveConflict is returned, wrapped, by [FileArchive.Store] when the
// archive already holds a different incident (detected at another time)
// under the same ID; the archived one is kept.
var ErrArchiveConflict = errors.New("firebreak: archive already holds another incident with this ID")

// FileArchive is an [Archive] in a directory: <id>.json holds the incident
// and its report, <id>.md the report in Markdown. Each file is written
// atomically (a temporary file in the same directory, synced, then renamed
// over the old one), so a crash leaves the old file or the new one, never a
// half-written one. It is safe for concurrent use.
type FileArchive struct {
	dir string
}

var _ Archive = (*FileArchive)(nil)

// DirArchive returns an archive in dir, creating the directory (mode 0750)
// if needed.
func DirArchive(dir string) (*FileArchive, error) {
	if strings.TrimSpace(dir) == "" {
		return nil, errors.New("firebreak: DirArchive: dir is required")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("firebreak: DirArchive: %w", err)
	}
	return &FileArchive{dir: dir}, nil
}

// Dir returns the archive's directory.
func (a *FileArchive) Dir() string { return a.dir }

// archiveRecord is the JSON file of one incident.
type archiveRecord struct {
	Incident Incident `json:"incident"` // without its Report, kept apart
	Report   *Report  `json:"report"`
}

// validArchiveID reports whether id can name a file: 1 to 128 letters,
// digits, '.', '_' or '-', not starting with '.'.
func validArchiveID(id string) bool {
	if id == "" || len(id) > 128 || id[0] == '.' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Store writes <id>.json, then <id>.md.
func (a *FileArchive) Store(ctx context.Context, inc Incident, rep *Report) error {
	if !validArchiveID(inc.ID) {
		return fmt.Errorf("firebreak: archive: incident ID %q cannot name a file", inc.ID)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if old, _, err := a.Load(ctx, inc.ID); err == nil && !old.DetectedAt.Equal(inc.DetectedAt) {
		return fmt.Errorf("%w: %s (detected %s, not %s)", ErrArchiveConflict, inc.ID,
			old.DetectedAt.UTC().Format(time.RFC3339), inc.DetectedAt.UTC().Format(time.RFC3339))
	}
	inc.Report = nil
	data, err := json.MarshalIndent(archiveRecord{Incident: inc, Report: rep}, "", "  ")
	if err != nil {
		return fmt.Errorf("firebreak: archive: encoding %s: %w", inc.ID, err)
	}
	if err := a.write(inc.ID+".json", append(data, '\n')); err != nil {
		return err
	}
	if rep != nil {
		if err := a.write(inc.ID+".md", []byte(rep.Markdown())); err != nil {
			return err
		}
	}
	return nil
}

// write replaces dir/name atomically.
func (a *FileArchive) write(name string, data []byte) (err error) {
	f, err := os.CreateTemp(a.dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("firebreak: archive: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("firebreak: archive: writing %s: %w", name, err)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o640); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), filepath.Join(a.dir, name)); err != nil {
		return err
	}
	if d, derr := os.Open(a.dir); derr == nil { // make the rename durable where the system allows
		d.Sync()
		d.Close()
	}
	return nil
}

// Load reads <id>.json.
func (a *FileArchive) Load(ctx context.Context, id string) (Incident, *Report, error) {
	if !validArchiveID(id) {
		return Incident{}, nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if err := ctx.Err(); err != nil {
		return Incident{}, nil, err
	}
	rec, err := a.read(id + ".json")
	if errors.Is(err, fs.ErrNotExist) {
		return Incident{}, nil, fmt.Errorf("%w: %q is not archived", ErrNotFound, id)
	}
	if err != nil {
		return Incident{}, nil, err
	}
	rec.Incident.Report = rec.Report.clone()
	return rec.Incident, rec.Report, nil
}

func (a *FileArchive) read(name string) (archiveRecord, error) {
	var rec archiveRecord
	data, err := os.ReadFile(filepath.Join(a.dir, name))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, fmt.Errorf("firebreak: archive: %s: %w", name, err)
	}
	return rec, nil
}

// List reads every <id>.json; a file that cannot be read is an error.
func (a *FileArchive) List(ctx context.Context, limit int) ([]ArchiveEntry, error) {
	ids, err := a.ids()
	if err != nil {
		return nil, err
	}
	out := make([]ArchiveEntry, 0, len(ids))
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, err := a.read(id + ".json")
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		inc := &rec.Incident
		e := ArchiveEntry{ID: inc.ID, Title: inc.Title, Service: inc.Service, Env: inc.Env, Severity: inc.Severity,
			MaxSeverity: inc.MaxSeverity, Category: inc.Category, Group: inc.Group, DetectedAt: inc.DetectedAt, ClosedAt: inc.ClosedAt,
			Drill: inc.Drill}
		if rec.Report != nil {
			e.Report = rec.Report.Kind
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(x, y ArchiveEntry) int {
		return cmp.Or(y.ClosedAt.Compare(x.ClosedAt), strings.Compare(y.ID, x.ID))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ids returns the IDs of the archived incidents, from the file names alone.
func (a *FileArchive) ids() ([]string, error) {
	ents, err := os.ReadDir(a.dir)
	if err != nil {
		return nil, fmt.Errorf("firebreak: archive: %w", err)
	}
	var ids []string
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok && e.Type().IsRegular() && validArchiveID(id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// WithArchive stores every incident in a when it is closed ([Board.CloseWith]),
// and makes [Board.Get] and [Board.IncidentReport] look there for an
// incident the board no longer holds. The board stores off its lock, from a
// goroutine of its own with a bounded queue like a notifier's ([WithQueueSize]);
// a failed store is retried twice (after 1s and 2s), then logged and counted
// in [Board.ArchiveStats] — never lost silently. NewBoard reads the
// archive's IDs so that new incident IDs continue after the archived ones
// and never overwrite them. Default: no archive.
func WithArchive(a Archive) BoardOption {
	return boardOptionFunc(func(c *boardConfig) {
		if a == nil {
			a = nilArchive{}
		}
		c.archive = a
	})
}

// nilArchive marks WithArchive(nil), an error.
type nilArchive struct{ Archive }

// ArchiveStats counts what the board's archive stored.
type ArchiveStats struct {
	Stored  int64 `json:"stored"`  // closed incidents stored
	Failed  int64 `json:"failed"`  // closed incidents the archive refused, after retries (logged)
	Dropped int64 `json:"dropped"` // closed incidents never handed to the archive: its queue was full, or the board closed first
	Pending int   `json:"pending"` // closed incidents waiting to be stored
}

// ArchiveStats returns the archive's counters; zero without [WithArchive].
func (b *Board) ArchiveStats() ArchiveStats {
	ar := b.archive
	if ar == nil {
		return ArchiveStats{}
	}
	var qs BoardStats
	ar.q.addStats(&qs)
	return ArchiveStats{Stored: ar.stored.Load(), Failed: ar.failed.Load(), Dropped: qs.NotifyDropped, Pending: qs.NotifyQueueLen}
}

// archiveRetries are the waits before each retry of a failed store.
var archiveRetries = []time.Duration{time.Second, 2 * time.Second}

// archiver is the Board's side of an Archive: a notifier of EventClosed,
// with its own queue.
type archiver struct {
	a              Archive
	q              *queue
	logger         *slog.Logger
	stored, failed atomic.Int64
}

// useArchive sets up the archive for NewBoard and continues the incident IDs
// after the archived ones.
func (b *Board) useArchive(a Archive, size int) error {
	if a == nil {
		return nil
	}
	if _, ok := a.(nilArchive); ok {
		return errors.New("firebreak: WithArchive: archive is nil")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ids []string
	if fa, ok := a.(*FileArchive); ok {
		var err error
		if ids, err = fa.ids(); err != nil {
			return fmt.Errorf("firebreak: WithArchive: %w", err)
		}
	} else {
		list, err := a.List(ctx, 0)
		if err != nil {
			return fmt.Errorf("firebreak: WithArchive: listing the archive: %w", err)
		}
		for _, e := range list {
			ids = append(ids, e.ID)
		}
	}
	for _, id := range ids {
		if n, ok := strings.CutPrefix(id, "INC-"); ok {
			if seq, err := strconv.Atoi(n); err == nil && seq > b.eng.seq {
				b.eng.seq = seq
			}
		}
	}
	ar := &archiver{a: a, logger: b.logger}
	ar.q = newQueue(ar, size)
	b.archive = ar
	return nil
}

func (ar *archiver) start(logger *slog.Logger) {
	if ar != nil {
		ar.q.start(logger)
	}
}

// with returns qs and the archive's queue, for Close.
func (ar *archiver) with(qs []*queue) []*queue {
	if ar == nil {
		return qs
	}
	return append(slices.Clip(qs), ar.q)
}

// push hands a closed incident's snapshot to the archive's queue; it never
// blocks. v is nil when there is nothing to store.
func (ar *archiver) push(v *snapshot) {
	if ar == nil || v == nil {
		return
	}
	ar.q.push(Notification{Event: EventClosed, At: v.inc.ClosedAt, Incident: v.inc, view: v})
}

// Notify stores a closed incident, retrying a failure twice. The failure is
// logged and counted here, so the queue is told of none.
func (ar *archiver) Notify(ctx context.Context, n Notification) error {
	if n.Event != EventClosed {
		return nil
	}
	var err error
	for i := 0; ; i++ {
		if err = ar.store(ctx, n.Incident); err == nil {
			ar.stored.Add(1)
			return nil
		}
		if i == len(archiveRetries) || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(archiveRetries[i])
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	ar.failed.Add(1)
	safeLog(func() {
		ar.logger.Error("firebreak: closed incident not archived", "incident", n.Incident.ID, "error", err)
	})
	return nil
}

// store calls the user's archive, turning a panic into an error.
func (ar *archiver) store(ctx context.Context, inc Incident) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("archive panicked: %v", r)
		}
	}()
	return ar.a.Store(ctx, inc, inc.Report)
}

// archived looks id up in the archive, for Get and IncidentReport.
func (b *Board) archived(id string) (Incident, *Report, bool) {
	if b.archive == nil {
		return Incident{}, nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	inc, rep, err := b.archive.load(ctx, id)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			safeLog(func() { b.logger.Warn("firebreak: archive lookup failed", "incident", id, "error", err) })
		}
		return Incident{}, nil, false
	}
	return inc, rep, true
}

func (ar *archiver) load(ctx context.Context, id string) (inc Incident, rep *Report, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("firebreak: archive panicked: %v", r)
		}
	}()
	return ar.a.Load(ctx, id)
}

func (api *opsAPI) archiveList(w http.ResponseWriter, r *http.Request, _ string) {
	ar := api.b.archive
	if ar == nil {
		writeError(w, http.StatusNotFound, "no archive configured")
		return
	}
	limit := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			writeError(w, http.StatusBadRequest, "limit must be a whole number from 1 to 500")
			return
		}
		limit = n
	}
	drill := r.URL.Query().Get("drill") // as GET /incidents: real incidents unless asked (drill.go)
	if drill != "" && drill != AnyDrill && !validDrillID(drill) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("drill must be a drill's ID (letters, digits, '-', '_', '.') or %q", AnyDrill))
		return
	}
	list, err := ar.a.List(r.Context(), 0)
	if err != nil {
		writeError(w, http.StatusInternalServerError, strings.TrimPrefix(err.Error(), "firebreak: "))
		return
	}
	list = slices.DeleteFunc(list, func(e ArchiveEntry) bool { return !matchDrill(drill, e.Drill) })
	if len(list) > limit {
		list = list[:limit]
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": list})
}

func (api *opsAPI) archiveGet(w http.ResponseWriter, r *http.Request, _ string) {
	ar := api.b.archive
	if ar == nil {
		writeError(w, http.StatusNotFound, "no archive configured")
		return
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "markdown" && format != "md" {
		writeError(w, http.StatusBadRequest, "format must be json or markdown")
		return
	}
	inc, rep, err := ar.load(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "incident not archived")
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, strings.TrimPrefix(err.Error(), "firebreak: "))
		return
	}
	if format == "markdown" || format == "md" {
		if rep == nil {
			writeError(w, http.StatusNotFound, "no report archived")
			return
		}
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		w.Write([]byte(rep.Markdown()))
		return
	}
	inc.Report = nil
	writeJSON(w, http.StatusOK, archiveRecord{Incident: inc, Report: rep})
}
