package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/testkit"
	"github.com/authgate/authgate/jwks"
)

const (
	issMain   = "https://issuer.example"
	issES     = "https://es.example"
	issTyped  = "https://typed.example"
	issStrict = "https://strict.example"
	issDown   = "https://down.example"
)

// fixture is a set of issuers on real JWKS endpoints, with an injected clock.
type fixture struct {
	k        testKeys
	clk      *testkit.Clock
	srv      *testkit.Issuer // the issuers' keys
	evil     *testkit.Issuer // an attacker's keys, never to be fetched
	all      *Verifier       // every issuer, their own audiences
	override *Verifier       // issuer main, route audiences ["override"]
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	k := keys(t)
	f := &fixture{k: k, clk: testkit.NewClock(testNow)}
	f.srv = testkit.NewIssuer(t,
		published("rsa1", "", k.rsa), // no alg: RS* and PS*
		published("rsa2", "RS256", k.rsa2),
		published("ec1", "", k.ec),
		published("ec384", "", k.ec384),
		published("ed1", "", k.ed),
	)
	f.evil = testkit.NewIssuer(t, published("evil", "", k.evilRSA))
	down := testkit.NewIssuer(t)
	down.SetFault(testkit.ErrorFault(http.StatusInternalServerError))

	cache := newCache(t, f.srv, f.clk)
	base := IssuerOptions{Audiences: []string{"api"}, ClockSkew: 30 * time.Second, Keys: cache, Now: f.clk.Now}
	with := func(name, iss string, mod func(*IssuerOptions)) *Issuer {
		o := base
		o.Name, o.Issuer = name, iss
		if mod != nil {
			mod(&o)
		}
		return mustIssuer(t, o)
	}
	main := with("main", issMain, nil)
	f.all = mustVerifier(t, nil,
		main,
		with("esonly", issES, func(o *IssuerOptions) { o.Algorithms = []string{"ES256"} }),
		with("typed", issTyped, func(o *IssuerOptions) { o.TokenTypes = []string{"at+jwt"} }),
		with("strict", issStrict, func(o *IssuerOptions) { o.RequiredClaims = []string{"exp", "sub", "tenant"} }),
		with("down", issDown, func(o *IssuerOptions) { o.Keys = newCache(t, down, f.clk) }),
	)
	f.override = mustVerifier(t, []string{"override", "other"}, main)
	return f
}

