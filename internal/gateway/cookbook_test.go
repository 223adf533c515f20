package gateway_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/demo"
	"github.com/authgate/authgate/internal/testkit"
)

// cookbookCase is one provider snippet of the policy cookbook in
// docs/policy-cookbook.md (testdata/cookbook/<file>) with a token that
// passes it and one that does not, shaped like that provider's access tokens.
type cookbookCase struct {
	file    string
	issVar  string // the snippet's issuer variable
	issPath string // the issuer's path on the test server, as the provider shapes it
	pass    map[string]any
	fail    map[string]any
	// failReason is the access log's reason for fail (both are 403
	// insufficient_scope to the client).
	failReason string
	// forwarded are headers the upstream must receive for pass.
	forwarded map[string]string
}

var cookbookCases = []cookbookCase{
	{
		file: "kinde.yaml", issVar: "KINDE_ISSUER_URL", issPath: "/kinde",
		pass: map[string]any{
			"sub": "kp_9d1f0e2c3b4a", "aud": []any{"https://api.example.com"}, "org_code": "org_7a1bc2de",
			"permissions": []any{"read:orders", "create:orders"}, "scp": []any{"openid", "profile", "email", "offline"},
			"is_paid": true,
		},
		fail: map[string]any{
			"sub": "kp_9d1f0e2c3b4a", "aud": []any{"https://api.example.com"}, "org_code": "org_7a1bc2de",
			"permissions": []any{"read:orders"}, "scp": []any{"openid", "read:orders"},
			"is_paid": "true", // a string, not the boolean the workflow sets
		},
		failReason: "claim_mismatch",
		forwarded:  map[string]string{"X-User-Id": "kp_9d1f0e2c3b4a", "X-Org-Code": "org_7a1bc2de"},
	},
	{
		file: "auth0.yaml", issVar: "AUTH0_ISSUER_URL", issPath: "/auth0/",
		pass: map[string]any{
			"sub": "auth0|6553da60a54af58e29493993", "aud": []any{"https://api.example.com", "https://example.eu.auth0.com/userinfo"},
			"scope": "openid profile read:orders", "https://example.com/roles": []any{"support"},
		},
		fail: map[string]any{
			"sub": "auth0|6553da60a54af58e29493993", "aud": "https://api.example.com",
			"scope": "openid profile read:orders", "https://example.com/roles": []any{"viewer"},
		},
		failReason: "claim_mismatch",
		forwarded:  map[string]string{"X-User-Id": "auth0|6553da60a54af58e29493993"},
	},
	{
		file: "keycloak.yaml", issVar: "KEYCLOAK_ISSUER_URL", issPath: "/realms/shop",
		pass: map[string]any{
			"sub": "36fa0f91-f94d-4a0c-afed-6b7d952e47da", "aud": []any{"orders-api", "account"}, "preferred_username": "alice",
			"realm_access":    map[string]any{"roles": []any{"offline_access", "uma_authorization", "staff"}},
			"resource_access": map[string]any{"orders-api": map[string]any{"roles": []any{"reader"}}},
			"scope":           "openid email profile",
		},
		fail: map[string]any{
			"sub": "36fa0f91-f94d-4a0c-afed-6b7d952e47da", "aud": []any{"orders-api", "account"}, "preferred_username": "alice",
			"realm_access":    map[string]any{"roles": []any{"offline_access", "uma_authorization"}},
			"resource_access": map[string]any{"orders-api": map[string]any{"roles": []any{"reader"}}},
		},
		failReason: "claim_mismatch",
		forwarded:  map[string]string{"X-User-Id": "36fa0f91-f94d-4a0c-afed-6b7d952e47da", "X-User-Name": "alice"},
	},
	{
		file: "entra.yaml", issVar: "ENTRA_ISSUER_URL", issPath: "/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
		pass: map[string]any{ // an app-only token: an app role, no scp
			"aud": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
			"tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "sub": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
			"roles": []any{"Orders.Read.All"}, "azp": "9ba1a5c7-f17a-4de9-a1f1-6178c8d51223", "ver": "2.0",
		},
		fail: map[string]any{ // a user token for another permission
			"aud": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
			"tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
			"scp": "User.Read", "ver": "2.0",
		},
		failReason: "insufficient_scope",
		forwarded:  map[string]string{"X-User-Id": "690222be-ff1a-4d56-abd1-7e4f7d38e474", "X-Tenant-Id": "72f988bf-86f1-41af-91ab-2d7cd011db47"},
	},
	{
		file: "okta.yaml", issVar: "OKTA_ISSUER_URL", issPath: "/oauth2/default",
		pass: map[string]any{
			"ver": 1, "aud": "api://default", "cid": "0oa1b2c3d4e5f6g7h8i9", "uid": "00u1a2b3c4d5e6f7g8h9",
			"sub": "alice@example.com", "scp": []any{"openid", "orders:read"}, "groups": []any{"Everyone", "Order Clerks"},
		},
		fail: map[string]any{
			"ver": 1, "aud": "api://default", "cid": "0oa1b2c3d4e5f6g7h8i9", "uid": "00u1a2b3c4d5e6f7g8h9",
			"sub": "alice@example.com", "scp": []any{"openid", "orders:write"}, "groups": []any{"Order Admins"},
		},
		failReason: "insufficient_scope",
		forwarded:  map[string]string{"X-User-Id": "00u1a2b3c4d5e6f7g8h9"},
	},
}

