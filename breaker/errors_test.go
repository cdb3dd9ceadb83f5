package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/tracing"
)

// wordRE matches a word of a message, quotes kept, punctuation left out.
var wordRE = regexp.MustCompile(`[\pL\pN_"'.-]+`)

// repeated returns a sequence of four words that msg holds twice, or a word
// of four letters or more that it holds twice outside quotes when words is
// set: the marks of an error that prints its cause again.
func repeated(msg string, words bool) string {
	w := wordRE.FindAllString(msg, -1)
	seen := map[string]bool{}
	for i := 0; i+4 <= len(w); i++ {
		k := strings.Join(w[i:i+4], " ")
		if seen[k] {
			return k
		}
		seen[k] = true
	}
	if words {
		unquoted := regexp.MustCompile(`"[^"]*"`).ReplaceAllString(msg, "")
		seen := map[string]bool{}
		for _, x := range regexp.MustCompile(`[a-z]{4,}`).FindAllString(strings.ToLower(unquoted), -1) {
			if seen[x] {
				return x
			}
			seen[x] = true
		}
	}
	return ""
}

// The messages a user sees, printed: each is one sentence naming the
// breaker, and none repeats its cause.
func TestMessages(t *testing.T) {
	ctx := context.Background()
	dep := func(context.Context) (int, error) { return 0, errors.New("inventory: 503 service unavailable") }
	okCall := func(context.Context) (int, error) { return 1, nil }

	// Open, in a pipeline.
	cb, err := breaker.New[int](breaker.WithConsecutiveFailures(1), breaker.WithHalfOpenCalls(1))
	if err != nil {
		t.Fatal(err)
	}
	var rec firebreak.Recorder
	p, err := firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "inventory", Tier: firebreak.Core, Reporter: &rec},
		[]firebreak.Policy[int]{cb})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = p.Execute(ctx, dep)
	_, errOpen := p.Execute(ctx, okCall)

	// Half-open with its one trial call in flight.
	if err := cb.SetState(breaker.StateHalfOpen); err != nil {
		t.Fatal(err)
	}
	var errHalfOpen error
	_, _ = cb.Execute(ctx, func(ctx context.Context) (int, error) {
		_, errHalfOpen = cb.Execute(ctx, okCall)
		return 1, nil
	})

	// Forced open, unbound and unnamed, re-bound elsewhere, bad options.
	_ = cb.ForceOpen("INC-7: inventory returns stale stock")
	_, errForced := cb.Execute(ctx, okCall)
	anon, err := breaker.New[int](breaker.WithConsecutiveFailures(1))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = anon.Execute(ctx, dep)
	_, errAnon := anon.Execute(ctx, okCall)
	errRebind := cb.Bind(firebreak.Component{Name: "checkout", Dependency: "search"})
	_, errNil := breaker.New[int](breaker.WithName("x"), nil)
	_, errWindow := breaker.New[int](breaker.WithWindow(30e9, 7e9))

	for _, tt := range []struct {
		name  string
		err   error
		want  string
		words bool // a message made here alone: no word may repeat
	}{
		{"open", errOpen, `breaker "inventory": circuit open`, true},
		{"half-open", errHalfOpen, `breaker "inventory": circuit half-open, every trial call in flight`, true},
		{"forced", errForced, `breaker "inventory": forced open: INC-7: inventory returns stale stock`, false},
		{"unbound", errAnon, `breaker: circuit open`, true},
		{"rebind", errRebind, `breaker "inventory" is bound to "checkout" → "inventory" (core) and cannot be bound to "checkout" → "search" (standard); build one per component`, false},
		{"nil option", errNil, `breaker: New: option 1 is nil`, true},
		{"window", errWindow, `breaker: WithWindow: window 30s must be a whole number of buckets of 7s`, false},
		{"wrapped", fmt.Errorf("reserve stock: %w", errOpen), `reserve stock: breaker "inventory": circuit open`, true},
	} {
		t.Logf("%-10s %v", tt.name, tt.err)
		if tt.err == nil || tt.err.Error() != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.err, tt.want)
			continue
		}
		if r := repeated(tt.err.Error(), tt.words); r != "" {
			t.Errorf("%s: %q repeats %q", tt.name, tt.err, r)
		}
	}
	for _, s := range rec.Signals() {
		t.Logf("signal     %s", s.Summary)
		if r := repeated(s.Summary, false); r != "" {
			t.Errorf("summary %q repeats %q", s.Summary, r)
		}
	}
}

// The test's own check catches the repetitions the review found.
func TestRepeatedCatchesReviewFindings(t *testing.T) {
	for _, msg := range []string{
		`fallback failed: breaker "inventory": circuit open (call failed: breaker "inventory": circuit open)`,
		`gave up after 3 attempts (attempts)`,
	} {
		if repeated(msg, true) == "" {
			t.Errorf("repeated(%q) found nothing", msg)
		}
	}
}

// Spans and metrics name a rejection with the breaker's own constant, and
// every rejection is an isolation.
func TestRejectionErrorType(t *testing.T) {
	cb, err := breaker.New[int]()
	if err != nil {
		t.Fatal(err)
	}
	if err := cb.ForceOpen("drill"); err != nil {
		t.Fatal(err)
	}
	_, err = cb.Execute(context.Background(), func(context.Context) (int, error) { return 1, nil })
	if breaker.ErrorTypeCircuitOpen != "circuit_open" {
		t.Errorf("ErrorTypeCircuitOpen = %q: dashboards filter on circuit_open", breaker.ErrorTypeCircuitOpen)
	}
	if got := tracing.ErrorType(err); got != breaker.ErrorTypeCircuitOpen {
		t.Fatalf("tracing.ErrorType = %q, want %q", got, breaker.ErrorTypeCircuitOpen)
	}
	if got := firebreak.RejectionOf(err); got != firebreak.RejectIsolated {
		t.Fatalf("RejectionOf = %v, want isolated", got)
	}
}
