package health_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/health/healthtest"
)

// repeated returns a phrase of three words or more that msg says twice, or
// "" if it says none twice.
func repeated(msg string) string {
	words := strings.Fields(msg)
	seen := map[string]bool{}
	for i := 0; i+3 <= len(words); i++ {
		p := strings.Join(words[i:i+3], " ")
		if seen[p] {
			return p
		}
		seen[p] = true
	}
	return ""
}

// TestErrorMessages prints the errors a user of the registry sees — runs
// that time out, are skipped or panic, Start and Close that give up,
// refusals after Close, bad options — and checks that each is one line,
// starts with "health: " once, and repeats nothing.
func TestErrorMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		stuck := healthtest.NewCheck()
		stuck.Hang(true) // ignores its context
		mustRegister(t, r, "stuck", stuck)
		mustRegister(t, r, "panics", health.CheckFunc(func(context.Context) error { panic("nil map") }))

		var msgs []string
		add := func(err error) {
			t.Helper()
			if err == nil {
				t.Fatal("no error")
			}
			msgs = append(msgs, err.Error())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		add(r.Start(ctx))
		time.Sleep(time.Second)
		synctest.Wait()
		for _, name := range []string{"stuck", "panics"} {
			st, _ := r.State(name)
			add(st.Err)
		}
		time.Sleep(health.DefaultInterval)
		synctest.Wait()
		st, _ := r.State("stuck")
		add(st.Err) // skipped: the abandoned run has not returned
		ctx, cancel = context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		add(r.Close(ctx))
		add(r.Start(context.Background()))
		add(r.Register("x", healthtest.NewCheck()))
		stuck.Release()
		if err := r.Close(context.Background()); err != nil {
			t.Fatal(err)
		}

		_, err := health.New(nil)
		add(err)
		_, err = health.New(health.WithEventBuffer(0))
		add(err)
		r2 := newRegistry(t, nil)
		add(r2.Register("db", healthtest.NewCheck(), health.WithInterval(time.Second), health.WithTimeout(2*time.Second)))
		add(r2.Register("db", nil))
		_, err = health.NewBaseline(nil)
		add(err)
		add(errors.Unwrap(fmt.Errorf("wrap: %w", health.ErrNotStarted)))

		want := []string{
			`health: Start: no first result yet from "stuck": context deadline exceeded`,
			`health: check timed out after 1s (run abandoned)`,
			`health: check "panics" panicked: nil map`,
			`health: previous run has not returned`,
			`health: Close: runs of "stuck" have not returned: context deadline exceeded`,
			`health: registry is closed`,
			`health: registry is closed`,
			`health: New: option 0 is nil`,
			`health: New: WithEventBuffer(0): must be from 1 to 1048576`,
			`health: check "db": WithTimeout(2s): must be positive and at most the interval 1s`,
			`health: check "db": Checker is nil`,
			`health: NewBaseline: sample is nil`,
			`health: registry not started; call Registry.Start`,
		}
		for i, m := range msgs {
			t.Logf("%s", m)
			if i < len(want) && m != want[i] {
				t.Errorf("message %d = %q, want %q", i, m, want[i])
			}
			if strings.Count(m, "health: ") != 1 || !strings.HasPrefix(m, "health: ") || strings.ContainsAny(m, "\n") {
				t.Errorf("%q: want one line starting with \"health: \" once", m)
			}
			if p := repeated(m); p != "" {
				t.Errorf("%q repeats %q", m, p)
			}
		}
		if len(msgs) != len(want) {
			t.Errorf("%d messages, want %d", len(msgs), len(want))
		}
	})
}
