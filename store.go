package firebreak

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"
)

// The fleet store: what the Boards of one service's replicas share.
//
// Every replica runs its own Board and reports its own signals into it, as a
// single replica does. A [Store] is the little the fleet must agree on so
// that it behaves as one service:
//
//   - which incident a group key (service, env, fault domain) is, and its
//     ID ([Store.Claim]);
//   - what people did to it through any replica's ops API
//     ([Store.Append], read back by [Store.Sync]);
//   - which notifications have been sent for the fleet ([Store.Lease]).
//
// The Board talks to its store only from its own goroutines (the sharing
// loop, fleet_sync.go, and the notifiers' delivery goroutines), never from
// Report or a view; see [WithStore]. Without WithStore a Board shares
// nothing and behaves exactly as a single replica.

// Store is what the replicas of one service share: incidents, people's
// actions on them and the notify-once leases. [NewMemoryStore] is the
// in-memory implementation, for replicas in one process and for tests; the
// fleet package has the Redis one. Implementations must be safe for
// concurrent use, and should bound each call by a short deadline of their
// own: the Board treats an error as the store being unreachable (it falls
// back to its local state and raises [KindSharedStateDegraded]).
type Store interface {
	// Claim makes in the fleet's incident for in.GroupKey unless the fleet
	// already has one open, and returns the fleet's incident: in itself,
	// with Epoch set, or the one the fleet has (its ID is then the one every
	// replica uses). in.Actions, when in is installed, seed the incident's
	// action log: what the claiming replica knows was done to it (after the
	// store lost its data, the acknowledgements survive this way). A
	// claimed incident is open for a moment (the hold) even if nobody holds
	// it, and reopens if it was not closed.
	Claim(ctx context.Context, in SharedIncident) (SharedIncident, error)
	// Append records a person's action on the fleet's incident a.Incident,
	// for every replica. It fails if the store does not know the incident.
	Append(ctx context.Context, a SharedAction) error
	// Sync tells the store which incidents the replica's alerts hold open
	// (refreshing their holding) and returns the fleet's open incidents —
	// those some replica holds, or claimed a moment ago — and those named
	// in req.Cursors that the store still has, each with the actions past
	// the caller's cursor for it (all of them when the cursor's Epoch is
	// not the incident's).
	Sync(ctx context.Context, req SyncRequest) ([]SharedIncident, error)
	// Lease takes the right to send the notification named key, once for
	// the fleet, for ttl. It reports false if another replica holds it.
	Lease(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// SharedIncident is an incident as the fleet shares it: identity and
// clock, not the alerts (each replica keeps its own).
type SharedIncident struct {
	ID          string    `json:"id"`
	GroupKey    string    `json:"group_key"`
	FaultDomain string    `json:"fault_domain"`
	Title       string    `json:"title,omitempty"`
	Severity    Severity  `json:"severity"`
	DetectedAt  time.Time `json:"detected_at"`
	// Epoch is set by the store when it installs the incident; it changes
	// only if the incident is installed again (the store lost its data).
	Epoch string `json:"epoch,omitempty"`

	// Filled in by Sync: the replicas other than the caller that hold it
	// open, the actions past the caller's cursor and the cursor to pass
	// next time. Claim reads Actions as the history to seed.
	Holders int            `json:"-"`
	Actions []SharedAction `json:"-"`
	Next    int64          `json:"-"`
}

// SyncRequest is one replica's [Store.Sync].
type SyncRequest struct {
	Replica string
	// Holding lists the fleet IDs open on the replica.
	Holding []string
	// Cursors says, per fleet ID, how much of its action log the replica
	// has read.
	Cursors map[string]Cursor
}

// Cursor is a position in an incident's action log.
type Cursor struct {
	Epoch string `json:"epoch"`
	Next  int64  `json:"next"`
}

// Op names a person's action in a [SharedAction].
type Op string

// The actions the fleet shares. Each is the [Board] method of the same
// name, applied on every replica.
const (
	OpAcknowledge Op = "acknowledge"
	OpMitigate    Op = "mitigate"
	OpResolve     Op = "resolve"
	OpSetSeverity Op = "set_severity"
	OpAddFinding  Op = "add_finding"
	OpAddEvidence Op = "add_evidence"
	OpClose       Op = "close"
	OpHandOff     Op = "hand_off"
	OpSetCategory Op = "set_category"
	OpVerify      Op = "verify"
)

// SharedAction is a person's action on a fleet incident, made through one
// replica and applied on all.
type SharedAction struct {
	ID       string       `json:"id"` // unique in the fleet: the origin and a sequence number
	Incident string       `json:"incident"`
	GroupKey string       `json:"group_key"`
	Origin   string       `json:"origin"` // the replica it was made on
	Op       Op           `json:"op"`
	By       string       `json:"by"`
	At       time.Time    `json:"at"`
	Note     string       `json:"note,omitempty"` // mitigation, resolution note, reason, hand-off target's note
	To       string       `json:"to,omitempty"`   // hand-off target; category
	Severity Severity     `json:"severity,omitempty"`
	Finding  *Finding     `json:"finding,omitempty"`
	Evidence *Evidence    `json:"evidence,omitempty"`
	Report   *ReportInput `json:"report,omitempty"`
}

// ErrUnknownIncident is returned, wrapped, by a [Store]'s Append for an
// incident the store does not hold (it expired, or the store lost its
// data); the Board claims the incident again and retries.
var ErrUnknownIncident = errors.New("firebreak: store: unknown incident")

// MemoryStore is a [Store] in memory: the replicas it joins are Boards in
// one process. It keeps the same rules as the fleet package's Redis store
// (holders expire, open incidents and logs are bounded, leases expire), so
// fleet behaviour can be tested without Redis, inside a testing/synctest
// bubble. It is safe for concurrent use.
type MemoryStore struct {
	mu      sync.Mutex // guards everything below
	hold    time.Duration
	ttl     time.Duration
	epoch   int
	byKey   map[string]string // group key → fleet ID
	records map[string]*memRecord
	leases  map[string]time.Time // key → expiry
	down    bool
}

type memRecord struct {
	inc     SharedIncident
	log     []SharedAction
	holders map[string]time.Time // replica → expiry
	openTo  time.Time
	expires time.Time
	closed  bool
}

// Bounds of the stores' shared state, the same in every implementation.
const (
	// MaxSharedActions bounds one incident's action log.
	MaxSharedActions = 1000
	// MaxSharedOpen bounds the open incidents a Sync returns.
	MaxSharedOpen = 256
	// maxSyncActions bounds the actions one Sync returns per incident.
	maxSyncActions = 100
)

// NewMemoryStore returns an empty in-memory store. A replica holds an
// incident for hold after its last Claim or Sync naming it (a replica that
// stopped lets go within hold); an incident nobody holds is forgotten ttl
// after it was last held. hold must be positive and ttl at least hold.
func NewMemoryStore(hold, ttl time.Duration) (*MemoryStore, error) {
	if hold <= 0 {
		return nil, fmt.Errorf("firebreak: NewMemoryStore: hold %v must be positive", hold)
	}
	if ttl < hold {
		return nil, fmt.Errorf("firebreak: NewMemoryStore: ttl %v must be at least hold %v", ttl, hold)
	}
	return &MemoryStore{hold: hold, ttl: ttl, byKey: map[string]string{}, records: map[string]*memRecord{}, leases: map[string]time.Time{}}, nil
}

var _ Store = (*MemoryStore)(nil)

// errMemoryDown is what a MemoryStore set down returns.
var errMemoryDown = errors.New("firebreak: memory store: down")

// SetDown makes every call fail while down is true and, when it goes back
// up with lost set, forgets everything it held: a test's stand-in for a
// store that stops and restarts without its data.
func (m *MemoryStore) SetDown(down, lost bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.down = down
	if lost {
		m.byKey, m.records, m.leases = map[string]string{}, map[string]*memRecord{}, map[string]time.Time{}
	}
}

func (m *MemoryStore) gcLocked(now time.Time) {
	for id, r := range m.records {
		if now.After(r.expires) {
			delete(m.records, id)
			if m.byKey[r.inc.GroupKey] == id {
				delete(m.byKey, r.inc.GroupKey)
			}
		}
	}
	for k, exp := range m.leases {
		if now.After(exp) {
			delete(m.leases, k)
		}
	}
}

func (r *memRecord) holdersExcept(replica string, now time.Time) int {
	n := 0
	for rep, exp := range r.holders {
		if !now.Before(exp) {
			delete(r.holders, rep)
			continue
		}
		if rep != replica {
			n++
		}
	}
	return n
}

func (r *memRecord) open(now time.Time) bool {
	return !r.closed && (r.holdersExcept("", now) > 0 || now.Before(r.openTo))
}

func (m *MemoryStore) holdLocked(r *memRecord, replica string, now time.Time) {
	if replica != "" {
		r.holders[replica] = now.Add(m.hold)
	}
	r.openTo = now.Add(m.hold)
	r.expires = now.Add(m.ttl)
}

// Claim implements [Store].
func (m *MemoryStore) Claim(ctx context.Context, in SharedIncident) (SharedIncident, error) {
	if err := ctx.Err(); err != nil {
		return SharedIncident{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return SharedIncident{}, errMemoryDown
	}
	now := time.Now()
	m.gcLocked(now)
	if id, ok := m.byKey[in.GroupKey]; ok {
		if r := m.records[id]; r != nil && r.open(now) {
			m.holdLocked(r, "", now)
			return r.inc, nil
		}
	}
	if r := m.records[in.ID]; r != nil && !r.closed {
		// The ID is taken by an incident of another group key: keep it
		// (IDs are unique per proposer, this is the same incident again).
		m.holdLocked(r, "", now)
		m.byKey[in.GroupKey] = in.ID
		return r.inc, nil
	}
	m.epoch++
	in.Epoch = strconv.Itoa(m.epoch)
	r := &memRecord{inc: in, holders: map[string]time.Time{}}
	r.inc.Actions, r.inc.Holders, r.inc.Next = nil, 0, 0
	r.log = slices.Clone(in.Actions[:min(len(in.Actions), MaxSharedActions)])
	m.holdLocked(r, "", now)
	m.records[in.ID] = r
	m.byKey[in.GroupKey] = in.ID
	return r.inc, nil
}

// Append implements [Store].
func (m *MemoryStore) Append(ctx context.Context, a SharedAction) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return errMemoryDown
	}
	now := time.Now()
	m.gcLocked(now)
	r := m.records[a.Incident]
	if r == nil {
		return fmt.Errorf("%w %q", ErrUnknownIncident, a.Incident)
	}
	if len(r.log) >= MaxSharedActions {
		return fmt.Errorf("%w: incident %s holds %d shared actions", ErrLimit, a.Incident, MaxSharedActions)
	}
	r.log = append(r.log, a)
	r.expires = now.Add(m.ttl)
	if a.Op == OpClose {
		r.closed = true
	}
	return nil
}

// Sync implements [Store].
func (m *MemoryStore) Sync(ctx context.Context, req SyncRequest) ([]SharedIncident, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, errMemoryDown
	}
	now := time.Now()
	m.gcLocked(now)
	for _, id := range req.Holding {
		if r := m.records[id]; r != nil && !r.closed {
			m.holdLocked(r, req.Replica, now)
		}
	}
	var out []SharedIncident
	for _, id := range slices.Sorted(maps.Keys(m.records)) {
		r := m.records[id]
		if _, named := req.Cursors[id]; !named && !r.open(now) {
			continue
		}
		if len(out) == MaxSharedOpen {
			break
		}
		inc := r.inc
		inc.Holders = r.holdersExcept(req.Replica, now)
		from := int64(0)
		if c, ok := req.Cursors[id]; ok && c.Epoch == inc.Epoch {
			from = min(c.Next, int64(len(r.log)))
		}
		to := min(from+maxSyncActions, int64(len(r.log)))
		inc.Actions = slices.Clone(r.log[from:to])
		inc.Next = to
		out = append(out, inc)
	}
	return out, nil
}

// Lease implements [Store].
func (m *MemoryStore) Lease(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return false, errMemoryDown
	}
	now := time.Now()
	if exp, ok := m.leases[key]; ok && now.Before(exp) {
		return false, nil
	}
	m.leases[key] = now.Add(ttl)
	return true, nil
}
