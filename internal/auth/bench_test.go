package auth_test

import (
	"testing"

	"github.com/authgate/authgate/internal/auth"
	"github.com/authgate/authgate/internal/testkit"
	"github.com/authgate/authgate/internal/verify"
	"github.com/authgate/authgate/jwks"
	"github.com/authgate/authgate/policy"
)

// BenchmarkAuthenticate is the whole authentication of one request, token
// verification and the route's policy (a scope and a claim), with the
// verified-token cache answering (hit) and without a cache (full
// verification, ES256). A hit must stay under a microsecond for a small
// token and allocate nothing of its own.
func BenchmarkAuthenticate(b *testing.B) {
	key := testkit.NewECKey(b, "ec1")
	srv := testkit.NewIssuer(b, key)
	keys, err := jwks.New(jwks.Options{JWKSURL: srv.JWKSURL()})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := keys.RefreshForKID(b.Context(), ""); err != nil {
		b.Fatal(err)
	}
	is, err := verify.NewIssuer(verify.IssuerOptions{Name: "main", Issuer: srv.URL, Audiences: []string{"api"}, Keys: keys})
	if err != nil {
		b.Fatal(err)
	}
	v, err := verify.New([]*verify.Issuer{is}, nil)
	if err != nil {
		b.Fatal(err)
	}
	cache, err := verify.NewCache(verify.CacheOptions{Size: verify.DefaultCacheSize, MaxTTL: verify.DefaultCacheMaxTTL, Lookup: func(bool) {}})
	if err != nil {
		b.Fatal(err)
	}
	p, err := policy.New(policy.Rules{Scopes: []string{"orders:read"}, Claims: map[string]any{"tenant": "t-42"}})
	if err != nil {
		b.Fatal(err)
	}
	tok := srv.Token(b, key, map[string]any{"sub": "alice", "aud": "api", "scope": "openid orders:read", "tenant": "t-42"})
	for _, bc := range []struct {
		name string
		v    *verify.Verifier
	}{
		{"cache hit", v.WithCache(cache)},
		{"no cache", v},
	} {
		a, err := auth.New(bc.v, p)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			req := auth.Request{Scheme: auth.SchemeBearer, Credentials: tok, Method: "GET"}
			if res := a.Authenticate(b.Context(), req); res.Err != nil {
				b.Fatal(res.Err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if res := a.Authenticate(b.Context(), req); res.Err != nil {
					b.Fatal(res.Err)
				}
			}
		})
	}
}
