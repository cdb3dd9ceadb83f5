package drill_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/drill"
)

// recorder is a notifier that keeps what it was sent.
type recorder struct {
	mu    sync.Mutex
	notes []firebreak.Notification
}

func (r *recorder) Notify(_ context.Context, n firebreak.Notification) error {
	r.mu.Lock()
	r.notes = append(r.notes, n)
	r.mu.Unlock()
	return nil
}

func (r *recorder) all() []firebreak.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]firebreak.Notification(nil), r.notes...)
}

// dep is a fake dependency that fails while down is set.
type dep struct {
	down  atomic.Bool
	calls atomic.Int64
}

var errDown = errors.New("connection refused")

func (d *dep) call(context.Context) (string, error) {
	d.calls.Add(1)
	if d.down.Load() {
		return "", errDown
	}
	return "ok", nil
}

// service is two pipelines of a service: checkout → payments (core) with a
// drill injector, and search → index (standard), each behind a real
// breaker, reporting to a real Board.
type service struct {
	board    *firebreak.Board
	payments *firebreak.Pipeline[string]
	search   *firebreak.Pipeline[string]
	inject   *drill.Injector
	payDep   dep
	idxDep   dep

	payOK, payFail atomic.Int64
	realAt         atomic.Int64 // unix ns of the first real (non-drill) signal that reached the board
	pager, team    *recorder
	audit          *recorder
}

func newService(t *testing.T, fault drill.Fault, opts ...firebreak.BoardOption) *service {
	t.Helper()
	s := &service{pager: &recorder{}, team: &recorder{}, audit: &recorder{}}
	base := []firebreak.BoardOption{
		firebreak.WithNotifierNamed("pager", s.pager),
		firebreak.WithNotifierNamed("drill-team", s.team),
		firebreak.WithNotifier(s.audit),
		firebreak.WithRoute(firebreak.Route{Receiver: "pager"}),
		firebreak.WithComponents("checkout", "search"),
	}
	b, err := firebreak.NewBoard("shop", append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	s.board = b
	b.Start(t.Context())
	t.Cleanup(func() { b.Close(context.Background()) })
	watch := firebreak.ReporterFunc(func(sig firebreak.Signal) {
		if sig.Firing && sig.Component == "search" {
			s.realAt.CompareAndSwap(0, time.Now().UnixNano())
		}
		b.Report(sig)
	})
	if s.inject, err = drill.NewInjector("payments-errors", fault); err != nil {
		t.Fatal(err)
	}
	pol, err := drill.NewPolicy[string](s.inject)
	if err != nil {
		t.Fatal(err)
	}
	br, err := breaker.New[string]()
	if err != nil {
		t.Fatal(err)
	}
	s.payments, err = firebreak.NewPipeline(firebreak.Component{Name: "checkout", Dependency: "payments", Tier: firebreak.Core, Reporter: watch},
		[]firebreak.Policy[string]{pol, br})
	if err != nil {
		t.Fatal(err)
	}
	br2, err := breaker.New[string]()
	if err != nil {
		t.Fatal(err)
	}
	s.search, err = firebreak.NewPipeline(firebreak.Component{Name: "search", Dependency: "index", Tier: firebreak.Standard, Reporter: watch},
		[]firebreak.Policy[string]{br2})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// traffic plays 100 calls/s through both pipelines until the returned stop
// is called.
func (s *service) traffic() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if _, err := s.payments.Execute(ctx, s.payDep.call); err != nil {
				s.payFail.Add(1)
			} else {
				s.payOK.Add(1)
			}
			s.search.Execute(ctx, s.idxDep.call)
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// counts returns payments' successes and failures since the last call.
func (s *service) counts() (ok, fail int64) { return s.payOK.Swap(0), s.payFail.Swap(0) }

func closeDrill(t *testing.T, d *drill.Drill) {
	t.Helper()
	if err := d.Close(context.Background()); err != nil {
		t.Error(err)
	}
}
