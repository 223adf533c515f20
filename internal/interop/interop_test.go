//go:build interop

package interop

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testkit"
)

const (
	apiAudience     = "https://api.interop.test"
	backendAudience = "https://backend.interop.test"
	driveAudience   = "https://drive.interop.test"
	secret          = "interop-secret"
	minRefresh      = 250 * time.Millisecond
)

var client = &http.Client{Timeout: 10 * time.Second}

// provider is the running oidc-provider.
type provider struct {
	Issuer        string   `json:"issuer"`
	SigningKid    string   `json:"signing_kid"`
	PublishedKids []string `json:"published_kids"`
}

func providerDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "provider")
}

// startProvider runs `npm ci` when node_modules is absent, starts
// provider/server.mjs on a free loopback port and waits for its start line.
func startProvider(t *testing.T) *provider {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node not found in PATH; the interop tests need Node.js 20+ (.ci/interop installs it)")
		}
		t.Skip("node not found in PATH; the interop tests need Node.js 20+")
	}
	dir := providerDir(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider")); err != nil {
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}
	cmd := exec.Command(node, "server.mjs", "0")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CLIENT_SECRET="+secret, "DEFAULT_RESOURCE="+apiAudience)
	var stderr testkit.LogBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("provider exited before its start line; stderr:\n%s", &stderr)
		}
		var p provider
		if err := json.Unmarshal([]byte(line), &p); err != nil || p.Issuer == "" {
			t.Fatalf("provider start line %q: %v", line, err)
		}
		t.Logf("provider %s signing with %s", p.Issuer, p.SigningKid)
		return &p
	case <-time.After(20 * time.Second):
		t.Fatalf("provider did not start within 20s; stderr:\n%s", &stderr)
		return nil
	}
}

// admin calls the provider's admin API and returns its key state.
func (p *provider) admin(t *testing.T, action string) provider {
	t.Helper()
	resp, err := client.Post(p.Issuer+"/admin/"+action, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st provider
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin %s: %d %v", action, resp.StatusCode, err)
	}
	return st
}

// token gets a client-credentials token from the provider with a plain POST,
// authenticating with client_secret_basic as gw-basic.
func (p *provider) token(t *testing.T, scope, resource string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	if resource != "" {
		form.Set("resource", resource)
	}
	req, _ := http.NewRequest("POST", p.Issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("gw-basic", secret)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &tr) != nil || tr.AccessToken == "" {
		t.Fatalf("token endpoint: %d %s", resp.StatusCode, body)
	}
	return tr.AccessToken
}

// exchange posts an RFC 8693 token exchange to the provider as gw-basic.
func (p *provider) exchange(t *testing.T, subject, audience, scope string) (int, map[string]any) {
	t.Helper()
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {subject},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
		"audience":           {audience},
	}
	if scope != "" {
		form.Set("scope", scope)
	}
	req, _ := http.NewRequest("POST", p.Issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("gw-basic", secret)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("token exchange response: %d %v", resp.StatusCode, err)
	}
	return resp.StatusCode, m
}

