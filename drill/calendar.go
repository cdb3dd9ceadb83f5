package drill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
)

// Calendar keeps the plan's calendar of drills and inspections
// ([firebreak.DrillPlan].Calendar): it knows what is due, runs what has a
// handler when it falls due (a daily inspection, a weekly restore drill)
// or on demand ([Calendar.RunNow]), and raises [firebreak.KindDrillOverdue]
// on the board, label "calendar" naming the entry, for each entry past due
// plus its grace; the signal clears when the entry runs. An entry's first
// due time counts from Start. It is safe for concurrent use.
type Calendar struct {
	board   *firebreak.Board
	entries []firebreak.DrillCadence
	every   time.Duration
	logger  *slog.Logger

	startOnce, closeOnce sync.Once
	stop, done           chan struct{}
	started              atomic.Bool

	mu       sync.Mutex // guards the fields below
	last     map[string]time.Time
	handlers map[string]func(context.Context) error
	overdue  map[string]bool
	closed   bool
}

// Due is one calendar entry's state.
type Due struct {
	Name    string    `json:"name"`
	Kind    string    `json:"kind"`
	LastRun time.Time `json:"last_run,omitzero"`
	DueAt   time.Time `json:"due_at"`
	Overdue bool      `json:"overdue"`
}

// NewCalendar returns the calendar of b's plan, checked every minute once
// started. It returns an error if the plan has no calendar.
func NewCalendar(b *firebreak.Board) (*Calendar, error) {
	if b == nil {
		return nil, errors.New("drill: NewCalendar: the board is nil")
	}
	entries := b.Plan().Drills.Calendar
	if len(entries) == 0 {
		return nil, errors.New("drill: NewCalendar: the plan has no drills.calendar")
	}
	return &Calendar{board: b, entries: entries, every: time.Minute, logger: slog.Default(),
		stop: make(chan struct{}), done: make(chan struct{}),
		last: map[string]time.Time{}, handlers: map[string]func(context.Context) error{}, overdue: map[string]bool{}}, nil
}

func (c *Calendar) entry(name string) (firebreak.DrillCadence, error) {
	i := slices.IndexFunc(c.entries, func(e firebreak.DrillCadence) bool { return e.Name == name })
	if i < 0 {
		return firebreak.DrillCadence{}, fmt.Errorf("%w: no calendar entry %q", ErrNotFound, name)
	}
	return c.entries[i], nil
}

// Handle sets what runs entry name when it falls due or on RunNow: an
// inspection (a health registry's inspection round), a [RestoreDrill].
func (c *Calendar) Handle(name string, fn func(ctx context.Context) error) error {
	if fn == nil {
		return errors.New("drill: Calendar.Handle: the function is nil")
	}
	if _, err := c.entry(name); err != nil {
		return err
	}
	c.mu.Lock()
	c.handlers[name] = fn
	c.mu.Unlock()
	return nil
}

// Record notes that entry name ran at at (a tabletop held, a live drill
// done); an overdue signal for it clears. A time in the future is an
// error: it would put the entry's next due date off by as much.
func (c *Calendar) Record(name string, at time.Time) error {
	e, err := c.entry(name)
	if err != nil {
		return err
	}
	if now := time.Now(); at.After(now) {
		return fmt.Errorf("drill: Calendar.Record %q: the time %s is in the future (now %s)", name, at.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	c.mu.Lock()
	if at.After(c.last[name]) {
		c.last[name] = at
	}
	was := c.overdue[name]
	c.overdue[name] = false
	c.mu.Unlock()
	if was {
		c.board.Report(overdueSignal(e, false, ""))
	}
	return nil
}

// RunNow runs entry name's handler now and records it if it succeeds.
func (c *Calendar) RunNow(ctx context.Context, name string) error {
	if _, err := c.entry(name); err != nil {
		return err
	}
	c.mu.Lock()
	fn := c.handlers[name]
	c.mu.Unlock()
	if fn == nil {
		return fmt.Errorf("drill: RunNow: entry %q has no handler (Calendar.Handle)", name)
	}
	if err := safeRun(ctx, fn); err != nil {
		return fmt.Errorf("drill: calendar entry %q failed: %w", name, err)
	}
	return c.Record(name, time.Now())
}

func safeRun(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panicked: %v", r)
		}
	}()
	return fn(ctx)
}

