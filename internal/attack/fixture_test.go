package attack

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testkit"
)

// audience is every trusted issuer's audience.
const audience = "attack-api"

// fixture is the one gateway the whole suite attacks, with its issuers,
// keys and upstream.
type fixture struct {
	gw    string // gateway host:port
	admin string
	proc  *testkit.Process
	up    *upstream

	// main is found by discovery; second by an explicit jwks_url; liar's
	// discovery document names another issuer, so it must never get keys.
	// evil is an OpenID provider the gateway does not trust: its keys are
	// the attacker's, its server the attacker's jku/x5u target.
	main, second, liar, evil *testkit.Issuer

	mainRSA, mainEC, mainEd, mainShared, mainPinned testkit.Key
	secondEC, secondShared                          testkit.Key
	liarEC                                          testkit.Key
	evilRSA, evilKIDClash                           testkit.Key

	// keyHits is every trusted issuer's discovery and JWKS hit count once
	// the gateway was ready: no request may cause a fetch (min_refresh_interval
	// is 10m, and the initial fetch counts).
	keyHits int

	mu      sync.Mutex
	secrets []string // every token sent, for the log check
}

const configTemplate = `
server:
  listen: "127.0.0.1:0"
  admin_listen: "127.0.0.1:0"
  shutdown_timeout: 2s
  max_header_bytes: 32768
log: { format: json, level: info }
issuers:
  - name: main
    issuer: %[2]s
    audiences: [%[1]s]
    jwks: { refresh_interval: 15m, min_refresh_interval: 10m }
  - name: second
    issuer: %[3]s
    jwks_url: %[3]s/jwks
    audiences: [%[1]s]
    token_types: [at+jwt]
    jwks: { refresh_interval: 15m, min_refresh_interval: 10m }
  - name: liar
    issuer: %[4]s
    audiences: [%[1]s]
cors:
  allowed_origins: [https://app.example]
routes:
  - name: public
    match: { path_prefix: /public }
    upstream: { url: "%[5]s" }
    auth: { mode: none }
  - name: api
    match: { path_prefix: /api }
    upstream: { url: "%[5]s" }
    auth: { issuers: [main, second] }
    forward:
      headers: { X-User-Id: sub, X-User-Roles: roles }
      claims_header: X-Auth-Claims
  - name: admin
    match: { path_prefix: /admin }
    upstream: { url: "%[5]s" }
    auth: { issuers: [main, second], scopes: [admin] }
    forward: { headers: { X-User-Id: sub } }
  - name: opt
    match: { path_prefix: /opt }
    upstream: { url: "%[5]s" }
    auth: { mode: optional, issuers: [main, second] }
    forward: { headers: { X-User-Id: sub }, claims_header: X-Auth-Claims }
  - name: vhost-admin
    match: { path_prefix: /vhost, host: admin.example }
    upstream: { url: "%[5]s", preserve_host: true }
    auth: { issuers: [main, second], scopes: [admin] }
  - name: vhost-any
    match: { path_prefix: /vhost }
    upstream: { url: "%[5]s", preserve_host: true }
    auth: { mode: none }
  - name: readonly-get
    match: { path_prefix: /readonly, methods: [GET] }
    upstream: { url: "%[5]s" }
    auth: { mode: none }
  - name: readonly-write
    match: { path_prefix: /readonly }
    upstream: { url: "%[5]s" }
    auth: { issuers: [main, second], scopes: [admin] }
  - name: strip
    match: { path_prefix: /strip }
    upstream: { url: "%[5]s/base", strip_prefix: true }
    auth: { mode: none }
  - name: files-private
    match: { path_prefix: /files/private }
    upstream: { url: "%[5]s" }
    auth: { issuers: [main, second] }
  - name: files
    match: { path_prefix: /files }
    upstream: { url: "%[5]s" }
    auth: { mode: none }
  - name: ws
    match: { path_prefix: /ws }
    upstream: { url: "%[5]s" }
    auth: { issuers: [main, second] }
    forward: { headers: { X-User-Id: sub } }
  - name: liar
    match: { path_prefix: /liar }
    upstream: { url: "%[5]s" }
    auth: { issuers: [liar] }
`

// newFixture starts the issuers, the upstream and the gateway, and waits
// until the gateway has the trusted issuers' keys.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	bin := testkit.Binary(t)
	f := &fixture{up: newUpstream(t)}

	// RSA key generation is slow: keys whose material needs not differ
	// share it under another kid.
	f.mainRSA = testkit.NewRSAKey(t, "rsa-1")
	f.mainEC = testkit.NewECKey(t, "ec-1")
	f.mainEd = testkit.NewEd25519Key(t, "ed-1")
	f.mainShared = withKID(f.mainRSA, "shared")
	f.mainPinned = withKID(f.mainRSA, "rsa-pinned")
	f.mainPinned.PublishAlg = true // the JWK says alg RS256
	f.main = testkit.NewIssuer(t, f.mainRSA, f.mainEC, f.mainEd, f.mainShared, f.mainPinned)

	f.secondEC = testkit.NewECKey(t, "ec-2")
	f.secondShared = testkit.NewRSAKey(t, "shared") // same kid as main's, another key
	f.second = testkit.NewIssuer(t, f.secondEC, f.secondShared)

	f.liarEC = testkit.NewECKey(t, "liar-1")
	f.liar = testkit.NewIssuer(t, f.liarEC)
	// An IdP mix-up: the discovery document claims to be main.
	f.liar.SetDiscoveryIssuer(f.main.URL)

	f.evilRSA = testkit.NewRSAKey(t, "evil-1")
	f.evilKIDClash = withKID(f.evilRSA, "rsa-1") // main's kid, the attacker's key
	f.evil = testkit.NewIssuer(t, f.evilRSA, f.evilKIDClash)

	cfg := fmt.Sprintf(configTemplate, audience, f.main.URL, f.second.URL, f.liar.URL, f.up.URL())
	path := filepath.Join(t.TempDir(), "authgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	f.proc = testkit.Start(t, bin, nil, "serve", "-config", path)
	gw, admin := f.proc.Listening(t)
	f.gw, f.admin = strings.TrimPrefix(gw, "http://"), admin
	f.waitReady(t)
	f.keyHits = f.trustedKeyHits()
	return f
}

