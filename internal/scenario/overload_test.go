package scenario

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	xrate "golang.org/x/time/rate"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover"
)

// Three times the configured rate arrives for 10 minutes, 30% (or 10%) of
// it critical. The shedder must keep critical traffic: at least 99% of it is
// admitted, normal traffic gets what is left, and in all the service is not
// sent much more than its limit.
func TestOverloadKeepsCriticalTraffic(t *testing.T) {
	for _, critical := range []int{3, 1} { // tenths of the traffic
		t.Run(fmt.Sprintf("%d0%% critical", critical), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				const limit = 300
				sh, err := failover.NewShedder(xrate.Limit(limit), limit/10)
				if err != nil {
					t.Fatal(err)
				}
				shed, err := failover.NewShed[int](sh)
				if err != nil {
					t.Fatal(err)
				}
				comp := firebreak.Component{Name: "checkout-api", Tier: firebreak.Core, Reporter: w.board}
				p, err := firebreak.NewPipeline(comp, []firebreak.Policy[int]{shed})
				if err != nil {
					t.Fatal(err)
				}
				ok := func(context.Context) (int, error) { return 1, nil }
				crit := failover.ContextWithPriority(context.Background(), failover.PriorityCritical)
				var offered, admitted [2]int // [normal, critical]
				const per = 3 * limit / 100  // calls per 10 ms tick
				for end := time.Now().Add(10 * time.Minute); time.Now().Before(end); {
					time.Sleep(10 * time.Millisecond)
					for i := range per {
						c, ctx := 0, context.Background()
						if (offered[0]+offered[1]+i)%10 < critical {
							c, ctx = 1, crit
						}
						offered[c]++
						_, err := p.Execute(ctx, ok)
						switch {
						case err == nil:
							admitted[c]++
						case !errors.Is(err, failover.ErrShed):
							t.Fatalf("unexpected error %v", err)
						}
					}
				}
				critShare := float64(admitted[1]) / float64(offered[1])
				total := float64(admitted[0]+admitted[1]) / (10 * 60)
				t.Logf("critical %.1f%% admitted, normal %.1f%%, %.0f/s in all", critShare*100, 100*float64(admitted[0])/float64(offered[0]), total)
				if critShare < 0.99 {
					t.Errorf("only %.1f%% of critical traffic admitted, want ≥ 99%%", critShare*100)
				}
				if total > limit*1.05 {
					t.Errorf("admitted %.0f/s, limit %d/s", total, limit)
				}
				if admitted[0] == 0 {
					t.Errorf("normal traffic starved")
				}
			})
		})
	}
}

// A healthy dependency behind a breaker with a strict shedder inside it (1
// call a second): the shedder's rejections are not the dependency's
// failures. No breaker signal, and no incident against the dependency.
func TestShedderInsideBreakerBlamesNobody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		d := newDep()
		sh, err := failover.NewShedder(1, 1)
		if err != nil {
			t.Fatal(err)
		}
		shed, err := failover.NewShed[int](sh)
		if err != nil {
			t.Fatal(err)
		}
		s := newService(w, d, serviceConfig{extra: []firebreak.Policy[int]{shed}})
		s.drive(rate, 10*time.Minute, nil)
		if st := s.cb.State(); st.String() != "closed" {
			t.Errorf("breaker %s", st)
		}
		for _, inc := range w.board.List(firebreak.Filter{}) {
			for _, a := range inc.Alerts {
				if a.Kind == firebreak.KindBreakerOpen {
					t.Errorf("breaker signal: %+v", a)
				}
			}
			if inc.FaultDomain == "payments" {
				t.Errorf("incident %s against the dependency: %s", inc.ID, inc.Title)
			}
		}
	})
}
