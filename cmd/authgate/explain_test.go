package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/authgate/authgate/internal/demo"
	"github.com/authgate/authgate/internal/testkit"
)

// explainConfig has three issuers: the demo issuer (real discovery and
// JWKS, tokens from is.Token), a "lab" issuer whose tokens the tests sign
// with hand-made headers, and one whose JWKS endpoint is down.
const explainConfig = `
issuers:
  - name: demo
    issuer: %q
    audiences: [explain-api]
    required_claims: [exp, sub]
  - name: lab
    issuer: http://lab.example
    jwks_url: %q
    audiences: [explain-api]
    algorithms: [ES256]
    token_types: [at+jwt]
  - name: down
    issuer: http://down.example
    jwks_url: %q
    audiences: [explain-api]
    jwks: { timeout: 2s }
routes:
  - name: public
    match: { path_prefix: /public }
    upstream: { url: "http://upstream.example:8080" }
    auth: { mode: none }
  - name: api
    match: { path_prefix: /api, host: api.example.com }
    upstream: { url: "http://upstream.example:8080/base" }
    auth: { issuers: [demo, lab, down] }
    forward:
      headers: { X-User-Id: sub, X-User-Scopes: scope }
      claims_header: X-Auth-Claims
  - name: admin
    match: { path_prefix: /admin }
    upstream: { url: "http://upstream.example:8080" }
    auth: { issuers: [demo], scopes: [admin] }
  - name: paid
    match: { path_prefix: /paid }
    upstream: { url: "http://upstream.example:8080" }
    auth: { issuers: [demo], claims: { is_paid: true } }
`

// explainEnv is a running demo issuer, a lab JWKS endpoint and a config
// file naming them.
type explainEnv struct {
	cfg   string
	demo  *demo.Issuer
	labEC *ecdsa.PrivateKey // published as kid lab1
	other *ecdsa.PrivateKey // never published
	rsa   *rsa.PrivateKey   // never published; RS256 is not allowed anyway
}

func newExplainEnv(t *testing.T) *explainEnv {
	t.Helper()
	is, err := demo.NewIssuer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = is.Close() })
	env := &explainEnv{demo: is}
	if env.labEC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if env.other, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if env.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	pub, err := jwk.Import(&env.labEC.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	_ = pub.Set(jwk.KeyIDKey, "lab1")
	_ = pub.Set(jwk.AlgorithmKey, "ES256")
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	doc, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	lab := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(doc)
	}))
	t.Cleanup(lab.Close)

	// A port that refuses connections: listen, note it, close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() + "/jwks.json"
	_ = ln.Close()

	env.cfg = filepath.Join(t.TempDir(), "authgate.yaml")
	yaml := fmt.Sprintf(explainConfig, is.URL, lab.URL+"/jwks.json", down)
	if err := os.WriteFile(env.cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return env
}

