package failover_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/failover"
)

// The retry never hammers an open breaker, and the fallback answers for it.
func TestWithBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		br, err := breaker.New[string]()
		if err != nil {
			t.Fatal(err)
		}
		retry, _ := failover.NewRetry[string](failover.WithMaxAttempts(5))
		fb, _ := failover.NewFallback(failover.Static("cached"))
		p, err := firebreak.NewPipeline(firebreak.Component{Name: "shop", Dependency: "pricing", Reporter: &rec},
			[]firebreak.Policy[string]{br, retry, fb})
		if err != nil {
			t.Fatal(err)
		}
		if err := br.ForceOpen("drill"); err != nil {
			t.Fatal(err)
		}
		calls := 0
		fn := func(context.Context) (string, error) { calls++; return "fresh", nil }
		v, err := p.Execute(t.Context(), fn)
		if v != "cached" || err != nil || calls != 0 {
			t.Errorf("got %q, %v after %d calls; want the fallback without calling", v, err, calls)
		}
		_, err = retry.Execute(t.Context(), func(ctx context.Context) (string, error) {
			calls++
			return br.Execute(ctx, fn)
		})
		if !errors.Is(err, breaker.ErrOpen) || calls != 1 || !failover.IsRejection(err) {
			t.Errorf("retry around an open breaker: %v after %d attempts; want ErrOpen after 1", err, calls)
		}
		if _, ok := rec.Last(firebreak.KindFallbackActive); !ok {
			t.Error("no fallback_active signal")
		}
	})
}
