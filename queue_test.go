package firebreak

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak/internal/race"
)

// receiver is a notifier standing in for an alert receiver that takes
// delay to answer each notification (in virtual time); it honours ctx.
type receiver struct {
	delay time.Duration
	mu    sync.Mutex
	got   []Notification
	at    []time.Time
}

func (r *receiver) Notify(ctx context.Context, n Notification) error {
	if r.delay > 0 {
		t := time.NewTimer(r.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	r.got = append(r.got, n)
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
	return nil
}

func (r *receiver) notes() ([]Notification, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Notification(nil), r.got...), append([]time.Time(nil), r.at...)
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func startBoard(t *testing.T, opts ...BoardOption) *Board {
	t.Helper()
	b, err := NewBoard("checkout", append([]BoardOption{WithEnv("prod"), WithLogger(quietLogger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	b.Start(context.Background())
	return b
}

// breakerSignal is an open (or closed again) breaker with a fallback: the
// default plan grades it General for a core component.
func breakerSignal(component, dep string, firing bool) Signal {
	return Signal{Kind: KindBreakerOpen, Component: component, Dependency: dep, Tier: Core, Fallback: true, Firing: firing}
}

// burnSignal is an availability SLO burning its budget fast: Fatal.
func burnSignal() Signal {
	return Signal{Kind: KindErrorBudgetBurn, Component: "checkout-api", Dependency: "payments-db", Tier: Core, Firing: true,
		Value: 1000, Metrics: map[string]float64{"error_ratio_now": 1}, Labels: map[string]string{"slo": "availability"}}
}

func closeBoard(t *testing.T, b *Board) {
	t.Helper()
	if err := b.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// Six hundred flaps of search's cache breakers keep a slow receiver busy;
// a Fatal burn on payments starts meanwhile. Its announcement goes out
// next, not behind the flaps, and nothing that matters is dropped.
func TestQueueFlapsThenFatalAnnouncement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rcv := &receiver{delay: 2 * time.Second}
		b := startBoard(t, WithNotifier(rcv))
		defer closeBoard(t, b)
		for i := range 3 { // the caches' breakers open and stay open past the group wait
			b.Report(breakerSignal("search-api", fmt.Sprintf("cache-%d", i), true))
		}
		time.Sleep(31 * time.Second)
		for i := range 600 {
			if i == 570 {
				b.Report(burnSignal())
			}
			dep := fmt.Sprintf("cache-%d", i%3)
			b.Report(breakerSignal("search-api", dep, false))
			time.Sleep(500 * time.Millisecond)
			b.Report(breakerSignal("search-api", dep, true))
			time.Sleep(500 * time.Millisecond)
		}
		time.Sleep(time.Minute)
		synctest.Wait()

		fatal := b.List(Filter{MinSeverity: Fatal})
		if len(fatal) != 1 || fatal[0].NotifiedAt.IsZero() {
			t.Fatalf("want one announced Fatal incident, got %+v", fatal)
		}
		notes, at := rcv.notes()
		var deliveredAt time.Time
		routine := 0
		for i, n := range notes {
			if n.Incident.ID == fatal[0].ID && n.Event == EventDetected {
				deliveredAt = at[i]
			}
			if n.Event.Routine() {
				routine++
			}
		}
		if deliveredAt.IsZero() {
			t.Fatalf("the Fatal announcement was never delivered (%d notifications delivered)", len(notes))
		}
		// At most the notification in flight is ahead of it, then its own 2 s.
		if wait := deliveredAt.Sub(fatal[0].NotifiedAt); wait > 2*rcv.delay {
			t.Errorf("the Fatal announcement waited %v behind routine updates", wait)
		}
		st := b.Stats()
		if st.NotifyDroppedLifecycle != 0 || st.AnnouncementsLost != 0 || st.NotifyDropped != 0 {
			t.Errorf("dropped what matters: %+v", st)
		}
		if st.NotifyCoalesced == 0 || routine == 0 || routine >= 1200 {
			t.Errorf("routine updates: %d delivered of 1,200, %d coalesced", routine, st.NotifyCoalesced)
		}
	})
}

// A healthy receiver that takes 50 ms per notification gets 10,000 routine
// updates over 100 s (twice what it can take), and 100 acknowledgements
// among them: every acknowledgement arrives, each incident's notifications
// arrive in order, and the routine updates coalesce instead of dropping.
func TestQueueAcknowledgementsAmongRoutineFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rcv := &receiver{delay: 50 * time.Millisecond}
		b := startBoard(t, WithNotifier(rcv))
		defer closeBoard(t, b)
		const incidents = 100
		for i := range incidents {
			b.Report(breakerSignal("search-api", fmt.Sprintf("dep-%02d", i), true))
		}
		time.Sleep(31 * time.Second)
		ids := map[string]string{} // dependency → incident
		for _, inc := range b.List(Filter{}) {
			ids[inc.FaultDomain] = inc.ID
		}
		if len(ids) != incidents {
			t.Fatalf("%d incidents, want %d", len(ids), incidents)
		}
		for i := range 10_000 {
			dep := fmt.Sprintf("dep-%02d", i%incidents)
			b.Report(breakerSignal("search-api", dep, (i/incidents)%2 == 1))
			if i%incidents == 50 {
				ack := fmt.Sprintf("dep-%02d", i/incidents)
				if err := b.Acknowledge(ids[ack], "ana"); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Minute)
		synctest.Wait()

		notes, _ := rcv.notes()
		acked := map[string]int{}
		routine := 0
		last := map[string]State{}
		for _, n := range notes {
			id := n.Incident.ID
			if n.Event == EventAcknowledged {
				acked[id]++
			}
			if n.Event.Routine() {
				routine++
			}
			if prev, ok := last[id]; ok && n.Incident.State < prev {
				t.Errorf("%s: %s delivered with state %s after state %s", id, n.Event, n.Incident.State, prev)
			}
			if _, ok := last[id]; !ok && n.Event != EventDetected {
				t.Errorf("%s: first notification is %s, not the announcement", id, n.Event)
			}
			last[id] = n.Incident.State
		}
		for dep, id := range ids {
			if acked[id] != 1 {
				t.Errorf("%s (%s): %d acknowledgements delivered, want 1", id, dep, acked[id])
			}
		}
		st := b.Stats()
		if st.NotifyDropped != 0 {
			t.Errorf("dropped %d notifications: %+v", st.NotifyDropped, st)
		}
		if st.NotifyCoalesced == 0 || routine >= 10_000 {
			t.Errorf("routine updates: %d delivered of 10,000, %d coalesced", routine, st.NotifyCoalesced)
		}
		if st.NotifyQueueLen != 0 {
			t.Errorf("%d notifications still waiting", st.NotifyQueueLen)
		}
	})
}

// With a queue of 8 and 20 incidents flapping to a receiver that needs 2 s
// per notification, routine updates must drop; the resolution of the
// incident a person resolves in the middle of it is still delivered.
func TestQueueResolutionNeverDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rcv := &receiver{delay: 2 * time.Second}
		b := startBoard(t, WithNotifier(rcv), WithQueueSize(8))
		defer closeBoard(t, b)
		b.Report(breakerSignal("orders-api", "ledger", true))
		for i := range 20 {
			b.Report(breakerSignal("search-api", fmt.Sprintf("dep-%02d", i), true))
		}
		time.Sleep(31 * time.Second)
		var ledger string
		for _, inc := range b.List(Filter{}) {
			if inc.FaultDomain == "ledger" {
				ledger = inc.ID
			}
		}
		b.Report(breakerSignal("orders-api", "ledger", false))
		for i := range 2000 {
			if i == 1000 {
				if err := b.Resolve(ledger, "ana", "ledger failed over"); err != nil {
					t.Fatal(err)
				}
			}
			b.Report(breakerSignal("search-api", fmt.Sprintf("dep-%02d", i%20), (i/20)%2 == 1))
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		notes, _ := rcv.notes()
		resolved := 0
		for _, n := range notes {
			if n.Incident.ID == ledger && n.Event == EventResolved {
				resolved++
				if n.Incident.State != Resolved {
					t.Errorf("resolution delivered with state %s", n.Incident.State)
				}
			}
		}
		if resolved != 1 {
			t.Fatalf("the resolution was delivered %d times, want 1", resolved)
		}
		st := b.Stats()
		if st.NotifyDroppedRoutine == 0 {
			t.Errorf("the queue was never under pressure: %+v", st)
		}
		if st.NotifyDroppedLifecycle != 0 {
			t.Errorf("lifecycle events dropped: %+v", st)
		}
	})
}

