package health_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/health/healthtest"
)

// TestReviewHugeIntervalStaysFresh: a check that runs once and then
// practically never (WithInterval(math.MaxInt64)) keeps its result; the
// default stale age 2*interval+timeout wrapped around to about one second,
// and readiness went unknown (503) a second after Start.
func TestReviewHugeIntervalStaysFresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, nil)
		mustRegister(t, r, "once", healthtest.NewCheck(), health.WithInterval(math.MaxInt64))
		if err := r.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer r.Close(context.Background())
		time.Sleep(time.Hour) // virtual
		if got := get(r.Handler(), "/readyz", false); got.code != http.StatusOK {
			t.Errorf("/readyz an hour after the only run = %d %q, want 200", got.code, got.body)
		}
		if st := r.Status(health.Readiness); st != health.StatusUp {
			t.Errorf("readiness %v, want up", st)
		}
	})
}

// TestReviewHugeEventBufferIsAnError: a buffer too large to make is an
// error naming the option, not a panic in make.
func TestReviewHugeEventBufferIsAnError(t *testing.T) {
	for _, n := range []int{math.MaxInt, 1 << 40} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("New(WithEventBuffer(%d)) panicked: %v", n, p)
				}
			}()
			_, err := health.New(health.WithEventBuffer(n))
			if err == nil || !strings.Contains(err.Error(), "WithEventBuffer") {
				t.Errorf("New(WithEventBuffer(%d)) = %v, want an error naming WithEventBuffer", n, err)
			}
		}()
	}
}

// TestReviewHTTPGetHidesPassword: the error of an HTTPGet check goes to the
// log, the Reporter's summary and authorised probe callers; a password in
// its URL must not.
func TestReviewHTTPGetHidesPassword(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "http://", "http://probe:s3cret@", 1)
	err := health.HTTPGet(u+"/status", nil).Check(t.Context())
	if err == nil {
		t.Fatal("a 500 passed")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("check error %q shows the URL's password", err)
	}
	if !strings.Contains(err.Error(), "500") {
		t.Errorf("check error %q does not say the status", err)
	}
}

// TestReviewInspectJSONWithNaN: a check observing NaN (0/0 of an empty
// window, a ratio of nothing) must not turn the whole JSON inspection into
// a 500: encoding/json refuses NaN and Inf.
func TestReviewInspectJSONWithNaN(t *testing.T) {
	r := newRegistry(t, nil)
	mustRegister(t, r, "ratio", health.CheckFunc(func(ctx context.Context) error {
		health.Observe(ctx, math.NaN(), "1")
		return nil
	}))
	mustRegister(t, r, "inf", health.CheckFunc(func(ctx context.Context) error {
		health.Observe(ctx, math.Inf(1), "s")
		return nil
	}))
	got := get(r.InspectHandler(), "/debug/inspect?format=json", true)
	if got.code != http.StatusOK || !strings.Contains(got.body, `"ratio"`) {
		t.Errorf("inspection = %d %q, want 200 with the checks", got.code, got.body)
	}
}

// TestReviewHTTPGetTransportErrorHidesPassword: so does a transport error
// (net/http redacts its own).
func TestReviewHTTPGetTransportErrorHidesPassword(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := strings.Replace(srv.URL, "http://", "http://probe:s3cret@", 1)
	srv.Close() // nothing listens any more: connection refused
	err := health.HTTPGet(u, nil).Check(t.Context())
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("check error %v: want a failure without the password", err)
	}
}
