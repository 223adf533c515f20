package config

import (
	"slices"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/verify"
)

// TestVerifyCache: the verify_cache block's defaults, an explicit 0 that
// turns the cache off, and verify.NewCache's refusals placed at their line.
func TestVerifyCache(t *testing.T) {
	const route = "routes:\n  - { name: api, match: { path_prefix: /api }, upstream: { url: http://api:8080 } }\n"
	for _, tc := range []struct {
		name string
		yaml string // after issuersBlock; the block starts on line 5
		want VerifyCache
		errs []string
	}{
		{name: "absent: defaults", yaml: route, want: VerifyCache{Size: verify.DefaultCacheSize, MaxTTL: verify.DefaultCacheMaxTTL}},
		{name: "size only", yaml: "verify_cache:\n  size: 50\n" + route, want: VerifyCache{Size: 50, MaxTTL: verify.DefaultCacheMaxTTL}},
		{name: "off", yaml: "verify_cache:\n  size: 0\n" + route, want: VerifyCache{Size: 0, MaxTTL: verify.DefaultCacheMaxTTL}},
		{name: "off without a max_ttl", yaml: "verify_cache:\n  size: 0\n  max_ttl: 0s\n" + route, want: VerifyCache{}},
		{name: "max_ttl", yaml: "verify_cache:\n  max_ttl: 30s\n" + route, want: VerifyCache{Size: verify.DefaultCacheSize, MaxTTL: 30 * time.Second}},
		{name: "negative size", yaml: "verify_cache:\n  size: -1\n" + route,
			errs: []string{"t.yaml:6: verify_cache.size: must not be negative (0 turns the cache off)"}},
		{name: "zero max_ttl", yaml: "verify_cache:\n  size: 10\n  max_ttl: 0s\n" + route,
			errs: []string{"t.yaml:7: verify_cache.max_ttl: must be positive while the cache is on (size above 0)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("t.yaml", []byte(issuersBlock+tc.yaml), noEnv)
			if got := errLines(err); !slices.Equal(got, tc.errs) {
				t.Fatalf("got errors %q, want %q", got, tc.errs)
			}
			if err == nil && cfg.VerifyCache != tc.want {
				t.Errorf("got %+v, want %+v", cfg.VerifyCache, tc.want)
			}
		})
	}
}
