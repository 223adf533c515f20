package config

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/field"
)

func TestLocateMore(t *testing.T) {
	const src = `issuers:
  - name: main
    issuer: https://idp.example.com
    audiance: [api]
credentials:
  - name: billing
    client_credentials:
      token_url: https://idp.example.com/token
      client_id: gw
      client_secret_env: BILLING_SECRET
routes:
  - { name: a, match: { path: /a }, upstream: { url: "localhost:3000" } }
`
	cfg, prev := parse("t.yaml", []byte(src), noEnv)
	if cfg == nil {
		t.Fatalf("parse returned no Config with %v", prev)
	}
	tests := []struct {
		name string
		more error
		want []string
	}{
		{"nothing more", nil, []string{
			"t.yaml:4: issuers[0].audiance: unknown field; did you mean audiences?",
			"t.yaml:12: routes[0].upstream.url: must be an absolute URL; write http://localhost:3000",
		}},
		{"a new error is placed and sorted in", field.Errorf("credentials[0].client_credentials.client_secret_env", "client secret unavailable: BILLING_SECRET is not set"), []string{
			"t.yaml:4: issuers[0].audiance: unknown field; did you mean audiences?",
			"t.yaml:10: credentials[0].client_credentials.client_secret_env: client secret unavailable: BILLING_SECRET is not set",
			"t.yaml:12: routes[0].upstream.url: must be an absolute URL; write http://localhost:3000",
		}},
		{"one at a reported field is left out", field.Errorf("routes[0].upstream.url", "must be an absolute URL"), []string{
			"t.yaml:4: issuers[0].audiance: unknown field; did you mean audiences?",
			"t.yaml:12: routes[0].upstream.url: must be an absolute URL; write http://localhost:3000",
		}},
		{"one at the field a typo meant is left out", cfg.Locate(field.Errorf("issuers[0].audiences", "must not be empty")), []string{
			"t.yaml:4: issuers[0].audiance: unknown field; did you mean audiences?",
			"t.yaml:12: routes[0].upstream.url: must be an absolute URL; write http://localhost:3000",
		}},
		{"an error about no field", errors.New("boom"), []string{
			"t.yaml:4: issuers[0].audiance: unknown field; did you mean audiences?",
			"t.yaml:12: routes[0].upstream.url: must be an absolute URL; write http://localhost:3000",
			"t.yaml: boom",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errLines(cfg.LocateMore(prev, tt.more))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestSetBy(t *testing.T) {
	file, err := Parse("t.yaml", []byte(issuersBlock+"routes:\n  - { name: a, match: { path: /a }, upstream: { url: http://api } }\n"),
		mapEnv(map[string]string{"AUTHGATE_ADMIN_LISTEN": ":9999"}))
	if err != nil {
		t.Fatal(err)
	}
	env, err := FromEnv(mapEnv(map[string]string{
		"AUTHGATE_UPSTREAM": "http://app", "AUTHGATE_ISSUER": "https://idp.example.com", "AUTHGATE_AUDIENCE": "api",
	}))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  *Config
		path string
		want string
	}{
		{"file field with its override", file, "server.listen", "server.listen (or AUTHGATE_LISTEN)"},
		{"file field the environment set", file, "server.admin_listen", "AUTHGATE_ADMIN_LISTEN"},
		{"file field without an override", file, "server.realm", "server.realm"},
		{"environment-only, default address", env, "server.listen", "AUTHGATE_LISTEN"},
		{"environment-only, variable set", env, "routes[0].upstream.url", "AUTHGATE_UPSTREAM"},
		{"built in code", &Config{}, "server.admin_listen", "server.admin_listen (or AUTHGATE_ADMIN_LISTEN)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.SetBy(tt.path); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
