package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
