package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"testing"

	"github.com/authgate/authgate/internal/testkit"

	"github.com/authgate/authgate/internal/verify"
	"github.com/authgate/authgate/policy"
)

// trivialAuth accepts every token, so the benchmark measures the gateway's
// own work (routing, header hygiene, forwarding), not verification.
type trivialAuth struct{ id *verify.Identity }

func (a trivialAuth) Authenticate(context.Context, string) (*verify.Identity, error) {
	return a.id, nil
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
			testkit.ParallelGET(b, client, srv.URL+"/api/orders?x=1", "abc.def.ghi")
		})
	}
}