// note is a notification of incident id at second sec.
func note(id string, ev Event, sec int, sev Severity) Notification {
	return Notification{Event: ev, At: time.Unix(int64(sec), 0), Incident: Incident{ID: id, Severity: sev}}
}

// gate is a notifier that blocks every delivery until released, so a test
// can fill the queue behind it.
type gate struct {
	receiver
	open chan struct{}
}

func (g *gate) Notify(ctx context.Context, n Notification) error {
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.receiver.Notify(ctx, n)
}

// When lifecycle events overflow their bound, the superseded ones go first:
// a flapping incident's old reopen/resolve cycles, never another incident's
// resolution; the newest event of the flapping incident still arrives with
// every alert that fired or resolved on the way.
func TestQueueLifecycleOverflowDropsSupersededFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gate{open: make(chan struct{})}
		q := newQueue(g, 2) // 8 lifecycle events
		q.start(quietLogger())
		q.push(note("INC-0", EventDetected, 0, General)) // in flight, held by the gate
		synctest.Wait()
		q.push(note("INC-X", EventResolved, 1, Fatal))
		for i := range 100 {
			ev := []Event{EventResolved, EventReopened}[i%2]
			n := note("INC-Y", ev, 2+i, General)
			a := AlertRef{Fingerprint: fmt.Sprintf("fp-%d", i%10)}
			if ev == EventResolved {
				n.Resolved = []AlertRef{a}
			} else {
				n.Fired = []AlertRef{a}
			}
			q.push(n)
		}
		close(g.open)
		if err := q.close(context.Background()); err != nil {
			t.Fatal(err)
		}
		notes, _ := g.notes()
		// INC-0 in flight, INC-X's resolution, then INC-Y's newest 7 events
		// (seconds 95 to 101) in order; the oldest of them took over the
		// 93 it superseded.
		if len(notes) != 9 || notes[1].Incident.ID != "INC-X" || notes[1].Event != EventResolved {
			t.Fatalf("delivered %v", events(notes))
		}
		for i, n := range notes[2:] {
			if n.Incident.ID != "INC-Y" || n.At != time.Unix(int64(95+i), 0) {
				t.Fatalf("delivered %d: %s at %d, want INC-Y at %d", i+2, n.Incident.ID, n.At.Unix(), 95+i)
			}
		}
		// Each alert appears once, in the list of its latest change: the
		// even ones only ever resolved, the odd ones fired again.
		first := notes[2]
		if len(first.Fired)+len(first.Resolved) != 10 {
			t.Errorf("merged alerts: fired %v, resolved %v", fps(first.Fired), fps(first.Resolved))
		}
		for _, a := range first.Fired {
			var d int
			fmt.Sscanf(a.Fingerprint, "fp-%d", &d)
			if d%2 != 1 {
				t.Errorf("%s listed as fired; it only ever resolved", a.Fingerprint)
			}
		}
		if got := q.droppedLife.Load(); got != 93 || q.supersede.Load() != 93 {
			t.Errorf("lifecycle dropped %d (superseded %d), want 93", got, q.supersede.Load())
		}
	})
}

