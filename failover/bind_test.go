package failover

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-go/firebreak"
)

// Every policy follows firebreak.Binding's rule: the first identity stays
// (with its Reporter), the same one again is a no-op, another dependency is
// an AlreadyBoundError. Service-wide ones accept another dependency of the
// same service and refuse another service.
func TestBindRule(t *testing.T) {
	shedder, _ := NewShedder(10, 10)
	degrader, _ := NewDegrader()
	retry, _ := NewRetry[int]()
	timeout, _ := NewTimeout[int](time.Second)
	fallback, _ := NewFallback(Static(0))
	fo, _ := NewFailover[int]([]Endpoint{{Name: "a"}})
	shed, _ := NewShed[int](shedder)
	gate, _ := NewGate[int](degrader, "f", ModeDegraded)
	bulkhead, _ := NewBulkhead[int](1)
	hedge, _ := NewHedge[int](time.Second)
	limiter, _ := NewAdaptiveLimiter[int]()
	tests := []struct {
		name        string
		p           firebreak.Binder
		serviceWide bool
	}{
		{"retry", retry, false},
		{"timeout", timeout, false},
		{"fallback", fallback, false},
		{"failover", fo, false},
		{"shedder", shedder, true},
		{"shed", shed, true},
		{"degrader", degrader, true},
		{"gate", gate, true},
		{"bulkhead", bulkhead, false},
		{"hedge", hedge, false},
		{"adaptive limiter", limiter, false},
	}
	var first, second firebreak.Recorder
	shop := firebreak.Component{Name: "shop", Dependency: "catalog", Tier: firebreak.Core, Reporter: &first}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Bind(shop); err != nil {
				t.Fatalf("first Bind: %v", err)
			}
			again := shop
			again.Reporter = &second
			if err := tt.p.Bind(again); err != nil {
				t.Errorf("the same identity again: %v, want nil", err)
			}
			other := shop
			other.Dependency = "payments"
			err := tt.p.Bind(other)
			if tt.serviceWide && err != nil {
				t.Errorf("another dependency of the same service: %v, want nil", err)
			}
			if !tt.serviceWide && !errors.Is(err, firebreak.ErrAlreadyBound) {
				t.Errorf("another dependency: %v, want ErrAlreadyBound", err)
			}
			err = tt.p.Bind(firebreak.Component{Name: "search", Dependency: "catalog", Tier: firebreak.Core})
			var abe *firebreak.AlreadyBoundError
			if !errors.As(err, &abe) || !strings.HasPrefix(err.Error(), "failover: ") {
				t.Errorf("another service: %v, want an AlreadyBoundError naming the policy", err)
			}
			if err := tt.p.Bind(firebreak.Component{}); err == nil {
				t.Error("an invalid component should be refused")
			}
		})
	}
	// The first Reporter stays, and a service-wide shedder keeps the first
	// dependency as its "guards" label.
	if g := shedder.guards.Load(); g == nil || *g != "catalog" {
		t.Errorf("guards = %v, want catalog", g)
	}
	if c := retry.b.Component(); c.Reporter != &first {
		t.Error("binding again replaced the first Reporter")
	}
	if c := shedder.b.Component(); c.Dependency != "" || c.Name != "shop" {
		t.Errorf("shedder identity %+v, want the service without a dependency", c)
	}
}

// A nil option is an error naming the constructor and the option's index.
func TestNilOption(t *testing.T) {
	var errs []error
	_, err := NewRetry[int](WithMaxAttempts(2), nil)
	errs = append(errs, err)
	_, err = NewFallback(Static(0), nil)
	errs = append(errs, err)
	_, err = NewFailover[int]([]Endpoint{{Name: "a"}}, WithEjection(1, time.Second, 1), nil)
	errs = append(errs, err)
	_, err = NewShedder(1, 1, nil)
	errs = append(errs, err)
	_, err = NewDegrader(nil)
	errs = append(errs, err)
	_, err = NewTimeout[int](time.Second, WithAbandon(), WithMeterProvider(nil), nil)
	errs = append(errs, err)
	want := []string{
		"failover: NewRetry: option 1 is nil",
		"failover: NewFallback: option 0 is nil",
		"failover: NewFailover: option 1 is nil",
		"failover: NewShedder: option 0 is nil",
		"failover: NewDegrader: option 0 is nil",
		"failover: NewTimeout: option 2 is nil",
	}
	for i, err := range errs {
		if err == nil || err.Error() != want[i] {
			t.Errorf("err = %v, want %q", err, want[i])
		}
	}
}

// WithMeterProvider(nil) means the global provider, for every constructor.
func TestSharedOptionFitsEveryConstructor(t *testing.T) {
	o := WithMeterProvider(nil)
	if _, err := NewRetry[int](o); err != nil {
		t.Error(err)
	}
	if _, err := NewFallback(Static(0), o); err != nil {
		t.Error(err)
	}
	if _, err := NewFailover[int]([]Endpoint{{Name: "a"}}, o); err != nil {
		t.Error(err)
	}
	if _, err := NewShedder(1, 1, o); err != nil {
		t.Error(err)
	}
	if _, err := NewDegrader(o); err != nil {
		t.Error(err)
	}
	if _, err := NewTimeout[int](time.Second, o); err != nil {
		t.Error(err)
	}
	if _, err := NewBulkhead[int](1, o); err != nil {
		t.Error(err)
	}
	if _, err := NewHedge[int](time.Second, o); err != nil {
		t.Error(err)
	}
	if _, err := NewAdaptiveLimiter[int](o); err != nil {
		t.Error(err)
	}
}
