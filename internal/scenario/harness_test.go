package scenario

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/failover"
	"github.com/firebreak-go/firebreak/internal/race"
	"github.com/firebreak-go/firebreak/tracing"
)

// Traffic shapes. Under -race the suite runs lighter traffic and a shorter
// warm period; every guard (minimum calls, minimum requests) is still met.
var (
	rate = pick(1000, 200) // calls per second
	warm = pick(time.Hour, 10*time.Minute)
)

func pick[T any](normal, underRace T) T {
	if race.Enabled {
		return underRace
	}
	return normal
}

// recorder is a Notifier that keeps every notification.
type recorder struct {
	mu    sync.Mutex
	notes []firebreak.Notification
}

func (r *recorder) Notify(_ context.Context, n firebreak.Notification) error {
	r.mu.Lock()
	r.notes = append(r.notes, n)
	r.mu.Unlock()
	return nil
}

func (r *recorder) all() []firebreak.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.notes)
}

// pages are the notifications that ask a person to act: an announcement, an
// escalation, a reopening, a breach or a reminder.
func pages(ns []firebreak.Notification) []firebreak.Notification {
	var out []firebreak.Notification
	for _, n := range ns {
		switch n.Event {
		case firebreak.EventDetected, firebreak.EventEscalated, firebreak.EventReopened, firebreak.EventBreached, firebreak.EventRenotify:
			out = append(out, n)
		}
	}
	return out
}

// firstAt returns when a notification first told ops of an incident at sev
// or worse, and whether one did.
func (r *recorder) firstAt(sev firebreak.Severity) (time.Time, bool) {
	for _, n := range pages(r.all()) {
		if n.Event != firebreak.EventBreached && n.Event != firebreak.EventRenotify && n.Incident.Severity >= sev {
			return n.At, true
		}
	}
	return time.Time{}, false
}

// wantTold fails the test unless ops were told of an incident at sev or
// worse within `within` of onset, and logs when they were.
func (w *world) wantTold(sev firebreak.Severity, onset time.Time, within time.Duration) {
	w.t.Helper()
	at, ok := w.rec.firstAt(sev)
	if !ok {
		w.t.Fatalf("never told %s; worst told: %s", sev, w.rec.maxSeverity())
	}
	if got := at.Sub(onset); got > within {
		w.t.Fatalf("%s announced %v after onset, want within %v", sev, got, within)
	}
	w.t.Logf("%s announced %v after onset", sev, at.Sub(onset))
}

// maxSeverity returns the worst severity ops were told of.
func (r *recorder) maxSeverity() firebreak.Severity {
	worst := firebreak.None
	for _, n := range pages(r.all()) {
		worst = max(worst, n.Incident.Severity)
	}
	return worst
}

// world is one service in a synctest bubble: a Board with the default plan
// and a recording notifier. Everything it starts is closed by t.Cleanup,
// inside the bubble.
type world struct {
	t     *testing.T
	start time.Time
	board *firebreak.Board
	rec   *recorder
}

func newWorld(t *testing.T) *world {
	t.Helper()
	rec := &recorder{}
	b, err := firebreak.NewBoard("shop", firebreak.WithEnv("prod"), firebreak.WithNotifier(rec))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(context.Background()); err != nil {
			t.Errorf("Board.Close: %v", err)
		}
	})
	return &world{t: t, start: time.Now(), board: b, rec: rec}
}

// since is virtual time since the world began.
func (w *world) since(t time.Time) time.Duration { return t.Sub(w.start) }

// dep is a dependency whose behaviour the scenario changes over time.
type dep struct {
	mu      sync.Mutex
	errRate float64 // share of calls that fail
	hang    bool    // calls never answer; they return only when ctx is done
	latency time.Duration
	rng     *rand.Rand
}

var errDep = errors.New("dependency: connection refused")

func newDep() *dep { return &dep{rng: rand.New(rand.NewPCG(1, 2))} }

func (d *dep) set(errRate float64, hang bool) {
	d.mu.Lock()
	d.errRate, d.hang = errRate, hang
	d.mu.Unlock()
}

func (d *dep) call(ctx context.Context) (int, error) {
	d.mu.Lock()
	fail := d.errRate > 0 && d.rng.Float64() < d.errRate
	hang, lat := d.hang, d.latency
	d.mu.Unlock()
	if hang {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	if lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		}
	}
	if fail {
		return 0, errDep
	}
	return 1, nil
}

