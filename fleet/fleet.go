package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"

	"github.com/firebreak-go/firebreak"
)

// Store is the fleet's shared state in Redis: a [firebreak.Store] for
// Boards made with [firebreak.WithStore], and the home of [Switches] and
// [Limiter]s. It starts no goroutine and owns no connection: the client is
// the caller's, to close after the Boards. Every call carries the store's
// deadline (WithTimeout). It is safe for concurrent use.
type Store struct {
	rdb     redis.UniversalClient
	prefix  string // "{prefix}:"
	timeout time.Duration
	hold    time.Duration
	ttl     time.Duration
}

var _ firebreak.Store = (*Store)(nil)

// New returns a store on client. The client must honour context deadlines
// (go-redis: ContextTimeoutEnabled: true), or New returns an error wrapping
// [ErrContextTimeout].
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	c := config{prefix: "firebreak", timeout: 10 * time.Millisecond, hold: 3 * time.Second, ttl: 24 * time.Hour}
	var errs []error
	for i, o := range opts {
		if o == nil {
			errs = append(errs, fmt.Errorf("fleet: New: option %d is nil", i))
			continue
		}
		o.applyStore(&c)
	}
	if client == nil {
		errs = append(errs, ErrNoClient)
	} else if !timeoutsHonoured(client) {
		errs = append(errs, ErrContextTimeout)
	}
	if err := checkPrefix(c.prefix); err != nil {
		errs = append(errs, err)
	}
	if c.timeout < time.Millisecond || c.timeout > time.Second {
		errs = append(errs, fmt.Errorf("fleet: WithTimeout: must be between 1ms and 1s, got %v", c.timeout))
	}
	if c.hold < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("fleet: WithHold: must be at least 100ms, got %v", c.hold))
	}
	if c.ttl < c.hold || c.ttl > 30*24*time.Hour {
		errs = append(errs, fmt.Errorf("fleet: WithTTL: must be between the hold (%v) and 720h, got %v", c.hold, c.ttl))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Store{rdb: client, prefix: "{" + c.prefix + "}:", timeout: c.timeout, hold: c.hold, ttl: c.ttl}, nil
}

func timeoutsHonoured(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	}
	return true // a ring or a wrapper: its own business
}

func checkPrefix(p string) error {
	if p == "" || len(p) > 64 {
		return fmt.Errorf("fleet: WithPrefix: must be 1 to 64 characters, got %q", p)
	}
	for _, r := range p {
		if r == '{' || r == '}' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("fleet: WithPrefix: %q must not hold braces, spaces or control characters", p)
		}
	}
	return nil
}

// call bounds ctx by the store's deadline.
func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

func ms(d time.Duration) int64 { return max(1, d.Milliseconds()) }

func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Claim implements [firebreak.Store].
func (s *Store) Claim(ctx context.Context, in firebreak.SharedIncident) (firebreak.SharedIncident, error) {
	acts := in.Actions
	in.Actions, in.Holders, in.Next, in.Epoch = nil, 0, 0, ""
	rec, err := json.Marshal(in)
	if err != nil {
		return firebreak.SharedIncident{}, fmt.Errorf("fleet: Claim: %w", err)
	}
	args := []any{s.prefix, in.ID, rec, newEpoch(), ms(s.hold), ms(s.ttl)}
	for _, a := range acts[:min(len(acts), firebreak.MaxSharedActions)] {
		b, err := json.Marshal(a)
		if err != nil {
			return firebreak.SharedIncident{}, fmt.Errorf("fleet: Claim: %w", err)
		}
		args = append(args, b)
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	res, err := claimScript.Run(ctx, s.rdb, []string{s.prefix + "key:" + in.GroupKey}, args...).StringSlice()
	if err != nil {
		return firebreak.SharedIncident{}, fmt.Errorf("fleet: Claim: %w", err)
	}
	if len(res) != 2 {
		return firebreak.SharedIncident{}, fmt.Errorf("fleet: Claim: unexpected reply %q", res)
	}
	var out firebreak.SharedIncident
	if err := json.Unmarshal([]byte(res[0]), &out); err != nil {
		return firebreak.SharedIncident{}, fmt.Errorf("fleet: Claim: record: %w", err)
	}
	out.Epoch = res[1]
	return out, nil
}

// Append implements [firebreak.Store].
func (s *Store) Append(ctx context.Context, a firebreak.SharedAction) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("fleet: Append: %w", err)
	}
	closing := "0"
	if a.Op == firebreak.OpClose {
		closing = "1"
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	n, err := appendScript.Run(ctx, s.rdb, nil, s.prefix, a.Incident, b, closing, ms(s.ttl), firebreak.MaxSharedActions).Int()
	switch {
	case err != nil:
		return fmt.Errorf("fleet: Append: %w", err)
	case n == -1:
		return fmt.Errorf("fleet: Append: %w %q", firebreak.ErrUnknownIncident, a.Incident)
	case n == -2:
		return fmt.Errorf("fleet: Append: %w: incident %s holds %d shared actions", firebreak.ErrLimit, a.Incident, firebreak.MaxSharedActions)
	}
	return nil
}

