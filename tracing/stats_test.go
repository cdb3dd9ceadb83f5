package tracing

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/race"
)

func TestBucketOf(t *testing.T) {
	prev := -1
	for d := time.Duration(0); d < 200*time.Second; d = d*21/20 + time.Microsecond/3 {
		b := bucketOf(d)
		if b < prev {
			t.Fatalf("bucketOf(%v) = %d < bucketOf of a shorter duration %d", d, b, prev)
		}
		prev = b
		lo, w := bucketBounds(b)
		if d < 137*time.Second && (float64(d) < lo || float64(d) >= lo+w) {
			t.Fatalf("%v in bucket %d = [%v, %v)", d, b, time.Duration(lo), time.Duration(lo+w))
		}
		if lo >= float64(8<<histShift) && w/lo > 0.125+1e-9 {
			t.Fatalf("bucket %d is %.1f%% wide", b, 100*w/lo)
		}
	}
	if got := bucketOf(time.Hour); got != histBuckets-1 {
		t.Errorf("bucketOf(1h) = %d, want the last bucket %d", got, histBuckets-1)
	}
}

func TestSnapshotQuantiles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := NewStats(time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		// 1..1000 ms, uniformly; one call in ten fails.
		for i := 1; i <= 1000; i++ {
			s.Record(time.Duration(i)*time.Millisecond, i%10 == 0)
		}
		time.Sleep(10 * time.Second)
		snap := s.Snapshot()
		if snap.Requests != 1000 || snap.Errors != 100 || snap.ErrorRatio != 0.1 {
			t.Errorf("snapshot = %+v", snap)
		}
		for _, q := range []struct {
			got  time.Duration
			want time.Duration
		}{{snap.P50, 500 * time.Millisecond}, {snap.P90, 900 * time.Millisecond}, {snap.P99, 990 * time.Millisecond}} {
			if rel := math.Abs(float64(q.got-q.want)) / float64(q.want); rel > 0.125 {
				t.Errorf("quantile %v, want %v within 12.5%%", q.got, q.want)
			}
		}
		if snap.Window != 10*time.Second || math.Abs(snap.Rate-100) > 1e-9 {
			t.Errorf("Window = %v, Rate = %v; want 10s and 100/s while younger than the window", snap.Window, snap.Rate)
		}
		// The window rolls: a minute later those calls are gone.
		time.Sleep(time.Minute + 10*time.Second)
		s.Record(time.Millisecond, false)
		snap = s.Snapshot()
		if snap.Requests != 1 || snap.Errors != 0 || snap.P99 > 2*time.Millisecond {
			t.Errorf("after the window: %+v", snap)
		}
		if snap.Window < time.Minute || snap.Window > time.Minute+10*time.Second {
			t.Errorf("Window = %v, want one minute plus the part of the slot being filled", snap.Window)
		}
	})
}

func TestSnapshotAfterLongIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := NewStats(6 * time.Second)
		s.Record(time.Second, true)
		time.Sleep(24 * time.Hour)
		s.Record(time.Millisecond, false)
		if snap := s.Snapshot(); snap.Requests != 1 || snap.Errors != 0 {
			t.Errorf("after a day idle: %+v", snap)
		}
	})
}

func TestNewStatsRejectsShortWindow(t *testing.T) {
	if _, err := NewStats(time.Millisecond); err == nil {
		t.Fatal("NewStats(1ms) succeeded")
	}
	if _, err := New[int](WithStatsWindow(time.Millisecond)); err == nil {
		t.Fatal("WithStatsWindow(1ms) succeeded")
	}
}

// TestStatsMemoryIsFixed measures the heap held by the statistics of one
// operation with the workbook SLO, and checks that it does not grow over four
// days of traffic.
func TestStatsMemoryIsFixed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 20
		cfg, err := observerConfig([]Option{WithSLO(SLO{Availability: 0.999, Latency: 300 * time.Millisecond, LatencyTarget: 0.99})})
		if err != nil {
			t.Fatal(err)
		}
		heap := func() uint64 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return m.HeapAlloc
		}
		stats := make([]*Stats, n)
		before := heap()
		for i := range stats {
			if stats[i], err = newOperationStats(new(firebreak.Binding), &cfg, nil); err != nil {
				t.Fatal(err)
			}
		}
		fresh := heap()
		for range 4 * 24 * 4 { // four days, a burst of calls every 15 minutes
			for _, s := range stats {
				for j := range 20 {
					s.Record(time.Duration(j)*50*time.Millisecond, j == 0)
				}
			}
			time.Sleep(15 * time.Minute)
		}
		for _, s := range stats {
			s.Snapshot()
		}
		aged := heap()
		per := (int64(max(fresh, aged)) - int64(before)) / n
		t.Logf("statistics of one operation: %d bytes fresh, %d bytes after four days", (int64(fresh)-int64(before))/n, (int64(aged)-int64(before))/n)
		if per > 16<<10 {
			t.Errorf("one operation holds %d bytes, want under 16 KiB", per)
		}
		if growth := (int64(aged) - int64(fresh)) / n; growth > 512 {
			t.Errorf("statistics grew by %d bytes per operation over four days", growth)
		}
		runtime.KeepAlive(stats)
	})
}

