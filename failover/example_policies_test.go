package failover_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover"
)

// A bulkhead of two: a third call while two are in flight is refused at
// once with a rejection no breaker counts.
func ExampleBulkhead() {
	bh, _ := failover.NewBulkhead[string](2)
	hold, release := make(chan struct{}, 2), make(chan struct{})
	slow := func(context.Context) (string, error) { hold <- struct{}{}; <-release; return "ok", nil }
	done := make(chan struct{})
	for range 2 {
		go func() { _, _ = bh.Execute(context.Background(), slow); done <- struct{}{} }()
	}
	<-hold
	<-hold
	_, err := bh.Execute(context.Background(), slow)
	fmt.Println(err)
	fmt.Println(errors.Is(err, failover.ErrBulkheadFull), firebreak.RejectionOf(err))
	close(release)
	<-done
	<-done
	// Output:
	// failover: bulkhead full (2 in flight)
	// true overload
}

// A hedge after 20ms: the first attempt stalls, the hedge answers, and the
// stalled attempt is cancelled.
func ExampleHedge() {
	h, _ := failover.NewHedge[string](20*time.Millisecond, failover.WithIdempotent())
	var attempts atomic.Int32 // the hedge runs on its own goroutine
	cancelled := make(chan struct{})
	v, err := h.Execute(context.Background(), func(ctx context.Context) (string, error) {
		if attempts.Add(1) == 1 { // the first attempt runs before the hedge starts
			<-ctx.Done()
			close(cancelled)
			return "", ctx.Err()
		}
		return "from the hedge", nil
	})
	<-cancelled
	fmt.Println(v, err)
	// Output:
	// from the hedge <nil>
}

// An adaptive limiter in a pipeline, registered on the Board so that an
// open incident on its dependency freezes the limit.
func ExampleAdaptiveLimiter() {
	limiter, _ := failover.NewAdaptiveLimiter[string](failover.WithLimits(50, 5, 500))
	board, _ := firebreak.NewBoard("shop", firebreak.WithNotifier(limiter))
	defer board.Close(context.Background())
	pipe, _ := firebreak.NewPipeline(firebreak.Component{Name: "shop", Dependency: "catalog", Reporter: board},
		[]firebreak.Policy[string]{limiter})
	ctx := failover.ContextWithPriority(context.Background(), failover.PriorityCritical)
	v, err := pipe.Execute(ctx, func(context.Context) (string, error) { return "item", nil })
	fmt.Println(v, err, limiter.Limit(), limiter.Frozen())
	// Output:
	// item <nil> 50 false
}

// Outlier ejection on a failover: a primary failing most of its calls over
// the interval is ejected, here in dry run, which only reports it.
func ExampleOutlierEjection() {
	var rec firebreak.Recorder
	f, _ := failover.NewFailover[string]([]failover.Endpoint{{Name: "primary"}, {Name: "standby"}},
		failover.WithEjection(1000, time.Minute, 0.5), // no ejection for failures in a row
		failover.WithOutlierEjection(failover.OutlierEjection{
			Interval: 100 * time.Millisecond, FailurePercentageMinHosts: 1, DryRun: true,
		}))
	_ = f.Bind(firebreak.Component{Name: "shop", Dependency: "catalog", Reporter: &rec})
	call := func(_ context.Context, e failover.Endpoint) (string, error) {
		if e.Name == "primary" {
			return "", errors.New("refused")
		}
		return "ok", nil
	}
	for range 60 {
		_, _ = f.Execute(context.Background(), call)
	}
	time.Sleep(100 * time.Millisecond)
	_, _ = f.Execute(context.Background(), call)
	s, _ := rec.Last(failover.KindOutlierEjected)
	fmt.Println(s.Labels["endpoint"], s.Labels["dry_run"], f.Status()[0].Ejected)
	// Output:
	// primary true false
}
