package attack

import (
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testkit"
)

// onAPI is a GET /api/jwt with tok: forwarded with tok's identity when
// status is 200, refused otherwise.
func onAPI(name, tok string, status int, code, reason string) tcase {
	tc := tcase{name: name, req: request("GET", "/api/jwt", bearer(tok)), status: status, code: code, reason: reason}
	if status == 200 {
		tc.fwd, tc.check = []string{"GET /api/jwt"}, identity(tok)
	}
	return tc
}

// invalid is a GET /api/jwt that must be refused 401 invalid_token for reason.
func invalid(name, tok, reason string) tcase {
	return onAPI(name, tok, 401, "invalid_token", reason)
}

// accepted is a GET /api/jwt that must be forwarded.
func accepted(name, tok string) tcase { return onAPI(name, tok, 200, "", "ok") }

// unsigned joins header, payload and signature bytes without signing.
func unsigned(header, payload string, sig []byte) string {
	return b64(header) + "." + b64(payload) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// publicJWK returns key's public JWK as published in a key set.
func publicJWK(tb testing.TB, key testkit.Key) json.RawMessage {
	tb.Helper()
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(testkit.JWKSet(tb, key), &set); err != nil || len(set.Keys) != 1 {
		tb.Fatalf("JWKSet: %v", err)
	}
	return set.Keys[0]
}

// testJWT: RFC 8725, RFC 7515/7519 and the public JWT attack catalogues,
// each token sent to /api (required, main and second trusted).
func testJWT(t *testing.T, f *fixture) {
	t.Run("algorithms", func(t *testing.T) { f.run(t, f.algorithmCases(t)) })
	t.Run("signatures", func(t *testing.T) { f.run(t, f.signatureCases(t)) })
	t.Run("key references", func(t *testing.T) {
		before := f.evilHits()
		f.run(t, f.keyReferenceCases(t))
		if got := f.evilHits() - before; got != 0 {
			t.Errorf("attacker's server (jku/x5u/iss target): got %d hits, want 0", got)
		}
	})
	t.Run("kid injection", func(t *testing.T) { f.run(t, f.kidCases(t)) })
	t.Run("header extensions", func(t *testing.T) { f.run(t, f.extensionCases(t)) })
	t.Run("issuers", func(t *testing.T) { f.run(t, f.issuerCases(t)) })
	t.Run("times", func(t *testing.T) { f.run(t, f.timeCases(t)) })
	t.Run("audiences", func(t *testing.T) { f.run(t, f.audienceCases(t)) })
	t.Run("token types", func(t *testing.T) { f.run(t, f.typeCases(t)) })
	t.Run("json", func(t *testing.T) { f.run(t, f.jsonCases(t)) })
	t.Run("encoding", func(t *testing.T) { f.run(t, f.encodingCases(t)) })
	t.Run("unforwardable claims", func(t *testing.T) { f.run(t, f.unforwardableCases(t)) })
	t.Run("policy", func(t *testing.T) { f.run(t, f.policyCases(t)) })
}

func (f *fixture) algorithmCases(t *testing.T) []tcase {
	payload := object(with(claims(f.main.URL), "sub", `"admin"`)...)
	var cases []tcase
	cases = append(cases, accepted("control: RS256 from main", f.good(t, nil)))
	// RFC 8725 §2.1, §3.1: "none" in every spelling a case-insensitive
	// comparison would let through, with and without a signature.
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		hdr := mustJSON(map[string]string{"alg": alg, "kid": "rsa-1"})
		cases = append(cases,
			invalid("alg "+alg+", empty signature", f.keep(b64(hdr)+"."+b64(payload)+"."), "alg_not_allowed"),
			invalid("alg "+alg+", no kid", f.keep(b64(`{"alg":"`+alg+`"}`)+"."+b64(payload)+"."), "alg_not_allowed"),
		)
	}
	realSig := strings.Split(f.good(t, nil), ".")[2]
	cases = append(cases,
		invalid("alg none with a real RS256 signature", f.keep(b64(`{"alg":"none","kid":"rsa-1"}`)+"."+b64(payload)+"."+realSig), "alg_not_allowed"),
		invalid("alg missing", f.jws(t, "RS256", f.mainRSA.Private, `{"kid":"rsa-1"}`, payload), ""),
		invalid("alg member name upper-case (ALG)", f.jws(t, "RS256", f.mainRSA.Private, `{"ALG":"RS256","kid":"rsa-1"}`, payload), ""),
		invalid("alg is an array", f.jws(t, "RS256", f.mainRSA.Private, `{"alg":["RS256"],"kid":"rsa-1"}`, payload), "malformed"),
		invalid("alg lower-case rs256", f.jws(t, "RS256", f.mainRSA.Private, `{"alg":"rs256","kid":"rsa-1"}`, payload), "alg_not_allowed"),
	)

	// Key confusion (RFC 8725 §2.1): an HMAC keyed with the RSA public key,
	// in every form a verifier might hand to HMAC.
	pub := f.mainRSA.Private.Public().(*rsa.PublicKey)
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PublicKey(pub)
	pemPKIX := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	secrets := []struct {
		name   string
		secret []byte
	}{
		{"PKIX PEM", pemPKIX},
		{"PKIX PEM without the final newline", []byte(strings.TrimSuffix(string(pemPKIX), "\n"))},
		{"PKCS#1 PEM", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1})},
		{"PKIX DER", pkix},
		{"PKCS#1 DER", pkcs1},
		{"JWK JSON", publicJWK(t, f.mainRSA)},
		{"JWK Set document", testkit.JWKSet(t, f.mainRSA)},
		{"modulus bytes", pub.N.Bytes()},
	}
	for _, s := range secrets {
		for _, alg := range []string{"HS256", "HS384", "HS512"} {
			if alg != "HS256" && s.name != "PKIX PEM" {
				continue
			}
			hdr := `{"alg":"` + alg + `","kid":"rsa-1"}`
			cases = append(cases, invalid(alg+" keyed with the RSA public key, "+s.name,
				f.jws(t, alg, s.secret, hdr, payload), "alg_not_allowed"))
		}
	}
	cases = append(cases, invalid("HS256 keyed with the PKIX PEM, no kid",
		f.jws(t, "HS256", pemPKIX, `{"alg":"HS256"}`, payload), "alg_not_allowed"))
	return cases
}

