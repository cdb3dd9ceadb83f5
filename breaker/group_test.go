package breaker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/google/go-cmp/cmp"
)

func newTestGroup(t *testing.T, max int, rec firebreak.Reporter, opts ...Option) *Group[string, int] {
	t.Helper()
	c := firebreak.Component{Name: "checkout", Dependency: "shards", Reporter: rec}
	g, err := NewGroup[string, int](max, append([]Option{WithConsecutiveFailures(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Bind(c); err != nil {
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

// An open or half-open breaker is never evicted: its key keeps its
// isolation and its firing signal, however quiet it goes. (This test used to
// check that eviction cleared the signal of an open breaker — the review's
// "eviction ends isolation silently".)
func TestGroupNeverEvictsIsolation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		g := newTestGroup(t, 1, &rec)
		_, _ = g.Execute(context.Background(), "a", fail) // a opens
		for i := range 20 {
			_, _ = g.Execute(context.Background(), fmt.Sprint("k", i), ok)
		}
		if _, err := g.Execute(context.Background(), "a", ok); !errors.Is(err, ErrOpen) {
			t.Fatalf("open key a after 20 new keys: err %v, want still open", err)
		}
		time.Sleep(DefaultOpenTimeout + time.Second) // a turns half-open when looked at
		for i := range 20 {
			_, _ = g.Execute(context.Background(), fmt.Sprint("j", i), ok)
		}
		if s := g.Breaker("a").State(); s != StateHalfOpen {
			t.Fatalf("a: state %v, want half-open (kept)", s)
		}
		for _, s := range rec.Signals() {
			if !s.Firing || s.Labels["key"] != "a" {
				t.Fatalf("signal %+v: eviction reported or cleared something", s)
			}
		}
		if n := g.Len(); n > 2 {
			t.Fatalf("len %d, over the hard cap 2", n)
		}
	})
}

// At bound 1, two keys failing in turn still trip, with the default options:
// the bound is soft for breakers with failures in their window. Before, each
// key evicted the other and both started from zero every call.
func TestGroupAlternatingFailingKeysTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		g, err := NewGroup[string, int](1)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Bind(firebreak.Component{Name: "checkout", Dependency: "shards", Reporter: &rec}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for i := 0; time.Since(start) < 5*time.Minute; i++ { // 10 calls/s, 5 per key
			key := []string{"a", "b"}[i%2]
			_, _ = g.Execute(context.Background(), key, fail)
			time.Sleep(100 * time.Millisecond)
		}
		for _, key := range []string{"a", "b"} {
			if _, err := g.Execute(context.Background(), key, ok); !errors.Is(err, ErrOpen) {
				t.Errorf("key %s: err %v, want open", key, err)
			}
		}
		opened := map[string]bool{}
		for _, s := range rec.Of(firebreak.KindBreakerOpen) {
			if s.Firing {
				opened[s.Labels["key"]] = true
			}
		}
		if !opened["a"] || !opened["b"] {
			t.Errorf("opened %v, want both keys", opened)
		}
		if n := g.Len(); n != 2 {
			t.Errorf("len %d, want 2 (soft bound 1, hard cap 2)", n)
		}
	})
}

// Eviction prefers clean breakers to ones with failures in their window,
// even when the clean one was used more recently; at the hard cap it takes
// the least recently used closed one; later clean evictions shrink the group
// back to its bound.
func TestGroupEvictionOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		g := newTestGroup(t, 2, &rec, WithConsecutiveFailures(0), WithFailureRatio(0.5, 100))
		ctx := context.Background()
		_, _ = g.Execute(ctx, "flaky", fail)
		_, _ = g.Execute(ctx, "clean", ok)
		_, _ = g.Execute(ctx, "clean", ok) // clean is marked used, flaky not
		_, _ = g.Execute(ctx, "new", ok)
		keys := g.Keys()
		slices.Sort(keys)
		if diff := cmp.Diff([]string{"flaky", "new"}, keys); diff != "" {
			t.Fatalf("keys after one eviction (-want +got):\n%s", diff)
		}
		// Fill with failing keys: the group grows to its hard cap, 4.
		for _, k := range []string{"f1", "f2", "f3"} {
			_, _ = g.Execute(ctx, k, fail)
		}
		if n := g.Len(); n != 4 {
			t.Fatalf("len %d, want 4 (hard cap)", n)
		}
		if _, ok := slices.BinarySearch(sorted(g.Keys()), "new"); ok {
			t.Fatalf("keys %v: the clean key new should have made room for f2", g.Keys())
		}
		// At the hard cap with no clean breaker, a closed one with failures goes.
		_, _ = g.Execute(ctx, "f4", fail)
		if n := g.Len(); n != 4 {
			t.Fatalf("len %d at the hard cap, want 4", n)
		}
		// Once the failures leave the windows, new keys shrink the group.
		time.Sleep(DefaultWindow + DefaultBucket)
		_, _ = g.Execute(ctx, "later1", ok)
		_, _ = g.Execute(ctx, "later2", ok)
		if n := g.Len(); n != 2 {
			t.Fatalf("len %d after the failures aged out, want back to 2", n)
		}
		if rec.Len() != 0 {
			t.Errorf("%d signals, want none: nothing opened", rec.Len())
		}
	})
}

