package gateway_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/credentials"
	"github.com/authgate/authgate/internal/gateway"
)

// FuzzBuildAcceptsParsed: whatever config.Parse accepts, Build accepts.
// Every rule lives in a constructor and Load runs the constructors'
// validation, so a configuration that passes Load and fails Build is a rule
// that Load does not reach: `authgate check` would pass a file that serve
// then refuses, or report its problem without a line. Seeded with
// config's FuzzParse inputs (its testdata, the example configuration and
// its inline seeds) and the policy cookbook's configurations.
func FuzzBuildAcceptsParsed(f *testing.F) {
	var seeds []string
	for _, pattern := range []string{"../config/testdata/*.yaml", "testdata/cookbook/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		seeds = append(seeds, files...)
	}
	seeds = append(seeds, "../../config.example.yaml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatalf("seed %s: %v", s, err)
		}
		f.Add(data)
	}
	const issuers = "issuers:\n  - name: main\n    issuer: https://idp.example.com\n    audiences: [api]\n"
	f.Add([]byte(issuers + "routes:\n  - { name: a, match: { path: /a }, upstream: { url: \"http://${H}:$$1\" } }\n"))
	f.Add([]byte("a: &a { <<: *a }\n"))
	f.Add([]byte("server: { max_header_bytes: ${N} }\n---\n"))
	// Two issuers on one URL, which a route taking every issuer cannot
	// tell apart: Build refused it while Load let it through, until the
	// verifier's route rules ran in Load too.
	f.Add([]byte(issuers + "  - { name: b, issuer: https://idp.example.com, audiences: [api] }\n" +
		"routes:\n  - { name: a, match: { path: /a }, upstream: { url: http://api } }\n"))

	env := map[string]string{
		"API_AUDIENCE": "api", "H": "host", "N": "1", "NAME": "x",
		"UPSTREAM_URL":        "http://upstream:8080",
		"OKTA_ISSUER_URL":     "https://example.okta.com/oauth2/default",
		"ENTRA_ISSUER_URL":    "https://login.microsoftonline.com/tenant/v2.0",
		"KEYCLOAK_ISSUER_URL": "https://keycloak.example.com/realms/demo",
		"KINDE_ISSUER_URL":    "https://example.kinde.com",
	}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse("f.yaml", data, lookup)
		if err != nil {
			return
		}
		rt, err := gateway.Build(cfg, nil, gateway.Deps{})
		if errors.Is(err, credentials.ErrSecretUnavailable) {
			// Not a rule: Build reads each credential's secret, which
			// Load does not (the seeds name files that are not here).
			return
		}
		if err != nil {
			t.Fatalf("Parse accepted a configuration that Build refuses:\n%s\n%s", err, data)
		}
		rt.Handler.Close()
	})
}
