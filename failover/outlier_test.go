package failover

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// A primary that flaps — nine calls in ten fail, never many in a row, so
// consecutive-failure ejection never fires — is ejected by the failure
// percentage over each 10s interval, at 100 calls/s. It keeps flapping, so
// each time it is back it is ejected again, for longer: 30s, 60s, 90s, then
// the cap of 120s. Each ejection fires outlier_ejected for the endpoint and
// each return clears it. Once it heals it stays in rotation.
func TestOutlierEjectionGrowsAndCaps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec firebreak.Recorder
		f, err := bound(NewFailover[string]([]Endpoint{{Name: "primary"}, {Name: "standby"}},
			WithEjection(1000, time.Minute, 0.5),
			WithOutlierEjection(OutlierEjection{FailurePercentageMinHosts: 1, SuccessRateMinHosts: 2, MaxEjectionTime: 120 * time.Second})))(&rec)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 1))
		flapping := true
		served := map[string]int{}
		call := func(_ context.Context, e Endpoint) (string, error) {
			if e.Name == "primary" && flapping && rng.IntN(10) != 0 {
				return "", errors.New("reset by peer")
			}
			return e.Name, nil
		}
		for range 100 * 900 { // 15 minutes
			v, err := f.Execute(t.Context(), call)
			if err != nil {
				t.Fatal(err)
			}
			served[v]++
			time.Sleep(10 * time.Millisecond)
		}
		var got []string
		for _, s := range rec.Of(KindOutlierEjected) {
			if s.Labels["endpoint"] != "primary" || s.Dependency != "catalog" || s.Labels["dry_run"] != "" {
				t.Errorf("signal %+v, want the primary of catalog", s)
			}
			if s.Firing {
				got = append(got, fmt.Sprintf("%gs", s.Value))
			} else {
				got = append(got, "back")
			}
		}
		// 30, 60, 90, then 120 each time, each followed by its return
		// (but the last, still running after 15 minutes).
		growth := []string{"30s", "60s", "90s", "120s"}
		ok := len(got) >= 9 && len(got)%2 == 1
		for i := 0; ok && i < len(got); i++ {
			switch {
			case i%2 == 1:
				ok = got[i] == "back"
			case i/2 < len(growth):
				ok = got[i] == growth[i/2]
			default:
				ok = got[i] == "120s"
			}
		}
		if !ok {
			t.Fatalf("ejections %v, want 30s, 60s, 90s, then 120s each time, each followed by its return", got)
		}
		// Healed: after the last ejection it serves and is never ejected again.
		flapping = false
		rec.Reset()
		for range 100 * 600 {
			_, _ = f.Execute(t.Context(), call)
			time.Sleep(10 * time.Millisecond)
		}
		if s := rec.Of(KindOutlierEjected); len(s) != 1 || s[0].Firing {
			t.Errorf("after healing: %v, want only the last return", s)
		}
		if st := f.Status(); st[0].Ejected {
			t.Error("healed primary still ejected")
		}
	})
}

// The success-rate trigger compares endpoints that carry calls: one well
// below the mean minus 1.9 standard deviations is an outlier, endpoints
// with too few calls are left out, and fewer than the minimum of endpoints
// disables the trigger. The share of endpoints out at once is capped. In
// dry run the outliers are reported and nothing is ejected.
func TestOutlierSuccessRate(t *testing.T) {
	{
		eps := make([]Endpoint, 6)
		for i := range eps {
			eps[i].Name = fmt.Sprintf("e%d", i)
		}
		type step struct {
			ok, failed []int64
			ejected    string
		}
		for _, tt := range []struct {
			name  string
			cfg   OutlierEjection
			share float64
			steps []step
		}{
			{"one outlier", OutlierEjection{}, 0.5, []step{
				{[]int64{200, 199, 198, 200, 120, 10}, []int64{0, 1, 2, 0, 80, 10}, "e4"}, // e5 has too few calls
			}},
			{"too few hosts", OutlierEjection{SuccessRateMinHosts: 6}, 0.5, []step{
				{[]int64{200, 199, 198, 200, 120, 10}, []int64{0, 1, 2, 0, 80, 10}, ""},
			}},
			{"capped share", OutlierEjection{FailurePercentageMinHosts: 1}, 0.34, []step{
				{[]int64{0, 0, 0, 0, 0, 0}, []int64{100, 100, 100, 100, 100, 100}, "e0 e1"},
			}},
			{"dry run", OutlierEjection{DryRun: true}, 0.5, []step{
				{[]int64{200, 199, 198, 200, 120, 10}, []int64{0, 1, 2, 0, 80, 10}, ""},
			}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					var rec firebreak.Recorder
					f, err := bound(NewFailover[int](eps, WithEjection(5, time.Minute, tt.share), WithOutlierEjection(tt.cfg)))(&rec)
					if err != nil {
						t.Fatal(err)
					}
					for _, s := range tt.steps {
						for i := range eps {
							f.outlier.stats[i].ok.Store(s.ok[i])
							f.outlier.stats[i].failed.Store(s.failed[i])
						}
						time.Sleep(10 * time.Second)
						f.outlierTick()
						var out string
						for _, st := range f.Status() {
							if st.Ejected {
								out += " " + st.Name
							}
						}
						if len(out) > 0 {
							out = out[1:]
						}
						if out != s.ejected {
							t.Errorf("ejected %q, want %q", out, s.ejected)
						}
						if tt.cfg.DryRun {
							sigs := rec.Of(KindOutlierEjected)
							if len(sigs) != 1 || sigs[0].Labels["endpoint"] != "e4" || sigs[0].Labels["dry_run"] != "true" {
								t.Errorf("dry run signals %+v, want e4 reported", sigs)
							}
						}
					}
				})
			})
		}
	}
}

func TestOutlierSettings(t *testing.T) {
	for _, tt := range []struct {
		o    OutlierEjection
		want string
	}{
		{OutlierEjection{Interval: -1}, "failover: NewFailover: WithOutlierEjection Interval -1 must be a positive number"},
		{OutlierEjection{FailurePercentageThreshold: 2}, "failover: NewFailover: WithOutlierEjection FailurePercentageThreshold 2 must be at most 1"},
		{OutlierEjection{BaseEjectionTime: time.Hour}, "failover: NewFailover: WithOutlierEjection MaxEjectionTime 5m0s must be at least BaseEjectionTime 1h0m0s"},
	} {
		if _, err := NewFailover[int]([]Endpoint{{Name: "a"}}, WithOutlierEjection(tt.o)); err == nil || err.Error() != tt.want {
			t.Errorf("err = %v, want %q", err, tt.want)
		}
	}
}
