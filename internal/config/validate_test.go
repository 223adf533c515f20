package config

import (
	"slices"
	"strings"
	"testing"
)

// issuersBlock is a valid issuer, lines 1-4, so that case YAML starting
// after it has predictable line numbers (the first route is on line 6).
const issuersBlock = `issuers:
  - name: main
    issuer: https://idp.example.com
    audiences: [api]
`

func TestValidationErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "route needs an issuer but none configured",
			yaml: `routes:
  - name: api
    match: { path_prefix: /api }
    upstream: { url: http://api:8080 }
`,
			want: []string{"t.yaml:2: routes[0].auth.mode: auth mode required needs an issuer, but no issuers are configured"},
		},
		{
			name: "optional route needs an issuer too",
			yaml: `routes:
  - name: api
    match: { path_prefix: /api }
    upstream: { url: http://api:8080 }
    auth:
      mode: optional
`,
			want: []string{"t.yaml:6: routes[0].auth.mode: auth mode optional needs an issuer, but no issuers are configured"},
		},
		{
			name: "issuer without audiences",
			yaml: `issuers:
  - name: main
    issuer: https://idp.example.com
routes:
  - { name: api, match: { path_prefix: /api }, upstream: { url: http://api:8080 } }
`,
			want: []string{"t.yaml:2: issuers[0].audiences: must not be empty: list the audiences this gateway accepts"},
		},
		{
			name: "issuer with explicitly empty audiences",
			yaml: `issuers:
  - name: main
    issuer: https://idp.example.com
    audiences: []
routes:
  - { name: api, match: { path_prefix: /api }, upstream: { url: http://api:8080 } }
`,
			want: []string{"t.yaml:4: issuers[0].audiences: must not be empty: list the audiences this gateway accepts"},
		},
		{
			name: "issuer name and iss empty",
			yaml: `issuers:
  - name: ""
    issuer: ""
    audiences: [api, ""]
routes:
  - { name: api, match: { path_prefix: /api }, upstream: { url: http://api:8080 } }
`,
			want: []string{
				"t.yaml:2: issuers[0].name: must not be empty",
				"t.yaml:3: issuers[0].issuer: must not be empty",
				"t.yaml:4: issuers[0].audiences[1]: must not be empty",
			},
		},
		{
			name: "issuer not a URL without jwks_url",
			yaml: `issuers:
  - name: main
    issuer: idp-main
    audiences: [api]
routes:
  - { name: api, match: { path_prefix: /api }, upstream: { url: http://api:8080 } }
`,
			want: []string{"t.yaml:3: issuers[0].issuer: must be an absolute URL (with jwks_url empty, the key set is discovered at {issuer}/.well-known/openid-configuration)"},
		},
		{
			name: "issuer any string with jwks_url, bad jwks_url scheme",
			yaml: `issuers:
  - name: main
    issuer: idp-main
    jwks_url: file:///etc/keys.json
    audiences: [api]
routes:
  - { name: api, match: { path_prefix: /api }, upstream: { url: http://api:8080 } }
`,
			want: []string{"t.yaml:4: issuers[0].jwks_url: scheme must be http or https"},
		},
		{
			name: "algorithms none, HS and unknown",
			yaml: `issuers:
  - name: main
    issuer: https://idp.example.com
    audiences: [api]
    algorithms: [none, HS256, RS999, RS256, hs512]
routes:
  - { name: api, match: { path_prefix: /api }, upstream: { url: http://api:8080 } }
`,
			want: []string{
				`t.yaml:5: issuers[0].algorithms[0]: algorithm "none" is never allowed: tokens must be signed`,
				`t.yaml:5: issuers[0].algorithms[1]: symmetric algorithm "HS256" is not supported: keys come from a public key set`,
				`t.yaml:5: issuers[0].algorithms[2]: unknown algorithm "RS999" (allowed: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)`,
				`t.yaml:5: issuers[0].algorithms[4]: symmetric algorithm "hs512" is not supported: keys come from a public key set`,
			},
		},
		{
			name: "algorithms explicitly empty",
			yaml: `issuers:
  - name: main
    issuer: https://idp.example.com
    audiences: [api]
    algorithms: []
routes:
  - { name: api, match: { path_prefix: /api }, upstream: { url: http://api:8080 } }
`,
			want: []string{"t.yaml:5: issuers[0].algorithms: must not be empty (leave it out for the default set)"},
		},
		{
			name: "issuer durations",
			yaml: `issuers:
  - name: main
    issuer: https://idp.example.com
    audiences: [api]
    clock_skew: -1s
    scope_claims: []
    jwks:
      refresh_interval: 1m
      min_refresh_interval: 2m
      max_stale: 0s
      timeout: 0s
routes:
  - { name: api, match: { path_prefix: /api }, upstream: { url: http://api:8080 } }
`,
			want: []string{
				"t.yaml:5: issuers[0].clock_skew: must not be negative",
				"t.yaml:6: issuers[0].scope_claims: must not be empty (leave it out for the default [scope, scp])",
				"t.yaml:9: issuers[0].jwks.min_refresh_interval: must not exceed refresh_interval (1m0s)",
				"t.yaml:10: issuers[0].jwks.max_stale: must be positive",
				"t.yaml:11: issuers[0].jwks.timeout: must be positive",
			},
		},
		{
			name: "max_stale shorter than refresh_interval",
			yaml: `issuers:
  - name: main
    issuer: https://idp.example.com
    audiences: [api]
    jwks: { max_stale: 1m }
routes:
  - { name: api, match: { path_prefix: /api }, upstream: { url: http://api:8080 } }
`,
			want: []string{
				"t.yaml:5: issuers[0].jwks.max_stale: must not be shorter than refresh_interval (15m0s)",
			},
		},
		{
			name: "duplicate issuer and route names, reserved route name",
			yaml: `issuers:
  - { name: main, issuer: https://a.example.com, audiences: [api] }
  - { name: main, issuer: https://b.example.com, audiences: [api] }
routes:
  - { name: api, match: { path_prefix: /a }, upstream: { url: http://api:8080 } }
  - { name: api, match: { path_prefix: /b }, upstream: { url: http://api:8080 } }
  - { name: none, match: { path_prefix: /c }, upstream: { url: http://api:8080 } }
  - { match: { path_prefix: /d }, upstream: { url: http://api:8080 } }
`,
			want: []string{
				`t.yaml:3: issuers[1].name: duplicate issuer name "main" (also issuers[0])`,
				`t.yaml:6: routes[1].name: duplicate route name "api" (also routes[0])`,
				`t.yaml:7: routes[2].name: "none" is reserved: metrics use it for "no route"`,
				`t.yaml:8: routes[3].name: must not be empty`,
			},
		},
		{
			name: "unknown issuer and credential",
			yaml: issuersBlock + `routes:
  - name: api
    match: { path_prefix: /api }
    upstream:
      url: http://api:8080
      credentials: billing
    auth:
      issuers: [main, other]
`,
			want: []string{
				"t.yaml:10: routes[0].upstream.credentials: unknown credential \"billing\"",
				"t.yaml:12: routes[0].auth.issuers[1]: unknown issuer \"other\"",
			},
		},
		{
			name: "upstream URLs",
			yaml: issuersBlock + `routes:
  - { name: a, match: { path_prefix: /a }, upstream: { url: "ftp://files" } }
  - { name: b, match: { path_prefix: /b }, upstream: { url: "orders:8080" } }
  - { name: c, match: { path_prefix: /c }, upstream: { url: "/relative" } }
  - { name: d, match: { path_prefix: /d }, upstream: { url: "http://api?x=1" } }
  - { name: e, match: { path_prefix: /e }, upstream: { url: "http://api/#frag" } }
  - { name: f, match: { path_prefix: /f }, upstream: { url: "http://user:pw@api" } }
  - { name: g, match: { path_prefix: /g }, upstream: { url: "http://" } }
  - { name: h, match: { path_prefix: /h } }
`,
			want: []string{
				"t.yaml:6: routes[0].upstream.url: scheme must be http or https",
				"t.yaml:7: routes[1].upstream.url: must be an absolute URL; write http://orders:8080",
				"t.yaml:8: routes[2].upstream.url: must be an absolute URL",
				"t.yaml:9: routes[3].upstream.url: must not have a query or fragment",
				"t.yaml:10: routes[4].upstream.url: must not have a query or fragment",
				"t.yaml:11: routes[5].upstream.url: must not contain user information",
				"t.yaml:12: routes[6].upstream.url: must be an absolute URL",
				"t.yaml:13: routes[7].upstream.url: must not be empty",
			},
		},
		{
			name: "match paths, host and methods",
			yaml: issuersBlock + `routes:
  - { name: a, match: {}, upstream: { url: http://api } }
  - { name: b, match: { path_prefix: /b, path: /b }, upstream: { url: http://api } }
  - { name: c, match: { path_prefix: c }, upstream: { url: http://api } }
  - { name: d, match: { path: /d/../e }, upstream: { url: http://api } }
  - { name: e, match: { path_prefix: /e//f }, upstream: { url: http://api } }
  - { name: f, match: { path: "/f?x" }, upstream: { url: http://api } }
  - { name: g, match: { path: /g, methods: [get, POST, "B AD"] }, upstream: { url: http://api } }
  - { name: h, match: { path: /h, host: "https://h.example.com" }, upstream: { url: http://api } }
  - { name: i, match: { path: /i, host: "i.example.com:443" }, upstream: { url: http://api } }
`,
			want: []string{
				"t.yaml:6: routes[0].match: set exactly one of path_prefix or path",
				"t.yaml:7: routes[1].match: set exactly one of path_prefix or path, not both",
				`t.yaml:8: routes[2].match.path_prefix: must start with "/"`,
				`t.yaml:9: routes[3].match.path: must not contain empty, "." or ".." segments`,
				`t.yaml:10: routes[4].match.path_prefix: must not contain empty, "." or ".." segments`,
				"t.yaml:11: routes[5].match.path: must not contain a query or fragment",
				"t.yaml:12: routes[6].match.methods[0]: must be an uppercase HTTP method such as GET",
				"t.yaml:12: routes[6].match.methods[2]: must be an uppercase HTTP method such as GET",
				"t.yaml:13: routes[7].match.host: must be a host name, without scheme or path",
				"t.yaml:14: routes[8].match.host: must not include a port (ports are ignored when matching)",
			},
		},
		{
			name: "auth mode, authorization and scopes",
			yaml: issuersBlock + `routes:
  - name: a
    match: { path: /a }
    upstream: { url: http://api }
    auth: { mode: mandatory, scopes: ["read write"], any_scopes: ['x"y'] }
    forward: { authorization: drop }
  - name: b
    match: { path: /b }
    upstream: { url: http://api }
    auth: { mode: none, scopes: [admin], issuers: [main] }
`,
			want: []string{
				`t.yaml:9: routes[0].auth.mode: must be required, optional or none, got "mandatory"`,
				"t.yaml:9: routes[0].auth.scopes[0]: must be a scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)",
				"t.yaml:9: routes[0].auth.any_scopes[0]: must be a scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)",
				"t.yaml:10: routes[0].forward.authorization: must be keep or strip, got \"drop\"",
				"t.yaml:14: routes[1].auth.issuers: has no effect with auth mode none",
				"t.yaml:14: routes[1].auth.scopes: has no effect with auth mode none",
			},
		},
		{
			name: "forward headers",
			yaml: issuersBlock + `routes:
  - name: a
    match: { path: /a }
    upstream: { url: http://api }
    forward:
      headers:
        "X User": sub
        Host: sub
        X-Forwarded-For: sub
        authorization: sub
        X-Request-ID: sub
        Upgrade: sub
        X-Empty: ""
        X-Bad-Pointer: /a~2b
        X-Good-Pointer: /realm_access/roles~1x~0
        X-Dup: sub
        x-dup: email
      claims_header: Connection
  - name: b
    match: { path: /b }
    upstream: { url: http://api }
    forward:
      headers: { X-Claims: sub }
      claims_header: x-claims
`,
			want: []string{
				`t.yaml:11: routes[0].forward.headers["X User"]: header "X User" is not a valid header name`,
				`t.yaml:12: routes[0].forward.headers.Host: header "Host" is managed by the gateway and cannot be set from a claim`,
				`t.yaml:13: routes[0].forward.headers.X-Forwarded-For: header "X-Forwarded-For" is managed by the gateway and cannot be set from a claim`,
				`t.yaml:14: routes[0].forward.headers.authorization: header "authorization" is managed by the gateway and cannot be set from a claim`,
				`t.yaml:15: routes[0].forward.headers.X-Request-ID: header "X-Request-ID" is managed by the gateway and cannot be set from a claim`,
				`t.yaml:16: routes[0].forward.headers.Upgrade: header "Upgrade" is managed by the gateway and cannot be set from a claim`,
				`t.yaml:17: routes[0].forward.headers.X-Empty: header "X-Empty" needs a claim name or JSON Pointer`,
				`t.yaml:18: routes[0].forward.headers.X-Bad-Pointer: header "X-Bad-Pointer": claim selector "/a~2b": reference token 1: "~2" is not an escape (use "~0" for "~", "~1" for "/")`,
				`t.yaml:21: routes[0].forward.headers.x-dup: header "x-dup" is also listed as "X-Dup" (header names are case-insensitive)`,
				`t.yaml:22: routes[0].forward.claims_header: header "Connection" is managed by the gateway and cannot be set from a claim`,
				`t.yaml:28: routes[1].forward.claims_header: header "x-claims" is also set by forward.headers`,
			},
		},
		{
			name: "upstream timeout and route durations",
			yaml: issuersBlock + `routes:
  - name: a
    match: { path: /a }
    upstream: { url: http://api, timeout: 0s }
`,
			want: []string{"t.yaml:8: routes[0].upstream.timeout: must be positive"},
		},
		{
			name: "server and log",
			yaml: `server:
  listen: "8080"
  admin_listen: ":8080x"
  realm: 'a "b"'
  read_header_timeout: 0s
  idle_timeout: -1s
  shutdown_timeout: 0s
  max_header_bytes: 0
  tls: { cert_file: /tls/cert.pem }
log:
  level: verbose
  format: xml
` + issuersBlock + `routes:
  - { name: a, match: { path: /a }, upstream: { url: http://api } }
`,
			want: []string{
				"t.yaml:2: server.listen: must be HOST:PORT or :PORT with a numeric port",
				"t.yaml:3: server.admin_listen: must be HOST:PORT or :PORT with a numeric port",
				"t.yaml:4: server.realm: must not contain quotes, backslashes or control characters",
				"t.yaml:5: server.read_header_timeout: must be positive",
				"t.yaml:6: server.idle_timeout: must be positive",
				"t.yaml:7: server.shutdown_timeout: must be positive",
				"t.yaml:8: server.max_header_bytes: must be positive",
				"t.yaml:9: server.tls: set both cert_file and key_file, or neither",
				"t.yaml:11: log.level: must be debug, info, warn or error",
				"t.yaml:12: log.format: must be text or json",
			},
		},
		{
			name: "listen and admin_listen equal",
			yaml: `server: { listen: ":8000", admin_listen: ":8000", realm: "" }
` + issuersBlock + `routes:
  - { name: a, match: { path: /a }, upstream: { url: http://api } }
`,
			want: []string{
				"t.yaml:1: server.admin_listen: must differ from server.listen",
				"t.yaml:1: server.realm: must not be empty",
			},
		},
		{
			name: "no routes",
			yaml: issuersBlock,
			want: []string{"t.yaml: routes: at least one route is required"},
		},
		{
			name: "cors wildcard with credentials is refused",
			yaml: issuersBlock + `cors:
  allowed_origins: ["*"]
  allow_credentials: true
routes:
  - { name: a, match: { path: /a }, upstream: { url: http://api } }
`,
			want: []string{
				`t.yaml:6: cors.allowed_origins[0]: "*" is not allowed with allow_credentials: true; list the origins`,
			},
		},
		{
			// credentials[0] is a valid token exchange: no error.
			name: "token exchange fields and exactly one grant",
			yaml: issuersBlock + `credentials:
  - name: drive
    token_exchange:
      token_url: https://idp.example.com/token
      client_id: gw
      client_secret_env: DRIVE_SECRET
  - name: both
    client_credentials: { token_url: https://idp/token, client_id: x, client_secret_env: X }
    token_exchange: { token_url: https://idp/token }
  - name: neither
  - name: bad
    token_exchange:
      token_url: ftp://idp/token
      client_secret_env: "1X"
      auth_method: private_key_jwt
      scopes: ["a b"]
      cache_size: 0
  - name: negative
    token_exchange: { token_url: https://idp/token, client_id: x, client_secret_file: /s, cache_size: -1 }
routes:
  - name: a
    match: { path: /a }
    upstream: { url: http://api, credentials: drive }
`,
			want: []string{
				"t.yaml:11: credentials[1]: set exactly one of client_credentials or token_exchange",
				"t.yaml:14: credentials[2]: set exactly one of client_credentials or token_exchange",
				"t.yaml:16: credentials[3].token_exchange.client_id: must not be empty",
				"t.yaml:17: credentials[3].token_exchange.token_url: scheme must be http or https",
				"t.yaml:18: credentials[3].token_exchange.client_secret_env: must be an environment variable name",
				"t.yaml:19: credentials[3].token_exchange.auth_method: must be client_secret_basic or client_secret_post",
				"t.yaml:20: credentials[3].token_exchange.scopes[0]: must be a scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)",
				"t.yaml:21: credentials[3].token_exchange.cache_size: must be positive",
				"t.yaml:23: credentials[4].token_exchange.cache_size: must not be negative",
			},
		},
		{
			name: "credential fields",
			yaml: issuersBlock + `credentials:
  - name: billing
    client_credentials:
      token_url: idp/token
      client_secret_env: "bad name"
      auth_method: private_key_jwt
      scopes: [ok, "two words"]
      refresh_before: 0s
  - name: other
    client_credentials: { token_url: https://idp/token, client_id: x }
routes:
  - { name: a, match: { path: /a }, upstream: { url: http://api } }
`,
			want: []string{
				"t.yaml:7: credentials[0].client_credentials.client_id: must not be empty",
				"t.yaml:8: credentials[0].client_credentials.token_url: must be an absolute URL",
				"t.yaml:9: credentials[0].client_credentials.client_secret_env: must be an environment variable name",
				"t.yaml:10: credentials[0].client_credentials.auth_method: must be client_secret_basic or client_secret_post",
				"t.yaml:11: credentials[0].client_credentials.scopes[1]: must be a scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)",
				"t.yaml:12: credentials[0].client_credentials.refresh_before: must be positive",
				"t.yaml:14: credentials[1].client_credentials: set exactly one of client_secret_file or client_secret_env",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("t.yaml", []byte(tt.yaml), noEnv)
			if err == nil {
				t.Fatalf("Parse succeeded, want errors %q", tt.want)
			}
			if cfg != nil {
				t.Errorf("got a config with the error, want nil")
			}
			got := errLines(err)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if n := len(fieldErrors(t, err)); n != len(tt.want) {
				t.Errorf("got %d *FieldError values, want %d", n, len(tt.want))
			}
		})
	}
}

func TestValidConfigs(t *testing.T) {
	tests := []struct {
		name string
		yaml string
	}{
		{"public route without issuers", `routes:
  - { name: public, match: { path_prefix: / }, upstream: { url: http://api }, auth: { mode: none } }
`},
		{"public route may set forward headers", `routes:
  - name: public
    match: { path_prefix: / }
    upstream: { url: http://api }
    auth: { mode: none }
    forward: { headers: { X-User-Id: sub } }
`},
		{"empty defaults and cors blocks", issuersBlock + `defaults: { auth: {}, forward: {} }
cors: {}
routes:
  - { name: a, match: { path: /a }, upstream: { url: "https://api:8443/base/" } }
`},
		{"loopback listeners may both be port 0", `server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
` + issuersBlock + `routes:
  - { name: a, match: { path: / }, upstream: { url: http://api } }
`},
		{"explicit zero clock skew and empty token types", `issuers:
  - { name: main, issuer: https://idp.example.com, audiences: [api], clock_skew: 0s, token_types: [] }
routes:
  - { name: a, match: { path: /a }, upstream: { url: http://api } }
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse("t.yaml", []byte(tt.yaml), noEnv); err != nil {
				t.Fatalf("Parse: %v", err)
			}
		})
	}
}
