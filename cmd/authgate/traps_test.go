package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/demo"
	"github.com/authgate/authgate/internal/testkit"
)

const trapsConfig = `
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
log: { format: json }
issuers:
  - name: kinde
    issuer: %s
    audiences: [orders-api]
routes:
  - name: orders
    match: { path_prefix: /orders }
    upstream: { url: %q }
    auth: { scopes: [read:orders] }
`

// TestBinaryTrapLogLines: the provider-setup traps are refused as before,
// and the access line's error, through the real binary, names each trap and
// its fix: Kinde's permissions claim outside scope_claims, "aud": [] and an
// iss that differs from the issuer only by a trailing slash.
func TestBinaryTrapLogLines(t *testing.T) {
	bin := testkit.Binary(t)
	is := testkit.NewIssuer(t)
	up, err := demo.NewEcho("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	cfg := filepath.Join(t.TempDir(), "authgate.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(trapsConfig, is.URL, up.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testkit.Start(t, bin, nil, "serve", "-config", cfg)
	gw, admin := p.Listening(t)
	testkit.WaitReady(t, admin)
	key := is.Keys()[0]
	kinde := map[string]any{"sub": "kp_1", "aud": []string{"orders-api"}, "scope": "openid profile", "permissions": []string{"read:orders"}}
	with := func(edits map[string]any) map[string]any {
		c := map[string]any{}
		for k, v := range kinde {
			c[k] = v
		}
		for k, v := range edits {
			c[k] = v
		}
		return c
	}
	for _, tc := range []struct {
		name   string
		claims map[string]any
		status int
		reason string
		want   string // the end of the access line's error
	}{
		{"kinde permissions", kinde, 403, "insufficient_scope",
			`missing scope read:orders; scopes read from scope, scp (scope: "openid profile"); permissions holds read:orders: set scope_claims: [permissions]`},
		{"empty audience", with(map[string]any{"aud": []string{}}), 401, "bad_audience",
			"aud is an empty list: the token was issued for no API — register the API in your provider (Kinde: Settings → APIs) and pass its audience to the frontend SDK (audience: ...)"},
		{"issuer trailing slash", with(map[string]any{"iss": is.URL + "/"}), 401, "untrusted_issuer",
			fmt.Sprintf(`iss "%s/" differs from issuer "%s" of issuer kinde only by a trailing slash: write issuer: %s/`, is.URL, is.URL, is.URL)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := is.Token(t, key, tc.claims)
			resp, body := get(t, gw+"/orders/1", tok, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status: got %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if strings.Contains(string(body), "permissions holds") || strings.Contains(string(body), "write issuer") {
				t.Errorf("the client got the log detail: %s", body)
			}
			line := p.WaitLog(t, "request")
			got, _ := line["error"].(string)
			if line["reason"] != tc.reason || !strings.HasSuffix(got, tc.want) {
				t.Errorf("access line: reason %v, error %q; want %s, error ending in %q", line["reason"], got, tc.reason, tc.want)
			}
			if strings.Contains(got, tok) {
				t.Errorf("access line holds the token")
			}
		})
	}
}
