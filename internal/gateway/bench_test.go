package gateway_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/authgate/authgate/internal/logging"
	"github.com/authgate/authgate/internal/testkit"
)

// BenchmarkGateway compares a request through the whole gateway (a token
// verified against a JWKS from a real issuer, claims forwarded as headers,
// the default upstream timeout, the access line on, as JSON, to io.Discard)
// with the same request through a bare httputil.ReverseProxy to the same
// upstream. There is one sub-benchmark per signing algorithm, ES256 and
// RS256 (the most common one at IdPs); read each as a ratio to httputil
// within one run.
func BenchmarkGateway(b *testing.B) {
	ec, rsa := testkit.NewECKey(b, "ec"), testkit.NewRSAKey(b, "rsa")
	is := testkit.NewIssuer(b, ec, rsa)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer up.Close()

	cfg := parseConfig(b, fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
log: { access: true }
issuers:
  - { name: demo, issuer: %q, audiences: [api], algorithms: [ES256, RS256] }
routes:
  - name: api
    match: { path_prefix: / }
    upstream: { url: %q }
    forward: { headers: { X-User-Id: sub, X-User-Email: email, X-Roles: roles } }
`, is.URL, up.URL))
	// The production default is the text format on stderr; JSON to
	// io.Discard measures the line's encoding without the terminal.
	gw, admin, _ := serveConfig(b, cfg, logging.New(io.Discard, "json", new(slog.LevelVar)))
	waitReady(b, admin)
	claims := map[string]any{"sub": "alice", "email": "a@example.com", "aud": "api", "roles": []string{"reader", "writer"}}
	target, _ := url.Parse(up.URL)
	bare := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	defer bare.Close()

	for _, bc := range []struct{ name, url, token string }{
		{"authgate-ES256", gw + "/orders", is.Token(b, ec, claims)},
		{"authgate-RS256", gw + "/orders", is.Token(b, rsa, claims)},
		{"httputil", bare.URL + "/orders", "abc.def.ghi"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			withCPU(b, func() { testkit.ParallelGET(b, client, bc.url, bc.token) })
		})
	}
}

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
