package firebreak_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/firebreak-go/firebreak"
)

func TestBindingRule(t *testing.T) {
	rec := new(firebreak.Recorder)
	c := firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core, Reporter: rec}

	var b firebreak.Binding
	if b.Bound() {
		t.Fatal("zero Binding is bound")
	}
	b.Report(c.Signal(firebreak.KindBreakerOpen, true)) // unbound: dropped, no panic
	if first, err := b.Bind(`breaker "payments"`, c); !first || err != nil {
		t.Fatalf("first Bind = %v, %v; want true, nil", first, err)
	}
	other := new(firebreak.Recorder)
	same := c
	same.Reporter = other
	if first, err := b.Bind(`breaker "payments"`, same); first || err != nil {
		t.Fatalf("same identity: Bind = %v, %v; want false, nil", first, err)
	}
	b.Report(b.Signal(firebreak.KindBreakerOpen, true))
	if rec.Len() != 1 || other.Len() != 0 {
		t.Fatalf("reports went to first=%d second=%d; the first Reporter must stay", rec.Len(), other.Len())
	}
	diff := c
	diff.Dependency = "inventory"
	_, err := b.Bind(`breaker "payments"`, diff)
	var abe *firebreak.AlreadyBoundError
	if !errors.Is(err, firebreak.ErrAlreadyBound) || !errors.As(err, &abe) {
		t.Fatalf("different identity: err = %v; want an AlreadyBoundError", err)
	}
	want := `breaker "payments" is bound to "checkout" → "payments" (core) and cannot be bound to "checkout" → "inventory" (core); build one per component`
	if err.Error() != want {
		t.Errorf("message:\n got %s\nwant %s", err, want)
	}
	if _, err := b.Bind("x", firebreak.Component{}); err == nil {
		t.Error("Bind of an invalid component succeeded")
	}
}

func TestBindingServiceWide(t *testing.T) {
	b := firebreak.Binding{ServiceWide: true}
	a := firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core}
	if _, err := b.Bind("shed", a); err != nil {
		t.Fatal(err)
	}
	a.Dependency = "inventory"
	if _, err := b.Bind("shed", a); err != nil {
		t.Fatalf("service-wide Bind from a second pipeline: %v", err)
	}
	if got := b.Signal(firebreak.KindLoadShed, true).Dependency; got != "" {
		t.Errorf("service-wide signal names dependency %q", got)
	}
	a.Name = "billing"
	if _, err := b.Bind("shed", a); !errors.Is(err, firebreak.ErrAlreadyBound) {
		t.Errorf("service-wide Bind to another service: err = %v", err)
	}
}

// A nil option is an error naming its index, in every root constructor.
func TestNilOptionsAreErrors(t *testing.T) {
	if _, err := firebreak.NewBoard("svc", nil); err == nil || !strings.Contains(err.Error(), "option 0 is nil") {
		t.Errorf("NewBoard(nil option) = %v", err)
	}
	if _, err := firebreak.NewWebhook("http://127.0.0.1:9/hook", nil); err == nil || !strings.Contains(err.Error(), "option 0 is nil") {
		t.Errorf("NewWebhook(nil option) = %v", err)
	}
	if _, err := firebreak.NewPagerDuty("0123456789abcdef0123456789abcdef", nil); err == nil || !strings.Contains(err.Error(), "option 0 is nil") {
		t.Errorf("NewPagerDuty(nil option) = %v", err)
	}
	c := firebreak.Component{Name: "checkout"}
	if _, err := firebreak.NewPipeline[int](c, nil, nil); err == nil || !strings.Contains(err.Error(), "option 0 is nil") {
		t.Errorf("NewPipeline(nil option) = %v", err)
	}
}
