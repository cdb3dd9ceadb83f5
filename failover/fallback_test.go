package failover

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// shop is the component the tests bind their policies to.
func shop(rec *firebreak.Recorder) firebreak.Component {
	return firebreak.Component{Name: "shop", Dependency: "catalog", Tier: firebreak.Core, Reporter: rec}
}

// mustBind binds p to shop, reporting to rec.
func mustBind(t *testing.T, p firebreak.Binder, rec *firebreak.Recorder) {
	t.Helper()
	if err := p.Bind(shop(rec)); err != nil {
		t.Fatal(err)
	}
}

// bound takes a constructor's results and returns a function that binds the
// policy to shop, reporting to rec: p, err := bound(NewX(...))(&rec).
func bound[P firebreak.Binder](p P, err error) func(rec *firebreak.Recorder) (P, error) {
	return func(rec *firebreak.Recorder) (P, error) {
		if err != nil {
			return p, err
		}
		return p, p.Bind(shop(rec))
	}
}

func TestFallbackSignalsOnceAndClears(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		f, err := bound(NewFallback(Static("cached")))(&rec)
		if err != nil {
			t.Fatal(err)
		}
		fail := func(context.Context) (string, error) { return "", errBoom }
		ok := func(context.Context) (string, error) { return "fresh", nil }
		steps := []struct {
			fn     firebreak.Func[string]
			want   string
			active bool
		}{
			{ok, "fresh", false},
			{fail, "cached", true},
			{fail, "cached", true},
			{fail, "cached", true},
			{ok, "fresh", false},
			{ok, "fresh", false},
			{fail, "cached", true},
		}
		for i, s := range steps {
			v, err := f.Execute(t.Context(), s.fn)
			if v != s.want || err != nil || f.Active() != s.active {
				t.Fatalf("step %d: got %q, %v, active %v; want %q, active %v", i, v, err, f.Active(), s.want, s.active)
			}
		}
		sigs := rec.Of(firebreak.KindFallbackActive)
		if len(sigs) != 3 || !sigs[0].Firing || sigs[1].Firing || !sigs[2].Firing {
			t.Fatalf("signals = %+v, want firing, cleared, firing", sigs)
		}
		if !sigs[0].Fallback || sigs[0].Component != "shop" || !strings.Contains(sigs[0].Summary, "boom") {
			t.Errorf("firing signal %+v should say a fallback serves and why", sigs[0])
		}
	})
}

func TestFallbackLastGoodMaxAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, err := NewFallback[string](nil, WithLastGood(5*time.Second, SharedLastGood))
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		fail := func(context.Context) (string, error) { return "", errBoom }
		if _, err := f.Execute(ctx, fail); !errors.Is(err, errBoom) {
			t.Fatalf("with no good value yet, err = %v, want errBoom", err)
		}
		f.Execute(ctx, func(context.Context) (string, error) { return "v1", nil })
		time.Sleep(4 * time.Second)
		if v, err := f.Execute(ctx, fail); v != "v1" || err != nil {
			t.Fatalf("4s later: got %q, %v; want v1", v, err)
		}
		time.Sleep(2 * time.Second)
		if v, err := f.Execute(ctx, fail); !errors.Is(err, errBoom) {
			t.Fatalf("6s later: got %q, %v; want errBoom (value too old)", v, err)
		}
		// A newer success refreshes it.
		f.Execute(ctx, func(context.Context) (string, error) { return "v2", nil })
		time.Sleep(time.Second)
		if v, _ := f.Execute(ctx, fail); v != "v2" {
			t.Fatalf("got %q, want v2", v)
		}
	})
}

func TestFallbackLastGoodThenFunction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, err := NewFallback(Static("default"), WithLastGood(time.Minute, SharedLastGood))
		if err != nil {
			t.Fatal(err)
		}
		fail := func(context.Context) (string, error) { return "", errBoom }
		if v, _ := f.Execute(t.Context(), fail); v != "default" {
			t.Errorf("no good value yet: got %q, want default", v)
		}
		f.Execute(t.Context(), func(context.Context) (string, error) { return "good", nil })
		if v, _ := f.Execute(t.Context(), fail); v != "good" {
			t.Errorf("got %q, want the last good value", v)
		}
		time.Sleep(2 * time.Minute)
		if v, _ := f.Execute(t.Context(), fail); v != "default" {
			t.Errorf("stale: got %q, want default", v)
		}
	})
}

