package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestOverrides(t *testing.T) {
	const file = `server: { listen: ":7000", admin_listen: ":7001" }
log: { level: warn, format: json }
` + issuersBlock + `routes:
  - { name: a, match: { path: /a }, upstream: { url: http://api } }
`
	tests := []struct {
		name                         string
		env                          map[string]string
		listen, admin, level, format string
	}{
		{"no overrides", nil, ":7000", ":7001", "warn", "json"},
		{"all overridden", map[string]string{
			"AUTHGATE_LISTEN": ":8000", "AUTHGATE_ADMIN_LISTEN": "127.0.0.1:8001",
			"AUTHGATE_LOG_LEVEL": "DEBUG", "AUTHGATE_LOG_FORMAT": "text",
		}, ":8000", "127.0.0.1:8001", "debug", "text"},
		{"admin listen set to empty disables it", map[string]string{"AUTHGATE_ADMIN_LISTEN": ""}, ":7000", "", "warn", "json"},
		{"other empty values count as unset", map[string]string{"AUTHGATE_LISTEN": "", "AUTHGATE_LOG_LEVEL": ""}, ":7000", ":7001", "warn", "json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("t.yaml", []byte(file), mapEnv(tt.env))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			for _, c := range []struct{ what, got, want string }{
				{"listen", cfg.Server.Listen, tt.listen},
				{"admin", cfg.Server.AdminAddr(), tt.admin},
				{"level", cfg.Log.Level, tt.level},
				{"format", cfg.Log.Format, tt.format},
			} {
				if c.got != c.want {
					t.Errorf("%s: got %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestAdminListenDefaultVersusEmpty(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		want string
	}{
		{"unset everywhere: default", "", nil, ":9090"},
		{"file disables", `server: { admin_listen: "" }`, nil, ""},
		{"file null: default", `server: { admin_listen: ~ }`, nil, ":9090"},
		{"environment disables over the file", `server: { admin_listen: ":9999" }`, map[string]string{"AUTHGATE_ADMIN_LISTEN": ""}, ""},
		{"environment enables over the file", `server: { admin_listen: "" }`, map[string]string{"AUTHGATE_ADMIN_LISTEN": ":9999"}, ":9999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := tt.file + "\nroutes:\n  - { name: p, match: { path_prefix: / }, upstream: { url: http://api }, auth: { mode: none } }\n"
			cfg, err := Parse("t.yaml", []byte(yaml), mapEnv(tt.env))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := cfg.Server.AdminAddr(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOverrideErrorsNameTheVariable(t *testing.T) {
	_, err := Parse("t.yaml", []byte(issuersBlock+`log: { level: info }
routes:
  - { name: a, match: { path: /a }, upstream: { url: http://api } }
`), mapEnv(map[string]string{"AUTHGATE_LOG_LEVEL": "loud", "AUTHGATE_LISTEN": "8080"}))
	want := []string{
		"environment: AUTHGATE_LISTEN: must be HOST:PORT or :PORT with a numeric port",
		"environment: AUTHGATE_LOG_LEVEL: must be debug, info, warn or error",
	}
	if got := errLines(err); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFromEnv(t *testing.T) {
	cfg, err := FromEnv(mapEnv(map[string]string{
		"AUTHGATE_UPSTREAM":        "http://app:3000",
		"AUTHGATE_ISSUER":          "https://example.kinde.com",
		"AUTHGATE_AUDIENCE":        " https://api.example.com , ,second ",
		"AUTHGATE_JWKS_URL":        "https://example.kinde.com/.well-known/jwks",
		"AUTHGATE_ALGORITHMS":      "RS256, ES256",
		"AUTHGATE_SCOPES":          "read,write",
		"AUTHGATE_FORWARD_HEADERS": "X-User-Id=sub, X-User-Email = email,X-Roles=/realm_access/roles",
		"AUTHGATE_CLAIMS_HEADER":   "X-Auth-Claims",
		"AUTHGATE_LISTEN":          ":8000",
		"AUTHGATE_ADMIN_LISTEN":    "",
	}))
	if err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	is, r := cfg.Issuers[0], cfg.Routes[0]
	tests := []struct {
		name      string
		got, want any
	}{
		{"source", cfg.Source, "environment"},
		{"issuer name", is.Name, "default"},
		{"iss", is.Issuer, "https://example.kinde.com"},
		{"jwks_url", is.JWKSURL, "https://example.kinde.com/.well-known/jwks"},
		{"audiences trimmed, empty items dropped", strings.Join(is.Audiences, "|"), "https://api.example.com|second"},
		{"algorithms", strings.Join(is.Algorithms, "|"), "RS256|ES256"},
		{"issuer defaults", is.JWKS.RefreshInterval.String(), "15m0s"},
		{"route name", r.Name, "default"},
		{"catch-all", r.Match.PathPrefix, "/"},
		{"mode", r.Auth.Mode, "required"},
		{"upstream", r.Upstream.URL, "http://app:3000"},
		{"scopes", strings.Join(r.Auth.Scopes, "|"), "read|write"},
		{"header sub", r.Forward.Headers["X-User-Id"], "sub"},
		{"header email", r.Forward.Headers["X-User-Email"], "email"},
		{"header pointer", r.Forward.Headers["X-Roles"], "/realm_access/roles"},
		{"claims header", r.Forward.ClaimsHeader, "X-Auth-Claims"},
		{"listen override", cfg.Server.Listen, ":8000"},
		{"admin disabled", cfg.Server.AdminAddr(), ""},
		{"realm default", cfg.Server.Realm, "authgate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestFromEnvErrors(t *testing.T) {
	base := map[string]string{
		"AUTHGATE_UPSTREAM": "http://app:3000",
		"AUTHGATE_ISSUER":   "https://idp.example.com",
		"AUTHGATE_AUDIENCE": "api",
	}
	tests := []struct {
		name string
		set  map[string]string
		drop []string
		want []string
	}{
		{"audience missing", nil, []string{"AUTHGATE_AUDIENCE"}, []string{"environment: AUTHGATE_AUDIENCE: required"}},
		{"audience only commas", map[string]string{"AUTHGATE_AUDIENCE": " , "}, nil, []string{"environment: AUTHGATE_AUDIENCE: required"}},
		{"upstream and issuer missing", nil, []string{"AUTHGATE_UPSTREAM", "AUTHGATE_ISSUER"}, []string{
			"environment: AUTHGATE_UPSTREAM: required",
			"environment: AUTHGATE_ISSUER: required",
		}},
		{"malformed forward header pair", map[string]string{"AUTHGATE_FORWARD_HEADERS": "X-User-Id=sub,X-Email,=email"}, nil, []string{
			`environment: AUTHGATE_FORWARD_HEADERS: malformed pair "X-Email": want Header=claim, e.g. X-User-Id=sub`,
			`environment: AUTHGATE_FORWARD_HEADERS: malformed pair "=email": want Header=claim, e.g. X-User-Id=sub`,
		}},
		{"forward header listed twice", map[string]string{"AUTHGATE_FORWARD_HEADERS": "X-Id=sub,x-id=oid"}, nil, []string{
			`environment: AUTHGATE_FORWARD_HEADERS: header "x-id" is listed twice`,
		}},
		{"validation errors name the variable", map[string]string{
			"AUTHGATE_UPSTREAM":        "ftp://app",
			"AUTHGATE_ALGORITHMS":      "HS256",
			"AUTHGATE_FORWARD_HEADERS": "Host=sub",
			"AUTHGATE_CLAIMS_HEADER":   "X Claims",
			"AUTHGATE_SCOPES":          `a"b`,
			"AUTHGATE_LOG_FORMAT":      "yaml",
		}, nil, []string{
			"environment: AUTHGATE_LOG_FORMAT: must be text or json",
			`environment: AUTHGATE_ALGORITHMS: symmetric algorithm "HS256" is not supported: keys come from a public key set`,
			"environment: AUTHGATE_UPSTREAM: scheme must be http or https",
			"environment: AUTHGATE_SCOPES: must be a scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)",
			`environment: AUTHGATE_FORWARD_HEADERS: header "Host" is managed by the gateway and cannot be set from a claim`,
			`environment: AUTHGATE_CLAIMS_HEADER: header "X Claims" is not a valid header name`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range base {
				m[k] = v
			}
			for k, v := range tt.set {
				m[k] = v
			}
			for _, k := range tt.drop {
				delete(m, k)
			}
			cfg, err := FromEnv(mapEnv(m))
			if cfg != nil {
				t.Errorf("got a config with the error, want nil")
			}
			if got := errLines(err); !slices.Equal(got, tt.want) {
				t.Errorf("got errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestResolve(t *testing.T) {
	sidecar := map[string]string{
		"AUTHGATE_UPSTREAM": "http://app:3000",
		"AUTHGATE_ISSUER":   "https://idp.example.com",
		"AUTHGATE_AUDIENCE": "api",
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name       string
		flag       string
		env        map[string]string
		wantSource string
		warnings   int
	}{
		{"flag wins over AUTHGATE_CONFIG", "testdata/minimal.yaml", map[string]string{"AUTHGATE_CONFIG": "testdata/other.yaml"}, "testdata/minimal.yaml", 0},
		{"AUTHGATE_CONFIG without flag", "", map[string]string{"AUTHGATE_CONFIG": "testdata/other.yaml"}, "testdata/other.yaml", 0},
		{"file wins over environment-only mode, with warnings", "", with(sidecar, "AUTHGATE_CONFIG", "testdata/other.yaml"), "testdata/other.yaml", 2},
		{"environment-only mode", "", sidecar, "environment", 0},
		{"empty AUTHGATE_CONFIG is unset", "", with(sidecar, "AUTHGATE_CONFIG", ""), "environment", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Resolve(tt.flag, mapEnv(tt.env))
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if cfg.Source != tt.wantSource {
				t.Errorf("got source %q, want %q", cfg.Source, tt.wantSource)
			}
			if len(cfg.Warnings) != tt.warnings {
				t.Errorf("got warnings %q, want %d", cfg.Warnings, tt.warnings)
			}
		})
	}
}

func TestResolveNoSource(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		extra string
	}{
		{"nothing set", nil, ""},
		{"only upstream", map[string]string{"AUTHGATE_UPSTREAM": "http://app"}, "AUTHGATE_UPSTREAM is set but AUTHGATE_ISSUER is not"},
		{"only issuer", map[string]string{"AUTHGATE_ISSUER": "https://idp"}, "AUTHGATE_ISSUER is set but AUTHGATE_UPSTREAM is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Resolve("", mapEnv(tt.env))
			if cfg != nil {
				t.Errorf("got a config, want none")
			}
			var nse *NoSourceError
			if !errors.As(err, &nse) {
				t.Fatalf("got %v, want a *NoSourceError", err)
			}
			msg := err.Error()
			for _, want := range []string{"-config", "AUTHGATE_CONFIG", "AUTHGATE_UPSTREAM+AUTHGATE_ISSUER", "authgate demo", tt.extra} {
				if !strings.Contains(msg, want) {
					t.Errorf("got %q, want it to mention %q", msg, want)
				}
			}
		})
	}
	// A nil Env is an empty environment, not a panic.
	if _, err := Resolve("", nil); err == nil {
		t.Error("Resolve with a nil Env succeeded, want *NoSourceError")
	}
}

func TestResolveLoadError(t *testing.T) {
	_, err := Resolve("testdata/does-not-exist.yaml", noEnv)
	var nse *NoSourceError
	if err == nil || errors.As(err, &nse) {
		t.Errorf("got %v, want the read error of the named file", err)
	}
}
