package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testkit"
)

// TestCheck: check prints each problem as FILE:LINE: PATH: MESSAGE, the
// constructors' rules included, and exits 1; a valid file is described and
// exits 0.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	const src = `issuers:
  - name: main
    issuer: https://idp.example.com/?tenant=1
    audiences: [api]
routes:
  - name: api
    match: { path_prefix: /api, methods: [get] }
    upstream:
      url: ftp://api
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"check", "-config", path}, &out, &errb)
	if code != exitError {
		t.Errorf("exit code: got %d, want %d", code, exitError)
	}
	want := "authgate: " + path + ":3: issuers[0].issuer: must not have a query or fragment " +
		"(with jwks_url empty, the key set is discovered at {issuer}/.well-known/openid-configuration)\n" +
		path + ":7: routes[0].match.methods[0]: must be an uppercase HTTP method such as GET\n" +
		path + ":9: routes[0].upstream.url: scheme must be http or https\n"
	if got := errb.String(); got != want {
		t.Errorf("stderr: got\n%s\nwant\n%s", got, want)
	}

	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"check", "-config", "../../config.example.yaml"}, &out, &errb); code != exitOK {
		t.Fatalf("example: exit code %d, want %d: %s", code, exitOK, errb.String())
	}
	if !strings.HasSuffix(out.String(), "../../config.example.yaml: configuration OK\n") {
		t.Errorf("example: got\n%s\nwant it to end with the verdict", out.String())
	}
}

// TestCheckCredentials: check lists a client_credentials credential without
// its secret or the token URL's query, and reports a secret file that
// cannot be read at its line, naming the file and nothing in it.
func TestCheckCredentials(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "billing")
	path := filepath.Join(dir, "config.yaml")
	src := `credentials:
  - name: billing
    client_credentials:
      token_url: "https://idp.example.com/token?key=hidden"
      client_id: gw
      client_secret_file: ` + secret + `
      scopes: [invoices:read]
routes:
  - { name: api, match: { path_prefix: / }, upstream: { url: "http://api", credentials: billing }, auth: { mode: none } }
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"check", "-config", path}, &out, &errb); code != exitError {
		t.Errorf("missing secret: exit code %d, want %d", code, exitError)
	}
	if want := path + ":6: credentials[0].client_credentials.client_secret_file: client secret unavailable: open " + secret; !strings.Contains(errb.String(), want) {
		t.Errorf("missing secret: got\n%s\nwant it to contain %q", errb.String(), want)
	}

	const value = "do-not-print-me"
	if err := os.WriteFile(secret, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"check", "-config", path}, &out, &errb); code != exitOK {
		t.Fatalf("exit code %d, want %d: %s", code, exitOK, errb.String())
	}
	for _, want := range []string{"credentials (1):\n  billing\n", "token url   https://idp.example.com/token\n", "client id   gw\n", "auth        client_secret_basic\n", "scopes      invoices:read\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("got\n%s\nwant it to contain %q", out.String(), want)
		}
	}
	for _, leak := range []string{value, "hidden"} {
		if strings.Contains(out.String()+errb.String(), leak) {
			t.Errorf("check output holds %q:\n%s", leak, out.String())
		}
	}
}

// TestBinaryCheckPrintsVerdictSettings: `authgate check`, through the real
// binary, prints every resolved setting that decides a verdict: the
// issuer's scope_claims, required_claims, token_types, clock_skew, the
// route's rules and the cors block, defaults filled in.
func TestBinaryCheckPrintsVerdictSettings(t *testing.T) {
	bin := testkit.Binary(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	const src = `issuers:
  - name: kinde
    issuer: https://example.kinde.com
    audiences: [https://api.example.com]
    scope_claims: [permissions]
    token_types: [at+jwt]
cors:
  allowed_origins: [https://app.example.com]
routes:
  - name: api
    match: { path_prefix: /api }
    upstream: { url: "http://api:8080" }
    auth: { scopes: [read:orders], any_scopes: [a, b], claims: { org_code: org_1 } }
    forward: { headers: { X-User-Id: sub } }
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "check", "-config", path).CombinedOutput()
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	assertInOrder(t, string(out), []string{
		"  kinde\n",
		"    algorithms       RS256,",
		"    clock_skew       30s\n",
		"    required_claims  exp\n",
		"    token_types      at+jwt\n",
		"    scope_claims     permissions\n",
		"cors:\n",
		"  allowed_origins    https://app.example.com\n",
		"  allow_credentials  off\n",
		"  max_age            10m\n",
		"  1. api\n",
		"     issuers        all: kinde\n",
		"     audiences      the issuer's\n",
		"     scopes         all of read:orders; any of a b\n",
		`     claims         org_code: "org_1"` + "\n",
		"     forward        X-User-Id=sub\n",
		"     authorization  keep\n",
		"configuration OK\n",
	})
}
