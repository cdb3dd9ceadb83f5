package firebreak_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// timed is a Notifier that records each notification with when it was
// delivered.
type timed struct {
	mu    sync.Mutex
	notes []firebreak.Notification
	at    []time.Time
}

func (s *timed) Notify(_ context.Context, n firebreak.Notification) error {
	s.mu.Lock()
	s.notes = append(s.notes, n)
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
	return nil
}

// got returns what s received, with delivery times, filtered by keep.
func (s *timed) got(keep func(n *firebreak.Notification) bool) ([]firebreak.Notification, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ns []firebreak.Notification
	var ts []time.Time
	for i := range s.notes {
		if keep == nil || keep(&s.notes[i]) {
			ns = append(ns, s.notes[i])
			ts = append(ts, s.at[i])
		}
	}
	return ns, ts
}

func (s *timed) incidents() []string {
	ns, _ := s.got(nil)
	var ids []string
	for _, n := range ns {
		if !slices.Contains(ids, n.Incident.ID) {
			ids = append(ids, n.Incident.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func event(ev firebreak.Event) func(n *firebreak.Notification) bool {
	return func(n *firebreak.Notification) bool { return n.Event == ev }
}

func routine(n *firebreak.Notification) bool { return n.Event.Routine() }

func mustPlan(t *testing.T, doc string) *firebreak.Plan {
	t.Helper()
	p, err := firebreak.ParsePlan([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// routedBoard starts a board with a named notifier per name.
func routedBoard(t *testing.T, plan *firebreak.Plan, names ...string) (*firebreak.Board, map[string]*timed) {
	t.Helper()
	sinks := map[string]*timed{}
	opts := []firebreak.BoardOption{firebreak.WithEnv("prod"), firebreak.WithPlan(plan)}
	for _, n := range names {
		sinks[n] = &timed{}
		opts = append(opts, firebreak.WithNotifierNamed(n, sinks[n]))
	}
	b, err := firebreak.NewBoard("checkout", opts...)
	if err != nil {
		t.Fatal(err)
	}
	b.Start(context.Background())
	t.Cleanup(func() {
		if err := b.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b, sinks
}

// routeTraffic reports each signal once per tick for d: what a sensor on a
// service taking 1000 calls/s reports while the fault lasts.
func routeTraffic(b *firebreak.Board, d, tick time.Duration, sigs ...firebreak.Signal) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		for _, s := range sigs {
			b.Report(s)
		}
		time.Sleep(tick)
	}
}

const pagerAndChat = `{
  "route": {
    "receiver": "default",
    "routes": [
      {"matchers": [{"name": "severity", "value": "fatal"}], "receiver": "pager", "continue": true},
      {"matchers": [{"name": "component", "op": "=~", "value": "payments-.*"}], "receiver": "payments-team", "continue": true},
      {"matchers": [{"name": "severity", "op": "=~", "value": "general|severe|fatal"}], "receiver": "chat"}
    ]
  }
}`

// A Fatal incident reaches both the pager and the chat route (continue); a
// General one only the chat; a route matching on component takes the
// incidents of payments components, and the default receiver gets nothing
// the other routes took.
func TestRouteContinue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sinks := routedBoard(t, mustPlan(t, pagerAndChat), "default", "pager", "payments-team", "chat")
		fatal := signalFor(firebreak.Fatal) // checkout-api → payments-db, core
		general := firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "search-api", Dependency: "search-index",
			Tier: firebreak.Standard, Fallback: true, Firing: true}
		payments := firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "payments-gateway", Tier: firebreak.Standard, Firing: true}
		routeTraffic(b, 2*time.Minute, 10*time.Millisecond, fatal, general, payments)
		synctest.Wait()

		ids := map[firebreak.Severity][]string{}
		var paymentsID string
		for _, inc := range b.List(firebreak.Filter{}) {
			ids[inc.Severity] = append(ids[inc.Severity], inc.ID)
			if slices.Contains(inc.Components, "payments-gateway") {
				paymentsID = inc.ID
			}
		}
		if len(ids[firebreak.Fatal]) != 1 || len(ids[firebreak.General]) != 2 || paymentsID == "" {
			t.Fatalf("incidents by severity %v, payments %q: want one fatal and two general", ids, paymentsID)
		}
		fatalID := ids[firebreak.Fatal][0]
		allGeneral := slices.Sorted(slices.Values(ids[firebreak.General]))
		everything := slices.Sorted(slices.Values(append([]string{fatalID}, allGeneral...)))
		for name, want := range map[string][]string{
			"pager":         {fatalID},
			"chat":          everything,
			"payments-team": {paymentsID},
			"default":       nil,
		} {
			if got := sinks[name].incidents(); !slices.Equal(got, want) {
				t.Errorf("%s heard of %v, want %v", name, got, want)
			}
		}
		if n, _ := sinks["pager"].got(event(firebreak.EventDetected)); len(n) != 1 {
			t.Errorf("pager announcements = %d, want 1", len(n))
		}
		if s := b.Stats(); s.AnnouncementsLost != 0 {
			t.Errorf("announcements lost: %d", s.AnnouncementsLost)
		}
	})
}

// What no route takes goes to the root's receiver; notifiers added without
// a name hear of everything.
func TestRouteDefaultAndUnnamed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan := mustPlan(t, `{"route": {"receiver": "default", "routes": [
			{"matchers": [{"name": "kind", "value": "breaker_open"}], "receiver": "breakers"}]}}`)
		all := &timed{}
		def, brk := &timed{}, &timed{}
		b, err := firebreak.NewBoard("checkout", firebreak.WithPlan(plan), firebreak.WithNotifier(all),
			firebreak.WithNotifierNamed("default", def), firebreak.WithNotifierNamed("breakers", brk))
		if err != nil {
			t.Fatal(err)
		}
		b.Start(context.Background())
		defer b.Close(context.Background())
		routeTraffic(b, time.Minute, 10*time.Millisecond, signalFor(firebreak.General),
			firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "search-api", Tier: firebreak.Standard, Firing: true})
		synctest.Wait()
		if got := len(all.incidents()); got != 2 {
			t.Errorf("unnamed notifier heard of %d incidents, want 2", got)
		}
		if len(def.incidents()) != 1 || len(brk.incidents()) != 1 || def.incidents()[0] == brk.incidents()[0] {
			t.Errorf("default %v, breakers %v: want one incident each, different", def.incidents(), brk.incidents())
		}
	})
}

