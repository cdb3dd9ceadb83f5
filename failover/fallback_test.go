package failover

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

func recorderComponent(rec *firebreak.Recorder) Option {
	return WithComponent(firebreak.Component{Name: "shop", Dependency: "catalog", Tier: firebreak.Core, Reporter: rec})
}

func TestFallbackSignalsOnceAndClears(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		f, err := NewFallback(Static("cached"), recorderComponent(&rec))
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
		f, err := NewFallback[string](nil, WithLastGood(5*time.Second))
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
		f, err := NewFallback(Static("default"), WithLastGood(time.Minute))
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
		f, _ := NewFallback(func(ctx context.Context, err error) (int, error) { return 0, errFB }, recorderComponent(&rec))
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
	if _, err := NewFallback[int](nil); err == nil || !strings.Contains(err.Error(), "fn is nil") {
		t.Errorf("err = %v", err)
	}
	if _, err := NewFallback(Static(1), WithLastGood(-time.Second)); err == nil || !strings.Contains(err.Error(), "WithLastGood") {
		t.Errorf("err = %v", err)
	}
}

func TestFallbackSuccessAllocs(t *testing.T) {
	f, _ := NewFallback(Static(0), WithLastGood(time.Minute))
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	wantAllocs(t, 0, func() { f.Execute(ctx, fn) })
}