func (f *fixture) signatureCases(t *testing.T) []tcase {
	valid := f.good(t, nil)
	parts := strings.Split(valid, ".")
	admin := b64(object(with(claims(f.main.URL), "sub", `"admin"`)...))
	ecHdr := `{"alg":"ES256","kid":"ec-1"}`
	ecPayload := object(with(claims(f.main.URL), "sub", `"admin"`)...)
	n := elliptic.P256().Params().N.FillBytes(make([]byte, 32))
	return []tcase{
		// The valid token goes first, so a verified-token cache holds it
		// when its signature is replayed under another payload.
		accepted("control: the valid token, now cached", valid),
		invalid("cached token's signature under another payload", f.keep(parts[0]+"."+admin+"."+parts[2]), "bad_signature"),
		invalid("signature stripped (empty third part)", f.keep(parts[0]+"."+parts[1]+"."), "bad_signature"),
		invalid("signature removed (two parts)", f.keep(parts[0]+"."+parts[1]), "malformed"),
		invalid("signature of another valid token", f.keep(parts[0]+"."+admin+"."+strings.Split(f.good(t, map[string]any{"sub": "bob"}), ".")[2]), "bad_signature"),
		invalid("RSA signature all zero bytes", f.keep(unsigned(`{"alg":"RS256","kid":"rsa-1"}`, ecPayload, make([]byte, 256))), "bad_signature"),
		// CVE-2022-21449: r = s = 0 passes a verifier that does not range
		// check them; also the DER form that Java accepted, and r = s = n.
		invalid("ES256 psychic signature r=s=0", f.keep(unsigned(ecHdr, ecPayload, make([]byte, 64))), "bad_signature"),
		invalid("ES256 psychic signature DER 30 06 02 01 00 02 01 00", f.keep(unsigned(ecHdr, ecPayload, []byte{0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00})), "bad_signature"),
		invalid("ES256 r=s=n (the group order)", f.keep(unsigned(ecHdr, ecPayload, append(append([]byte(nil), n...), n...))), "bad_signature"),
		invalid("ES256 signature truncated to 63 bytes", f.keep(unsigned(ecHdr, ecPayload, make([]byte, 63))), "bad_signature"),
		invalid("EdDSA all-zero signature", f.keep(unsigned(`{"alg":"EdDSA","kid":"ed-1"}`, ecPayload, make([]byte, 64))), "bad_signature"),
		accepted("control: ES256 from main", f.token(t, f.main, f.mainEC, nil)),
		accepted("control: EdDSA from main", f.token(t, f.main, f.mainEd, nil)),
		accepted("control: ES256 from second", f.token(t, f.second, f.secondEC, nil)),
		// A kid names one key; another algorithm never makes another key fit.
		invalid("ES256 header naming an RSA kid", f.jws(t, "RS256", f.mainRSA.Private, `{"alg":"ES256","kid":"rsa-1"}`, ecPayload), "unknown_key"),
		invalid("PS256 with a key whose JWK pins alg RS256", f.jws(t, "PS256", f.mainPinned.Private, `{"alg":"PS256","kid":"rsa-pinned"}`, ecPayload), "unknown_key"),
		accepted("control: RS256 with the pinned key", f.token(t, f.main, f.mainPinned, nil)),
	}
}

