package verify

import (
	"context"
	"testing"
)

// BenchmarkVerify measures the whole of Verify against a primed real key
// cache, so it includes parsing, key lookup, signature and claim checks.
func BenchmarkVerify(b *testing.B) {
	k := keys(b)
	clk := newClock()
	srv := newJWKSServer(b,
		pubJWK{kid: "rsa1", pub: &k.rsa.PublicKey},
		pubJWK{kid: "ec1", pub: &k.ec.PublicKey},
	)
	is := mustIssuer(b, IssuerOptions{Name: "main", Issuer: issMain, Audiences: []string{"api"}, Keys: newCache(b, srv, clk), Now: clk.Now})
	v := mustVerifier(b, nil, is)
	for _, bc := range []struct {
		name string
		alg  string
		key  any
		kid  string
	}{
		{"RS256", "RS256", k.rsa, "rsa1"},
		{"ES256", "ES256", k.ec, "ec1"},
	} {
		tok := sign(b, bc.alg, bc.key, map[string]any{"kid": bc.kid}, claimsFor(issMain))
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
