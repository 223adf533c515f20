package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string
	}{
		{
			name: "syntax error carries the line",
			yaml: "server:\n  listen: \":8080\"\n  realm: [unclosed\n",
			want: []string{"t.yaml:3: did not find expected ',' or ']'"},
		},
		{
			name: "parser error on the first line",
			yaml: "{ a: b\n",
			want: []string{"t.yaml:2: did not find expected ',' or '}'"},
		},
		{
			name: "block mapping error",
			yaml: "server:\n  listen: x\n realm: y\n",
			want: []string{"t.yaml:3: did not find expected key — is the line indented like its siblings?"},
		},
		{
			name: "tab indentation",
			yaml: "server:\n\tlisten: \":8080\"\n",
			want: []string{"t.yaml:2: found a tab character; YAML indents with spaces only"},
		},
		{
			name: "unknown key with line and path",
			yaml: "server:\n  listen: \":8080\"\n  listn: \":9000\"\n",
			want: []string{"t.yaml:3: server.listn: unknown field; did you mean listen?", "t.yaml: routes: at least one route is required"},
		},
		{
			name: "unknown keys deep in a list",
			yaml: issuersBlock + `routes:
  - { name: a, match: { path: /a }, upstream: { url: http://api } }
  - name: b
    match: { path: /b }
    upstream: { url: http://api, timeout_ms: 10 }
    auth: { scope: [read] }
toplevel: 1
`,
			want: []string{
				"t.yaml:9: routes[1].upstream.timeout_ms: unknown field; did you mean timeout?",
				"t.yaml:10: routes[1].auth.scope: unknown field; did you mean scopes?",
				"t.yaml:11: toplevel: unknown field (valid: cors, credentials, defaults, issuers, log, routes, server, verify_cache)",
			},
		},
		{
			name: "duplicate keys",
			yaml: "log:\n  level: info\n  level: debug\n",
			want: []string{"t.yaml:3: log.level: duplicate key (first at line 2)", "t.yaml: routes: at least one route is required"},
		},
		{
			name: "bad durations",
			yaml: `server:
  idle_timeout: 30x
  read_header_timeout: 30
  shutdown_timeout: [1s]
`,
			want: []string{
				`t.yaml:2: server.idle_timeout: invalid duration "30x": use Go syntax such as "30s" or "15m"`,
				`t.yaml:3: server.read_header_timeout: invalid duration "30": use Go syntax such as "30s" or "15m"`,
				"t.yaml:4: server.shutdown_timeout: must be a duration, got a list",
				"t.yaml: routes: at least one route is required",
			},
		},
		{
			name: "wrong kinds",
			yaml: `server:
  max_header_bytes: 32KiB
log:
  access: maybe
issuers:
  - name: main
    issuer: https://idp.example.com
    audiences: api
routes: { name: a }
`,
			want: []string{
				"t.yaml:2: server.max_header_bytes: must be an integer, got a string",
				"t.yaml:4: log.access: must be true or false, got a string",
				"t.yaml:8: issuers[0].audiences: must be a list, got a string",
				"t.yaml:9: routes: must be a list, got a mapping",
			},
		},
		{
			name: "not a mapping at the top",
			yaml: "- a\n- b\n",
			want: []string{"t.yaml:1: must be a mapping, got a list"},
		},
		{
			name: "two documents",
			yaml: "log: { level: info }\n---\nlog: { level: debug }\n",
			want: []string{"t.yaml:2: only one YAML document is allowed"},
		},
		{
			name: "unset variable with line and path",
			yaml: issuersBlock + `routes:
  - name: a
    match: { path: /a }
    upstream: { url: "http://${UPSTREAM_HOST}:8080" }
    auth: { audiences: [x, "${AUD}"] }
`,
			env:  map[string]string{"UPSTREAM_HOST": "api"},
			want: []string{"t.yaml:9: routes[0].auth.audiences[1]: environment variable AUD is not set"},
		},
		{
			name: "bad variable references",
			yaml: "server:\n  realm: \"${OPEN\"\n  listen: \"${1X}\"\n",
			want: []string{
				`t.yaml:2: server.realm: unterminated "${" (write "$$" for a literal "$")`,
				`t.yaml:3: server.listen: invalid environment variable name "1X" in ${...}`,
				"t.yaml: routes: at least one route is required",
			},
		},
		{
			name: "variables are not expanded in keys",
			yaml: "server:\n  ${KEY}: x\n",
			env:  map[string]string{"KEY": "realm"},
			want: []string{"t.yaml:2: server[\"${KEY}\"]: unknown field (valid: admin_listen, idle_timeout, listen, max_header_bytes, pprof, read_header_timeout, realm, shutdown_timeout, tls)", "t.yaml: routes: at least one route is required"},
		},
		{
			name: "tab after a line indented with spaces",
			yaml: "server:\n  listen: x\n\trealm: y\n",
			want: []string{"t.yaml:3: found a tab character; YAML indents with spaces only"},
		},
		{
			name: "key indented deeper than its siblings",
			yaml: "server:\n  listen: x\n    realm: y\n",
			want: []string{"t.yaml:3: mapping values are not allowed here — is the line indented like its siblings?"},
		},
		{
			name: "key of a list item indented less than its siblings",
			yaml: "issuers:\n  - name: a\n    issuer: x\n   audiences: [a]\n",
			want: []string{"t.yaml:4: did not find expected '-' indicator — is the line indented like its siblings?"},
		},
		{
			// Not a tab: the hint must not blame a tab further down.
			name: "a character that cannot start a token, tabs elsewhere",
			yaml: "server:\n  realm: @x\n\tlisten: y\n",
			want: []string{"t.yaml:2: found character that cannot start any token"},
		},
		{
			name: "other syntax errors keep the library's words",
			yaml: "a: 'x\n",
			want: []string{"t.yaml:2: found unexpected end of stream"},
		},
		{
			// A typo is reported once: not also as the field it was
			// meant to be, missing.
			name: "typo of a required field",
			yaml: `issuers:
  - name: main
    issuer: https://idp.example.com
    audiance: [api]
routes:
  - { name: a, match: { path: /a }, upstream: { url: http://api } }
`,
			want: []string{"t.yaml:4: issuers[0].audiance: unknown field; did you mean audiences?"},
		},
		{
			name: "every phase in one run",
			yaml: issuersBlock + `log: { level: loud }
routes:
  - name: a
    match: { path: /a }
    upstream: { url: "localhost:3000", timeout: soon }
    auth: { mode: required, scopes: [read] }
    forwrd: {}
`,
			want: []string{
				"t.yaml:5: log.level: must be debug, info, warn or error",
				`t.yaml:9: routes[0].upstream.timeout: invalid duration "soon": use Go syntax such as "30s" or "15m"`,
				"t.yaml:9: routes[0].upstream.url: must be an absolute URL; write http://localhost:3000",
				"t.yaml:11: routes[0].forwrd: unknown field; did you mean forward?",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.yaml), mapEnv(tt.env))
			got := errLines(err)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if err != nil {
				fieldErrors(t, err)
			}
		})
	}
}

