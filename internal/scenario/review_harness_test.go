package scenario

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/failover"
	"github.com/firebreak-go/firebreak/tracing"
)

// The review's helpers: services with their own names, tiers, SLOs,
// fallbacks and retries, in one world; a count of what reaches the
// dependency; and readings of what ops were told.

// svcOpts describes one component calling one dependency through
// observe → [fallback] → [retry] → [breaker] → count → call.
type svcOpts struct {
	name, dep string         // default checkout-api, payments
	tier      firebreak.Tier // used when tiered is set; otherwise Core
	tiered    bool
	slo       tracing.SLO // default a 99.9% availability SLO
	noBreaker bool
	// fallback, when set, answers failed calls.
	fallback func(ctx context.Context, err error) (int, error)
	retry    []failover.RetryOption // non-nil: a retry policy with these options
}

// reviewed is a service plus a count of the calls that reached the
// dependency (every attempt, retries included).
type reviewed struct {
	*service
	attempts atomic.Int64
}

// counter is the innermost policy: it counts what reaches the dependency.
type counter struct{ n *atomic.Int64 }

func (c counter) Apply(ctx context.Context, next firebreak.Next[int]) (int, error) {
	c.n.Add(1)
	return next.Call(ctx)
}

func newReviewed(w *world, d *dep, o svcOpts) *reviewed {
	t := w.t
	t.Helper()
	if o.name == "" {
		o.name = "checkout-api"
	}
	if !o.tiered {
		o.tier = firebreak.Core
	}
	if o.dep == "" {
		o.dep = "payments"
	}
	if o.slo.Availability == 0 && o.slo.Latency == 0 {
		o.slo = tracing.SLO{Availability: 0.999}
	}
	obs, err := tracing.New[int](tracing.WithSLO(o.slo))
	if err != nil {
		t.Fatal(err)
	}
	r := &reviewed{service: &service{w: w, dep: d, obs: obs}}
	policies := []firebreak.Policy[int]{obs, counter{&r.attempts}}
	if !o.noBreaker {
		r.cb, err = breaker.New[int]()
		if err != nil {
			t.Fatal(err)
		}
		policies = append(policies, r.cb)
	}
	if o.fallback != nil {
		fn := o.fallback
		fb, err := failover.NewFallback(func(ctx context.Context, err error) (int, error) {
			v, ferr := fn(ctx, err)
			if ferr == nil {
				r.fellBack.Add(1)
			}
			return v, ferr
		})
		if err != nil {
			t.Fatal(err)
		}
		policies = append(policies, fb)
	}
	if o.retry != nil {
		rt, err := failover.NewRetry[int](o.retry...)
		if err != nil {
			t.Fatal(err)
		}
		policies = append(policies, rt)
	}
	comp := firebreak.Component{Name: o.name, Dependency: o.dep, Tier: o.tier, Reporter: w.board}
	r.pipe, err = firebreak.NewPipeline(comp, policies)
	if err != nil {
		t.Fatal(err)
	}
	if err := obs.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { obs.Close(context.Background()) })
	return r
}

// driveAll plays perSecond calls a second on each service for d, in 10 ms
// ticks (at least one call a tick), inline, so that several components see
// the same fault at once.
func driveAll(perSecond int, d time.Duration, ss ...*reviewed) {
	const tick = 10 * time.Millisecond
	per := max(1, perSecond/int(time.Second/tick)) // at least 100 calls/s
	for end := time.Now().Add(d); time.Now().Before(end); {
		time.Sleep(tick)
		for _, s := range ss {
			for range per {
				s.one(context.Background())
			}
		}
	}
}

// driveSlow plays perSecond calls a second for d when perSecond is below
// 100 (one call every second/perSecond), inline, or on goroutines under c.
func (s *reviewed) driveSlow(perSecond int, d time.Duration, c caller) {
	every := time.Second / time.Duration(perSecond)
	for end := time.Now().Add(d); time.Now().Before(end); {
		time.Sleep(every)
		if c == nil {
			s.one(context.Background())
			continue
		}
		go func() {
			ctx, cancel := c()
			defer cancel()
			s.one(ctx)
		}()
	}
}

// since returns the pages (announcements, escalations, reopenings, breaches
// and reminders) sent at or after from.
func (r *recorder) pagesSince(from time.Time) []firebreak.Notification {
	var out []firebreak.Notification
	for _, n := range pages(r.all()) {
		if !n.At.Before(from) {
			out = append(out, n)
		}
	}
	return out
}

// firstSince is firstAt for notifications at or after from.
func (r *recorder) firstSince(from time.Time, sev firebreak.Severity) (firebreak.Notification, bool) {
	for _, n := range r.pagesSince(from) {
		if n.Event != firebreak.EventBreached && n.Event != firebreak.EventRenotify && n.Incident.Severity >= sev {
			return n, true
		}
	}
	return firebreak.Notification{}, false
}

// count returns how many notifications of event ev were sent.
func (r *recorder) count(ev firebreak.Event) int {
	var n int
	for _, x := range r.all() {
		if x.Event == ev {
			n++
		}
	}
	return n
}

// describe lists the pages, for failure messages.
func (w *world) describe() string {
	var s string
	for _, n := range pages(w.rec.all()) {
		s += "\n\t" + w.since(n.At).String() + " " + string(n.Event) + " " + n.Incident.ID + " " + n.Incident.Severity.String() + " " + n.Incident.Title
	}
	if s == "" {
		return " (no pages)"
	}
	return s
}