// claims returns valid claims for iss with edits applied; a nil value
// deletes the claim.
func claims(iss string, edits map[string]any) map[string]any {
	c := claimsFor(iss)
	for k, v := range edits {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	k := f.k
	kid := func(id string) map[string]any { return map[string]any{"kid": id} }
	ok := claims(issMain, nil)
	good := sign(t, "RS256", k.rsa, kid("rsa1"), ok)
	parts := strings.Split(good, ".")
	sigBytes, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	truncSig := base64.RawURLEncoding.EncodeToString(sigBytes[:len(sigBytes)-1])
	at := func(d time.Duration) int64 { return testNow.Add(d).Unix() }

	pubDER, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	// The issuer publishes no P-521 key, so an ES512 token without a kid
	// has no candidate key at all.
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	// A token just over the size limit, validly signed otherwise.
	big := claims(issMain, map[string]any{"pad": strings.Repeat("x", MaxTokenSize)})

	tests := []struct {
		name   string
		v      *Verifier
		token  string
		want   reason.Reason // reason.OK: verifies
		issuer string        // issuerOf(err) on failure
	}{
		// Every algorithm, by kid.
		{name: "RS256", token: good, want: reason.OK},
		{name: "RS256 key with alg", token: sign(t, "RS256", k.rsa2, kid("rsa2"), ok), want: reason.OK},
		{name: "PS256", token: sign(t, "PS256", k.rsa, kid("rsa1"), ok), want: reason.OK},
		{name: "PS512", token: sign(t, "PS512", k.rsa, kid("rsa1"), ok), want: reason.OK},
		{name: "ES256", token: sign(t, "ES256", k.ec, kid("ec1"), ok), want: reason.OK},
		{name: "ES384", token: sign(t, "ES384", k.ec384, kid("ec384"), ok), want: reason.OK},
		{name: "EdDSA", token: sign(t, "EdDSA", k.ed, kid("ed1"), ok), want: reason.OK},
		{name: "no kid, several keys, RSA", token: sign(t, "RS256", k.rsa2, nil, ok), want: reason.OK},
		{name: "no kid, several keys, EC", token: sign(t, "ES256", k.ec, nil, ok), want: reason.OK},
		{name: "no kid, EdDSA", token: sign(t, "EdDSA", k.ed, nil, ok), want: reason.OK},

		// Step 2: compact JWS.
		{name: "empty", token: "", want: reason.Malformed},
		{name: "one part", token: parts[0], want: reason.Malformed},
		{name: "two parts", token: parts[0] + "." + parts[1], want: reason.Malformed},
		{name: "four parts", token: good + ".x", want: reason.Malformed},
		{name: "JWE, five parts", token: enc(`{"alg":"RSA-OAEP","enc":"A256GCM"}`) + ".a.b.c.d", want: reason.Malformed},
		{name: "bad base64 character", token: parts[0] + "." + parts[1] + "!." + parts[2], want: reason.Malformed},
		{name: "padding", token: parts[0] + "." + parts[1] + "." + parts[2] + "==", want: reason.Malformed},
		{name: "newline inside", token: parts[0] + "\n." + parts[1] + "." + parts[2], want: reason.Malformed},
		{name: "base64 impossible length", token: parts[0] + "." + parts[1] + "." + parts[2] + "AAA", want: reason.Malformed},
		{name: "header not JSON", token: enc("not json") + "." + parts[1] + "." + parts[2], want: reason.Malformed},
		{name: "header is an array", token: enc(`["RS256"]`) + "." + parts[1] + "." + parts[2], want: reason.Malformed},
		{name: "header is null", token: enc(`null`) + "." + parts[1] + "." + parts[2], want: reason.Malformed},
		{name: "header alg not a string", token: signRaw(t, `{"alg":256,"kid":"rsa1"}`, ok, "RS256", k.rsa), want: reason.Malformed},
		{name: "header kid not a string", token: signRaw(t, `{"alg":"RS256","kid":1}`, ok, "RS256", k.rsa), want: reason.Malformed},
		{name: "payload is an array", token: parts[0] + "." + enc(`[1]`) + "." + parts[2], want: reason.Malformed},
		{name: "payload is null", token: parts[0] + "." + enc(`null`) + "." + parts[2], want: reason.Malformed},
		{name: "payload with trailing data", token: parts[0] + "." + enc(`{"iss":"`+issMain+`"}{}`) + "." + parts[2], want: reason.Malformed},
		{name: "empty payload", token: parts[0] + ".." + parts[2], want: reason.Malformed},
		{name: "oversized", token: sign(t, "RS256", k.rsa, kid("rsa1"), big), want: reason.Malformed},

		// Step 3: issuer.
		{name: "unknown iss", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims("https://evil.example", nil)), want: reason.UntrustedIssuer},
		{name: "iss with trailing slash", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain+"/", nil)), want: reason.UntrustedIssuer},
		{name: "iss differs in case", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(strings.ToUpper(issMain), nil)), want: reason.UntrustedIssuer},
		{name: "no iss", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"iss": nil})), want: reason.UntrustedIssuer},
		{name: "iss not a string", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"iss": []string{issMain}})), want: reason.UntrustedIssuer},
		{name: "issuer not on this route", v: f.override, token: sign(t, "ES256", k.ec, kid("ec1"), claims(issES, nil)), want: reason.UntrustedIssuer},

		// Step 4: algorithm and crit.
		{name: "alg none, unsigned", token: enc(`{"alg":"none"}`) + "." + parts[1] + ".", want: reason.AlgNotAllowed, issuer: "main"},
		{name: "alg none with kid", token: enc(`{"alg":"none","kid":"rsa1"}`) + "." + parts[1] + ".", want: reason.AlgNotAllowed, issuer: "main"},
		{name: "alg None", token: enc(`{"alg":"None"}`) + "." + parts[1] + ".", want: reason.AlgNotAllowed, issuer: "main"},
		{name: "no alg", token: enc(`{"kid":"rsa1"}`) + "." + parts[1] + "." + parts[2], want: reason.AlgNotAllowed, issuer: "main"},
		{name: "alg in other case", token: signRaw(t, `{"alg":"rs256","kid":"rsa1"}`, ok, "RS256", k.rsa), want: reason.AlgNotAllowed, issuer: "main"},
		{name: "ALG member name in other case", token: signRaw(t, `{"ALG":"RS256","kid":"rsa1"}`, ok, "RS256", k.rsa), want: reason.AlgNotAllowed, issuer: "main"},
		{name: "HS256 keyed with the RSA public key PEM", token: sign(t, "HS256", pubPEM, kid("rsa1"), ok), want: reason.AlgNotAllowed, issuer: "main"},
		{name: "HS256 keyed with the RSA public key DER", token: sign(t, "HS256", pubDER, nil, ok), want: reason.AlgNotAllowed, issuer: "main"},
		{name: "RS256 on an ES256-only issuer", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issES, nil)), want: reason.AlgNotAllowed, issuer: "esonly"},
		{name: "ES256 on an ES256-only issuer", token: sign(t, "ES256", k.ec, kid("ec1"), claims(issES, nil)), want: reason.OK},
		{name: "crit", token: sign(t, "RS256", k.rsa, map[string]any{"kid": "rsa1", "crit": []string{"exp"}, "exp": 1}, ok), want: reason.Malformed, issuer: "main"},
		{name: "empty crit", token: signRaw(t, `{"alg":"RS256","kid":"rsa1","crit":[]}`, ok, "RS256", k.rsa), want: reason.Malformed, issuer: "main"},
		{name: "b64 false with crit", token: signRaw(t, `{"alg":"RS256","kid":"rsa1","b64":false,"crit":["b64"]}`, ok, "RS256", k.rsa), want: reason.Malformed, issuer: "main"},

		// Step 5: keys. Keys named or carried by the header are never used.
		{name: "unknown kid", token: sign(t, "RS256", k.evilRSA, kid("evil"), ok), want: reason.UnknownKey, issuer: "main"},
		// Regression: the error quoted the whole kid, so every refusal of a
		// 16 KiB token made a log line as long.
		{name: "unknown kid of 4000 bytes", token: sign(t, "RS256", k.evilRSA, kid(strings.Repeat("k", 4000)), ok), want: reason.UnknownKey, issuer: "main"},
		{name: "no kid, attacker key", token: sign(t, "RS256", k.evilRSA, nil, ok), want: reason.BadSignature, issuer: "main"},
		{name: "embedded jwk, no kid", token: sign(t, "RS256", k.evilRSA, map[string]any{"jwk": mustJWK(t, &k.evilRSA.PublicKey)}, ok), want: reason.BadSignature, issuer: "main"},
		{name: "embedded jwk, its own kid", token: sign(t, "RS256", k.evilRSA, map[string]any{"kid": "evil", "jwk": mustJWK(t, &k.evilRSA.PublicKey)}, ok), want: reason.UnknownKey, issuer: "main"},
		{name: "embedded jwk, trusted kid", token: sign(t, "RS256", k.evilRSA, map[string]any{"kid": "rsa1", "jwk": mustJWK(t, &k.evilRSA.PublicKey)}, ok), want: reason.BadSignature, issuer: "main"},
		{name: "embedded EC jwk, no kid", token: sign(t, "ES256", k.evilEC, map[string]any{"jwk": mustJWK(t, &k.evilEC.PublicKey)}, ok), want: reason.BadSignature, issuer: "main"},
		{name: "jku to attacker JWKS", token: sign(t, "RS256", k.evilRSA, map[string]any{"kid": "evil", "jku": f.evil.URL + "/jku"}, ok), want: reason.UnknownKey, issuer: "main"},
		{name: "jku to attacker JWKS, no kid", token: sign(t, "RS256", k.evilRSA, map[string]any{"jku": f.evil.URL + "/jku"}, ok), want: reason.BadSignature, issuer: "main"},
		{name: "x5u to attacker", token: sign(t, "RS256", k.evilRSA, map[string]any{"kid": "rsa1", "x5u": f.evil.URL + "/x5u"}, ok), want: reason.BadSignature, issuer: "main"},
		{name: "kid of an RSA key, alg ES256", token: sign(t, "ES256", k.ec, kid("rsa1"), ok), want: reason.UnknownKey, issuer: "main"},
		{name: "kid of an RS256-only key, alg PS256", token: sign(t, "PS256", k.rsa2, kid("rsa2"), ok), want: reason.UnknownKey, issuer: "main"},
		{name: "signed ES256, header ES384, P-256 kid", token: signRaw(t, `{"alg":"ES384","kid":"ec1"}`, ok, "ES256", k.ec), want: reason.UnknownKey, issuer: "main"},
		{name: "signed ES256, header ES384, no kid", token: signRaw(t, `{"alg":"ES384"}`, ok, "ES256", k.ec), want: reason.BadSignature, issuer: "main"},
		{name: "no kid, no key for the algorithm", token: sign(t, "ES512", p521, nil, ok), want: reason.UnknownKey, issuer: "main"},
		{name: "keys unavailable", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issDown, nil)), want: reason.KeysUnavailable, issuer: "down"},
		{name: "keys unavailable, bad token otherwise", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issDown, map[string]any{"exp": at(-time.Hour)})), want: reason.KeysUnavailable, issuer: "down"},

		// Step 6: signature.
		{name: "kid of key A, signed by key B", token: sign(t, "RS256", k.rsa2, kid("rsa1"), ok), want: reason.BadSignature, issuer: "main"},
		{name: "signed RS256, header PS256", token: signRaw(t, `{"alg":"PS256","kid":"rsa1"}`, ok, "RS256", k.rsa), want: reason.BadSignature, issuer: "main"},
		{name: "payload swapped", token: parts[0] + "." + enc(`{"iss":"`+issMain+`","aud":"api","exp":1900000000,"sub":"admin"}`) + "." + parts[2], want: reason.BadSignature, issuer: "main"},
		{name: "signature truncated", token: parts[0] + "." + parts[1] + "." + truncSig, want: reason.BadSignature, issuer: "main"},
		{name: "empty signature", token: parts[0] + "." + parts[1] + ".", want: reason.BadSignature, issuer: "main"},
		{name: "EdDSA signature by another key", token: signRaw(t, `{"alg":"EdDSA","kid":"ed1"}`, ok, "RS256", k.rsa), want: reason.BadSignature, issuer: "main"},

		// Step 6: time, with 30s skew.
		{name: "expired", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"exp": at(-time.Hour)})), want: reason.Expired, issuer: "main"},
		{name: "exp at the skew boundary", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"exp": at(-30 * time.Second)})), want: reason.OK},
		{name: "exp one second past the skew", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"exp": at(-31 * time.Second)})), want: reason.Expired, issuer: "main"},
		{name: "exp fractional past the skew", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"exp": float64(at(-30*time.Second)) - 0.5})), want: reason.Expired, issuer: "main"},
		{name: "exp as string", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"exp": "1900000000"})), want: reason.Malformed, issuer: "main"},
		{name: "exp huge", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"exp": json.Number("1e400")})), want: reason.OK},
		{name: "exp hugely negative", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"exp": json.Number("-99999999999999999999999")})), want: reason.Expired, issuer: "main"},
		{name: "nbf in the future", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"nbf": at(time.Minute)})), want: reason.NotYetValid, issuer: "main"},
		{name: "nbf within skew", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"nbf": at(30 * time.Second)})), want: reason.OK},
		{name: "nbf as bool", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"nbf": true})), want: reason.Malformed, issuer: "main"},
		{name: "iat in the future", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"iat": at(31 * time.Second)})), want: reason.NotYetValid, issuer: "main"},
		{name: "iat within skew", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"iat": at(30 * time.Second)})), want: reason.OK},
		{name: "expired beats bad audience", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"exp": at(-time.Hour), "aud": "x"})), want: reason.Expired, issuer: "main"},

		// Step 6: audience.
		{name: "aud array with a match", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"aud": []string{"other", "api"}})), want: reason.OK},
		{name: "aud string mismatch", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"aud": "apix"})), want: reason.BadAudience, issuer: "main"},
		{name: "aud array mismatch", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"aud": []string{"x", "y"}})), want: reason.BadAudience, issuer: "main"},
		{name: "aud empty array", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"aud": []string{}})), want: reason.BadAudience, issuer: "main"},
		{name: "aud absent", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"aud": nil})), want: reason.BadAudience, issuer: "main"},
		{name: "aud a number", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"aud": 7})), want: reason.Malformed, issuer: "main"},
		{name: "route audiences replace the issuer's", v: f.override, token: good, want: reason.BadAudience, issuer: "main"},
		{name: "route audience accepted", v: f.override, token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"aud": []string{"override"}})), want: reason.OK},

		// Step 6: required claims and type.
		{name: "exp required by default", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issMain, map[string]any{"exp": nil})), want: reason.MissingClaim, issuer: "main"},
		{name: "required claims present", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issStrict, map[string]any{"tenant": "t1"})), want: reason.OK},
		{name: "required claim missing", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issStrict, nil)), want: reason.MissingClaim, issuer: "strict"},
		{name: "required claim null", token: signRaw(t, `{"alg":"RS256","kid":"rsa1"}`, claims(issStrict, map[string]any{"tenant": json.RawMessage("null")}), "RS256", k.rsa), want: reason.MissingClaim, issuer: "strict"},
		{name: "typ at+jwt", token: sign(t, "RS256", k.rsa, map[string]any{"kid": "rsa1", "typ": "at+jwt"}, claims(issTyped, nil)), want: reason.OK},
		{name: "typ application/at+jwt", token: sign(t, "RS256", k.rsa, map[string]any{"kid": "rsa1", "typ": "application/at+jwt"}, claims(issTyped, nil)), want: reason.OK},
		{name: "typ AT+JWT", token: sign(t, "RS256", k.rsa, map[string]any{"kid": "rsa1", "typ": "AT+JWT"}, claims(issTyped, nil)), want: reason.OK},
		{name: "typ JWT", token: sign(t, "RS256", k.rsa, map[string]any{"kid": "rsa1", "typ": "JWT"}, claims(issTyped, nil)), want: reason.BadType, issuer: "typed"},
		{name: "typ absent", token: sign(t, "RS256", k.rsa, kid("rsa1"), claims(issTyped, nil)), want: reason.BadType, issuer: "typed"},
		{name: "typ with another prefix", token: sign(t, "RS256", k.rsa, map[string]any{"kid": "rsa1", "typ": "text/at+jwt"}, claims(issTyped, nil)), want: reason.BadType, issuer: "typed"},
		{name: "typ unchecked when not configured", token: sign(t, "RS256", k.rsa, map[string]any{"kid": "rsa1", "typ": "weird"}, ok), want: reason.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.v
			if v == nil {
				v = f.all
			}
			id, err := v.Verify(context.Background(), tt.token)
			if tt.want == reason.OK {
				if err != nil {
					t.Fatalf("got %q, want success", err)
				}
				if id == nil || id.Issuer == "" {
					t.Fatalf("got identity %+v, want one with an issuer", id)
				}
				return
			}
			if err == nil {
				t.Fatalf("got success (identity %+v), want %q", id, tt.want)
			}
			if id != nil {
				t.Errorf("got identity %+v with an error, want nil", id)
			}
			if got := reason.Of(err); got != tt.want {
				t.Errorf("got reason %q (%v), want %q", got, err, tt.want)
			}
			if got := issuerOf(err); got != tt.issuer {
				t.Errorf("got issuer %q, want %q", got, tt.issuer)
			}
			if n := len(err.Error()); n > 512 {
				t.Errorf("got an error of %d bytes, want at most 512: the client's bytes are quoted unbounded", n)
			}
			// No error text may quote the token or any part of it.
			for _, p := range strings.Split(tt.token, ".") {
				if len(p) >= 8 && strings.Contains(err.Error(), p) {
					t.Errorf("got %q, want no token material in the error", err.Error())
				}
			}
		})
	}
	for _, path := range []string{"/jku", "/x5u"} {
		if f.evil.Hits(path) != 0 {
			t.Errorf("got a request for %s on the attacker's server, want none", path)
		}
	}
	if got := f.evil.TotalHits(); got != 0 {
		t.Errorf("got %d requests to the attacker's server, want 0", got)
	}
}