func events(ns []Notification) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Incident.ID+":"+string(n.Event))
	}
	return out
}

func fps(as []AlertRef) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Fingerprint)
	}
	return out
}

// Without a newer event to stand in, a full lifecycle bound drops reminders
// first, then the least severe incident's oldest event; the new event itself
// if it is the least severe. Every drop is counted, and an announcement no
// notifier delivered is counted as lost.
func TestQueueLifecycleOverflowKeepsTheWorst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gate{open: make(chan struct{})}
		q := newQueue(g, 1) // 4 lifecycle events
		q.start(quietLogger())
		q.push(note("INC-0", EventDetected, 0, Fatal)) // in flight
		synctest.Wait()
		fanOut([]*queue{q}, []Notification{
			note("INC-1", EventRenotify, 1, Fatal),
			note("INC-2", EventDetected, 2, General),
			note("INC-3", EventDetected, 3, Severe),
			note("INC-4", EventDetected, 4, Fatal),
			note("INC-5", EventDetected, 5, Fatal), // drops the reminder
			note("INC-6", EventDetected, 6, Fatal), // drops INC-2, the least severe
			note("INC-7", EventDetected, 7, None),  // dropped itself
		})
		close(g.open)
		if err := q.close(context.Background()); err != nil {
			t.Fatal(err)
		}
		notes, _ := g.notes()
		want := "INC-0:detected INC-3:detected INC-4:detected INC-5:detected INC-6:detected"
		if got := strings.Join(events(notes), " "); got != want {
			t.Fatalf("delivered %s\nwant      %s", got, want)
		}
		var st BoardStats
		q.addStats(&st)
		if st.NotifyDroppedLifecycle != 3 || st.NotifySuperseded != 0 || st.AnnouncementsLost != 2 || st.NotifyDropped != 3 {
			t.Errorf("stats %+v", st)
		}
	})
}