// Under a flood of alerts joining one incident, the chat receiver (group
// interval 5m) gets at most one routine update per 5 minutes, each with the
// latest state, while the pager gets them as they come; lifecycle events
// reach the chat at once.
func TestRouteGroupInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan := mustPlan(t, `{"route": {"receiver": "pager", "routes": [
			{"receiver": "chat", "group_interval": "5m", "continue": true},
			{"receiver": "pager"}]}}`)
		b, sinks := routedBoard(t, plan, "pager", "chat")
		start := time.Now()
		base := signalFor(firebreak.General)
		// 20 minutes; every 2 s a new endpoint fails (a new alert joins the
		// incident), and every alert keeps firing at 100 reports a second.
		var sigs []firebreak.Signal
		ackAt := start.Add(7*time.Minute + 3*time.Second)
		acked := false
		for time.Since(start) < 20*time.Minute {
			if time.Since(start) >= time.Duration(len(sigs))*2*time.Second {
				s := base
				s.Labels = map[string]string{"endpoint": fmt.Sprintf("/v1/pay/%d", len(sigs))}
				sigs = append(sigs, s)
			}
			for _, s := range sigs {
				b.Report(s)
			}
			if !acked && !time.Now().Before(ackAt) {
				acked = true
				if err := b.Acknowledge(only(t, b).ID, "alice"); err != nil {
					t.Fatal(err)
				}
				ackAt = time.Now()
			}
			time.Sleep(10 * time.Millisecond)
		}
		synctest.Wait()

		updates, at := sinks["chat"].got(routine)
		if len(updates) < 3 || len(updates) > 5 {
			t.Fatalf("chat got %d routine updates in 20 minutes, want 3 to 5 (one per 5m)", len(updates))
		}
		for i := 1; i < len(at); i++ {
			if d := at[i].Sub(at[i-1]); d < 5*time.Minute {
				t.Errorf("chat routine updates %d and %d only %s apart", i-1, i, d)
			}
		}
		// Each carries the latest state: the alert that joined last before it
		// was sent, not one from five minutes before.
		for i, n := range updates {
			newest := int((at[i].Sub(start) - time.Nanosecond) / (2 * time.Second)) // joined before it was sent
			if !slices.ContainsFunc(n.Fired, func(a firebreak.AlertRef) bool {
				// (or the one that joined at the very instant it was sent)
				return a.Labels["endpoint"] == fmt.Sprintf("/v1/pay/%d", newest) || a.Labels["endpoint"] == fmt.Sprintf("/v1/pay/%d", newest+1)
			}) {
				t.Errorf("update %d at %s does not carry the newest alert (/v1/pay/%d): %d fired, last %v", i, at[i].Sub(start), newest, len(n.Fired), n.Fired[len(n.Fired)-1].Labels)
			}
		}
		pagerUpdates, _ := sinks["pager"].got(routine)
		if len(pagerUpdates) < 100 {
			t.Errorf("pager got only %d routine updates, want them as they come", len(pagerUpdates))
		}
		ack, ackTimes := sinks["chat"].got(event(firebreak.EventAcknowledged))
		if len(ack) != 1 || !ackTimes[0].Equal(ackAt) {
			t.Errorf("chat got the acknowledgement %d times, at %v; want once, at %v", len(ack), ackTimes, ackAt.Sub(start))
		}
		det, detTimes := sinks["chat"].got(event(firebreak.EventDetected))
		if len(det) != 1 || detTimes[0].Sub(start) != 30*time.Second {
			t.Errorf("chat announcement %d at %v, want 1 at the group wait", len(det), detTimes)
		}
	})
}

