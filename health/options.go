package health

import (
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/firebreak-go/firebreak"
)

// Defaults for a check registered without options.
const (
	DefaultInterval         = 10 * time.Second
	DefaultTimeout          = time.Second
	DefaultFailureThreshold = 1
	DefaultSuccessThreshold = 1
	// DefaultEventBuffer is how many transitions wait for the Reporter and
	// the logger by default (see [WithEventBuffer]).
	DefaultEventBuffer = 256
)

// An Option configures a [Registry] made by [New]. Options are sealed: only
// this package defines them.
type Option interface{ apply(*config) }

type config struct {
	logger        *slog.Logger
	meterProvider metric.MeterProvider
	authorizer    firebreak.Authorizer
	eventBuffer   int
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithLogger sets the logger that receives every failing check's full error,
// transitions and abandoned runs; nil means [slog.Default]. Default:
// [slog.Default].
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithMeterProvider sets where the package's metrics go; nil means the
// global provider. Default: the global provider
// ([go.opentelemetry.io/otel.GetMeterProvider]).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}

// WithAuthorizer sets who may see failure reasons, error text and observed
// values in the probes' answers, and who may run inspections
// ([Registry.InspectHandler]). Every such request is authorised as
// [firebreak.ActionRead], so the tokens of the operations API
// ([firebreak.BearerTokens], [firebreak.BearerTokensWithRoles]) work here
// too, a Viewer's included. The probes themselves stay open: a caller who is
// not admitted gets the status code and check names only. nil means the
// default. Default: nobody is admitted; details are withheld ("reason
// withheld") and go only to the log.
func WithAuthorizer(a firebreak.Authorizer) Option {
	return optionFunc(func(c *config) { c.authorizer = a })
}

// WithEventBuffer sets how many transitions may wait for the Reporter and
// logger before further ones are dropped (and counted, see
// [Registry.Dropped]). It must be from 1 to 1<<20 (a larger channel is
// memory no process has). Default: [DefaultEventBuffer] (256).
func WithEventBuffer(n int) Option {
	return optionFunc(func(c *config) { c.eventBuffer = n })
}

// A CheckOption configures one check passed to [Registry.Register]. Options
// are sealed: only this package defines them.
type CheckOption interface{ applyCheck(*checkConfig) }

type checkConfig struct {
	groups           Group
	critical         bool
	interval         time.Duration
	timeout          time.Duration
	failureThreshold int
	successThreshold int
	staleAfter       time.Duration
	comp             *firebreak.Component // set by ForComponent
	componentType    string
	measurement      string
}

type checkOptionFunc func(*checkConfig)

func (f checkOptionFunc) applyCheck(c *checkConfig) { f(c) }

// InGroups puts the check in the given groups (combine with |, or pass
// several). Default: [Readiness] alone.
func InGroups(groups ...Group) CheckOption {
	return checkOptionFunc(func(c *checkConfig) {
		c.groups = 0
		for _, g := range groups {
			c.groups |= g
		}
	})
}

// NonCritical marks the check as non-critical: when it fails, its groups
// are degraded (still 200) instead of down. Default: critical.
func NonCritical() CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.critical = false })
}

// WithInterval sets how often the check runs; it must be positive. Default:
// [DefaultInterval] (10 s).
func WithInterval(d time.Duration) CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.interval = d })
}

// WithTimeout sets the deadline of each run. A run that overruns it counts
// as a failure and is abandoned. It must be positive and no longer than the
// interval. Default: [DefaultTimeout] (1 s).
func WithTimeout(d time.Duration) CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.timeout = d })
}

// WithFailureThreshold sets how many consecutive failed runs take the check
// down; it must be at least 1. Default: 1.
func WithFailureThreshold(n int) CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.failureThreshold = n })
}

// WithSuccessThreshold sets how many consecutive passing runs bring the
// check up (from unknown or down); it must be at least 1. Default: 1.
func WithSuccessThreshold(n int) CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.successThreshold = n })
}