// TestCookbookInDocs keeps the policy cookbook and the tested snippets
// identical: each testdata/cookbook file must appear verbatim in
// docs/policy-cookbook.md as a ```yaml block.
func TestCookbookInDocs(t *testing.T) {
	cookbook, err := os.ReadFile("../../docs/policy-cookbook.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cookbookCases {
		t.Run(tc.file, func(t *testing.T) {
			snippet := readSnippet(t, tc.file)
			if !bytes.Contains(cookbook, []byte("```yaml\n"+snippet+"```\n")) {
				t.Errorf("docs/policy-cookbook.md does not contain testdata/cookbook/%s verbatim in a ```yaml block", tc.file)
			}
		})
	}
}

// TestCookbook loads each snippet as it is written (the issuer and upstream
// come from the environment, as the cookbook shows), serves it in front of a
// real issuer and echo upstream, and sends one token that the snippet lets
// through and one it refuses.
func TestCookbook(t *testing.T) {
	k := fixtureKeys(t)
	// One server holds every provider's issuer, each under a path shaped
	// like that provider's.
	srv := testkit.NewIssuer(t)
	base := srv.URL
	key := testkit.Key{KID: "rsa-1", Alg: "RS256", Private: k.rsa, PublishAlg: true}
	for _, tc := range cookbookCases {
		is := srv.Mount(strings.TrimSuffix(tc.issPath, "/"), key)
		if strings.HasSuffix(tc.issPath, "/") { // Auth0's iss ends in a slash
			is.SetDiscoveryIssuer(base + tc.issPath)
		}
	}
	echo, err := demo.NewEcho("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = echo.Close() })

	for _, tc := range cookbookCases {
		t.Run(tc.file, func(t *testing.T) {
			env := map[string]string{
				tc.issVar: base + tc.issPath, "UPSTREAM_URL": echo.URL,
				"AUTHGATE_LISTEN": "127.0.0.1:0", "AUTHGATE_ADMIN_LISTEN": "127.0.0.1:0",
			}
			cfg, err := config.Parse(tc.file, []byte(readSnippet(t, tc.file)), func(name string) (string, bool) {
				v, ok := env[name]
				return v, ok
			})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			logs := &testkit.LogBuffer{}
			gw := serveCookbook(t, cfg, slog.New(slog.NewJSONHandler(logs, nil)))
			token := func(c map[string]any) string {
				now := time.Now().Unix()
				p := map[string]any{"iss": base + tc.issPath, "iat": now, "exp": now + 3600}
				for k, v := range c {
					p[k] = v
				}
				return testkit.SignJWS(t, "RS256", k.rsa, map[string]any{"kid": "rsa-1", "typ": "JWT"}, jsonOf(t, p))
			}

			res := cookbookGet(t, gw+"/api/orders/17", token(tc.pass), "pass-"+tc.file)
			if res.status != http.StatusOK {
				t.Fatalf("pass token: got %d %s (log: %s), want 200", res.status, res.body, logs.Access(t, "pass-"+tc.file)["reason"])
			}
			for name, want := range tc.forwarded {
				if got := strings.Join(res.echo.Headers[name], ","); got != want {
					t.Errorf("upstream %s: got %q, want %q", name, got, want)
				}
			}

			failTok := token(tc.fail)
			res = cookbookGet(t, gw+"/api/orders/17", failTok, "fail-"+tc.file)
			if res.status != http.StatusForbidden || !strings.Contains(res.body, `"error":"insufficient_scope"`) {
				t.Errorf("fail token: got %d %s, want 403 insufficient_scope", res.status, res.body)
			}
			if s := tokenLeak(failTok, res.body); s != "" {
				t.Errorf("response quotes the token: %q", s)
			}
			if got := logs.Access(t, "fail-"+tc.file)["reason"]; got != tc.failReason {
				t.Errorf("access log reason: got %q, want %q", got, tc.failReason)
			}
		})
	}
}

func readSnippet(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cookbook", file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// serveCookbook runs Serve with cfg on the listeners cfg names and returns
// the gateway's base URL once its issuer's keys are in (/readyz 200).
func serveCookbook(t *testing.T, cfg *config.Config, logger *slog.Logger) string {
	t.Helper()
	gw, admin, _ := serveConfig(t, cfg, logger)
	waitReady(t, admin)
	return gw
}

type cookbookResult struct {
	status int
	body   string
	echo   demo.Echoed
}

func cookbookGet(t *testing.T, url, token, requestID string) cookbookResult {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Request-Id", requestID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	res := cookbookResult{status: resp.StatusCode, body: b.String()}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b.Bytes(), &res.echo); err != nil {
			t.Fatalf("upstream body %q: %v", b.String(), err)
		}
	}
	return res
}
