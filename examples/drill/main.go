// Command drill runs a game day against the quick start's service,
// "checkout", whose core dependency is "payments": a live drill injects
// 100% errors into payments for five seconds, the breaker isolates it, the
// board grades the drill incident Fatal and pages only the drill team
// (titled "[DRILL]"), the public status stays operational, the on-duty
// engineer acknowledges, the drill ends by itself, payments recovers, and
// the drill report is printed.
//
// It needs nothing but loopback and finishes in about fifteen seconds:
//
//	go run ./examples/drill
//
// The plan's timers are shortened (a one-second group wait and hold-down)
// so the game day fits in seconds; with the default plan the same drill
// takes half an hour.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/drill"
	"github.com/firebreak-go/firebreak/tracing"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "drill:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	say := func(format string, args ...any) { fmt.Fprintf(out, "· "+format+"\n", args...) }

	// The payments provider: healthy. The drill makes it look down.
	payments := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"status": "captured"}`)
	}))
	defer payments.Close()

	plan := firebreak.DefaultPlan()
	plan.Timers.GroupWait = firebreak.Duration(time.Second)
	plan.Timers.ResolveHoldDown = firebreak.Duration(time.Second)
	var mu sync.Mutex
	page := func(who string) firebreak.Notifier {
		return firebreak.NotifierFunc(func(_ context.Context, n firebreak.Notification) error {
			mu.Lock()
			defer mu.Unlock()
			say("%s is told: %s %s (%s, level %d)", who, n.Event, n.Incident.Title, n.Incident.Severity, n.Incident.Level)
			return nil
		})
	}
	board, err := firebreak.NewBoard("shop", firebreak.WithPlan(plan), firebreak.WithComponents("checkout"),
		firebreak.WithNotifierNamed("on-call pager", page("the on-call pager")),
		firebreak.WithNotifierNamed("drill team", page("the drill team")),
		firebreak.WithRoute(firebreak.Route{Receiver: "on-call pager"}))
	if err != nil {
		return err
	}
	if err := board.Start(ctx); err != nil {
		return err
	}
	defer board.Close(context.Background())

	// checkout → payments: observed (a 99.9% SLO, the workbook's windows
	// scaled to seconds), then the breaker, the drill's injector innermost.
	obs, err := tracing.New[string](tracing.WithSLO(tracing.SLO{Availability: 0.999,
		Windows: tracing.ScaleWindows(tracing.WorkbookWindows(), 1.0/360)}))
	if err != nil {
		return err
	}
	if err := obs.Start(ctx); err != nil {
		return err
	}
	defer obs.Close(context.Background())
	inject, err := drill.NewInjector("payments-outage", drill.Error(errors.New("payments: connection refused")))
	if err != nil {
		return err
	}
	pol, err := drill.NewPolicy[string](inject)
	if err != nil {
		return err
	}
	br, err := breaker.New[string](breaker.WithOpenTimeout(time.Second))
	if err != nil {
		return err
	}
	pipe, err := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core, Reporter: board},
		[]firebreak.Policy[string]{obs, br, pol})
	if err != nil {
		return err
	}
	pay := func(ctx context.Context) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, payments.URL, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}

	// Checkout's traffic: 100 calls a second.
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-trafficCtx.Done():
				return
			case <-tick.C:
				pipe.Execute(trafficCtx, pay)
			}
		}
	}()
	defer func() { stopTraffic(); wg.Wait() }()

	d, err := drill.New(board, drill.Spec{
		ID:           "game-day-1",
		Hypothesis:   "if payments goes down, the breaker opens, the board grades it Fatal and the drill team acknowledges within 10 minutes",
		Scope:        drill.Scope{Components: []string{"checkout"}, Dependencies: []string{"payments"}},
		Dose:         drill.Percent(100),
		End:          time.Now().Add(5 * time.Second),
		Participants: []string{"drill team"},
		Expect:       drill.Expect{Severity: firebreak.Fatal, DetectWithin: 10 * time.Second},
		// Callers never wait on a dead payments: the breaker answers fast.
		SteadyState: drill.SteadyState{P99: 100 * time.Millisecond},
		Owner:       "ana",
	}, []*drill.Injector{inject}, drill.WithSteadyStateFrom(0.999, 250*time.Millisecond, obs.Stats()))
	if err != nil {
		return err
	}
	defer d.Close(context.Background())
	say("game day starts: 100%% errors into checkout → payments for 5 s")
	if err := d.Start(ctx); err != nil {
		return err
	}

	// The on-duty engineer acknowledges the drill incident once paged.
	for ctx.Err() == nil {
		incs := board.List(firebreak.Filter{Drill: "game-day-1"})
		if len(incs) > 0 && !incs[0].NotifiedAt.IsZero() {
			say("public status during the drill → %s", board.PublicStatus().Status)
			if err := board.Acknowledge(incs[0].ID, "ana"); err != nil {
				return err
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	<-d.Done()
	say("the drill ended by itself: %s", d.State())

	// Wait for payments to recover and the drill incident to resolve.
	for ctx.Err() == nil {
		incs := board.List(firebreak.Filter{Drill: "game-day-1"})
		if len(incs) > 0 && incs[0].State == firebreak.Resolved {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	fmt.Fprint(out, d.Report(drill.ReportInput{
		Findings: []string{"the breaker isolated payments within a second; the fallback path is untested"},
		SignOff:  drill.SignOff{By: "the command centre", At: time.Now(), Verdict: "passed"},
	}).Markdown())
	return nil
}
