package main

import (
	"bufio"
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

	"github.com/authgate/authgate/internal/testkit"

	"github.com/authgate/authgate/internal/demo"
)

// buildBinary compiles cmd/authgate once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "authgate")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is the running binary with its stderr (JSON logs) scanned.
type process struct {
	cmd    *exec.Cmd
	lines  chan string
	stdout *testkit.LogBuffer
	done   chan error
}

func start(t *testing.T, bin string, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, lines: make(chan string, 1024), stdout: &testkit.LogBuffer{}, done: make(chan error, 1)}
	cmd.Stdout = p.stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	return p
}

// waitLog returns the first JSON log line whose msg is msg, failing after a deadline.
func (p *process) waitLog(t *testing.T, msg string) map[string]any {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("process exited before logging %q", msg)
			}
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
				return m
			}
		case <-deadline:
			t.Fatalf("no log line %q within 20s", msg)
		}
	}
}

func (p *process) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatal("process did not exit within 30s")
		return -1
	}
}

func waitReady(t *testing.T, admin string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("gateway not ready within 20s")
}

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
	bin := buildBinary(t)
	is, err := demo.NewIssuer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
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

	p := start(t, bin, env, "serve", "-config", cfgPath)
	listening := p.waitLog(t, "authgate listening")
	gw, admin := "http://"+listening["listen"].(string), listening["admin"].(string)
	waitReady(t, admin)

	good, _ := is.Token(map[string]any{"sub": "alice", "aud": "e2e-api"}, time.Hour)
	expired, _ := is.Token(map[string]any{"sub": "alice", "aud": "e2e-api"}, -time.Hour)
	wrongAud, _ := is.Token(map[string]any{"sub": "alice", "aud": "other"}, time.Hour)

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
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLog(t, "configuration reload failed; the previous configuration keeps serving")
	if resp, _ := get(t, gw+"/api/orders", good, nil); resp.StatusCode != 200 {
		t.Errorf("after failed reload: got %d, want 200", resp.StatusCode)
	}

	// SIGHUP with a valid file adds a public route.
	public := "  - name: public\n    match: { path_prefix: /public }\n    upstream: { url: \"${UPSTREAM}\" }\n    auth: { mode: none }\n"
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(e2eConfig, public)), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLog(t, "configuration reloaded")
	if resp, body := get(t, gw+"/public/x", "", nil); resp.StatusCode != 200 {
		t.Errorf("after reload, public route: got %d, want 200: %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, gw+"/api/orders", good, nil); resp.StatusCode != 200 {
		t.Errorf("after reload, api route (cached keys kept): got %d, want 200", resp.StatusCode)
	}

	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code after SIGTERM: got %d, want 0", code)
	}
}

// TestBinaryDemo runs `authgate demo` as the README tells a new user to, and
// replays its printed curl commands.
func TestBinaryDemo(t *testing.T) {
	bin := buildBinary(t)
	p := start(t, bin, nil, "demo", "-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0")
	// The demo logs in text; wait for its printed intro on stdout instead.
	deadline := time.Now().Add(20 * time.Second)
	var intro string
	for time.Now().Before(deadline) {
		intro = p.stdout.String()
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
	waitReady(t, admin[1])

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
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t); code != 0 {
		t.Fatalf("demo exit code after SIGINT: got %d, want 0", code)
	}
}