// Routine updates of one incident coalesce into the latest, which carries
// every alert that fired or resolved meanwhile, each once.
func TestQueueRoutineCoalescesAlerts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gate{open: make(chan struct{})}
		q := newQueue(g, 4)
		q.start(quietLogger())
		q.push(note("INC-0", EventDetected, 0, General))
		synctest.Wait()
		a, b, c := AlertRef{Fingerprint: "a"}, AlertRef{Fingerprint: "b"}, AlertRef{Fingerprint: "c"}
		push := func(sec int, fired, resolved []AlertRef) {
			n := note("INC-0", EventSignal, sec, General)
			n.Fired, n.Resolved = fired, resolved
			q.push(n)
		}
		push(1, []AlertRef{a}, nil)
		push(2, []AlertRef{b}, nil)
		push(3, nil, []AlertRef{a})
		push(4, []AlertRef{c}, nil)
		push(5, nil, []AlertRef{c})
		if n := q.len(); n != 1 {
			t.Fatalf("%d routine updates waiting for one incident, want 1", n)
		}
		close(g.open)
		if err := q.close(context.Background()); err != nil {
			t.Fatal(err)
		}
		notes, _ := g.notes()
		if len(notes) != 2 {
			t.Fatalf("delivered %v", events(notes))
		}
		n := notes[1]
		if got := fmt.Sprint(fps(n.Fired), fps(n.Resolved)); got != "[b] [a c]" || n.At != time.Unix(5, 0) {
			t.Fatalf("coalesced update at %v: fired, resolved = %s; want [b] [a c] at 5", n.At.Unix(), got)
		}
		if q.coalesced.Load() != 4 {
			t.Errorf("coalesced %d, want 4", q.coalesced.Load())
		}
	})
}

// The merged lists are bounded: the newest 256 alerts are kept.
func TestQueueMergedAlertsBounded(t *testing.T) {
	q := newQueue(NotifierFunc(func(context.Context, Notification) error { return nil }), 4)
	for i := range 1000 {
		n := note("INC-0", EventSignal, i, General)
		n.Fired = []AlertRef{{Fingerprint: fmt.Sprint(i)}}
		q.push(n)
	}
	e := q.pending["INC-0"]
	if len(e.n.Fired) != maxMergedAlerts || e.n.Fired[0].Fingerprint != "744" || e.n.Fired[255].Fingerprint != "999" {
		t.Fatalf("merged %d alerts, %s to %s", len(e.n.Fired), e.n.Fired[0].Fingerprint, e.n.Fired[len(e.n.Fired)-1].Fingerprint)
	}
	q.close(context.Background())
}

