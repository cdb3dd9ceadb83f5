package fbhttp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/breaker"
	"github.com/firebreak-go/firebreak/failover"
	"github.com/firebreak-go/firebreak/fbhttp"
)

// BenchmarkTransport compares a GET over loopback through the bare
// http.Transport with the same GET through an fbhttp.Transport running a
// retry and a breaker, in the same run.
func BenchmarkTransport(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	bare := &http.Transport{MaxIdleConnsPerHost: 64}
	defer bare.CloseIdleConnections()
	retry, _ := failover.NewRetry[*http.Response](failover.WithRetryIf(failover.RetryHTTP))
	cb, _ := breaker.New[*http.Response]()
	p, err := firebreak.NewPipeline(firebreak.Component{Name: "bench", Dependency: "loopback"}, []firebreak.Policy[*http.Response]{retry, cb})
	if err != nil {
		b.Fatal(err)
	}
	base := &http.Transport{MaxIdleConnsPerHost: 64}
	defer base.CloseIdleConnections()
	protected, err := fbhttp.New(base, p)
	if err != nil {
		b.Fatal(err)
	}
	get := func(b *testing.B, rt http.RoundTripper, req *http.Request) {
		res, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	for _, tt := range []struct {
		name string
		rt   http.RoundTripper
	}{{"bare", bare}, {"fbhttp", protected}} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		b.Run(tt.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				get(b, tt.rt, req)
			}
		})
		b.Run(tt.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					get(b, tt.rt, req)
				}
			})
		})
	}
}
