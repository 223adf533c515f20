package gateway

import (
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
