package gateway_test

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/cert"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/testkit"
)

// verdict is what a case expects: 200 through the upstream (deny nil), or
// the refusal for the deny sentinel.
type verdict struct {
	deny  error
	scope string // for insufficient_scope: the challenge's scope="…"
}

// checkVerdict asserts res against v for a request that carried token.
func checkVerdict(t *testing.T, res gwResult, v verdict, token string) {
	t.Helper()
	switch {
	case v.deny == nil:
		if res.status != http.StatusOK || res.forwarded != 1 {
			t.Fatalf("got %d with %d upstream requests, want 200 with 1: %s", res.status, res.forwarded, res.body)
		}
	case v.deny == reason.ErrMissing:
		checkRefusal(t, res, http.StatusUnauthorized, "unauthorized", v.deny.Error(), `Bearer realm="authgate"`, token)
	case v.deny == reason.ErrInsufficientScope:
		desc := v.deny.Error()
		checkRefusal(t, res, http.StatusForbidden, "insufficient_scope", desc,
			`Bearer realm="authgate", error="insufficient_scope", scope="`+v.scope+`", error_description="`+desc+`"`, token)
	default:
		checkRefusal(t, res, http.StatusUnauthorized, "invalid_token", v.deny.Error(), challengeFor(v.deny.Error()), token)
	}
}

var wantOK = verdict{}

func wantDeny(err error) verdict { return verdict{deny: err} }