func sorted(s []string) []string { slices.Sort(s); return s }

// A handle kept from before an eviction still acts on its key: ForceOpen
// through it isolates the key, its calls go to the key's breaker.
func TestGroupStaleHandle(t *testing.T) {
	var rec firebreak.Recorder
	g := newTestGroup(t, 1, &rec)
	ctx := context.Background()
	h := g.Breaker("a")
	_, _ = g.Execute(ctx, "b", ok) // evicts a (clean)
	if slices.Contains(g.Keys(), "a") {
		t.Fatal("a was not evicted")
	}
	if err := h.ForceOpen("INC-3: a corrupts writes"); err != nil {
		t.Fatal(err)
	}
	if s := g.Breaker("a").State(); s != StateForcedOpen {
		t.Fatalf("a after ForceOpen through an evicted handle: %v, want forced_open", s)
	}
	if _, err := g.Execute(ctx, "a", ok); !errors.Is(err, ErrOpen) {
		t.Fatalf("a: err %v, want rejected", err)
	}
	if s := h.State(); s != StateForcedOpen {
		t.Errorf("the old handle reports %v, want forced_open", s)
	}
	if _, err := h.Execute(ctx, ok); !errors.Is(err, ErrOpen) {
		t.Errorf("a call through the old handle: err %v, want rejected", err)
	}
	if s, _ := rec.Last(firebreak.KindBreakerOpen); !s.Firing || s.Labels["key"] != "a" {
		t.Errorf("signal %+v, want a firing for key a", s)
	}
	if err := h.Release("INC-3 fixed"); err != nil {
		t.Fatal(err)
	}
	if s := g.Breaker("a").State(); s != StateClosed {
		t.Errorf("after Release through the old handle: %v, want closed", s)
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
	// Breakers that opened (every 13th call fails, one failure trips) are
	// kept past the bound of 8, up to the hard cap of 16.
	if n := g.Len(); n < 8 || n > 16 {
		t.Fatalf("len %d, want between the bound 8 and the hard cap 16", n)
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
	// When every breaker is forced open up to the hard cap, new keys share
	// the overflow breaker; no forced breaker is evicted. (This used to
	// evict a forced breaker and clear its signal.)
	for i := range 3 {
		_ = g.Breaker(fmt.Sprint("k", 9-i)).ForceOpen("INC-10")
	}
	if n := g.Len(); n != 4 {
		t.Fatalf("len %d, want the hard cap 4", n)
	}
	ob := g.Breaker("new")
	if _, err := g.Execute(context.Background(), "new", ok); err != nil {
		t.Fatalf("new key past the hard cap: err %v, want served by the overflow breaker", err)
	}
	if n := g.Len(); n != 4 {
		t.Fatalf("len %d, want 4", n)
	}
	if ob.Name() != "overflow" || g.Breaker("new2") != ob {
		t.Errorf("overflow breaker %q, want one named overflow shared by new keys", ob.Name())
	}
	for _, s := range rec.Signals() {
		if !s.Firing {
			t.Errorf("signal %+v: something was cleared", s)
		}
	}
	for _, k := range []string{"isolated", "k9", "k8", "k7"} {
		if _, err := g.Execute(context.Background(), k, ok); !errors.Is(err, ErrOpen) {
			t.Errorf("forced key %s: err %v, want rejected", k, err)
		}
	}
}
