package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/testkit"
)

const reloadYAML = `
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", shutdown_timeout: 5s }
log: { access: false }
issuers:
  - { name: main, issuer: %q, audiences: [api], jwks: { refresh_interval: %s } }
routes:
  - { name: req, match: { path_prefix: /req }, upstream: { url: %q }, forward: { headers: { X-User-Id: sub } } }
  - { name: %s, match: { path_prefix: /other }, upstream: { url: %q }, auth: { mode: none } }
`

// TestReloadUnderLoad: a bounded loop of requests runs while the gateway is
// reloaded several times, with valid and invalid configurations. No request
// fails, authgate_config_reloads_total counts both results, and once the
// clients are gone the goroutine count is back at its baseline: a swap
// leaks neither runtimes' jobs nor upstream connections.
func TestReloadUnderLoad(t *testing.T) {
	key := testkit.NewECKey(t, "ec-1")
	is := testkit.NewIssuer(t, key)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("X-User-Id"))
	}))
	defer up.Close()
	src := func(route, refresh string) string {
		return fmt.Sprintf(reloadYAML, is.URL, refresh, up.URL, route, up.URL)
	}

	// Each SIGHUP takes the next configuration. Valid ones rename the second
	// route and change the issuer's refresh_interval, so every successful
	// reload swaps in a new runtime with a new key cache: the old cache's
	// refresh job must stop, and the new one must serve the keys the old
	// one had until its own first fetch (regression: it held none, and
	// every token was answered 503 until then).
	steps := []string{src("b", "14m"), "routes: [ {", src("c", "13m"), src("d", "12m"), "issuers: 7", src("e", "11m")}
	var next atomic.Int32
	reload := func() (*config.Config, error) {
		s := steps[int(next.Add(1))-1]
		return config.Parse("reload.yaml", []byte(s), nil)
	}
	gw, admin := serveReloadable(t, parseConfig(t, src("a", "15m")), reload)

	token := is.Token(t, key, map[string]any{"sub": "alice", "aud": "api"})
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func() error {
		req, _ := http.NewRequest("GET", gw+"/req/x", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "alice" {
			return fmt.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, "alice")
		}
		return nil
	}
	const workers, perWorker = 8, 150
	// Warm up, then drop every pooled connection on both sides (client to
	// gateway, gateway to upstream), so that the baseline counts only the
	// gateway's own goroutines: listeners, signal handling, refresh jobs.
	var warm sync.WaitGroup
	for range workers {
		warm.Add(1)
		go func() {
			defer warm.Done()
			for range 20 {
				if err := get(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	warm.Wait()
	dropConns := func() {
		tr.CloseIdleConnections()
		up.CloseClientConnections()
	}
	dropConns()
	baseline := goroutinesSettled(runtime.NumGoroutine())

	var (
		wg     sync.WaitGroup
		failed atomic.Int64
		sent   atomic.Int64
		first  sync.Once
		cause  error
		stop   = make(chan struct{})
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				if err := get(); err != nil {
					failed.Add(1)
					first.Do(func() { cause = err })
				}
			}
		}()
	}
	successes, failures := 0, 0
	for i, s := range steps {
		sighup(t)
		if _, err := config.Parse("reload.yaml", []byte(s), nil); err == nil {
			successes++
		} else {
			failures++
		}
		waitMetric(t, admin, fmt.Sprintf(`authgate_config_reloads_total{result="success"} %d`, successes))
		waitMetric(t, admin, fmt.Sprintf(`authgate_config_reloads_total{result="failure"} %d`, failures))
		if i == len(steps)-1 {
			close(stop)
		}
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed during reloads; first: %v", n, sent.Load(), cause)
	}
	if successes != 4 || failures != 2 {
		t.Fatalf("test setup: %d valid and %d invalid reloads, want 4 and 2", successes, failures)
	}

	dropConns()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= baseline+2 {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: got %d after the reloads, want at most %d (baseline %d + 2):\n%s", n, baseline+2, baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// goroutinesSettled gives goroutines that are ending (closed connections'
// readers) a moment to go, and returns the lower count.
func goroutinesSettled(n int) int {
	for range 50 {
		time.Sleep(10 * time.Millisecond)
		if m := runtime.NumGoroutine(); m < n {
			n = m
		}
	}
	return n
}
