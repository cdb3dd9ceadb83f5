package firebreak_test

import (
	"context"
	"fmt"
	"time"

	"github.com/firebreak-go/firebreak"
)

// A Fatal incident pages the pager and posts to the chat; a General one
// only posts to the chat.
func ExampleRoute() {
	plan, err := firebreak.ParsePlan([]byte(`{"timers": {"group_wait": "1ms"}, "route": {"receiver": "chat", "routes": [
		{"matchers": [{"name": "severity", "value": "fatal"}], "receiver": "pager", "continue": true},
		{"receiver": "chat"}]}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	say := func(name string) firebreak.Notifier {
		return firebreak.NotifierFunc(func(_ context.Context, n firebreak.Notification) error {
			fmt.Printf("%s: %s %s\n", name, n.Event, n.Incident.Severity)
			return nil
		})
	}
	b, err := firebreak.NewBoard("checkout", firebreak.WithPlan(plan),
		firebreak.WithNotifierNamed("pager", say("pager")), firebreak.WithNotifierNamed("chat", say("chat")))
	if err != nil {
		fmt.Println(err)
		return
	}
	b.Start(context.Background())
	defer b.Close(context.Background())
	b.Report(firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "payments", Tier: firebreak.Core, Firing: true})
	b.Report(firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "search", Tier: firebreak.Standard, Firing: true})
	// Wait out the plan's group wait (in tests, use testing/synctest), then
	// Close delivers what is queued.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		announced := 0
		for _, inc := range b.List(firebreak.Filter{}) {
			if !inc.NotifiedAt.IsZero() {
				announced++
			}
		}
		if announced == 2 {
			break
		}
	}
	b.Close(context.Background())
	// Unordered output:
	// pager: detected fatal
	// chat: detected fatal
	// chat: detected general
}

// An escalation chain pages in turn until somebody acknowledges.
func ExampleEscalationStep() {
	plan, err := firebreak.ParsePlan([]byte(`{"response": {"fatal": {"escalation": [
		{"after": "5m", "notify": "technical lead"}, {"after": "10m", "notify": "executive on call"}]}}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, st := range plan.Response[firebreak.Fatal].Escalation {
		fmt.Printf("after %s: %s\n", time.Duration(st.After), st.Notify)
	}
	_, err = firebreak.ParsePlan([]byte(`{"response": {"fatal": {"escalation": [
		{"after": "10m", "notify": "executive on call"}, {"after": "5m", "notify": "technical lead"}]}}}`))
	fmt.Println(err)
	// Output:
	// after 5m0s: technical lead
	// after 10m0s: executive on call
	// firebreak: invalid plan: response.fatal.escalation[1].after: 5m0s is not after the previous step's 10m0s: steps must be in order
}
