package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// mergeBase is a configuration with two issuers and a defaults block that
// sets every mergeable field. Cases append one route (at line 22) whose
// auth and forward blocks they write.
const mergeBase = `issuers:
  - { name: main, issuer: https://idp.example.com, audiences: [api] }
  - { name: other, issuer: https://other.example.com, audiences: [api] }
defaults:
  auth:
    mode: optional
    issuers: [main]
    audiences: [aud-d]
    scopes: [read]
    any_scopes: [a, b]
    claims: { org_code: org_d }
  forward:
    headers: { X-User-Id: sub }
    claims_header: X-Claims-D
    authorization: strip
routes:
  - name: r
    match: { path_prefix: /r }
    upstream: { url: http://api }
`

func TestMergeDefaults(t *testing.T) {
	inherited := Route{
		Auth: Auth{Mode: "optional", Issuers: []string{"main"}, Audiences: []string{"aud-d"}, Scopes: []string{"read"},
			AnyScopes: []string{"a", "b"}, Claims: ClaimRules{"org_code": "org_d"}},
		Forward: Forward{Headers: map[string]string{"X-User-Id": "sub"}, ClaimsHeader: "X-Claims-D", Authorization: "strip"},
	}
	with := func(edit func(r *Route)) Route {
		r := inherited
		r.Auth.Issuers = slices.Clone(r.Auth.Issuers)
		edit(&r)
		return r
	}
	tests := []struct {
		name  string
		route string // YAML under the route, indented by 4
		want  Route
	}{
		{name: "nothing set inherits everything", route: "", want: inherited},
		{name: "null blocks inherit", route: "auth: ~\nforward: ~\n", want: inherited},
		{name: "null fields inherit", route: "auth: { mode: ~, scopes: ~, claims: ~ }\nforward: { headers: ~, claims_header: ~ }\n", want: inherited},

		{name: "mode set", route: "auth: { mode: required }\n", want: with(func(r *Route) { r.Auth.Mode = "required" })},
		{name: "issuers set", route: "auth: { issuers: [other] }\n", want: with(func(r *Route) { r.Auth.Issuers = []string{"other"} })},
		{name: "issuers explicitly empty", route: "auth: { issuers: [] }\n", want: with(func(r *Route) { r.Auth.Issuers = []string{} })},
		{name: "audiences set", route: "auth: { audiences: [aud-r] }\n", want: with(func(r *Route) { r.Auth.Audiences = []string{"aud-r"} })},
		{name: "audiences explicitly empty", route: "auth: { audiences: [] }\n", want: with(func(r *Route) { r.Auth.Audiences = []string{} })},
		{name: "scopes replace, not extend", route: "auth: { scopes: [write] }\n", want: with(func(r *Route) { r.Auth.Scopes = []string{"write"} })},
		{name: "scopes explicitly empty", route: "auth: { scopes: [] }\n", want: with(func(r *Route) { r.Auth.Scopes = []string{} })},
		{name: "any_scopes set", route: "auth: { any_scopes: [c] }\n", want: with(func(r *Route) { r.Auth.AnyScopes = []string{"c"} })},
		{name: "any_scopes explicitly empty", route: "auth: { any_scopes: [] }\n", want: with(func(r *Route) { r.Auth.AnyScopes = []string{} })},
		{name: "claims replace the whole map", route: "auth: { claims: { tier: gold } }\n", want: with(func(r *Route) { r.Auth.Claims = ClaimRules{"tier": "gold"} })},
		{name: "claims explicitly empty", route: "auth: { claims: {} }\n", want: with(func(r *Route) { r.Auth.Claims = ClaimRules{} })},
		{name: "headers replace the whole map", route: "forward: { headers: { X-Email: email } }\n",
			want: with(func(r *Route) { r.Forward.Headers = map[string]string{"X-Email": "email"} })},
		{name: "headers explicitly empty", route: "forward: { headers: {} }\n", want: with(func(r *Route) { r.Forward.Headers = map[string]string{} })},
		{name: "claims_header set", route: "forward: { claims_header: X-Claims-R }\n", want: with(func(r *Route) { r.Forward.ClaimsHeader = "X-Claims-R" })},
		{name: "claims_header explicitly empty", route: "forward: { claims_header: \"\" }\n", want: with(func(r *Route) { r.Forward.ClaimsHeader = "" })},
		{name: "authorization set", route: "forward: { authorization: keep }\n", want: with(func(r *Route) { r.Forward.Authorization = "keep" })},
		{name: "mode none drops inherited auth rules, keeps forward", route: "auth: { mode: none }\n",
			want: with(func(r *Route) { r.Auth = Auth{Mode: "none"} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := mergeBase + indent(tt.route, "    ")
			cfg, err := Parse("t.yaml", []byte(src), noEnv)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := cfg.Routes[0]
			got.Name, got.Match, got.Upstream = "", Match{}, Upstream{}
			if !reflect.DeepEqual(got.Auth, tt.want.Auth) || !reflect.DeepEqual(got.Forward, tt.want.Forward) {
				t.Errorf("got\n%+v\n%+v\nwant\n%+v\n%+v", got.Auth, got.Forward, tt.want.Auth, tt.want.Forward)
			}
			// Each route gets its own copy of the defaults' lists and maps.
			if len(cfg.Routes[0].Auth.Issuers) > 0 && &cfg.Routes[0].Auth.Issuers[0] == &cfg.Defaults.Auth.Issuers[0] {
				t.Error("got the defaults' issuers slice shared with the route, want a copy")
			}
		})
	}
}

// TestMergeBuiltinDefaultsLast: without a defaults block, or with one that
// leaves a field out, the built-in defaults still apply.
func TestMergeBuiltinDefaultsLast(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte(`issuers:
  - { name: main, issuer: https://idp.example.com, audiences: [api] }
defaults:
  auth: { scopes: [read] }
routes:
  - { name: r, match: { path_prefix: /r }, upstream: { url: http://api } }
`), noEnv)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	r := cfg.Routes[0]
	if r.Auth.Mode != "required" || r.Forward.Authorization != "keep" || !slices.Equal(r.Auth.Scopes, []string{"read"}) {
		t.Errorf("got mode %q, authorization %q, scopes %q; want required, keep, [read]", r.Auth.Mode, r.Forward.Authorization, r.Auth.Scopes)
	}
	if r.Auth.Issuers != nil || r.Auth.Claims != nil || r.Forward.Headers != nil {
		t.Errorf("got %+v, want fields the defaults leave out unset", r)
	}
}