// Due returns every entry's state at now.
func (c *Calendar) Due(now time.Time) []Due {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Due, 0, len(c.entries))
	for _, e := range c.entries {
		last := c.last[e.Name]
		due := last.Add(time.Duration(e.Every))
		out = append(out, Due{Name: e.Name, Kind: e.Kind, LastRun: last, DueAt: due,
			Overdue: now.After(due.Add(time.Duration(e.Grace)))})
	}
	return out
}

// Start counts every entry not yet recorded from now, and starts checking
// the calendar every minute. Calling it again does nothing; after Close it
// returns an error wrapping [firebreak.ErrClosed].
func (c *Calendar) Start(ctx context.Context) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return fmt.Errorf("drill: Calendar.Start: %w", firebreak.ErrClosed)
	}
	c.startOnce.Do(func() {
		now := time.Now()
		c.mu.Lock()
		for _, e := range c.entries {
			if _, ok := c.last[e.Name]; !ok {
				c.last[e.Name] = now
			}
		}
		c.mu.Unlock()
		c.started.Store(true)
		go c.loop()
	})
	return nil
}

func (c *Calendar) loop() {
	defer close(c.done)
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.check(time.Now())
		}
	}
}

// check runs what is due and has a handler, and raises what is overdue.
func (c *Calendar) check(now time.Time) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for _, d := range c.Due(now) {
		if !now.Before(d.DueAt) {
			c.mu.Lock()
			fn := c.handlers[d.Name]
			c.mu.Unlock()
			if fn != nil {
				err := c.RunNow(ctx, d.Name)
				if err == nil {
					continue
				}
				c.logger.Warn("drill: scheduled calendar entry failed", "entry", d.Name, "error", err)
			}
		}
		if !d.Overdue {
			continue
		}
		c.mu.Lock()
		was := c.overdue[d.Name]
		c.overdue[d.Name] = true
		c.mu.Unlock()
		if !was {
			e, _ := c.entry(d.Name)
			c.board.Report(overdueSignal(e, true, fmt.Sprintf("%s %q was due %s", e.Kind, e.Name, d.DueAt.UTC().Format(time.RFC3339))))
		}
	}
}

func overdueSignal(e firebreak.DrillCadence, firing bool, summary string) firebreak.Signal {
	return firebreak.Signal{Kind: firebreak.KindDrillOverdue, Component: "firebreak", Tier: firebreak.Auxiliary, Firing: firing,
		Summary: summary, Labels: map[string]string{"calendar": e.Name, "kind": e.Kind}}
}

// Close stops the checks within ctx. It is idempotent; Close without Start
// is fine.
func (c *Calendar) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		close(c.stop)
	})
	if !c.started.Load() {
		return nil
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("drill: Calendar.Close: %w", ctx.Err())
	}
}

// RestoreResult is what a restore drill measured.
type RestoreResult struct {
	Took     time.Duration `json:"took"`     // restore and verification
	Restored bool          `json:"restored"` // restore returned no error
	Verified bool          `json:"verified"` // verify returned no error
	Err      error         `json:"-"`
}

// RestoreDrill rehearses a restore: it runs restore against the user's
// scratch target, then verify (for example a health package backup check
// against the restored copy), and measures the time to restore. A panic in
// either is an error.
func RestoreDrill(ctx context.Context, restore, verify func(ctx context.Context) error) (RestoreResult, error) {
	if restore == nil || verify == nil {
		return RestoreResult{}, errors.New("drill: RestoreDrill: restore and verify are required")
	}
	start := time.Now()
	var r RestoreResult
	if err := safeRun(ctx, restore); err != nil {
		r.Took, r.Err = time.Since(start), fmt.Errorf("drill: restore failed: %w", err)
		return r, r.Err
	}
	r.Restored = true
	if err := safeRun(ctx, verify); err != nil {
		r.Took, r.Err = time.Since(start), fmt.Errorf("drill: restored copy failed verification: %w", err)
		return r, r.Err
	}
	r.Took, r.Verified = time.Since(start), true
	return r, nil
}
