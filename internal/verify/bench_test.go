package verify

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/testkit"
)

// BenchmarkVerify measures the whole of Verify against a primed real key
// cache, so it includes parsing, key lookup, signature and claim checks:
// the cost of a verified-token cache miss, per algorithm.
func BenchmarkVerify(b *testing.B) {
	k := keys(b)
	clk := testkit.NewClock(testNow)
	srv := testkit.NewIssuer(b, published("rsa1", "", k.rsa), published("ec1", "", k.ec), published("ed1", "", k.ed))
	is := mustIssuer(b, IssuerOptions{Name: "main", Issuer: issMain, Audiences: []string{"api"}, Keys: newCache(b, srv, clk), Now: clk.Now})
	v := mustVerifier(b, nil, is)
	for _, bc := range []struct {
		name string
		alg  string
		key  any
		kid  string
	}{
		{"RS256", "RS256", k.rsa, "rsa1"},
		{"PS256", "PS256", k.rsa, "rsa1"},
		{"ES256", "ES256", k.ec, "ec1"},
		{"EdDSA", "EdDSA", k.ed, "ed1"},
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

// BenchmarkVerifyCacheHit measures Verify answered by the verified-token
// cache: hashing the token, the lookup, the key-still-present check and
// the route's claim checks. The small token is claimsFor's (ES256, about
// 300 bytes); the realistic one carries realisticPayload (RS256, about
// 1.8 KiB), for which hashing dominates.
func BenchmarkVerifyCacheHit(b *testing.B) {
	k := keys(b)
	clk := testkit.NewClock(testNow)
	v := cachedVerifier(b, testkit.NewIssuer(b, published("rsa1", "", k.rsa), published("ec1", "", k.ec)), clk)
	for _, bc := range []struct {
		name string
		tok  string
	}{
		{"small", sign(b, "ES256", k.ec, map[string]any{"kid": "ec1"}, claimsFor(issMain))},
		{"realistic", signPayload(b, "RS256", k.rsa, map[string]any{"kid": "rsa1", "typ": "JWT"}, []byte(realisticPayload))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			if _, err := v.Verify(ctx, bc.tok); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(bc.tok)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, bc.tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		// All cores hitting the cache at once: the 2Q lock's contention.
		b.Run(bc.name+"-parallel", func(b *testing.B) {
			ctx := context.Background()
			b.SetBytes(int64(len(bc.tok)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Verify(ctx, bc.tok); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkVerifyExpiredMemo measures Verify refusing an expired, correctly
// signed token from the memo of the verified-token cache: hashing the
// token, a miss among the verified tokens, the memo lookup, the
// key-still-present check and the claim checks that refuse it, in place of
// a signature verification (BenchmarkVerify). The clock is two hours past
// testNow, so both tokens have expired an hour ago.
func BenchmarkVerifyExpiredMemo(b *testing.B) {
	k := keys(b)
	clk := testkit.NewClock(testNow.Add(2 * time.Hour))
	v := cachedVerifier(b, testkit.NewIssuer(b, published("rsa1", "", k.rsa)), clk)
	for _, bc := range []struct {
		name string
		tok  string
	}{
		{"small", sign(b, "RS256", k.rsa, map[string]any{"kid": "rsa1"}, claimsFor(issMain))},
		{"realistic", signPayload(b, "RS256", k.rsa, map[string]any{"kid": "rsa1", "typ": "JWT"}, []byte(realisticPayload))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			if _, err := v.Verify(ctx, bc.tok); !errors.Is(err, reason.ErrExpired) {
				b.Fatalf("got %v, want expired", err)
			}
			b.SetBytes(int64(len(bc.tok)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, bc.tok); err == nil {
					b.Fatal("accepted an expired token")
				}
			}
		})
	}
}

// BenchmarkTokenHash is the SHA-256 of a token alone, the part of a cache
// hit that grows with the token (SHA-NI where the CPU has it).
func BenchmarkTokenHash(b *testing.B) {
	for _, n := range []int{300, 1000, 2000} {
		tok := strings.Repeat("x", n)
		b.Run(fmt.Sprint(n, "B"), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				sinkHash = sha256.Sum256(unsafe.Slice(unsafe.StringData(tok), len(tok)))
			}
		})
	}
}

var sinkHash [sha256.Size]byte

// realisticPayload is a ~1 KiB access-token payload shaped like those Kinde
// and Auth0 issue: registered claims, namespaced custom claims, permission
// and role arrays, an object of feature flags.
const realisticPayload = `{"aud":["https://api.example.com","https://example.kinde.com/api"],` +
	`"azp":"3f1c0e7a9b2d4c6e8f0a1b2c3d4e5f60","exp":1700003600,"iat":1700000000,` +
	`"iss":"https://issuer.example","jti":"5d1f0c9e-8a7b-4c3d-9e2f-1a0b9c8d7e6f",` +
	`"org_code":"org_7a3f9c1e2b4d","org_name":"Example Corp",` +
	`"permissions":["read:orders","write:orders","read:invoices","admin:users","read:reports"],` +
	`"roles":[{"id":"01HF3K9Z2X","key":"admin","name":"Administrator"},{"id":"01HF3K9Z3Y","key":"billing","name":"Billing"}],` +
	`"scope":"openid profile email offline read:orders write:orders","scp":["openid","profile","email","offline"],` +
	`"sub":"kp_0f1e2d3c4b5a69788796a5b4c3d2e1f0","email":"ada.lovelace@example.com","email_verified":true,` +
	`"https://example.com/roles":["admin","billing"],"https://example.com/tenant":"t-42",` +
	`"feature_flags":{"theme":{"t":"s","v":"dark"},"is_beta":{"t":"b","v":true},"max_seats":{"t":"i","v":25}},` +
	`"x-hasura-default-role":"user","x-hasura-allowed-roles":["user","admin"],"gty":"password",` +
	`"name":"Ada Lovelace","given_name":"Ada","family_name":"Lovelace","picture":"https://cdn.example.com/u/ada.png",` +
	`"updated_at":1699990000,"nonce":"n-0S6_WzA2Mj","sid":"s-6c2a1b0f9e8d"}`

// BenchmarkParseCompact measures step 2 alone (split, base64, JSON checks and
// decoding) on a realistic RS256 token.
func BenchmarkParseCompact(b *testing.B) {
	tok := signPayload(b, "RS256", keys(b).rsa, map[string]any{"kid": "rsa1", "typ": "JWT"}, []byte(realisticPayload))
	b.SetBytes(int64(len(tok)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseCompact(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// cachedVerifier is a verifier of issMain over srv's keys, at clk's time,
// with a verified-token cache of the default size.
func cachedVerifier(b *testing.B, srv *testkit.Issuer, clk *testkit.Clock) *Verifier {
	is := mustIssuer(b, IssuerOptions{Name: "main", Issuer: issMain, Audiences: []string{"api", "https://api.example.com"},
		Keys: newCache(b, srv, clk), Now: clk.Now})
	c, err := NewCache(CacheOptions{Size: DefaultCacheSize, MaxTTL: DefaultCacheMaxTTL, Lookup: func(bool) {}})
	if err != nil {
		b.Fatal(err)
	}
	return mustVerifier(b, nil, is).WithCache(c)
}
