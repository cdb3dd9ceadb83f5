package failover

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestRetryHonoursHTTPRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hits atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch hits.Add(1) {
			case 1:
				w.Header().Set("Retry-After", "3")
				w.WriteHeader(http.StatusServiceUnavailable)
			case 2:
				w.WriteHeader(http.StatusBadGateway)
			default:
				w.Write([]byte("ok"))
			}
		})
		get := func(ctx context.Context) (int, error) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequestWithContext(ctx, "GET", "/", nil))
			resp := w.Result()
			defer resp.Body.Close()
			return resp.StatusCode, CheckResponse(resp)
		}
		r := mustRetry[int](t, WithMaxAttempts(5), WithBackoff(100*time.Millisecond, time.Second, 2), WithJitter(0), WithRetryIf(RetryHTTP))
		start := time.Now()
		var at []time.Duration
		code, err := r.Execute(t.Context(), func(ctx context.Context) (int, error) {
			at = append(at, time.Since(start))
			return get(ctx)
		})
		if code != 200 || err != nil {
			t.Fatalf("got %d, %v", code, err)
		}
		want := []time.Duration{0, 3 * time.Second, 3*time.Second + 200*time.Millisecond}
		for i := range want {
			if i >= len(at) || at[i] != want[i] {
				t.Fatalf("attempts at %v, want %v", at, want)
			}
		}
	})
}

func TestCheckResponse(t *testing.T) {
	tests := []struct {
		code      int
		header    string
		wantErr   bool
		temporary bool
		after     time.Duration
	}{
		{200, "", false, false, 0},
		{304, "", false, false, 0},
		{404, "", true, false, 0},
		{408, "", true, true, 0},
		{429, "7", true, true, 7 * time.Second},
		{500, "", true, true, 0},
		{501, "", true, false, 0},
		{503, "junk", true, true, 0},
	}
	for _, tt := range tests {
		resp := &http.Response{StatusCode: tt.code, Header: http.Header{}}
		if tt.header != "" {
			resp.Header.Set("Retry-After", tt.header)
		}
		err := CheckResponse(resp)
		if (err != nil) != tt.wantErr {
			t.Errorf("%d: err = %v", tt.code, err)
			continue
		}
		if err == nil {
			continue
		}
		var se *StatusError
		if !errors.As(err, &se) || se.Temporary() != tt.temporary || RetryHTTP(err) != tt.temporary || se.After != tt.after {
			t.Errorf("%d: %+v, temporary %v, want %v after %v", tt.code, se, se.Temporary(), tt.temporary, tt.after)
		}
	}
	if !RetryHTTP(errors.New("connection reset")) {
		t.Error("a transport error should be retried")
	}
}