// withKID is k under another kid.
func withKID(k testkit.Key, kid string) testkit.Key {
	k.KID = kid
	return k
}

// waitReady is testkit.WaitReady, except that the liar issuer may be the
// one thing /readyz reports missing: the contract refuses its discovery
// document, so it never gets keys, and a gateway that complies is never
// fully ready with this configuration.
func (f *fixture) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + f.admin + "/readyz")
		if err == nil {
			var body struct {
				NotReady []string `json:"not_ready"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			onlyLiar := len(body.NotReady) > 0
			for _, s := range body.NotReady {
				onlyLiar = onlyLiar && strings.Contains(s, `"liar"`)
			}
			if onlyLiar {
				return
			}
			last = fmt.Sprint(resp.StatusCode, body.NotReady)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("gateway not ready within 20s (last /readyz: %s); stderr:\n%s", last, f.proc.Stderr)
}

func (f *fixture) trustedKeyHits() int {
	n := 0
	for _, is := range []*testkit.Issuer{f.main, f.second} {
		n += is.Hits(testkit.DiscoveryPath) + is.Hits(testkit.JWKSPath)
	}
	return n
}

// evilHits counts every request the untrusted issuer's server got, on any
// path the suite points a header at.
func (f *fixture) evilHits() int {
	n := 0
	for _, p := range []string{testkit.DiscoveryPath, testkit.JWKSPath, "/x5u.pem", "/jku"} {
		n += f.evil.Hits(p)
	}
	return n
}

// keep remembers a token for the log check.
func (f *fixture) keep(tok string) string {
	f.mu.Lock()
	f.secrets = append(f.secrets, tok)
	f.mu.Unlock()
	return tok
}

// token signs a token for issuer is with key: iss, iat now, exp in an hour,
// sub alice, aud attack-api, scope read, roles [reader], then edits (a nil
// value deletes a claim). The header has key's kid, and typ at+jwt for
// second, whose token_types require it.
func (f *fixture) token(tb testing.TB, is *testkit.Issuer, key testkit.Key, edits map[string]any) string {
	tb.Helper()
	now := time.Now()
	c := map[string]any{"iss": is.URL, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"sub": "alice", "aud": audience, "scope": "read", "roles": []string{"reader"}}
	for k, v := range edits {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	payload, err := json.Marshal(c)
	if err != nil {
		tb.Fatal(err)
	}
	hdr := map[string]any{"kid": key.KID}
	if is == f.second {
		hdr["typ"] = "at+jwt"
	}
	return f.keep(testkit.SignJWS(tb, key.Alg, key.Private, hdr, payload))
}

// good is a valid token of main's RSA key with edits.
func (f *fixture) good(tb testing.TB, edits map[string]any) string {
	tb.Helper()
	return f.token(tb, f.main, f.mainRSA, edits)
}

// b64 is unpadded base64url (RFC 7515 §2).
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// jws signs BASE64URL(header).BASE64URL(payload) with alg and key, both
// given verbatim as the bytes the attacker chose.
func (f *fixture) jws(tb testing.TB, alg string, key any, header, payload string) string {
	tb.Helper()
	return f.keep(testkit.SignInput(tb, alg, key, b64(header)+"."+b64(payload)))
}

// member is one JSON object member, its value raw JSON.
type member struct{ name, value string }

// object renders members in order, duplicates and all.
func object(ms ...member) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = jstr(m.name) + ":" + m.value
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// jstr is s as a JSON string.
func jstr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// claims are the default claims of a hand-built token for issuer iss.
func claims(iss string) []member {
	now := time.Now().Unix()
	return []member{
		{"iss", jstr(iss)}, {"sub", `"alice"`}, {"aud", jstr(audience)}, {"scope", `"read"`},
		{"iat", fmt.Sprint(now)}, {"exp", fmt.Sprint(now + 3600)},
	}
}

// with replaces member name in ms (or appends it); value "" deletes it.
func with(ms []member, name, value string) []member {
	out := make([]member, 0, len(ms)+1)
	found := false
	for _, m := range ms {
		if m.name == name {
			found = true
			if value == "" {
				continue
			}
			m.value = value
		}
		out = append(out, m)
	}
	if !found && value != "" {
		out = append(out, member{name, value})
	}
	return out
}

// accessReason waits for the gateway's access line of resp's request and
// returns its reason.
func (f *fixture) accessReason(tb testing.TB, resp *http.Response) string {
	tb.Helper()
	id := resp.Header.Get("X-Request-Id")
	if id == "" {
		tb.Errorf("response has no X-Request-Id")
		return ""
	}
	r, _ := f.proc.Stderr.Access(tb, id)["reason"].(string)
	return r
}

// wantReason checks the access line's reason (docs/reference.md §4, §6).
func (f *fixture) wantReason(tb testing.TB, resp *http.Response, want string) {
	tb.Helper()
	if want == "" {
		return
	}
	if got := f.accessReason(tb, resp); got != want {
		tb.Errorf("access log reason: got %q, want %q", got, want)
	}
}

// query escapes s for a query string.
func query(s string) string { return url.QueryEscape(s) }
