package firebreak

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The Board's side of a fleet: the sharing loop and the notify-once leases.
//
// A Board made WithStore keeps running its engine on its own replica's
// signals exactly as a single replica does, and shares, off every caller's
// path:
//
//   - Incidents. Its incidents get local IDs unique in the fleet
//     ("INC-<replica>-0001"). The sharing loop claims each open incident's
//     group key in the store; the first replica to claim it makes its ID the
//     fleet's, and every other replica renames its own incident to that ID
//     and takes the fleet's detection time as its own, so that the group
//     wait, the response deadline and the reminders run on one clock across
//     the fleet. Incidents the fleet has open that a replica does not (it
//     restarted, or never saw the fault) are adopted: the replica shows
//     them, with what people did to them, and its own signals join them.
//   - Actions. Acknowledge, Mitigate, Resolve, SetSeverity, AddFinding,
//     AddEvidence, CloseWith, HandOff, SetCategory and Verify, made through
//     any replica, are appended to the incident's shared log and applied on
//     every other replica at its next sync (WithSyncInterval, 200ms by
//     default), without notifying again: the replica the person used
//     notifies.
//   - Notifications. Before a notifier is handed a notification that every
//     replica emits on its own — an announcement, an escalation, a breach,
//     an escalation step, a reminder, a reopening, a resolution, a routine
//     update — its delivery goroutine takes a lease for it in the store, and
//     only the replica that gets it delivers. A resolution the engine made
//     on its own is sent only once no other replica's alerts hold the
//     incident, and a replica whose own alerts have cleared keeps the
//     incident open while another's still fire.
//
// When the store fails — an error or a deadline on three syncs in a row —
// the Board is degraded: it raises KindSharedStateDegraded, delivers every
// notification itself (each replica pages on its own, as without a store)
// and keeps people's actions to share later. When the store answers again
// the loop claims every open incident again, merging the ones opened apart
// into one ID, sends the actions kept, and clears the signal.

const (
	defaultSyncEvery = 200 * time.Millisecond
	degradeAfter     = 3               // failed syncs in a row
	syncTimeout      = 2 * time.Second // one sync round at most, whatever the store's own deadlines
	lifecycleLease   = 24 * time.Hour  // a lifecycle notification is sent once per this
	routineLease     = time.Minute     // a routine update of the same alerts, once per this
	maxHistory       = 256             // actions remembered per incident, to seed a re-claim
	maxOutbox        = 4096            // actions waiting to be shared
	fleetComponent   = "shared-state"  // the dependency of KindSharedStateDegraded
	leaseRenotifyCut = 0.8             // a reminder's lease lasts this share of RenotifyEvery
	flushOnClose     = 50 * time.Millisecond
)

// fleetConfig is what WithStore and WithSyncInterval set.
type fleetConfig struct {
	store    Store
	storeSet bool
	every    time.Duration
}

func (c *boardConfig) fleetCfg() *fleetConfig {
	if c.fleet == nil {
		c.fleet = &fleetConfig{every: defaultSyncEvery}
	}
	return c.fleet
}

// WithStore shares the board's incidents with the other replicas of the
// service through s: one incident per group key across the fleet with one
// ID, people's actions applied on every replica, each notification sent
// once for the fleet (see [Store]). Every replica must use the same plan,
// notifiers (in the same order, or the same names) and service name. The
// store is used only from the board's own goroutines: Report and the views
// never wait for it. Default: nothing is shared; the board is a single
// replica.
func WithStore(s Store) BoardOption {
	return boardOptionFunc(func(c *boardConfig) {
		f := c.fleetCfg()
		f.store, f.storeSet = s, true
	})
}

// WithSyncInterval sets how often a board made [WithStore] syncs with the
// store: the longest an action made on another replica takes to apply here
// is about twice this. It must be between 10ms and 10s. Default: 200ms.
func WithSyncInterval(d time.Duration) BoardOption {
	return boardOptionFunc(func(c *boardConfig) { c.fleetCfg().every = d })
}

// EveryReplica marks a notifier that must hear every notification on every
// replica, such as a [github.com/firebreak-go/firebreak/failover.Degrader]
// that sets a mode from the incidents: a board made [WithStore] hands it
// everything its own engine emits, without taking the fleet's leases.
// Without a store it changes nothing.
func EveryReplica(n Notifier) Notifier { return everyReplica{n} }