// WithStaleAfter sets how old the latest result may be before the check is
// reported unknown; it must be at least the interval plus the timeout.
// Default: twice the interval plus the timeout.
func WithStaleAfter(d time.Duration) CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.staleAfter = d })
}

// ForComponent says what the check probes: the component c and its
// dependency, the same [firebreak.Component] value the component's
// [firebreak.Pipeline] (or breaker) is bound to. The check's signals then
// carry c.Name, c.Dependency and c.Tier and go to c.Reporter (the
// registry's Reporter when c.Reporter is nil), so the Board puts a failing
// check and the breaker on the same dependency in one incident by identity,
// whatever the check is called. c must be valid ([firebreak.Component.Validate]).
// Default: the registry's component (see [Registry.Bind]), with no
// dependency.
func ForComponent(c firebreak.Component) CheckOption {
	return checkOptionFunc(func(cfg *checkConfig) { cfg.comp = &c })
}

// WithComponentType sets the application/health+json componentType:
// "component", "datastore", "system" or a URI. It must not be empty.
// Default: "component".
func WithComponentType(t string) CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.componentType = t })
}

// WithMeasurement sets the application/health+json measurement name, so
// the check's key becomes "name:measurement" (e.g. "disk:utilization"). It
// must not contain ':'. Default: none.
func WithMeasurement(m string) CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.measurement = m })
}

// A BaselineOption configures a [Baseline] made by [NewBaseline]. Options
// are sealed: only this package defines them.
type BaselineOption interface{ applyBaseline(*baselineConfig) }

type baselineConfig struct {
	alpha        float64
	band         float64
	warmUp       int
	direction    Direction
	minBand      float64
	relearnAfter int
	unit         string
}

type baselineOptionFunc func(*baselineConfig)

func (f baselineOptionFunc) applyBaseline(c *baselineConfig) { f(c) }

// WithAlpha sets the weight of each new sample in the moving average of the
// values; the deviation's average moves five times slower, so the band is
// steady. It must be in (0, 1). Default: 0.1 (about the last 20 samples set
// the mean).
func WithAlpha(a float64) BaselineOption {
	return baselineOptionFunc(func(c *baselineConfig) { c.alpha = a })
}

// WithBand sets how many mean absolute deviations from the mean a sample may
// be before it is abnormal; it must be positive. Default: 6 (about 4.8
// standard deviations of normally distributed noise: in simulation, about 4
// false flags per million samples).
func WithBand(k float64) BaselineOption {
	return baselineOptionFunc(func(c *baselineConfig) { c.band = k })
}

// WithMinBand sets the smallest distance from the mean that counts as
// abnormal, so a nearly constant metric is not flagged for a tiny change.
// It must not be negative. Default: 0.
func WithMinBand(d float64) BaselineOption {
	return baselineOptionFunc(func(c *baselineConfig) { c.minBand = d })
}

// WithWarmUp sets how many samples are learned before any is judged; it
// must be at least 2. Default: 20.
func WithWarmUp(n int) BaselineOption {
	return baselineOptionFunc(func(c *baselineConfig) { c.warmUp = n })
}

// WithDirection sets which side is abnormal. Default: [Both].
func WithDirection(d Direction) BaselineOption {
	return baselineOptionFunc(func(c *baselineConfig) { c.direction = d })
}

// WithRelearnAfter sets after how many consecutive outliers the baseline
// accepts the new level as normal and warms up again; 0 means never (an
// outlying level fails until it returns to normal). Default: 60.
func WithRelearnAfter(n int) BaselineOption {
	return baselineOptionFunc(func(c *baselineConfig) { c.relearnAfter = n })
}

// WithUnit sets the unit observed with each sample (e.g. "s", "By",
// "percent"). Default: none.
func WithUnit(u string) BaselineOption {
	return baselineOptionFunc(func(c *baselineConfig) { c.unit = u })
}

// maxEventBuffer bounds [WithEventBuffer]: make(chan event, n) of a larger
// n fails the process (out of memory, not a recoverable panic).
const maxEventBuffer = 1 << 20
