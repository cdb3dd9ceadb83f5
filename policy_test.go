package firebreak_test

import (
	"context"
	"errors"
	"testing"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/race"
)

// staged is a test policy that records its name when it runs and the
// component it was bound to.
type staged struct {
	name  string
	stage firebreak.Stage
	log   *[]string
	bound firebreak.Component
	fail  error
}

func (s *staged) Apply(ctx context.Context, next firebreak.Next[int]) (int, error) {
	*s.log = append(*s.log, s.name)
	return next.Call(ctx)
}
func (s *staged) Stage() firebreak.Stage { return s.stage }
func (s *staged) Bind(c firebreak.Component) error {
	s.bound = c
	return s.fail
}

func TestPipelineDefaultOrderAndBinding(t *testing.T) {
	var log []string
	rec := &firebreak.Recorder{}
	c := firebreak.Component{Name: "api", Dependency: "db", Tier: firebreak.Core, Reporter: rec}
	br := &staged{name: "breaker", stage: firebreak.StageBreaker, log: &log}
	ob := &staged{name: "observe", stage: firebreak.StageObserve, log: &log}
	re := &staged{name: "retry", stage: firebreak.StageRetry, log: &log}
	fb := &staged{name: "fallback", stage: firebreak.StageFallback, log: &log}
	p, err := firebreak.NewPipeline(c, []firebreak.Policy[int]{br, ob, re, fb})
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Execute(context.Background(), func(context.Context) (int, error) { log = append(log, "call"); return 7, nil })
	if v != 7 || err != nil {
		t.Fatalf("Execute = %d, %v", v, err)
	}
	want := []string{"observe", "fallback", "retry", "breaker", "call"}
	if len(log) != len(want) {
		t.Fatalf("ran %v, want %v", log, want)
	}
	for i := range want {
		if log[i] != want[i] {
			t.Fatalf("ran %v, want %v", log, want)
		}
	}
	if br.bound.Name != "api" || br.bound.Tier != firebreak.Core || br.bound.Reporter != rec {
		t.Fatalf("breaker bound to %+v", br.bound)
	}

	log = nil
	p, _ = firebreak.NewPipeline(c, []firebreak.Policy[int]{br, ob}, firebreak.InGivenOrder())
	p.Execute(context.Background(), func(context.Context) (int, error) { return 0, nil })
	if log[0] != "breaker" {
		t.Fatalf("InGivenOrder ran %v", log)
	}
}

func TestPipelineRejectsBadInput(t *testing.T) {
	var log []string
	ok := firebreak.Component{Name: "api"}
	if _, err := firebreak.NewPipeline(firebreak.Component{}, []firebreak.Policy[int]{}); err == nil {
		t.Error("nameless component accepted")
	}
	if _, err := firebreak.NewPipeline[int](firebreak.Component{Name: "x", Tier: 9}, nil); err == nil {
		t.Error("invalid tier accepted")
	}
	if _, err := firebreak.NewPipeline(ok, []firebreak.Policy[int]{nil}); err == nil {
		t.Error("nil policy accepted")
	}
	refuse := &staged{log: &log, fail: errors.New("already bound to another component")}
	if _, err := firebreak.NewPipeline(ok, []firebreak.Policy[int]{refuse}); err == nil {
		t.Error("refused binding ignored")
	}
}

type passThrough struct{}

func (passThrough) Apply(ctx context.Context, next firebreak.Next[int]) (int, error) {
	return next.Call(ctx)
}

func call(context.Context) (int, error) { return 1, nil }

func TestPipelineDoesNotAllocate(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	p, err := firebreak.NewPipeline(firebreak.Component{Name: "api"}, []firebreak.Policy[int]{passThrough{}, passThrough{}, passThrough{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() { p.Execute(ctx, call) }); n != 0 {
		t.Fatalf("Execute allocated %v times per call", n)
	}
}

func BenchmarkPipelineOverhead(b *testing.B) {
	p, _ := firebreak.NewPipeline(firebreak.Component{Name: "api"}, []firebreak.Policy[int]{passThrough{}, passThrough{}, passThrough{}})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p.Execute(ctx, call)
	}
}

func TestPipelineTellsInnerPoliciesAboutFallback(t *testing.T) {
	var log []string
	fb := &staged{name: "fallback", stage: firebreak.StageFallback, log: &log}
	ob := &staged{name: "observe", stage: firebreak.StageObserve, log: &log}
	br := &staged{name: "breaker", stage: firebreak.StageBreaker, log: &log}
	if _, err := firebreak.NewPipeline(firebreak.Component{Name: "api"}, []firebreak.Policy[int]{br, fb, ob}); err != nil {
		t.Fatal(err)
	}
	if ob.bound.Fallback || fb.bound.Fallback || !br.bound.Fallback {
		t.Fatalf("fallback seen by observe=%v fallback=%v breaker=%v; want false, false, true", ob.bound.Fallback, fb.bound.Fallback, br.bound.Fallback)
	}
}

func TestNestedPipelineRunsBothChains(t *testing.T) {
	var log []string
	inner, err := firebreak.NewPipeline(firebreak.Component{Name: "api"}, []firebreak.Policy[int]{&staged{name: "inner", log: &log}})
	if err != nil {
		t.Fatal(err)
	}
	outer, err := firebreak.NewPipeline(firebreak.Component{Name: "api"}, []firebreak.Policy[int]{&staged{name: "outer", stage: firebreak.StageObserve, log: &log}, inner})
	if err != nil {
		t.Fatal(err)
	}
	v, err := outer.Execute(context.Background(), func(context.Context) (int, error) { log = append(log, "call"); return 3, nil })
	if v != 3 || err != nil || len(log) != 3 || log[0] != "outer" || log[1] != "inner" || log[2] != "call" {
		t.Fatalf("got %d, %v, ran %v", v, err, log)
	}
}