// jwksKids lists the kids the provider's JWKS publishes now.
func (p *provider) jwksKids(t *testing.T) []string {
	t.Helper()
	resp, err := client.Get(p.Issuer + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// jwtPart decodes the header (0) or payload (1) of a compact JWS.
func jwtPart(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// echo is the upstream: it records the headers of every request and
// answers 200.
type echo struct {
	*httptest.Server
	mu   sync.Mutex
	last map[string]http.Header // by path
}

func newEcho(t *testing.T) *echo {
	e := &echo{last: map[string]http.Header{}}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.last[r.URL.Path] = r.Header.Clone()
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "headers": r.Header})
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *echo) header(path string) http.Header {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last[path]
}

// call sends GET gw+path with the bearer token (none when empty) and
// returns the status and body.
func call(t *testing.T, gw, path, tok string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", gw+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// metric reads one sample, named with its labels exactly as exposed, from
// the admin listener's /metrics; absent: 0.
func metric(t *testing.T, admin, sample string) float64 {
	t.Helper()
	resp, err := client.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("metric %s: %q", sample, v)
			}
			return f
		}
	}
	return 0
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func baseConfig(p *provider, up, secretFile string) string {
	return fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", shutdown_timeout: 5s }
log: { format: json, level: debug }
issuers:
  - name: op
    issuer: %[1]s
    audiences: [%[2]s]
    algorithms: [RS256]
    token_types: [at+jwt]
    jwks: { min_refresh_interval: %[5]s }
credentials:
  - name: op-cc
    client_credentials:
      token_url: %[1]s/token
      client_id: gw-post
      client_secret_file: %[4]s
      auth_method: client_secret_post
      scopes: [write]
      resource: [%[6]s]
routes:
  - name: api
    match: { path_prefix: /api }
    upstream: { url: %[3]s }
    auth: { mode: required, scopes: [read] }
    forward:
      headers: { X-User-Id: sub, X-Client-Id: client_id, X-Scopes: scope }
      authorization: strip
  - name: backend
    match: { path_prefix: /backend }
    upstream: { url: %[3]s, credentials: op-cc }
    auth: { mode: required, scopes: [read] }
  - name: backend-verify
    match: { path_prefix: /verify-backend }
    upstream: { url: %[3]s }
    auth: { mode: required, audiences: [%[6]s], scopes: [write] }
    forward: { headers: { X-User-Id: sub, X-Client-Id: client_id } }
  - name: drive-verify
    match: { path_prefix: /verify-drive }
    upstream: { url: %[3]s }
    auth: { mode: required, audiences: [%[7]s] }
    forward: { headers: { X-User-Id: sub, X-Scopes: scope } }
`, p.Issuer, apiAudience, up, secretFile, minRefresh, backendAudience, driveAudience)
}

func TestInterop(t *testing.T) {
	bin := testkit.Binary(t)
	p := startProvider(t)
	up := newEcho(t)
	secretFile := writeFile(t, "secret", secret+"\n")
	cfg := writeFile(t, "authgate.yaml", baseConfig(p, up.URL, secretFile))

	if out, err := exec.Command(bin, "check", "-config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("authgate check: %v\n%s", err, out)
	}
	gp := testkit.Start(t, bin, nil, "serve", "-config", cfg)
	gw, adm := gp.Listening(t)
	testkit.WaitReady(t, adm) // discovery and JWKS came from the provider
	readyAt := time.Now()

	t.Run("verify", func(t *testing.T) {
		tok := p.token(t, "read", "")
		if typ := jwtPart(t, tok, 0)["typ"]; typ != "at+jwt" {
			t.Fatalf("provider token typ = %v", typ)
		}
		code, body := call(t, gw, "/api/orders", tok)
		if code != 200 {
			t.Fatalf("GET /api/orders with a provider token: %d %s", code, body)
		}
		h := up.header("/api/orders")
		if h.Get("X-User-Id") != "gw-basic" || h.Get("X-Client-Id") != "gw-basic" || h.Get("X-Scopes") != "read" {
			t.Errorf("identity headers upstream: X-User-Id=%q X-Client-Id=%q X-Scopes=%q",
				h.Get("X-User-Id"), h.Get("X-Client-Id"), h.Get("X-Scopes"))
		}
		if h.Get("Authorization") != "" {
			t.Errorf("authorization: strip, yet upstream got Authorization")
		}
		if code, _ := call(t, gw, "/api/orders", ""); code != 401 {
			t.Errorf("no token: %d, want 401", code)
		}
		if code, _ := call(t, gw, "/api/orders", p.token(t, "write", "")); code != 403 {
			t.Errorf("token without scope read: %d, want 403", code)
		}
		if code, _ := call(t, gw, "/api/orders", p.token(t, "read", backendAudience)); code != 401 {
			t.Errorf("token for another audience: %d, want 401", code)
		}
	})

	t.Run("credentials", func(t *testing.T) {
		code, body := call(t, gw, "/backend/invoices", p.token(t, "read", ""))
		if code != 200 {
			t.Fatalf("GET /backend/invoices: %d %s", code, body)
		}
		authz := up.header("/backend/invoices").Get("Authorization")
		gwTok, ok := strings.CutPrefix(authz, "Bearer ")
		if !ok || gwTok == "" {
			t.Fatalf("upstream Authorization = %q, want Bearer <provider token>", authz)
		}
		hdr, claims := jwtPart(t, gwTok, 0), jwtPart(t, gwTok, 1)
		if claims["iss"] != p.Issuer || claims["client_id"] != "gw-post" || claims["aud"] != backendAudience {
			t.Errorf("gateway's token claims: iss=%v client_id=%v aud=%v", claims["iss"], claims["client_id"], claims["aud"])
		}
		kid, _ := hdr["kid"].(string)
		found := false
		for _, k := range p.jwksKids(t) {
			found = found || k == kid
		}
		if !found {
			t.Errorf("gateway's token kid %q not in the provider's JWKS", kid)
		}
		// The token verifies through the gateway's own route for its audience.
		code, body = call(t, gw, "/verify-backend/x", gwTok)
		if code != 200 {
			t.Fatalf("the gateway's upstream token on /verify-backend: %d %s", code, body)
		}
		if got := up.header("/verify-backend/x").Get("X-Client-Id"); got != "gw-post" {
			t.Errorf("verified client_id = %q, want gw-post", got)
		}
		// A second request reuses the cached token.
		if code, _ := call(t, gw, "/backend/invoices", p.token(t, "read", "")); code != 200 {
			t.Errorf("second /backend request: %d", code)
		}
		if again := up.header("/backend/invoices").Get("Authorization"); again != authz {
			t.Errorf("second request carried another token; the credential should be cached")
		}
	})

	t.Run("rotation", func(t *testing.T) {
		oldTok := p.token(t, "read", "")
		oldKid := jwtPart(t, oldTok, 0)["kid"]

		type signed struct{ tok, kid string }
		kidOf := func(tok string) string { k, _ := jwtPart(t, tok, 0)["kid"].(string); return k }
		var toks atomic.Pointer[[]signed]
		toks.Store(&[]signed{{oldTok, kidOf(oldTok)}})
		var sent, failed atomic.Int64
		var newOK atomic.Int64
		var newKid atomic.Value
		newKid.Store("")
		var firstErr atomic.Value
		stop := make(chan struct{})
		done := make(chan struct{})
		// Bounded by time, not by count. Regression: a cap of 3000 requests
		// ran out before the rotation once cached tokens made each request
		// cheap, and the new key was never tried.
		go func() {
			defer close(done)
			deadline := time.Now().Add(30 * time.Second)
			for i := 0; time.Now().Before(deadline); i++ {
				select {
				case <-stop:
					return
				default:
				}
				ts := *toks.Load()
				tok := ts[i%len(ts)]
				req, _ := http.NewRequest("GET", gw+"/api/loop", nil)
				req.Header.Set("Authorization", "Bearer "+tok.tok)
				sent.Add(1)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body))
					continue
				}
				if k := newKid.Load().(string); k != "" && tok.kid == k {
					newOK.Add(1)
				}
			}
		}()
		waitFor := func(what string, cond func() bool) {
			t.Helper()
			deadline := time.Now().Add(15 * time.Second)
			for !cond() {
				if time.Now().After(deadline) {
					t.Fatalf("timed out waiting for %s (sent %d, failed %d)", what, sent.Load(), failed.Load())
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		waitFor("requests with the old key", func() bool { return sent.Load() >= 20 })

		// The gateway refetches for an unknown kid at most once per
		// min_refresh_interval after its last fetch (the one that made it
		// ready): rotate only once such a refetch is allowed.
		time.Sleep(time.Until(readyAt.Add(minRefresh + 50*time.Millisecond)))
		fetchesBefore := metric(t, adm, `authgate_jwks_fetches_total{issuer="op",result="success"}`)
		st := p.admin(t, "rotate")
		if st.SigningKid == oldKid || len(st.PublishedKids) != 2 {
			t.Fatalf("rotate: %+v (old kid %v)", st, oldKid)
		}
		newTok := p.token(t, "read", "")
		if k := jwtPart(t, newTok, 0)["kid"]; k != st.SigningKid {
			t.Fatalf("token after rotation signed with %v, want %s", k, st.SigningKid)
		}
		newKid.Store(st.SigningKid)
		toks.Store(&[]signed{{oldTok, kidOf(oldTok)}, {newTok, kidOf(newTok)}})
		waitFor("requests with the new key", func() bool { return newOK.Load() >= 20 })
		if after := metric(t, adm, `authgate_jwks_fetches_total{issuer="op",result="success"}`); after <= fetchesBefore {
			t.Errorf("new-key tokens accepted without a JWKS refetch (successful fetches %v -> %v)", fetchesBefore, after)
		}

		// Overlap over: only the new key is published.
		st = p.admin(t, "retire")
		if kids := p.jwksKids(t); len(kids) != 1 || kids[0] != st.SigningKid {
			t.Fatalf("after retire the JWKS publishes %v", kids)
		}
		newer := p.token(t, "read", "")
		toks.Store(&[]signed{{newTok, kidOf(newTok)}, {newer, kidOf(newer)}})
		mark := sent.Load()
		waitFor("requests after the retirement", func() bool { return sent.Load() >= mark+50 })
		close(stop)
		<-done
		if failed.Load() != 0 {
			t.Fatalf("%d of %d requests failed during rotation; first: %v", failed.Load(), sent.Load(), firstErr.Load())
		}
		t.Logf("%d requests across rotation, none failed (%d with the new key)", sent.Load(), newOK.Load())
	})

	t.Run("exchange-provider", func(t *testing.T) {
		// The provider's own RFC 8693 grant, called directly: what the
		// exchange case relies on once the gateway supports it.
		subject := p.token(t, "read write", "")
		code, tr := p.exchange(t, subject, driveAudience, "read")
		if code != 200 {
			t.Fatalf("token exchange: %d %v", code, tr)
		}
		ex, _ := tr["access_token"].(string)
		if tr["issued_token_type"] != "urn:ietf:params:oauth:token-type:access_token" || ex == "" {
			t.Fatalf("token exchange response: %v", tr)
		}
		if code, body := call(t, gw, "/verify-drive/x", ex); code != 200 {
			t.Fatalf("exchanged token through the gateway: %d %s", code, body)
		}
		if h := up.header("/verify-drive/x"); h.Get("X-User-Id") != "gw-basic" || h.Get("X-Scopes") != "read" {
			t.Errorf("exchanged identity: sub=%q scope=%q", h.Get("X-User-Id"), h.Get("X-Scopes"))
		}
		if code, tr := p.exchange(t, subject[:len(subject)-4]+"AAAA", driveAudience, ""); code != 400 || tr["error"] != "invalid_grant" {
			t.Errorf("tampered subject token: %d %v, want 400 invalid_grant", code, tr)
		}
		if code, tr := p.exchange(t, subject, "https://forbidden.interop.test", ""); code != 400 || tr["error"] != "invalid_target" {
			t.Errorf("forbidden audience: %d %v, want 400 invalid_target", code, tr)
		}
	})

	t.Run("exchange", func(t *testing.T) {
		exchangeCase(t, bin, p, up, secretFile)
	})
}

// exchangeCase runs a gateway with a token_exchange credential against the
// provider's RFC 8693 grant. It skips while this authgate refuses
// token_exchange credentials (docs/reference.md §3.8).
func exchangeCase(t *testing.T, bin string, p *provider, up *echo, secretFile string) {
	cfg := writeFile(t, "exchange.yaml", fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", shutdown_timeout: 5s }
log: { format: json }
issuers:
  - name: op
    issuer: %[1]s
    audiences: [%[2]s, %[5]s]
    algorithms: [RS256]
credentials:
  - name: drive
    token_exchange:
      token_url: %[1]s/token
      client_id: gw-basic
      client_secret_file: %[4]s
      auth_method: client_secret_basic
      audience: %[5]s
      scopes: [read]
  - name: forbidden
    token_exchange:
      token_url: %[1]s/token
      client_id: gw-basic
      client_secret_file: %[4]s
      audience: https://forbidden.interop.test
routes:
  - name: drive
    match: { path_prefix: /drive }
    upstream: { url: %[3]s, credentials: drive }
    auth: { mode: required, audiences: [%[2]s], scopes: [read] }
  - name: forbidden
    match: { path_prefix: /forbidden }
    upstream: { url: %[3]s, credentials: forbidden }
    auth: { mode: required, audiences: [%[2]s] }
  - name: drive-verify
    match: { path_prefix: /verify-drive }
    upstream: { url: %[3]s }
    auth: { mode: required, audiences: [%[5]s] }
    forward: { headers: { X-User-Id: sub } }
`, p.Issuer, apiAudience, up.URL, secretFile, driveAudience))
	out, err := exec.Command(bin, "check", "-config", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("authgate check: %v\n%s", err, out)
	}
	gp := testkit.Start(t, bin, nil, "serve", "-config", cfg)
	gw, adm := gp.Listening(t)
	testkit.WaitReady(t, adm)

	clientTok := p.token(t, "read write", "")
	code, body := call(t, gw, "/drive/files", clientTok)
	if code != 200 {
		t.Fatalf("GET /drive/files: %d %s", code, body)
	}
	authz := up.header("/drive/files").Get("Authorization")
	exTok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok || exTok == "" || exTok == clientTok {
		t.Fatalf("upstream Authorization = %q, want the exchanged token", authz)
	}
	claims := jwtPart(t, exTok, 1)
	if claims["aud"] != driveAudience || claims["sub"] != "gw-basic" || claims["scope"] != "read" {
		t.Errorf("exchanged token: aud=%v sub=%v scope=%v", claims["aud"], claims["sub"], claims["scope"])
	}
	if code, body := call(t, gw, "/verify-drive/x", exTok); code != 200 {
		t.Errorf("exchanged token on /verify-drive: %d %s", code, body)
	}
	// The exchanged token is cached per client token; another client token
	// gets its own exchange.
	if code, _ := call(t, gw, "/drive/files", clientTok); code != 200 {
		t.Fatalf("second /drive request: %d", code)
	}
	if again := up.header("/drive/files").Get("Authorization"); again != authz {
		t.Errorf("same client token, another exchanged token: the result should be cached")
	}
	if code, _ := call(t, gw, "/drive/files", p.token(t, "read", "")); code != 200 {
		t.Fatalf("/drive with another client token: %d", code)
	}
	if other := up.header("/drive/files").Get("Authorization"); other == authz {
		t.Errorf("another client token reused the first one's exchanged token")
	}
	// The provider refuses exchanges to this audience with invalid_target.
	if code, body := call(t, gw, "/forbidden/x", clientTok); code != 403 {
		t.Errorf("exchange refused with invalid_target: %d %s, want 403", code, body)
	}
}