// Random traffic over five incidents with a receiver of random speed: each
// incident's notifications arrive in the order they happened.
func TestQueueOrderPerIncident(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		slow := rand.New(rand.NewPCG(3, 4)) // the receiver's, used by its goroutine only
		var mu sync.Mutex
		var got []Notification
		rcv := NotifierFunc(func(ctx context.Context, n Notification) error {
			time.Sleep(time.Duration(slow.IntN(40)) * time.Millisecond)
			mu.Lock()
			got = append(got, n)
			mu.Unlock()
			return nil
		})
		q := newQueue(rcv, 3)
		q.start(quietLogger())
		all := []Event{EventSignal, EventFinding, EventEvidence, EventAcknowledged, EventEscalated, EventResolved, EventReopened, EventRenotify}
		sent := map[string]int{}
		for i := range 5000 {
			id := fmt.Sprintf("INC-%d", rng.IntN(5))
			q.push(note(id, all[rng.IntN(len(all))], i, Severity(rng.IntN(4))))
			sent[id]++
			time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		}
		if err := q.close(context.Background()); err != nil {
			t.Fatal(err)
		}
		last := map[string]time.Time{}
		for _, n := range got {
			if p, ok := last[n.Incident.ID]; ok && !n.At.After(p) {
				t.Fatalf("%s: event of second %d delivered after second %d", n.Incident.ID, n.At.Unix(), p.Unix())
			}
			last[n.Incident.ID] = n.At
		}
		var st BoardStats
		q.addStats(&st)
		if int(st.Notified+st.NotifyDropped+st.NotifyCoalesced) != 5000 {
			t.Errorf("5000 pushed, %d delivered, %d dropped, %d coalesced", st.Notified, st.NotifyDropped, st.NotifyCoalesced)
		}
		if st.NotifyCoalesced == 0 {
			t.Error("nothing coalesced: the receiver was never behind")
		}
	})
}

// Close from inside Notify returns at once, whatever its context, and says
// why; the board still flushes its other notifiers, and every goroutine
// ends (synctest.Test fails on one left blocked).
func TestCloseFromNotifier(t *testing.T) {
	for name, mk := range map[string]func() (context.Context, context.CancelFunc){
		"deadline 1s": func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Second)
		},
		"no deadline": func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var b *Board
				var took time.Duration
				var closeErr error
				var calls atomic.Int32
				reported := make(chan struct{}) // all five signals are in before Close
				closer := NotifierFunc(func(ctx context.Context, n Notification) error {
					if calls.Add(1) == 1 {
						<-reported
						cctx, cancel := mk()
						defer cancel()
						start := time.Now()
						closeErr = b.Close(cctx)
						took = time.Since(start)
					}
					return nil
				})
				other := &receiver{delay: 100 * time.Millisecond}
				p := DefaultPlan()
				p.Timers.GroupWait = 0
				b = startBoard(t, WithPlan(p), WithNotifier(closer), WithNotifier(other))
				for i := range 5 {
					b.Report(breakerSignal("search-api", fmt.Sprintf("dep-%d", i), true))
				}
				close(reported)
				time.Sleep(10 * time.Second)
				synctest.Wait()
				if took > time.Second {
					t.Errorf("Close from Notify took %v", took)
				}
				if !errors.Is(closeErr, ErrCloseFromNotifier) {
					t.Errorf("Close from Notify returned %v", closeErr)
				}
				if got := calls.Load(); got != 5 {
					t.Errorf("the closing notifier was called %d times, want its 5 (queued before Close)", got)
				}
				if notes, _ := other.notes(); len(notes) != 5 {
					t.Errorf("the other notifier got %d notifications, want 5", len(notes))
				}
				if err := b.Close(context.Background()); err != nil {
					t.Errorf("Close after Close: %v", err)
				}
			})
		})
	}
}

