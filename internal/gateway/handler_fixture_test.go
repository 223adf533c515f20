package gateway_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/authgate/authgate/internal/demo"
	"github.com/authgate/authgate/internal/testkit"
)

// testKeys are generated once per test binary: RSA 2048 is slow under -race.
type testKeys struct {
	rsa, rsaOther, nokid *rsa.PrivateKey
	ec, ecOther          *ecdsa.PrivateKey
	ed, edOther          ed25519.PrivateKey
}

var (
	keysOnce sync.Once
	keysVal  testKeys
)

func fixtureKeys(t *testing.T) *testKeys {
	t.Helper()
	keysOnce.Do(func() {
		r := func() *rsa.PrivateKey { k, _ := rsa.GenerateKey(rand.Reader, 2048); return k }
		e := func() *ecdsa.PrivateKey { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k }
		d := func() ed25519.PrivateKey { _, k, _ := ed25519.GenerateKey(rand.Reader); return k }
		keysVal = testKeys{rsa: r(), rsaOther: r(), nokid: r(), ec: e(), ecOther: e(), ed: d(), edOther: d()}
	})
	if keysVal.rsa == nil || keysVal.rsaOther == nil || keysVal.nokid == nil {
		t.Fatal("key generation failed")
	}
	return &keysVal
}

