package health

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
)

// Direction says which side of a [Baseline] counts as abnormal.
type Direction int8

const (
	// Both flags values far above or far below the baseline.
	Both Direction = iota
	// Above flags only values far above it (latency, memory, error rate).
	Above
	// Below flags only values far below it (throughput, free space).
	Below
)

// Baseline is the plan's "dynamic threshold": a check over any sampled
// metric that learns what is normal for this service instead of comparing
// with a fixed line. It keeps an exponentially weighted moving average of
// the samples and of their absolute deviation from it; after a warm-up, a
// sample further from the mean than Band times the deviation (and at least
// MinBand) fails the check. Outliers are not learned, so a step change keeps
// failing until RelearnAfter consecutive outliers, when the baseline accepts
// the new level and warms up again from it.
//
// Ordinary noise stays inside the band; a step change does not. It is safe
// for concurrent use.
type Baseline struct {
	sample func(context.Context) (float64, error)
	cfg    baselineConfig

	mu       sync.Mutex // guards the fields below
	n        int        // samples learned since the last (re)start
	mean     float64
	dev      float64
	outliers int // consecutive
}

var _ Checker = (*Baseline)(nil)

// NewBaseline returns a dynamic-threshold check over the values sample
// returns. Register it like any check; each run takes one sample.
func NewBaseline(sample func(ctx context.Context) (float64, error), opts ...BaselineOption) (*Baseline, error) {
	if sample == nil {
		return nil, errors.New("health: NewBaseline: sample is nil")
	}
	cfg := baselineConfig{alpha: 0.1, band: 6, warmUp: 20, relearnAfter: 60}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("health: NewBaseline: option %d is nil", i)
		}
		o.applyBaseline(&cfg)
	}
	var errs []error
	if !(cfg.alpha > 0 && cfg.alpha < 1) {
		errs = append(errs, fmt.Errorf("WithAlpha(%v): must be in (0, 1)", cfg.alpha))
	}
	if !(cfg.band > 0) || math.IsInf(cfg.band, 0) {
		errs = append(errs, fmt.Errorf("WithBand(%v): must be positive and finite", cfg.band))
	}
	if !(cfg.minBand >= 0) || math.IsInf(cfg.minBand, 0) {
		errs = append(errs, fmt.Errorf("WithMinBand(%v): must be finite and not negative", cfg.minBand))
	}
	if cfg.warmUp < 2 {
		errs = append(errs, fmt.Errorf("WithWarmUp(%d): must be at least 2", cfg.warmUp))
	}
	if cfg.direction < Both || cfg.direction > Below {
		errs = append(errs, fmt.Errorf("WithDirection(%d): must be Both, Above or Below", cfg.direction))
	}
	if cfg.relearnAfter < 0 {
		errs = append(errs, fmt.Errorf("WithRelearnAfter(%d): must not be negative", cfg.relearnAfter))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("health: NewBaseline: %w", errors.Join(errs...))
	}
	return &Baseline{sample: sample, cfg: cfg}, nil
}

// Check takes one sample, observes it and judges it with [Baseline.Update].
func (b *Baseline) Check(ctx context.Context) error {
	x, err := b.sample(ctx)
	if err != nil {
		return err
	}
	Observe(ctx, x, b.cfg.unit)
	return b.Update(x)
}

// Update judges x against the baseline and learns it unless it is an
// outlier. It returns nil for a normal value (and during warm-up) and an
// error describing the deviation otherwise. Non-finite values are errors and
// are not learned.
func (b *Baseline) Update(x float64) error {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Errorf("baseline: sample %v is not a finite number", x)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n < b.cfg.warmUp {
		b.learnWarmUp(x)
		return nil
	}
	band := max(b.cfg.band*b.dev, b.cfg.minBand)
	d := x - b.mean
	high := d > band && b.cfg.direction != Below
	low := -d > band && b.cfg.direction != Above
	if !high && !low {
		b.outliers = 0
		b.dev += b.cfg.alpha / 5 * (math.Abs(d) - b.dev)
		b.mean += b.cfg.alpha * d
		return nil
	}
	b.outliers++
	mean, n := b.mean, b.outliers
	if b.cfg.relearnAfter > 0 && b.outliers >= b.cfg.relearnAfter {
		b.n, b.mean, b.dev, b.outliers = 0, 0, 0, 0
		b.learnWarmUp(x)
	}
	side := "above"
	if low {
		side = "below"
	}
	return fmt.Errorf("baseline: %.4g%s is %s the normal range %.4g ± %.4g (%d consecutive)", x, unitSuffix(b.cfg.unit), side, mean, band, n)
}

// learnWarmUp folds x into exact running averages, so the band is sound as
// soon as warm-up ends. b.mu must be held.
func (b *Baseline) learnWarmUp(x float64) {
	b.n++
	if b.n == 1 {
		b.mean, b.dev = x, 0
		return
	}
	d := math.Abs(x - b.mean)
	b.mean += (x - b.mean) / float64(b.n)
	b.dev += (d - b.dev) / float64(b.n-1)
}

func unitSuffix(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}

// Stats returns the current mean, the band (the largest normal distance from
// it) and whether warm-up is over.
func (b *Baseline) Stats() (mean, band float64, warm bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mean, max(b.cfg.band*b.dev, b.cfg.minBand), b.n >= b.cfg.warmUp
}
