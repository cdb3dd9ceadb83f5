package breaker

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/embedded"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// switchProvider is a MeterProvider whose instruments record only while on
// is set, as the global MeterProvider does before and after an SDK is
// installed.
type switchProvider struct {
	embedded.MeterProvider
	mp metric.MeterProvider
	on *atomic.Bool
}

func (p switchProvider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return switchMeter{Meter: p.mp.Meter(name, opts...), on: p.on}
}

type switchMeter struct {
	metric.Meter
	on *atomic.Bool
}

func (m switchMeter) Int64Counter(name string, opts ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	c, err := m.Meter.Int64Counter(name, opts...)
	return switchCounter{c, m.on}, err
}

func (m switchMeter) Int64UpDownCounter(name string, opts ...metric.Int64UpDownCounterOption) (metric.Int64UpDownCounter, error) {
	c, err := m.Meter.Int64UpDownCounter(name, opts...)
	return switchUpDown{c, m.on}, err
}

type switchCounter struct {
	metric.Int64Counter
	on *atomic.Bool
}

func (c switchCounter) Enabled(ctx context.Context) bool {
	return c.on.Load() && c.Int64Counter.Enabled(ctx)
}

func (c switchCounter) Add(ctx context.Context, n int64, opts ...metric.AddOption) {
	if c.on.Load() {
		c.Int64Counter.Add(ctx, n, opts...)
	}
}

type switchUpDown struct {
	metric.Int64UpDownCounter
	on *atomic.Bool
}

func (c switchUpDown) Enabled(ctx context.Context) bool {
	return c.on.Load() && c.Int64UpDownCounter.Enabled(ctx)
}

func (c switchUpDown) Add(ctx context.Context, n int64, opts ...metric.AddOption) {
	if c.on.Load() {
		c.Int64UpDownCounter.Add(ctx, n, opts...)
	}
}

// TestMetricsTurnedOnLater: a breaker made while metrics are not recorded
// builds no attribute set, and once they are, counts its calls and enters
// the state gauge at its first state change, never below zero.
func TestMetricsTurnedOnLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := sdkmetric.NewManualReader()
		sdk := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
		defer func() { _ = sdk.Shutdown(context.Background()) }()
		on := new(atomic.Bool)
		b := newTest(t, nil, WithMeterProvider(switchProvider{mp: sdk, on: on}), WithConsecutiveFailures(2),
			WithFailureRatio(0, 0), WithOpenTimeout(10*time.Second))
		ctx := context.Background()
		for range 100 {
			_, _ = b.Execute(ctx, ok)
		}
		if a := b.id.Load().attrsP.Load(); a != nil {
			t.Errorf("attribute sets built while metrics were off: %+v", a)
		}
		if got := collect(t, r, "firebreak.breaker.calls"); len(got) != 0 {
			t.Errorf("calls while metrics were off: %v", got)
		}
		on.Store(true)
		_, _ = b.Execute(ctx, ok)
		_, _ = b.Execute(ctx, fail)
		_, _ = b.Execute(ctx, fail) // trips
		_, _ = b.Execute(ctx, ok)   // rejected
		if diff := cmp.Diff(map[string]int64{"success": 1, "failure": 2, "rejected": 1}, collect(t, r, "firebreak.breaker.calls")); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]int64{"open": 1}, collect(t, r, "firebreak.breaker.state")); diff != "" {
			t.Errorf("state after the trip (-want +got):\n%s", diff)
		}
		time.Sleep(11 * time.Second)     // the open timeout, with its jitter
		for range DefaultHalfOpenCalls { // the half-open trials close it
			_, _ = b.Execute(ctx, ok)
		}
		if s := b.State(); s != StateClosed {
			t.Fatalf("state %v after the trials, want closed", s)
		}
		if diff := cmp.Diff(map[string]int64{"open": 0, "half_open": 0, "closed": 1}, collect(t, r, "firebreak.breaker.state")); diff != "" {
			t.Errorf("state after recovery (-want +got):\n%s", diff)
		}
	})
}
