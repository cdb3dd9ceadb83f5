package breaker_test

import (
	"context"
	"testing"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
)

// servesCache is a fallback-stage policy that swallows errors.
type servesCache struct{}

func (servesCache) Stage() firebreak.Stage { return firebreak.StageFallback }
func (servesCache) Apply(ctx context.Context, next firebreak.Next[int]) (int, error) {
	if v, err := next.Call(ctx); err == nil {
		return v, nil
	}
	return -1, nil
}

// A breaker inside a pipeline's fallback reports that a fallback serves, so
// the plan grades its opening lower.
func TestPipelineFallbackReachesSignals(t *testing.T) {
	var rec firebreak.Recorder
	cb, err := breaker.New[int](breaker.WithConsecutiveFailures(1), breaker.WithFailureRatio(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	p, err := firebreak.NewPipeline(firebreak.Component{Name: "api", Dependency: "db", Tier: firebreak.Core, Reporter: &rec},
		[]firebreak.Policy[int]{cb, servesCache{}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Execute(context.Background(), func(context.Context) (int, error) { return 0, context.DeadlineExceeded })
	if v != -1 || err != nil {
		t.Fatalf("got %d, %v; want the fallback", v, err)
	}
	s, ok := rec.Last(firebreak.KindBreakerOpen)
	if !ok || !s.Firing || !s.Fallback {
		t.Fatalf("signal %+v (found %v); want firing with Fallback", s, ok)
	}
}