// A notifier that waits for a Close it started itself cannot be detected as
// the caller; Close still returns at its deadline, and the delivery
// goroutine ends once Notify returns.
func TestCloseHonoursDeadlineWhenNotifierWaitsForIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b *Board
		var took time.Duration
		var closeErr error
		var once sync.Once
		n := NotifierFunc(func(ctx context.Context, _ Notification) error {
			once.Do(func() {
				done := make(chan struct{})
				go func() {
					defer close(done)
					cctx, cancel := context.WithTimeout(context.Background(), time.Second)
					defer cancel()
					start := time.Now()
					closeErr = b.Close(cctx)
					took = time.Since(start)
				}()
				<-done
			})
			return nil
		})
		p := DefaultPlan()
		p.Timers.GroupWait = 0
		b = startBoard(t, WithPlan(p), WithNotifier(n))
		b.Report(burnSignal())
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if took != time.Second || !errors.Is(closeErr, context.DeadlineExceeded) {
			t.Errorf("Close took %v and returned %v; want 1s, deadline exceeded", took, closeErr)
		}
	})
}

// countingHandler counts the records it is given, by message.
type countingHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// A notifier that panics on every notification is logged once, with its
// stack; every panic is counted; the board and the other notifier carry on.
func TestPanickingNotifierLogsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &countingHandler{}
		var calls atomic.Int32
		bad := NotifierFunc(func(context.Context, Notification) error {
			calls.Add(1)
			panic("nil map in the chat bridge")
		})
		good := &receiver{}
		p := DefaultPlan()
		p.Timers.GroupWait = 0
		b, err := NewBoard("checkout", WithPlan(p), WithNotifier(bad), WithNotifier(good), WithLogger(slog.New(h)))
		if err != nil {
			t.Fatal(err)
		}
		b.Start(context.Background())
		for i := range 20 {
			b.Report(breakerSignal("search-api", fmt.Sprintf("dep-%d", i), true))
			time.Sleep(time.Second)
		}
		closeBoard(t, b)
		if calls.Load() != 20 {
			t.Errorf("the panicking notifier was called %d times, want 20", calls.Load())
		}
		if notes, _ := good.notes(); len(notes) != 20 {
			t.Errorf("the other notifier got %d notifications, want 20", len(notes))
		}
		panics := 0
		for _, r := range h.records {
			if strings.Contains(r.Message, "panicked") {
				panics++
				var stack string
				r.Attrs(func(a slog.Attr) bool {
					if a.Key == "stack" {
						stack = a.Value.String()
					}
					return true
				})
				if !strings.Contains(stack, "TestPanickingNotifierLogsOnce") {
					t.Errorf("panic logged without the notifier's stack: %q", stack)
				}
			}
		}
		if panics != 1 || len(h.records) != 1 {
			t.Errorf("%d panic records of %d records, want 1 of 1", panics, len(h.records))
		}
		if st := b.Stats(); st.NotifyPanics != 20 || st.NotifyFailed != 20 || st.Notified != 20 || st.AnnouncementsLost != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

// An announcement that fails at every notifier is lost; one that reaches a
// single notifier is not.
func TestAnnouncementsLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fail := NotifierFunc(func(context.Context, Notification) error { return errors.New("receiver down") })
		p := DefaultPlan()
		p.Timers.GroupWait = 0
		b := startBoard(t, WithPlan(p), WithNotifier(fail), WithNotifier(fail))
		b.Report(burnSignal())
		time.Sleep(time.Second)
		closeBoard(t, b)
		if st := b.Stats(); st.AnnouncementsLost != 1 || st.NotifyFailed != 2 {
			t.Errorf("stats %+v", st)
		}
		good := &receiver{}
		b = startBoard(t, WithPlan(p), WithNotifier(fail), WithNotifier(good))
		b.Report(burnSignal())
		time.Sleep(time.Second)
		closeBoard(t, b)
		if st := b.Stats(); st.AnnouncementsLost != 0 || st.Notified != 1 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestQueuePushCoalescingDoesNotAllocate(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	q := newQueue(NotifierFunc(func(context.Context, Notification) error { return nil }), 256)
	defer q.close(context.Background())
	n := note("INC-0001", EventSignal, 1, General)
	n.Fired = []AlertRef{{Fingerprint: "a"}}
	q.push(n)
	if got := testing.AllocsPerRun(1000, func() { q.push(n) }); got != 0 {
		t.Fatalf("a coalescing push allocated %v times", got)
	}
}

