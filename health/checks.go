package health

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"time"
)

// invalid is a built-in check given bad arguments. Register reports its
// error; run anyway, it fails with it.
type invalid struct{ err error }

func (c invalid) Check(context.Context) error { return c.err }
func (c invalid) validate() error             { return c.err }

func invalidf(format string, args ...any) Checker {
	return invalid{fmt.Errorf(format, args...)}
}

// TCPDial returns a check that opens and closes a TCP connection to addr
// ("host:port").
func TCPDial(addr string) Checker {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return invalidf("TCPDial: address %q: %v", addr, err)
	}
	return CheckFunc(func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	})
}

// HTTPGet returns a check that GETs rawURL and passes on a status from 200
// to 399, as the kubelet's HTTP probe does. Redirects are not followed. A
// nil client means a default one; the check's timeout bounds each request.
func HTTPGet(rawURL string, client *http.Client) Checker {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalidf("HTTPGet: URL %q must be an absolute http or https URL", rawURL)
	}
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	shown := u.Redacted() // the error goes to logs and the Reporter: no password
	return CheckFunc(func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "firebreak-health")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		_ = resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("GET %s: status %d", shown, resp.StatusCode)
		}
		return nil
	})
}

// A Pinger checks a connection; *sql.DB is one.
type Pinger interface {
	PingContext(ctx context.Context) error
}

// Ping returns a check that calls p.PingContext, so a *sql.DB works as is.
func Ping(p Pinger) Checker {
	if p == nil {
		return invalidf("Ping: Pinger is nil")
	}
	return CheckFunc(p.PingContext)
}

// DNS returns a check that resolves host and fails when it has no address.
// A nil resolver means [net.DefaultResolver].
func DNS(host string, resolver *net.Resolver) Checker {
	if host == "" {
		return invalidf("DNS: host is empty")
	}
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	return CheckFunc(func(ctx context.Context) error {
		addrs, err := resolver.LookupHost(ctx, host)
		if err != nil {
			return err
		}
		if len(addrs) == 0 {
			return fmt.Errorf("DNS: %s has no addresses", host)
		}
		Observe(ctx, float64(len(addrs)), "{address}")
		return nil
	})
}

// DiskFree returns a check that fails when the file system holding path has
// fewer than minFree bytes available to unprivileged users, and warns below
// twice that. It observes the free bytes.
func DiskFree(path string, minFree uint64) Checker {
	if path == "" {
		return invalidf("DiskFree: path is empty")
	}
	if minFree == 0 {
		return invalidf("DiskFree: minFree must be positive")
	}
	return CheckFunc(func(ctx context.Context) error {
		free, err := diskFree(path)
		if err != nil {
			return err
		}
		Observe(ctx, float64(free), "By")
		switch {
		case free < minFree:
			return fmt.Errorf("disk %s: %d bytes free, below %d", path, free, minFree)
		case free < 2*minFree:
			return Warn(fmt.Errorf("disk %s: %d bytes free, below twice %d", path, free, minFree))
		}
		return nil
	})
}

// Heap returns a check that compares the bytes of live and not yet swept
// heap objects (runtime/metrics "/memory/classes/heap/objects:bytes") with
// limit: it fails above the limit and warns above 90% of it. A limit of 0
// means the Go memory limit ([debug.SetMemoryLimit], GOMEMLIMIT), which must
// then be set.
func Heap(limit uint64) Checker {
	if limit == 0 {
		l := debug.SetMemoryLimit(-1)
		if l == math.MaxInt64 {
			return invalidf("Heap: limit is 0 and no Go memory limit is set (GOMEMLIMIT)")
		}
		limit = uint64(l)
	}
	return CheckFunc(func(ctx context.Context) error {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(s)
		if s[0].Value.Kind() != metrics.KindUint64 {
			return errors.New("heap: runtime metric unavailable")
		}
		heap := s[0].Value.Uint64()
		Observe(ctx, float64(heap), "By")
		switch {
		case heap > limit:
			return fmt.Errorf("heap %d bytes above limit %d", heap, limit)
		case heap > limit/10*9:
			return Warn(fmt.Errorf("heap %d bytes above 90%% of limit %d", heap, limit))
		}
		return nil
	})
}

