package health_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/health/healthtest"
)

// kubelet GETs path every 10 s for d and counts the answers by status code.
func kubelet(t *testing.T, r *health.Registry, path string, d time.Duration) map[int]int {
	t.Helper()
	codes := map[int]int{}
	h := r.Handler()
	for end := time.Now().Add(d); time.Now().Before(end); {
		time.Sleep(10 * time.Second)
		synctest.Wait()
		codes[get(h, path, false).code]++
	}
	return codes
}

// TestPanicEveryIntervalLogsOnce: a check that panics every second for an
// hour, probed by a kubelet every 10 s, logs its stack once and its error
// once; the error text is one short line with no stack in it. After it
// recovers and panics again, the stack is logged once more.
func TestPanicEveryIntervalLogsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf lockedBuffer
		logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
		var rec firebreak.Recorder
		r := newRegistry(t, &rec, health.WithLogger(logger))
		var healthy atomic.Bool
		mustRegister(t, r, "db", health.CheckFunc(func(context.Context) error {
			if healthy.Load() {
				return nil
			}
			return count(nil, "x") // assignment to entry in nil map
		}), health.WithInterval(time.Second), health.WithTimeout(500*time.Millisecond))
		r.Start(context.Background())
		codes := kubelet(t, r, "/readyz", time.Hour)
		if codes[503] != 360 || len(codes) != 1 {
			t.Fatalf("readyz answers over the hour: %v, want 360 × 503", codes)
		}
		st, _ := r.State("db")
		var pe *health.PanicError
		if !errors.As(st.Err, &pe) || !errors.Is(st.Err, health.ErrPanic) || st.Runs != 3601 {
			t.Fatalf("state = %+v", st)
		}
		const wantText = `health: check "db" panicked: assignment to entry in nil map`
		if st.Err.Error() != wantText {
			t.Fatalf("error text %q, want %q", st.Err.Error(), wantText)
		}
		if !strings.Contains(string(pe.Stack), "goroutine ") || pe.Check != "db" {
			t.Fatalf("PanicError = check %q, stack %q", pe.Check, pe.Stack)
		}
		out := buf.String()
		if n := strings.Count(out, "stack="); n != 1 {
			t.Errorf("stack logged %d times in an hour, want 1:\n%s", n, out)
		}
		if n := strings.Count(out, `msg="health: check down"`); n != 1 {
			t.Errorf("error line logged %d times, want 1:\n%s", n, out)
		}
		if n := strings.Count(out, "\n"); n != 2 {
			t.Errorf("%d log lines in an hour, want 2 (stack, down):\n%s", n, out)
		}
		if sigs := rec.Signals(); len(sigs) != 1 || !sigs[0].Firing || strings.Contains(sigs[0].Summary, "goroutine") {
			t.Errorf("signals = %+v, want one firing, without the stack", sigs)
		}

		healthy.Store(true)
		time.Sleep(time.Minute)
		healthy.Store(false)
		time.Sleep(time.Hour)
		synctest.Wait()
		r.Close(context.Background())
		if n := strings.Count(buf.String(), "stack="); n != 2 {
			t.Errorf("stack logged %d times, want 2 (once per failing streak):\n%s", n, buf.String())
		}
	})
}

// TestChangingPanicValuesAreBounded: a panic whose value changes every run
// logs a bounded number of stacks, not one per run.
func TestChangingPanicValuesAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf lockedBuffer
		r := newRegistry(t, nil, health.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
		var n atomic.Int64
		mustRegister(t, r, "db", health.CheckFunc(func(context.Context) error {
			panic(fmt.Sprintf("request %d", n.Add(1)))
		}), health.WithInterval(time.Second), health.WithTimeout(time.Second))
		r.Start(context.Background())
		time.Sleep(time.Hour)
		synctest.Wait()
		r.Close(context.Background())
		if got := strings.Count(buf.String(), "stack="); got < 1 || got > 4 {
			t.Errorf("stacks logged for 3600 distinct panics: %d, want 1 to 4", got)
		}
	})
}

type panicHandler struct{ slog.Handler }

