// Command pages serves firebreak's public status page, feedback form and ops
// console on loopback, prints their URLs, plays a short outage (a Fatal
// fault, a human-written update, a user's report, an acknowledgement, the
// resolution) and exits by itself. Pass -serve to keep serving until
// interrupted, to look at the pages in a browser.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/firebreak-go/firebreak"
)

func main() {
	serve := flag.Bool("serve", false, "keep serving after the demo until interrupted")
	flag.Parse()
	if err := run(*serve); err != nil {
		log.Fatal(err)
	}
}

func run(serve bool) error {
	ctx := context.Background()
	board, err := firebreak.NewBoard("shop", firebreak.WithComponents("checkout", "search", "accounts"))
	if err != nil {
		return err
	}
	defer board.Close(ctx)
	fb, err := firebreak.NewFeedback(board, firebreak.WithFeedbackTier("checkout", firebreak.Core))
	if err != nil {
		return err
	}
	status, err := firebreak.NewStatusPage(board, firebreak.WithPageName("Example Shop"), firebreak.WithFeedback(fb),
		firebreak.WithFeedbackForm("feedback/"), firebreak.WithRefreshInterval(time.Second))
	if err != nil {
		return err
	}
	raw := make([]byte, 16)
	rand.Read(raw)
	token := hex.EncodeToString(raw)
	auth, err := firebreak.BearerTokens(map[string]string{token: "on-duty"})
	if err != nil {
		return err
	}
	mode := &modes{value: "normal"}
	console, err := firebreak.NewConsole(board, auth, firebreak.WithConsoleStatusPage(status), firebreak.WithConsoleFeedback(fb),
		firebreak.WithSwitches(mode),
		firebreak.WithDependencies(firebreak.DependencySourceFunc(func() []firebreak.DependencyStatus {
			return []firebreak.DependencyStatus{{Component: "checkout", Dependency: "payments", Breaker: "open", Rate: 120, ErrorRatio: 0.4, P99: 900 * time.Millisecond}}
		})))
	if err != nil {
		return err
	}
	ops, err := firebreak.OpsHandler(board, auth, firebreak.WithPathPrefix("/ops"), firebreak.WithStatusUpdates(status), firebreak.WithFeedbackReplies(fb))
	if err != nil {
		return err
	}
	for _, s := range []interface{ Start(context.Context) error }{fb, status} {
		if err := s.Start(ctx); err != nil {
			return err
		}
	}
	defer status.Close(ctx)
	defer fb.Close(ctx)

	mux := http.NewServeMux()
	mux.Handle("/status/feedback/", fb.Handler("Example Shop"))
	mux.Handle("/status/", status.Handler())
	mux.Handle("/console/", console)
	mux.Handle("/ops/", ops)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	fmt.Println("status page: ", base+"/status/")
	fmt.Println("summary.json:", base+"/status/summary.json")
	fmt.Println("feedback:    ", base+"/status/feedback/")
	fmt.Println("ops console: ", base+"/console/")
	if serve {
		// Only when someone is to sign in: the token is a secret.
		fmt.Println("token:       ", token)
	}

	// A Fatal fault: checkout's payments dependency fails.
	board.Report(firebreak.Signal{Kind: firebreak.KindErrorBudgetBurn, Component: "checkout", Dependency: "payments", Tier: firebreak.Core,
		Firing: true, Value: 1000, Metrics: map[string]float64{"error_ratio_now": 1, "burn_rate_threshold": 14.4}, Labels: map[string]string{"slo": "availability"},
		Summary: "dial tcp 10.0.0.7:443: connection refused"})
	inc := board.List(firebreak.Filter{OpenOnly: true})[0]
	fmt.Printf("incident:     %s %s, respond by %s\n", inc.ID, inc.Severity, inc.ResponseDue.Format(time.TimeOnly))

	// A person tells users, through the ops API.
	body := `{"title": "Card payments failing", "incident": "` + inc.ID + `", "status": "investigating", "impact": "major",
		"components": ["checkout"], "message": "Some card payments fail. We are investigating."}`
	if err := call(http.MethodPost, base+"/ops/status/updates", token, "application/json", body, http.StatusCreated); err != nil {
		return err
	}
	// A user reports the problem through the public form.
	form := url.Values{"component": {"checkout"}, "message": {"My card payment never completes."}}.Encode()
	if err := call(http.MethodPost, base+"/status/feedback/", "", "application/x-www-form-urlencoded", form, http.StatusOK); err != nil {
		return err
	}
	if err := board.Acknowledge(inc.ID, "on-duty"); err != nil {
		return err
	}
	status.Refresh()
	// The page renders on its own goroutine: poll until the update is out.
	var page string
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(page, "We are investigating") {
		if time.Now().After(deadline) {
			return fmt.Errorf("the status page did not show the update within 5s")
		}
		<-tick.C
		if page, err = fetch(base + "/status/summary.json"); err != nil {
			return err
		}
	}
	for _, line := range strings.Split(page, "\n") {
		if strings.Contains(line, `"indicator"`) || strings.Contains(line, `"body"`) {
			fmt.Println("summary.json:", strings.TrimSpace(line))
		}
	}
	if strings.Contains(page, "10.0.0.7") {
		return fmt.Errorf("the status page shows internal error text")
	}
	fmt.Println("feedback:    ", len(fb.Reports()), "report(s), attached to", fb.Reports()[0].Incident)

	if serve {
		fmt.Println("serving; interrupt to stop")
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt)
		<-stop
	}
	return nil
}

func call(method, u, token, ctype, body string, want int) error {
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ctype)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, u, res.StatusCode, b)
	}
	return nil
}

func fetch(u string) (string, error) {
	res, err := http.Get(u)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}

// modes is a degradation mode the console can switch.
type modes struct{ value string }

func (m *modes) Switches() []firebreak.Switch {
	return []firebreak.Switch{{Name: "checkout mode", Value: m.value, Choices: []string{"normal", "degraded"}}}
}

func (m *modes) SetSwitch(name, value, by string) error {
	m.value = value
	return nil
}
