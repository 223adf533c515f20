package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/demo"
	"github.com/authgate/authgate/internal/testkit"
)

// TestBinarySidecar runs the real binary in environment-only mode with the
// sidecar variables a Kinde user needs (scopes in permissions, a required
// boolean claim, at+jwt tokens, the client's token kept from the upstream,
// CORS for a browser app) and sends it real tokens.
func TestBinarySidecar(t *testing.T) {
	bin := testkit.Binary(t)
	is := testkit.NewIssuer(t)
	up, err := demo.NewEcho("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()

	p := testkit.Start(t, bin, []string{
		"AUTHGATE_CONFIG=",
		"AUTHGATE_UPSTREAM=" + up.URL,
		"AUTHGATE_ISSUER=" + is.URL,
		"AUTHGATE_AUDIENCE=shop-api",
		"AUTHGATE_SCOPE_CLAIMS=permissions",
		"AUTHGATE_SCOPES=read:orders",
		`AUTHGATE_CLAIMS={"lifetime_subscriber":true}`,
		"AUTHGATE_TOKEN_TYPES=at+jwt",
		"AUTHGATE_AUTHORIZATION=strip",
		"AUTHGATE_FORWARD_HEADERS=X-User-Id=sub",
		"AUTHGATE_CORS_ALLOWED_ORIGINS=https://app.example.com",
		"AUTHGATE_LISTEN=127.0.0.1:0",
		"AUTHGATE_ADMIN_LISTEN=127.0.0.1:0",
		"AUTHGATE_LOG_FORMAT=json",
		// A typo, and what Kubernetes sets for a Service named authgate.
		"AUTHGATE_ALGORITHM=RS256",
		"AUTHGATE_SERVICE_HOST=10.0.0.1",
		"AUTHGATE_SERVICE_PORT=8080",
		"AUTHGATE_PORT=tcp://10.0.0.1:8080",
		"AUTHGATE_PORT_8080_TCP_ADDR=10.0.0.1",
	}, "serve")
	p.WaitLog(t, "environment: AUTHGATE_ALGORITHM is not a variable authgate reads; did you mean AUTHGATE_ALGORITHMS?")
	gw, admin := p.Listening(t)
	testkit.WaitReady(t, admin)
	for _, name := range []string{"AUTHGATE_SERVICE_", "AUTHGATE_PORT"} {
		if strings.Contains(p.Stderr.String(), name) {
			t.Errorf("stderr mentions %s, which Kubernetes sets:\n%s", name, p.Stderr)
		}
	}

	key := is.Keys()[0]
	token := func(typ string, claims map[string]any) string {
		c := map[string]any{"iss": is.URL, "sub": "alice", "aud": "shop-api", "iat": time.Now().Unix(),
			"exp": time.Now().Add(time.Hour).Unix(), "permissions": []string{"read:orders"}, "lifetime_subscriber": true}
		for k, v := range claims {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		payload, _ := json.Marshal(c)
		hdr := map[string]any{"kid": key.KID}
		if typ != "" {
			hdr["typ"] = typ
		}
		return testkit.SignJWS(t, key.Alg, key.Private, hdr, payload)
	}

	good := token("at+jwt", nil)
	resp, body := get(t, gw+"/orders", good, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("valid token: got %d, want 200: %s", resp.StatusCode, body)
	}
	var echoed demo.Echoed
	if err := json.Unmarshal(body, &echoed); err != nil {
		t.Fatal(err)
	}
	if got := echoed.Headers["Authorization"]; got != nil {
		t.Errorf("upstream Authorization: got %q, want none (AUTHGATE_AUTHORIZATION=strip)", got)
	}
	if got := echoed.Headers["X-User-Id"]; len(got) != 1 || got[0] != "alice" {
		t.Errorf("upstream X-User-Id: got %q, want [alice]", got)
	}

	for _, tc := range []struct {
		name, token string
		status      int
	}{
		{"scope only in scope, not in permissions", token("at+jwt", map[string]any{"permissions": nil, "scope": "read:orders"}), 403},
		{"required boolean claim false", token("at+jwt", map[string]any{"lifetime_subscriber": false}), 403},
		{"required boolean claim a string", token("at+jwt", map[string]any{"lifetime_subscriber": "true"}), 403},
		{"no typ", token("", nil), 401},
		{"typ JWT", token("JWT", nil), 401},
	} {
		resp, body := get(t, gw+"/orders", tc.token, nil)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: got %d, want %d: %s", tc.name, resp.StatusCode, tc.status, body)
		}
	}

	// A browser's preflight is answered by the gateway, without a token.
	req, _ := http.NewRequest(http.MethodOptions, gw+"/orders", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "authorization")
	pre, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pre.Body.Close()
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("preflight: got %d with Access-Control-Allow-Origin %q, want 204 with the origin",
			pre.StatusCode, pre.Header.Get("Access-Control-Allow-Origin"))
	}
}
