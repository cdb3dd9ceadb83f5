package failover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// note builds the notification a Board would send about an incident.
func note(id string, sev firebreak.Severity, state firebreak.State, core bool, kinds ...firebreak.Kind) firebreak.Notification {
	inc := firebreak.Incident{ID: id, Title: "payments-db down", Severity: sev, State: state, CoreAffected: core, FaultDomain: "domain-of-" + id}
	for _, k := range kinds {
		inc.Alerts = append(inc.Alerts, firebreak.AlertRef{Kind: k, Firing: state.Open()})
	}
	if len(kinds) == 0 {
		inc.Alerts = []firebreak.AlertRef{{Kind: firebreak.KindBreakerOpen, Firing: state.Open()}}
	}
	return firebreak.Notification{Event: firebreak.EventSignal, At: time.Now(), Incident: inc}
}

func TestDegradeFollowsBoardSeverity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		d, err := bound(NewDegrader())(&rec)
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		steps := []struct {
			n    firebreak.Notification
			want Mode
		}{
			{note("inc-1", firebreak.General, firebreak.Detected, true), ModeNormal},
			{note("inc-1", firebreak.Severe, firebreak.Detected, false), ModeDegraded},
			{note("inc-1", firebreak.Fatal, firebreak.Acknowledged, false), ModeDegraded}, // fatal, but no core component
			{note("inc-1", firebreak.Fatal, firebreak.Acknowledged, true), ModeMinimal},
			{note("inc-2", firebreak.Severe, firebreak.Detected, false), ModeMinimal}, // the worse incident rules
			{note("inc-1", firebreak.Fatal, firebreak.Mitigated, true), ModeMinimal},  // mitigated is still open
			{note("inc-1", firebreak.Fatal, firebreak.Resolved, true), ModeDegraded},  // inc-2 is still open
			{note("inc-9", firebreak.Fatal, firebreak.Detected, true, firebreak.KindDegraded), ModeDegraded},
			{note("inc-2", firebreak.Severe, firebreak.Resolved, false), ModeNormal},
		}
		for i, s := range steps {
			if err := d.Notify(ctx, s.n); err != nil {
				t.Fatal(err)
			}
			if got := d.Mode(); got != s.want {
				t.Fatalf("step %d (%s %s %s): mode %s, want %s", i, s.n.Incident.ID, s.n.Incident.Severity, s.n.Incident.State, got, s.want)
			}
		}
		// The mode signal is filed under the incident that set the mode (its
		// fault domain), and cleared there when another incident or nothing
		// takes over.
		var got []string
		for _, s := range rec.Of(firebreak.KindDegraded) {
			got = append(got, fmt.Sprintf("%s/%v/%s", Mode(s.Value), s.Firing, s.Dependency))
			if s.Component != "shop" || s.Tier != firebreak.Core || s.Summary == "" {
				t.Errorf("signal %+v lacks the component or a summary", s)
			}
		}
		want := []string{
			"degraded/true/domain-of-inc-1",
			"minimal/true/domain-of-inc-1",
			"degraded/true/domain-of-inc-2",
			"normal/false/domain-of-inc-1",
			"normal/false/domain-of-inc-2",
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("signals\n got %q\nwant %q", got, want)
		}
	})
}

func TestDegradeStepsBackWhenTheFaultClears(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		d, _ := bound(NewDegrader())(&rec)
		n := note("inc-1", firebreak.Severe, firebreak.Detected, false)
		d.Notify(t.Context(), n)
		if d.Mode() != ModeDegraded {
			t.Fatalf("mode %s", d.Mode())
		}
		// The board files the degrader's own signal under the incident: it
		// must not keep the mode up once the fault's alert clears.
		n.Incident.Alerts = []firebreak.AlertRef{
			{Kind: firebreak.KindBreakerOpen, Firing: false},
			{Kind: firebreak.KindDegraded, Firing: true},
		}
		d.Notify(t.Context(), n)
		if d.Mode() != ModeNormal {
			t.Errorf("fault cleared, incident still open: mode %s, want normal", d.Mode())
		}
	})
}

