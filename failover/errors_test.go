package failover_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/failover"
)

// repetition returns the part of msg said twice, or "": a run of three
// words or more that appears again, or words in parentheses that repeat
// words said before them ("gave up after 3 attempts (attempts)").
func repetition(msg string) string {
	words := strings.FieldsFunc(strings.ToLower(msg), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.')
	})
	seen := map[string]bool{}
	for i := 0; i+3 <= len(words); i++ {
		k := strings.Join(words[i:i+3], " ")
		if seen[k] {
			return k
		}
		seen[k] = true
	}
	for _, m := range regexp.MustCompile(`\(([^)]*)\)`).FindAllStringSubmatchIndex(msg, -1) {
		inner, before := strings.ToLower(msg[m[2]:m[3]]), strings.ToLower(msg[:m[0]])
		if strings.Contains(before, inner) {
			return inner
		}
	}
	return ""
}

func TestRepetitionCatchesTheReviewsMessages(t *testing.T) {
	for _, msg := range []string{
		`fallback failed: breaker "inventory": circuit open (call failed: breaker "inventory": circuit open)`,
		`gave up after 3 attempts (attempts)`,
	} {
		if repetition(msg) == "" {
			t.Errorf("%q: repetition not found", msg)
		}
	}
}

// Every message a user of the package can see, made by real calls: one
// sentence each, starting with the package, never saying its cause twice.
func TestErrorMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		reset := errors.New("payments: connection reset")
		failing := func(context.Context) (string, error) { return "", reset }
		var msgs []string
		want := func(err error, msg string) {
			t.Helper()
			if err == nil {
				t.Fatalf("no error, want %q", msg)
			}
			if msg != "" && err.Error() != msg {
				t.Errorf("message %q, want %q", err.Error(), msg)
			}
			msgs = append(msgs, err.Error())
		}

		retry, _ := failover.NewRetry[string](failover.WithMaxAttempts(3), failover.WithoutBudget())
		_, err := retry.Execute(ctx, failing)
		want(err, "failover: gave up after 3 attempts: payments: connection reset")

		short, _ := failover.NewRetry[string](failover.WithMaxAttempts(5), failover.WithMaxElapsed(50*time.Millisecond),
			failover.WithBackoff(40*time.Millisecond, time.Second, 2), failover.WithJitter(0), failover.WithoutBudget())
		_, err = short.Execute(ctx, failing)
		want(err, "failover: gave up after 2 attempts, out of time: payments: connection reset")

		dctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
		_, err = retry.Execute(dctx, failing)
		cancel()
		want(err, "failover: gave up after 2 attempts, the next would end past the deadline: payments: connection reset")

		budget, _ := failover.NewRetry[string](failover.WithBudget(0.01, time.Minute, 1))
		budget.Execute(ctx, failing) // spends the one retry of the window
		_, err = budget.Execute(ctx, failing)
		want(err, "failover: gave up after 1 attempt, retry budget spent: payments: connection reset")

		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(10*time.Millisecond, cancel) // the caller gives up during the backoff
		_, err = retry.Execute(cctx, failing)
		want(err, "failover: gave up after 1 attempt, context canceled while waiting: payments: connection reset")

		// The review's message: a fallback that passes on the open breaker's
		// error. The call's error is in the tree, not said twice.
		br, _ := breaker.New[string]()
		fb, _ := failover.NewFallback(func(_ context.Context, err error) (string, error) { return "", err })
		if _, err := firebreak.NewPipeline(firebreak.Component{Name: "shop", Dependency: "inventory"},
			[]firebreak.Policy[string]{fb, br}); err != nil {
			t.Fatal(err)
		}
		br.ForceOpen("drill")
		_, err = fb.Execute(ctx, func(ctx context.Context) (string, error) { return br.Execute(ctx, failing) })
		var fe *failover.FallbackError
		if !errors.As(err, &fe) || !errors.Is(err, breaker.ErrOpen) || fe.ErrorType() != failover.ErrorTypeFallbackFailed {
			t.Errorf("fallback error %v: want a FallbackError holding the open breaker", err)
		}
		if !strings.HasPrefix(err.Error(), `failover: fallback for "inventory" failed: `) {
			t.Errorf("fallback error %q", err)
		}
		want(err, "")

		cache := errors.New("cache: miss")
		unbound, _ := failover.NewFallback(func(context.Context, error) (string, error) { return "", cache })
		_, err = unbound.Execute(ctx, failing)
		want(err, "failover: fallback failed: cache: miss")

		to, _ := failover.NewTimeout[string](time.Second)
		_, err = to.Execute(ctx, func(ctx context.Context) (string, error) { <-ctx.Done(); return "", ctx.Err() })
		want(err, "failover: call timed out after 1s")
		_, err = to.Execute(ctx, func(ctx context.Context) (string, error) {
			<-ctx.Done()
			return "", errors.New("payments: read tcp: i/o timeout")
		})
		want(err, "failover: call timed out after 1s: payments: read tcp: i/o timeout")

		fo, _ := failover.NewFailover[string]([]failover.Endpoint{{Name: "db-primary"}, {Name: "db-standby"}})
		_, err = fo.Execute(ctx, func(context.Context, failover.Endpoint) (string, error) {
			return "", errors.New("db: connection refused")
		})
		want(err, "failover: every endpoint failed (db-primary, db-standby): db: connection refused")
		var ue *failover.UnavailableError
		if !errors.As(err, &ue) || !errors.Is(err, failover.ErrUnavailable) || ue.ErrorType() != failover.ErrorTypeDependencyUnavailable || firebreak.IsRejected(err) {
			t.Errorf("failover error %v: want an UnavailableError, not a rejection", err)
		}

		shedder, _ := failover.NewShedder(1, 1, failover.WithCriticalReserve(0))
		shedder.Acquire(ctx)
		_, err = shedder.Acquire(ctx)
		want(err, "failover: request shed: rate_limited (normal priority)")

		d, _ := failover.NewDegrader()
		gate, _ := failover.NewGate[string](d, "recommendations", failover.ModeDegraded)
		d.SetMode(failover.ModeDegraded, "drill")
		_, err = gate.Execute(ctx, failing)
		want(err, `failover: feature "recommendations" is off (switched off or mode degraded or worse)`)

		resp := &http.Response{StatusCode: 503, Status: "503 Service Unavailable", Header: http.Header{"Retry-After": {"2"}}}
		want(failover.CheckResponse(resp), "failover: HTTP 503 Service Unavailable (retry after 2s)")

		_, err = failover.NewRetry[string](failover.WithMaxAttempts(2), nil)
		want(err, "failover: NewRetry: option 1 is nil")

		for _, m := range msgs {
			t.Log(m)
			if r := repetition(m); r != "" {
				t.Errorf("%q says %q twice", m, r)
			}
			if !strings.HasPrefix(m, "failover: ") {
				t.Errorf("%q does not start with the package", m)
			}
		}
	})
}
