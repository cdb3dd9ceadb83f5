package breaker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/firebreak-go/firebreak"
)

func newTestGroup(t *testing.T, max int, rec firebreak.Reporter, opts ...Option) *Group[string, int] {
	t.Helper()
	c := firebreak.Component{Name: "checkout", Dependency: "shards", Reporter: rec}
	g, err := NewGroup[string, int](max, append([]Option{WithComponent(c), WithConsecutiveFailures(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGroupIsolatesKeys(t *testing.T) {
	var rec firebreak.Recorder
	g := newTestGroup(t, 10, &rec)
	_, _ = g.Execute(context.Background(), "eu", fail)
	if _, err := g.Execute(context.Background(), "eu", ok); !errors.Is(err, ErrOpen) {
		t.Fatalf("eu: err %v, want open", err)
	}
	if _, err := g.Execute(context.Background(), "us", ok); err != nil {
		t.Fatalf("us: err %v, want through", err)
	}
	s, _ := rec.Last(firebreak.KindBreakerOpen)
	if s.Labels["key"] != "eu" || s.Component != "checkout" || !s.Firing {
		t.Fatalf("signal %+v, want firing with key eu", s)
	}
	if n := g.Breaker("eu").Name(); n != "eu" {
		t.Errorf("name %q, want eu", n)
	}
}

func TestGroupBound(t *testing.T) {
	var rec firebreak.Recorder
	g := newTestGroup(t, 3, &rec, WithName("shard"))
	hot := g.Breaker("hot")
	for i := range 50 {
		_, _ = g.Execute(context.Background(), "hot", ok)
		_, _ = g.Execute(context.Background(), fmt.Sprint("cold-", i), ok)
		if n := g.Len(); n > 3 {
			t.Fatalf("group holds %d breakers, bound is 3", n)
		}
	}
	if g.Breaker("hot") != hot {
		t.Error("the key used on every call was evicted")
	}
	keys := g.Keys()
	slices.Sort(keys)
	if len(keys) != 3 || !slices.Contains(keys, "hot") || !slices.Contains(keys, "cold-49") {
		t.Errorf("keys %v, want hot, the newest cold key and one more", keys)
	}
	if n := hot.Name(); n != "shard/hot" {
		t.Errorf("name %q, want shard/hot", n)
	}
	if rec.Len() != 0 {
		t.Errorf("evicting closed breakers reported %d signals", rec.Len())
	}
}

func TestGroupEvictsOpenBreakerClearsSignal(t *testing.T) {
	var rec firebreak.Recorder
	g := newTestGroup(t, 1, &rec)
	_, _ = g.Execute(context.Background(), "a", fail)
	_, _ = g.Execute(context.Background(), "b", ok) // evicts a, which is open
	sigs := rec.Signals()
	if len(sigs) != 2 || !sigs[0].Firing || sigs[1].Firing || sigs[1].Labels["key"] != "a" {
		t.Fatalf("signals %+v, want a firing then a cleared on eviction", sigs)
	}
	if _, err := g.Execute(context.Background(), "a", ok); err != nil {
		t.Fatalf("a after eviction: %v, want a fresh closed breaker", err)
	}
}

func TestGroupConcurrent(t *testing.T) {
	g := newTestGroup(t, 8, nil)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				key := fmt.Sprint((i * (w + 1)) % 20)
				fn := ok
				if i%13 == 0 {
					fn = fail
				}
				_, _ = g.Execute(context.Background(), key, fn)
			}
		})
	}
	wg.Wait()
	if n := g.Len(); n != 8 {
		t.Fatalf("len %d, want 8", n)
	}
}

type hostKey struct{}

func TestGroupPolicyInPipeline(t *testing.T) {
	var rec firebreak.Recorder
	g, err := NewGroup[string, int](4, WithConsecutiveFailures(1))
	if err != nil {
		t.Fatal(err)
	}
	host := func(ctx context.Context) string { h, _ := ctx.Value(hostKey{}).(string); return h }
	p, err := firebreak.NewPipeline(firebreak.Component{Name: "crawler", Dependency: "web", Reporter: &rec},
		[]firebreak.Policy[int]{g.Policy(host)})
	if err != nil {
		t.Fatal(err)
	}
	bad := context.WithValue(context.Background(), hostKey{}, "bad.example")
	good := context.WithValue(context.Background(), hostKey{}, "good.example")
	_, _ = p.Execute(bad, fail)
	if _, err := p.Execute(bad, ok); !errors.Is(err, ErrOpen) {
		t.Fatalf("bad host: %v", err)
	}
	if _, err := p.Execute(good, ok); err != nil {
		t.Fatalf("good host: %v", err)
	}
	s, _ := rec.Last(firebreak.KindBreakerOpen)
	if s.Component != "crawler" || s.Dependency != "web" || s.Labels["key"] != "bad.example" {
		t.Fatalf("signal %+v", s)
	}
}

func TestGroupKeepsForcedOpen(t *testing.T) {
	var rec firebreak.Recorder
	g := newTestGroup(t, 2, &rec)
	_ = g.Breaker("isolated").ForceOpen("INC-9")
	for i := range 10 {
		_, _ = g.Execute(context.Background(), fmt.Sprint("k", i), ok)
	}
	if _, err := g.Execute(context.Background(), "isolated", ok); !errors.Is(err, ErrOpen) {
		t.Fatalf("forced-open key was evicted: err %v", err)
	}
	// When every breaker is forced open, the bound still holds.
	_ = g.Breaker("k9").ForceOpen("INC-10")
	_, _ = g.Execute(context.Background(), "new", ok)
	if n := g.Len(); n != 2 {
		t.Fatalf("len %d, want 2", n)
	}
	if s, _ := rec.Last(firebreak.KindBreakerOpen); s.Firing || !strings.Contains(s.Summary, "evicted") {
		t.Errorf("last signal %+v, want the evicted forced breaker cleared", s)
	}
}