// Goroutines returns a check that fails when more than max goroutines exist,
// a sign of a leak or of requests piling up. It observes the count.
func Goroutines(max int) Checker {
	if max < 1 {
		return invalidf("Goroutines: max %d must be at least 1", max)
	}
	return CheckFunc(func(ctx context.Context) error {
		n := runtime.NumGoroutine()
		Observe(ctx, float64(n), "{goroutine}")
		if n > max {
			return fmt.Errorf("%d goroutines, above %d", n, max)
		}
		return nil
	})
}

// FileFresh returns a check that fails when path is missing, empty, or was
// last modified more than maxAge ago (a heartbeat file, an export). It
// observes the age in seconds.
func FileFresh(path string, maxAge time.Duration) Checker {
	if path == "" {
		return invalidf("FileFresh: path is empty")
	}
	if maxAge <= 0 {
		return invalidf("FileFresh: maxAge %v must be positive", maxAge)
	}
	return CheckFunc(func(ctx context.Context) error {
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		return fresh(ctx, path, fi, maxAge)
	})
}

func fresh(ctx context.Context, path string, fi os.FileInfo, maxAge time.Duration) error {
	age := time.Since(fi.ModTime())
	Observe(ctx, age.Seconds(), "s")
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	case fi.Size() == 0:
		return fmt.Errorf("%s is empty", path)
	case age > maxAge:
		return fmt.Errorf("%s is %v old, older than %v", path, age.Truncate(time.Second), maxAge)
	}
	return nil
}

// Backup returns a check that the latest backup is recent and intact: of
// the files matching glob (a [filepath.Match] pattern; files ending in
// ".sha256" are ignored), the most recently modified must be non-empty, no
// older than maxAge, and have a sidecar "<file>.sha256" in sha256sum format
// ("<hex digest>  <name>") whose digest matches the file's SHA-256. The file
// is read in full each run, so give the check a timeout that allows it; the
// read stops when the run's context ends.
func Backup(glob string, maxAge time.Duration) Checker {
	if _, err := filepath.Match(glob, ""); err != nil || glob == "" {
		return invalidf("Backup: glob %q is not a valid pattern", glob)
	}
	if maxAge <= 0 {
		return invalidf("Backup: maxAge %v must be positive", maxAge)
	}
	return CheckFunc(func(ctx context.Context) error {
		matches, err := filepath.Glob(glob)
		if err != nil {
			return err
		}
		var latest string
		var latestInfo os.FileInfo
		for _, m := range matches {
			if strings.HasSuffix(m, ".sha256") {
				continue
			}
			fi, err := os.Stat(m)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			if latestInfo == nil || fi.ModTime().After(latestInfo.ModTime()) {
				latest, latestInfo = m, fi
			}
		}
		if latestInfo == nil {
			return fmt.Errorf("backup: no file matches %s", glob)
		}
		if err := fresh(ctx, latest, latestInfo, maxAge); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		want, err := readSum(latest + ".sha256")
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		got, err := sha256File(ctx, latest)
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if got != want {
			return fmt.Errorf("backup: %s: SHA-256 %s does not match %s", latest, got, want)
		}
		return nil
	})
}

func readSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("checksum file: %w", err)
	}
	defer f.Close()
	line, err := bufio.NewReader(io.LimitReader(f, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("checksum file %s: %w", path, err)
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return "", fmt.Errorf("checksum file %s is empty", path)
	}
	sum := strings.ToLower(fields[0])
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("checksum file %s: %q is not a SHA-256 hex digest", path, fields[0])
	}
	return sum, nil
}

func sha256File(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