// Sync implements [firebreak.Store].
func (s *Store) Sync(ctx context.Context, req firebreak.SyncRequest) ([]firebreak.SharedIncident, error) {
	holding := req.Holding
	if holding == nil {
		holding = []string{}
	}
	hj, err := json.Marshal(holding)
	if err != nil {
		return nil, fmt.Errorf("fleet: Sync: %w", err)
	}
	cursors := req.Cursors
	if cursors == nil {
		cursors = map[string]firebreak.Cursor{}
	}
	cj, err := json.Marshal(cursors)
	if err != nil {
		return nil, fmt.Errorf("fleet: Sync: %w", err)
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	raw, err := syncScript.Run(ctx, s.rdb, nil, s.prefix, req.Replica, ms(s.hold), ms(s.ttl), hj, cj, firebreak.MaxSharedOpen, 100).Slice()
	if err != nil {
		return nil, fmt.Errorf("fleet: Sync: %w", err)
	}
	return parseSync(raw)
}

func parseSync(raw []any) ([]firebreak.SharedIncident, error) {
	var out []firebreak.SharedIncident
	str := func(i int) string { s, _ := raw[i].(string); return s }
	num := func(i int) int64 {
		switch v := raw[i].(type) {
		case int64:
			return v
		case string:
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
		return 0
	}
	for i := 0; i+6 <= len(raw); {
		var inc firebreak.SharedIncident
		if err := json.Unmarshal([]byte(str(i+1)), &inc); err != nil {
			return nil, fmt.Errorf("fleet: Sync: record of %s: %w", str(i), err)
		}
		inc.Epoch = str(i + 2)
		inc.Holders = int(num(i + 3))
		inc.Next = num(i + 4)
		n := int(num(i + 5))
		i += 6
		if i+n > len(raw) {
			return nil, errors.New("fleet: Sync: truncated reply")
		}
		for j := range n {
			var a firebreak.SharedAction
			if err := json.Unmarshal([]byte(str(i+j)), &a); err != nil {
				return nil, fmt.Errorf("fleet: Sync: action of %s: %w", inc.ID, err)
			}
			inc.Actions = append(inc.Actions, a)
		}
		i += n
		out = append(out, inc)
	}
	return out, nil
}

// Lease implements [firebreak.Store]: SET NX with the lease's expiry,
// at most the store's TTL. A ttl that is not positive is an error: the key
// would never expire.
func (s *Store) Lease(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("fleet: Lease %q: ttl must be positive, got %v", key, ttl)
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	ok, err := s.rdb.SetNX(ctx, s.prefix+"lease:"+key, 1, min(ttl, s.ttl)).Result()
	if err != nil {
		return false, fmt.Errorf("fleet: Lease: %w", err)
	}
	return ok, nil
}

// keyName joins parts of a key under the store's prefix.
func (s *Store) keyName(parts ...string) string { return s.prefix + strings.Join(parts, ":") }
