package health_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak/health"
)

// run runs a checker once with a timeout, as the registry would.
func run(t *testing.T, c health.Checker) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Check(ctx)
}

func TestTCPDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if err := run(t, health.TCPDial(addr)); err != nil {
		t.Fatalf("dial open port: %v", err)
	}
	ln.Close()
	<-done
	if err := run(t, health.TCPDial(addr)); err == nil {
		t.Fatal("dial closed port passed")
	}
}

func TestHTTPGet(t *testing.T) {
	code := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code == http.StatusFound {
			http.Redirect(w, r, "http://192.0.2.1/elsewhere", code) // not followed
			return
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		code int
		ok   bool
	}{{200, true}, {204, true}, {http.StatusFound, true}, {404, false}, {503, false}} {
		code = tc.code
		err := run(t, health.HTTPGet(srv.URL+"/ready", nil))
		if (err == nil) != tc.ok {
			t.Errorf("status %d: err %v, want ok=%v", tc.code, err, tc.ok)
		}
	}
	srv.CloseClientConnections()
}

type fakePinger struct{ err error }

func (p fakePinger) PingContext(context.Context) error { return p.err }

func TestPingAndDNS(t *testing.T) {
	if err := run(t, health.Ping(fakePinger{})); err != nil {
		t.Fatal(err)
	}
	down := errors.New("driver: bad connection")
	if err := run(t, health.Ping(fakePinger{down})); !errors.Is(err, down) {
		t.Fatalf("ping error %v", err)
	}
	if err := run(t, health.DNS("localhost", nil)); err != nil {
		t.Fatalf("resolve localhost: %v", err)
	}
	if err := run(t, health.DNS("no-such-host.invalid", nil)); err == nil {
		t.Fatal("resolving .invalid passed")
	}
}

func TestResourceChecks(t *testing.T) {
	dir := t.TempDir()
	if err := run(t, health.DiskFree(dir, 1)); err != nil {
		t.Fatalf("1 byte free: %v", err)
	}
	err := run(t, health.DiskFree(dir, 1<<62))
	if err == nil || errors.Is(err, health.ErrWarning) {
		t.Fatalf("4 EiB free: %v", err)
	}
	if err := run(t, health.DiskFree(filepath.Join(dir, "missing"), 1)); err == nil {
		t.Fatal("missing path passed")
	}
	if err := run(t, health.Heap(1<<50)); err != nil {
		t.Fatalf("heap under 1 PiB: %v", err)
	}
	if err := run(t, health.Heap(1)); err == nil || errors.Is(err, health.ErrWarning) {
		t.Fatalf("heap under 1 byte: %v", err)
	}
	if err := run(t, health.Goroutines(1_000_000)); err != nil {
		t.Fatal(err)
	}
	if err := run(t, health.Goroutines(1)); err == nil {
		t.Fatal("goroutines under 1 passed")
	}
}

// TestBackupAndFreshness: the latest backup must be recent, non-empty and
// match its sha256sum sidecar.
func TestBackupAndFreshness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		write := func(name, content string, age time.Duration, sum string) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			mt := time.Now().Add(-age)
			if err := os.Chtimes(p, mt, mt); err != nil {
				t.Fatal(err)
			}
			if sum != "" {
				if err := os.WriteFile(p+".sha256", []byte(sum+"  "+name+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			return p
		}
		sha := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
		glob := filepath.Join(dir, "db-*.dump")
		check := health.Backup(glob, 24*time.Hour)

		if err := run(t, check); err == nil || !strings.Contains(err.Error(), "no file matches") {
			t.Fatalf("no backups: %v", err)
		}
		write("db-1.dump", "old", 48*time.Hour, sha("old"))
		if err := run(t, check); err == nil || !strings.Contains(err.Error(), "older than") {
			t.Fatalf("stale backup: %v", err)
		}
		write("db-2.dump", "fresh", time.Hour, sha("fresh"))
		if err := run(t, check); err != nil {
			t.Fatalf("good backup: %v", err)
		}
		write("db-3.dump", "corrupt", time.Minute, sha("something else"))
		if err := run(t, check); err == nil || !strings.Contains(err.Error(), "does not match") {
			t.Fatalf("corrupt backup: %v", err)
		}
		write("db-4.dump", "nosum", time.Second, "")
		if err := run(t, check); err == nil || !strings.Contains(err.Error(), "checksum file") {
			t.Fatalf("missing sidecar: %v", err)
		}
		write("db-5.dump", "", 0, sha(""))
		if err := run(t, check); err == nil || !strings.Contains(err.Error(), "empty") {
			t.Fatalf("empty backup: %v", err)
		}
		write("db-6.dump", "x", -time.Second, "nothex")
		if err := run(t, check); err == nil || !strings.Contains(err.Error(), "not a SHA-256") {
			t.Fatalf("bad sidecar: %v", err)
		}

		hb := write("heartbeat", "beat", 0, "")
		fresh := health.FileFresh(hb, time.Minute)
		if err := run(t, fresh); err != nil {
			t.Fatalf("fresh heartbeat: %v", err)
		}
		time.Sleep(2 * time.Minute) // virtual: the file's mtime stays put
		if err := run(t, fresh); err == nil {
			t.Fatal("stale heartbeat passed")
		}
	})
}