// publicJWK renders the public half of priv as a JWK with use "sig", the
// given kid (none when "") and alg (none when "").
func publicJWK(t *testing.T, priv any, kid, alg string) jwk.Key {
	t.Helper()
	k, err := jwk.Import(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	_ = pub.Set(jwk.KeyUsageKey, "sig")
	if kid != "" {
		_ = pub.Set(jwk.KeyIDKey, kid)
	}
	if alg != "" {
		_ = pub.Set(jwk.AlgorithmKey, alg)
	}
	return pub
}

// gwFixture is a started gateway with its issuers, upstream and attacker.
type gwFixture struct {
	gw, admin string
	base      string // the issuers' server; issuer i has iss base+"/"+i
	keys      *testKeys
	// clock is the gateway's: it stands still unless a test advances it,
	// and claims reads it, so tokens are valid, expired or early by the
	// gateway's reckoning however long the test takes. It starts on a
	// whole second, as token times are.
	clock *testkit.Clock

	issuers  map[string]*testkit.Issuer // by path under base: a, n, t, s, b
	attacker *testkit.Issuer            // the attacker's server, for jku and x5u

	upHits atomic.Int64 // requests that reached the echo upstream
}

// The issuers of the fixture, by path under the issuer server:
//
//	a  main    RSA rsa-1, EC ec-1, Ed25519 ed-1, rsa-enc, rsa-512; all algorithms; aud api, api2
//	n  narrow  same keys; algorithms [ES256]
//	t  typed   same keys; token_types [at+jwt]
//	s  strict  same keys; required_claims [exp, email]
//	b  nokid   one RSA key without kid
const fixtureYAML = `
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
log: { access: false }
issuers:
  - { name: main,   issuer: "{B}/a", audiences: [api, api2] }
  - { name: narrow, issuer: "{B}/n", audiences: [api], algorithms: [ES256] }
  - { name: typed,  issuer: "{B}/t", audiences: [api], token_types: [at+jwt] }
  - { name: strict, issuer: "{B}/s", audiences: [api], required_claims: [exp, email] }
  - { name: nokid,  issuer: "{B}/b", audiences: [api] }
routes:
  - name: req
    match: { path_prefix: /req }
    upstream: { url: "{U}" }
    auth: { issuers: [main, nokid] }
    forward: { headers: { X-User-Id: sub }, claims_header: X-Auth-Claims }
  - name: opt
    match: { path_prefix: /opt }
    upstream: { url: "{U}" }
    auth: { mode: optional, issuers: [main] }
    forward: { headers: { X-User-Id: sub } }
  - { name: pub, match: { path_prefix: /pub }, upstream: { url: "{U}" }, auth: { mode: none } }
  - { name: narrow, match: { path_prefix: /narrow }, upstream: { url: "{U}" }, auth: { issuers: [narrow] } }
  - { name: typed, match: { path_prefix: /typed }, upstream: { url: "{U}" }, auth: { issuers: [typed] } }
  - { name: strict, match: { path_prefix: /strict }, upstream: { url: "{U}" }, auth: { issuers: [strict] } }
  - { name: aud, match: { path_prefix: /aud }, upstream: { url: "{U}" }, auth: { issuers: [main], audiences: [special] } }
  - { name: scoped, match: { path_prefix: /scoped }, upstream: { url: "{U}" }, auth: { issuers: [main], scopes: [read, write] } }
  - { name: any, match: { path_prefix: /any }, upstream: { url: "{U}" }, auth: { issuers: [main], any_scopes: [admin, ops] } }
  - name: hdr
    match: { path_prefix: /hdr }
    upstream: { url: "{U}" }
    auth: { issuers: [main] }
    forward:
      authorization: strip
      claims_header: X-Claims
      headers:
        X-Str: str
        X-Int: int
        X-Float: flt
        X-Bool: flag
        X-List: list
        X-Mixed: mixed
        X-Obj: obj
        X-Nested: nested
        X-Roles: /realm_access/roles
        X-Url-Roles: "https://example.com/roles"
        X-Absent: absent
        X-Ctl: ctl
`

// newFixture starts the issuers (one server, each under its path), a
// counting front for the echo upstream, an attacker server and the
// gateway, and waits for /readyz.
func newFixture(t *testing.T) *gwFixture {
	t.Helper()
	k := fixtureKeys(t)
	fx := &gwFixture{keys: k, clock: testkit.NewClock(time.Now().Truncate(time.Second))}
	// rsa-enc (use enc) and rsa-512 (alg RS512) hold the nokid key: they
	// must serve only what their use and alg allow.
	shared := []testkit.Key{
		{KID: "rsa-1", Alg: "RS256", Private: k.rsa},
		{KID: "ec-1", Alg: "ES256", Private: k.ec, PublishAlg: true},
		{KID: "ed-1", Alg: "EdDSA", Private: k.ed, PublishAlg: true},
		{KID: "rsa-enc", Alg: "RS256", Private: k.nokid, Use: "enc"},
		{KID: "rsa-512", Alg: "RS512", Private: k.nokid, PublishAlg: true},
	}
	srv := testkit.NewIssuer(t) // its own endpoints at the root go unused
	fx.base = srv.URL
	fx.issuers = map[string]*testkit.Issuer{
		"a": srv.Mount("/a", shared...), "n": srv.Mount("/n", shared...),
		"t": srv.Mount("/t", shared...), "s": srv.Mount("/s", shared...),
		"b": srv.Mount("/b", testkit.Key{Alg: "RS256", Private: k.nokid, PublishAlg: true}),
	}
	fx.attacker = testkit.NewIssuer(t, testkit.Key{KID: "atk-1", Alg: "RS256", Private: k.rsaOther})

	echo, err := demo.NewEcho("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = echo.Close() })
	// The front counts requests and passes them on unchanged, so that a test
	// can assert the upstream received nothing at all.
	echoHost := strings.TrimPrefix(echo.URL, "http://")
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fx.upHits.Add(1)
		out := r.Clone(r.Context())
		out.RequestURI, out.URL.Scheme, out.URL.Host = "", "http", echoHost
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(front.Close)

	yaml := strings.NewReplacer("{B}", fx.base, "{U}", front.URL).Replace(fixtureYAML)
	fx.gw, fx.admin, _ = serveClock(t, parseConfig(t, yaml), slog.New(slog.DiscardHandler), fx.clock.Now)
	waitReady(t, fx.admin)
	return fx
}

func (fx *gwFixture) iss(name string) string { return fx.base + "/" + name }

// hits is how many key set requests issuer iss has received.
func (fx *gwFixture) hits(iss string) int { return fx.issuers[iss].Hits(testkit.JWKSPath) }

// now is the gateway's time in Unix seconds, for iat, nbf and exp.
func (fx *gwFixture) now() int64 { return fx.clock.Now().Unix() }

// claims returns a payload for issuer iss, valid at the gateway's time,
// changed by edits: a nil value removes the claim.
func (fx *gwFixture) claims(iss string, edits map[string]any) map[string]any {
	now := fx.now()
	c := map[string]any{"iss": fx.iss(iss), "sub": "alice", "aud": "api", "exp": now + 3600, "iat": now}
	for k, v := range edits {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func jsonOf(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tokenFor signs claims with the main RSA key as RS256 with kid rsa-1.
func (fx *gwFixture) tokenFor(t *testing.T, c map[string]any) string {
	t.Helper()
	return testkit.SignJWS(t, "RS256", fx.keys.rsa, map[string]any{"kid": "rsa-1"}, jsonOf(t, c))
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// gwResult is one response from the gateway, with what the upstream echoed
// when the request got through.
type gwResult struct {
	status int
	header http.Header
	body   string
	echo   demo.Echoed
	// forwarded is how many requests reached the upstream meanwhile.
	forwarded int64
}

// send makes one request to the gateway. hdr values are added in order, so
// a header may be sent twice.
func (fx *gwFixture) send(t *testing.T, path string, hdr [][2]string) gwResult {
	t.Helper()
	req, err := http.NewRequest("GET", fx.gw+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range hdr {
		req.Header.Add(kv[0], kv[1])
	}
	before := fx.upHits.Load()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return fx.result(t, resp, before)
}

// result reads resp; before is the upstream request count before it was sent.
func (fx *gwFixture) result(t *testing.T, resp *http.Response, before int64) gwResult {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	res := gwResult{status: resp.StatusCode, header: resp.Header, body: string(b), forwarded: fx.upHits.Load() - before}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &res.echo); err != nil {
			t.Fatalf("upstream body: %v: %s", err, b)
		}
	}
	return res
}

func withBearer(tok string) [][2]string { return [][2]string{{"Authorization", "Bearer " + tok}} }

// challengeFor is the WWW-Authenticate of an invalid_token refusal.
func challengeFor(desc string) string {
	return fmt.Sprintf(`Bearer realm="authgate", error="invalid_token", error_description=%q`, desc)
}

// checkRefusal asserts a refusal made by the gateway itself (docs/reference.md
// §3.6): status, JSON body, Content-Type, Cache-Control, WWW-Authenticate,
// nothing forwarded, and no token material (any 16-byte run of it) in the
// body or the challenge.
func checkRefusal(t *testing.T, res gwResult, status int, code, desc, challenge, token string) {
	t.Helper()
	if res.status != status {
		t.Errorf("status: got %d, want %d (%d upstream requests; body %.120q)", res.status, status, res.forwarded, res.body)
		return
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(res.body), &body); err != nil {
		t.Fatalf("body %q: %v", res.body, err)
	}
	want := map[string]any{"error": code, "error_description": desc}
	if got, want := string(jsonOf(t, body)), string(jsonOf(t, want)); got != want {
		t.Errorf("body: got %q, want %q", got, want)
	}
	for _, h := range [][2]string{{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}, {"Www-Authenticate", challenge}} {
		if got := strings.Join(res.header.Values(h[0]), " | "); got != h[1] {
			t.Errorf("%s: got %q, want %q", h[0], got, h[1])
		}
	}
	if res.forwarded != 0 {
		t.Errorf("upstream requests: got %d, want 0", res.forwarded)
	}
	if s := tokenLeak(token, res.body+"\n"+res.header.Get("Www-Authenticate")); s != "" {
		t.Errorf("response quotes the token: %q", s)
	}
}

// leak returns a 16-byte substring of token found in s, or "".
func tokenLeak(token, s string) string {
	for i := 0; i+16 <= len(token); i++ {
		if strings.Contains(s, token[i:i+16]) {
			return token[i : i+16]
		}
	}
	return ""
}
