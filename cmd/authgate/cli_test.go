package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testkit"
)

// runBinary runs the real binary with args in an environment of env alone
// (plus PATH), and returns its stdout, stderr and exit code.
func runBinary(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(testkit.Binary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestBinaryHelpAndVersion(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stdout string // a part of stdout
		stderr string // a part of stderr, "" for nothing at all
		code   int
	}{
		{"-h", []string{"-h"}, "Usage:\n  authgate serve", "", 0},
		{"--help", []string{"--help"}, "Usage:\n  authgate serve", "", 0},
		{"help", []string{"help"}, "Usage:\n  authgate serve", "", 0},
		{"help check", []string{"help", "check"}, "Usage: authgate check [-config FILE]", "", 0},
		{"help demo lists its flags", []string{"help", "demo"}, "-admin-listen", "", 0},
		{"help of an unknown command", []string{"help", "frob"}, "", `help: unknown command "frob"`, 2},
		{"check -h", []string{"check", "-h"}, "", "Usage: authgate check [-config FILE]", 0},
		// Regression: help explain printed the flag package's "Usage of explain:".
		{"help explain", []string{"help", "explain"}, "Usage: authgate explain [-config FILE]", "", 0},
		{"version", []string{"version"}, "authgate ", "", 0},
		{"--version", []string{"--version"}, "authgate ", "", 0},
		{"-version", []string{"-version"}, "authgate ", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := runBinary(t, nil, tt.args...)
			if code != tt.code {
				t.Errorf("exit code: got %d, want %d\nstderr: %s", code, tt.code, errs)
			}
			if !strings.Contains(out, tt.stdout) {
				t.Errorf("stdout: got\n%s\nwant it to contain %q", out, tt.stdout)
			}
			if tt.stderr == "" && errs != "" || !strings.Contains(errs, tt.stderr) {
				t.Errorf("stderr: got\n%s\nwant %q", errs, tt.stderr)
			}
		})
	}
}

// Regression: "authgate check config.yaml" printed the whole usage text,
// which buried the one thing to change.
//
// A bad flag is one line too, rather than the flag package's usage and then
// the whole usage again.
func TestBinaryPositionalArgument(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"check", []string{"check", "config.yaml"}, `authgate: check: unexpected argument "config.yaml"; to use a configuration file, write: authgate check -config config.yaml` + "\n"},
		{"serve", []string{"serve", "config.yaml"}, `authgate: serve: unexpected argument "config.yaml"; to use a configuration file, write: authgate serve -config config.yaml` + "\n"},
		{"demo", []string{"demo", "now"}, `authgate: demo: unexpected argument "now"; see: authgate help demo` + "\n"},
		{"unknown flag", []string{"check", "-x"}, "authgate: check: flag provided but not defined: -x; see: authgate help check\n"},
		{"explain: unknown flag", []string{"explain", "-x"}, "authgate: explain: flag provided but not defined: -x; see: authgate help explain\n"},
		{"flag without its value", []string{"check", "-config"}, "authgate: check: flag needs an argument: -config; see: authgate help check\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := runBinary(t, nil, tt.args...)
			if code != exitUsage {
				t.Errorf("exit code: got %d, want %d", code, exitUsage)
			}
			if out != "" || errs != tt.want {
				t.Errorf("got stdout %q, stderr %q; want stderr %q alone", out, errs, tt.want)
			}
		})
	}
}

// TestBinaryCheckEveryPhase: one run of check reports the file's decode,
// validation and build problems together, each at its line.
func TestBinaryCheckEveryPhase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	missing := filepath.Join(dir, "no-such-secret")
	src := `issuers:
  - name: main
    issuer: https://idp.example.com
    audiance: [api]
credentials:
  - name: billing
    client_credentials:
      token_url: https://idp.example.com/token
      client_id: gw
      client_secret_file: ` + missing + `
routes:
  - name: api
    match: { path_prefix: /api }
    upstream: { url: "localhost:3000", credentials: billing }
    auth: { mode: required, scopes: [read] }
log: { level: loud }
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errs, code := runBinary(t, nil, "check", "-config", path)
	if code != exitError {
		t.Errorf("exit code: got %d, want %d", code, exitError)
	}
	for _, want := range []string{
		path + ":4: issuers[0].audiance: unknown field; did you mean audiences?\n",
		path + ":10: credentials[0].client_credentials.client_secret_file: client secret unavailable: open " + missing,
		path + ":14: routes[0].upstream.url: must be an absolute URL; write http://localhost:3000\n",
		path + ":16: log.level: must be debug, info, warn or error\n",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr: got\n%s\nwant it to contain %q", errs, want)
		}
	}
	if strings.Contains(errs, "audiences: ") {
		t.Errorf("stderr reports the misspelt field as missing too:\n%s", errs)
	}
}

// TestBinaryBusyPort: a listener that cannot be opened names what sets its
// address, in the file, in the environment and in the demo.
func TestBinaryBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	is := testkit.NewIssuer(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	src := "server: { listen: \"" + busy + "\", admin_listen: \"127.0.0.1:0\" }\n" +
		"issuers: [{ name: main, issuer: \"" + is.URL + "\", audiences: [api] }]\n" +
		"routes: [{ name: api, match: { path_prefix: / }, upstream: { url: \"http://127.0.0.1:1\" } }]\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	sidecar := []string{"AUTHGATE_UPSTREAM=http://127.0.0.1:1", "AUTHGATE_ISSUER=" + is.URL, "AUTHGATE_AUDIENCE=api"}
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"file", nil, []string{"serve", "-config", path},
			"listen " + busy + ": listen tcp " + busy + ": bind: address already in use; set server.listen (or AUTHGATE_LISTEN) to another address"},
		{"environment", append(sidecar, "AUTHGATE_LISTEN="+busy, "AUTHGATE_ADMIN_LISTEN=127.0.0.1:0"), []string{"serve"},
			"; set AUTHGATE_LISTEN to another address"},
		{"admin in the environment", append(sidecar, "AUTHGATE_LISTEN=127.0.0.1:0", "AUTHGATE_ADMIN_LISTEN="+busy), []string{"serve"},
			"admin listen " + busy + ": listen tcp " + busy + ": bind: address already in use; set AUTHGATE_ADMIN_LISTEN to another address"},
		{"demo", nil, []string{"demo", "-listen", busy, "-admin-listen", "127.0.0.1:0"},
			"; set -listen to another address"},
		{"demo admin", nil, []string{"demo", "-listen", "127.0.0.1:0", "-admin-listen", busy},
			"; set -admin-listen to another address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs, code := runBinary(t, tt.env, tt.args...)
			if code != exitError {
				t.Errorf("exit code: got %d, want %d", code, exitError)
			}
			if !strings.Contains(errs, tt.want) {
				t.Errorf("stderr: got\n%s\nwant it to contain %q", errs, tt.want)
			}
		})
	}
}
