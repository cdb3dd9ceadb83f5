package health

import (
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// Defaults for a check registered without options.
const (
	DefaultInterval         = 10 * time.Second
	DefaultTimeout          = time.Second
	DefaultFailureThreshold = 1
	DefaultSuccessThreshold = 1
)

// An Option configures a [Registry]. Options are sealed: only this package
// defines them.
type Option interface{ apply(*config) }

type config struct {
	logger        *slog.Logger
	meterProvider metric.MeterProvider
	authorizer    Authorizer
	eventBuffer   int
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithLogger sets the logger that receives every failing check's full error,
// transitions and abandoned runs. The default is [slog.Default]. A nil logger
// means the default.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithMeterProvider sets where the package's metrics go. The default is the
// global provider ([go.opentelemetry.io/otel.GetMeterProvider]); nil means the
// default.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}

// WithAuthorizer sets who may see failure reasons, error text and observed
// values in the HTTP responses. The default admits nobody: details are
// withheld ("reason withheld") and go only to the log. nil means the default.
func WithAuthorizer(a Authorizer) Option {
	return optionFunc(func(c *config) { c.authorizer = a })
}

// WithEventBuffer sets how many transitions may wait for the reporter and
// logger before further ones are dropped (and counted, see
// [Registry.Dropped]). The default is 256; it must be at least 1.
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
	dependency       string
	componentType    string
	measurement      string
}

type checkOptionFunc func(*checkConfig)

func (f checkOptionFunc) applyCheck(c *checkConfig) { f(c) }

// InGroups puts the check in the given groups (combine with |, or pass
// several). The default is [Readiness] alone.
func InGroups(groups ...Group) CheckOption {
	return checkOptionFunc(func(c *checkConfig) {
		c.groups = 0
		for _, g := range groups {
			c.groups |= g
		}
	})
}

// NonCritical marks the check as non-critical: when it fails, its groups
// are degraded (still 200) instead of down. Checks are critical by default.
func NonCritical() CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.critical = false })
}

// WithInterval sets how often the check runs. The default is
// [DefaultInterval] (10 s); it must be positive.
func WithInterval(d time.Duration) CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.interval = d })
}

// WithTimeout sets the deadline of each run. A run that overruns it counts
// as a failure and is abandoned. The default is [DefaultTimeout] (1 s); it
// must be positive and no longer than the interval.
func WithTimeout(d time.Duration) CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.timeout = d })
}

// WithFailureThreshold sets how many consecutive failed runs take the check
// down. The default is 1; it must be at least 1.
func WithFailureThreshold(n int) CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.failureThreshold = n })
}

// WithSuccessThreshold sets how many consecutive passing runs bring the
// check up (from unknown or down). The default is 1; it must be at least 1.
func WithSuccessThreshold(n int) CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.successThreshold = n })
}

// WithStaleAfter sets how old the latest result may be before the check is
// reported unknown. The default is twice the interval plus the timeout; it
// must be at least the interval plus the timeout.
func WithStaleAfter(d time.Duration) CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.staleAfter = d })
}

// WithDependency names what the check probes, for signals
// ([firebreak.Signal.Dependency]). The default is the check's name.
func WithDependency(name string) CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.dependency = name })
}

// WithComponentType sets the application/health+json componentType:
// "component", "datastore", "system" or a URI. The default is "component".
func WithComponentType(t string) CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.componentType = t })
}

// WithMeasurement sets the application/health+json measurement name, so
// the check's key becomes "name:measurement" (e.g. "disk:utilization"). The
// default is none. It must not contain ':'.
func WithMeasurement(m string) CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.measurement = m })
}