// BenchmarkQueuePush measures push of a routine update that coalesces,
// against the raw dependency it replaced: a mutex and a buffered channel.
func BenchmarkQueuePush(b *testing.B) {
	n := note("INC-0001", EventSignal, 1, General)
	n.Fired = []AlertRef{{Fingerprint: "a"}}
	b.Run("raw=chan", func(b *testing.B) {
		var mu sync.RWMutex
		ch := make(chan Notification, 256)
		b.ReportAllocs()
		for b.Loop() {
			mu.RLock()
			select {
			case ch <- n:
			default:
			}
			mu.RUnlock()
			<-ch
		}
	})
	b.Run("coalesce", func(b *testing.B) {
		q := newQueue(NotifierFunc(func(context.Context, Notification) error { return nil }), 256)
		defer q.close(context.Background())
		q.push(n)
		b.ReportAllocs()
		for b.Loop() {
			q.push(n)
		}
	})
}

func ExampleEvent_Routine() {
	for _, e := range []Event{EventDetected, EventSignal, EventAcknowledged, EventEvidence, EventResolved} {
		fmt.Println(e, e.Routine())
	}
	// Output:
	// detected false
	// signal true
	// acknowledged false
	// evidence true
	// resolved false
}

// A lifecycle event that supersedes an older one and absorbs the routine
// update waiting between them takes their alerts in the order they
// happened: the alert that resolved, then fired again, is listed as fired.
func TestQueueSupersedeKeepsChangeOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gate{open: make(chan struct{})}
		q := newQueue(g, 1) // 4 lifecycle events
		q.start(quietLogger())
		q.push(note("INC-0", EventDetected, 0, Fatal)) // in flight
		synctest.Wait()
		for i := range 3 {
			q.push(note(fmt.Sprintf("INC-%d", i+1), EventDetected, 1, Fatal))
		}
		resolved := note("INC-X", EventResolved, 2, Fatal)
		resolved.Resolved = []AlertRef{{Fingerprint: "a"}}
		again := note("INC-X", EventSignal, 3, Fatal)
		again.Fired = []AlertRef{{Fingerprint: "a"}}
		reopened := note("INC-X", EventReopened, 4, Fatal)
		reopened.Fired = []AlertRef{{Fingerprint: "b"}}
		q.push(resolved)
		q.push(again)
		q.push(reopened) // the bound is reached: it takes over the resolution
		close(g.open)
		if err := q.close(context.Background()); err != nil {
			t.Fatal(err)
		}
		notes, _ := g.notes()
		last := notes[len(notes)-1]
		if len(notes) != 5 || last.Event != EventReopened {
			t.Fatalf("delivered %v", events(notes))
		}
		if got := fmt.Sprint(fps(last.Fired), fps(last.Resolved)); got != "[a b] []" {
			t.Fatalf("fired, resolved = %s; want [a b] []", got)
		}
		if q.supersede.Load() != 1 || q.coalesced.Load() != 1 {
			t.Errorf("superseded %d, coalesced %d; want 1, 1", q.supersede.Load(), q.coalesced.Load())
		}
	})
}

// Close that gives up says how many notifications it could not deliver.
func TestCloseSaysWhatItCouldNotDeliver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stuck := NotifierFunc(func(ctx context.Context, _ Notification) error {
			<-ctx.Done()
			return ctx.Err()
		})
		p := DefaultPlan()
		p.Timers.GroupWait = 0
		b := startBoard(t, WithPlan(p), WithNotifier(stuck))
		for i := range 3 {
			s := burnSignal()
			s.Dependency = fmt.Sprintf("dep-%d", i)
			b.Report(s)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := b.Close(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "notifications undelivered") {
			t.Fatalf("Close = %v; want the count of undelivered notifications and the deadline", err)
		}
		t.Log(err)
	})
}
