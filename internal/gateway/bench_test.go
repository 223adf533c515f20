package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/authgate/authgate/internal/testkit"
)

// BenchmarkGateway compares a request through the whole gateway (ES256
// token verified against a JWKS from a real issuer, claims forwarded as
// headers) with the same request through a bare httputil.ReverseProxy to
// the same upstream. Read the two as a ratio within one run.
func BenchmarkGateway(b *testing.B) {
	is := testkit.NewIssuer(b) // one ES256 key
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer up.Close()

	gw, admin, _ := serveTest(b, fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
log: { access: false }
issuers:
  - { name: demo, issuer: %q, audiences: [api] }
routes:
  - name: api
    match: { path_prefix: / }
    upstream: { url: %q }
    forward: { headers: { X-User-Id: sub, X-User-Email: email } }
`, is.URL, up.URL))
	waitReady(b, admin)
	token := is.Token(b, is.Keys()[0], map[string]any{"sub": "alice", "email": "a@example.com", "aud": "api"})
	target, _ := url.Parse(up.URL)
	bare := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	defer bare.Close()

	for _, bc := range []struct{ name, url string }{
		{"authgate-ES256", gw + "/orders"},
		{"httputil", bare.URL + "/orders"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			testkit.ParallelGET(b, client, bc.url, token)
		})
	}
}
