package health_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/health/healthtest"
)

// TestBind: the registry follows the one re-bind rule. The first Bind
// wins, the same identity again is a no-op that keeps the first Reporter,
// another identity is an *AlreadyBoundError. The registry is service-wide,
// so a Dependency does not change its identity.
func TestBind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var first, second firebreak.Recorder
		r, err := health.New(health.WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		checkout := firebreak.Component{Name: "checkout", Tier: firebreak.Core, Reporter: &first}
		if err := r.Bind(checkout); err != nil {
			t.Fatal(err)
		}
		again := checkout
		again.Reporter, again.Dependency = &second, "payments-db"
		if err := r.Bind(again); err != nil {
			t.Fatalf("Bind to the same service = %v, want nil", err)
		}
		var abe *firebreak.AlreadyBoundError
		if err := r.Bind(firebreak.Component{Name: "orders", Tier: firebreak.Core}); !errors.As(err, &abe) || !errors.Is(err, firebreak.ErrAlreadyBound) {
			t.Fatalf("Bind to another service = %v, want *AlreadyBoundError", err)
		}
		c := healthtest.NewCheck()
		c.Fail(nil)
		mustRegister(t, r, "db", c)
		if err := r.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		r.Close(context.Background())
		s, ok := first.Last(firebreak.KindHealthFailed)
		if !ok || s.Component != "checkout" || s.Dependency != "" || s.Tier != firebreak.Core || !s.Firing {
			t.Fatalf("first Reporter got %+v (%v), want checkout's firing signal with no dependency", s, ok)
		}
		if n := len(second.Of(firebreak.KindHealthFailed)); n != 0 {
			t.Fatalf("second Reporter got %d signals, want 0 (the first Reporter stays)", n)
		}
	})
}

// TestUnboundReportsOnlyForComponents: an unbound registry works; checks
// without ForComponent report to Discard, a check ForComponent reports to
// that component's Reporter.
func TestUnboundReportsOnlyForComponents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		r, err := health.New(health.WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		down := healthtest.NewCheck()
		down.Fail(nil)
		mustRegister(t, r, "anonymous", down)
		mustRegister(t, r, "db-ping", down, health.ForComponent(firebreak.Component{
			Name: "checkout", Dependency: "payments-db", Tier: firebreak.Standard, Reporter: &rec}))
		if err := r.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := get(r.Handler(), "/readyz", false); got.code != 503 {
			t.Fatalf("/readyz = %d, want 503", got.code)
		}
		r.Close(context.Background())
		sigs := rec.Of(firebreak.KindHealthFailed)
		if len(sigs) != 1 || sigs[0].Labels["check"] != "db-ping" || sigs[0].Component != "checkout" ||
			sigs[0].Dependency != "payments-db" || sigs[0].Tier != firebreak.Standard {
			t.Fatalf("signals = %+v, want db-ping's alone, as checkout → payments-db (standard)", sigs)
		}
	})
}

func TestForComponentValidated(t *testing.T) {
	r := newRegistry(t, nil)
	err := r.Register("db-ping", healthtest.NewCheck(), health.ForComponent(firebreak.Component{Dependency: "payments-db"}))
	if want := `health: check "db-ping": ForComponent: firebreak: Component.Name is required`; err == nil || err.Error() != want {
		t.Fatalf("Register = %v, want %q", err, want)
	}
}

// TestCheckJoinsBreakerIncident plays an outage of payments-db through a
// real breaker and a real Board: checkout-api calls payments-db ten times
// a second, and a health check named "db-ping" probes the same database.
// With ForComponent(the pipeline's Component) the check's signal lands in
// the breaker's incident although its name matches nothing; without it,
// the check reports as the registry's component and opens an incident of
// its own.
func TestCheckJoinsBreakerIncident(t *testing.T) {
	for _, tc := range []struct {
		name          string
		forComponent  bool
		wantIncidents int
	}{
		{"ForComponent", true, 1},
		{"registry component", false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				board, err := firebreak.NewBoard("shop", firebreak.WithEnv("prod"))
				if err != nil {
					t.Fatal(err)
				}
				board.Start(t.Context())
				defer board.Close(context.Background())
				var outage atomic.Bool
				callDB := func(context.Context) (int, error) {
					if outage.Load() {
						return 0, errors.New("dial tcp 10.0.0.7:5432: connection refused")
					}
					return 1, nil
				}

				payments := firebreak.Component{Name: "checkout-api", Dependency: "payments-db", Tier: firebreak.Core, Reporter: board}
				cb, err := breaker.New[int]()
				if err != nil {
					t.Fatal(err)
				}
				pipeline, err := firebreak.NewPipeline(payments, []firebreak.Policy[int]{cb})
				if err != nil {
					t.Fatal(err)
				}

				reg, err := health.New(health.WithLogger(quiet))
				if err != nil {
					t.Fatal(err)
				}
				if err := reg.Bind(firebreak.Component{Name: "checkout-api", Tier: firebreak.Core, Reporter: board}); err != nil {
					t.Fatal(err)
				}
				opts := []health.CheckOption{health.WithInterval(5 * time.Second), health.WithFailureThreshold(2)}
				if tc.forComponent {
					opts = append(opts, health.ForComponent(payments))
				}
				ping := health.CheckFunc(func(ctx context.Context) error { _, err := callDB(ctx); return err })
				mustRegister(t, reg, "db-ping", ping, opts...)
				if err := reg.Start(context.Background()); err != nil {
					t.Fatal(err)
				}
				defer reg.Close(context.Background())

				// One minute healthy, then two minutes of outage.
				ctx := context.Background()
				for i := range 3 * 60 * 10 {
					if i == 60*10 {
						outage.Store(true)
					}
					_, _ = pipeline.Execute(ctx, callDB)
					time.Sleep(100 * time.Millisecond)
				}
				synctest.Wait()

				list := board.List(firebreak.Filter{OpenOnly: true})
				if len(list) != tc.wantIncidents {
					t.Fatalf("%d open incidents, want %d: %+v", len(list), tc.wantIncidents, list)
				}
				kinds := map[firebreak.Kind]string{} // kind → fault domain of its incident
				for _, inc := range list {
					for _, a := range inc.Alerts {
						kinds[a.Kind] = inc.FaultDomain
					}
				}
				if kinds[firebreak.KindBreakerOpen] != "payments-db" {
					t.Fatalf("breaker alert in %q, want payments-db (%v)", kinds[firebreak.KindBreakerOpen], kinds)
				}
				wantDomain := "checkout-api"
				if tc.forComponent {
					wantDomain = "payments-db"
				}
				if kinds[firebreak.KindHealthFailed] != wantDomain {
					t.Fatalf("health alert in %q, want %q (%v)", kinds[firebreak.KindHealthFailed], wantDomain, kinds)
				}
			})
		})
	}
}