func TestExpansion(t *testing.T) {
	env := mapEnv(map[string]string{
		"HOST": "api.internal", "PORT": "8443", "EMPTY": "", "MAX": "65536", "ACCESS": "false", "PRICE": "$5",
	})
	cfg, err := Parse("t.yaml", []byte(issuersBlock+`server:
  realm: "cost $$5, $HOME, $ and ${PRICE}${EMPTY}"
  max_header_bytes: ${MAX}
log:
  access: ${ACCESS}
routes:
  - name: a
    match: { path: /a }
    upstream: { url: "https://${HOST}:${PORT}/base" }
    forward:
      headers: { X-Price: '${PRICE}' }
`), env)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"$$ is a literal $, a lone $ stays, values are not re-expanded", cfg.Server.Realm, "cost $5, $HOME, $ and $5"},
		{"expansion inside a longer string", cfg.Routes[0].Upstream.URL, "https://api.internal:8443/base"},
		{"a plain scalar is re-typed: integer", cfg.Server.MaxHeaderBytes, 65536},
		{"a plain scalar is re-typed: boolean", cfg.Log.AccessEnabled(), false},
		{"single-quoted values are expanded too", cfg.Routes[0].Forward.Headers["X-Price"], "$5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Load("testdata/minimal.yaml", noEnv)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	is, r := cfg.Issuers[0], cfg.Routes[0]
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"server.listen", cfg.Server.Listen, ":8080"},
		{"server.admin_listen", cfg.Server.AdminAddr(), ":9090"},
		{"server.realm", cfg.Server.Realm, "authgate"},
		{"server.read_header_timeout", cfg.Server.ReadHeaderTimeout, 10 * time.Second},
		{"server.idle_timeout", cfg.Server.IdleTimeout, 120 * time.Second},
		{"server.shutdown_timeout", cfg.Server.ShutdownTimeout, 25 * time.Second},
		{"server.max_header_bytes", cfg.Server.MaxHeaderBytes, 32768},
		{"log.level", cfg.Log.Level, "info"},
		{"log.format", cfg.Log.Format, "text"},
		{"log.access", cfg.Log.AccessEnabled(), true},
		{"issuer algorithms", strings.Join(is.Algorithms, " "), "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"},
		{"issuer clock_skew", is.ClockSkew, 30 * time.Second},
		{"issuer required_claims", strings.Join(is.RequiredClaims, " "), "exp"},
		{"issuer scope_claims", strings.Join(is.ScopeClaims, " "), "scope scp"},
		{"issuer token_types", len(is.TokenTypes), 0},
		{"jwks refresh_interval", is.JWKS.RefreshInterval, 15 * time.Minute},
		{"jwks min_refresh_interval", is.JWKS.MinRefreshInterval, 30 * time.Second},
		{"jwks max_stale", is.JWKS.MaxStale, 24 * time.Hour},
		{"jwks timeout", is.JWKS.Timeout, 5 * time.Second},
		{"route upstream.timeout", r.Upstream.Timeout, 30 * time.Second},
		{"route auth.mode", r.Auth.Mode, "required"},
		{"route forward.authorization", r.Forward.Authorization, "keep"},
		{"cors absent", cfg.CORS == nil, true},
		{"source", cfg.Source, "testdata/minimal.yaml"},
		{"no warnings", len(cfg.Warnings), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

// TestDefaultsDoNotReplaceExplicitValues: an explicit zero or empty list is
// what the operator wrote, not a hole to fill.
func TestDefaultsDoNotReplaceExplicitValues(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte(`server: { admin_listen: "" }
issuers:
  - { name: main, issuer: https://idp.example.com, audiences: [api], clock_skew: 0, required_claims: [] }
routes:
  - { name: a, match: { path: /a }, upstream: { url: http://api } }
`), noEnv)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := cfg.Server.AdminAddr(); got != "" {
		t.Errorf("got admin address %q, want %q (disabled)", got, "")
	}
	if got := cfg.Issuers[0].ClockSkew; got != 0 {
		t.Errorf("got clock_skew %q, want %q", got, time.Duration(0))
	}
	if got := cfg.Issuers[0].RequiredClaims; got == nil || len(got) != 0 {
		t.Errorf("got required_claims %q, want an explicit empty list", got)
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte(issuersBlock+`x-upstream: &up { url: http://api, timeout: 5s }
routes:
  - { name: a, match: { path: /a }, upstream: *up }
  - name: b
    match: { path: /b }
    upstream:
      <<: *up
      timeout: 7s
`), noEnv)
	if err == nil {
		t.Fatal("Parse accepted an unknown top-level key used as an anchor holder")
	}
	if got, want := errLines(err)[0], "t.yaml:5: x-upstream: unknown field"; !strings.HasPrefix(got, want) {
		t.Errorf("got %q, want prefix %q", got, want)
	}

	cfg, err = Parse("t.yaml", []byte(`issuers:
  - &main { name: main, issuer: https://idp.example.com, audiences: [api], clock_skew: 1s }
routes:
  - name: a
    match: { path: /a }
    upstream: &up { url: http://api, timeout: 5s }
  - name: b
    match: { path: /b }
    upstream:
      <<: *up
      timeout: 7s
`), noEnv)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got, want := cfg.Routes[1].Upstream.URL, "http://api"; got != want {
		t.Errorf("got merged url %q, want %q", got, want)
	}
	if got, want := cfg.Routes[1].Upstream.Timeout, 7*time.Second; got != want {
		t.Errorf("got timeout %q, want %q", got, want)
	}
}

