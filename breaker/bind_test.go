package breaker

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/otelattr"
	"github.com/google/go-cmp/cmp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// trip opens b with failures (WithConsecutiveFailures(1) in these tests).
func trip(t *testing.T, b *Breaker[int]) {
	t.Helper()
	_, _ = b.Execute(context.Background(), fail)
	if s := b.State(); s != StateOpen {
		t.Fatalf("state %v after a failure, want open", s)
	}
}

// An unbound breaker works and reports nowhere; the first Bind names it and
// sends its signals from then on to the component's Reporter.
func TestUnboundWorksThenBinds(t *testing.T) {
	b, err := New[int](WithConsecutiveFailures(1))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := b.Execute(context.Background(), ok); v != 1 || err != nil {
		t.Fatalf("unbound call: %d, %v", v, err)
	}
	trip(t, b)
	_, err = b.Execute(context.Background(), ok)
	if !errors.Is(err, ErrOpen) || err.Error() != "breaker: circuit open" || b.Name() != "" {
		t.Fatalf("unbound open: err %q, name %q", err, b.Name())
	}
	var rec firebreak.Recorder
	if err := b.Bind(testComponent(&rec)); err != nil {
		t.Fatal(err)
	}
	if rec.Len() != 0 {
		t.Fatalf("Bind reported %d signals from before it: %+v", rec.Len(), rec.Signals())
	}
	if b.Name() != "payments" {
		t.Errorf("name %q after Bind, want the dependency", b.Name())
	}
	if err := b.Release("no-op: not forced"); err != nil {
		t.Fatal(err)
	}
	_ = b.SetState(StateClosed)
	s, found := rec.Last(firebreak.KindBreakerOpen)
	if !found || s.Firing || s.Component != "checkout" || s.Dependency != "payments" || s.Tier != firebreak.Core {
		t.Fatalf("signal after Bind %+v (found %v)", s, found)
	}
}

// The one re-bind rule of firebreak.Binding, for a breaker and a group.
func TestBindRule(t *testing.T) {
	first := testComponent(nil)
	tests := []struct {
		name    string
		again   firebreak.Component
		wantErr error // nil: a no-op
	}{
		{"same identity, other Reporter", first, nil},
		{"same identity, Fallback set", firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core, Fallback: true}, nil},
		{"other dependency", firebreak.Component{Name: "checkout", Dependency: "search", Tier: firebreak.Core}, firebreak.ErrAlreadyBound},
		{"other component", firebreak.Component{Name: "billing", Dependency: "payments", Tier: firebreak.Core}, firebreak.ErrAlreadyBound},
		{"other tier", firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Auxiliary}, firebreak.ErrAlreadyBound},
	}
	for _, tt := range tests {
		t.Run("breaker/"+tt.name, func(t *testing.T) {
			var rec1, rec2 firebreak.Recorder
			c := first
			c.Reporter = &rec1
			b := newBound(t, c, WithConsecutiveFailures(1))
			again := tt.again
			again.Reporter = &rec2
			err := b.Bind(again)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("second Bind: %v, want %v", err, tt.wantErr)
			}
			var abe *firebreak.AlreadyBoundError
			if err != nil && (!errors.As(err, &abe) || abe.Policy != `breaker "payments"` || abe.Bound.Dependency != "payments") {
				t.Errorf("error %#v, want an AlreadyBoundError for breaker \"payments\"", err)
			}
			trip(t, b)
			if rec1.Len() != 1 || rec2.Len() != 0 {
				t.Fatalf("signals: first Reporter %d, second %d; want the first to stay", rec1.Len(), rec2.Len())
			}
			if s, _ := rec1.Last(firebreak.KindBreakerOpen); s.Fallback || s.Tier != firebreak.Core {
				t.Errorf("signal %+v: a re-bind changed it", s)
			}
		})
		t.Run("group/"+tt.name, func(t *testing.T) {
			var rec1, rec2 firebreak.Recorder
			c := first
			c.Reporter = &rec1
			g, err := NewGroup[string, int](4, WithConsecutiveFailures(1))
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Bind(c); err != nil {
				t.Fatal(err)
			}
			again := tt.again
			again.Reporter = &rec2
			err = g.Bind(again)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("second Bind: %v, want %v", err, tt.wantErr)
			}
			if err != nil && err.Error()[:14] != "breaker group " {
				t.Errorf("error %q does not name the group", err)
			}
			_, _ = g.Execute(context.Background(), "eu", fail)
			if rec1.Len() != 1 || rec2.Len() != 0 {
				t.Fatalf("signals: first Reporter %d, second %d; want the first to stay", rec1.Len(), rec2.Len())
			}
		})
	}
}

