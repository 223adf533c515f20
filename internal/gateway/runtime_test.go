package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/proxy"
)

// TestBuildKeepsKeyCache: a reload keeps an issuer's key cache whenever
// where and how its keys are fetched is unchanged, not only when nothing
// changed. Regression: a reload that changed an issuer's clock skew or
// audiences gave it a new, empty cache, and every token of that issuer was
// answered 503 temporarily_unavailable until the new cache's first fetch
// (found by the soak test, internal/soak).
func TestBuildKeepsKeyCache(t *testing.T) {
	const base = `
server: { listen: "127.0.0.1:0", admin_listen: "" }
issuers:
  - name: main
    issuer: https://issuer.example.com
    audiences: [%s]
    clock_skew: %s
    jwks: { refresh_interval: %s }
routes:
  - { name: api, match: { path_prefix: / }, upstream: { url: "http://127.0.0.1:1" } }
`
	build := func(prev *Runtime, aud, skew, refresh string) *Runtime {
		t.Helper()
		cfg, err := config.Parse("test.yaml", []byte(fmt.Sprintf(base, aud, skew, refresh)), nil)
		if err != nil {
			t.Fatal(err)
		}
		rt, err := Build(cfg, prev, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	first := build(nil, "api", "30s", "15m")
	tests := []struct {
		name               string
		aud, skew, refresh string
		sameCache          bool
	}{
		{"nothing changed", "api", "30s", "15m", true},
		{"audiences changed", "other", "30s", "15m", true},
		{"clock skew changed", "api", "45s", "15m", true},
		{"fetch settings changed", "api", "30s", "10m", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := build(first, tt.aud, tt.skew, tt.refresh)
			old, got := first.issuers[0], rt.issuers[0]
			if (got.cache == old.cache) != tt.sameCache {
				t.Errorf("same cache: got %v, want %v", got.cache == old.cache, tt.sameCache)
			}
			// Verifiers hold no state worth keeping: every Build makes
			// its own, over the cache it was given.
			if got.verify == old.verify {
				t.Error("same verifier: got true, want a new one")
			}
			if len(rt.jobs) != 1 || rt.jobs[0].runner != Runner(got.cache) {
				t.Fatalf("jobs: got %d, want the issuer's cache alone", len(rt.jobs))
			}
			if (rt.jobs[0] == first.jobs[0]) != tt.sameCache {
				t.Errorf("same job: got %v, want %v", rt.jobs[0] == first.jobs[0], tt.sameCache)
			}
		})
	}
}

// fakeRunner is a kind of runner the gateway does not know: it records
// how often it was started and whether its Run has ended.
type fakeRunner struct {
	mu      sync.Mutex
	starts  int
	stopped chan struct{}
}

func newFakeRunner() *fakeRunner { return &fakeRunner{stopped: make(chan struct{})} }

func (f *fakeRunner) Run(ctx context.Context) error {
	f.mu.Lock()
	f.starts++
	f.mu.Unlock()
	<-ctx.Done()
	close(f.stopped)
	return nil
}

func (f *fakeRunner) startCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts
}

// fakeKey is fakeRunner's reuse key; otherKey has the same shape, so it
// shows that keys of different kinds never match.
type fakeKey struct{ name string }
type otherKey struct{ name string }

// TestSwapRunsJobsOfAnyKind: a kind of runner is added by listing it
// through reuse; swap starts what a new runtime introduces, keeps running
// what it shares with the old one, without restarting it, and stops what
// it no longer lists.
func TestSwapRunsJobsOfAnyKind(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{logger: slog.New(slog.DiscardHandler), ctx: ctx, running: map[*job]context.CancelFunc{}}
	defer func() { cancel(); g.wg.Wait() }()

	made := map[string]*fakeRunner{}
	build := func(prev *Runtime, names ...string) *Runtime {
		t.Helper()
		rt := &Runtime{}
		for _, n := range names {
			if _, err := reuse(rt, prev, "fake", fakeKey{n}, func() (*fakeRunner, error) {
				made[n] = newFakeRunner()
				return made[n], nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		return rt
	}
	waitStarted := func(f *fakeRunner) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for f.startCount() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("runner not started within 5s")
			}
			time.Sleep(time.Millisecond)
		}
	}

	first := build(nil, "a", "b")
	g.swap(first)
	a, b := made["a"], made["b"]
	waitStarted(a)
	waitStarted(b)

	second := build(first, "a", "c", "a")
	if len(second.jobs) != 2 || made["a"] != a {
		t.Fatalf("jobs: got %d (a rebuilt: %v), want a reused once and c new", len(second.jobs), made["a"] != a)
	}
	g.swap(second)
	waitStarted(made["c"])
	select {
	case <-b.stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("b, no longer listed, still runs")
	}
	select {
	case <-a.stopped:
		t.Fatal("a, listed by both runtimes, was stopped")
	default:
	}
	if n := a.startCount(); n != 1 {
		t.Errorf("a started %d times, want 1", n)
	}

	rt := &Runtime{}
	if _, err := reuse(rt, second, "other", otherKey{"a"}, func() (*fakeRunner, error) { return newFakeRunner(), nil }); err != nil {
		t.Fatal(err)
	}
	if rt.jobs[0] == second.jobs[0] {
		t.Error("a key of another type matched fakeKey{a}")
	}
}