// Reminders to the chat route are throttled by its repeat interval; the
// pager, without one, gets every reminder the plan makes.
func TestRouteRepeatInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan := mustPlan(t, `{"route": {"receiver": "pager", "routes": [
			{"receiver": "chat", "repeat_interval": "30m", "continue": true},
			{"receiver": "pager"}]}}`)
		b, sinks := routedBoard(t, plan, "pager", "chat")
		start := time.Now()
		routeTraffic(b, 59*time.Minute, 100*time.Millisecond, signalFor(firebreak.Fatal))
		synctest.Wait()

		pager, _ := sinks["pager"].got(event(firebreak.EventRenotify))
		// Every 5 minutes from 5:00 to 55:00, except at 10:00, where the
		// breach pages instead.
		if len(pager) != 10 {
			t.Errorf("pager reminders = %d, want 10", len(pager))
		}
		chat, at := sinks["chat"].got(event(firebreak.EventRenotify))
		// The breach at 10:00 told the chat; the next reminder it may get is
		// at 40:00, then none before 70:00.
		if len(chat) != 1 || at[0].Sub(start) != 40*time.Minute {
			var when []time.Duration
			for _, a := range at {
				when = append(when, a.Sub(start))
			}
			t.Errorf("chat reminders at %v, want one at 40m", when)
		}
		if got := b.Stats().NotifyThrottled; got != 9 {
			t.Errorf("NotifyThrottled = %d, want 9", got)
		}
		if n, _ := sinks["chat"].got(event(firebreak.EventBreached)); len(n) != 1 {
			t.Errorf("chat breaches = %d, want 1 (lifecycle events are not throttled)", len(n))
		}
	})
}

func TestRouteValidation(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string // paths
	}{
		{"negative intervals", `{"route": {"receiver": "a", "group_interval": "-1m", "routes": [{"repeat_interval": "-5m"}]}}`,
			[]string{"route.group_interval", "route.routes[0].repeat_interval"}},
		{"root without receiver, with matchers", `{"route": {"matchers": [{"name": "env", "value": "prod"}]}}`,
			[]string{"route.matchers", "route.receiver"}},
		{"bad matcher", `{"route": {"receiver": "a", "routes": [{"matchers": [{"name": "kind", "value": "x"}, {"name": "kind", "op": "~", "value": "x"}]}]}}`,
			[]string{"route.routes[0].matchers[1]"}},
		{"bad regexp", `{"route": {"receiver": "a", "routes": [{"matchers": [{"name": "kind", "op": "=~", "value": "("}]}]}}`,
			[]string{"route.routes[0].matchers[0]"}},
		{"unknown route field", `{"route": {"receiver": "a", "routes": [{"reciever": "b"}]}}`,
			[]string{"route.routes[0].reciever"}},
		{"steps out of order", `{"response": {"fatal": {"escalation": [{"after": "10m", "notify": "a"}, {"after": "5m", "notify": "b"}]}}}`,
			[]string{"response.fatal.escalation[1].after"}},
		{"negative and empty steps", `{"response": {"severe": {"escalation": [{"after": "-1m", "notify": "a"}, {"after": "5m", "notify": " "}]}}}`,
			[]string{"response.severe.escalation[0].after", "response.severe.escalation[1].notify"}},
		{"repeat without chain", `{"response": {"general": {"repeat": true}}}`,
			[]string{"response.general.repeat"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := firebreak.ParsePlan([]byte(tc.doc))
			var pe *firebreak.PlanError
			if !errors.As(err, &pe) {
				t.Fatalf("ParsePlan: %v, want a PlanError", err)
			}
			var paths []string
			for _, p := range pe.Problems {
				paths = append(paths, p.Path)
			}
			if !slices.Equal(paths, tc.want) {
				t.Errorf("paths %q, want %q (%v)", paths, tc.want, err)
			}
		})
	}
}