func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (panicHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (panicHandler) Handle(context.Context, slog.Record) error { panic("log sink gone") }

// TestCallbackPanicsDoNotKill: a Reporter that panics on every signal and a
// logger that panics on every record do not kill the dispatcher: a check
// flapping every 10 s for an hour keeps being graded, every transition is
// still offered to the Reporter, and each panic is counted.
func TestCallbackPanicsDoNotKill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var reports atomic.Int64
		rep := firebreak.ReporterFunc(func(firebreak.Signal) {
			reports.Add(1)
			panic("reporter bug")
		})
		var buf lockedBuffer
		r := newRegistry(t, rep, health.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
		c := healthtest.NewCheck()
		mustRegister(t, r, "db", c)
		r.Start(context.Background())
		synctest.Wait()
		for i := range 360 {
			if i%2 == 0 {
				c.Fail(errors.New("boom"))
			} else {
				c.Pass()
			}
			time.Sleep(health.DefaultInterval)
			synctest.Wait()
		}
		if got := reports.Load(); got != 360 {
			t.Errorf("Reporter called %d times, want 360 (one per transition)", got)
		}
		if got := r.RecoveredPanics(); got != 360 {
			t.Errorf("RecoveredPanics = %d, want 360", got)
		}
		if n := strings.Count(buf.String(), "recovered a panic"); n != 1 {
			t.Errorf("reporter panic logged %d times, want once:\n%s", n, buf.String())
		}
		if !strings.Contains(buf.String(), "callback=reporter") {
			t.Errorf("log does not name the reporter:\n%s", buf.String())
		}
		r.Close(context.Background())

		// A logger that panics on every record.
		var rec firebreak.Recorder
		r2 := newRegistry(t, &rec, health.WithLogger(slog.New(panicHandler{slog.DiscardHandler})))
		c2 := healthtest.NewCheck()
		mustRegister(t, r2, "db", c2)
		r2.Start(context.Background())
		synctest.Wait()
		for i := range 360 {
			if i%2 == 0 {
				c2.Fail(errors.New("boom"))
			} else {
				c2.Pass()
			}
			time.Sleep(health.DefaultInterval)
			synctest.Wait()
		}
		r2.Close(context.Background())
		if got := len(rec.Signals()); got != 360 {
			t.Errorf("signals with a panicking logger: %d, want 360", got)
		}
		if r2.RecoveredPanics() < 360 {
			t.Errorf("RecoveredPanics = %d, want at least 360", r2.RecoveredPanics())
		}
	})
}

// TestCloseFromInsideCheck: Close called by a running check stops the
// registry and returns ErrCloseInCallback instead of waiting for itself; a
// later Close from outside waits for the rest and returns nil.
func TestCloseFromInsideCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		var closeNow atomic.Bool
		got := make(chan error, 1)
		mustRegister(t, r, "selfdestruct", health.CheckFunc(func(context.Context) error {
			if closeNow.Load() {
				got <- r.Close(context.Background())
			}
			return nil
		}))
		r.Start(context.Background())
		synctest.Wait()
		closeNow.Store(true)
		time.Sleep(health.DefaultInterval)
		synctest.Wait() // deadlocks (and fails) if Close waits for itself
		select {
		case err := <-got:
			if !errors.Is(err, health.ErrCloseInCallback) {
				t.Fatalf("Close inside a check = %v, want ErrCloseInCallback", err)
			}
		default:
			t.Fatal("Close inside the check has not returned")
		}
		if err := r.Close(context.Background()); err != nil {
			t.Fatalf("Close from outside = %v", err)
		}
		if err := r.Start(context.Background()); !errors.Is(err, firebreak.ErrClosed) {
			t.Fatalf("Start after Close = %v", err)
		}
	})
}

// TestCloseFromReporter: a Reporter that closes the registry on the first
// signal does not hang the dispatcher.
func TestCloseFromReporter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r *health.Registry
		got := make(chan error, 1)
		r = newRegistry(t, firebreak.ReporterFunc(func(firebreak.Signal) { got <- r.Close(context.Background()) }))
		c := healthtest.NewCheck()
		c.Fail(errors.New("boom"))
		mustRegister(t, r, "db", c)
		r.Start(context.Background())
		synctest.Wait()
		if err := <-got; !errors.Is(err, health.ErrCloseInCallback) {
			t.Fatalf("Close from the Reporter = %v", err)
		}
		if err := r.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCloseHonoursContext: a check that ignores its context holds Close