type everyReplica struct{ Notifier }

// FleetStats counts what a board made [WithStore] shared.
type FleetStats struct {
	Replica        string `json:"replica"`         // this board's replica ID
	Degraded       bool   `json:"degraded"`        // the store is failing: the board works alone
	Claims         int64  `json:"claims"`          // incidents claimed in the store
	Renamed        int64  `json:"renamed"`         // local incidents renamed to the fleet's ID
	Adopted        int64  `json:"adopted"`         // fleet incidents taken up from the store
	ActionsShared  int64  `json:"actions_shared"`  // people's actions appended to the store
	ActionsApplied int64  `json:"actions_applied"` // actions made on other replicas applied here
	ActionsWaiting int    `json:"actions_waiting"` // actions waiting for the store
	ActionsDropped int64  `json:"actions_dropped"` // actions not shared: 4096 were waiting already (applied here all the same)
	Suppressed     int64  `json:"suppressed"`      // notifications another replica sent (or, for a resolution, will send)
	StoreErrors    int64  `json:"store_errors"`    // failed store calls
}

// fleetSync is a Board's sharing state and loop. Lock order: the board's
// mu, then fleetSync.mu; never the other way round, and neither while
// calling the store.
type fleetSync struct {
	b       *Board
	store   Store
	replica string
	every   time.Duration
	kick    chan struct{}
	done    chan struct{} // closed when the loop exits
	first   chan struct{} // closed after the first sync round
	firstMu sync.Once
	started atomic.Bool
	ctx     context.Context // cancelled by stop
	cancel  context.CancelFunc

	degraded atomic.Bool

	mu       sync.Mutex // guards everything below
	incs     map[string]*fleetInc
	alias    map[string]string // a local ID renamed → the fleet's ID
	outbox   []SharedAction
	seq      int64
	failures int
	stats    FleetStats
}

// fleetInc is what a board knows of one of its incidents' fleet side,
// keyed by the incident's current ID.
type fleetInc struct {
	claimed bool
	cursor  Cursor
	holders int // other replicas whose alerts hold it, at the last sync
	applied map[string]bool
	history []SharedAction
}

func newReplicaID() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return base32.StdEncoding.EncodeToString(b[:])
}