// TestHandlerVerification walks docs/reference.md §3.3 step by step with real signed
// tokens through the full gateway: config → Build → Serve → HTTP.
func TestHandlerVerification(t *testing.T) {
	fx := newFixture(t)
	k := fx.keys
	now := fx.now()
	claims := func(iss string, edits map[string]any) []byte { return jsonOf(t, fx.claims(iss, edits)) }
	rs := func(payload []byte, hdr map[string]any) string {
		if hdr == nil {
			hdr = map[string]any{"kid": "rsa-1"}
		}
		return testkit.SignJWS(t, "RS256", k.rsa, hdr, payload)
	}
	es := func(iss string, edits, hdr map[string]any) string {
		return testkit.SignJWS(t, "ES256", k.ec, hdr, claims(iss, edits))
	}
	valid := rs(claims("a", nil), nil)
	parts := strings.Split(valid, ".")

	jweTok, err := jwe.Encrypt(claims("a", nil), jwe.WithKey(jwa.RSA_OAEP_256(), &k.rsa.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemPub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attacker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.rsaOther.PublicKey, k.rsaOther)
	if err != nil {
		t.Fatal(err)
	}
	chain := &cert.Chain{}
	_ = chain.AddString(base64.StdEncoding.EncodeToString(certDER))
	unsigned := func(hdr string, payload []byte) string { return b64url([]byte(hdr)) + "." + b64url(payload) + "." }
	atk := func(hdr map[string]any) string {
		return testkit.SignJWS(t, "RS256", k.rsaOther, hdr, claims("a", nil))
	}
	under, over := tokensAroundLimit(t, fx)

	cases := []struct {
		name string
		path string
		hdr  [][2]string
		want verdict
	}{
		// Step 1: no token.
		{"required/no token", "/req", nil, wantDeny(reason.ErrMissing)},
		{"required/Basic counts as no token", "/req", [][2]string{{"Authorization", "Basic YWxpY2U6cHc="}}, wantDeny(reason.ErrMissing)},
		{"required/scheme is case-insensitive", "/req", [][2]string{{"Authorization", "bEARER " + valid}}, wantOK},
		{"optional/no token", "/opt", nil, wantOK},
		{"optional/valid token", "/opt", withBearer(valid), wantOK},
		{"optional/expired token refused", "/opt", withBearer(rs(claims("a", map[string]any{"exp": now - 3600}), nil)), wantDeny(reason.ErrExpired)},
		{"optional/garbage token refused", "/opt", withBearer("garbage"), wantDeny(reason.ErrMalformed)},
		{"none/garbage Authorization not examined", "/pub", [][2]string{{"Authorization", "Bearer a b\tc"}}, wantOK},
		{"none/two Authorization headers not examined", "/pub", [][2]string{{"Authorization", "Bearer x"}, {"Authorization", "Bearer y"}}, wantOK},
		{"none/expired token not examined", "/pub", withBearer(rs(claims("a", map[string]any{"exp": now - 3600}), nil)), wantOK},
		// Step 2: compact JWS only.
		{"malformed/two parts", "/req", withBearer(parts[0] + "." + parts[1]), wantDeny(reason.ErrMalformed)},
		{"malformed/four parts", "/req", withBearer(valid + "." + parts[2]), wantDeny(reason.ErrMalformed)},
		{"malformed/JWE five parts", "/req", withBearer(string(jweTok)), wantDeny(reason.ErrMalformed)},
		{"malformed/base64 with +", "/req", withBearer(parts[0] + "." + strings.Replace(parts[1], parts[1][5:6], "+", 1) + "." + parts[2]), wantDeny(reason.ErrMalformed)},
		{"malformed/padded signature", "/req", withBearer(valid + "=="), wantDeny(reason.ErrMalformed)},
		{"malformed/header not JSON", "/req", withBearer(b64url([]byte("RS256")) + "." + parts[1] + "." + parts[2]), wantDeny(reason.ErrMalformed)},
		{"malformed/payload not an object", "/req", withBearer(rs([]byte(`["a"]`), nil)), wantDeny(reason.ErrMalformed)},
		{"size/largest token within 16 KiB", "/req", withBearer(under), wantOK},
		{"size/oversized over 16 KiB", "/req", withBearer(over), wantDeny(reason.ErrMalformed)},
		// Step 3: the unverified iss picks the issuer.
		{"iss/untrusted", "/req", withBearer(rs(jsonOf(t, fx.claims("a", map[string]any{"iss": "https://evil.example"})), nil)), wantDeny(reason.ErrUntrustedIssuer)},
		{"iss/configured but not the route's", "/req", withBearer(rs(claims("n", nil), nil)), wantDeny(reason.ErrUntrustedIssuer)},
		{"iss/absent", "/req", withBearer(rs(claims("a", map[string]any{"iss": nil}), nil)), wantDeny(reason.ErrUntrustedIssuer)},
		{"iss/trailing slash", "/req", withBearer(rs(claims("a", map[string]any{"iss": fx.iss("a") + "/"}), nil)), wantDeny(reason.ErrUntrustedIssuer)},
		// Step 4: alg allow-list, crit; jku/x5u/jwk/x5c never used.
		{"alg/RS256 on an ES256-only issuer", "/narrow", withBearer(rs(claims("n", nil), nil)), wantDeny(reason.ErrAlgNotAllowed)},
		{"alg/ES256 on an ES256-only issuer", "/narrow", withBearer(es("n", nil, map[string]any{"kid": "ec-1"})), wantOK},
		{"alg/none unsigned", "/req", withBearer(unsigned(`{"alg":"none","kid":"rsa-1"}`, claims("a", nil))), wantDeny(reason.ErrAlgNotAllowed)},
		{"alg/none with a real signature", "/req", withBearer(b64url([]byte(`{"alg":"none"}`)) + "." + parts[1] + "." + parts[2]), wantDeny(reason.ErrAlgNotAllowed)},
		{"alg/HS256 keyed with the RSA public key", "/req", withBearer(testkit.SignJWS(t, "HS256", pemPub, map[string]any{"kid": "rsa-1"}, claims("a", nil))), wantDeny(reason.ErrAlgNotAllowed)},
		{"alg/HS256 keyed with the RSA public key DER", "/req", withBearer(testkit.SignJWS(t, "HS256", der, nil, claims("a", nil))), wantDeny(reason.ErrAlgNotAllowed)},
		{"crit/names an extension", "/req", withBearer(rs(claims("a", nil), map[string]any{"kid": "rsa-1", "crit": []string{"x-ext"}, "x-ext": 1})), wantDeny(reason.ErrMalformed)},
		{"jku/attacker set, attacker kid", "/req", withBearer(atk(map[string]any{"kid": "atk-1", "jku": fx.attacker.URL + "/jwks"})), wantDeny(reason.ErrUnknownKey)},
		{"jku/attacker set, issuer kid", "/req", withBearer(atk(map[string]any{"kid": "rsa-1", "jku": fx.attacker.URL + "/jwks"})), wantDeny(reason.ErrBadSignature)},
		{"x5u/attacker certificate", "/req", withBearer(atk(map[string]any{"kid": "rsa-1", "x5u": fx.attacker.URL + "/cert.pem"})), wantDeny(reason.ErrBadSignature)},
		{"jwk/embedded attacker key, no kid", "/req", withBearer(atk(map[string]any{"jwk": publicJWK(t, k.rsaOther, "", "")})), wantDeny(reason.ErrBadSignature)},
		{"x5c/embedded attacker certificate", "/req", withBearer(atk(map[string]any{"x5c": chain})), wantDeny(reason.ErrBadSignature)},
		// Step 5: keys by kid.
		{"kid/unknown, refetch not allowed yet", "/req", withBearer(rs(claims("a", nil), map[string]any{"kid": "nope"})), wantDeny(reason.ErrUnknownKey)},
		{"kid/names the EC key on an RS256 token", "/req", withBearer(rs(claims("a", nil), map[string]any{"kid": "ec-1"})), wantDeny(reason.ErrUnknownKey)},
		{"kid/key with use enc is never used", "/req", withBearer(testkit.SignJWS(t, "RS256", k.nokid, map[string]any{"kid": "rsa-enc"}, claims("a", nil))), wantDeny(reason.ErrUnknownKey)},
		{"kid/key with alg RS512, token RS256", "/req", withBearer(testkit.SignJWS(t, "RS256", k.nokid, map[string]any{"kid": "rsa-512"}, claims("a", nil))), wantDeny(reason.ErrUnknownKey)},
		{"kid/key with alg RS512, token RS512", "/req", withBearer(testkit.SignJWS(t, "RS512", k.nokid, map[string]any{"kid": "rsa-512"}, claims("a", nil))), wantOK},
		{"kid/none, set keys tried", "/req", withBearer(rs(claims("a", nil), map[string]any{})), wantOK},
		{"kid/none, issuer without kids", "/req", withBearer(testkit.SignJWS(t, "RS256", k.nokid, nil, claims("b", nil))), wantOK},
		{"kid/present, issuer without kids", "/req", withBearer(testkit.SignJWS(t, "RS256", k.nokid, map[string]any{"kid": "x"}, claims("b", nil))), wantDeny(reason.ErrUnknownKey)},
		{"kid/none, signed by another issuer's key", "/req", withBearer(testkit.SignJWS(t, "RS256", k.rsa, nil, claims("b", nil))), wantDeny(reason.ErrBadSignature)},
		// Step 6: signature, times, audience, required claims, typ.
		{"signature/tampered payload", "/req", withBearer(parts[0] + "." + b64url(claims("a", map[string]any{"sub": "admin"})) + "." + parts[2]), wantDeny(reason.ErrBadSignature)},
		{"signature/other token's signature", "/req", withBearer(parts[0] + "." + parts[1] + "." + strings.Split(rs(claims("a", map[string]any{"sub": "bob"}), nil), ".")[2]), wantDeny(reason.ErrBadSignature)},
		{"signature/empty", "/req", withBearer(parts[0] + "." + parts[1] + "."), wantDeny(reason.ErrBadSignature)},
		{"exp/an hour ago", "/req", withBearer(rs(claims("a", map[string]any{"exp": now - 3600}), nil)), wantDeny(reason.ErrExpired)},
		{"exp/10s ago, within 30s skew", "/req", withBearer(rs(claims("a", map[string]any{"exp": now - 10}), nil)), wantOK},
		{"exp/50s ago, beyond 30s skew", "/req", withBearer(rs(claims("a", map[string]any{"exp": now - 50}), nil)), wantDeny(reason.ErrExpired)},
		{"exp/missing, required by default", "/req", withBearer(rs(claims("a", map[string]any{"exp": nil}), nil)), wantDeny(reason.ErrMissingClaim)},
		{"exp/string", "/req", withBearer(rs(claims("a", map[string]any{"exp": "tomorrow"}), nil)), wantDeny(reason.ErrMalformed)},
		{"nbf/in 10s, within skew", "/req", withBearer(rs(claims("a", map[string]any{"nbf": now + 10}), nil)), wantOK},
		{"nbf/in 50s, beyond skew", "/req", withBearer(rs(claims("a", map[string]any{"nbf": now + 50}), nil)), wantDeny(reason.ErrNotYetValid)},
		{"iat/in 10s, within skew", "/req", withBearer(rs(claims("a", map[string]any{"iat": now + 10}), nil)), wantOK},
		{"iat/in 50s, beyond skew", "/req", withBearer(rs(claims("a", map[string]any{"iat": now + 50}), nil)), wantDeny(reason.ErrNotYetValid)},
		{"aud/wrong", "/req", withBearer(rs(claims("a", map[string]any{"aud": "other"}), nil)), wantDeny(reason.ErrBadAudience)},
		{"aud/missing", "/req", withBearer(rs(claims("a", map[string]any{"aud": nil}), nil)), wantDeny(reason.ErrBadAudience)},
		{"aud/array holding an allowed one", "/req", withBearer(rs(claims("a", map[string]any{"aud": []string{"other", "api"}}), nil)), wantOK},
		{"aud/second configured audience", "/req", withBearer(rs(claims("a", map[string]any{"aud": "api2"}), nil)), wantOK},
		{"aud/array of strangers", "/req", withBearer(rs(claims("a", map[string]any{"aud": []string{"x", "y"}}), nil)), wantDeny(reason.ErrBadAudience)},
		{"aud/route override refuses the issuer's", "/aud", withBearer(valid), wantDeny(reason.ErrBadAudience)},
		{"aud/route override accepts its own", "/aud", withBearer(rs(claims("a", map[string]any{"aud": "special"}), nil)), wantOK},
		{"required claim/missing", "/strict", withBearer(rs(claims("s", nil), nil)), wantDeny(reason.ErrMissingClaim)},
		{"required claim/null", "/strict", withBearer(rs(claims("s", map[string]any{"email": nil}), nil)), wantDeny(reason.ErrMissingClaim)},
		{"required claim/present", "/strict", withBearer(rs(claims("s", map[string]any{"email": "a@example.com"}), nil)), wantOK},
		{"typ/at+jwt", "/typed", withBearer(rs(claims("t", nil), map[string]any{"kid": "rsa-1", "typ": "at+jwt"})), wantOK},
		{"typ/application/at+jwt", "/typed", withBearer(rs(claims("t", nil), map[string]any{"kid": "rsa-1", "typ": "application/at+jwt"})), wantOK},
		{"typ/JWT", "/typed", withBearer(rs(claims("t", nil), map[string]any{"kid": "rsa-1", "typ": "JWT"})), wantDeny(reason.ErrBadType)},
		{"typ/absent", "/typed", withBearer(rs(claims("t", nil), nil)), wantDeny(reason.ErrBadType)},
		// Step 7: route policy.
		{"scopes/one missing", "/scoped", withBearer(rs(claims("a", map[string]any{"scope": "read"}), nil)), verdict{reason.ErrInsufficientScope, "read write"}},
		{"scopes/none granted", "/scoped", withBearer(valid), verdict{reason.ErrInsufficientScope, "read write"}},
		{"scopes/all in scope", "/scoped", withBearer(rs(claims("a", map[string]any{"scope": "write openid read"}), nil)), wantOK},
		{"scopes/all in scp array", "/scoped", withBearer(rs(claims("a", map[string]any{"scp": []string{"read", "write"}}), nil)), wantOK},
		{"scopes/split across scope and scp", "/scoped", withBearer(rs(claims("a", map[string]any{"scope": "read", "scp": []string{"write"}}), nil)), wantOK},
		{"scopes/expired token is 401 first", "/scoped", withBearer(rs(claims("a", map[string]any{"scope": "read write", "exp": now - 3600}), nil)), wantDeny(reason.ErrExpired)},
		{"any_scopes/one granted", "/any", withBearer(rs(claims("a", map[string]any{"scope": "ops"}), nil)), wantOK},
		{"any_scopes/none granted", "/any", withBearer(rs(claims("a", map[string]any{"scope": "read"}), nil)), verdict{reason.ErrInsufficientScope, "admin ops"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := fx.send(t, tc.path, tc.hdr)
			var token string
			if len(tc.hdr) > 0 {
				token = strings.TrimPrefix(tc.hdr[0][1], "Bearer ")
			}
			checkVerdict(t, res, tc.want, token)
		})
	}
	t.Run("attacker server never contacted", func(t *testing.T) {
		if got := fx.attacker.TotalHits(); got != 0 {
			t.Errorf("attacker requests: got %d, want 0", got)
		}
	})
}

// tokensAroundLimit returns the longest RS256 token of at most 16 KiB and
// the shortest one over it (base64 lengths move in steps of 1–2 bytes).
func tokensAroundLimit(t *testing.T, fx *gwFixture) (under, over string) {
	t.Helper()
	const limit = 16 << 10
	base := len(fx.tokenFor(t, fx.claims("a", map[string]any{"pad": ""})))
	start := (limit - base) * 3 / 4
	for n := start - 4; n < start+8; n++ {
		tok := fx.tokenFor(t, fx.claims("a", map[string]any{"pad": strings.Repeat("x", n)}))
		switch {
		case len(tok) <= limit:
			under = tok
		case over == "":
			over = tok
		}
	}
	if under == "" || over == "" || len(under) < limit-3 || len(over) > limit+3 {
		t.Fatalf("token sizes around the limit: got %d and %d", len(under), len(over))
	}
	return under, over
}

// TestHandlerAlgorithms runs the same checks for each algorithm family: the
// token goes through, and forgeries signed or altered in each way do not.
func TestHandlerAlgorithms(t *testing.T) {
	fx := newFixture(t)
	k := fx.keys
	families := []struct {
		name       string
		alg        string
		key, other any
		kid        string
		foreignKID string // a kid of the set whose key type does not fit alg
	}{
		{"RS256", "RS256", k.rsa, k.rsaOther, "rsa-1", "ec-1"},
		{"PS256", "PS256", k.rsa, k.rsaOther, "rsa-1", "ed-1"},
		{"ES256", "ES256", k.ec, k.ecOther, "ec-1", "rsa-1"},
		{"EdDSA", "EdDSA", k.ed, k.edOther, "ed-1", "ec-1"},
	}
	for _, f := range families {
		payload := jsonOf(t, fx.claims("a", map[string]any{"sub": "user-" + f.name}))
		valid := testkit.SignJWS(t, f.alg, f.key, map[string]any{"kid": f.kid}, payload)
		parts := strings.Split(valid, ".")
		expired := jsonOf(t, fx.claims("a", map[string]any{"exp": fx.now() - 3600}))
		cases := []struct {
			name  string
			token string
			want  verdict
		}{
			{"valid", valid, wantOK},
			{"valid without kid", testkit.SignJWS(t, f.alg, f.key, nil, payload), wantOK},
			{"tampered payload", parts[0] + "." + b64url(jsonOf(t, fx.claims("a", map[string]any{"sub": "admin"}))) + "." + parts[2], wantDeny(reason.ErrBadSignature)},
			{"tampered signature", parts[0] + "." + parts[1] + "." + flipLastChar(parts[2]), wantDeny(reason.ErrBadSignature)},
			{"issuer kid, another key", testkit.SignJWS(t, f.alg, f.other, map[string]any{"kid": f.kid}, payload), wantDeny(reason.ErrBadSignature)},
			{"no kid, another key", testkit.SignJWS(t, f.alg, f.other, nil, payload), wantDeny(reason.ErrBadSignature)},
			{"kid of a key of another type", testkit.SignJWS(t, f.alg, f.key, map[string]any{"kid": f.foreignKID}, payload), wantDeny(reason.ErrUnknownKey)},
			{"expired", testkit.SignJWS(t, f.alg, f.key, map[string]any{"kid": f.kid}, expired), wantDeny(reason.ErrExpired)},
		}
		for _, tc := range cases {
			t.Run(f.name+"/"+tc.name, func(t *testing.T) {
				res := fx.send(t, "/req", withBearer(tc.token))
				checkVerdict(t, res, tc.want, tc.token)
				if tc.want.deny != nil {
					return
				}
				e := res.echo.Headers
				for _, h := range [][2]string{
					{"X-User-Id", "user-" + f.name},
					{"X-Auth-Claims", b64url(payload)},
					{"Authorization", "Bearer " + tc.token},
				} {
					if got := strings.Join(e[h[0]], " | "); got != h[1] {
						t.Errorf("upstream %s: got %q, want %q", h[0], got, h[1])
					}
				}
			})
		}
	}
}

// flipLastChar changes the last base64url character of s to another one that
// still decodes (the top bits are kept, so it is canonical).
func flipLastChar(s string) string {
	last := s[len(s)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'Q'
	}
	return s[:len(s)-1] + string(repl)
}
