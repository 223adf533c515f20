package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/authgate/authgate/internal/config"
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
		rt, err := Build(cfg, prev, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	first := build(nil, "api", "30s", "15m")
	tests := []struct {
		name                 string
		aud, skew, refresh   string
		sameCache, sameVerif bool
	}{
		{"nothing changed", "api", "30s", "15m", true, true},
		{"audiences changed", "other", "30s", "15m", true, false},
		{"clock skew changed", "api", "45s", "15m", true, false},
		{"fetch settings changed", "api", "30s", "10m", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := build(first, tt.aud, tt.skew, tt.refresh)
			old, got := first.issuers[0], rt.issuers[0]
			if (got.cache == old.cache) != tt.sameCache {
				t.Errorf("same cache: got %v, want %v", got.cache == old.cache, tt.sameCache)
			}
			if (got.verify == old.verify) != tt.sameVerif {
				t.Errorf("same verifier: got %v, want %v", got.verify == old.verify, tt.sameVerif)
			}
		})
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
			_, err = Build(cfg, nil, slog.New(slog.DiscardHandler))
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
	_, err := Build(cfg, nil, slog.New(slog.DiscardHandler))
	if want := `code: routes[0].name: "none" is reserved: metrics use it for "no route"`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}
