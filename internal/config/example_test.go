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
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate after Load: %v", err)
	}
	cfg.Describe(os.Stdout)
}
