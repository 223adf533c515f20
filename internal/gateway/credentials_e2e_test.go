package gateway_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCredentialEndToEnd: through a served gateway, a route with a
// client_credentials credential sends the gateway's token upstream, never
// the client's; 200 concurrent requests cause one token fetch; an upstream
// 401 drops that token, fetches a new one and retries once; the secret is
// in no response.
func TestCredentialEndToEnd(t *testing.T) {
	var fetches atomic.Int32
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := fetches.Add(1)
		time.Sleep(20 * time.Millisecond) // keep the first fetch in flight while requests pile up
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"gw-tok-%d","token_type":"Bearer","expires_in":3600}`, n)
	}))
	defer idp.Close()
	var refuse atomic.Value // the token the upstream refuses once
	refuse.Store("")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if got == refuse.Load().(string) {
			refuse.Store("")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = fmt.Fprint(w, got)
	}))
	defer up.Close()
	file := filepath.Join(t.TempDir(), "billing")
	if err := os.WriteFile(file, []byte("s3cret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
credentials:
  - name: billing
    client_credentials: { token_url: %q, client_id: gw, client_secret_file: %q, scopes: [invoices:read] }
routes:
  - { name: api, match: { path_prefix: / }, upstream: { url: %q, credentials: billing }, auth: { mode: none } }
`, idp.URL, file, up.URL))
	gw, _, _ := serveConfig(t, cfg, slog.New(slog.DiscardHandler))

	get := func() (int, string) {
		req, _ := http.NewRequest("GET", gw+"/invoices", nil)
		req.Header.Set("Authorization", "Bearer client-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, body := get(); code != 200 || body != "gw-tok-1" {
				t.Errorf("got %d %q, want 200 %q", code, body, "gw-tok-1")
			}
		}()
	}
	wg.Wait()
	if n := fetches.Load(); n != 1 {
		t.Errorf("token fetches for 200 concurrent requests: got %d, want 1", n)
	}

	refuse.Store("gw-tok-1")
	code, body := get()
	if code != 200 || body != "gw-tok-2" {
		t.Errorf("after an upstream 401: got %d %q, want 200 %q (dropped, fetched anew, retried once)", code, body, "gw-tok-2")
	}
	if strings.Contains(body, "s3cret") {
		t.Error("the secret reached a response")
	}
}
