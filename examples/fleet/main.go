// Command fleet runs three replicas of a small service, "checkout", against
// one Redis, and shows that a fleet behaves as one service: the payments
// dependency fails on every replica, every replica's breaker opens and
// reports it, and yet the fleet has one incident with one ID, the on-duty
// engineer is paged once, acknowledges once through one replica's
// operations API, and every replica shows the acknowledgement.
//
// It needs a Redis. With REDIS_ADDR set it uses that one; otherwise it
// starts redis-server on a free loopback port if it is installed
// (apt-get install -y redis-server), and says how to get one if not:
//
//	go run ./examples/fleet
//	REDIS_ADDR=127.0.0.1:6379 go run ./examples/fleet
//
// Copy it as a template: in a real service each replica is its own
// process, and everything below "replica" is what each one runs.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/fleet"
)

const opsToken = "fleet-example-ops-token-1234" // in production: from your secret store

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr, stop, err := redisAddr(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(2)
	}
	defer stop()
	if err := run(ctx, os.Stdout, addr); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

// redisAddr returns REDIS_ADDR, or starts a redis-server of its own.
func redisAddr(ctx context.Context) (string, func(), error) {
	if a := os.Getenv("REDIS_ADDR"); a != "" {
		return a, func() {}, nil
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, errors.New("no Redis: install redis-server (apt-get install -y redis-server), or set REDIS_ADDR=host:port")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.CommandContext(ctx, bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.New("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// replica is one copy of the service: its own Redis client, store, board,
// breaker and operations API.
type replica struct {
	name  string
	rdb   *redis.Client
	board *firebreak.Board
	pay   *breaker.Breaker[string]
	ops   *httptest.Server
}

// plan is the default plan with a short group wait, so the example does
// not wait 30 seconds for its page.
func plan() *firebreak.Plan {
	p := firebreak.DefaultPlan()
	p.Timers.GroupWait = firebreak.Duration(time.Second)
	return p
}

func newReplica(ctx context.Context, name, addr string, pager firebreak.Notifier) (*replica, error) {
	// ContextTimeoutEnabled: the store's deadlines of a few milliseconds
	// must reach the socket.
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	store, err := fleet.New(rdb, fleet.WithPrefix("checkout"))
	if err != nil {
		return nil, err
	}
	board, err := firebreak.NewBoard("checkout", firebreak.WithEnv("prod"), firebreak.WithPlan(plan()),
		firebreak.WithStore(store), firebreak.WithNotifier(pager))
	if err != nil {
		return nil, err
	}
	if err := board.Start(ctx); err != nil { // takes up the fleet's open incidents
		return nil, err
	}
	pay, err := breaker.New[string](breaker.WithConsecutiveFailures(3))
	if err != nil {
		return nil, err
	}
	if err := pay.Bind(firebreak.Component{Name: "checkout-api", Dependency: "payments", Tier: firebreak.Core, Reporter: board}); err != nil {
		return nil, err
	}
	auth, err := firebreak.BearerTokens(map[string]string{opsToken: "on-duty"})
	if err != nil {
		return nil, err
	}
	ops, err := firebreak.OpsHandler(board, auth)
	if err != nil {
		return nil, err
	}
	return &replica{name: name, rdb: rdb, board: board, pay: pay, ops: httptest.NewServer(ops)}, nil
}

func (r *replica) close() {
	r.ops.Close()
	r.board.Close(context.Background())
	r.rdb.Close()
}

// checkout is the replica's request handler: it charges through the
// breaker.
func (r *replica) checkout(ctx context.Context, charge func(context.Context) (string, error)) error {
	_, err := r.pay.Execute(ctx, charge)
	return err
}

func run(ctx context.Context, out io.Writer, addr string) error {
	fmt.Fprintf(out, "Redis at %s; three replicas of checkout\n", addr)

	// The pager stands for your webhook or PagerDuty: every replica has
	// one, and each page is sent once for the fleet.
	var mu sync.Mutex
	var pages []string
	paged := make(chan struct{}, 8)
	pager := func(name string) firebreak.Notifier {
		return firebreak.NotifierFunc(func(_ context.Context, n firebreak.Notification) error {
			line := fmt.Sprintf("%s pages: %s %s (%s, %s)", name, n.Event, n.Incident.ID, n.Incident.Severity, n.Incident.Lead)
			mu.Lock()
			pages = append(pages, line)
			mu.Unlock()
			fmt.Fprintln(out, "  "+line)
			paged <- struct{}{}
			return nil
		})
	}
	var fleetOf []*replica
	for i := range 3 {
		name := fmt.Sprintf("replica-%d", i+1)
		r, err := newReplica(ctx, name, addr, pager(name))
		if err != nil {
			return err
		}
		defer r.close()
		fleetOf = append(fleetOf, r)
	}

	// Payments breaks. Every replica's requests fail; every breaker opens.
	var calls atomic.Int64
	broken := func(context.Context) (string, error) {
		calls.Add(1)
		return "", errors.New("payments: 503")
	}
	for _, r := range fleetOf {
		for range 5 {
			r.checkout(ctx, broken)
		}
		fmt.Fprintf(out, "%s: payments breaker %s\n", r.name, r.pay.State())
	}

	// One page for the fleet, after the group wait.
	select {
	case <-paged:
	case <-ctx.Done():
		return errors.New("no page")
	}
	inc := fleetOf[0].board.List(firebreak.Filter{OpenOnly: true})[0]

	// The on-duty engineer acknowledges through replica 2's ops API.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, fleetOf[1].ops.URL+"/incidents/"+inc.ID+"/"+firebreak.ActionAcknowledge, strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+opsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	fmt.Fprintf(out, "on-duty acknowledges %s through replica-2: %s\n", inc.ID, resp.Status)

	// Within a second every replica shows it.
	deadline := time.Now().Add(2 * time.Second)
	for _, r := range fleetOf {
		for {
			got, err := r.board.Get(inc.ID)
			if err == nil && got.AcknowledgedBy != "" {
				fmt.Fprintf(out, "%s: %s %s, acknowledged by %s\n", r.name, got.ID, got.State, got.AcknowledgedBy)
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s does not show the acknowledgement", r.name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The acknowledgement is paged once too; delivery is asynchronous, so
	// wait for it, then a little longer for a duplicate, if there were one.
	select {
	case <-paged:
	case <-time.After(5 * time.Second):
		return errors.New("no page for the acknowledgement")
	}
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(out, "pages sent for the fleet: %d (an announcement and an acknowledgement), payments called %d times\n", len(pages), calls.Load())
	if len(pages) != 2 {
		return fmt.Errorf("%d pages, want 2", len(pages))
	}
	return nil
}
