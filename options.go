package firebreak

import "log/slog"

// BoardOption configures a Board.
type BoardOption interface{ applyBoard(*boardConfig) }

type boardConfig struct {
	plan      *Plan
	env       string
	retention int
	maxAlerts int
	maxLines  int
	queueSize int
	logger    *slog.Logger
	notifiers []Notifier
	names     []string // per notifier: its receiver name, or "" (WithNotifier)
	route     *Route
	known     []string
	archive   Archive // WithArchive (archive.go)

	fleet *fleetConfig // WithStore, WithSyncInterval (fleet_sync.go)
}

type boardOptionFunc func(*boardConfig)

func (f boardOptionFunc) applyBoard(c *boardConfig) { f(c) }

// WithPlan sets the emergency plan. Default: [DefaultPlan]().
func WithPlan(p *Plan) BoardOption { return boardOptionFunc(func(c *boardConfig) { c.plan = p }) }

// WithEnv sets the "env" label of every alert, e.g. "prod". Default: none.
func WithEnv(env string) BoardOption { return boardOptionFunc(func(c *boardConfig) { c.env = env }) }

// WithNotifier adds a notifier. Each notifier gets its own bounded queue and
// delivery goroutine. Default: none.
func WithNotifier(n Notifier) BoardOption {
	return boardOptionFunc(func(c *boardConfig) {
		c.notifiers = append(c.notifiers, n)
		c.names = append(c.names, "")
	})
}

// WithNotifierNamed adds a notifier that routes name as a receiver (see
// [Route]): with a route, it gets only what the routes send it; without
// one, everything, like a notifier added with [WithNotifier]. Names are
// unique and not empty. Default: none.
func WithNotifierNamed(name string, n Notifier) BoardOption {
	return boardOptionFunc(func(c *boardConfig) {
		c.notifiers = append(c.notifiers, n)
		c.names = append(c.names, name)
	})
}

// WithRoute sets the root of the routing tree, in place of the plan's
// [Plan].Route; it is validated as the plan's would be, with paths
// starting "route". Default: the plan's route; with neither, every notifier
// gets every notification.
func WithRoute(root Route) BoardOption {
	return boardOptionFunc(func(c *boardConfig) { c.route = root.clone() })
}

// WithQueueSize bounds each notifier's queue: up to n incidents with a
// routine update waiting (routine updates of one incident coalesce into the
// latest) and 4·n lifecycle events, which are delivered before routine
// updates and dropped only as a last resort (see [Event.Routine]); what is
// dropped is counted in [BoardStats]. Default: 256.
func WithQueueSize(n int) BoardOption {
	return boardOptionFunc(func(c *boardConfig) { c.queueSize = n })
}

// WithRetention bounds how many resolved and closed incidents are kept; the
// oldest are forgotten first. Default: 1000.
func WithRetention(n int) BoardOption {
	return boardOptionFunc(func(c *boardConfig) { c.retention = n })
}

// WithMaxAlerts bounds how many distinct alerts the board tracks at once.
// An alert is tracked while its incident is open (and, once resolved, while a
// None-graded alert is recorded against it within the reopen window); a
// resolved incident releases its alerts. At the bound the board evicts what
// matters least — first the oldest cleared alert, then the oldest firing alert
// graded None, and, for a signal graded General or above, the oldest alert
// kept only in its kind's aggregate (see [MaxAlertsPerIncident]) — before it
// refuses anything. A signal the plan grades General or above is never
// refused. A refused signal is counted in [BoardStats].AlertsDropped, logged
// (at most once a minute) and raises the board's own [KindBoardOverflow]
// alert. Default: 10000.
func WithMaxAlerts(n int) BoardOption {
	return boardOptionFunc(func(c *boardConfig) { c.maxAlerts = n })
}

// WithTimelineLimit bounds the entries of one incident's timeline; past it,
// routine signal entries are omitted and counted, while state and severity
// changes are always kept. Default: 500.
func WithTimelineLimit(n int) BoardOption {
	return boardOptionFunc(func(c *boardConfig) { c.maxLines = n })
}

// WithLogger sets where the board logs notifier failures. Default:
// slog.Default().
func WithLogger(l *slog.Logger) BoardOption {
	return boardOptionFunc(func(c *boardConfig) { c.logger = l })
}

// WithComponents declares the components the public status shows, even
// before they report anything; no other component name is ever shown there.
// A name must not be empty, repeated, padded with spaces or hold control
// characters: NewBoard returns an error naming it. Default: none.
func WithComponents(names ...string) BoardOption {
	return boardOptionFunc(func(c *boardConfig) { c.known = append(c.known, names...) })
}
