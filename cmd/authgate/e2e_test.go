package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/demo"
	"github.com/authgate/authgate/internal/testkit"
)

func get(t *testing.T, url, token string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

const e2eConfig = `
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", shutdown_timeout: 5s }
log: { format: json }
issuers:
  - name: local
    issuer: ${ISSUER}
    audiences: [e2e-api]
routes:
  - name: api
    match: { path_prefix: /api }
    upstream: { url: "${UPSTREAM}/base", strip_prefix: true }
    forward:
      headers: { X-User-Id: sub }
%s`

// TestBinaryEndToEnd starts the real binary with a config file, sends real
// tokens through it, reloads it with SIGHUP and stops it with SIGTERM.
func TestBinaryEndToEnd(t *testing.T) {
	bin := testkit.Binary(t)
	is := testkit.NewIssuer(t)
	up, err := demo.NewEcho("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()

	cfgPath := filepath.Join(t.TempDir(), "authgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(e2eConfig, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"ISSUER=" + is.URL, "UPSTREAM=" + up.URL}

	// check accepts it and prints the route.
	check := exec.Command(bin, "check", "-config", cfgPath)
	check.Env = append(os.Environ(), env...)
	out, err := check.CombinedOutput()
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "configuration OK") {
		t.Errorf("check output lacks the verdict:\n%s", out)
	}

	p := testkit.Start(t, bin, env, "serve", "-config", cfgPath)
	listening := p.WaitLog(t, "authgate listening")
	gw, admin := "http://"+listening["listen"].(string), listening["admin"].(string)
	testkit.WaitReady(t, admin)

	key, now := is.Keys()[0], time.Now()
	good := is.Token(t, key, map[string]any{"sub": "alice", "aud": "e2e-api"})
	expired := is.Token(t, key, map[string]any{"sub": "alice", "aud": "e2e-api",
		"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})
	wrongAud := is.Token(t, key, map[string]any{"sub": "alice", "aud": "other"})

	resp, body := get(t, gw+"/api/orders?x=1", good, map[string]string{"X-User-Id": "mallory"})
	if resp.StatusCode != 200 {
		t.Fatalf("valid token: got %d, want 200: %s", resp.StatusCode, body)
	}
	var echoed demo.Echoed
	if err := json.Unmarshal(body, &echoed); err != nil {
		t.Fatal(err)
	}
	if got := echoed.Headers["X-User-Id"]; len(got) != 1 || got[0] != "alice" {
		t.Errorf("upstream X-User-Id: got %q, want [alice] (client value must be replaced)", got)
	}
	if echoed.Path != "/base/orders" || echoed.Query != "x=1" {
		t.Errorf("upstream path: got %q?%q, want /base/orders?x=1", echoed.Path, echoed.Query)
	}

	for _, tc := range []struct {
		name, token string
		status      int
		wwwAuth     string
	}{
		{"missing", "", 401, `Bearer realm="authgate"`},
		{"expired", expired, 401, `error="invalid_token"`},
		{"wrong audience", wrongAud, 401, `error="invalid_token"`},
		{"garbage", "abc.def.ghi", 401, `error="invalid_token"`},
	} {
		resp, body := get(t, gw+"/api/orders", tc.token, nil)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: got %d, want %d: %s", tc.name, resp.StatusCode, tc.status, body)
		}
		if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, tc.wwwAuth) {
			t.Errorf("%s: WWW-Authenticate %q, want it to contain %q", tc.name, got, tc.wwwAuth)
		}
		if tc.token != "" && strings.Contains(string(body), tc.token[:min(len(tc.token), 20)]) {
			t.Errorf("%s: body echoes the token", tc.name)
		}
	}
	if resp, _ := get(t, gw+"/nothing", "", nil); resp.StatusCode != 404 {
		t.Errorf("unmatched: got %d, want 404", resp.StatusCode)
	}

	// SIGHUP with an invalid file keeps the old configuration.
	if err := os.WriteFile(cfgPath, []byte("routes: [ {"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = p.Cmd.Process.Signal(syscall.SIGHUP)
	p.WaitLog(t, "configuration reload failed; the previous configuration keeps serving")
	if resp, _ := get(t, gw+"/api/orders", good, nil); resp.StatusCode != 200 {
		t.Errorf("after failed reload: got %d, want 200", resp.StatusCode)
	}

	// SIGHUP with a valid file adds a public route.
	public := "  - name: public\n    match: { path_prefix: /public }\n    upstream: { url: \"${UPSTREAM}\" }\n    auth: { mode: none }\n"
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(e2eConfig, public)), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = p.Cmd.Process.Signal(syscall.SIGHUP)
	p.WaitLog(t, "configuration reloaded")
	if resp, body := get(t, gw+"/public/x", "", nil); resp.StatusCode != 200 {
		t.Errorf("after reload, public route: got %d, want 200: %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, gw+"/api/orders", good, nil); resp.StatusCode != 200 {
		t.Errorf("after reload, api route (cached keys kept): got %d, want 200", resp.StatusCode)
	}

	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	if code := p.Wait(t); code != 0 {
		t.Fatalf("exit code after SIGTERM: got %d, want 0", code)
	}
}

// TestBinaryDemo runs `authgate demo` as the README tells a new user to, and
// replays its printed curl commands.
func TestBinaryDemo(t *testing.T) {
	bin := testkit.Binary(t)
	p := testkit.Start(t, bin, nil, "demo", "-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0")
	// The demo logs in text; wait for its printed intro on stdout instead.
	deadline := time.Now().Add(20 * time.Second)
	var intro string
	for time.Now().Before(deadline) {
		intro = p.Stdout.String()
		if strings.Contains(intro, "Press Ctrl-C to stop.") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(intro, "Press Ctrl-C to stop.") {
		t.Fatalf("demo printed no intro within 20s:\n%s", intro)
	}
	admin := regexp.MustCompile(`admin\s+http://(\S+)`).FindStringSubmatch(intro)
	if admin == nil {
		t.Fatalf("no admin address in intro:\n%s", intro)
	}
	testkit.WaitReady(t, admin[1])

	tokens := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(\w+)_TOKEN=(\S+)$`).FindAllStringSubmatch(intro, -1) {
		tokens[m[1]] = m[2]
	}
	urls := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^curl -i -H "Authorization: Bearer \$(\w+)_TOKEN" '(\S+)'$`).FindAllStringSubmatch(intro, -1) {
		urls[m[1]] = m[2]
	}
	for _, tc := range []struct {
		name   string
		status int
	}{{"READER", 200}, {"ADMIN", 200}, {"EXPIRED", 401}} {
		if tokens[tc.name] == "" || urls[tc.name] == "" {
			t.Fatalf("intro lacks the %s token or its curl command:\n%s", tc.name, intro)
		}
		resp, body := get(t, urls[tc.name], tokens[tc.name], nil)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: got %d, want %d: %s", tc.name, resp.StatusCode, tc.status, body)
		}
	}
	gw := regexp.MustCompile(`gateway\s+(http://\S+)`).FindStringSubmatch(intro)[1]
	if resp, _ := get(t, gw+"/admin/x", tokens["READER"], nil); resp.StatusCode != 403 {
		t.Errorf("reader on /admin: got %d, want 403", resp.StatusCode)
	}
	if resp, _ := get(t, gw+"/public/x", "", nil); resp.StatusCode != 200 {
		t.Errorf("public: got %d, want 200", resp.StatusCode)
	}
	_ = p.Cmd.Process.Signal(syscall.SIGINT)
	if code := p.Wait(t); code != 0 {
		t.Fatalf("demo exit code after SIGINT: got %d, want 0", code)
	}
}
