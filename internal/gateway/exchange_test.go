package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/authgate/authgate/internal/config"
)

// TestBuildReusesTokenExchange: a token_exchange credential follows the
// reuse rule of client credentials: an unchanged reload keeps the source
// and its cache of exchanged tokens; a rotated secret or a changed setting
// (cache_size) builds a new one, with an empty cache.
func TestBuildReusesTokenExchange(t *testing.T) {
	var n atomic.Int32
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"x-%d","token_type":"Bearer","expires_in":600}`, n.Add(1))
	}))
	defer idp.Close()
	file := filepath.Join(t.TempDir(), "drive")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	build := func(prev *Runtime, size int) *Runtime {
		t.Helper()
		cfg, err := config.Parse("test.yaml", []byte(fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "" }
credentials:
  - name: drive
    token_exchange: { token_url: %s, client_id: gw, client_secret_file: %s, cache_size: %d }
routes:
  - { name: api, match: { path_prefix: / }, upstream: { url: "http://127.0.0.1:1", credentials: drive }, auth: { mode: none } }
`, idp.URL, file, size)), nil)
		if err != nil {
			t.Fatal(err)
		}
		rt, err := Build(cfg, prev, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	token := func(rt *Runtime) string {
		t.Helper()
		tok, err := rt.credentials["drive"].Token(context.Background(), "client.token.x")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	write("one")
	rt1 := build(nil, 100)
	if got := token(rt1); got != "x-1" {
		t.Fatalf("got %q, want x-1", got)
	}
	rt2 := build(rt1, 100)
	if rt2.credentials["drive"] != rt1.credentials["drive"] || token(rt2) != "x-1" {
		t.Error("unchanged reload did not keep the exchange and its cache")
	}
	write("two")
	rt3 := build(rt2, 100)
	if rt3.credentials["drive"] == rt2.credentials["drive"] || token(rt3) != "x-2" {
		t.Error("reload after the secret changed kept the old exchange")
	}
	rt4 := build(rt3, 50)
	if rt4.credentials["drive"] == rt3.credentials["drive"] {
		t.Error("reload with another cache_size kept the old exchange")
	}
}