func TestVerifyIdentity(t *testing.T) {
	f := newFixture(t)
	c := claims(issMain, map[string]any{
		"scope": "read write read",
		"scp":   []any{"write", "admin", 5, ""},
		"big":   json.Number("12345678901234567890"),
	})
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	tok := signPayload(t, "ES256", f.k.ec, map[string]any{"kid": "ec1"}, payload)
	id, err := f.all.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if id.Issuer != "main" {
		t.Errorf("got issuer %q, want %q", id.Issuer, "main")
	}
	if id.Subject != "user-1" {
		t.Errorf("got subject %q, want %q", id.Subject, "user-1")
	}
	if id.KeyID != "ec1" {
		t.Errorf("got kid %q, want %q", id.KeyID, "ec1")
	}
	if want := []string{"read", "write", "admin"}; !slices.Equal(id.Scopes, want) {
		t.Errorf("got scopes %q, want %q", id.Scopes, want)
	}
	if string(id.Payload) != string(payload) {
		t.Errorf("got payload %q, want %q", id.Payload, payload)
	}
	if got, ok := id.Claims["big"].(json.Number); !ok || got != "12345678901234567890" {
		t.Errorf("got big claim %#v, want json.Number %q", id.Claims["big"], "12345678901234567890")
	}
	if got, ok := id.Claims["exp"].(json.Number); !ok || string(got) != "1700003600" {
		t.Errorf("got exp %#v, want json.Number %q", id.Claims["exp"], "1700003600")
	}

	// A subject of the wrong type is no subject.
	tok = sign(t, "ES256", f.k.ec, map[string]any{"kid": "ec1"}, claims(issMain, map[string]any{"sub": 42, "scope": nil}))
	if id, err = f.all.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if id.Subject != "" || id.Scopes != nil {
		t.Errorf("got subject %q scopes %q, want both empty", id.Subject, id.Scopes)
	}
}