func TestDefaultsValidation(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "bad inherited values are reported once, at the defaults block",
			yaml: issuersBlock + `defaults:
  auth:
    mode: sometimes
    issuers: [ghost]
    scopes: ["read write"]
    claims:
      org_code: ~
      roles: []
  forward:
    headers: { Host: sub, X-Bad: "/a~2" }
    claims_header: X-Auth
    authorization: drop
routes:
  - { name: a, match: { path: /a }, upstream: { url: http://api } }
  - { name: b, match: { path: /b }, upstream: { url: http://api } }
`,
			want: []string{
				`t.yaml:7: defaults.auth.mode: must be required, optional or none, got "sometimes"`,
				`t.yaml:8: defaults.auth.issuers[0]: unknown issuer "ghost"`,
				"t.yaml:9: defaults.auth.scopes[0]: must be a scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)",
				"t.yaml:11: defaults.auth.claims.org_code: null value: a claim is never required to be null; give a string, number or boolean",
				"t.yaml:12: defaults.auth.claims.roles: empty list: list at least one value",
				`t.yaml:14: defaults.forward.headers.Host: header "Host" is managed by the gateway and cannot be set from a claim`,
				`t.yaml:14: defaults.forward.headers.X-Bad: header "X-Bad": claim selector "/a~2": reference token 1: "~2" is not an escape (use "~0" for "~", "~1" for "/")`,
				"t.yaml:16: defaults.forward.authorization: must be keep or strip, got \"drop\"",
			},
		},
		{
			name: "claims_header clash inside defaults",
			yaml: issuersBlock + `defaults:
  forward: { headers: { X-Auth: sub }, claims_header: x-auth }
routes:
  - { name: a, match: { path: /a }, upstream: { url: http://api } }
`,
			want: []string{`t.yaml:6: defaults.forward.claims_header: header "x-auth" is also set by forward.headers`},
		},
		{
			name: "claims_header clash between a route and defaults",
			yaml: issuersBlock + `defaults:
  forward: { headers: { X-Auth: sub } }
routes:
  - name: a
    match: { path: /a }
    upstream: { url: http://api }
    forward: { claims_header: X-Auth }
`,
			want: []string{`t.yaml:11: routes[0].forward.claims_header: header "X-Auth" is also set by forward.headers`},
		},
		{
			name: "a none route may not set auth rules itself",
			yaml: issuersBlock + `defaults:
  auth: { scopes: [read], claims: { org_code: x } }
routes:
  - name: a
    match: { path: /a }
    upstream: { url: http://api }
    auth:
      mode: none
      scopes: [admin]
      claims: { role: admin }
`,
			want: []string{
				"t.yaml:13: routes[0].auth.scopes: has no effect with auth mode none",
				"t.yaml:14: routes[0].auth.claims: has no effect with auth mode none",
			},
		},
		{
			name: "an inherited mode still needs an issuer",
			yaml: `defaults:
  auth: { mode: optional }
routes:
  - { name: a, match: { path: /a }, upstream: { url: http://api } }
`,
			want: []string{"t.yaml:4: routes[0].auth.mode: auth mode optional needs an issuer, but no issuers are configured"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.yaml), noEnv)
			if got := errLines(err); !slices.Equal(got, tt.want) {
				t.Errorf("got errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestDefaultsModeNone: defaults.auth.mode none makes routes public unless
// they say otherwise; the auth rules in defaults then serve those routes.
func TestDefaultsModeNone(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte(issuersBlock+`defaults:
  auth: { mode: none, scopes: [read] }
  forward: { headers: { X-User-Id: sub } }
routes:
  - { name: pub, match: { path: /pub }, upstream: { url: http://api } }
  - { name: api, match: { path: /api }, upstream: { url: http://api }, auth: { mode: required } }
`), noEnv)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	pub, api := cfg.Routes[0], cfg.Routes[1]
	if pub.Auth.Mode != "none" || pub.Auth.Scopes != nil || pub.Forward.Headers["X-User-Id"] != "sub" {
		t.Errorf("pub: got %+v, want mode none, no scopes, the inherited header", pub)
	}
	if api.Auth.Mode != "required" || !slices.Equal(api.Auth.Scopes, []string{"read"}) {
		t.Errorf("api: got %+v, want mode required with scopes [read]", api.Auth)
	}
}

func TestClaimRulesValidation(t *testing.T) {
	route := func(claims string) string {
		return issuersBlock + `routes:
  - name: a
    match: { path: /a }
    upstream: { url: http://api }
    auth:
      claims:
` + indent(claims, "        ")
	}
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{name: "malformed pointer", yaml: route("/a~x/b: admin\n"),
			want: []string{`t.yaml:11: routes[0].auth.claims["/a~x/b"]: claim selector "/a~x/b": reference token 1: "~x" is not an escape (use "~0" for "~", "~1" for "/")`}},
		{name: "empty list", yaml: route("/realm_access/roles: []\n"),
			want: []string{`t.yaml:11: routes[0].auth.claims["/realm_access/roles"]: empty list: list at least one value`}},
		{name: "null", yaml: route("org_code: ~\n"),
			want: []string{"t.yaml:11: routes[0].auth.claims.org_code: null value: a claim is never required to be null; give a string, number or boolean"}},
		{name: "bare key is null", yaml: route("org_code:\n"),
			want: []string{"t.yaml:11: routes[0].auth.claims.org_code: null value: a claim is never required to be null; give a string, number or boolean"}},
		{name: "object", yaml: route("realm_access: { roles: [admin] }\n"),
			want: []string{`t.yaml:11: routes[0].auth.claims.realm_access: an object is not allowed: give a value or a list of values, and reach into objects with a JSON Pointer key such as "/realm_access/roles"`}},
		{name: "list with null and list", yaml: route("roles: [admin, ~]\ngroups: [[a]]\n"),
			want: []string{
				"t.yaml:11: routes[0].auth.claims.roles: list item 1: null value: a claim is never required to be null; give a string, number or boolean",
				"t.yaml:12: routes[0].auth.claims.groups: list item 0: must be a string, number or boolean, got a list",
			}},
		{name: "infinity", yaml: route("n: .inf\n"), want: []string{"t.yaml:11: routes[0].auth.claims.n: number +Inf has no JSON form"}},
		{name: "duplicate key", yaml: route("role: a\nrole: b\n"), want: []string{"t.yaml:12: routes[0].auth.claims.role: duplicate key (first at line 11)"}},
		{name: "list under claims", yaml: issuersBlock + `routes:
  - name: a
    match: { path: /a }
    upstream: { url: http://api }
    auth: { claims: [role] }
`, want: []string{"t.yaml:9: routes[0].auth.claims: must be a mapping, got a list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.yaml), noEnv)
			if got := errLines(err); !slices.Equal(got, tt.want) {
				t.Errorf("got errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestClaimRulesDecode: numbers keep their exact value, types stay apart,
// and ${NAME} values are typed by what they expand to.
func TestClaimRulesDecode(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte(issuersBlock+`routes:
  - name: a
    match: { path: /a }
    upstream: { url: http://api }
    auth:
      claims:
        big: 12345678901234567890123
        frac: 0.1
        under: 1_000.5
        int: 42
        hex: 0x2A
        "yes": true
        quoted: "true"
        https://example.com/roles: [admin, 1, false]
        env: ${ORG}
        envnum: ${NUM}
`), mapEnv(map[string]string{"ORG": "org_123", "NUM": "7"}))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := ClaimRules{
		"big": json.Number("12345678901234567890123"), "frac": json.Number("0.1"), "under": json.Number("1000.5"),
		"int": 42, "hex": 42, "yes": true, "quoted": "true",
		"https://example.com/roles": []any{"admin", 1, false},
		"env":                       "org_123", "envnum": 7,
	}
	if got := cfg.Routes[0].Auth.Claims; !reflect.DeepEqual(got, want) {
		t.Errorf("got %s, want %s", show(got), show(want))
	}
}

func show(c ClaimRules) string {
	var b strings.Builder
	for _, k := range sortedKeys(c) {
		fmt.Fprintf(&b, "%s=%#v ", k, c[k])
	}
	return b.String()
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}