// demoToken signs claims with the demo issuer.
func (env *explainEnv) demoToken(t *testing.T, claims map[string]any, life time.Duration) string {
	t.Helper()
	tok, err := env.demo.Token(claims, life)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// labToken signs claims (iss http://lab.example unless set) with a
// hand-made header.
func (env *explainEnv) labToken(t *testing.T, alg string, key any, hdr, claims map[string]any) string {
	t.Helper()
	c := map[string]any{
		"iss": "http://lab.example", "sub": "lab-user", "aud": "explain-api",
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(),
	}
	for k, v := range claims {
		c[k] = v
	}
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return testkit.SignJWS(t, alg, key, hdr, payload)
}

// runExplain runs `authgate explain args...` in-process with stdin.
func runExplain(t *testing.T, in string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	old := stdin
	stdin = strings.NewReader(in)
	defer func() { stdin = old }()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"explain"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// assertNoToken fails when output holds the token or its signature.
func assertNoToken(t *testing.T, out, token string) {
	t.Helper()
	if token == "" {
		return
	}
	if strings.Contains(out, token) {
		t.Errorf("output contains the raw token")
	}
	if i := strings.LastIndexByte(token, '.'); i >= 0 && len(token)-i > 8 && strings.Contains(out, token[i+1:]) {
		t.Errorf("output contains the token's signature")
	}
}

func TestExplainSteps(t *testing.T) {
	env := newExplainEnv(t)
	good := map[string]any{"sub": "alice", "aud": "explain-api", "scope": "read"}
	with := func(edits map[string]any) map[string]any {
		c := map[string]any{}
		for k, v := range good {
			c[k] = v
		}
		for k, v := range edits {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	labHdr := func(kid, typ string) map[string]any {
		h := map[string]any{"kid": kid}
		if typ != "" {
			h["typ"] = typ
		}
		return h
	}
	invalid := func(desc string) string {
		return `WWW-Authenticate: Bearer realm="authgate", error="invalid_token", error_description="` + desc + `"`
	}

	for _, tc := range []struct {
		name  string
		route string
		token string
		code  int
		want  []string // substrings of the output, in order
	}{
		{"passes", "api", env.demoToken(t, good, time.Hour), 0, []string{
			"Route    api (path_prefix /api, host api.example.com, any method, auth required)",
			`"sub": "alice"`,
			"✔ 1 token", "✔ 2 format", "✔ 3 issuer", "selects issuer demo", "✔ 4 algorithm", "✔ 4 crit",
			"✔ 5 key", "found in the cached key set: EC P-256, alg ES256", "✔ 6 signature",
			"✔ 6 exp             expires in ", "✔ 6 nbf", "✔ 6 iat             issued ", "✔ 6 aud", "✔ 6 required_claims", "✔ 6 typ",
			"X-User-Id: alice", "X-User-Scopes: read", "X-Auth-Claims: (base64url of the payload, ",
			"→ the gateway would answer 200 (forwarded to http://upstream.example:8080/base)",
		}},
		{"malformed", "api", "abc.def", 1, []string{
			"✘ 2 format", "2 parts, want 3",
			"→ 401 invalid_token: the token is not a well-formed signed JWT", invalid("the token is not a well-formed signed JWT"),
			"reason: malformed (decided by format)",
			"fix: this is not a compact JWT (three base64url parts joined by dots)",
		}},
		{"opaque token", "api", "Yk3xQ9opaqueAccessToken", 1, []string{
			"✘ 2 format", "→ 401 invalid_token", "reason: malformed (decided by format)",
			"fix: this is not a JWT: opaque tokens (e.g. Auth0 without an audience) cannot be verified",
		}},
		{"untrusted issuer", "api", env.labToken(t, "ES256", env.labEC, labHdr("lab1", "at+jwt"), map[string]any{"iss": "https://evil.example"}), 1, []string{
			"✘ 3 issuer", `iss "https://evil.example"`,
			"→ 401 invalid_token: the token's issuer is not trusted for this route", "reason: untrusted_issuer",
			`fix: iss must equal one of the route's issuers exactly: if "https://evil.example" is trusted, add an issuer`,
		}},
		// The issuer is configured without the slash the provider puts in
		// iss: still refused (exact match), and explain says what to write.
		{"issuer near miss", "api", env.demoToken(t, with(map[string]any{"iss": env.demo.URL + "/"}), time.Hour), 1, []string{
			"✘ 3 issuer", `iss "` + env.demo.URL + `/" differs from issuer "` + env.demo.URL + `" of issuer demo only by a trailing slash`,
			"reason: untrusted_issuer",
			"fix: iss \"" + env.demo.URL + "/\" differs from issuer \"" + env.demo.URL + "\" of issuer demo only by a trailing slash: write issuer: " + env.demo.URL + "/",
		}},
		{"alg not allowed", "api", env.labToken(t, "RS256", env.rsa, labHdr("lab1", "at+jwt"), nil), 1, []string{
			"✘ 4 algorithm", `"RS256" is not one of the issuer's algorithms (ES256)`,
			"the verdict is decided above", "6 exp", "expires in",
			"→ 401 invalid_token: the token's signing algorithm is not allowed", "reason: alg_not_allowed",
			`fix: add "RS256" to issuer lab's algorithms (now ES256)`,
		}},
		{"crit header", "api", env.labToken(t, "ES256", env.labEC, map[string]any{"kid": "lab1", "typ": "at+jwt", "crit": []string{"exp"}, "exp": 1}, nil), 1, []string{
			"✔ 4 algorithm", "✘ 4 crit", "→ 401 invalid_token: the token is not a well-formed signed JWT", "reason: malformed (decided by crit)",
			"fix: the token's header has crit",
		}},
		{"unknown kid", "api", env.labToken(t, "ES256", env.labEC, labHdr("nope", "at+jwt"), nil), 1, []string{
			"✘ 5 key", `no key with kid "nope"`,
			"→ 401 invalid_token: the token's signing key is unknown", "reason: unknown_key",
			`fix: kid "nope" is not in issuer lab's key set (kids in the set: "lab1"): the token comes from another tenant or environment, or the provider rotated its keys`,
		}},
		{"bad signature", "api", env.labToken(t, "ES256", env.other, labHdr("lab1", "at+jwt"), nil), 1, []string{
			"✔ 5 key", `kid "lab1" found in the cached key set`, "✘ 6 signature",
			"→ 401 invalid_token: the token's signature is invalid", "reason: bad_signature",
			"fix: the token was altered or cut short",
		}},
		{"expired", "api", env.demoToken(t, good, -3*time.Minute), 1, []string{
			"✔ 6 signature", "✘ 6 exp             expired 3m", " ago, at ", "(clock skew 30s)",
			"→ 401 invalid_token: the token has expired", invalid("the token has expired"), "reason: expired (decided by exp)",
			"fix: the client must refresh the token (or get a new one): it expired 3m", "clock_skew 30s",
		}},
		{"not yet valid", "api", env.demoToken(t, with(map[string]any{"nbf": time.Now().Add(10 * time.Minute).Unix()}), time.Hour), 1, []string{
			"✔ 6 exp", "✘ 6 nbf             not valid for another ",
			"→ 401 invalid_token: the token is not valid yet", "reason: not_yet_valid",
			"fix: the issuer's clock is ahead of the gateway's: nbf is ", "after the gateway's now, beyond clock_skew 30s; sync both clocks (NTP), or raise issuer demo's clock_skew",
		}},
		{"issued in the future", "api", env.demoToken(t, with(map[string]any{"iat": time.Now().Add(2 * time.Hour).Unix()}), 3*time.Hour), 1, []string{
			"✘ 6 iat             issued ", "reason: not_yet_valid (decided by iat)",
			"fix: the issuer's clock is ahead of the gateway's: iat is ", "after the gateway's now, beyond clock_skew 30s",
		}},
		{"bad audience", "api", env.demoToken(t, with(map[string]any{"aud": "other-api"}), time.Hour), 1, []string{
			"✘ 6 aud", `aud ["other-api"] holds none of the issuer's audiences (explain-api)`,
			"→ 401 invalid_token: the token is not intended for this audience", "reason: bad_audience",
			"fix: request the token for one of the route's audiences (explain-api)",
		}},
		// Kinde issues "aud": [] when the frontend asked for no API.
		{"empty audience", "api", env.demoToken(t, with(map[string]any{"aud": []string{}}), time.Hour), 1, []string{
			"✘ 6 aud", "aud is an empty list: the token was issued for no API", "reason: bad_audience",
			"fix: aud is an empty list: the token was issued for no API — register the API in your provider (Kinde: Settings → APIs) and pass its audience to the frontend SDK (audience: ...)",
		}},
		{"missing claim", "api", env.demoToken(t, with(map[string]any{"sub": nil}), time.Hour), 1, []string{
			"✘ 6 required_claims", "sub",
			"→ 401 invalid_token: the token lacks a required claim", "reason: missing_claim",
			"fix: the token lacks sub, which issuer demo's required_claims (exp, sub) demand",
		}},
		{"bad type", "api", env.labToken(t, "ES256", env.labEC, labHdr("lab1", "JWT"), nil), 1, []string{
			"✔ 6 signature", "✘ 6 typ", `typ "JWT"`, "at+jwt",
			"→ 401 invalid_token: the token's type is not accepted", "reason: bad_type",
			"fix: the header typ is not one of issuer lab's token_types (at+jwt)",
		}},
		{"insufficient scope", "admin", env.demoToken(t, good, time.Hour), 1, []string{
			"scope claims scope, scp", "policy     scopes: all of [admin]", "✔ 6 typ", "✘ 7 policy", "missing scope admin",
			"→ 403 insufficient_scope: the token does not grant the required scope",
			`WWW-Authenticate: Bearer realm="authgate", error="insufficient_scope", scope="admin"`,
			"reason: insufficient_scope (decided by policy)",
			"fix: grant admin to the client or user in the provider (scopes are read from scope, scp)",
		}},
		// Kinde grants permissions in "permissions", which the default
		// scope_claims do not read.
		{"kinde permissions", "admin", env.demoToken(t, with(map[string]any{"scope": "openid profile", "permissions": []string{"admin"}}), time.Hour), 1, []string{
			"✘ 7 policy", `missing scope admin; scopes read from scope, scp (scope: "openid profile"); permissions holds admin: set scope_claims: [permissions]`,
			"reason: insufficient_scope (decided by policy)",
			"fix: permissions holds admin, but issuer demo reads scopes from scope, scp: set scope_claims: [permissions] on issuer demo",
		}},
		{"typed claim mismatch", "paid", env.demoToken(t, with(map[string]any{"is_paid": "true"}), time.Hour), 1, []string{
			"✘ 7 policy", `claims["is_paid"]: true: claim value does not match: the token holds the string "true", the rule wants the boolean true`,
			"→ 403", "reason: claim_mismatch (decided by policy)",
			`fix: the token's claims do not meet the route's claims rule`,
		}},
		{"keys unavailable", "api", env.labToken(t, "ES256", env.labEC, labHdr("lab1", "at+jwt"), map[string]any{"iss": "http://down.example"}), 1, []string{
			"keys       down: unavailable: ", "✘ 5 key",
			"→ 503 temporarily_unavailable: the issuer's signing keys are temporarily unavailable",
			"Retry-After: 10", "keys unavailable: ", "reason: keys_unavailable (decided by key)",
			"fix: the gateway cannot fetch issuer down's keys",
		}},
		{"no token", "api", "", 1, []string{
			"✘ 1 token", "→ 401 unauthorized: no bearer token", `WWW-Authenticate: Bearer realm="authgate"`,
			"fix: send the access token in an Authorization: Bearer <token> header",
		}},
		{"terminal controls in claims are escaped", "api", env.demoToken(t, with(map[string]any{"name": "x\u009b2Jy\x7f"}), time.Hour), 0, []string{
			`"name": "x\u009b2Jy\u007f"`, "→ the gateway would answer 200",
		}},
		{"not b64token syntax", "api", "abc.def ghi", 1, []string{
			"✘ 1 token           the bearer credentials are empty or not RFC 6750 b64token syntax",
			"→ 400 invalid_request: the bearer credentials are empty or not RFC 6750 b64token syntax",
			`WWW-Authenticate: Bearer realm="authgate", error="invalid_request"`, "reason: malformed (decided by token)",
		}},
		{"public route", "public", "", 0, []string{
			"✔ 1 token           not examined", "→ the gateway would answer 200 (forwarded to http://upstream.example:8080)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"-config", env.cfg, "-route", tc.route}
			if tc.token != "" {
				args = append(args, tc.token)
			}
			code, out, errOut := runExplain(t, "", args...)
			if code != tc.code {
				t.Fatalf("exit code: got %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			assertInOrder(t, out, tc.want)
			assertNoToken(t, out+errOut, tc.token)
		})
	}
}

func TestExplainJSON(t *testing.T) {
	env := newExplainEnv(t)
	tok := env.demoToken(t, map[string]any{"sub": "alice", "aud": "explain-api"}, -time.Minute)
	code, out, _ := runExplain(t, "", "-config", env.cfg, "-route", "api", "-json", tok)
	if code != 1 {
		t.Fatalf("exit code: got %d, want 1\n%s", code, out)
	}
	var rep struct {
		Route struct {
			Name    string `json:"name"`
			Mode    string `json:"mode"`
			Issuers []struct {
				Name string `json:"name"`
			} `json:"issuers"`
		} `json:"route"`
		Header map[string]any `json:"header"`
		Claims map[string]any `json:"claims"`
		Steps  []struct {
			Stage int    `json:"stage"`
			Name  string `json:"name"`
			OK    bool   `json:"ok"`
			After bool   `json:"after"`
		} `json:"steps"`
		Verdict struct {
			Allowed   bool   `json:"allowed"`
			Status    int    `json:"status"`
			Reason    string `json:"reason"`
			DecidedBy string `json:"decided_by"`
			Refusal   struct {
				Error           string `json:"error"`
				WWWAuthenticate string `json:"www_authenticate"`
			} `json:"refusal"`
		} `json:"verdict"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, out)
	}
	if rep.Route.Name != "api" || rep.Route.Mode != "required" || len(rep.Route.Issuers) != 3 {
		t.Errorf("route: got %+v, want api, required, 3 issuers", rep.Route)
	}
	if rep.Header["alg"] != "ES256" || rep.Claims["sub"] != "alice" {
		t.Errorf("decoded token: got header %v, claims %v", rep.Header, rep.Claims)
	}
	var names []string
	for _, s := range rep.Steps {
		names = append(names, fmt.Sprintf("%d %s %v", s.Stage, s.Name, s.OK))
	}
	want := []string{"1 token true", "2 format true", "3 issuer true", "4 algorithm true", "4 crit true", "5 key true",
		"6 signature true", "6 exp false", "6 nbf true", "6 iat true", "6 aud true", "6 required_claims true", "6 typ true",
		"7 policy true"}
	if got := strings.Join(names, ", "); got != strings.Join(want, ", ") {
		t.Errorf("steps:\ngot  %q\nwant %q", got, strings.Join(want, ", "))
	}
	v := rep.Verdict
	if v.Allowed || v.Status != 401 || v.Reason != "expired" || v.DecidedBy != "exp" || v.Refusal.Error != "invalid_token" ||
		!strings.Contains(v.Refusal.WWWAuthenticate, `error="invalid_token"`) {
		t.Errorf("verdict: got %+v", v)
	}
	assertNoToken(t, out, tok)
}

func TestExplainTokenInput(t *testing.T) {
	env := newExplainEnv(t)
	tok := env.demoToken(t, map[string]any{"sub": "alice", "aud": "explain-api"}, time.Hour)
	for _, tc := range []struct {
		name  string
		stdin string
		arg   []string
	}{
		{"stdin with dash", tok + "\n", []string{"-"}},
		{"stdin without argument", "  " + tok + "  \n", nil},
		{"Bearer argument", "", []string{"Bearer " + tok}},
		{"Authorization line on stdin", "Authorization: Bearer " + tok + "\r\n", nil},
		{"lower-case scheme", "authorization: bearer   " + tok, []string{"-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-config", env.cfg, "-route", "api"}, tc.arg...)
			code, out, errOut := runExplain(t, tc.stdin, args...)
			if code != 0 {
				t.Fatalf("exit code: got %d, want 0\n%s\n%s", code, out, errOut)
			}
			if !strings.Contains(out, "X-User-Id: alice") {
				t.Errorf("output lacks the forwarded identity:\n%s", out)
			}
			assertNoToken(t, out+errOut, tok)
		})
	}
}

func TestExplainRequest(t *testing.T) {
	env := newExplainEnv(t)
	tok := env.demoToken(t, map[string]any{"sub": "alice", "aud": "explain-api", "scope": "read"}, time.Hour)
	for _, tc := range []struct {
		name    string
		request string
		code    int
		want    []string
		notWant string
	}{
		{"routed with port and query", "GET https://api.example.com:8443/api/orders?secret=hunter2", 0,
			[]string{"Request  GET https://api.example.com:8443/api/orders", "Route    api ", "→ the gateway would answer 200"}, "hunter2"},
		{"host decides", "GET https://other.example.com/api/orders", 1,
			[]string{"→ 404 not_found: no route matches the request", "decided by route"}, "Route "},
		{"method and path pick admin", "POST http://anything/admin/users", 1,
			[]string{"Route    admin ", "✘ 7 policy", "→ 403 insufficient_scope"}, ""},
		{"dot segment", "GET https://api.example.com/public/../api/orders", 1,
			[]string{"→ 400 invalid_request: the request path is not acceptable"}, "Route "},
		{"encoded dot segment", "GET https://api.example.com/public/%2e%2e/admin", 1,
			[]string{"→ 400 invalid_request"}, "Route "},
		{"double slash", "GET https://api.example.com/api//orders", 1,
			[]string{"→ 400 invalid_request"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runExplain(t, "", "-config", env.cfg, "-request", tc.request, tok)
			if code != tc.code {
				t.Fatalf("exit code: got %d, want %d\n%s\n%s", code, tc.code, out, errOut)
			}
			assertInOrder(t, out, tc.want)
			if tc.notWant != "" && strings.Contains(out, tc.notWant) {
				t.Errorf("output contains %q:\n%s", tc.notWant, out)
			}
			assertNoToken(t, out+errOut, tok)
		})
	}
}

func TestExplainUsage(t *testing.T) {
	env := newExplainEnv(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"neither route nor request", []string{"-config", env.cfg, "x.y.z"}, exitUsage, "exactly one of -route NAME or -request"},
		{"both", []string{"-config", env.cfg, "-route", "api", "-request", "GET http://h/api", "x.y.z"}, exitUsage, "exactly one of"},
		{"two tokens", []string{"-config", env.cfg, "-route", "api", "a.b.c", "d.e.f"}, exitUsage, "at most one token"},
		{"request without URL", []string{"-config", env.cfg, "-request", "GET", "x.y.z"}, exitUsage, `-request wants "METHOD URL"`},
		{"unknown flag", []string{"-config", env.cfg, "-route", "api", "-verbose", "x.y.z"}, exitUsage, "flag provided but not defined"},
		{"other scheme", []string{"-config", env.cfg, "-route", "api", "Basic dXNlcjpwYXNz"}, exitUsage, "not of the Bearer scheme"},
		{"unknown route", []string{"-config", env.cfg, "-route", "nope", "x.y.z"}, exitError, `no route named "nope"; the routes are: public, api, admin`},
		{"missing config", []string{"-config", filepath.Join(t.TempDir(), "none.yaml"), "-route", "api", "x.y.z"}, exitError, "none.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runExplain(t, "", tc.args...)
			if code != tc.code {
				t.Fatalf("exit code: got %d, want %d\n%s\n%s", code, tc.code, out, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, errOut)
			}
			if strings.Contains(errOut, "dXNlcjpwYXNz") {
				t.Errorf("stderr echoes the credentials:\n%s", errOut)
			}
		})
	}
}

// TestBinaryExplain runs `authgate explain` as a user would, through the
// real binary, with the token piped on stdin.
func TestBinaryExplain(t *testing.T) {
	bin := testkit.Binary(t)
	env := newExplainEnv(t)
	for _, tc := range []struct {
		name    string
		life    time.Duration
		code    int
		verdict *regexp.Regexp
	}{
		{"valid", time.Hour, 0, regexp.MustCompile(`(?m)^→ the gateway would answer 200 \(forwarded to http://upstream\.example:8080/base\)$`)},
		{"expired", -2 * time.Minute, 1, regexp.MustCompile(`(?m)^→ 401 invalid_token: the token has expired$`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := env.demoToken(t, map[string]any{"sub": "alice", "aud": "explain-api"}, tc.life)
			cmd := exec.Command(bin, "explain", "-config", env.cfg, "-request", "GET https://api.example.com/api/x", "-")
			cmd.Stdin = strings.NewReader("Bearer " + tok + "\n")
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != tc.code {
				t.Fatalf("exit code: got %d (%v), want %d\n%s\n%s", code, err, tc.code, out.String(), errb.String())
			}
			if !tc.verdict.MatchString(out.String()) {
				t.Errorf("output lacks the verdict %s:\n%s", tc.verdict, out.String())
			}
			if strings.Contains(out.String(), "\x1b[") {
				t.Errorf("colour escapes in output to a pipe:\n%q", out.String())
			}
			assertNoToken(t, out.String()+errb.String(), tok)
		})
	}
}

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", `{"sub": "zoë"}`, `{"sub": "zoë"}`},
		{"newline and tab kept", "a\n\tb", "a\n\tb"},
		{"no-break space kept", "a\u00a0b", "a\u00a0b"},
		{"DEL", "a\x7fb", `a\u007fb`},
		{"C1 CSI", "a\u009b31mb", `a\u009b31mb`},
		{"NEL", "a\u0085b", `a\u0085b`},
		{"bidi override", "a\u202eb", `a\u202eb`},
		{"line separator", "a\u2028b", `a\u2028b`},
		{"invalid UTF-8", "a\xffb", `a\ufffdb`},
		{"escape", "a\x1b[2Jb", `a\u001b[2Jb`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := printable(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// assertInOrder fails unless out contains every string of want, in order.
func assertInOrder(t *testing.T, out string, want []string) {
	t.Helper()
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("output lacks %q (in order)\n%s", w, out)
		}
		rest = rest[i+len(w):]
	}
}

// TestBinaryDemoExplain: the explain commands `authgate demo` prints work
// while it runs, through the real binary: the reader token passes on /api
// (exit 0), the expired one is refused with its fix (exit 1).
func TestBinaryDemoExplain(t *testing.T) {
	bin := testkit.Binary(t)
	p := testkit.Start(t, bin, nil, "demo", "-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0")
	deadline := time.Now().Add(20 * time.Second)
	var intro string
	for time.Now().Before(deadline) {
		if intro = p.Stdout.String(); strings.Contains(intro, "Press Ctrl-C to stop.") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(intro, "Press Ctrl-C to stop.") {
		t.Fatalf("demo printed no intro within 20s:\n%s", intro)
	}
	if !regexp.MustCompile(`(?m)^# READER token \(scope read\), valid for 1h, until \d\d:\d\d UTC: `).MatchString(intro) ||
		!regexp.MustCompile(`(?m)^# EXPIRED token \(scope read\), expired 5m ago, at \d\d:\d\d UTC: `).MatchString(intro) {
		t.Errorf("intro lacks the tokens' lifetimes:\n%s", intro)
	}
	tokens := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(\w+)_TOKEN=(\S+)$`).FindAllStringSubmatch(intro, -1) {
		tokens[m[1]] = m[2]
	}
	cmds := map[string][]string{}
	for _, m := range regexp.MustCompile(`(?m)^authgate explain -config (\S+) -route (\w+) "\$(\w+)_TOKEN"$`).FindAllStringSubmatch(intro, -1) {
		cmds[m[3]] = []string{"explain", "-config", m[1], "-route", m[2], tokens[m[3]]}
	}
	for _, tc := range []struct {
		name string
		code int
		want string
	}{
		{"READER", 0, "→ the gateway would answer 200"},
		{"EXPIRED", 1, "fix: the client must refresh the token (or get a new one): it expired 5m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := cmds[tc.name]
			if args == nil || tokens[tc.name] == "" {
				t.Fatalf("intro lacks the explain command for %s:\n%s", tc.name, intro)
			}
			cmd := exec.Command(bin, args...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != tc.code {
				t.Fatalf("exit code: got %d (%v), want %d\n%s\n%s", code, err, tc.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out.String())
			}
		})
	}
	_ = p.Cmd.Process.Signal(os.Interrupt)
	if code := p.Wait(t); code != 0 {
		t.Fatalf("demo exit code after SIGINT: got %d, want 0", code)
	}
	if _, err := os.Stat(cmds["READER"][2]); !os.IsNotExist(err) {
		t.Errorf("demo left its configuration file behind: %v", err)
	}
}