// Receiver names are checked when the board is made: a route naming a
// notifier that does not exist is an error with its path, never a route
// that silently delivers nowhere.
func TestRouteUnknownReceiver(t *testing.T) {
	plan := mustPlan(t, `{"route": {"receiver": "chat", "routes": [{"receiver": "pagr"}, {"receiver": "chat"}]}}`)
	n := firebreak.NotifierFunc(func(context.Context, firebreak.Notification) error { return nil })
	_, err := firebreak.NewBoard("checkout", firebreak.WithPlan(plan),
		firebreak.WithNotifierNamed("chat", n), firebreak.WithNotifierNamed("pager", n), firebreak.WithNotifierNamed("pager", n))
	var pe *firebreak.PlanError
	if !errors.As(err, &pe) {
		t.Fatalf("NewBoard: %v, want a PlanError", err)
	}
	var paths []string
	for _, p := range pe.Problems {
		paths = append(paths, p.Path)
	}
	if want := []string{"notifiers[2]", "route.routes[0].receiver"}; !slices.Equal(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
	if !strings.Contains(err.Error(), `unknown receiver "pagr"`) {
		t.Errorf("error %q does not name the receiver", err)
	}
	// WithRoute is checked the same way.
	_, err = firebreak.NewBoard("checkout", firebreak.WithNotifierNamed("chat", n),
		firebreak.WithRoute(firebreak.Route{Receiver: "chat", Routes: []firebreak.Route{{Receiver: "nobody", GroupInterval: firebreak.Duration(-time.Second)}}}))
	if !errors.As(err, &pe) || len(pe.Problems) != 2 {
		t.Fatalf("NewBoard with WithRoute: %v, want two problems", err)
	}
}

// BenchmarkFireClearRouted is BenchmarkFireClear/alerts=1000 with a
// routing tree whose matchers read the incident's alerts (kind, a label):
// the cost routing adds to every notification.
func BenchmarkFireClearRouted(b *testing.B) {
	for _, routed := range []bool{false, true} {
		b.Run(fmt.Sprintf("routed=%v", routed), func(b *testing.B) {
			p := firebreak.DefaultPlan()
			p.Timers.GroupWait = 0
			nop := firebreak.NotifierFunc(func(context.Context, firebreak.Notification) error { return nil })
			opts := []firebreak.BoardOption{firebreak.WithEnv("prod"), firebreak.WithMaxAlerts(3000), firebreak.WithPlan(p)}
			if routed {
				opts = append(opts, firebreak.WithNotifierNamed("chat", nop), firebreak.WithNotifierNamed("pager", nop),
					firebreak.WithRoute(firebreak.Route{Receiver: "chat", GroupInterval: firebreak.Duration(time.Minute), Routes: []firebreak.Route{
						{Matchers: mustMatchers(b, `severity="fatal"`), Receiver: "pager", Continue: true},
						{Matchers: mustMatchers(b, `kind=~"rollback.*",category="database"`), Receiver: "pager"},
						{Matchers: mustMatchers(b, `component!="batch"`), Receiver: "chat"},
					}}))
			} else {
				opts = append(opts, firebreak.WithNotifier(nop), firebreak.WithNotifier(nop))
			}
			board, err := firebreak.NewBoard("checkout", opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer board.Close(context.Background())
			for i := range 1000 {
				board.Report(noisy(i, true))
			}
			board.Start(context.Background())
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
				if l := board.List(firebreak.Filter{}); len(l) == 1 && !l[0].NotifiedAt.IsZero() {
					break
				}
				if time.Now().After(deadline) {
					b.Fatal("the incident was not announced")
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				board.Report(noisy(1000+i%1000, true))
				board.Report(noisy(1000+i%1000, false))
				i++
			}
		})
	}
}

func mustMatchers(tb testing.TB, s string) firebreak.Matchers {
	tb.Helper()
	ms, err := firebreak.ParseMatchers(s)
	if err != nil {
		tb.Fatal(err)
	}
	return ms
}
