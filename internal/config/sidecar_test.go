package config

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// sidecarEnv is the least environment-only mode needs, in os.Environ's
// form, with kv added.
func sidecarEnv(kv ...string) []string {
	return append([]string{
		"AUTHGATE_UPSTREAM=http://app:3000",
		"AUTHGATE_ISSUER=https://idp.example.com",
		"AUTHGATE_AUDIENCE=api",
	}, kv...)
}

func TestFromEnvNewVariables(t *testing.T) {
	cfg, err := ResolveEnviron("", sidecarEnv(
		"AUTHGATE_SCOPE_CLAIMS=permissions, scope",
		"AUTHGATE_ANY_SCOPES=read,admin",
		`AUTHGATE_CLAIMS={"lifetime_subscriber":true,"/org/id":12345678901234567890,"roles":["a","b"]}`,
		"AUTHGATE_TOKEN_TYPES=at+jwt",
		"AUTHGATE_AUTHORIZATION=strip",
		"AUTHGATE_REALM=shop",
		"AUTHGATE_CORS_ALLOWED_ORIGINS=https://app.example.com, https://admin.example.com",
	))
	if err != nil {
		t.Fatalf("ResolveEnviron: %v", err)
	}
	is, r := cfg.Issuers[0], cfg.Routes[0]
	tests := []struct {
		name      string
		got, want any
	}{
		{"scope claims", strings.Join(is.ScopeClaims, "|"), "permissions|scope"},
		{"token types", strings.Join(is.TokenTypes, "|"), "at+jwt"},
		{"any scopes", strings.Join(r.Auth.AnyScopes, "|"), "read|admin"},
		{"claim boolean", r.Auth.Claims["lifetime_subscriber"], true},
		{"claim number kept exact", r.Auth.Claims["/org/id"], json.Number("12345678901234567890")},
		{"claim list", len(r.Auth.Claims["roles"].([]any)), 2},
		{"authorization", r.Forward.Authorization, "strip"},
		{"realm", cfg.Server.Realm, "shop"},
		{"cors origins", strings.Join(cfg.CORS.AllowedOrigins, "|"), "https://app.example.com|https://admin.example.com"},
		{"cors max age at its default", cfg.CORS.MaxAge.String(), "10m0s"},
		{"no warnings", len(cfg.Warnings), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}

	// Unset, the new variables leave their fields at the defaults.
	cfg, err = ResolveEnviron("", sidecarEnv())
	if err != nil {
		t.Fatalf("ResolveEnviron: %v", err)
	}
	if cfg.CORS != nil || cfg.Server.Realm != "authgate" || cfg.Routes[0].Forward.Authorization != "keep" ||
		strings.Join(cfg.Issuers[0].ScopeClaims, "|") != "scope|scp" {
		t.Errorf("defaults: got cors %v, realm %q, authorization %q, scope claims %q",
			cfg.CORS, cfg.Server.Realm, cfg.Routes[0].Forward.Authorization, cfg.Issuers[0].ScopeClaims)
	}
}

func TestFromEnvNewVariableErrors(t *testing.T) {
	tests := []struct {
		name string
		kv   []string
		want []string
	}{
		{"authorization", []string{"AUTHGATE_AUTHORIZATION=remove"}, []string{
			`environment: AUTHGATE_AUTHORIZATION: must be keep or strip, got "remove"`,
		}},
		{"claims syntax error names the character", []string{`AUTHGATE_CLAIMS={"paid":tru}`}, []string{
			`environment: AUTHGATE_CLAIMS: invalid JSON at character 12: invalid character '}' in literal true (expecting 'e')`,
		}},
		{"claims cut short", []string{`AUTHGATE_CLAIMS={"paid":`}, []string{
			`environment: AUTHGATE_CLAIMS: invalid JSON at character 8: unexpected end of input`,
		}},
		{"claims not an object", []string{`AUTHGATE_CLAIMS=["paid"]`}, []string{
			`environment: AUTHGATE_CLAIMS: must be a JSON object of claim rules, such as {"lifetime_subscriber":true}`,
		}},
		{"claims two values", []string{`AUTHGATE_CLAIMS={"a":1} {"b":2}`}, []string{
			`environment: AUTHGATE_CLAIMS: invalid JSON at character 9: more than one value; write one object such as {"lifetime_subscriber":true}`,
		}},
		{"claim rule refused as in a file", []string{`AUTHGATE_CLAIMS={"org":{"id":1}}`}, nil},
		{"scope claims, token types, any scopes", []string{"AUTHGATE_ANY_SCOPES=a b", "AUTHGATE_REALM=x\"y"}, nil},
		{"cors wildcard is fine without credentials", []string{"AUTHGATE_CORS_ALLOWED_ORIGINS=*"}, []string{}},
		{"cors origin with a path", []string{"AUTHGATE_CORS_ALLOWED_ORIGINS=https://app.example.com/x"}, nil},
		{"errors of parsing and validation together", []string{"AUTHGATE_FORWARD_HEADERS=X-Id", "AUTHGATE_UPSTREAM=localhost:3000"}, []string{
			"environment: AUTHGATE_FORWARD_HEADERS: malformed pair \"X-Id\": want Header=claim, e.g. X-User-Id=sub",
			"environment: AUTHGATE_UPSTREAM: must be an absolute URL; write http://localhost:3000",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ResolveEnviron("", sidecarEnv(tt.kv...))
			got := errLines(err)
			switch {
			case tt.want == nil:
				// The variable named, whatever the constructor's words.
				name, _, _ := strings.Cut(tt.kv[0], "=")
				if len(got) == 0 || !strings.HasPrefix(got[0], "environment: "+name+": ") {
					t.Errorf("got %q, want an error about %s", got, name)
				}
			case len(tt.want) == 0:
				if err != nil {
					t.Errorf("got %v, want none", err)
				}
			case !slices.Equal(got, tt.want):
				t.Errorf("got errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestUnknownVariables(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		environ []string
		want    []string
	}{
		{"typo suggests the known name", "", sidecarEnv("AUTHGATE_SCOPE=read"), []string{
			"environment: AUTHGATE_SCOPE is not a variable authgate reads; did you mean AUTHGATE_SCOPES?",
		}},
		{"nothing near", "", sidecarEnv("AUTHGATE_FROBNICATE=1"), []string{
			"environment: AUTHGATE_FROBNICATE is not a variable authgate reads; it is ignored",
		}},
		{"Kubernetes service variables are not reported", "", sidecarEnv(
			"AUTHGATE_SERVICE_HOST=10.0.0.1", "AUTHGATE_SERVICE_PORT=8080", "AUTHGATE_SERVICE_PORT_HTTP=8080",
			"AUTHGATE_PORT=tcp://10.0.0.1:8080", "AUTHGATE_PORT_8080_TCP=tcp://10.0.0.1:8080",
			"AUTHGATE_PORT_8080_TCP_PROTO=tcp", "AUTHGATE_PORT_8080_TCP_ADDR=10.0.0.1"), nil},
		{"other prefixes are not ours", "", sidecarEnv("AUTHGATEWAY_X=1", "MY_AUTHGATE_AUDIENCE=x"), nil},
		{"with a file, only near misses", "testdata/minimal.yaml", []string{"AUTHGATE_LISTN=:1", "AUTHGATE_FROBNICATE=1", "AUTHGATE_SCOPES=read"}, []string{
			"environment: AUTHGATE_LISTN is not a variable authgate reads; did you mean AUTHGATE_LISTEN?",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ResolveEnviron(tt.file, tt.environ)
			if err != nil {
				t.Fatalf("ResolveEnviron: %v", err)
			}
			if !slices.Equal(cfg.Warnings, tt.want) {
				t.Errorf("got warnings\n%s\nwant\n%s", strings.Join(cfg.Warnings, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// Regression: AUTHGATE_AUDIENCES alone gave only "AUTHGATE_AUDIENCE:
// required", leaving the reader to spot the extra letter.
func TestRequiredNamesNearMiss(t *testing.T) {
	_, err := ResolveEnviron("", []string{
		"AUTHGATE_UPSTREAM=http://app:3000", "AUTHGATE_ISSUER=https://idp.example.com", "AUTHGATE_AUDIENCES=api",
	})
	want := "environment: AUTHGATE_AUDIENCE: required (AUTHGATE_AUDIENCES is set: did you mean AUTHGATE_AUDIENCE?)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}

	_, err = ResolveEnviron("", []string{"AUTHGATE_UPSTREAM=http://app:3000", "AUTHGATE_ISUER=https://idp.example.com"})
	var nse *NoSourceError
	if !errors.As(err, &nse) || !strings.Contains(err.Error(), "(AUTHGATE_ISUER is set: did you mean AUTHGATE_ISSUER?)") {
		t.Errorf("got %v, want a *NoSourceError naming AUTHGATE_ISUER", err)
	}
}

func TestKnownVarsListEverySidecarVariable(t *testing.T) {
	for _, name := range []string{
		"AUTHGATE_CONFIG", "AUTHGATE_LISTEN", "AUTHGATE_ADMIN_LISTEN", "AUTHGATE_LOG_LEVEL", "AUTHGATE_LOG_FORMAT",
		"AUTHGATE_UPSTREAM", "AUTHGATE_ISSUER", "AUTHGATE_AUDIENCE", "AUTHGATE_JWKS_URL", "AUTHGATE_ALGORITHMS",
		"AUTHGATE_SCOPES", "AUTHGATE_FORWARD_HEADERS", "AUTHGATE_CLAIMS_HEADER", "AUTHGATE_SCOPE_CLAIMS",
		"AUTHGATE_ANY_SCOPES", "AUTHGATE_CLAIMS", "AUTHGATE_TOKEN_TYPES", "AUTHGATE_AUTHORIZATION",
		"AUTHGATE_REALM", "AUTHGATE_CORS_ALLOWED_ORIGINS",
	} {
		if !slices.Contains(knownVars, name) {
			t.Errorf("knownVars lacks %s", name)
		}
	}
	if len(knownVars) != 20 {
		t.Errorf("got %d known variables, want 20: %q", len(knownVars), knownVars)
	}
}