// only until the caller's deadline, and the error names it; a later Close
// waits for it.
func TestCloseHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		release := make(chan struct{})
		var started atomic.Bool
		mustRegister(t, r, "stuck", health.CheckFunc(func(context.Context) error {
			if started.Swap(true) {
				return nil
			}
			<-release // ignores its context
			return nil
		}))
		r.Start(context.Background())
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		t0 := time.Now()
		err := r.Close(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) != 5*time.Second {
			t.Fatalf("Close = %v after %v, want DeadlineExceeded after 5s", err, time.Since(t0))
		}
		if want := `health: Close: runs of "stuck" have not returned: context deadline exceeded`; err.Error() != want {
			t.Errorf("Close error = %q, want %q", err, want)
		}
		close(release)
		if err := r.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestTextAgreesWithVerdict: for every combination of two checks' states
// and criticality, in every group, the verbose text has only the API
// server's line forms, and it has a "[-]" line exactly when the verdict is
// "failed" and the status code is 503.
func TestTextAgreesWithVerdict(t *testing.T) {
	type state struct {
		name string
		set  func(*healthtest.Check)
	}
	states := []state{
		{"up", func(c *healthtest.Check) { c.Pass() }},
		{"degraded", func(c *healthtest.Check) { c.Warn(errors.New("slow")) }},
		{"down", func(c *healthtest.Check) { c.Fail(errors.New("boom")) }},
		{"unknown", nil}, // its first run hangs: no result yet
	}
	for _, g := range []health.Group{health.Startup, health.Liveness, health.Readiness} {
		for _, s1 := range states {
			for _, s2 := range states {
				for _, crit := range [][2]bool{{true, true}, {true, false}, {false, false}} {
					name := fmt.Sprintf("%v/%s-%v/%s-%v", g, s1.name, crit[0], s2.name, crit[1])
					t.Run(name, func(t *testing.T) {
						synctest.Test(t, func(t *testing.T) {
							r := newRegistry(t, nil)
							var checks []*healthtest.Check
							for i, s := range []state{s1, s2} {
								c := healthtest.NewCheck()
								opts := []health.CheckOption{health.InGroups(g)}
								if !crit[i] {
									opts = append(opts, health.NonCritical())
								}
								if s.set == nil {
									c.Hang(true)
								} else {
									s.set(c)
								}
								checks = append(checks, c)
								mustRegister(t, r, fmt.Sprintf("c%d", i), c, opts...)
							}
							r.Start(context.Background())
							synctest.Wait()
							got := get(r.Handler(), "/"+endpoint(g)+"?verbose", false)
							for _, c := range checks {
								c.Release()
							}
							r.Close(context.Background())
							lines := strings.Split(strings.TrimSuffix(got.body, "\n"), "\n")
							failLines := 0
							for _, l := range lines[:len(lines)-1] {
								switch {
								case strings.HasPrefix(l, "[+]") && strings.HasSuffix(l, " ok") && !strings.Contains(l[3:len(l)-3], " "):
								case strings.HasPrefix(l, "[-]") && strings.HasSuffix(l, " failed: reason withheld"):
									failLines++
								default:
									t.Errorf("line %q is not in the API server's format", l)
								}
							}
							verdict := lines[len(lines)-1]
							passed := verdict == endpoint(g)+" check passed"
							if !passed && verdict != endpoint(g)+" check failed" {
								t.Fatalf("verdict line %q", verdict)
							}
							if passed != (failLines == 0) || passed != (got.code == 200) {
								t.Errorf("code %d, body %q: the lines disagree with the verdict", got.code, got.body)
							}
						})
					})
				}
			}
		}
	}
}

func endpoint(g health.Group) string {
	switch g {
	case health.Startup:
		return "startupz"
	case health.Liveness:
		return "livez"
	}
	return "readyz"
}

// count adds one to m[key]; given a nil map, it panics.
func count(m map[string]int, key string) error {
	m[key]++
	return nil
}
