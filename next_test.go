package firebreak

import (
	"context"
	"reflect"
	"testing"
	"unsafe"
)

// TestNextFitsInRegisters guards the layout of Next: at most four fields
// of at most four words in all, so that the compiler keeps it in registers
// from one policy to the next. A bigger Next is copied through memory at
// every layer, and the copy stalls on store forwarding: about 18 ns a
// layer against 3 ns (BenchmarkPipelineOverhead, three layers).
func TestNextFitsInRegisters(t *testing.T) {
	typ := reflect.TypeFor[Next[int]]()
	if n := typ.NumField(); n > 4 {
		t.Errorf("Next has %d fields, want at most 4", n)
	}
	if size := unsafe.Sizeof(Next[int]{}); size > 4*unsafe.Sizeof(uintptr(0)) {
		t.Errorf("Next is %d bytes, want at most 4 words", size)
	}
}

// TestNextPassesTheReadingOneLayer: a reading given with At reaches the
// next policy only, Pass hands it on, and a policy that does neither passes
// nothing, through a pipeline of several layers.
func TestNextPassesTheReadingOneLayer(t *testing.T) {
	var got []int64
	probe := func(mode string) Policy[int] {
		return policyFunc[int](func(ctx context.Context, next Next[int]) (int, error) {
			got = append(got, next.now)
			switch mode {
			case "at":
				return next.At(42).Call(ctx)
			case "pass":
				return next.Pass().Call(ctx)
			}
			return next.Call(ctx)
		})
	}
	p, err := NewPipeline(Component{Name: "checkout", Tier: Core},
		[]Policy[int]{probe("at"), probe("pass"), probe("none"), probe("at"), probe("none")}, InGivenOrder())
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Execute(context.Background(), func(context.Context) (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Fatalf("Execute = %d, %v; want 7, nil", v, err)
	}
	want := []int64{0, 42, 42, 0, 42}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("readings seen %v, want %v", got, want)
	}
}

type policyFunc[T any] func(ctx context.Context, next Next[T]) (T, error)

func (f policyFunc[T]) Apply(ctx context.Context, next Next[T]) (T, error) { return f(ctx, next) }
