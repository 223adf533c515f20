package gateway_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/authgate/authgate/internal/testkit"
)

// TestTokenExchangeEndToEnd: through a served gateway, a route with a
// token_exchange credential exchanges the client's verified token (RFC
// 8693) and sends the result upstream: once per client token, 50
// concurrent requests included; invalid_grant is 403 insufficient_scope
// with nothing sent upstream; invalid_client is 502 naming the
// credential; an anonymous request on an optional route goes upstream
// without Authorization; neither the secret nor a client token is in a
// log line or a response body.
func TestTokenExchangeEndToEnd(t *testing.T) {
	const secret = "x-s3cret-value"
	is := testkit.NewIssuer(t)
	var exchanges atomic.Int32
	var mu sync.Mutex
	refused := map[string]bool{} // subject tokens the IdP will not exchange
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if id, pw, _ := r.BasicAuth(); id != "gw" || pw != secret {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		n := exchanges.Add(1)
		if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" ||
			r.PostForm.Get("subject_token_type") != "urn:ietf:params:oauth:token-type:access_token" ||
			r.PostForm.Get("audience") != "https://drive.example.com" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_request"}`)
			return
		}
		mu.Lock()
		no := refused[r.PostForm.Get("subject_token")]
		mu.Unlock()
		if no {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"subject not allowed"}`)
			return
		}
		fmt.Fprintf(w, `{"access_token":"drive-tok-%d","token_type":"Bearer","expires_in":600,"issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}`, n)
	}))
	defer idp.Close()
	var upstreamHits atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamHits.Add(1)
		fmt.Fprintf(w, "auth=%q", r.Header.Get("Authorization"))
	}))
	defer up.Close()

	logs := &testkit.LogBuffer{}
	t.Setenv("DRIVE_SECRET", secret)
	t.Setenv("WRONG_SECRET", "not-it")
	cfg := parseConfig(t, fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
log: { level: debug }
issuers:
  - { name: main, issuer: %q, audiences: [api] }
credentials:
  - name: drive
    token_exchange: { token_url: %q, client_id: gw, client_secret_env: DRIVE_SECRET, audience: https://drive.example.com }
  - name: broken
    token_exchange: { token_url: %q, client_id: gw, client_secret_env: WRONG_SECRET, audience: https://drive.example.com }
routes:
  - { name: drive, match: { path_prefix: /drive }, upstream: { url: %q, credentials: drive }, auth: { mode: optional } }
  - { name: broken, match: { path_prefix: /broken }, upstream: { url: %q, credentials: broken } }
`, is.URL, idp.URL, idp.URL, up.URL, up.URL))
	gw, admin, _ := serveConfig(t, cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	waitReady(t, admin)

	alice := is.Token(t, is.Keys()[0], map[string]any{"sub": "alice", "aud": "api"})
	bob := is.Token(t, is.Keys()[0], map[string]any{"sub": "bob", "aud": "api"})
	mallory := is.Token(t, is.Keys()[0], map[string]any{"sub": "mallory", "aud": "api"})
	mu.Lock()
	refused[mallory] = true
	mu.Unlock()

	var bodies []string
	var bodiesMu sync.Mutex
	get := func(path, tok string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", gw+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return &http.Response{}, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		bodiesMu.Lock()
		bodies = append(bodies, string(b))
		bodiesMu.Unlock()
		return resp, string(b)
	}

	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, body := get("/drive/a", alice); resp.StatusCode != 200 || body != `auth="Bearer drive-tok-1"` {
				t.Errorf("got %d %s, want 200 with drive-tok-1", resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	if n := exchanges.Load(); n != 1 {
		t.Errorf("exchanges for 50 concurrent requests with one client token: got %d, want 1", n)
	}
	if resp, body := get("/drive/b", alice); resp.StatusCode != 200 || body != `auth="Bearer drive-tok-1"` {
		t.Errorf("same client token again: got %d %s, want the cached drive-tok-1", resp.StatusCode, body)
	}
	if resp, body := get("/drive/b", bob); resp.StatusCode != 200 || body != `auth="Bearer drive-tok-2"` {
		t.Errorf("another client token: got %d %s, want a new exchange (drive-tok-2)", resp.StatusCode, body)
	}
	if resp, body := get("/drive/anon", ""); resp.StatusCode != 200 || body != `auth=""` {
		t.Errorf("anonymous: got %d %s, want 200 without Authorization upstream", resp.StatusCode, body)
	}

	hits := upstreamHits.Load()
	resp, body := get("/drive/x", mallory)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `"insufficient_scope"`) ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Errorf("invalid_grant: got %d %s (%s), want 403 insufficient_scope", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
	}
	resp, body = get("/broken/x", alice)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, `"bad_gateway"`) || !strings.Contains(body, `\"broken\"`) {
		t.Errorf("invalid_client: got %d %s, want 502 bad_gateway naming the credential", resp.StatusCode, body)
	}
	if n := upstreamHits.Load(); n != hits {
		t.Errorf("refused exchanges sent %d requests upstream, want none", n-hits)
	}

	mresp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{
		`authgate_credential_fetches_total{credential="drive",result="success"} 2`,
		`authgate_credential_fetches_total{credential="drive",result="error"} 1`,
		`authgate_credential_fetches_total{credential="broken",result="error"} 1`,
	} {
		if !strings.Contains(string(mb), want) {
			t.Errorf("metrics: want %s", want)
		}
	}
	if strings.Contains(string(mb), `authgate_credential_expiry_timestamp_seconds{credential="drive"}`) {
		t.Error("metrics: an expiry gauge for a token exchange")
	}
	if !strings.Contains(logs.String(), "invalid_client") || !strings.Contains(logs.String(), "invalid_grant") {
		t.Errorf("the log does not say why the exchanges failed: %s", logs.String())
	}
	all := logs.String() + strings.Join(bodies, "\n")
	for name, s := range map[string]string{"the secret": secret, "alice's token": alice, "bob's token": bob, "mallory's token": mallory} {
		if strings.Contains(all, s) {
			t.Errorf("%s is in a log line or a response body", name)
		}
	}
}