// TestUnknownKIDRefetch checks when the verifier refetches the key set, on a
// real cache with the default min_refresh_interval (30s): an unknown kid
// refetches once the interval allows, and is refused if the refetched set
// lacks it too; a known kid or a token without a kid never fetches. The
// steps run in order on one issuer that has just rotated in kid "new".
// Singleflight and the rate limit themselves are the cache's
// (jwks.TestFloodOfUnknownKIDs, jwks.TestRotation).
func TestUnknownKIDRefetch(t *testing.T) {
	k := keys(t)
	clk := testkit.NewClock(testNow)
	srv := testkit.NewIssuer(t, published("old", "", k.rsa))
	is := mustIssuer(t, IssuerOptions{Name: "main", Issuer: issMain, Audiences: []string{"api"}, Keys: newCache(t, srv, clk), Now: clk.Now})
	v := mustVerifier(t, nil, is)
	newKID := sign(t, "RS256", k.rsa2, map[string]any{"kid": "new"}, claimsFor(issMain))
	noKID := sign(t, "RS256", k.evilRSA, nil, claimsFor(issMain))
	unpublished := sign(t, "RS256", k.evilRSA, map[string]any{"kid": "unpublished"}, claimsFor(issMain))

	// The issuer rotates, but the cache fetched just now.
	srv.SetKeys(published("old", "", k.rsa), published("new", "", k.rsa2))
	before := srv.Hits(testkit.JWKSPath)
	for _, st := range []struct {
		name    string
		advance time.Duration // the clock moves first
		token   string
		times   int           // the token is sent this often (once when 0)
		want    reason.Reason // reason.OK: verifies, with kid "new"
		fetches int           // key set fetches since the rotation, after the step
	}{
		{name: "new kid inside min_refresh_interval: no refetch", token: newKID, want: reason.UnknownKey, fetches: 0},
		{name: "new kid past the interval: one refetch finds it", advance: 31 * time.Second, token: newKID, want: reason.OK, fetches: 1},
		{name: "known kid: no fetch", token: newKID, times: 3, want: reason.OK, fetches: 1},
		{name: "no kid, past the interval: no fetch", advance: time.Minute, token: noKID, want: reason.BadSignature, fetches: 1},
		{name: "unpublished kid: one refetch, still unknown", token: unpublished, want: reason.UnknownKey, fetches: 2},
		{name: "unpublished kid again inside the interval: no refetch", token: unpublished, want: reason.UnknownKey, fetches: 2},
		{name: "unpublished kid past the interval: one more refetch", advance: 31 * time.Second, token: unpublished, want: reason.UnknownKey, fetches: 3},
	} {
		t.Run(st.name, func(t *testing.T) {
			clk.Advance(st.advance)
			for range max(st.times, 1) {
				id, err := v.Verify(context.Background(), st.token)
				switch {
				case st.want == reason.OK && err != nil:
					t.Fatalf("got %q, want success", err)
				case st.want == reason.OK && id.KeyID != "new":
					t.Errorf("got kid %q, want %q", id.KeyID, "new")
				case st.want != reason.OK && reason.Of(err) != st.want:
					t.Fatalf("got %q (%v), want %q", reason.Of(err), err, st.want)
				}
			}
			if got := srv.Hits(testkit.JWKSPath) - before; got != st.fetches {
				t.Errorf("got %d fetches since the rotation, want %d", got, st.fetches)
			}
		})
	}
}

