package failover

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// fakeDeps answers calls per endpoint name: an endpoint in down fails.
type fakeDeps struct {
	down  map[string]bool
	calls map[string]int
}

func (d *fakeDeps) call(_ context.Context, e Endpoint) (string, error) {
	d.calls[e.Name]++
	if d.down[e.Name] {
		return "", errors.New(e.Name + " down")
	}
	return e.Name, nil
}

func newDeps() *fakeDeps { return &fakeDeps{down: map[string]bool{}, calls: map[string]int{}} }

func TestFailoverToStandbyAndBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		f, err := bound(NewFailover[string]([]Endpoint{{Name: "primary"}, {Name: "standby"}}, WithEjection(100, time.Minute, 0.5)))(&rec)
		if err != nil {
			t.Fatal(err)
		}
		d := newDeps()
		ctx := t.Context()
		if v, _ := f.Execute(ctx, d.call); v != "primary" {
			t.Fatalf("got %q, want primary", v)
		}
		d.down["primary"] = true
		for range 3 {
			if v, err := f.Execute(ctx, d.call); v != "standby" || err != nil {
				t.Fatalf("got %q, %v; want standby", v, err)
			}
		}
		d.down["primary"] = false
		if v, _ := f.Execute(ctx, d.call); v != "primary" {
			t.Fatalf("got %q, want primary again", v)
		}
		sigs := rec.Of(firebreak.KindFailover)
		if len(sigs) != 2 || !sigs[0].Firing || sigs[1].Firing {
			t.Fatalf("signals %+v, want one firing then one cleared", sigs)
		}
		if !sigs[0].Fallback || !strings.Contains(sigs[0].Summary, "standby") {
			t.Errorf("firing signal %+v should name the standby", sigs[0])
		}
		d.down["standby"], d.down["primary"] = true, true
		_, err = f.Execute(ctx, d.call)
		if err == nil || !strings.Contains(err.Error(), "primary, standby") || !strings.Contains(err.Error(), "standby down") {
			t.Errorf("all down: err = %v", err)
		}
	})
}

func TestFailoverEjectionAndReadmission(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _ := NewFailover[string]([]Endpoint{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}}, WithEjection(3, 30*time.Second, 0.5))
		d := newDeps()
		ctx := t.Context()
		d.down["a"] = true
		for range 3 {
			f.Execute(ctx, d.call)
		}
		if d.calls["a"] != 3 || !f.Status()[0].Ejected {
			t.Fatalf("after 3 failures a was called %d times, status %+v; want ejected", d.calls["a"], f.Status()[0])
		}
		for range 10 {
			if v, _ := f.Execute(ctx, d.call); v != "b" {
				t.Fatalf("got %q while a is ejected, want b", v)
			}
		}
		if d.calls["a"] != 3 {
			t.Errorf("ejected endpoint called %d times, want 3", d.calls["a"])
		}
		time.Sleep(29 * time.Second)
		f.Execute(ctx, d.call)
		if d.calls["a"] != 3 {
			t.Errorf("a re-admitted early")
		}
		time.Sleep(time.Second)
		d.down["a"] = false
		if v, _ := f.Execute(ctx, d.call); v != "a" {
			t.Fatalf("after the ejection time got %q, want a re-admitted", v)
		}
		if s := f.Status()[0]; s.Ejected || s.ConsecutiveFailures != 0 {
			t.Errorf("status after re-admission %+v", s)
		}
	})
}

func TestFailoverMaxEjectedShare(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _ := NewFailover[string]([]Endpoint{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}}, WithEjection(2, time.Minute, 0.5))
		d := newDeps()
		for _, n := range []string{"a", "b", "c", "d"} {
			d.down[n] = true
		}
		for range 5 {
			f.Execute(t.Context(), d.call)
		}
		ejected := 0
		for _, s := range f.Status() {
			if s.Ejected {
				ejected++
			}
		}
		if ejected != 2 {
			t.Errorf("%d of 4 endpoints ejected, want 2 (50%%)", ejected)
		}
		// With every endpoint failing, each call still tries them all.
		before := d.calls["a"] + d.calls["b"] + d.calls["c"] + d.calls["d"]
		f.Execute(t.Context(), d.call)
		if got := d.calls["a"] + d.calls["b"] + d.calls["c"] + d.calls["d"] - before; got != 4 {
			t.Errorf("one call tried %d endpoints, want 4", got)
		}
	})
}

func TestFailoverHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var primaryUp, standbyUp atomic.Bool
		primaryUp.Store(false)
		standbyUp.Store(true)
		f, _ := NewFailover[string]([]Endpoint{
			{Name: "primary", Healthy: primaryUp.Load},
			{Name: "standby", Healthy: standbyUp.Load},
		})
		d := newDeps()
		if v, _ := f.Execute(t.Context(), d.call); v != "standby" || d.calls["primary"] != 0 {
			t.Fatalf("got %q with primary called %d times; want standby without trying the unhealthy primary", v, d.calls["primary"])
		}
		standbyUp.Store(false)
		if v, _ := f.Execute(t.Context(), d.call); v != "primary" {
			t.Fatalf("all unhealthy: got %q, want primary tried anyway", v)
		}
		primaryUp.Store(true)
		if v, _ := f.Execute(t.Context(), d.call); v != "primary" {
			t.Fatalf("got %q, want primary", v)
		}
	})
}

func TestFailoverAsPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _ := NewFailover[string]([]Endpoint{{Name: "primary"}, {Name: "standby"}})
		d := newDeps()
		d.down["primary"] = true
		p, err := firebreak.NewPipeline(firebreak.Component{Name: "api"}, []firebreak.Policy[string]{f})
		if err != nil {
			t.Fatal(err)
		}
		v, err := p.Execute(t.Context(), func(ctx context.Context) (string, error) {
			e, ok := EndpointFromContext(ctx)
			if !ok {
				return "", errors.New("no endpoint in context")
			}
			return d.call(ctx, e)
		})
		if v != "standby" || err != nil {
			t.Errorf("got %q, %v; want standby", v, err)
		}
		// The caller's cancellation moves nowhere.
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		n := 0
		f.Execute(ctx, func(ctx context.Context, e Endpoint) (string, error) { n++; return "", ctx.Err() })
		if n != 1 {
			t.Errorf("cancelled call tried %d endpoints, want 1", n)
		}
	})
}

func TestNewFailoverValidates(t *testing.T) {
	tests := []struct {
		eps  []Endpoint
		opts []FailoverOption
		want string
	}{
		{nil, nil, "endpoints is empty"},
		{[]Endpoint{{Name: ""}}, nil, "endpoints[0].Name is empty"},
		{[]Endpoint{{Name: "a"}, {Name: "a"}}, nil, "duplicate"},
		{[]Endpoint{{Name: "a"}}, []FailoverOption{WithEjection(-1, time.Second, 0.5)}, "consecutive"},
		{[]Endpoint{{Name: "a"}}, []FailoverOption{WithEjection(1, time.Second, 2)}, "maxShare"},
	}
	for _, tt := range tests {
		if _, err := NewFailover[int](tt.eps, tt.opts...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err = %v, want %q", err, tt.want)
		}
	}
}

func TestFailoverIf(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errNotFound := errors.New("not found")
		f, _ := NewFailover[string]([]Endpoint{{Name: "primary"}, {Name: "standby"}},
			WithEjection(1, time.Minute, 0.5),
			WithFailoverIf(func(err error) bool { return !errors.Is(err, errNotFound) }))
		n := 0
		_, err := f.Execute(t.Context(), func(ctx context.Context, e Endpoint) (string, error) { n++; return "", errNotFound })
		if err != errNotFound || n != 1 {
			t.Errorf("got %v after %d calls; an answer, not a fault, should not move on", err, n)
		}
		if s := f.Status()[0]; s.Ejected || s.ConsecutiveFailures != 0 {
			t.Errorf("primary %+v counted a non-fault", s)
		}
	})
}
