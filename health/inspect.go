package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-go/firebreak"
)

// Inspection is the report of running every check now: the plan's daily,
// weekly and monthly inspections. It holds error text and observed values,
// so show it to operators only.
type Inspection struct {
	Component string             `json:"component"`
	Started   time.Time          `json:"started"`
	Duration  firebreak.Duration `json:"duration"`
	// Status aggregates the fresh results over every check, by the same
	// rule as the groups.
	Status Status             `json:"status"`
	Checks []InspectionResult `json:"checks"`
}

// InspectionResult is one check in an [Inspection].
type InspectionResult struct {
	Name     string `json:"name"`
	Groups   string `json:"groups"`
	Critical bool   `json:"critical"`
	// Status is the fresh run's outcome: up, degraded or down.
	Status Status `json:"status"`
	// Error is the fresh run's error text, if any.
	Error    string             `json:"error,omitempty"`
	Duration firebreak.Duration `json:"duration"`
	// Observed is whether the run observed a finite value ([Observe]).
	Observed bool    `json:"observed"`
	Value    float64 `json:"value,omitempty"`
	Unit     string  `json:"unit,omitempty"`
	// Cached is what the probes serve right now, with thresholds and
	// staleness applied; Since is when it began.
	Cached              Status    `json:"cached"`
	Since               time.Time `json:"since,omitzero"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	Abandoned           uint64    `json:"abandoned_runs"`
}

// Inspect runs every check now, concurrently, each on its own context with
// its own timeout (ctx only bounds the wait: when it ends, the checks still
// running are reported as timed out and abandoned). Inspection runs do not
// change the cached results, the thresholds or the signals. A check whose
// scheduled run is stuck past its timeout is not run again; it is reported
// with [ErrStillRunning], as is one whose previous inspection run is. Inspect works whether or not the runner is
// started; after Close it returns an error matching [firebreak.ErrClosed].
func (r *Registry) Inspect(ctx context.Context) (Inspection, error) {
	r.mu.Lock()
	if r.state == stateClosed {
		r.mu.Unlock()
		return Inspection{}, errClosed
	}
	checks := r.snap.Load().all
	r.runs.Add(len(checks))
	r.mu.Unlock()

	start := time.Now()
	out := Inspection{Component: r.binding.Component().Name, Started: start, Checks: make([]InspectionResult, len(checks))}
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out.Checks[i] = r.inspectOne(ctx, c)
		}()
	}
	wg.Wait()
	var agg aggregate
	for _, res := range out.Checks {
		agg.add(res.Status, res.Critical)
	}
	out.Status = agg.status()
	out.Duration = firebreak.Duration(time.Since(start))
	return out, nil
}

// inspectOne runs c once. It owns one count of r.runs, released by the run
// goroutine (or here when no run is started).
func (r *Registry) inspectOne(ctx context.Context, c *check) InspectionResult {
	now := time.Now()
	st := c.snapshot(now)
	ir := InspectionResult{
		Name: c.name, Groups: c.cfg.groups.String(), Critical: c.cfg.critical,
		Cached: st.Status, Since: st.Since, ConsecutiveFailures: st.ConsecutiveFailures, Abandoned: st.Abandoned,
	}
	if c.stuck.Load() || !c.inspecting.CompareAndSwap(false, true) {
		r.runs.Done()
		ir.Status, ir.Error = StatusDown, ErrStillRunning.Error()
		return ir
	}
	runCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.timeout)
	defer cancel()
	obs := &observation{}
	runCtx = context.WithValue(runCtx, observationKey{}, obs)
	done := make(chan outcome, 1)
	t0 := time.Now()
	go func() {
		defer r.runs.Done()
		c.inspectGoid.Store(goid())
		text, err := safeCheck(runCtx, c.name, c.checker)
		c.inspectGoid.Store(0)
		c.inspecting.Store(false)
		done <- outcome{err, text}
	}()
	var out outcome
	select {
	case out = <-done:
	case <-runCtx.Done():
		out.err = fmt.Errorf("%w after %v (run abandoned)", ErrTimeout, c.cfg.timeout)
		out.text = out.err.Error()
	case <-ctx.Done():
		cancel()
		out.err = fmt.Errorf("%w: inspection ended: %w", ErrTimeout, ctx.Err())
		out.text = out.err.Error()
	}
	err := out.err
	ir.Duration = firebreak.Duration(time.Since(t0))
	switch {
	case err == nil:
		ir.Status = StatusUp
	case !errors.Is(err, ErrPanic) && errors.Is(err, ErrWarning):
		ir.Status, ir.Error = StatusDegraded, out.text
	default:
		ir.Status, ir.Error = StatusDown, out.text
	}
	if err == nil || errors.Is(err, ErrWarning) || !errors.Is(err, ErrTimeout) {
		ir.Observed, ir.Value, ir.Unit = obs.load()
		if math.IsNaN(ir.Value) || math.IsInf(ir.Value, 0) {
			// encoding/json refuses them, and one would fail the whole
			// JSON inspection: not observed, as in application/health+json.
			ir.Observed, ir.Value = false, 0
		}
	}
	return ir
}

// Markdown renders the inspection as a Markdown report for people.
func (in Inspection) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Health inspection: %s\n\n", in.Component)
	fmt.Fprintf(&b, "- Started: %s\n", in.Started.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "- Duration: %v\n", time.Duration(in.Duration).Round(time.Millisecond))
	fmt.Fprintf(&b, "- Overall: **%s**\n", in.Status)
	var up, deg, down int
	for _, c := range in.Checks {
		switch c.Status {
		case StatusUp:
			up++
		case StatusDegraded:
			deg++
		default:
			down++
		}
	}
	fmt.Fprintf(&b, "- Checks: %d up, %d degraded, %d down\n\n", up, deg, down)
	b.WriteString("| Check | Groups | Critical | Result | Probes serve | Observed | Duration | Detail |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, c := range in.Checks {
		obs := ""
		if c.Observed {
			obs = strings.TrimSpace(fmt.Sprintf("%g %s", c.Value, c.Unit))
		}
		crit := "no"
		if c.Critical {
			crit = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %v | %s |\n",
			mdEscape(c.Name), c.Groups, crit, c.Status, c.Cached, mdEscape(obs),
			time.Duration(c.Duration).Round(time.Microsecond), mdEscape(oneLine(c.Error)))
	}
	return b.String()
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
}

// InspectHandler returns an HTTP handler that runs an inspection on each GET
// and answers in Markdown, or in JSON when the Accept header asks for
// application/json or the query is ?format=json. Because it runs every
// check and shows full errors, it admits only callers the [WithAuthorizer]
// Authorizer admits for [firebreak.ActionRead]: a request without
// credentials gets 401 with WWW-Authenticate: Bearer, one refused gets 403,
// both with a JSON {"error": "..."} body, as the operations API answers. Mount it apart from the probes, e.g. at
// "/debug/inspect".
func (r *Registry) InspectHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header()["Cache-Control"] = hdrNoStore
		if req.Method != http.MethodGet {
			w.Header()["Allow"] = hdrGetOnly
			http.Error(w, "health: method "+req.Method+" not allowed (want GET)", http.StatusMethodNotAllowed)
			return
		}
		if !r.admitRead(w, req) {
			return
		}
		asJSON := strings.Contains(req.Header.Get("Accept"), "application/json")
		switch req.URL.RawQuery {
		case "":
		case "format=json":
			asJSON = true
		case "format=markdown":
			asJSON = false
		default:
			http.Error(w, "health: bad query: want format=json or format=markdown", http.StatusBadRequest)
			return
		}
		in, err := r.Inspect(req.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if asJSON {
			body, err := json.Marshal(in)
			if err != nil {
				http.Error(w, "health: encoding inspection: "+err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(append(body, '\n'))
			return
		}
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		_, _ = io.WriteString(w, in.Markdown())
	})
}