// staticKeys is a KeySource that fails in a chosen way, for the error paths a
// real cache only reaches through timing.
type staticKeys struct {
	keys       KeySource
	refreshErr error
}

func (s staticKeys) Keys() (*jwks.Set, error) { return s.keys.Keys() }
func (s staticKeys) RefreshForKID(ctx context.Context, kid string) (*jwks.Set, error) {
	if s.refreshErr != nil {
		return nil, s.refreshErr
	}
	return s.keys.RefreshForKID(ctx, kid)
}

func TestRefreshError(t *testing.T) {
	k := keys(t)
	clk := testkit.NewClock(testNow)
	cache := newCache(t, testkit.NewIssuer(t, published("old", "", k.rsa)), clk)
	tok := sign(t, "RS256", k.rsa, map[string]any{"kid": "unknown"}, claimsFor(issMain))
	tests := []struct {
		name string
		err  error
	}{
		{name: "wraps keys_unavailable", err: errors.Join(errors.New("fetch failed"), reason.ErrKeysUnavailable)},
		{name: "plain error", err: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := mustIssuer(t, IssuerOptions{Name: "main", Issuer: issMain, Audiences: []string{"api"},
				Keys: staticKeys{keys: cache, refreshErr: tt.err}, Now: clk.Now})
			_, err := mustVerifier(t, nil, is).Verify(context.Background(), tok)
			if got := reason.Of(err); got != reason.KeysUnavailable {
				t.Errorf("got %q, want %q", got, reason.KeysUnavailable)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("got %v, want it to wrap %v", err, tt.err)
			}
		})
	}
}