// TestSwapKeepsUpstreamConnections: every runtime forwards through the
// Deps' transport and a swap does not close it, so a reload keeps the pooled
// upstream connection. Each runtime used to have a transport of its own,
// closed when it was swapped out, so every reload made the gateway dial each
// upstream again.
func TestSwapKeepsUpstreamConnections(t *testing.T) {
	var dials atomic.Int32
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	up.Start()
	defer up.Close()

	tr := proxy.NewTransport()
	defer tr.CloseIdleConnections()
	deps := Deps{Transport: tr}
	cfg, err := config.Parse("test.yaml", []byte(fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "" }
routes:
  - { name: pub, match: { path_prefix: / }, upstream: { url: %q }, auth: { mode: none } }
`, up.URL)), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{logger: slog.New(slog.DiscardHandler), deps: deps, ctx: ctx, running: map[*job]context.CancelFunc{}}
	defer func() { cancel(); g.wg.Wait() }()
	front := httptest.NewServer(g)
	defer front.Close()

	var prev *Runtime
	for i := range 3 {
		rt, err := Build(cfg, prev, deps)
		if err != nil {
			t.Fatal(err)
		}
		g.swap(rt)
		prev = rt
		resp, err := http.Get(front.URL + "/x")
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "ok" {
			t.Fatalf("request %d: got %d %q, want 200 %q", i+1, resp.StatusCode, b, "ok")
		}
	}
	if got := dials.Load(); got != 1 {
		t.Errorf("upstream connections over three runtimes: got %d, want 1", got)
	}
}

// TestBuildErrorsCarryLines: an error a constructor finds in Build reads
// like one of Load's, with the file, the field's line and its path, so
// that check and a failed reload point at the line to fix. Load runs the
// same constructors' validation, so here the configuration is changed
// after Load, as a rule Load did not reach would leave it.
func TestBuildErrorsCarryLines(t *testing.T) {
	const src = `server: { listen: "127.0.0.1:0", admin_listen: "" }
issuers:
  - name: main
    issuer: https://issuer.example.com
    audiences: [api]
cors:
  allowed_origins: [https://app.example.com]
routes:
  - name: api
    match: { path_prefix: /api }
    upstream:
      url: http://127.0.0.1:1
    auth: { scopes: [read] }
`
	tests := []struct {
		name   string
		change func(c *config.Config)
		want   string
	}{
		{"upstream URL", func(c *config.Config) { c.Routes[0].Upstream.URL = "ftp://x" },
			"t.yaml:12: routes[0].upstream.url: scheme must be http or https"},
		{"route method", func(c *config.Config) { c.Routes[0].Match.Methods = []string{"get"} },
			"t.yaml:10: routes[0].match.methods[0]: must be an uppercase HTTP method such as GET"},
		{"scope", func(c *config.Config) { c.Routes[0].Auth.Scopes = []string{"a b"} },
			"t.yaml:13: routes[0].auth.scopes[0]: must be a scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)"},
		{"issuer's key set URL, not in the file", func(c *config.Config) { c.Issuers[0].JWKSURL = "file:///keys" },
			"t.yaml:3: issuers[0].jwks_url: scheme must be http or https"},
		{"algorithm", func(c *config.Config) { c.Issuers[0].Algorithms = []string{"HS256"} },
			`t.yaml:3: issuers[0].algorithms[0]: symmetric algorithm "HS256" is not supported: keys come from a public key set`},
		{"realm", func(c *config.Config) { c.Server.Realm = `a"b` },
			"t.yaml:1: server.realm: must not contain quotes, backslashes or control characters"},
		{"cors origin", func(c *config.Config) { c.CORS.AllowedOrigins = []string{"ftp://app"} },
			`t.yaml:7: cors.allowed_origins[0]: "ftp://app" is not an origin such as https://app.example.com`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse("t.yaml", []byte(src), nil)
			if err != nil {
				t.Fatal(err)
			}
			tt.change(cfg)
			_, err = Build(cfg, nil, Deps{})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) {
				t.Errorf("got %T, want a *config.FieldError in it", err)
			}
		})
	}

	// A configuration built in code has no lines; its source names it.
	cfg := &config.Config{Source: "code", Routes: []config.Route{{Name: "none", Match: config.Match{PathPrefix: "/"},
		Upstream: config.Upstream{URL: "http://127.0.0.1:1"}, Auth: config.Auth{Mode: "none"}}}}
	_, err := Build(cfg, nil, Deps{})
	if want := `code: routes[0].name: "none" is reserved: metrics use it for "no route"`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}
