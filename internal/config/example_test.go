package config

import (
	"os"
	"testing"
)

// TestExampleConfig keeps config.example.yaml loadable: it documents every
// field, so it must stay in step with the decoder and validation.
func TestExampleConfig(t *testing.T) {
	cfg, err := Load("../../config.example.yaml", mapEnv(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("got warnings %q, want none", cfg.Warnings)
	}
	if got, want := cfg.Issuers[1].Audiences[0], "https://partners-api.example.com"; got != want {
		t.Errorf("got audience %q, want %q", got, want)
	}
	// The account route inherits forward.headers from defaults; orders
	// sets its own, which replace them.
	if got := cfg.Routes[2].Forward.Headers; len(got) != 1 || got["X-User-Id"] != "sub" {
		t.Errorf("account headers: got %q, want the defaults' X-User-Id: sub", got)
	}
	if got := cfg.Routes[0].Forward.Headers["X-User-Email"]; got != "email" {
		t.Errorf("orders X-User-Email: got %q, want %q", got, "email")
	}
	if got := cfg.Routes[0].Auth.Claims["org_code"]; got != "org_123" {
		t.Errorf("orders claims.org_code: got %v, want %q", got, "org_123")
	}
	cfg.Describe(os.Stdout)
}
