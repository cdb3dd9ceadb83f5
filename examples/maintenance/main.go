// Command maintenance shows planned work that pages nobody: a maintenance
// window on the payments service while a checkout fault in the same minutes
// still pages, a silence made through the operations API, and a routing tree
// that sends Fatal incidents to the pager and everything to the team chat.
// It runs on its own in a few seconds, with no network but loopback:
//
//	go run ./examples/maintenance
//
// Copy it as a template: the plan's routes and timers, the named notifiers
// and the ops API calls are what a real service would use (with the plan's
// real timers instead of these shortened ones).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-go/firebreak"
)

const opsToken = "maintenance-example-token-42" // in production: from your secret store

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "maintenance:", err)
		os.Exit(1)
	}
}

func run() error {
	// The plan: the default grading and response times, with the timers cut
	// short for the demonstration and a routing tree: Fatal to the pager
	// (and on), everything to the chat.
	plan, err := firebreak.ParsePlan([]byte(`{
		"timers": {"group_wait": "200ms", "resolve_hold_down": "300ms", "reopen_window": "1s"},
		"route": {"receiver": "chat", "routes": [
			{"matchers": [{"name": "severity", "value": "fatal"}], "receiver": "pager", "continue": true},
			{"receiver": "chat"}
		]}
	}`))
	if err != nil {
		return err
	}
	pager, chat := &inbox{name: "pager"}, &inbox{name: "chat"}
	board, err := firebreak.NewBoard("shop", firebreak.WithPlan(plan),
		firebreak.WithNotifierNamed("pager", pager), firebreak.WithNotifierNamed("chat", chat),
		firebreak.WithComponents("payments", "checkout"))
	if err != nil {
		return err
	}
	if err := board.Start(context.Background()); err != nil {
		return err
	}
	defer board.Close(context.Background())

	auth, err := firebreak.BearerTokensWithRoles(map[string]firebreak.Grant{
		opsToken: {Principal: "alice (on-duty)", Role: firebreak.Responder},
	})
	if err != nil {
		return err
	}
	ops, err := firebreak.OpsHandler(board, auth)
	if err != nil {
		return err
	}
	opsServer := httptest.NewServer(ops)
	defer opsServer.Close()
	status := httptest.NewServer(firebreak.StatusHandler(board))
	defer status.Close()

	step("1. the payments team schedules a maintenance window: a database upgrade")
	now := time.Now()
	if err := board.ScheduleMaintenance(firebreak.MaintenanceWindow{
		Name: "payments-db-upgrade", Components: []string{"payments"},
		Start: now, End: now.Add(1500 * time.Millisecond), Reason: "change CHG-1042: PostgreSQL 16 → 17",
	}, "bob (payments)"); err != nil {
		return err
	}
	say("public status → %s", get(status.URL, ""))

	step("2. during the window: payments fails (planned), and checkout fails too (not planned)")
	payments := firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "payments", Dependency: "payments-db", Tier: firebreak.Core, Firing: true}
	checkout := firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "checkout", Tier: firebreak.Standard, Firing: true}
	board.Report(payments)
	board.Report(checkout)
	time.Sleep(500 * time.Millisecond) // past the group wait
	say("pager got: %s", pager.got())
	say("chat got:  %s", chat.got())
	for _, inc := range board.List(firebreak.Filter{OpenOnly: true}) {
		say("%s %-40q %s, announced: %v", inc.ID, inc.Title, inc.Severity, !inc.NotifiedAt.IsZero())
	}
	checkout.Firing = false
	board.Report(checkout)

	step("3. the window ends while payments is still down: now it pages")
	time.Sleep(time.Until(now.Add(1600 * time.Millisecond)))
	board.Report(payments)
	time.Sleep(300 * time.Millisecond)
	say("pager got: %s", pager.got())
	say("public status → %s", get(status.URL, ""))
	payments.Firing = false
	board.Report(payments)

	step("4. a silence through the operations API, for a known noisy alert")
	body := fmt.Sprintf(`{"matchers": "{kind=\"load_shed\",component=\"checkout\"}", "ends_at": %q, "comment": "load test LT-7, until it ends"}`,
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	say("POST /silences → %s", post(opsServer.URL+"/silences", body))
	board.Report(firebreak.Signal{Kind: firebreak.KindLoadShed, Component: "checkout", Tier: firebreak.Core, Firing: true})
	time.Sleep(400 * time.Millisecond)
	say("chat got:  %s", chat.got())
	say("GET /silences → %s", get(opsServer.URL+"/silences", opsToken))
	return nil
}

// inbox is a notifier that keeps what it was told.
type inbox struct {
	name string
	mu   sync.Mutex
	seen []string
}

func (i *inbox) Notify(_ context.Context, n firebreak.Notification) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.seen = append(i.seen, fmt.Sprintf("%s %s %s", n.Incident.ID, n.Event, n.Incident.Severity))
	return nil
}

func (i *inbox) got() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	if len(i.seen) == 0 {
		return "nothing"
	}
	return strings.Join(i.seen, "; ")
}

func step(s string) { fmt.Println("\n== " + s) }

func say(format string, args ...any) { fmt.Printf("   "+format+"\n", args...) }

func get(url, token string) string {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err.Error()
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(req)
}

func post(url, body string) string {
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+opsToken)
	req.Header.Set("Content-Type", "application/json")
	return do(req)
}

func do(req *http.Request) string {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var compact bytes.Buffer
	if json.Compact(&compact, b) == nil {
		b = compact.Bytes()
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
}
