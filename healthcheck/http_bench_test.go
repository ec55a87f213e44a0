package healthcheck

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkHTTPCheck is the cost of one negotiate check against a local
// server (new connection each time, as in production).
func BenchmarkHTTPCheck(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	t := &testing.T{}
	s := httpSpec(t, srv.URL, "/test.html", "ok")
	c, err := New(s)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := c.Check(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
	}
}
