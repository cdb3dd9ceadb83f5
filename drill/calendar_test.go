package drill_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/drill"
)

// The calendar raises drill_overdue for a missed drill, clears it when the
// drill is recorded, and runs a scheduled inspection when it falls due.
func TestCalendarRaisesDrillOverdue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan := firebreak.DefaultPlan()
		plan.Drills.Calendar = []firebreak.DrillCadence{
			{Name: "monthly tabletop", Kind: "tabletop", Every: firebreak.Duration(30 * 24 * time.Hour), Grace: firebreak.Duration(24 * time.Hour)},
			{Name: "daily inspection", Kind: "inspection", Every: firebreak.Duration(24 * time.Hour)},
		}
		b, err := firebreak.NewBoard("shop", firebreak.WithPlan(plan))
		if err != nil {
			t.Fatal(err)
		}
		b.Start(t.Context())
		defer b.Close(context.Background())
		cal, err := drill.NewCalendar(b)
		if err != nil {
			t.Fatal(err)
		}
		var inspections atomic.Int64
		if err := cal.Handle("daily inspection", func(context.Context) error { inspections.Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := cal.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer cal.Close(context.Background())
		overdue := func() []firebreak.AlertRef {
			var out []firebreak.AlertRef
			for _, inc := range b.List(firebreak.Filter{OpenOnly: true}) {
				for _, a := range inc.Alerts {
					if a.Kind == firebreak.KindDrillOverdue && a.Firing {
						out = append(out, a)
					}
				}
			}
			return out
		}
		time.Sleep(30 * 24 * time.Hour)
		synctest.Wait()
		if n := len(overdue()); n != 0 {
			t.Fatalf("due but within its grace: %d overdue", n)
		}
		if n := inspections.Load(); n != 30 {
			t.Errorf("%d daily inspections in 30 days, want 30", n)
		}
		time.Sleep(24*time.Hour + 2*time.Minute)
		got := overdue()
		if len(got) != 1 || got[0].Labels["calendar"] != "monthly tabletop" {
			t.Fatalf("past grace: overdue %+v, want the monthly tabletop", got)
		}
		if d := cal.Due(time.Now()); !d[0].Overdue || d[1].Overdue {
			t.Errorf("Due: %+v", d)
		}
		if err := cal.Record("monthly tabletop", time.Now()); err != nil {
			t.Fatal(err)
		}
		if n := len(overdue()); n != 0 {
			t.Errorf("after the tabletop ran: %d overdue", n)
		}
		if err := cal.Record("nope", time.Now()); !errors.Is(err, drill.ErrNotFound) {
			t.Errorf("unknown entry: %v", err)
		}
	})
}

func TestRestoreDrill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err := drill.RestoreDrill(context.Background(),
			func(context.Context) error { time.Sleep(3 * time.Minute); return nil },
			func(context.Context) error { return nil })
		if err != nil || !r.Verified || r.Took != 3*time.Minute {
			t.Fatalf("%+v %v", r, err)
		}
		r, err = drill.RestoreDrill(context.Background(),
			func(context.Context) error { return nil },
			func(context.Context) error { panic("checksum") })
		if err == nil || r.Verified || !r.Restored {
			t.Fatalf("a failing verification: %+v %v", r, err)
		}
	})
}
