package health

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Instrument names; see the package documentation.
const (
	meterName      = "github.com/firebreak-go/firebreak/health"
	metricStatus   = "firebreak.health.check.status"
	metricRuns     = "firebreak.health.check.runs"
	metricDuration = "firebreak.health.check.duration"
	attrCheck      = "health.check"
	attrStatus     = "health.status"
	attrResult     = "health.result"
	statusCount    = 4
	resultKinds    = 5
)

var resultNames = [resultKinds]string{resultPass, resultWarn, resultFail, resultTimeout, resultSkipped}

type instruments struct {
	status   metric.Int64ObservableGauge
	runs     metric.Int64Counter
	duration metric.Float64Histogram
	meter    metric.Meter

	mu     sync.Mutex // guards reg and closed
	reg    metric.Registration
	closed bool // unregister ran: a registration that comes later is undone
}

// checkAttrs holds a check's attribute sets, built once at registration so
// recording a run allocates nothing for attributes.
type checkAttrs struct {
	base   metric.MeasurementOption
	status [statusCount]metric.MeasurementOption
	result [resultKinds]metric.MeasurementOption
}

func newInstruments(mp metric.MeterProvider) (*instruments, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(meterName)
	in := &instruments{meter: m}
	var err error
	if in.status, err = m.Int64ObservableGauge(metricStatus,
		metric.WithDescription("1 for the check's current status, 0 for the other statuses (up, degraded, down, unknown)."),
		metric.WithUnit("1")); err != nil {
		return nil, fmt.Errorf("health: metric %s: %w", metricStatus, err)
	}
	if in.runs, err = m.Int64Counter(metricRuns,
		metric.WithDescription("Check runs by result: pass, warn, fail, timeout, skipped."),
		metric.WithUnit("{run}")); err != nil {
		return nil, fmt.Errorf("health: metric %s: %w", metricRuns, err)
	}
	if in.duration, err = m.Float64Histogram(metricDuration,
		metric.WithDescription("Duration of check runs."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)); err != nil {
		return nil, fmt.Errorf("health: metric %s: %w", metricDuration, err)
	}
	return in, nil
}

func (in *instruments) attrsFor(name string) checkAttrs {
	var a checkAttrs
	a.base = metric.WithAttributeSet(attribute.NewSet(attribute.String(attrCheck, name)))
	for s := Status(0); s < statusCount; s++ {
		a.status[s] = metric.WithAttributeSet(attribute.NewSet(attribute.String(attrCheck, name), attribute.String(attrStatus, s.String())))
	}
	for i, r := range resultNames {
		a.result[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String(attrCheck, name), attribute.String(attrResult, r)))
	}
	return a
}

func resultIndex(kind string) int {
	for i, r := range resultNames {
		if r == kind {
			return i
		}
	}
	return 2
}

func (in *instruments) recordRun(c *check, kind string, d time.Duration) {
	ctx := context.Background()
	in.runs.Add(ctx, 1, c.attrs.result[resultIndex(kind)])
	if kind != resultSkipped {
		in.duration.Record(ctx, d.Seconds(), c.attrs.base)
	}
}

func (in *instruments) register(r *Registry) error {
	reg, err := in.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		now := time.Now()
		for _, c := range r.snap.Load().all {
			st, _ := c.statusAt(now)
			for s := Status(0); s < statusCount; s++ {
				var v int64
				if s == st {
					v = 1
				}
				o.ObserveInt64(in.status, v, c.attrs.status[s])
			}
		}
		return nil
	}, in.status)
	if err != nil {
		return err
	}
	in.mu.Lock()
	closed := in.closed
	if !closed {
		in.reg = reg
	}
	in.mu.Unlock()
	if closed { // Close overtook Start, which registers outside the registry's lock
		_ = reg.Unregister()
	}
	return nil
}

func (in *instruments) unregister() {
	in.mu.Lock()
	reg := in.reg
	in.reg, in.closed = nil, true
	in.mu.Unlock()
	if reg != nil {
		_ = reg.Unregister()
	}
}
