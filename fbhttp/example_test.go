package fbhttp_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/fbhttp"
)

// Protect an http.Client in one line: a flaky host's 503 is retried and
// the caller sees the answer that followed.
func ExampleProtect() {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "price: 42")
	}))
	defer srv.Close()

	client, err := fbhttp.Protect(http.DefaultClient, firebreak.Component{Name: "checkout", Tier: firebreak.Core})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.URL + "/quote")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "after", calls.Load(), "requests")
	// Output: 200 price: 42 after 2 requests
}