func TestAliasBomb(t *testing.T) {
	// Each level merges the previous one ten times: walked naively, nine
	// levels are 10^9 mappings from a file of a few hundred bytes.
	var b strings.Builder
	b.WriteString(issuersBlock + "routes:\n  - { name: r0, match: &m0 { path: /a }, upstream: { url: http://api } }\n")
	for i := 1; i < 10; i++ {
		ref := fmt.Sprintf("*m%d, ", i-1)
		fmt.Fprintf(&b, "  - { name: r%d, match: &m%d { <<: [%s] }, upstream: { url: http://api } }\n", i, i, strings.TrimSuffix(strings.Repeat(ref, 10), ", "))
	}
	start := time.Now()
	_, err := Parse("t.yaml", []byte(b.String()), noEnv)
	if err == nil || !strings.Contains(err.Error(), "too deeply aliased") {
		t.Fatalf("got %v, want a refusal of the alias bomb", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("got %s to refuse an alias bomb, want well under 5s", d)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml", noEnv)
	if err == nil || !strings.Contains(err.Error(), "testdata/does-not-exist.yaml") {
		t.Errorf("got %v, want an error naming the file", err)
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		t.Errorf("got a *FieldError for a read failure, want the file system error")
	}
}

// TestPprofWithoutAdmin: server.pprof with the admin listener disabled
// loads, with a warning that it does nothing.
func TestPprofWithoutAdmin(t *testing.T) {
	for _, tc := range []struct {
		name, server string
		warnings     int
	}{
		{"admin on", `{ pprof: true }`, 0},
		{"admin off", `{ admin_listen: "", pprof: true }`, 1},
		{"off", `{ admin_listen: "" }`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("t.yaml", []byte("server: "+tc.server+`
routes:
  - { name: a, match: { path: /a }, upstream: { url: http://api }, auth: { mode: none } }
`), noEnv)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(cfg.Warnings) != tc.warnings || tc.warnings > 0 && !strings.Contains(cfg.Warnings[0], "server.pprof") {
				t.Errorf("warnings: got %q, want %d naming server.pprof", cfg.Warnings, tc.warnings)
			}
		})
	}
}
