package verify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/authgate/authgate/internal/testkit"
	"github.com/authgate/authgate/jwks"
)

// testNow is the fixed instant of the injected clocks.
var testNow = time.Unix(1_700_000_000, 0)

// testKeys are real key pairs; generating RSA keys is slow, so once.
type testKeys struct {
	rsa, rsa2, evilRSA *rsa.PrivateKey
	ec, ec384, evilEC  *ecdsa.PrivateKey
	ed                 ed25519.PrivateKey
}

var (
	keysOnce sync.Once
	keysVal  testKeys
	keysErr  error
)

func keys(tb testing.TB) testKeys {
	tb.Helper()
	keysOnce.Do(func() {
		gen := func(bits int) *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				keysErr = err
			}
			return k
		}
		genEC := func(c elliptic.Curve) *ecdsa.PrivateKey {
			k, err := ecdsa.GenerateKey(c, rand.Reader)
			if err != nil {
				keysErr = err
			}
			return k
		}
		keysVal.rsa, keysVal.rsa2, keysVal.evilRSA = gen(2048), gen(2048), gen(2048)
		keysVal.ec, keysVal.ec384, keysVal.evilEC = genEC(elliptic.P256()), genEC(elliptic.P384()), genEC(elliptic.P256())
		_, keysVal.ed, keysErr = ed25519.GenerateKey(rand.Reader)
	})
	if keysErr != nil {
		tb.Fatalf("generate keys: %v", keysErr)
	}
	return keysVal
}

// published is raw, one of keys(tb), as an issuer publishes it: under kid,
// and with alg in the JWK when alg is set. Tokens here are signed with
// sign, never Issuer.Token, so a key published without alg needs none.
func published(kid, alg string, raw crypto.Signer) testkit.Key {
	return testkit.Key{KID: kid, Alg: alg, Private: raw, PublishAlg: alg != ""}
}

// newCache returns a real jwks.Cache on is's key set, primed with one fetch
// unless is is failing. Priming goes through RefreshForKID, the same path an
// unknown kid takes, so no background goroutine is needed.
func newCache(tb testing.TB, is *testkit.Issuer, clk *testkit.Clock) *jwks.Cache {
	tb.Helper()
	c, err := jwks.New(jwks.Options{JWKSURL: is.JWKSURL(), Now: clk.Now})
	if err != nil {
		tb.Fatalf("jwks.New: %v", err)
	}
	_, _ = c.RefreshForKID(context.Background(), "")
	return c
}

// claimsFor returns valid claims for iss at testNow; mutate to taste.
func claimsFor(iss string) map[string]any {
	return map[string]any{
		"iss":   iss,
		"sub":   "user-1",
		"aud":   "api",
		"exp":   testNow.Add(time.Hour).Unix(),
		"iat":   testNow.Unix(),
		"scope": "read write",
	}
}

// sign signs claims with jws.Sign; hdr members (kid, typ, crit, jwk, jku…)
// go into the protected header next to alg.
func sign(tb testing.TB, alg string, key any, hdr map[string]any, claims map[string]any) string {
	tb.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		tb.Fatalf("marshal claims: %v", err)
	}
	return signPayload(tb, alg, key, hdr, payload)
}

func signPayload(tb testing.TB, alg string, key any, hdr map[string]any, payload []byte) string {
	tb.Helper()
	return testkit.SignJWS(tb, alg, key, hdr, payload)
}

// signRaw signs with sigAlg over a header given verbatim as JSON, for
// headers jws.Sign would not produce (an alg that differs from the
// signing algorithm, odd member types).
func signRaw(tb testing.TB, headerJSON string, claims map[string]any, sigAlg string, key any) string {
	tb.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		tb.Fatalf("marshal claims: %v", err)
	}
	return testkit.SignInput(tb, sigAlg, key, enc(headerJSON)+"."+enc(string(payload)))
}

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func mustJWK(tb testing.TB, raw any) jwk.Key {
	tb.Helper()
	k, err := jwk.Import(raw)
	if err != nil {
		tb.Fatalf("jwk.FromRaw: %v", err)
	}
	return k
}

func mustIssuer(tb testing.TB, o IssuerOptions) *Issuer {
	tb.Helper()
	is, err := NewIssuer(o)
	if err != nil {
		tb.Fatalf("NewIssuer(%s): %v", o.Name, err)
	}
	return is
}

func mustVerifier(tb testing.TB, audiences []string, issuers ...*Issuer) *Verifier {
	tb.Helper()
	v, err := New(issuers, audiences)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return v
}

// explain verifies token with a fresh Trace attached, as explain does, and
// returns the trace with VerifyTrace's result.
func explain(ctx context.Context, v *Verifier, token string) (*Identity, *Trace, error) {
	t := &Trace{}
	id, err := v.VerifyTrace(ctx, token, t)
	return id, t, err
}

// issuerOf returns the issuer named by an *Error in err's chain, or "" when
// there is none (the failure came before an issuer was known).
func issuerOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Issuer
	}
	return ""
}
