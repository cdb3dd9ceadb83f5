package breaker

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/otelattr"
	"github.com/firebreak-go/firebreak/internal/race"
	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// collect returns the int64 sum data points of metric name, keyed by the
// value of attribute key (and "from>to" for transitions). It leaves out the
// series of the breaker before it was bound (no firebreak.component), which
// Bind leaves at 0 (TestMetricsRebind checks it).
func collect(t *testing.T, r *sdkmetric.ManualReader, name string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != instrumentationName {
			continue
		}
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				t.Fatalf("%s: data %T, want Sum[int64]", name, m.Data)
			}
			for _, dp := range sum.DataPoints {
				if _, bound := dp.Attributes.Value(otelattr.Component); !bound && dp.Value == 0 {
					continue
				}
				if v, _ := dp.Attributes.Value(attrName); v.AsString() != "payments" {
					t.Errorf("%s: breaker name %q", name, v.AsString())
				}
				var k string
				for _, key := range []attribute.Key{attrOutcome, attrState} {
					if v, ok := dp.Attributes.Value(key); ok {
						k = v.AsString()
					}
				}
				if from, ok := dp.Attributes.Value(attrFrom); ok {
					to, _ := dp.Attributes.Value(attrTo)
					k = from.AsString() + ">" + to.AsString()
				}
				out[k] += dp.Value
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
		defer func() { _ = mp.Shutdown(context.Background()) }()
		b := newTest(t, nil, WithMeterProvider(mp), WithConsecutiveFailures(2), WithFailureRatio(0, 0),
			WithSlowCall(time.Second), WithOpenTimeout(10*time.Second))
		ctx := context.Background()
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		_, _ = b.Execute(ctx, ok)
		_, _ = b.Execute(ctx, ok)
		_, _ = b.Execute(cancelled, func(ctx context.Context) (int, error) { return 0, ctx.Err() })
		_, _ = b.Execute(ctx, func(context.Context) (int, error) { time.Sleep(2 * time.Second); return 1, nil })
		_, _ = b.Execute(ctx, fail)
		if diff := cmp.Diff(map[string]int64{"closed": 0, "open": 1}, collect(t, r, "firebreak.breaker.state")); diff != "" {
			t.Errorf("state while open (-want +got):\n%s", diff)
		}
		_, _ = b.Execute(ctx, ok)
		_, _ = b.Execute(ctx, ok)
		time.Sleep(11 * time.Second)
		_, _ = b.Execute(ctx, ok)

		wantCalls := map[string]int64{"success": 3, "slow": 1, "failure": 1, "excluded": 1, "rejected": 2}
		if diff := cmp.Diff(wantCalls, collect(t, r, "firebreak.breaker.calls")); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		wantState := map[string]int64{"closed": 1, "open": 0, "half_open": 0}
		if diff := cmp.Diff(wantState, collect(t, r, "firebreak.breaker.state")); diff != "" {
			t.Errorf("state (-want +got):\n%s", diff)
		}
		wantTrans := map[string]int64{"closed>open": 1, "open>half_open": 1, "half_open>closed": 1}
		if diff := cmp.Diff(wantTrans, collect(t, r, "firebreak.breaker.transitions")); diff != "" {
			t.Errorf("transitions (-want +got):\n%s", diff)
		}
	})
}

// Bind moves the state gauge to the pipeline's identity, so it never counts a
// breaker twice.
func TestMetricsRebind(t *testing.T) {
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	b, err := New[int](WithMeterProvider(mp), WithName("payments"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "payments"}, []firebreak.Policy[int]{b}); err != nil {
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
			}
		}
	}
	if diff := cmp.Diff(map[string]int64{"/closed": 0, "checkout/closed": 1}, got); diff != "" {
		t.Errorf("state gauge (-want +got):\n%s", diff)
	}
}

func TestAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	ctx := context.Background()
	r := sdkmetric.NewManualReader()
	sdk := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	defer func() { _ = sdk.Shutdown(ctx) }()
	for _, tt := range []struct {
		name string
		opts []Option
	}{
		{"global-meter", nil},
		{"sdk-meter", []Option{WithMeterProvider(sdk)}},
		{"slow-call-on", []Option{WithSlowCall(time.Hour)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newTest(t, nil, tt.opts...)
			if n := testing.AllocsPerRun(1000, func() { _, _ = b.Execute(ctx, ok) }); n != 0 {
				t.Errorf("Execute success: %v allocs, want 0", n)
			}
			// A real caller's context can end: the breaker reads the clock
			// for it, and allocates nothing more (the warm-up run makes the
			// context's Done channel, once).
			cctx, cancel := context.WithTimeout(ctx, time.Hour)
			defer cancel()
			if n := testing.AllocsPerRun(1000, func() { _, _ = b.Execute(cctx, ok) }); n != 0 {
				t.Errorf("Execute success, cancellable context: %v allocs, want 0", n)
			}
			if n := testing.AllocsPerRun(1000, func() { _, _ = b.Apply(ctx, firebreak.Call(ok)) }); n != 0 {
				t.Errorf("Apply success: %v allocs, want 0", n)
			}
			p, err := firebreak.NewPipeline(testComponent(nil), []firebreak.Policy[int]{b})
			if err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(1000, func() { _, _ = p.Execute(ctx, ok) }); n != 0 {
				t.Errorf("pipeline success: %v allocs, want 0", n)
			}
			_ = b.SetState(StateOpen)
			if n := testing.AllocsPerRun(1000, func() { _, _ = b.Execute(ctx, ok) }); n != 0 {
				t.Errorf("open rejection: %v allocs, want 0", n)
			}
			_ = b.ForceOpen("test")
			if n := testing.AllocsPerRun(1000, func() { _, _ = b.Execute(ctx, ok) }); n != 0 {
				t.Errorf("forced rejection: %v allocs, want 0", n)
			}
		})
	}
	g := newTestGroup(t, 4, nil)
	_, _ = g.Execute(ctx, "k", ok)
	if n := testing.AllocsPerRun(1000, func() { _, _ = g.Execute(ctx, "k", ok) }); n != 0 {
		t.Errorf("group success: %v allocs, want 0", n)
	}
	gp, err := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "shards"},
		[]firebreak.Policy[int]{g.Policy(func(context.Context) string { return "k" })})
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = gp.Execute(ctx, ok) }); n != 0 {
		t.Errorf("group policy success: %v allocs, want 0", n)
	}
}