func TestFallbackDoesNotServe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		errFB := errors.New("fallback broke")
		f, _ := bound(NewFallback(func(ctx context.Context, err error) (int, error) { return 0, errFB }))(&rec)
		_, err := f.Execute(t.Context(), func(context.Context) (int, error) { return 0, errBoom })
		if !errors.Is(err, errFB) || !errors.Is(err, errBoom) {
			t.Errorf("err = %v, want both errors", err)
		}
		g, _ := NewFallback(Static(1), WithFallbackIf(func(err error) bool { return !errors.Is(err, errBoom) }))
		if v, err := g.Execute(t.Context(), func(context.Context) (int, error) { return 0, errBoom }); v != 0 || err != errBoom {
			t.Errorf("classifier said no: got %d, %v", v, err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := g.Execute(ctx, func(ctx context.Context) (int, error) { return 0, ctx.Err() }); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled caller got %v, want context.Canceled", err)
		}
		if rec.Len() != 0 {
			t.Errorf("no fallback was served, but signals %+v", rec.Signals())
		}
	})
}

func TestNewFallbackValidates(t *testing.T) {
	tests := []struct {
		fn   func(context.Context, error) (int, error)
		opts []FallbackOption
		want string
	}{
		{nil, nil, "fn is nil"},
		{Static(1), []FallbackOption{WithLastGood(-time.Second, SharedLastGood)}, "WithLastGood maxAge"},
		{Static(1), []FallbackOption{WithLastGood(0, SharedLastGood)}, "WithLastGood maxAge"},
		{nil, []FallbackOption{WithLastGood(time.Minute, nil)}, "WithLastGood key is nil"},
		{Static(1), []FallbackOption{WithLastGood(time.Minute, FallbackKey), WithMaxKeys(-1)}, "WithMaxKeys"},
	}
	for _, tt := range tests {
		if _, err := NewFallback(tt.fn, tt.opts...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err = %v, want one naming %q", err, tt.want)
		}
	}
}

func TestFallbackSuccessAllocs(t *testing.T) {
	fn := func(context.Context) (int, error) { return 1, nil }
	shared, _ := NewFallback(Static(0), WithLastGood(time.Minute, SharedLastGood))
	ctx := context.Background()
	wantAllocs(t, 0, func() { shared.Execute(ctx, fn) })
	// Keyed by the context, with a served record: once the key is known,
	// neither keeping its value nor the record costs an allocation.
	keyed, _ := NewFallback(Static(0), WithLastGood(time.Minute, FallbackKey))
	kctx := WithServedRecord(WithFallbackKey(ctx, "sku-1"))
	keyed.Execute(kctx, fn)
	wantAllocs(t, 0, func() { keyed.Execute(kctx, fn) })
}