func (f *fixture) keyReferenceCases(t *testing.T) []tcase {
	payload := object(with(claims(f.main.URL), "sub", `"admin"`)...)
	evilJWK := publicJWK(t, f.evilRSA)
	cert := selfSigned(t, f.evilRSA)
	hdr := func(m map[string]any) string { m["alg"] = "RS256"; return mustJSON(m) }
	sign := func(h string) string { return f.jws(t, "RS256", f.evilRSA.Private, h, payload) }
	return []tcase{
		// CVE-2018-0114: the token carries its own verification key.
		invalid("embedded jwk, no kid", sign(hdr(map[string]any{"jwk": evilJWK})), "bad_signature"),
		invalid("embedded jwk with its own kid", sign(hdr(map[string]any{"jwk": evilJWK, "kid": "evil-1"})), "unknown_key"),
		invalid("embedded jwk with a trusted kid", sign(hdr(map[string]any{"jwk": evilJWK, "kid": "rsa-1"})), "bad_signature"),
		// jku/x5u: the gateway must not even fetch them (the attacker's
		// server counts its hits).
		invalid("jku to the attacker's key set, attacker's kid", sign(hdr(map[string]any{"jku": f.evil.JWKSURL(), "kid": "evil-1"})), "unknown_key"),
		invalid("jku to the attacker's key set, trusted kid", sign(hdr(map[string]any{"jku": f.evil.JWKSURL(), "kid": "rsa-1"})), "bad_signature"),
		invalid("jku to the attacker's key set, no kid", sign(hdr(map[string]any{"jku": f.evil.URL + "/jku"})), "bad_signature"),
		invalid("x5u to the attacker's certificate", sign(hdr(map[string]any{"x5u": f.evil.URL + "/x5u.pem"})), "bad_signature"),
		invalid("x5c self-signed by the attacker", sign(hdr(map[string]any{"x5c": []string{cert}})), "bad_signature"),
		invalid("x5c with a trusted kid", sign(hdr(map[string]any{"x5c": []string{cert}, "kid": "rsa-1"})), "bad_signature"),
	}
}

func (f *fixture) kidCases(t *testing.T) []tcase {
	payload := object(with(claims(f.main.URL), "sub", `"admin"`)...)
	// Each is signed with main's real rsa-1 key: a kid that is present
	// never falls back to other keys, so a near miss is still refused.
	var cases []tcase
	for _, kid := range []string{
		"../../dev/null", "/dev/null", "../../../../../../etc/passwd", "rsa-1/../rsa-1",
		"' OR '1'='1", "rsa-1' --", "1; DROP TABLE keys; --", "rsa-1\" OR \"\"=\"",
		"|cat /etc/passwd", "$(id)", "${jndi:ldap://127.0.0.1/a}", "*", "%", "rsa-%31",
		"RSA-1", "rsa-1 ", " rsa-1", "rsa-1\u0000", "rsa-1\r\nX-Injected: 1", "",
		strings.Repeat("k", 8000),
	} {
		name := "kid " + fmt.Sprintf("%q", kid)
		if len(kid) > 40 {
			name = fmt.Sprintf("kid of %d bytes", len(kid))
		}
		reason := "unknown_key"
		if kid == "" {
			// An empty kid names no key: either trial (which finds
			// rsa-1) or a refusal is defensible; the token is genuine.
			continue
		}
		cases = append(cases, invalid(name, f.jws(t, "RS256", f.mainRSA.Private, mustJSON(map[string]string{"alg": "RS256", "kid": kid}), payload), reason))
	}
	cases = append(cases,
		invalid("kid is a number", f.jws(t, "RS256", f.mainRSA.Private, `{"alg":"RS256","kid":1}`, payload), "malformed"),
		invalid("kid is an object", f.jws(t, "RS256", f.mainRSA.Private, `{"alg":"RS256","kid":{"$ne":""}}`, payload), "malformed"),
	)
	return cases
}