// TestBaselineFlagsStepNotNoise: a thousand samples of Gaussian noise raise
// no flag; a step of ten standard deviations is flagged at once and keeps
// failing until the baseline relearns.
func TestBaselineFlagsStepNotNoise(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			b, err := health.NewBaseline(func(context.Context) (float64, error) { return 0, nil }, health.WithUnit("ms"), health.WithRelearnAfter(30))
			if err != nil {
				t.Fatal(err)
			}
			for i := range 1000 {
				x := 100 + 2*rng.NormFloat64()
				if err := b.Update(x); err != nil {
					t.Fatalf("noise sample %d (%.2f) flagged: %v", i, x, err)
				}
			}
			mean, band, warm := b.Stats()
			if !warm || mean < 98 || mean > 102 || band < 6 || band > 14 {
				t.Fatalf("stats mean %.2f band %.2f warm %v", mean, band, warm)
			}
			for i := range 29 {
				x := 120 + 2*rng.NormFloat64()
				err := b.Update(x)
				if err == nil {
					t.Fatalf("step sample %d (%.2f) not flagged", i, x)
				}
				if i == 0 && !strings.Contains(err.Error(), "above the normal range") {
					t.Fatalf("message %q", err)
				}
			}
			b.Update(120) // the 30th outlier: relearn
			for i := range 200 {
				x := 120 + 2*rng.NormFloat64()
				if err := b.Update(x); err != nil {
					t.Fatalf("after relearning, sample %d (%.2f) flagged: %v", i, x, err)
				}
			}
		})
	}
}

func TestBaselineDirectionAndCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		v := 10.0
		set := func(x float64) { mu.Lock(); v = x; mu.Unlock() }
		b, err := health.NewBaseline(func(context.Context) (float64, error) { mu.Lock(); defer mu.Unlock(); return v, nil },
			health.WithDirection(health.Above), health.WithWarmUp(5), health.WithMinBand(1), health.WithUnit("s"))
		if err != nil {
			t.Fatal(err)
		}
		r := newRegistry(t, nil)
		mustRegister(t, r, "latency", b)
		r.Start(context.Background())
		defer r.Close(context.Background())
		for range 6 {
			time.Sleep(health.DefaultInterval)
			synctest.Wait()
		}
		if s := status(t, r, "latency"); s != health.StatusUp {
			t.Fatalf("constant metric: %v", s)
		}
		set(10.5) // inside MinBand
		time.Sleep(health.DefaultInterval)
		synctest.Wait()
		if s := status(t, r, "latency"); s != health.StatusUp {
			t.Fatalf("small change flagged: %v", s)
		}
		set(2) // far below, but only Above counts
		time.Sleep(health.DefaultInterval)
		synctest.Wait()
		if s := status(t, r, "latency"); s != health.StatusUp {
			t.Fatalf("drop flagged with Direction Above: %v", s)
		}
		set(30)
		time.Sleep(health.DefaultInterval)
		synctest.Wait()
		st, _ := r.State("latency")
		if st.Status != health.StatusDown || !st.Observed || st.Value != 30 || st.Unit != "s" {
			t.Fatalf("spike: %+v", st)
		}
	})
	b, _ := health.NewBaseline(func(context.Context) (float64, error) { return 0, nil })
	if err := b.Update(nanValue()); err == nil {
		t.Fatal("NaN accepted")
	}
	for _, opt := range []health.BaselineOption{health.WithAlpha(0), health.WithAlpha(1), health.WithBand(0), health.WithMinBand(-1),
		health.WithWarmUp(1), health.WithDirection(7), health.WithRelearnAfter(-1), nil} {
		if _, err := health.NewBaseline(func(context.Context) (float64, error) { return 0, nil }, opt); err == nil {
			t.Errorf("option %v accepted", opt)
		}
	}
	if _, err := health.NewBaseline(nil); err == nil {
		t.Error("nil sample accepted")
	}
}

func nanValue() float64 { var z float64; return z / z }
