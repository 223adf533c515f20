package proxy

import (
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/authgate/authgate/internal/logging"
	"github.com/authgate/authgate/policy"
)

// BenchmarkBearerToken measures token extraction from the Authorization
// header (bearer.go) for a typical RS256-sized token and the cases that
// end early.
func BenchmarkBearerToken(b *testing.B) {
	tok := "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0." +
		"eyJzdWIiOiJhbGljZSIsImF1ZCI6ImFwaSIsImV4cCI6MTcwMDAwMDAwMH0." +
		"c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJl"
	for _, bc := range []struct{ name, value string }{
		{"bearer", "Bearer " + tok},
		{"none", ""},
		{"basic", "Basic YWxpY2U6c2VjcmV0"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := http.Header{}
			if bc.value != "" {
				h.Set("Authorization", bc.value)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bearerToken(h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIdentityHeaders measures building a route's forwarded headers
// from a verified identity: claim selection, claim→header encoding (a
// string, an array of strings, an integer, an object) and the claims
// header.
func BenchmarkIdentityHeaders(b *testing.B) {
	id := identity(b, "main", alicePayload)
	// The token whose payload part is alicePayload, as a verified JWS has.
	tok := "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(id.Payload) + ".c2ln"
	for _, bc := range []struct {
		name         string
		headers      map[string]string
		claimsHeader string
	}{
		{name: "string", headers: map[string]string{"X-User-Id": "sub"}},
		{name: "array", headers: map[string]string{"X-Roles": "/realm_access/roles"}},
		{name: "integer", headers: map[string]string{"X-Exp": "exp"}},
		{name: "object", headers: map[string]string{"X-Org": "org"}},
		{name: "claims_header", claimsHeader: "X-Auth-Claims"},
		{name: "typical", headers: map[string]string{"X-User-Id": "sub", "X-Roles": "/realm_access/roles"}, claimsHeader: "X-Auth-Claims"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := compileRoute(Route{
				Name: "api", PathPrefix: "/", Upstream: mustURL(b, "http://upstream.example"), Mode: policy.Required,
				Auth: trivialAuth{id: id}, Headers: bc.headers, ClaimsHeader: bc.claimsHeader,
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.identityHeaders(id, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAccessLine measures finish, the access line and Observe of one
// forwarded request, in both log formats, written to io.Discard.
func BenchmarkAccessLine(b *testing.B) {
	up := mustURL(b, "http://upstream.example")
	for _, format := range []string{"text", "json"} {
		b.Run(format, func(b *testing.B) {
			h, err := New(Options{
				Logger: logging.New(io.Discard, format, new(slog.LevelVar)), AccessLog: true,
				Observe: func(Outcome) {},
				Routes:  []Route{{Name: "api", PathPrefix: "/", Upstream: up, Mode: policy.None}},
			})
			if err != nil {
				b.Fatal(err)
			}
			r, _ := http.NewRequest(http.MethodGet, "http://gw.example/api/orders?x=1", nil)
			ex := &exchange{requestID: "0123456789abcdef0123456789abcdef", route: h.routes[0],
				issuer: "main", subject: "alice", reason: "ok"}
			ex.rec.status = http.StatusOK
			b.ReportAllocs()
			for b.Loop() {
				h.finish(ex, r)
			}
		})
	}
}

// BenchmarkRequestID measures making a request id for a request without
// one.
func BenchmarkRequestID(b *testing.B) {
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		_ = requestID(h)
	}
}
