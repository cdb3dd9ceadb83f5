package firebreak_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/firebreak-go/firebreak"
)

// A silence mutes a fault: it is recorded, nobody is paged. Expiring the
// silence lets the fault, still firing, page as usual.
func ExampleBoard_Silence() {
	plan := firebreak.DefaultPlan()
	plan.Timers.GroupWait = 0 // announce at once, for the example
	pages := make(chan firebreak.Notification, 10)
	board, _ := firebreak.NewBoard("checkout", firebreak.WithPlan(plan),
		firebreak.WithNotifier(firebreak.NotifierFunc(func(_ context.Context, n firebreak.Notification) error {
			pages <- n
			return nil
		})))
	board.Start(context.Background())
	defer board.Close(context.Background())

	matchers, _ := firebreak.ParseMatchers(`{dependency="payments-db"}`)
	id, err := board.Silence(firebreak.Silence{Matchers: matchers, EndsAt: time.Now().Add(time.Hour),
		CreatedBy: "alice", Comment: "CHG-42 database upgrade"})
	fmt.Println(id, err)

	board.Report(firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "checkout-api",
		Dependency: "payments-db", Tier: firebreak.Core, Firing: true})
	inc := board.List(firebreak.Filter{})[0]
	for _, e := range inc.Timeline {
		if strings.Contains(e.Note, "silenced by") {
			fmt.Println(e.Note)
		}
	}

	_ = board.ExpireSilence(id, "alice")
	n := <-pages
	fmt.Println(n.Event, n.Incident.Severity)
	fmt.Println(board.Silences()[0].ExpiredBy)
	// Output:
	// S-1 <nil>
	// breaker_open for checkout-api → payments-db silenced by S-1 (CHG-42 database upgrade): recorded, pages nobody
	// detected fatal
	// alice
}

// A weekly maintenance window in the plan document.
func ExampleMaintenanceWindow() {
	plan, err := firebreak.ParsePlan([]byte(`{"maintenance": [{"name": "weekly patching",
		"components": ["payments"], "reason": "OS patches",
		"weekly": {"weekday": "sunday", "start": "02:00", "duration": "2h", "timezone": "UTC"}}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	w := plan.Maintenance[0]
	fmt.Println(w.Name, w.Components, w.Weekly.Weekday, w.Weekly.Start, time.Duration(w.Weekly.Duration))

	_, err = firebreak.ParsePlan([]byte(`{"maintenance": [{"name": "x", "components": ["payments"],
		"weekly": {"weekday": "sunday", "start": "2am", "duration": "2h"}}]}`))
	fmt.Println(err)
	// Output:
	// weekly patching [payments] sunday 02:00 2h0m0s
	// firebreak: invalid plan: maintenance[0].weekly.start: "2am" is not a time of day HH:MM
}
