package firebreak_test

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// burst reports sig perSecond times a second for d, as a sensor that
// keeps seeing the fault does.
func burst(b *firebreak.Board, d time.Duration, perSecond int, sigs ...firebreak.Signal) {
	for range int(d / time.Second) {
		for range perSecond {
			for _, s := range sigs {
				b.Report(s)
			}
		}
		time.Sleep(time.Second)
	}
}

func timelineHas(inc firebreak.Incident, substr string) bool {
	for _, e := range inc.Timeline {
		if strings.Contains(e.Note, substr) {
			return true
		}
	}
	return false
}

// A silence made before a fault: an hour of a Fatal outage at 1,000
// signals a second pages nobody and is recorded; when the silence expires
// the still-firing fault is announced within the group wait.
func TestSilenceBeforeFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		start := time.Now()
		id, err := b.Silence(firebreak.Silence{Matchers: mustMatchers(t, `component="checkout-api"`),
			EndsAt: start.Add(time.Hour), CreatedBy: "alice", Comment: "payments-db failover drill"})
		if err != nil || id != "S-1" {
			t.Fatalf("Silence: %q, %v", id, err)
		}
		fault := signalFor(firebreak.Fatal)
		burst(b, 59*time.Minute, 1000, fault)
		synctest.Wait()
		if n := s.all(); len(n) != 0 {
			t.Fatalf("silenced fault paged: %d notifications, first %s", len(n), n[0].Event)
		}
		inc := only(t, b)
		if !timelineHas(inc, "silenced by S-1 (payments-db failover drill)") || !inc.NotifiedAt.IsZero() || inc.Breached || inc.Severity != firebreak.None {
			t.Fatalf("incident should record the silenced signal and page nobody: %+v", inc)
		}
		if len(inc.Alerts) != 1 || inc.Alerts[0].Count < 59*60*1000 || !inc.Alerts[0].Firing {
			t.Fatalf("silenced signals not recorded: %+v", inc.Alerts)
		}
		// The silence expires by itself at its end; the fault still fires.
		burst(b, 2*time.Minute, 1000, fault)
		synctest.Wait()
		if got := s.count(firebreak.EventDetected); got != 1 {
			t.Fatalf("after expiry: %d announcements, want 1 (events %v)", got, s.events())
		}
		n := s.all()[0]
		if n.Incident.Severity != firebreak.Fatal || n.At.Sub(start.Add(time.Hour)) > 30*time.Second {
			t.Fatalf("announced %s at %s, want fatal within the group wait of %s", n.Incident.Severity, n.At, start.Add(time.Hour))
		}
		ss := b.Silences()
		if len(ss) != 1 || ss[0].State(time.Now()) != "expired" || !ss[0].ExpiredAt.Equal(start.Add(time.Hour)) || ss[0].CreatedBy != "alice" {
			t.Fatalf("audit list: %+v", ss)
		}
	})
}

// A silence made during an announced incident stops its reminders and its
// breach; expiring it early lets them resume.
func TestSilenceStopsFurtherPages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, s := newBoard(t)
		fault := signalFor(firebreak.Severe)
		burst(b, time.Minute, 100, fault)
		synctest.Wait()
		if s.count(firebreak.EventDetected) != 1 {
			t.Fatalf("not announced: %v", s.events())
		}
		id, err := b.Silence(firebreak.Silence{Matchers: mustMatchers(t, `kind="breaker_open",dependency="payments-db"`),
			EndsAt: time.Now().Add(2 * time.Hour), CreatedBy: "bob", Comment: "known, fixing"})
		if err != nil {
			t.Fatal(err)
		}
		before := len(s.all())
		burst(b, time.Hour, 100, fault)
		synctest.Wait()
		if got := s.all()[before:]; len(got) != 0 {
			t.Fatalf("silenced incident still paged: %v", s.events()[before:])
		}
		inc := only(t, b)
		if inc.Breached || !timelineHas(inc, "silence "+id+" created by bob") {
			t.Fatalf("breached %v; timeline lacks the audit line", inc.Breached)
		}
		if err := b.ExpireSilence(id, "bob"); err != nil {
			t.Fatal(err)
		}
		if err := b.ExpireSilence(id, "bob"); !errors.Is(err, firebreak.ErrSilenceNotFound) {
			t.Fatalf("expire twice: %v", err)
		}
		burst(b, time.Minute, 100, fault)
		synctest.Wait()
		if s.count(firebreak.EventBreached) != 1 {
			t.Fatalf("after expiry the unacknowledged incident breaches: %v", s.events())
		}
		if ss := b.Silences(); ss[0].ExpiredBy != "bob" {
			t.Fatalf("audit: %+v", ss[0])
		}
	})
}

func TestSilenceValidation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		now := time.Now()
		ms := mustMatchers(t, `component="checkout-api"`)
		for _, tc := range []struct {
			name string
			s    firebreak.Silence
			want string
		}{
			{"no matcher", firebreak.Silence{EndsAt: now.Add(time.Hour), CreatedBy: "a"}, "matchers: at least one matcher"},
			{"matches everything", firebreak.Silence{Matchers: mustMatchers(t, `component=~".*"`), EndsAt: now.Add(time.Hour), CreatedBy: "a"}, "would mute everything"},
			{"no creator", firebreak.Silence{Matchers: ms, EndsAt: now.Add(time.Hour)}, "created_by: required"},
			{"no end", firebreak.Silence{Matchers: ms, CreatedBy: "a"}, "ends_at: required"},
			{"end before start", firebreak.Silence{Matchers: ms, StartsAt: now.Add(time.Hour), EndsAt: now.Add(time.Minute), CreatedBy: "a"}, "is not after starts_at"},
			{"too long", firebreak.Silence{Matchers: ms, EndsAt: now.Add(8 * 24 * time.Hour), CreatedBy: "a"}, "MaxSilenceDuration"},
			{"bad matcher", firebreak.Silence{Matchers: firebreak.Matchers{{Name: "1x", Value: "y"}}, EndsAt: now.Add(time.Hour), CreatedBy: "a"}, "matchers[0].name"},
		} {
			if _, err := b.Silence(tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
			}
		}
		if len(b.Silences()) != 0 {
			t.Fatal("a refused silence was kept")
		}
	})
}