// service is a core component calling one dependency through the default
// pipeline: observe (99.9% availability SLO, workbook windows) → [fallback]
// → breaker (defaults) → [extra policies] → call.
type service struct {
	w        *world
	dep      *dep
	pipe     *firebreak.Pipeline[int]
	obs      *tracing.Observer[int]
	cb       *breaker.Breaker[int] // nil with serviceConfig.noBreaker
	calls    atomic.Int64
	failed   atomic.Int64
	rejected atomic.Int64 // refused by the breaker
	fellBack atomic.Int64
}

type serviceConfig struct {
	fallback  bool
	noBreaker bool // observe the SLO alone
	extra     []firebreak.Policy[int]
	standard  bool // a standard-tier component instead of a core one
}

func newService(w *world, d *dep, cfg serviceConfig) *service {
	t := w.t
	t.Helper()
	tier := firebreak.Core
	if cfg.standard {
		tier = firebreak.Standard
	}
	obs, err := tracing.New[int](tracing.WithSLO(tracing.SLO{Availability: 0.999}))
	if err != nil {
		t.Fatal(err)
	}
	s := &service{w: w, dep: d, obs: obs}
	policies := []firebreak.Policy[int]{obs}
	if !cfg.noBreaker {
		s.cb, err = breaker.New[int]()
		if err != nil {
			t.Fatal(err)
		}
		policies = append(policies, s.cb)
	}
	if cfg.fallback {
		fb, err := failover.NewFallback(func(ctx context.Context, err error) (int, error) {
			s.fellBack.Add(1)
			return -1, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		policies = append(policies, fb)
	}
	policies = append(policies, cfg.extra...)
	comp := firebreak.Component{Name: "checkout-api", Dependency: "payments", Tier: tier, Reporter: w.board}
	s.pipe, err = firebreak.NewPipeline(comp, policies)
	if err != nil {
		t.Fatal(err)
	}
	if err := obs.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { obs.Close(context.Background()) })
	return s
}

// one makes one call and counts its outcome.
func (s *service) one(ctx context.Context) {
	s.calls.Add(1)
	_, err := s.pipe.Execute(ctx, s.dep.call)
	switch {
	case err == nil:
	case errors.Is(err, breaker.ErrOpen):
		s.rejected.Add(1)
		s.failed.Add(1)
	default:
		s.failed.Add(1)
	}
}

// caller says how a caller gives up: never (nil), at a deadline, or by
// cancelling.
type caller func() (context.Context, context.CancelFunc)

func withDeadline(d time.Duration) caller {
	return func() (context.Context, context.CancelFunc) { return context.WithTimeout(context.Background(), d) }
}

func cancelAfter(d time.Duration) caller {
	return func() (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		t := time.AfterFunc(d, cancel)
		return ctx, func() { t.Stop(); cancel() }
	}
}

// drive plays perSecond calls a second for d, in ticks of 10 ms. Calls run
// inline when c is nil; otherwise each runs on its own goroutine under the
// context c makes (callers that give up).
func (s *service) drive(perSecond int, d time.Duration, c caller) {
	const tick = 10 * time.Millisecond
	var wg sync.WaitGroup
	start, made := time.Now(), 0
	for end := start.Add(d); time.Now().Before(end); {
		time.Sleep(tick)
		// As many calls as keep the rate since start, so that rates under
		// one call a tick are kept too.
		due := int(int64(perSecond) * int64(time.Since(start)) / int64(time.Second))
		per := due - made
		made = due
		for range per {
			if c != nil {
				wg.Go(func() {
					ctx, cancel := c()
					defer cancel()
					s.one(ctx)
				})
				continue
			}
			s.one(context.Background())
		}
	}
	wg.Wait()
}

// watch samples cond every 100 ms until stop is called, and returns when it
// first held (zero if never).
func watch(cond func() bool) (first func() time.Time, stop func()) {
	var (
		mu   sync.Mutex
		at   time.Time
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Go(func() {
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tk.C:
				if cond() {
					mu.Lock()
					if at.IsZero() {
						at = now
					}
					mu.Unlock()
				}
			}
		}
	})
	return func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return at
		}, func() {
			close(done)
			wg.Wait()
		}
}

// reset zeroes the call counters.
func (s *service) reset() {
	s.w.t.Helper()
	s.calls.Store(0)
	s.failed.Store(0)
	s.rejected.Store(0)
	s.fellBack.Store(0)
}