func TestDegradeManualAndRule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		d, _ := bound(NewDegrader(WithModeRule(func(inc firebreak.Incident) Mode {
			if inc.Severity >= firebreak.General {
				return ModeDegraded
			}
			return ModeNormal
		})))(&rec)
		if err := d.SetMode(ModeDegraded, "load test"); err != nil || d.Mode() != ModeDegraded {
			t.Fatalf("SetMode: %v, mode %s", err, d.Mode())
		}
		d.Notify(t.Context(), note("i", firebreak.General, firebreak.Detected, false))
		d.SetMode(ModeNormal, "load test over")
		if d.Mode() != ModeDegraded {
			t.Errorf("the open incident should keep the mode degraded, got %s", d.Mode())
		}
		d.Notify(t.Context(), note("i", firebreak.General, firebreak.Closed, false))
		if d.Mode() != ModeNormal {
			t.Errorf("mode %s, want normal", d.Mode())
		}
		if err := d.SetMode(Mode(7), ""); err == nil {
			t.Error("SetMode(7) should fail")
		}
		var got []string
		for _, s := range rec.Of(firebreak.KindDegraded) {
			got = append(got, fmt.Sprintf("%v/%s", s.Firing, s.Dependency))
		}
		// Set by hand (own domain: the service, as a degrader is service-wide),
		// handed over to the incident when the hand setting is lifted, cleared
		// when the incident closes.
		if want := "true/ true/domain-of-i false/ false/domain-of-i"; strings.Join(got, " ") != want {
			t.Errorf("signals %q, want %q", got, want)
		}
		bad, _ := NewDegrader(WithModeRule(func(firebreak.Incident) Mode { return 9 }))
		if err := bad.Notify(t.Context(), note("i", firebreak.General, firebreak.Detected, false)); err == nil {
			t.Error("a rule returning an invalid mode should be an error")
		}
	})
}

func TestDegradeKillSwitches(t *testing.T) {
	var rec firebreak.Recorder
	d, err := bound(NewDegrader(WithSwitches("recommendations", "reviews")))(&rec)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Enabled("recommendations") || !d.Enabled("undeclared") {
		t.Fatal("switches start on")
	}
	if err := d.Kill("recommendations", "slow"); err != nil {
		t.Fatal(err)
	}
	d.Kill("recommendations", "again") // no change, no signal
	if d.Enabled("recommendations") || !d.Enabled("reviews") {
		t.Error("only recommendations should be off")
	}
	d.Restore("recommendations", "fixed")
	if !d.Enabled("recommendations") {
		t.Error("restored switch is off")
	}
	if err := d.Kill("search", ""); err == nil || !strings.Contains(err.Error(), "recommendations") {
		t.Errorf("unknown switch: %v", err)
	}
	sigs := rec.Of(firebreak.KindDegraded)
	if len(sigs) != 2 || !sigs[0].Firing || sigs[1].Firing || sigs[0].Labels["switch"] != "recommendations" {
		t.Errorf("signals %+v, want off then on for the recommendations switch", sigs)
	}
	if _, err := NewDegrader(WithSwitches("a", "a")); err == nil {
		t.Error("duplicate switch should fail")
	}
	wantAllocs(t, 0, func() { d.Enabled("reviews"); d.Mode() })
}

func TestGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, _ := NewDegrader(WithSwitches("recommendations"))
		g, err := NewGate[[]string](d, "recommendations", ModeDegraded)
		if err != nil {
			t.Fatal(err)
		}
		fb, _ := NewFallback(Static([]string{"bestsellers"}))
		r := mustRetry[[]string](t)
		p, err := firebreak.NewPipeline(firebreak.Component{Name: "shop"}, []firebreak.Policy[[]string]{r, g, fb})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		call := func(context.Context) ([]string, error) { n++; return []string{"personal"}, nil }
		check := func(want string, calls int) {
			t.Helper()
			n = 0
			v, err := p.Execute(t.Context(), call)
			if err != nil || v[0] != want || n != calls {
				t.Errorf("got %v, %v after %d calls; want %s after %d", v, err, n, want, calls)
			}
		}
		check("personal", 1)
		d.Kill("recommendations", "")
		check("bestsellers", 0)
		d.Restore("recommendations", "")
		d.SetMode(ModeDegraded, "")
		check("bestsellers", 0)
		if _, err := g.Execute(t.Context(), call); !errors.Is(err, ErrDegraded) || !firebreak.IsRejected(err) {
			t.Errorf("gate error %v should match ErrDegraded and be a rejection", err)
		}
		d.SetMode(ModeNormal, "")
		check("personal", 1)
		if _, err := NewGate[int](d, "x", ModeNormal); err == nil {
			t.Error("a gate off in normal mode should be refused")
		}
		static := func(context.Context) ([]string, error) { return nil, nil }
		wantAllocs(t, 0, func() { g.Execute(context.Background(), static) })
	})
}