// The review's scenario: a stock service called for many SKUs, last good
// values kept per SKU. An hour of traffic at 200 calls/s over 3000 SKUs
// (more than the 1024 keys kept, so keys are evicted all along), then the
// inventory fails for ten minutes. Every answer is for the SKU asked for:
// its own last good value while it is fresh, the static fallback otherwise,
// never another SKU's stock.
func TestFallbackLastGoodPerKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const skus = 3000
		f, err := NewFallback(Static("stock unknown"), WithLastGood(5*time.Minute, FallbackKey))
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(7, 7))
		names := make([]string, skus)
		for i := range names {
			names[i] = fmt.Sprintf("sku-%d", i)
		}
		var down bool
		stock := func(sku string) firebreak.Func[string] {
			return func(context.Context) (string, error) {
				if down {
					return "", errBoom
				}
				return "stock of " + sku, nil
			}
		}
		var served [3]int
		wrong := 0
		run := func(d time.Duration) {
			for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
				// Popular SKUs first: half the calls go to the first 100.
				n := rng.IntN(skus)
				if rng.IntN(2) == 0 {
					n = rng.IntN(100)
				}
				sku := names[n]
				ctx := WithServedRecord(WithFallbackKey(t.Context(), sku))
				v, err := f.Execute(ctx, stock(sku))
				if err != nil {
					t.Fatalf("%s: %v", sku, err)
				}
				src := Served(ctx)
				served[src]++
				if v != "stock of "+sku && !(src == SourceFallback && v == "stock unknown") {
					wrong++
					if wrong < 5 {
						t.Errorf("call for %s answered %q (served by %s)", sku, v, src)
					}
				}
			}
		}
		run(time.Hour)
		if served[SourceLastGood]+served[SourceFallback] != 0 {
			t.Fatalf("healthy hour served fallbacks: %v", served)
		}
		if n := f.cache.len(); n > defaultMaxKeys || n < defaultMaxKeys*9/10 {
			t.Errorf("%d keys kept, want at most (and about) %d", n, defaultMaxKeys)
		}
		down = true
		run(10 * time.Minute)
		if wrong != 0 {
			t.Fatalf("%d answers carried another SKU's data", wrong)
		}
		if served[SourceLastGood] == 0 || served[SourceFallback] == 0 {
			t.Errorf("served %v: want last good values for the popular SKUs and the static fallback for the rest", served)
		}
		if !f.Active() {
			t.Error("fallback not active in the outage")
		}
	})
}

func TestFallbackLastGoodKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, err := NewFallback[string](nil, WithLastGood(time.Minute, FallbackKey), WithMaxKeys(2))
		if err != nil {
			t.Fatal(err)
		}
		get := func(key string, ok bool) (string, Source, error) {
			ctx := WithServedRecord(t.Context())
			if key != "" {
				ctx = WithFallbackKey(ctx, key)
			}
			v, err := f.Execute(ctx, func(context.Context) (string, error) {
				if !ok {
					return "", errBoom
				}
				return "value of " + key, nil
			})
			return v, Served(ctx), err
		}
		get("A", true)
		if v, src, err := get("B", false); err != errBoom || v != "" || src != SourceNone {
			t.Fatalf("B with only A kept: %q, %v, %s; want B's own error", v, err, src)
		}
		if v, src, err := get("A", false); v != "value of A" || err != nil || src != SourceLastGood {
			t.Fatalf("A: %q, %v, %s; want A's last good value", v, err, src)
		}
		// No key: nothing kept and nothing served, even with values kept.
		get("", true)
		if v, _, err := get("", false); err != errBoom || v != "" {
			t.Errorf("no key: %q, %v; want the call's error", v, err)
		}
		// A bound of 2 keys: C evicts B, not A, which was just used.
		get("B", true)
		get("A", false)
		get("C", true)
		if f.cache.len() != 2 {
			t.Errorf("%d keys kept, want 2", f.cache.len())
		}
		if _, _, err := get("A", false); err != nil {
			t.Errorf("A evicted although in use: %v", err)
		}
		if _, _, err := get("C", false); err != nil {
			t.Errorf("C not kept: %v", err)
		}
		// Stale values are not served.
		time.Sleep(2 * time.Minute)
		if _, _, err := get("A", false); err != errBoom {
			t.Errorf("stale A: %v, want the call's error", err)
		}
	})
}

func TestFallbackErrNoFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		f, _ := bound(NewFallback(func(ctx context.Context, err error) (string, error) {
			return "", fmt.Errorf("catalog: %w", ErrNoFallback)
		}))(&rec)
		ctx := WithServedRecord(t.Context())
		v, err := f.Execute(ctx, func(context.Context) (string, error) { return "partial", errBoom })
		if v != "partial" || err != errBoom {
			t.Errorf("got %q, %v; want the call's own result and error", v, err)
		}
		if f.Active() || rec.Len() != 0 || Served(ctx) != SourceNone {
			t.Errorf("active %v, signals %+v, served %s; want no fallback counted", f.Active(), rec.Signals(), Served(ctx))
		}
	})
}
