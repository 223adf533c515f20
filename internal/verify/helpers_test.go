package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testkit"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/authgate/authgate/jwks"
)

// testNow is the fixed instant of the injected clocks.
var testNow = time.Unix(1_700_000_000, 0)

// clock is a settable clock shared by a key cache and an issuer.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(testNow.UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

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

// pubJWK is one published key: a public key with its kid and optional alg.
type pubJWK struct {
	kid string
	alg string
	pub any
}

// jwksServer is a real JWKS endpoint whose key list can change (rotation)
// and which counts the fetches it serves.
type jwksServer struct {
	*httptest.Server
	mu    sync.Mutex
	keys  []pubJWK
	fail  bool
	hits  atomic.Int64
	paths sync.Map // every path requested, to prove header URLs are never followed
}

func newJWKSServer(tb testing.TB, ks ...pubJWK) *jwksServer {
	tb.Helper()
	s := &jwksServer{keys: ks}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.paths.Store(r.URL.Path, true)
		s.mu.Lock()
		ks, fail := s.keys, s.fail
		s.mu.Unlock()
		if fail {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		set := jwk.NewSet()
		for _, k := range ks {
			jk, err := jwk.Import(k.pub)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_ = jk.Set(jwk.KeyIDKey, k.kid)
			if k.alg != "" {
				_ = jk.Set(jwk.AlgorithmKey, k.alg)
			}
			_ = set.AddKey(jk)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	tb.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(ks ...pubJWK) {
	s.mu.Lock()
	s.keys = ks
	s.mu.Unlock()
}

// newCache returns a real jwks.Cache on srv, primed with one fetch unless
// srv is failing. Priming goes through RefreshForKID, the same path an
// unknown kid takes, so no background goroutine is needed.
func newCache(tb testing.TB, srv *jwksServer, clk *clock) *jwks.Cache {
	tb.Helper()
	c, err := jwks.New(jwks.Options{JWKSURL: srv.URL + "/jwks.json", Now: clk.Now})
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
