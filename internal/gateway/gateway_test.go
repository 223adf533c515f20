package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/demo"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/testkit"
)

// serveTest runs Serve in the background on loopback and returns the
// gateway and admin base URLs and a stop function that waits for Serve.
// It does not wait for key sets: see serveReady.
func serveTest(t testing.TB, yaml string) (gw, admin string, stop func() error) {
	t.Helper()
	return serveConfig(t, parseConfig(t, yaml), slog.New(slog.DiscardHandler))
}

// serveReady is serveTest followed by waitReady.
func serveReady(t testing.TB, yaml string) (gw, admin string) {
	t.Helper()
	gw, admin, _ = serveTest(t, yaml)
	waitReady(t, admin)
	return gw, admin
}

// waitReady polls /readyz until the gateway has its issuers' keys, so that
// no test request meets a 503 from a key set still being fetched.
func waitReady(t testing.TB, admin string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not ready within 15s (last: %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitReadyz polls /readyz until it answers status with a body containing
// every one of subs, and returns that body.
func waitReadyz(t testing.TB, admin string, status int, subs ...string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for {
		resp, err := http.Get(admin + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
			ok := resp.StatusCode == status
			for _, s := range subs {
				ok = ok && strings.Contains(string(b), s)
			}
			if ok {
				return string(b)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz: no %d containing %q within 15s (last: %s %v)", status, subs, last, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// parseConfig parses yaml as the file test.yaml with an empty environment.
func parseConfig(t testing.TB, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// serveConfig runs Serve with cfg (on the listeners it names) and logger.
func serveConfig(t testing.TB, cfg *config.Config, logger *slog.Logger) (gw, admin string, stop func() error) {
	t.Helper()
	return serveClock(t, cfg, logger, nil)
}

// serveClock is serveConfig with now as the gateway's clock (nil:
// time.Now).
func serveClock(t testing.TB, cfg *config.Config, logger *slog.Logger, now func() time.Time) (gw, admin string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- gateway.Serve(ctx, gateway.Options{
			Config: cfg,
			Logger: logger,
			Ready:  func(l, a net.Addr) { ready <- [2]net.Addr{l, a} },
			Now:    now,
		})
	}()
	select {
	case addrs := <-ready:
		gw, admin = "http://"+addrs[0].String(), "http://"+addrs[1].String()
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not start")
	}
	var stopped bool
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			return fmt.Errorf("Serve did not return")
		}
	}
	t.Cleanup(func() { _ = stop() })
	return gw, admin, stop
}

func fetch(t *testing.T, method, url, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestIssuerDownAtStart: the gateway listens at once although its issuer is
// down, answers 503 with Retry-After and is not ready; when the issuer comes
// up, the background fetch recovers without a restart (docs/reference.md §5).
func TestIssuerDownAtStart(t *testing.T) {
	is := testkit.NewIssuer(t)
	// The issuer answers 503 until the test clears the fault.
	is.SetFault(testkit.ErrorFault(http.StatusServiceUnavailable))
	up, err := demo.NewEcho("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()

	gw, admin, _ := serveTest(t, fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
issuers:
  - { name: flaky, issuer: %q, jwks_url: %q, audiences: [api] }
routes:
  - { name: api, match: { path_prefix: / }, upstream: { url: %q } }
`, is.URL, is.JWKSURL(), up.URL))

	token := is.Token(t, is.Keys()[0], map[string]any{"sub": "alice", "aud": "api"})
	resp, body := fetch(t, "GET", gw+"/x", token)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("issuer down: got %d, want 503: %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	var e struct{ Error string }
	if json.Unmarshal([]byte(body), &e); e.Error != "temporarily_unavailable" {
		t.Errorf("error code: got %q, want temporarily_unavailable", e.Error)
	}
	resp, body = fetch(t, "GET", admin+"/readyz", "")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "flaky") {
		t.Errorf("readyz while issuer down: got %d %s, want 503 naming the issuer", resp.StatusCode, body)
	}
	if resp, _ := fetch(t, "GET", admin+"/healthz", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: got %d, want 200", resp.StatusCode)
	}

	is.SetFault(nil)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, _ := fetch(t, "GET", admin+"/readyz", "")
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready 15s after the issuer came up")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp, body := fetch(t, "GET", gw+"/x", token); resp.StatusCode != http.StatusOK {
		t.Errorf("after recovery: got %d, want 200: %s", resp.StatusCode, body)
	}
}

// TestDiscoveryIssuerMismatch: a discovery document that names another
// issuer fails the fetch (docs/reference.md §2.1): the issuer is not ready and
// /readyz says why, requests get 503, the document's jwks_uri is never
// fetched and each failure is logged at error level. Once the document is
// right the next retry recovers, without a restart.
func TestDiscoveryIssuerMismatch(t *testing.T) {
	is := testkit.NewIssuer(t)
	is.SetDiscoveryIssuer("https://evil.example")
	up, err := demo.NewEcho("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	logs := &testkit.LogBuffer{}
	gw, admin, _ := serveConfig(t, parseConfig(t, fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
log: { access: false }
issuers:
  - name: disc
    issuer: %q
    audiences: [api]
    jwks: { refresh_interval: 50ms, min_refresh_interval: 10ms, max_stale: 200ms }
routes:
  - { name: api, match: { path_prefix: / }, upstream: { url: %q } }
`, is.URL, up.URL)), slog.New(slog.NewJSONHandler(logs, nil)))

	body := waitReadyz(t, admin, http.StatusServiceUnavailable, `issuer \"disc\"`, `names issuer \"https://evil.example\"`)
	if !strings.Contains(body, is.URL) {
		t.Errorf("readyz: got %s, want it to name the configured issuer %q", body, is.URL)
	}
	token := is.Token(t, is.Keys()[0], map[string]any{"sub": "alice", "aud": "api"})
	resp, b := fetch(t, "GET", gw+"/x", token)
	var e struct{ Error string }
	_ = json.Unmarshal([]byte(b), &e)
	if resp.StatusCode != http.StatusServiceUnavailable || e.Error != "temporarily_unavailable" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("request: got %d %q (Retry-After %q), want 503 temporarily_unavailable with Retry-After",
			resp.StatusCode, b, resp.Header.Get("Retry-After"))
	}
	if got := is.Hits(testkit.JWKSPath); got != 0 {
		t.Errorf("got %d requests to the document's jwks_uri, want 0", got)
	}
	lines := logs.Lines(t, "key set fetch failed; no keys yet")
	if len(lines) == 0 {
		t.Fatalf("no fetch failure logged:\n%s", logs)
	}
	for _, l := range lines {
		if l["level"] != "ERROR" || l["issuer"] != "disc" || !strings.Contains(fmt.Sprint(l["err"]), is.URL) {
			t.Errorf("got log line %v, want level ERROR, issuer disc and both issuers named", l)
		}
	}

	is.SetDiscoveryIssuer(is.URL)
	waitReady(t, admin)
	if resp, b := fetch(t, "GET", gw+"/x", token); resp.StatusCode != http.StatusOK {
		t.Errorf("after the document was fixed: got %d %s, want 200", resp.StatusCode, b)
	}
}

// TestGracefulShutdown: on shutdown /readyz turns 503 at once and an
// in-flight request still completes.
func TestGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		io.WriteString(w, "done")
	}))
	defer slow.Close()

	gw, admin, stop := serveTest(t, fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", shutdown_timeout: 10s }
routes:
  - { name: public, match: { path_prefix: / }, upstream: { url: %q }, auth: { mode: none } }
`, slow.URL))
	if resp, _ := fetch(t, "GET", admin+"/readyz", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz with no issuers in use: got %d, want 200", resp.StatusCode)
	}

	inflight := make(chan string, 1)
	go func() {
		resp, err := http.Get(gw + "/slow")
		if err != nil {
			inflight <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		inflight <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	<-arrived
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()

	// While the in-flight request drains, the admin listener still answers
	// and says not ready.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(admin + "/readyz")
		if err != nil {
			t.Fatalf("readyz during drain: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz during drain: got %d, want 503", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if got := <-inflight; got != "200 done" {
		t.Errorf("in-flight request: got %q, want %q", got, "200 done")
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
