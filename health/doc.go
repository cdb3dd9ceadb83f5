// Package health runs a service's health checks in the background and serves
// their cached results as Kubernetes probes (/livez, /readyz, /startupz), as
// application/health+json, as OpenTelemetry metrics, and as
// [firebreak.KindHealthFailed] signals into the incident model.
//
//	reg, _ := health.New()
//	reg.Bind(firebreak.Component{Name: "checkout", Tier: firebreak.Core, Reporter: board})
//	reg.Register("db-ping", health.Ping(db), health.ForComponent(payments)) // the payments pipeline's Component
//	reg.Register("cache", health.TCPDial("redis:6379"), health.NonCritical())
//	reg.Start(ctx) // returns once every check has its first result
//	defer reg.Close(context.Background())
//	mux.Handle("/", reg.Handler()) // /livez /readyz /startupz /health
//
// # Checks and groups
//
// A check is a [Checker] (or a [CheckFunc]) registered under a unique name,
// in one or more groups: [Startup], [Liveness], [Readiness] (the default).
// Each check runs once per interval ([WithInterval], default 10 s) whatever
// the request rate and however many groups it is in; handlers only read the
// latest result. Keep shared dependencies out of liveness: a database outage
// should take replicas out of rotation, not restart them all.
//
// Built-in checks: [TCPDial], [HTTPGet], [Ping] (any [Pinger], so *sql.DB
// works as is), [DNS], [DiskFree], [Heap], [Goroutines], [FileFresh], and
// [Backup] (the latest backup is recent and matches its sha256sum sidecar).
// [NewBaseline] is a dynamic threshold over any sampled metric. A built-in
// given bad arguments makes [Registry.Register] return an error naming the
// argument. Package healthtest has a check that tests can tell to fail.
//
// # Runs, timeouts and thresholds
//
// Every run gets its own context with the check's deadline ([WithTimeout],
// default 1 s), detached from HTTP requests: a client that hangs up cannot
// poison a result. A run that overruns its deadline fails with [ErrTimeout]
// and is abandoned; while it has not returned, no new run of that check is
// started and each skipped cycle fails with [ErrStillRunning], so a check
// that ignores its context holds at most one goroutine. Abandoned runs are
// counted ([CheckState].Abandoned).
//
// A panic in a check (or in its error's Error method) fails the run with a
// [*PanicError], which matches [ErrPanic]. Its text is one short, stable
// line — `health: check "db" panicked: <value>` — with the stack kept in
// PanicError.Stack, out of the text, so the log's "once per change" rule
// holds: a check that panics every interval logs its error once, and its
// stack once per distinct panic value (at most four) until it passes again.
//
// A check goes down after [WithFailureThreshold] consecutive failures and up
// after [WithSuccessThreshold] consecutive passes (both default 1); until
// then it keeps its status. A run that returns an error marked with [Warn]
// passes, and the check is degraded.
//
// # Statuses and aggregation
//
// A check is [StatusUnknown] before its first result and whenever its latest
// result is older than [WithStaleAfter] (default twice the interval plus the
// timeout), so a wedged or stopped runner never looks healthy. A group is:
//
//  1. down if a critical check is down;
//  2. otherwise unknown if a critical check is unknown;
//  3. otherwise degraded if any check is degraded or a [NonCritical] check
//     is down or unknown;
//  4. otherwise up (an empty group is up).
//
// Up and degraded answer 200, down answers 503. Unknown answers 503 for
// readiness, startup and the JSON endpoint, and 200 for liveness (a process
// must not be restarted because a check has not run yet). After
// [Registry.Drain], readiness is down. Startup latches: once it has passed
// it keeps passing.
//
// # Endpoints
//
// [Registry.Handler] serves, relative to its mount point:
//
//   - /livez, /readyz, /startupz in the Kubernetes API server's format: body
//     "ok" on success; with ?verbose one line per check and a verdict line,
//     "readyz check passed" or "readyz check failed"; repeatable
//     ?exclude=name ("[+]db excluded: ok", and "warn: some health checks
//     cannot be excluded: no matches for "x"" for unknown names). A failure
//     is always verbose. The Kubernetes API server answers 500 on failure;
//     this package answers 503, as most libraries and load balancers expect
//     (the kubelet treats both as failure).
//   - /readyz/<name> (and /livez/<name>, /startupz/<name>): the check
//     alone: "ok", or 503 "internal server error: reason withheld". Here a
//     [NonCritical] check that is down answers 503: the question is about
//     that check.
//   - /health: every check as application/health+json
//     (draft-inadarei-api-health-check-06): status pass, warn or fail;
//     checks keyed "name" or "name:measurement" ([WithMeasurement]), each
//     with componentId, componentType, status, time, and the extra fields
//     health (up, degraded, down, unknown) and critical. /livez, /readyz
//     and /startupz answer in this format too when the Accept header asks
//     for application/health+json.
//
// # Text format
//
// A check line has one of the API server's two forms, and nothing else:
// "[+]name ok" or "[-]name failed: reason withheld" (authorised callers
// see the reason in place of "reason withheld"). A line is "[-]" exactly
// when the check fails the verdict: the group fails, the check is critical,
// and its status fails the group — down, or unknown outside liveness. So
// the lines always agree with the verdict:
//
//   - up and degraded ([Warn]) checks are "[+]name ok": they pass;
//   - a [NonCritical] check is "[+]name ok" whatever its state, since it
//     never fails the probe;
//   - an unknown check is "[-]" in readyz and startupz, "[+]name ok" in
//     livez (liveness passes before the first result);
//   - once startup has latched, startupz lists every check "[+]name ok";
//   - while draining, readyz adds "[-]shutdown failed: reason withheld".
//
// The true state of each check — degraded, down, unknown — is in
// application/health+json (/health, or Accept: application/health+json),
// in [Registry.State] and [Registry.States], and in the log.
//
// Every answer carries Cache-Control: no-store and comes from the cache
// (about 150 ns and no allocation for a passing /readyz with ten checks).
// Only GET and HEAD are allowed. Query parameters other than verbose and
// exclude are ignored, as the API server ignores them, so an extra parameter
// on a probe URL cannot fail the probe (for liveness, a restart loop).
// verbose and exclude are validated: verbose=<not a boolean>, an empty
// exclude, a malformed escape in their values, more than 64 exclusions or a
// query over 2048 bytes get 400 with a message.
//
// # Details and authorisation
//
// Failure reasons, error text and observed values reveal hosts, ports and
// paths, so they are withheld by default: text lines say "reason withheld"
// and the JSON omits output, observedValue and observedUnit. The
// operations API's [firebreak.Authorizer] ([WithAuthorizer], for example
// [firebreak.BearerTokensWithRoles]) admits the callers who may see them:
// every such request asks for [firebreak.ActionRead], so a Viewer token
// reads. The probes themselves stay open; only [Registry.InspectHandler]
// refuses, with 401 (WWW-Authenticate: Bearer) or 403 as the operations API
// does. The full error always goes to the log
// ([WithLogger], log/slog): when a check starts failing, when its error
// changes, when it goes down and when it comes back.
//
// # Signals
//
// A check going down reports a firing [firebreak.KindHealthFailed] signal
// with label "check" (and "critical"), Value the consecutive failures, and
// the error in Summary; coming back up reports it cleared. Who the signal
// is about is identity, never the check's name:
//
//   - a check registered [ForComponent](c) carries c.Name, c.Dependency and
//     c.Tier and goes to c.Reporter (the registry's when nil). Give it the
//     Component of the pipeline that calls the dependency, and the Board
//     puts the check and the breaker in one incident, whatever the check
//     is called;
//   - any other check carries the registry's component (see
//     [Registry.Bind]) with no dependency, so its fault domain is the
//     component. An unbound registry reports those to [firebreak.Discard].
//
// Signals and logs are delivered by one goroutine fed through a bounded
// queue ([WithEventBuffer]), never under a lock and never on the runner: a
// slow Reporter delays only other reports, and what overflows is counted by
// [Registry.Dropped]. A panic in the Reporter or the logger — or in the
// MeterProvider's instruments, on a check's runner — is recovered, counted
// ([Registry.RecoveredPanics]) and logged once per kind with its stack; the
// goroutine keeps running.
//
// # Inspections
//
// [Registry.Inspect] runs every check now and returns an [Inspection] with
// Markdown and JSON forms: the plan's daily, weekly and monthly inspections.
// It does not change the cached results. [Registry.InspectHandler] serves
// inspections over HTTP to authorised callers only (401 otherwise).
//
// # Dynamic thresholds
//
// A [Baseline] learns a metric's normal level as an exponentially weighted
// moving average, and its normal spread as a slower moving average of the
// absolute deviation. After a warm-up, a sample further from the mean than
// [WithBand] deviations (default 6, about 4.8 standard deviations of
// Gaussian noise) fails the check. Outliers are not learned, so a step
// change keeps failing until [WithRelearnAfter] consecutive outliers, when
// the new level becomes normal.
//
// # Metrics
//
// Through the OpenTelemetry metric API ([WithMeterProvider], global by
// default), meter "github.com/firebreak-go/firebreak/health":
//
//   - firebreak.health.check.status (gauge, "1"): 1 for the check's current
//     status and 0 for the others; attributes health.check and health.status
//     (up, degraded, down, unknown). Registered on Start, removed on Close.
//   - firebreak.health.check.runs (counter, "{run}"): runs by health.check
//     and health.result (pass, warn, fail, timeout, skipped).
//   - firebreak.health.check.duration (histogram, "s"): run durations by
//     health.check; skipped runs are not recorded.
//
// # Lifecycle
//
// [New], [Registry.Bind] and [Registry.Register] start no goroutines.
// [Registry.Start] starts one goroutine per check and one for delivery, and
// returns once every check has its first result (or when its context ends,
// with an error naming the checks still waiting), so readiness is known
// from the first probe. [Registry.Close] stops them and waits, until its
// context is done, for queued transitions to be delivered and for every
// run, abandoned ones included, whose contexts it cancels; if the context
// ends first, its error names the runs and transitions left behind.
// Called from inside a check, the Reporter or the logger, Close stops the
// registry and returns [ErrCloseInCallback] at once rather than wait for
// its own caller. Start after Close returns an error matching
// [firebreak.ErrClosed].
//
// A registry whose Start was forgotten is not silent: /readyz, /startupz,
// their single-check forms and /health answer 503 with [ErrNotStarted], and
// the first such request logs it at ERROR. /livez passes, as it does before
// any first result: restarting the process would not start the registry.
//
// On shutdown call [Registry.Drain] first, wait for the probes to notice (a
// few probe periods), shut the HTTP server down, then Close.
package health
