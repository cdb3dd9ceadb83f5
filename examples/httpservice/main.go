// Command httpservice is a template for an HTTP service protected by
// firebreak: copy it and replace the inventory dependency with yours.
//
// The service, "orders-api", serves GET /orders/{id}. Each order needs a
// call to its dependency, "inventory", over HTTP through an fbhttp
// transport whose pipeline (observe → retry → breaker) is built once for
// that dependency. Around it: health probes (/livez, /readyz), a load
// shedder on the service's own handler, the incident Board grading what the
// policies report by the emergency plan, and the operations API (/ops/)
// behind bearer tokens.
//
//	go run ./examples/httpservice              # a 3-second demonstration, then a graceful stop
//	go run ./examples/httpservice -run-for 0   # serve until SIGINT or SIGTERM
//
// In the demonstration inventory fails for a second: the breaker opens,
// the orders answer 503 fast instead of piling up, the readiness probe
// fails, the Board opens an incident, and everything recovers. The
// inventory stand-in is an httptest server on loopback; in your service it
// is the real thing.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/failover"
	"github.com/firebreak-go/firebreak/fbhttp"
	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/tracing"
)

func main() {
	runFor := flag.Duration("run-for", 3*time.Second, "how long to run the demonstration; 0 serves until SIGINT or SIGTERM")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *runFor, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "httpservice:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, runFor time.Duration, out io.Writer) error {
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// The dependency. In your service: its real URL, from configuration.
	inventory := newInventory()
	defer inventory.Close()

	// The Board: the emergency plan's grading, deadlines and notifications.
	board, err := firebreak.NewBoard("orders", firebreak.WithNotifier(firebreak.SlogNotifier(logger)),
		firebreak.WithComponents("orders-api"))
	if err != nil {
		return err
	}
	if err := board.Start(ctx); err != nil {
		return err
	}
	defer board.Close(context.Background())

	// One pipeline per dependency: observe → retry → breaker.
	dep := firebreak.Component{Name: "orders-api", Dependency: "inventory", Tier: firebreak.Core, Reporter: board}
	observe, err := tracing.New[*http.Response]()
	if err != nil {
		return err
	}
	retry, err := failover.NewRetry[*http.Response](failover.WithRetryIf(failover.RetryHTTP),
		failover.WithMaxAttempts(2), failover.WithBackoff(10*time.Millisecond, 50*time.Millisecond, 2))
	if err != nil {
		return err
	}
	// A short window, so that the demonstration's one-second outage trips it;
	// in production the defaults (30s window) are a good start.
	cb, err := breaker.New[*http.Response](breaker.WithWindow(time.Second, 250*time.Millisecond),
		breaker.WithFailureRatio(0.5, 20), breaker.WithOpenTimeout(300*time.Millisecond))
	if err != nil {
		return err
	}
	pipeline, err := firebreak.NewPipeline(dep, []firebreak.Policy[*http.Response]{observe, retry, cb})
	if err != nil {
		return err
	}
	transport, err := fbhttp.New(http.DefaultTransport, pipeline)
	if err != nil {
		return err
	}
	inventoryClient := &http.Client{Transport: transport, Timeout: 2 * time.Second}

	// Health probes: readiness follows inventory, with the pipeline's identity.
	probes, err := health.New(health.WithLogger(logger))
	if err != nil {
		return err
	}
	if err := probes.Bind(firebreak.Component{Name: "orders-api", Tier: firebreak.Core, Reporter: board}); err != nil {
		return err
	}
	if err := probes.Register("inventory", health.HTTPGet(inventory.URL+"/healthz", nil), health.ForComponent(dep),
		health.WithInterval(100*time.Millisecond), health.WithTimeout(100*time.Millisecond), health.WithFailureThreshold(2)); err != nil {
		return err
	}
	if err := probes.Start(ctx); err != nil {
		return err
	}
	defer probes.Close(context.Background())

	// The service's own handler, behind a shedder for the whole service.
	shedder, err := failover.NewShedder(rate.Limit(2000), 200, failover.WithMaxConcurrent(256))
	if err != nil {
		return err
	}
	if err := shedder.Bind(firebreak.Component{Name: "orders-api", Tier: firebreak.Core, Reporter: board}); err != nil {
		return err
	}
	orders := http.NewServeMux()
	orders.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		stock, err := stockOf(r.Context(), inventoryClient, inventory.URL, r.PathValue("id"))
		if err != nil {
			// No error text to the caller: it may name hosts. The log has it.
			logger.Debug("inventory call failed", "err", err)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "inventory unavailable, try again shortly", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "order %s: %s in stock\n", r.PathValue("id"), stock)
	})

	// The operations API, behind bearer tokens: from your secret store.
	opsToken := os.Getenv("ORDERS_OPS_TOKEN")
	if opsToken == "" {
		opsToken = randomToken()
	}
	auth, err := firebreak.BearerTokens(map[string]string{opsToken: "on-duty"})
	if err != nil {
		return err
	}
	ops, err := firebreak.OpsHandler(board, auth)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/orders/", shedder.Middleware(orders))
	mux.Handle("/livez", probes.Handler())
	mux.Handle("/readyz", probes.Handler())
	mux.Handle("/ops/", http.StripPrefix("/ops", ops))
	mux.Handle("/status", firebreak.StatusHandler(board))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	base := "http://" + lis.Addr().String()
	fmt.Fprintf(out, "orders-api listening on %s\n", base)

	if runFor > 0 {
		demonstrate(ctx, out, base, inventory, cb, board, opsToken, runFor)
	} else {
		<-ctx.Done()
	}

	// Graceful stop: drain readiness, let load balancers notice, finish
	// in-flight requests, then stop.
	probes.Drain()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(out, "orders-api stopped")
	return nil
}

// stockOf asks inventory for the stock of an item.
func stockOf(ctx context.Context, c *http.Client, base, id string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/stock/"+id, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if err := failover.CheckResponse(resp); err != nil {
		return "", err
	}
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// demonstrate plays traffic, an inventory outage and the recovery.
func demonstrate(ctx context.Context, out io.Writer, base string, inv *inventory, cb *breaker.Breaker[*http.Response], board *firebreak.Board, opsToken string, d time.Duration) {
	phase := func(name string, dur time.Duration) {
		var ok, unavailable int
		for end := time.Now().Add(dur); time.Now().Before(end) && ctx.Err() == nil; time.Sleep(5 * time.Millisecond) {
			resp, err := http.Get(base + "/orders/17")
			if err != nil {
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ok++
			} else {
				unavailable++
			}
		}
		fmt.Fprintf(out, "%-9s %4d orders served, %4d answered 503; breaker %s, ready %s\n", name, ok, unavailable, cb.State(), get(base+"/readyz", ""))
	}
	phase("healthy", d/3)
	inv.down.Store(true)
	phase("outage", d/3)
	fmt.Fprintf(out, "open incidents: %d\n", len(board.List(firebreak.Filter{OpenOnly: true})))
	fmt.Fprintf(out, "GET /ops/incidents without a token: %s\n", get(base+"/ops/incidents", ""))
	fmt.Fprintf(out, "GET /ops/incidents as on-duty:      %s\n", get(base+"/ops/incidents", opsToken))
	inv.down.Store(false)
	phase("recovered", d/3)
}

func get(url, token string) string {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "error"
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.Status
}

type inventory struct {
	*httptest.Server
	down atomic.Bool
}

func newInventory() *inventory {
	inv := &inventory{}
	inv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if inv.down.Load() {
			http.Error(w, "inventory down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "12")
	}))
	return inv
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
