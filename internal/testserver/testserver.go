// Package testserver finds and starts real servers for firebreak's tests.
//
// A test that needs a server calls its starter, e.g. [Alertmanager]; when
// the server's binary is missing the test is skipped with a message saying
// what to install, unless the environment variable FIREBREAK_REQUIRE_SERVERS
// is "1" (CI sets it), in which case the test fails with that message.
// Servers listen on free loopback ports, keep their state in t.TempDir() and
// are stopped in t.Cleanup.
package testserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// AlertmanagerSkip is the message a test gets when prometheus-alertmanager
// is missing.
const AlertmanagerSkip = "firebreak: alertmanager tests need prometheus-alertmanager (apt-get install prometheus-alertmanager)"

// Server is a started server.
type Server struct {
	// URL is its base URL, e.g. "http://127.0.0.1:40123".
	URL string
	// Log is the file holding the server's output.
	Log string
}

// missing skips or fails t, as FIREBREAK_REQUIRE_SERVERS says.
func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("FIREBREAK_REQUIRE_SERVERS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// find looks for a binary on PATH, then at the given absolute paths.
func find(name string, paths ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// FreePort returns a loopback port nobody listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testserver: no free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

const alertmanagerConfig = `route:
  receiver: "null"
  group_by: ["..."]
receivers:
  - name: "null"
`

// Alertmanager starts a Prometheus Alertmanager with clustering off, one
// route to a null receiver, its storage in t.TempDir(), and waits until
// /-/ready answers 200 (up to 20 seconds). It is stopped in t.Cleanup.
func Alertmanager(t testing.TB) *Server {
	t.Helper()
	bin := find("prometheus-alertmanager", "/usr/bin/prometheus-alertmanager")
	if bin == "" {
		bin = find("alertmanager")
	}
	if bin == "" {
		missing(t, AlertmanagerSkip)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(alertmanagerConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for range 3 { // a port taken between FreePort and the bind: try another
		srv, err := startAlertmanager(t, bin, dir, cfg)
		if err == nil {
			return srv
		}
		lastErr = err
	}
	t.Fatalf("testserver: alertmanager did not start: %v", lastErr)
	return nil
}

func startAlertmanager(t testing.TB, bin, dir, cfg string) (*Server, error) {
	port := FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logPath := filepath.Join(dir, fmt.Sprintf("alertmanager-%d.log", port))
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	storage := filepath.Join(dir, fmt.Sprintf("data-%d", port))
	cmd := exec.Command(bin,
		"--config.file="+cfg,
		"--storage.path="+storage,
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
		"--log.level=warn",
	)
	// Output goes to a file, not a pipe, so no copying goroutine outlives
	// the test.
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		logf.Close()
	}
	srv := &Server{URL: "http://" + addr, Log: logPath}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			logf.Close()
			out, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("exited (%v): %s", err, strings.TrimSpace(string(out)))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/-/ready", nil)
		resp, err := client.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Cleanup(stop)
				return srv, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			out, _ := os.ReadFile(logPath)
			return nil, errors.Join(errors.New("not ready within 20s"), err, errors.New(strings.TrimSpace(string(out))))
		}
		// Poll again shortly: the server is starting.
		select {
		case err := <-exited:
			logf.Close()
			out, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("exited (%v): %s", err, strings.TrimSpace(string(out)))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// RedisSkip is the message a test gets when redis-server is missing.
const RedisSkip = "firebreak/fleet: the fleet tests need redis-server (apt-get install -y redis-server)"

// Redis is a started redis-server. Its methods are for one test's
// goroutine.
type Redis struct {
	// Addr is its host:port, e.g. "127.0.0.1:40123".
	Addr string
	// Log is the file holding the server's output.
	Log string

	t      testing.TB
	bin    string
	dir    string
	port   int
	cmd    *exec.Cmd
	logf   *os.File
	exited chan error
}

// StartRedis starts a redis-server on a free loopback port with no
// persistence (a restart loses its data, as a crashed cache does) and
// waits until it answers PING (up to 10 seconds). It is stopped in
// t.Cleanup.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin := find("redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server")
	if bin == "" {
		missing(t, RedisSkip)
	}
	r := &Redis{t: t, bin: bin, dir: t.TempDir()}
	var lastErr error
	for range 3 { // a port taken between FreePort and the bind: try another
		r.port = FreePort(t)
		if lastErr = r.start(); lastErr == nil {
			t.Cleanup(r.Kill)
			return r
		}
	}
	t.Fatalf("testserver: redis-server did not start: %v", lastErr)
	return nil
}

func (r *Redis) start() error {
	r.Addr = fmt.Sprintf("127.0.0.1:%d", r.port)
	r.Log = filepath.Join(r.dir, fmt.Sprintf("redis-%d.log", r.port))
	logf, err := os.OpenFile(r.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(r.bin, "--port", fmt.Sprint(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	r.cmd, r.logf, r.exited = cmd, logf, make(chan error, 1)
	go func(exited chan error) { exited <- cmd.Wait() }(r.exited)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if pingRedis(r.Addr) == nil {
			return nil
		}
		select {
		case err := <-r.exited:
			logf.Close()
			r.cmd = nil
			out, _ := os.ReadFile(r.Log)
			return fmt.Errorf("exited (%v): %s", err, strings.TrimSpace(string(out)))
		case <-time.After(20 * time.Millisecond): // the server is starting
		}
		if time.Now().After(deadline) {
			r.Kill()
			return errors.New("no PONG within 10s")
		}
	}
}

func pingRedis(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if string(buf[:n]) != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", buf[:n])
	}
	return nil
}

// Kill stops the server at once (SIGKILL), as a crash would, and waits
// for it to exit. Killing a stopped server does nothing.
func (r *Redis) Kill() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	<-r.exited
	r.logf.Close()
	r.cmd = nil
}

// Restart starts the server again on the same port, empty, after Kill.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Kill()
	var err error
	for range 50 { // the port may linger a moment after the kill
		if err = r.start(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("testserver: redis-server did not restart on %s: %v", r.Addr, err)
}