func TestTokenSizeLimit(t *testing.T) {
	f := newFixture(t)
	// Grow a claim until the token is as long as allowed; it must verify,
	// and one byte more must not.
	var tok string
	for n := MaxTokenSize*3/4 - 400; ; n++ {
		next := sign(t, "EdDSA", f.k.ed, map[string]any{"kid": "ed1"}, claims(issMain, map[string]any{"pad": strings.Repeat("x", n)}))
		if len(next) > MaxTokenSize {
			break
		}
		tok = next
	}
	if len(tok) < MaxTokenSize-3 {
		t.Fatalf("got a %d-byte token, want one close to %d", len(tok), MaxTokenSize)
	}
	if _, err := f.all.Verify(context.Background(), tok); err != nil {
		t.Errorf("got %q for %d bytes, want success", err, len(tok))
	}
	_, err := f.all.Verify(context.Background(), tok+strings.Repeat("A", MaxTokenSize+1-len(tok)))
	if got := reason.Of(err); got != reason.Malformed {
		t.Errorf("got %q, want %q", got, reason.Malformed)
	}
}

// TestHeaderCannotPickKeyByJWK is a direct check that a header-embedded key
// is ignored even when jwx itself would accept the token with it.
func TestHeaderCannotPickKeyByJWK(t *testing.T) {
	f := newFixture(t)
	tok := sign(t, "RS256", f.k.evilRSA, map[string]any{"jwk": mustJWK(t, &f.k.evilRSA.PublicKey)}, claimsFor(issMain))
	// Sanity: the token is genuinely signed by the embedded key.
	if _, err := jws.Verify([]byte(tok), jws.WithKey(jwa.RS256(), &f.k.evilRSA.PublicKey)); err != nil {
		t.Fatalf("jws.Verify with the embedded key: %v", err)
	}
	if _, err := f.all.Verify(context.Background(), tok); err == nil {
		t.Fatal("got success, want the embedded key ignored")
	}
}
