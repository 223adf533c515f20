package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/auth"
	"github.com/authgate/authgate/internal/testkit"

	"github.com/authgate/authgate/internal/verify"
	"github.com/authgate/authgate/policy"
)

// trivialAuth accepts every token, so the benchmark measures the gateway's
// own work (routing, header hygiene, forwarding), not verification.
type trivialAuth struct{ id *verify.Identity }

func (a trivialAuth) Authenticate(context.Context, auth.Request) auth.Result {
	return auth.Result{Identity: a.id, Issuer: a.id.Issuer, Subject: a.id.Subject}
}

// BenchmarkProxy compares the Handler, on a required route with identity
// headers, against a bare httputil.ReverseProxy to the same upstream. Run
// with -bench Proxy to see them side by side.
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	b.Cleanup(up.Close)
	u := mustURL(b, up.URL)

	h, err := New(Options{Routes: []Route{{
		Name: "api", PathPrefix: "/api", Upstream: u, Mode: policy.Required,
		Auth:    trivialAuth{id: identity(b, "main", alicePayload)},
		Headers: map[string]string{"X-User-Id": "sub", "X-Roles": "/realm_access/roles"}, ClaimsHeader: "X-Auth-Claims",
	}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)
	// The same transport settings as the Handler's, so the difference is
	// the Handler's own work.
	bt := newTransport()
	b.Cleanup(bt.CloseIdleConnections)
	bare := &httputil.ReverseProxy{Transport: bt, Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.SetXForwarded()
	}}

	for _, bc := range []struct {
		name    string
		handler http.Handler
	}{
		{name: "authgate", handler: h},
		{name: "httputil", handler: bare},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := httptest.NewServer(bc.handler)
			defer srv.Close()
			client := srv.Client()
			client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
			withCPU(b, func() { testkit.ParallelGET(b, client, srv.URL+"/api/orders?x=1", "abc.def.ghi") })
		})
	}
}

// BenchmarkProxyHandler measures the Handler's own work per request without
// sockets: ServeHTTP on an in-memory response writer, forwarding through a
// transport that answers at once. Its allocations are the Handler's and
// ReverseProxy's only, so a change in them is not lost in network noise.
func BenchmarkProxyHandler(b *testing.B) {
	answer := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	up := mustURL(b, "http://upstream.example")
	h, err := New(Options{Transport: answer, Routes: []Route{
		{Name: "public", PathPrefix: "/public", Upstream: up, Mode: policy.None},
		{Name: "api", PathPrefix: "/api", Upstream: up, Mode: policy.Required,
			Auth:    trivialAuth{id: identity(b, "main", alicePayload)},
			Headers: map[string]string{"X-User-Id": "sub", "X-Roles": "/realm_access/roles"}, ClaimsHeader: "X-Auth-Claims"},
		// Last, so the other cases match exactly as before they existed.
		{Name: "credential", PathPrefix: "/cred", Upstream: up, Mode: policy.Required,
			Auth: trivialAuth{id: identity(b, "main", alicePayload)}, Credential: staticCredential("tok-1")},
		// The configuration's default upstream timeout.
		{Name: "timeout", PathPrefix: "/timeout", Upstream: up, Mode: policy.Required, Timeout: 30 * time.Second,
			Auth:    trivialAuth{id: identity(b, "main", alicePayload)},
			Headers: map[string]string{"X-User-Id": "sub", "X-Roles": "/realm_access/roles"}, ClaimsHeader: "X-Auth-Claims"},
	}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)
	for _, bc := range []struct {
		name, target, authorization string
		header                      http.Header
	}{
		{name: "allow", target: "/api/orders?x=1", authorization: "Bearer abc.def.ghi"},
		{name: "refuse", target: "/api/orders?x=1"},
		{name: "public", target: "/public/x"},
		{name: "credential", target: "/cred/x", authorization: "Bearer abc.def.ghi"},
		{name: "timeout", target: "/timeout/x", authorization: "Bearer abc.def.ghi"},
		// Behind a load balancer, whose forwarding headers are stripped.
		{name: "forwarded", target: "/api/orders?x=1", authorization: "Bearer abc.def.ghi", header: http.Header{
			"X-Forwarded-For": {"203.0.113.7"}, "X-Forwarded-Proto": {"https"}, "User-Agent": {"bench"}, "Accept": {"*/*"},
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, bc.target, nil)
			for k, v := range bc.header {
				req.Header[k] = v
			}
			req.Header.Set("X-Request-Id", "bench")
			if bc.authorization != "" {
				req.Header.Set("Authorization", bc.authorization)
			}
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			withCPU(b, func() {
				for b.Loop() {
					clear(w.header)
					h.ServeHTTP(w, req)
				}
			})
		})
	}
	// The floor: a bare ReverseProxy over the same transport, so that the
	// difference to "public" is the Handler's own work without a token.
	b.Run("httputil", func(b *testing.B) {
		bare := &httputil.ReverseProxy{Transport: answer, Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			pr.SetXForwarded()
		}}
		req := httptest.NewRequest(http.MethodGet, "/public/x", nil)
		w := &discardWriter{header: http.Header{}}
		b.ReportAllocs()
		withCPU(b, func() {
			for b.Loop() {
				clear(w.header)
				bare.ServeHTTP(w, req)
			}
		})
	})
}

// staticCredential is a Credential that always has the same token, so the
// benchmark measures what attaching it costs, not a fetch.
type staticCredential string

func (c staticCredential) Name() string                                  { return "static" }
func (c staticCredential) Token(context.Context, string) (string, error) { return string(c), nil }
func (c staticCredential) Invalidate(string, string)                     {}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// discardWriter is a ResponseWriter that keeps only its header map, reused
// between requests.
type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// withCPU runs the benchmark body f and reports the process's CPU time per
// iteration as cpu-ns/op: every goroutine's, client, gateway and upstream
// alike, so compare it between sub-benchmarks of one run.
func withCPU(b *testing.B, f func()) {
	b.Helper()
	start := processCPU()
	f()
	if start > 0 && b.N > 0 {
		b.ReportMetric(float64((processCPU()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