func TestRecordDoesNotAllocate(t *testing.T) {
	if race.Enabled {
		t.Skip("allocations are not meaningful under the race detector")
	}
	s, _ := NewStats(time.Minute)
	if n := testing.AllocsPerRun(1000, func() { s.Record(3*time.Millisecond, false) }); n != 0 {
		t.Errorf("Record allocates %v times", n)
	}
	if n := testing.AllocsPerRun(1000, func() { s.Record(3*time.Millisecond, true) }); n != 0 {
		t.Errorf("Record of a failure allocates %v times", n)
	}
}

// TestStatsMemoryPerRoute measures the heap one route's statistics hold
// after an hour of realistic traffic (latencies spread over two decades,
// some failures) on two processors: at most 4 KiB (issue 17).
func TestStatsMemoryPerRoute(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector changes what the heap holds")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	synctest.Test(t, func(t *testing.T) {
		const n = 500
		heap := func() uint64 {
			runtime.GC()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return ms.HeapAlloc
		}
		stats := make([]*Stats, n)
		before := heap()
		for i := range stats {
			var err error
			if stats[i], err = NewStats(DefaultStatsWindow); err != nil {
				t.Fatal(err)
			}
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for range 6 * 60 { // an hour in 10 s steps, 200 calls a step per route
			for _, s := range stats {
				for range 200 {
					// Log-uniform from 1 ms to 100 ms, with a tail to 2 s.
					d := time.Duration(float64(time.Millisecond) * math.Pow(100, rng.Float64()))
					if rng.IntN(100) == 0 {
						d *= 20
					}
					s.Record(d, rng.IntN(50) == 0)
				}
			}
			time.Sleep(10 * time.Second)
		}
		for _, s := range stats {
			s.Snapshot()
		}
		per := (int64(heap()) - int64(before)) / n
		t.Logf("statistics of one route: %d bytes", per)
		if per > 4<<10 {
			t.Errorf("one route's statistics hold %d bytes, want at most 4 KiB", per)
		}
		runtime.KeepAlive(stats)
	})
}

// TestSnapshotQuantilesAgainstExact plays skewed latencies and compares the
// quantiles of the snapshot with the exact ones of the same calls: within
// the documented 12.5%.
func TestSnapshotQuantilesAgainstExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := NewStats(time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(3, 4))
		var all []time.Duration
		for range 50 { // 50 s at 1000 calls/s: the window spans closed intervals and the one being filled
			for range 1000 {
				d := time.Duration(rng.ExpFloat64() * float64(20*time.Millisecond))
				if rng.IntN(200) == 0 {
					d += time.Second
				}
				all = append(all, d)
				s.Record(d, false)
			}
			time.Sleep(time.Second)
		}
		slices.Sort(all)
		snap := s.Snapshot()
		if snap.Requests != uint64(len(all)) {
			t.Fatalf("Requests = %d, want %d", snap.Requests, len(all))
		}
		for _, q := range []struct {
			name string
			got  time.Duration
			p    float64
		}{{"P50", snap.P50, 0.50}, {"P90", snap.P90, 0.90}, {"P99", snap.P99, 0.99}} {
			want := all[int(math.Ceil(q.p*float64(len(all))))-1]
			if rel := math.Abs(float64(q.got-want)) / float64(want); rel > 0.125 {
				t.Errorf("%s = %v, exact %v: off by %.1f%%, want within 12.5%%", q.name, q.got, want, 100*rel)
			}
		}
	})
}

// TestRecordLosesNoCalls records from 8 goroutines across interval
// rollovers and checks that every call is counted.
func TestRecordLosesNoCalls(t *testing.T) {
	s, err := NewStats(minStatsWindow) // 1 ms intervals: many rollovers
	if err != nil {
		t.Fatal(err)
	}
	const workers, calls = 8, 20_000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range calls {
				switch i % 10 {
				case 0:
					s.Record(time.Duration(w)*time.Millisecond, true)
				case 1:
					s.RecordRejected()
				default:
					s.Record(time.Duration(i)*time.Microsecond, false)
				}
			}
		})
	}
	wg.Wait()
	s.mu.Lock()
	got := s.cumulativeLocked()
	s.mu.Unlock()
	want := totals{requests: workers * calls * 9 / 10, errors: workers * calls / 10, rejected: workers * calls / 10}
	if got != want {
		t.Errorf("cumulative counts %+v, want %+v", got, want)
	}
}
