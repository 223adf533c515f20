package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/testkit"
)

const verifyCacheYAML = `
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
log: { access: false }
issuers:
  - { name: main, issuer: %[1]q, audiences: [api] }
%[3]s
routes:
  - name: api
    match: { path_prefix: /api }
    upstream: { url: %[2]q }
    forward: { headers: { X-User-Id: sub } }
`

// TestVerifyCacheThroughGateway sends one token twice through the real
// gateway: the first request verifies it (a miss, then one entry), the
// second is answered from the cache (a hit), and the upstream receives the
// same verified identity both times. With size 0 nothing is counted.
func TestVerifyCacheThroughGateway(t *testing.T) {
	for _, tc := range []struct {
		name              string
		block             string
		miss, hit, stored float64
	}{
		{"default", "", 1, 1, 1},
		{"off", "verify_cache: { size: 0 }", 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := testkit.NewECKey(t, "ec-1")
			is := testkit.NewIssuer(t, key)
			var (
				mu  sync.Mutex
				got []string
			)
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got = append(got, r.Header.Get("X-User-Id"))
				mu.Unlock()
				io.WriteString(w, "ok")
			}))
			defer up.Close()
			gw, admin := serveReady(t, fmt.Sprintf(verifyCacheYAML, is.URL, up.URL, tc.block))
			tok := is.Token(t, key, map[string]any{"sub": "alice", "aud": "api"})
			for i := range 2 {
				req, _ := http.NewRequest("GET", gw+"/api/x", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("request %d: got %d, want 200", i, resp.StatusCode)
				}
			}
			mu.Lock()
			if len(got) != 2 || got[0] != "alice" || got[1] != "alice" {
				t.Errorf("upstream got X-User-Id %q, want alice twice", got)
			}
			mu.Unlock()
			families := scrape(t, admin)
			for _, c := range []struct {
				family string
				labels map[string]string
				want   float64
			}{
				{"authgate_verify_cache_requests_total", map[string]string{"result": "miss"}, tc.miss},
				{"authgate_verify_cache_requests_total", map[string]string{"result": "hit"}, tc.hit},
				{"authgate_verify_cache_entries", nil, tc.stored},
				{"authgate_auth_decisions_total", map[string]string{"route": "api", "reason": "ok"}, 2},
			} {
				if got := sumWhere(families[c.family], c.labels); got != c.want {
					t.Errorf("%s%v: got %v, want %v", c.family, c.labels, got, c.want)
				}
			}
		})
	}
}

// TestVerifyCacheReload: a reload builds a fresh, empty cache (its entries
// hold the old runtime's issuers), so the token is verified in full once
// more.
func TestVerifyCacheReload(t *testing.T) {
	key := testkit.NewECKey(t, "ec-1")
	is := testkit.NewIssuer(t, key)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	yaml := fmt.Sprintf(verifyCacheYAML, is.URL, up.URL, "")
	gw, admin := serveReloadable(t, parseConfig(t, yaml), func() (*config.Config, error) { return parseConfig(t, yaml), nil })
	waitReady(t, admin)
	tok := is.Token(t, key, map[string]any{"sub": "alice", "aud": "api"})
	send := func() {
		t.Helper()
		req, _ := http.NewRequest("GET", gw+"/api/x", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("got %d, want 200", resp.StatusCode)
		}
	}
	want := func(step string, miss, hit, entries float64) {
		t.Helper()
		families := scrape(t, admin)
		for _, c := range []struct {
			family string
			labels map[string]string
			want   float64
		}{
			{"authgate_verify_cache_requests_total", map[string]string{"result": "miss"}, miss},
			{"authgate_verify_cache_requests_total", map[string]string{"result": "hit"}, hit},
			{"authgate_verify_cache_entries", nil, entries},
		} {
			if got := sumWhere(families[c.family], c.labels); got != c.want {
				t.Errorf("%s: %s%v: got %v, want %v", step, c.family, c.labels, got, c.want)
			}
		}
	}
	send()
	send()
	want("before the reload", 1, 1, 1)
	sighup(t)
	waitMetric(t, admin, `authgate_config_reloads_total{result="success"} 1`)
	want("after the reload", 1, 1, 0)
	send()
	want("first request after the reload", 2, 1, 1)
}

// TestVerifyCacheExpiredThroughGateway sends one expired, correctly signed
// token twice: the first request verifies it in full (a miss) and
// remembers it as refused, the second is refused from the cache's memo (a
// hit) with the same status, header and body; the upstream sees neither.
func TestVerifyCacheExpiredThroughGateway(t *testing.T) {
	key := testkit.NewECKey(t, "ec-1")
	is := testkit.NewIssuer(t, key)
	var upstream atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstream.Add(1)
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	gw, admin := serveReady(t, fmt.Sprintf(verifyCacheYAML, is.URL, up.URL, ""))
	now := time.Now()
	tok := is.Token(t, key, map[string]any{"sub": "alice", "aud": "api",
		"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})
	var bodies, challenges []string
	for i := range 2 {
		req, _ := http.NewRequest("GET", gw+"/api/x", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("request %d: got %d, want 401", i, resp.StatusCode)
		}
		bodies = append(bodies, string(body))
		challenges = append(challenges, resp.Header.Get("WWW-Authenticate"))
	}
	if bodies[0] != bodies[1] || challenges[0] != challenges[1] {
		t.Errorf("got %q, %q; want the same refusal twice", bodies, challenges)
	}
	if n := upstream.Load(); n != 0 {
		t.Errorf("upstream got %d requests, want none", n)
	}
	families := scrape(t, admin)
	for _, c := range []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"authgate_verify_cache_requests_total", map[string]string{"result": "miss"}, 1},
		{"authgate_verify_cache_requests_total", map[string]string{"result": "hit"}, 1},
		{"authgate_verify_cache_entries", nil, 1},
		{"authgate_auth_decisions_total", map[string]string{"route": "api", "reason": "expired"}, 2},
	} {
		if got := sumWhere(families[c.family], c.labels); got != c.want {
			t.Errorf("%s%v: got %v, want %v", c.family, c.labels, got, c.want)
		}
	}
}
