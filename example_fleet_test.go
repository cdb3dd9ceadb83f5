package firebreak_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
)

// Three replicas of one service share a store (here in memory; on Redis,
// the fleet package's): one incident with one ID, one page, and an
// acknowledgement made on one replica seen on the others.
func ExampleWithStore() {
	store, err := firebreak.NewMemoryStore(time.Second, time.Hour)
	if err != nil {
		panic(err)
	}
	plan := firebreak.DefaultPlan()
	plan.Timers.GroupWait = 0 // page at once, for the example
	var pages atomic.Int32
	pager := firebreak.NotifierFunc(func(_ context.Context, n firebreak.Notification) error {
		if n.Event == firebreak.EventDetected {
			pages.Add(1)
		}
		return nil
	})
	var fleet []*firebreak.Board
	for range 3 {
		b, err := firebreak.NewBoard("checkout", firebreak.WithPlan(plan), firebreak.WithStore(store),
			firebreak.WithSyncInterval(10*time.Millisecond), firebreak.WithNotifier(pager))
		if err != nil {
			panic(err)
		}
		b.Start(context.Background())
		fleet = append(fleet, b)
	}
	for _, b := range fleet {
		b.Report(firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "checkout-api", Dependency: "payments", Tier: firebreak.Core, Firing: true})
	}
	id := func(b *firebreak.Board) string { return b.List(firebreak.Filter{})[0].ID }
	for id(fleet[0]) != id(fleet[1]) || id(fleet[1]) != id(fleet[2]) {
		time.Sleep(5 * time.Millisecond) // the replicas agree on the ID within a sync
	}
	fmt.Println("one ID across the fleet")
	if err := fleet[1].Acknowledge(id(fleet[1]), "ana"); err != nil {
		panic(err)
	}
	for {
		if inc, _ := fleet[2].Get(id(fleet[2])); inc.AcknowledgedBy != "" {
			fmt.Println("replica 3 shows it acknowledged by", inc.AcknowledgedBy)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, b := range fleet {
		b.Close(context.Background())
	}
	fmt.Println("announcements:", pages.Load())
	// Output:
	// one ID across the fleet
	// replica 3 shows it acknowledged by ana
	// announcements: 1
}