// useStore sets the board up for a fleet, after NewBoard built the queues.
func (b *Board) useStore(cfg *boardConfig) error {
	fc := cfg.fleet
	if fc == nil {
		return nil
	}
	var errs []error
	if fc.storeSet && fc.store == nil {
		errs = append(errs, errors.New("firebreak: WithStore: store is nil"))
	}
	if fc.every < 10*time.Millisecond || fc.every > 10*time.Second {
		errs = append(errs, fmt.Errorf("firebreak: WithSyncInterval: must be between 10ms and 10s, got %v", fc.every))
	}
	if !fc.storeSet {
		errs = append(errs, errors.New("firebreak: WithSyncInterval: needs WithStore"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &fleetSync{
		b: b, store: fc.store, replica: newReplicaID(), every: fc.every,
		kick: make(chan struct{}, 1), done: make(chan struct{}), first: make(chan struct{}),
		ctx: ctx, cancel: cancel,
		incs: map[string]*fleetInc{}, alias: map[string]string{},
	}
	f.stats.Replica = f.replica
	b.fleet = f
	b.eng.idPrefix = "INC-" + f.replica + "-"
	for i, q := range b.queues {
		if _, ok := q.n.(everyReplica); ok {
			continue
		}
		name := "n" + strconv.Itoa(i)
		if i < len(cfg.names) && cfg.names[i] != "" {
			name = cfg.names[i]
		}
		q.n = &leasedNotifier{f: f, n: q.n, name: name}
	}
	b.lazy = true // the sharing loop must run
	return nil
}

// Replica returns the board's replica ID in its fleet, or "" for a board
// without a store.
func (b *Board) Replica() string {
	if b.fleet == nil {
		return ""
	}
	return b.fleet.replica
}

// FleetStats returns what the board shared; zero for a board without a
// store.
func (b *Board) FleetStats() FleetStats {
	f := b.fleet
	if f == nil {
		return FleetStats{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stats
	s.Degraded = f.degraded.Load()
	s.ActionsWaiting = len(f.outbox)
	return s
}

// start starts the sharing loop; the board calls it once.
func (f *fleetSync) start() {
	if f == nil || !f.started.CompareAndSwap(false, true) {
		return
	}
	go f.loop()
}

// waitFirst waits for the first sync round, within ctx.
func (f *fleetSync) waitFirst(ctx context.Context) error {
	if f == nil {
		return nil
	}
	select {
	case <-f.first:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop ends the loop and shares what is waiting, within ctx and a short
// bound of its own.
func (f *fleetSync) stop(ctx context.Context) {
	if f == nil {
		return
	}
	f.cancel()
	if f.started.Load() {
		<-f.done
	}
	f.mu.Lock()
	waiting := len(f.outbox) > 0
	f.mu.Unlock()
	if waiting && !f.degraded.Load() {
		fctx, cancel := context.WithTimeout(ctx, flushOnClose)
		f.flush(fctx)
		cancel()
	}
}

func (f *fleetSync) poke() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

func (f *fleetSync) loop() {
	defer close(f.done)
	defer f.firstMu.Do(func() { close(f.first) })
	t := time.NewTicker(f.every)
	defer t.Stop()
	for {
		f.round()
		f.firstMu.Do(func() { close(f.first) })
		select {
		case <-t.C:
		case <-f.kick:
		case <-f.ctx.Done():
			return
		}
	}
}

// round is one sync: claim, share actions, sync, apply. A panic in the
// store is recovered and counted as a failure, so that a user's store
// cannot stop the loop.
func (f *fleetSync) round() {
	ctx, cancel := context.WithTimeout(f.ctx, syncTimeout)
	defer cancel()
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("firebreak: store panicked: %v", r)
			}
		}()
		if err := f.claimAll(ctx); err != nil {
			return err
		}
		if err := f.flush(ctx); err != nil {
			return err
		}
		lost, err := f.sync(ctx)
		if err != nil || !lost {
			return err
		}
		// The store lost incidents (it restarted empty): claim them again
		// now, so that it holds them before this replica says it is well.
		if err := f.claimAll(ctx); err != nil {
			return err
		}
		return f.flush(ctx)
	}()
	if f.ctx.Err() != nil {
		return // stopping: not the store's fault
	}
	f.health(err)
}

// health counts failures and raises or clears KindSharedStateDegraded.
func (f *fleetSync) health(err error) {
	f.mu.Lock()
	raise, clear := false, false
	if err != nil {
		f.stats.StoreErrors++
		f.failures++
		raise = f.failures >= degradeAfter && !f.degraded.Load()
	} else {
		f.failures = 0
		clear = f.degraded.Load()
	}
	f.mu.Unlock()
	switch {
	case raise:
		f.degraded.Store(true)
		f.b.Report(Signal{Kind: KindSharedStateDegraded, Component: systemActor, Dependency: fleetComponent, Tier: Standard, Firing: true,
			Summary: fmt.Sprintf("the fleet store fails (%v): this replica works on its local state and pages on its own", err)})
	case clear:
		f.degraded.Store(false)
		f.b.Report(Signal{Kind: KindSharedStateDegraded, Component: systemActor, Dependency: fleetComponent, Tier: Standard, Firing: false,
			Summary: "the fleet store answers again: incidents reconciled"})
		f.poke()
	}
}

// proposal is a local open incident as a claim.
func proposal(inc *incident) SharedIncident {
	return SharedIncident{ID: inc.ID, GroupKey: inc.GroupKey, FaultDomain: inc.FaultDomain, Title: inc.Title,
		Severity: inc.Severity, DetectedAt: inc.DetectedAt}
}

// claimAll claims every open incident the store has not confirmed.
func (f *fleetSync) claimAll(ctx context.Context) error {
	b := f.b
	var todo []SharedIncident
	b.mu.Lock()
	f.mu.Lock()
	for id := range f.incs {
		if _, ok := b.eng.incidents[id]; !ok {
			delete(f.incs, id) // forgotten by the engine
		}
	}
	for from, to := range f.alias {
		if _, ok := b.eng.incidents[to]; !ok {
			delete(f.alias, from)
		}
	}
	for id, inc := range b.eng.incidents {
		if !inc.State.Open() {
			continue
		}
		if fi := f.incs[id]; fi == nil || !fi.claimed {
			p := proposal(inc)
			if fi != nil {
				p.Actions = slices.Clone(fi.history)
			}
			todo = append(todo, p)
		}
	}
	f.mu.Unlock()
	b.mu.Unlock()
	for _, p := range todo {
		if err := f.claim(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// claim claims p in the store and takes the fleet's answer.
func (f *fleetSync) claim(ctx context.Context, p SharedIncident) error {
	got, err := f.store.Claim(ctx, p)
	if err != nil {
		return err
	}
	f.settle(p.ID, got)
	return nil
}

// settle makes local incident id the fleet's incident got: renamed to its
// ID, on its clock.
func (f *fleetSync) settle(id string, got SharedIncident) {
	b := f.b
	now := time.Now()
	b.mu.Lock()
	e := b.eng
	inc := e.incidents[id]
	if inc == nil {
		b.mu.Unlock()
		return
	}
	renamed := false
	if got.ID != id {
		if _, taken := e.incidents[got.ID]; taken {
			b.mu.Unlock()
			return // an incident of ours has that ID already: keep both apart
		}
		e.rename(inc, got.ID, now)
		renamed = true
	}
	e.align(inc, &got)
	f.mu.Lock()
	fi := f.incs[id]
	if fi == nil {
		fi = &fleetInc{applied: map[string]bool{}}
	}
	if renamed {
		delete(f.incs, id)
		f.alias[id] = got.ID
		f.stats.Renamed++
		for i := range f.outbox {
			if f.outbox[i].Incident == id {
				f.outbox[i].Incident = got.ID
			}
		}
	}
	fi.claimed = true
	f.incs[got.ID] = fi
	f.stats.Claims++
	f.mu.Unlock()
	b.mu.Unlock()
	b.kickLoop()
}

// flush appends the actions waiting, oldest first.
func (f *fleetSync) flush(ctx context.Context) error {
	for {
		f.mu.Lock()
		if len(f.outbox) == 0 {
			f.mu.Unlock()
			return nil
		}
		a := f.outbox[0]
		f.mu.Unlock()
		err := f.store.Append(ctx, a)
		f.mu.Lock()
		switch {
		case err == nil:
			if len(f.outbox) > 0 && f.outbox[0].ID == a.ID {
				f.outbox = f.outbox[1:]
			}
			f.stats.ActionsShared++
		case errors.Is(err, ErrUnknownIncident):
			// The store lost it: claim it again (with its history, this
			// action included) before the action is sent again.
			if fi := f.incs[a.Incident]; fi != nil {
				fi.claimed = false
			}
		}
		f.mu.Unlock()
		if err != nil {
			if errors.Is(err, ErrUnknownIncident) {
				return nil // retried after the next claim
			}
			return err
		}
	}
}

// sync refreshes what this replica holds and applies what the fleet did.
// It reports whether the store lost incidents this replica had claimed.
func (f *fleetSync) sync(ctx context.Context) (lost bool, err error) {
	b := f.b
	req := SyncRequest{Replica: f.replica, Cursors: map[string]Cursor{}}
	b.mu.Lock()
	f.mu.Lock()
	for id, fi := range f.incs {
		inc := b.eng.incidents[id]
		if inc == nil || !fi.claimed || inc.State == Closed || b.eng.stale(inc, time.Now()) {
			continue // nothing more will be done to it
		}
		req.Cursors[id] = fi.cursor
		if inc.State.Open() && inc.held() {
			req.Holding = append(req.Holding, id)
		}
	}
	f.mu.Unlock()
	b.mu.Unlock()
	slices.Sort(req.Holding)
	recs, err := f.store.Sync(ctx, req)
	if err != nil {
		return false, err
	}
	now := time.Now()
	seen := make(map[string]bool, len(recs))
	changed := false
	b.mu.Lock()
	e := b.eng
	f.mu.Lock()
	for i := range recs {
		rec := &recs[i]
		seen[rec.ID] = true
		fi := f.incs[rec.ID]
		inc := e.incidents[rec.ID]
		if fi == nil || inc == nil {
			if inc != nil {
				continue // ours, not yet claimed: the claim settles it
			}
			if cur := e.byGroup[rec.GroupKey]; cur != nil && !e.stale(cur, now) {
				continue // ours under another ID: its claim merges them
			}
			inc = e.adopt(rec, now)
			fi = &fleetInc{claimed: true, applied: map[string]bool{}}
			f.incs[rec.ID] = fi
			f.stats.Adopted++
			changed = true
		}
		for j := range rec.Actions {
			a := &rec.Actions[j]
			if fi.applied[a.ID] {
				continue
			}
			fi.remember(a)
			if a.Origin == f.replica {
				continue
			}
			at := a.At
			if at.IsZero() || at.After(now) {
				at = now
			}
			_, _ = e.act(inc.ID, at, func(inc *incident) (Event, error) { return e.applyShared(inc, a, at) })
			_ = e.flush() // the replica the person used notifies
			f.stats.ActionsApplied++
			changed = true
		}
		fi.cursor = Cursor{Epoch: rec.Epoch, Next: rec.Next}
		fi.holders = rec.Holders
		if rec.Holders > 0 && inc.State.Open() && !inc.held() && !inc.clearSince.IsZero() {
			// Another replica's alerts still hold the fleet's incident:
			// ours does not resolve under it.
			inc.clearSince = now
			e.schedule(inc)
		}
	}
	for id, fi := range f.incs {
		if inc := e.incidents[id]; fi.claimed && !seen[id] && inc != nil && inc.State.Open() {
			fi.claimed = false // the store lost it: claim it again
			lost = true
		}
	}
	f.mu.Unlock()
	b.mu.Unlock()
	if changed {
		b.kickLoop()
	}
	return lost, nil
}

func (fi *fleetInc) remember(a *SharedAction) {
	fi.applied[a.ID] = true
	fi.history = append(fi.history, *a)
	if len(fi.history) > maxHistory {
		fi.history = slices.Delete(fi.history, 0, len(fi.history)-maxHistory)
	}
}

// share queues a person's action on incident id (group key) for the fleet.
func (f *fleetSync) share(id, key string, a SharedAction) {
	f.mu.Lock()
	f.seq++
	a.ID = f.replica + "-" + strconv.FormatInt(f.seq, 10)
	a.Incident, a.GroupKey, a.Origin = id, key, f.replica
	fi := f.incs[id]
	if fi == nil {
		fi = &fleetInc{applied: map[string]bool{}}
		f.incs[id] = fi
	}
	fi.remember(&a)
	if len(f.outbox) < maxOutbox {
		f.outbox = append(f.outbox, a)
	} else {
		f.stats.ActionsDropped++
	}
	f.mu.Unlock()
	f.poke()
}

// resolveID maps an ID the board renamed to the one it has now.
func (f *fleetSync) resolveID(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range 4 {
		to, ok := f.alias[id]
		if !ok {
			break
		}
		id = to
	}
	return id
}

// actionOp runs a person's action and, on a board with a store, shares it.
func (b *Board) actionOp(id string, op SharedAction, fn func(inc *incident, now time.Time) (Event, error)) error {
	f := b.fleet
	if f == nil {
		return b.action(id, fn)
	}
	var fid, key string
	err := b.action(f.resolveID(id), func(inc *incident, now time.Time) (Event, error) {
		ev, err := fn(inc, now)
		if err == nil {
			fid, key, op.At = inc.ID, inc.GroupKey, now
		}
		return ev, err
	})
	if err == nil {
		f.share(fid, key, op)
	}
	return err
}

// applyShared applies another replica's action to inc at at.
func (e *engine) applyShared(inc *incident, a *SharedAction, at time.Time) (Event, error) {
	switch a.Op {
	case OpAcknowledge:
		return e.acknowledge(inc, a.By, at)
	case OpMitigate:
		return e.mitigate(inc, a.By, a.Note, at)
	case OpResolve:
		return e.resolveByHand(inc, a.By, a.Note, at)
	case OpSetSeverity:
		return e.setSeverity(inc, a.By, a.Severity, a.Note, at)
	case OpAddFinding:
		if a.Finding != nil {
			return e.addFinding(inc, a.By, *a.Finding, at)
		}
	case OpAddEvidence:
		if a.Evidence != nil {
			return e.addEvidence(inc, a.By, *a.Evidence, at)
		}
	case OpClose:
		var in ReportInput
		if a.Report != nil {
			in = *a.Report
		}
		_, err := e.closeWith(inc, a.By, in, at)
		return EventClosed, err
	case OpHandOff:
		return e.handOff(inc, a.By, a.To, a.Note, at)
	case OpSetCategory:
		return e.setCategory(inc, a.By, Category(a.To), a.Note, at)
	case OpVerify:
		return e.verify(inc, a.By, a.Note, at)
	}
	return "", fmt.Errorf("firebreak: unknown shared action %q", a.Op)
}

// rename gives inc the fleet's ID.
func (e *engine) rename(inc *incident, id string, now time.Time) {
	old := inc.ID
	delete(e.incidents, old)
	inc.ID = id
	e.incidents[id] = inc
	inc.dirty = true
	e.line(inc, now, EventSignal, systemActor, fmt.Sprintf("joined the fleet's incident %s (was %s here)", id, old), false)
}

// align puts inc on the fleet's clock: the earliest detection in the fleet
// starts the group wait, the response deadline and the reminders.
func (e *engine) align(inc *incident, got *SharedIncident) {
	d := inc.DetectedAt.Sub(got.DetectedAt)
	if d <= 0 {
		return
	}
	shift := func(t *time.Time) {
		if !t.IsZero() {
			*t = t.Add(-d)
		}
	}
	inc.DetectedAt = got.DetectedAt
	shift(&inc.notifyAt)
	shift(&inc.clockStart)
	shift(&inc.ResponseDue)
	shift(&inc.renotifyAt)
	inc.dirty = true
	e.schedule(inc)
}

// adopt takes up a fleet incident this replica does not have: it shows it,
// on the fleet's clock, and this replica's signals for its group key join
// it. With no alert of its own it never pages.
func (e *engine) adopt(rec *SharedIncident, now time.Time) *incident {
	e.seq++
	inc := &incident{seq: e.seq, ackSeverity: -1, persisted: map[int]bool{}, full: map[uint64]*alert{}, heapIdx: -1}
	sev := rec.Severity
	inc.Incident = Incident{
		ID: rec.ID, Title: rec.Title, Service: e.service, Env: e.env, FaultDomain: rec.FaultDomain, GroupKey: rec.GroupKey,
		Severity: sev, MaxSeverity: sev, Level: sev.Level(), Lead: e.plan.Response[sev].Lead,
		State: Detected, DetectedAt: rec.DetectedAt,
	}
	inc.graded = sev > None
	inc.byRule = true // it pages only while an alert holds it here
	wait := rec.DetectedAt.Add(time.Duration(e.plan.Timers.GroupWait))
	if now.Before(wait) {
		inc.notifyAt = wait
	} else {
		inc.waitOver = true
		inc.NotifiedAt = wait // announced by the fleet when the wait passed
	}
	if sev > None {
		inc.clockStart = rec.DetectedAt
		inc.ResponseDue = rec.DetectedAt.Add(time.Duration(e.plan.Response[sev].Within))
		if every := time.Duration(e.plan.Response[sev].RenotifyEvery); every > 0 {
			// On the fleet's clock: every interval since detection.
			inc.renotifyAt = rec.DetectedAt.Add(every * (now.Sub(rec.DetectedAt)/every + 1))
		}
	}
	e.incidents[inc.ID] = inc
	if cur := e.byGroup[rec.GroupKey]; cur == nil || e.stale(cur, now) {
		e.byGroup[rec.GroupKey] = inc
	}
	e.line(inc, now, EventSignal, systemActor, fmt.Sprintf("taken up from the fleet: detected %s by another replica", rec.DetectedAt.UTC().Format(time.RFC3339)), true)
	inc.dirty = true
	e.hold(inc, now)
	e.schedule(inc)
	return inc
}

// leasedNotifier sends a notification only if this replica takes its lease.
type leasedNotifier struct {
	f    *fleetSync
	n    Notifier
	name string
}

func (w *leasedNotifier) Notify(ctx context.Context, n Notification) error {
	f := w.f
	if f.degraded.Load() || personal(&n) {
		return w.n.Notify(ctx, n)
	}
	id := f.resolveID(n.Incident.ID)
	f.mu.Lock()
	fi := f.incs[id]
	claimed := fi != nil && fi.claimed
	holders := 0
	if fi != nil {
		holders = fi.holders
	}
	f.mu.Unlock()
	if !claimed {
		// Announced before the sharing loop claimed it (a group wait of 0):
		// claim it now, here on the delivery goroutine.
		p := SharedIncident{ID: id, GroupKey: n.Incident.GroupKey, FaultDomain: n.Incident.FaultDomain, Title: n.Incident.Title,
			Severity: n.Incident.Severity, DetectedAt: n.Incident.DetectedAt}
		got, err := safely(func() (SharedIncident, error) { return f.store.Claim(ctx, p) })
		if err != nil {
			f.fault()
			return w.n.Notify(ctx, n)
		}
		f.settle(id, got)
		id = got.ID
	}
	if n.Event == EventResolved && holders > 0 {
		f.suppressed()
		return nil // another replica's alerts still hold it: it resolves there
	}
	key, ttl := w.lease(id, &n)
	ok, err := safely(func() (bool, error) { return f.store.Lease(ctx, key, ttl) })
	switch {
	case err != nil:
		f.fault()
	case !ok:
		f.suppressed()
		return nil
	}
	n.Incident.ID = id
	return w.n.Notify(ctx, n)
}

// safely calls a store, turning its panic into an error: a store's bug
// must not cost a notification.
func safely[T any](call func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("firebreak: store panicked: %v", r)
		}
	}()
	return call()
}

func (f *fleetSync) suppressed() {
	f.mu.Lock()
	f.stats.Suppressed++
	f.mu.Unlock()
}

func (f *fleetSync) fault() {
	f.mu.Lock()
	f.stats.StoreErrors++
	f.mu.Unlock()
}

// personal reports whether n is a person's doing on this replica (only the
// replica the person used emits it) rather than the engine's, which every
// replica emits.
func personal(n *Notification) bool {
	switch n.Event {
	case EventAcknowledged, EventMitigated, EventDowngraded, EventFinding, EventEvidence, EventClosed:
		return true
	case EventDetected, EventSignal, EventBreached, EventRenotify, EventReopened, EventEscalationStep:
		return false
	}
	// Escalated and resolved: by a person or by the engine; see the
	// timeline entry that made it.
	tl := n.Incident.Timeline
	for i := len(tl) - 1; i >= 0 && i >= len(tl)-8; i-- {
		if tl[i].Event == n.Event {
			return tl[i].Actor != systemActor
		}
	}
	return false
}

// lease names notification n of fleet incident id for the fleet, and says
// how long it stays sent.
func (w *leasedNotifier) lease(id string, n *Notification) (string, time.Duration) {
	inc := &n.Incident
	key := id + "|" + string(n.Event) + "|" + w.name + "|r" + strconv.Itoa(inc.ReopenCount)
	ttl := lifecycleLease
	switch n.Event {
	case EventEscalated, EventBreached:
		key += "|" + inc.Severity.String()
	case EventEscalationStep:
		key += "|" + inc.Severity.String() + "|" + strconv.Itoa(n.EscalationStep)
	case EventRenotify:
		key += "|" + inc.Severity.String()
		every := time.Duration(w.f.b.plan.Response[inc.Severity].RenotifyEvery)
		ttl = time.Duration(float64(cmp.Or(every, time.Minute)) * leaseRenotifyCut)
	case EventSignal:
		h := fnv.New64a()
		for _, a := range n.Fired {
			h.Write([]byte(a.Fingerprint))
			h.Write([]byte{1})
		}
		for _, a := range n.Resolved {
			h.Write([]byte(a.Fingerprint))
			h.Write([]byte{0})
		}
		key += "|" + strconv.FormatUint(h.Sum64(), 36)
		ttl = routineLease
	case EventDetected, EventReopened, EventResolved:
	default:
		// Another event the engine makes on every replica (a category
		// derived from the alerts): one per distinct entry.
		h := fnv.New64a()
		for i := len(inc.Timeline) - 1; i >= 0; i-- {
			if inc.Timeline[i].Event == n.Event {
				h.Write([]byte(inc.Timeline[i].Note))
				break
			}
		}
		key += "|" + strconv.FormatUint(h.Sum64(), 36)
	}
	return key, ttl
}