func (f *fixture) extensionCases(t *testing.T) []tcase {
	base := claims(f.main.URL)
	payload := object(base...)
	sign := func(h string) string { return f.jws(t, "RS256", f.mainRSA.Private, h, payload) }
	// RFC 7797: with "b64":false the signing input holds the payload
	// unencoded. Signed so by the real key: a verifier that honoured b64
	// would accept it. The payload has no '.' (escaped as \u002e), so it
	// can stand in the compact form.
	raw := strings.ReplaceAll(object(with(base, "sub", `"admin"`)...), ".", `\u002e`)
	h7797 := `{"alg":"RS256","kid":"rsa-1","b64":false,"crit":["b64"]}`
	b64False := f.keep(testkit.SignInput(t, "RS256", f.mainRSA.Private, b64(h7797)+"."+raw))
	hNoCrit := `{"alg":"RS256","kid":"rsa-1","b64":false}`
	sigNoCrit := strings.Split(testkit.SignInput(t, "RS256", f.mainRSA.Private, b64(hNoCrit)+"."+raw), ".")[2]
	jwe := b64(`{"alg":"RSA-OAEP","enc":"A256GCM","kid":"rsa-1"}`) + "." + b64("key") + "." + b64("iv-iv-iv-iv") + "." + b64("ciphertext") + "." + b64("tag")
	inner := f.good(t, map[string]any{"sub": "admin", "scope": "read admin"})
	return []tcase{
		invalid("crit naming exp", sign(`{"alg":"RS256","kid":"rsa-1","crit":["exp"],"exp":1}`), "malformed"),
		invalid("crit empty list", sign(`{"alg":"RS256","kid":"rsa-1","crit":[]}`), "malformed"),
		invalid("crit naming an unknown extension", sign(`{"alg":"RS256","kid":"rsa-1","crit":["x-mine"],"x-mine":true}`), "malformed"),
		// Its unencoded payload is not b64token syntax, so it cannot even be
		// a Bearer credential (RFC 6750 §2.1).
		{name: "b64 false with crit b64, unencoded payload (RFC 7797)", req: request("GET", "/api/jwt", bearer(b64False)),
			status: 400, code: "invalid_request", reason: "malformed"},
		invalid("b64 false without crit, signed over the unencoded payload", f.keep(b64(hNoCrit)+"."+b64(raw)+"."+sigNoCrit), "bad_signature"),
		invalid("JWE (five parts)", f.keep(jwe), "malformed"),
		invalid("four parts", f.keep(f.good(t, nil)+".x"), "malformed"),
		invalid("nested JWT (cty JWT, the payload a valid token)", f.jws(t, "RS256", f.mainRSA.Private, `{"alg":"RS256","kid":"rsa-1","cty":"JWT"}`, inner), "malformed"),
		invalid("nested JWT under alg none", f.keep(b64(`{"alg":"none","cty":"JWT"}`)+"."+b64(inner)+"."), "malformed"),
	}
}

func (f *fixture) issuerCases(t *testing.T) []tcase {
	evil := func(key testkit.Key, edits map[string]any) string { return f.token(t, f.evil, key, edits) }
	iss := map[string]any{"iss": f.main.URL}
	return []tcase{
		invalid("untrusted issuer's own token", evil(f.evilRSA, nil), "untrusted_issuer"),
		invalid("untrusted key, iss of main, the attacker's kid", evil(f.evilRSA, iss), "unknown_key"),
		invalid("untrusted key, iss of main, main's kid (kid collision)", evil(f.evilKIDClash, iss), "bad_signature"),
		invalid("untrusted key, iss of main, no kid", f.jws(t, "RS256", f.evilRSA.Private, `{"alg":"RS256"}`, object(claims(f.main.URL)...)), "bad_signature"),
		// Cross-issuer confusion: both trusted issuers publish a kid
		// "shared"; the iss picks whose key it must be.
		invalid("main's key under kid shared, iss of second", f.token(t, f.second, f.mainShared, nil), "bad_signature"),
		invalid("second's key, iss of main", f.token(t, f.main, f.secondEC, nil), "unknown_key"),
		accepted("control: second's shared key, iss of second", f.token(t, f.second, f.secondShared, nil)),
		invalid("iss with a trailing slash", f.good(t, map[string]any{"iss": f.main.URL + "/"}), "untrusted_issuer"),
		invalid("iss upper-case scheme", f.good(t, map[string]any{"iss": "HTTP" + strings.TrimPrefix(f.main.URL, "http")}), "untrusted_issuer"),
		invalid("iss missing", f.good(t, map[string]any{"iss": nil}), "untrusted_issuer"),
		invalid("iss an array", f.good(t, map[string]any{"iss": []string{f.main.URL}}), "untrusted_issuer"),
		{name: "main's token on a route trusting only liar", req: request("GET", "/liar/x", bearer(f.good(t, nil))),
			status: 401, code: "invalid_token", reason: "untrusted_issuer"},
		{name: "issuer whose discovery document names another issuer gets no keys",
			req:    request("GET", "/liar/x", bearer(f.token(t, f.liar, f.liarEC, nil))),
			status: 503, code: "temporarily_unavailable", reason: "keys_unavailable"},
	}
}

// selfSigned returns a base64 (standard, RFC 7515 §4.1.6) DER certificate
// for key, self-signed.
func selfSigned(tb testing.TB, key testkit.Key) string {
	tb.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Private.Public(), key.Private)
	if err != nil {
		tb.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}
