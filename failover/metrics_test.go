package failover

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover/internal/event"
)

// events collects the firebreak.failover.events counter by its policy and
// event attributes.
func events(t *testing.T, r *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != scope {
			t.Errorf("scope %q, want %q", sm.Scope.Name, scope)
		}
		for _, m := range sm.Metrics {
			if m.Name != event.Instrument {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				p, _ := dp.Attributes.Value(attribute.Key("firebreak.policy"))
				e, _ := dp.Attributes.Value(attribute.Key("firebreak.event"))
				c, _ := dp.Attributes.Value(attribute.Key("firebreak.component"))
				if c.AsString() != "shop" {
					t.Errorf("component attribute %q, want shop", c.AsString())
				}
				out[p.AsString()+"/"+e.AsString()] += dp.Value
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer mp.Shutdown(context.Background())
		var rec firebreak.Recorder
		mpo := WithMeterProvider(mp)

		r, _ := bound(NewRetry[int](WithMaxAttempts(3), WithJitter(0), mpo))(&rec)
		r.Execute(t.Context(), func(context.Context) (int, error) { return 0, errBoom })
		f, _ := bound(NewFallback(Static(1), mpo))(&rec)
		f.Execute(t.Context(), func(context.Context) (int, error) { return 0, errBoom })
		s, _ := bound(NewShedder(1, 1, WithCriticalReserve(0), mpo))(&rec)
		s.admit(PriorityNormal)
		s.admit(PriorityNormal)
		s.admit(PriorityNormal)
		d, _ := bound(NewDegrader(mpo))(&rec)
		d.SetMode(ModeMinimal, "drill")
		time.Sleep(time.Second)

		got := events(t, reader)
		want := map[string]int64{
			"retry/retry": 2, "retry/gave_up_attempts": 1,
			"fallback/fallback_served": 1,
			"shed/shed_rate_limited":   2,
			"degrade/mode_minimal":     1,
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
			}
		}
	})
}