// A group bound after its breakers were made binds them, and those made
// afterwards, to its component; the overflow breaker too.
func TestGroupBindReachesEveryBreaker(t *testing.T) {
	var rec firebreak.Recorder
	g, err := NewGroup[string, int](1, WithConsecutiveFailures(1))
	if err != nil {
		t.Fatal(err)
	}
	before := g.Breaker("before")
	_ = before.ForceOpen("INC-1")
	_ = g.Breaker("held").ForceOpen("INC-2") // the hard cap of 2 is reached
	overflow := g.Breaker("spilled")
	if overflow.Name() != "overflow" {
		t.Fatalf("breaker %q, want the overflow breaker", overflow.Name())
	}
	if err := g.Bind(firebreak.Component{Name: "crawler", Dependency: "web", Reporter: &rec}); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*Breaker[int]{before, overflow} {
		if err := b.Bind(firebreak.Component{Name: "crawler", Dependency: "other"}); !errors.Is(err, firebreak.ErrAlreadyBound) {
			t.Errorf("breaker %q: Bind to another component: %v, want already bound", b.Name(), err)
		}
	}
	_ = before.Release("INC-1 fixed")
	trip(t, overflow)
	var got []string
	for _, s := range rec.Signals() {
		if s.Component != "crawler" || s.Dependency != "web" {
			t.Errorf("signal %+v, want the group's identity", s)
		}
		got = append(got, s.Summary)
	}
	if len(got) != 2 {
		t.Fatalf("signals %q, want the release and the overflow trip", got)
	}
}

// Concurrent Binds to one identity: one fixes it, the others do nothing, and
// the state gauge moves once.
func TestBindConcurrent(t *testing.T) {
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	b, err := New[int](WithMeterProvider(mp), WithName("payments"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			errs[i] = b.Bind(testComponent(nil))
			_, _ = b.Execute(context.Background(), ok)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "firebreak.breaker.state" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				c, _ := dp.Attributes.Value(otelattr.Component)
				s, _ := dp.Attributes.Value(attrState)
				got[c.AsString()+"/"+s.AsString()] += dp.Value
				if tier, _ := dp.Attributes.Value(otelattr.Tier); c.AsString() != "" && tier.AsString() != "core" {
					t.Errorf("bound series %v: tier %q, want core", dp.Attributes.ToSlice(), tier.AsString())
				}
			}
		}
	}
	if diff := cmp.Diff(map[string]int64{"/closed": 0, "checkout/closed": 1}, got); diff != "" {
		t.Errorf("state gauge (-want +got):\n%s", diff)
	}
}

// SetFallback changes what a bound breaker's signals say, where a re-bind
// does not.
func TestSetFallback(t *testing.T) {
	var rec firebreak.Recorder
	b := newTest(t, &rec, WithConsecutiveFailures(1))
	b.SetFallback(true)
	trip(t, b)
	if s, _ := rec.Last(firebreak.KindBreakerOpen); !s.Fallback {
		t.Errorf("signal %+v, want Fallback after SetFallback(true)", s)
	}
}

// A nil meter provider is the global one, as OpenTelemetry's packages read
// it.
func TestNilMeterProviderIsGlobal(t *testing.T) {
	b, err := New[int](WithMeterProvider(nil))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := b.Execute(context.Background(), ok); v != 1 || err != nil {
		t.Fatalf("%d, %v", v, err)
	}
}

// A Group's breaker made after the group was bound shares the group's
// binding and component (to keep it small): it reports as the group's
// identity with its key's label, binding it again to that identity does
// nothing, and binding it to another is an error, as for a breaker bound on
// its own.
func TestGroupBreakerMadeAfterBindSharesIdentity(t *testing.T) {
	var rec firebreak.Recorder
	g, err := NewGroup[string, int](10, WithConsecutiveFailures(1))
	if err != nil {
		t.Fatal(err)
	}
	c := firebreak.Component{Name: "crawler", Dependency: "web", Tier: firebreak.Core, Reporter: &rec}
	if err := g.Bind(c); err != nil {
		t.Fatal(err)
	}
	a, b := g.Breaker("host-a"), g.Breaker("host-b")
	if a.Name() != "host-a" || b.Name() != "host-b" {
		t.Fatalf("names %q, %q; want the keys", a.Name(), b.Name())
	}
	if err := a.Bind(c); err != nil {
		t.Fatalf("Bind to the group's component: %v, want nil", err)
	}
	err = a.Bind(firebreak.Component{Name: "crawler", Dependency: "other", Tier: firebreak.Core})
	var abe *firebreak.AlreadyBoundError
	if !errors.As(err, &abe) || abe.Policy != `breaker "host-a"` || abe.Bound.Dependency != "web" {
		t.Fatalf("Bind to another component: %#v, want an AlreadyBoundError for breaker \"host-a\" bound to web", err)
	}
	trip(t, a)
	if s := b.State(); s != StateClosed {
		t.Fatalf("host-b %v after host-a tripped, want closed", s)
	}
	sigs := rec.Signals()
	if len(sigs) != 1 {
		t.Fatalf("signals %+v, want host-a's trip", sigs)
	}
	s := sigs[0]
	if s.Component != "crawler" || s.Dependency != "web" || s.Tier != firebreak.Core || s.Labels["key"] != "host-a" || len(s.Labels) != 1 {
		t.Fatalf("signal %+v, want crawler → web with label key=host-a", s)
	}
	_, err = a.Execute(context.Background(), okCall)
	var oe *OpenError
	if !errors.As(err, &oe) || oe.Name != "host-a" || oe.State != StateOpen {
		t.Fatalf("call on the tripped breaker: %v, want host-a's OpenError", err)
	}
	if _, err2 := a.Execute(context.Background(), okCall); err2 != err {
		t.Fatalf("second rejection %p, want the same error %p", err2, err)
	}
}
