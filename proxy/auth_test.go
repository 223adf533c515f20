package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/policy"
)

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []string
		want    string
		err     error
	}{
		{name: "none"},
		{name: "bearer", headers: []string{"Bearer abc.def.ghi"}, want: "abc.def.ghi"},
		{name: "scheme case-insensitive", headers: []string{"bEaReR abc"}, want: "abc"},
		{name: "several spaces", headers: []string{"Bearer    abc"}, want: "abc"},
		{name: "all b64token characters", headers: []string{"Bearer aZ09-._~+/=="}, want: "aZ09-._~+/=="},
		{name: "basic is no token", headers: []string{"Basic YWxhZGRpbjpvcGVuc2VzYW1l"}},
		{name: "longer scheme is no token", headers: []string{"BearerX abc"}},
		{name: "empty header is no token", headers: []string{""}},
		{name: "two headers", headers: []string{"Bearer a", "Bearer b"}, err: errManyAuthorization},
		{name: "bearer and basic", headers: []string{"Basic x", "Bearer b"}, err: errManyAuthorization},
		{name: "scheme only", headers: []string{"Bearer"}, err: errBearerSyntax},
		{name: "scheme and space", headers: []string{"Bearer "}, err: errBearerSyntax},
		{name: "space inside", headers: []string{"Bearer abc def"}, err: errBearerSyntax},
		{name: "tab after scheme", headers: []string{"Bearer\tabc"}, err: errBearerSyntax},
		{name: "comma after scheme", headers: []string{"Bearer,abc"}, err: errBearerSyntax},
		{name: "padding in the middle", headers: []string{"Bearer ab=c"}, err: errBearerSyntax},
		{name: "only padding", headers: []string{"Bearer ==="}, err: errBearerSyntax},
		{name: "quote", headers: []string{`Bearer "abc"`}, err: errBearerSyntax},
		{name: "non-ascii", headers: []string{"Bearer abcé"}, err: errBearerSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.headers {
				h.Add("Authorization", v)
			}
			got, err := bearerToken(h)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error: got %v, want %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("token: got %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  a.b.c==", "Basic x", "Bearer", "Bearer a b", "BEARER\t", "Bearerx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tok, err := bearerToken(http.Header{"Authorization": {v}})
		if err != nil {
			if tok != "" {
				t.Errorf("token %q returned with error %v", tok, err)
			}
			return
		}
		if tok == "" {
			return
		}
		if !isB64Token(tok) {
			t.Errorf("token %q is not a b64token", tok)
		}
		if !strings.EqualFold(v[:6], "bearer") || !strings.HasSuffix(v, tok) {
			t.Errorf("token %q does not come from %q", tok, v)
		}
	})
}

// TestErrorResponses checks every refusal the gateway makes: status, body,
// challenge, and the reason and issuer it logs.
func TestErrorResponses(t *testing.T) {
	up := newEcho(t)
	g := newGateway(t, fixtureRoutes(t, up.URL)...)
	const realm = `Bearer realm="authgate"`
	for _, tc := range []struct {
		name      string
		target    string
		auth      []string
		status    int
		code      string
		desc      string
		challenge string
		reason    string
		issuer    string
	}{
		{name: "no token", target: "/api/x", status: 401, code: "unauthorized",
			desc: "no bearer token", challenge: realm, reason: "missing"},
		{name: "basic counts as no token", target: "/api/x", auth: []string{"Basic YTpi"}, status: 401, code: "unauthorized",
			desc: "no bearer token", challenge: realm, reason: "missing"},
		{name: "authenticator says missing", target: "/api/x", auth: []string{"Bearer missing"}, status: 401, code: "unauthorized",
			desc: "no bearer token", challenge: realm, reason: "missing"},
		{name: "expired", target: "/api/x", auth: []string{"Bearer tkExpired"}, status: 401, code: "invalid_token",
			desc:      "the token has expired",
			challenge: realm + `, error="invalid_token", error_description="the token has expired"`,
			reason:    "expired", issuer: "main"},
		{name: "bad signature", target: "/api/x", auth: []string{"Bearer forged.token.value"}, status: 401, code: "invalid_token",
			desc:      "the token's signature is invalid",
			challenge: realm + `, error="invalid_token", error_description="the token's signature is invalid"`,
			reason:    "bad_signature"},
		{name: "invalid token on optional route", target: "/opt/x", auth: []string{"Bearer tkExpired"}, status: 401,
			code: "invalid_token", desc: "the token has expired",
			challenge: realm + `, error="invalid_token", error_description="the token has expired"`,
			reason:    "expired", issuer: "main"},
		{name: "insufficient scope", target: "/admin/x", auth: []string{"Bearer noscope"}, status: 403, code: "insufficient_scope",
			desc:      "the token does not grant the required scope",
			challenge: realm + `, error="insufficient_scope", scope="admin write", error_description="the token does not grant the required scope"`,
			reason:    "insufficient_scope", issuer: "main"},
		{name: "claim mismatch without scopes", target: "/plain/x", auth: []string{"Bearer mismatch"}, status: 403, code: "insufficient_scope",
			desc:      "the token's claims do not satisfy the route's policy",
			challenge: realm + `, error="insufficient_scope", error_description="the token's claims do not satisfy the route's policy"`,
			reason:    "claim_mismatch", issuer: "main"},
		{name: "keys unavailable", target: "/api/x", auth: []string{"Bearer nokeys"}, status: 503, code: "temporarily_unavailable",
			desc: "the issuer's signing keys are temporarily unavailable", reason: "keys_unavailable", issuer: "main"},
		{name: "two authorization headers", target: "/api/x", auth: []string{"Bearer good", "Bearer good"}, status: 400,
			code: "invalid_request", desc: "more than one Authorization header",
			challenge: realm + `, error="invalid_request", error_description="more than one Authorization header"`,
			reason:    "malformed"},
		{name: "bearer with space inside", target: "/opt/x", auth: []string{"Bearer go od"}, status: 400,
			code: "invalid_request", desc: "the bearer credentials are empty or not RFC 6750 b64token syntax",
			challenge: realm + `, error="invalid_request", error_description="the bearer credentials are empty or not RFC 6750 b64token syntax"`,
			reason:    "malformed"},
		{name: "empty bearer", target: "/api/x", auth: []string{"Bearer"}, status: 400,
			code: "invalid_request", desc: "the bearer credentials are empty or not RFC 6750 b64token syntax",
			challenge: realm + `, error="invalid_request", error_description="the bearer credentials are empty or not RFC 6750 b64token syntax"`,
			reason:    "malformed"},
		{name: "unforwardable claim", target: "/opt/x", auth: []string{"Bearer newline"}, status: 401, code: "invalid_token",
			desc:      "a claim cannot be forwarded as a header value",
			challenge: realm + `, error="invalid_token", error_description="a claim cannot be forwarded as a header value"`,
			reason:    "unforwardable_claim", issuer: "main"},
		{name: "authenticator fault", target: "/api/x", auth: []string{"Bearer broken"}, status: 500, code: "server_error",
			desc: "the request could not be authenticated because of an internal error"},
		{name: "authenticator returns nothing", target: "/api/x", auth: []string{"Bearer nil"}, status: 500, code: "server_error",
			desc: "the request could not be authenticated because of an internal error"},
		{name: "bad path", target: "/api/%2e%2e/x", status: 400, code: "invalid_request",
			desc: "the request path is not acceptable"},
		{name: "no route", target: "/nowhere", status: 404, code: "not_found", desc: "no route matches the request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			id := "err-" + strings.ReplaceAll(tc.name, " ", "-")
			req := "GET " + tc.target + " HTTP/1.1\r\nHost: gw\r\nX-Request-Id: " + id + "\r\nConnection: close\r\n"
			for _, a := range tc.auth {
				req += "Authorization: " + a + "\r\n"
			}
			resp, body := raw(t, g.addr(), req+"\r\n")
			if resp.StatusCode != tc.status {
				t.Fatalf("status: got %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			e := errorOf(t, resp, body)
			if e.Error != tc.code {
				t.Errorf("error: got %q, want %q", e.Error, tc.code)
			}
			if e.Description != tc.desc {
				t.Errorf("error_description: got %q, want %q", e.Description, tc.desc)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate: got %q, want %q", got, tc.challenge)
			}
			wantRetry := ""
			if tc.status == 503 {
				wantRetry = "10"
			}
			if got := resp.Header.Get("Retry-After"); got != wantRetry {
				t.Errorf("Retry-After: got %q, want %q", got, wantRetry)
			}
			if got := resp.Header.Get("X-Request-Id"); got != id {
				t.Errorf("X-Request-Id: got %q, want %q", got, id)
			}
			for _, a := range tc.auth {
				if tok := strings.TrimSpace(strings.TrimPrefix(a, "Bearer")); len(tok) > 3 &&
					(strings.Contains(string(body), tok) || strings.Contains(resp.Header.Get("WWW-Authenticate"), tok)) {
					t.Errorf("response quotes the token %q: %s", tok, body)
				}
			}
			if got := up.count(); got != before {
				t.Errorf("upstream hits: got %d, want %d (a refused request was forwarded)", got, before)
			}
			line := g.log.Access(t, id)
			if got := line["status"]; got != float64(tc.status) {
				t.Errorf("logged status: got %v, want %d", got, tc.status)
			}
			if got := line["reason"]; got != tc.reason {
				t.Errorf("logged reason: got %q, want %q", got, tc.reason)
			}
			if got := line["issuer"]; got != tc.issuer {
				t.Errorf("logged issuer: got %q, want %q", got, tc.issuer)
			}
		})
	}
}

// TestModes checks what each mode forwards, and the reason it logs.
func TestModes(t *testing.T) {
	up := newEcho(t)
	g := newGateway(t, fixtureRoutes(t, up.URL)...)
	for _, tc := range []struct {
		name   string
		target string
		auth   string
		reason string
		user   string // X-User-Id upstream
	}{
		{name: "public ignores a malformed header", target: "/public/x", auth: "Bearer a b c", reason: "public"},
		{name: "public ignores a bad token", target: "/public/x", auth: "Bearer tkExpired", reason: "public"},
		{name: "optional without token", target: "/opt/x", reason: "anonymous"},
		{name: "optional with basic", target: "/opt/x", auth: "Basic YTpi", reason: "anonymous"},
		{name: "optional with token", target: "/opt/x", auth: "Bearer good", reason: "ok", user: "alice"},
		{name: "required with token", target: "/api/x", auth: "Bearer good", reason: "ok", user: "alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "mode-" + strings.ReplaceAll(tc.name, " ", "-")
			hdr := []string{"X-Request-Id", id}
			if tc.auth != "" {
				hdr = append(hdr, "Authorization", tc.auth)
			}
			resp, body := g.do(t, "GET", tc.target, hdr...)
			e := echoOf(t, resp, body)
			if got := e.Header.Get("X-User-Id"); got != tc.user {
				t.Errorf("upstream X-User-Id: got %q, want %q", got, tc.user)
			}
			if got := e.Header.Get("Authorization"); got != tc.auth {
				t.Errorf("upstream Authorization: got %q, want %q", got, tc.auth)
			}
			line := g.log.Access(t, id)
			if got := line["reason"]; got != tc.reason {
				t.Errorf("logged reason: got %q, want %q", got, tc.reason)
			}
			wantSub := tc.user
			if got := line["sub"]; got != wantSub {
				t.Errorf("logged sub: got %q, want %q", got, wantSub)
			}
		})
	}
}

// TestNewRejects: every rule New enforces, with the whole error: the field
// path in configuration spelling and the message check shows for it.
func TestNewRejects(t *testing.T) {
	u := mustURL(t, "http://up")
	ok := Route{Name: "r", PathPrefix: "/", Upstream: u, Mode: policy.None}
	for _, tc := range []struct {
		name   string
		mutate func(r *Route)
		realm  string
		want   string
	}{
		{name: "empty name", mutate: func(r *Route) { r.Name = "" }, want: "routes[0].name: must not be empty"},
		{name: "name none", mutate: func(r *Route) { r.Name = "none" }, want: `routes[0].name: "none" is reserved: metrics use it for "no route"`},
		{name: "both path and prefix", mutate: func(r *Route) { r.Path = "/x" }, want: "routes[0].match: set exactly one of path_prefix or path, not both"},
		{name: "neither path nor prefix", mutate: func(r *Route) { r.PathPrefix = "" }, want: "routes[0].match: set exactly one of path_prefix or path"},
		{name: "relative prefix", mutate: func(r *Route) { r.PathPrefix = "api" }, want: `routes[0].match.path_prefix: must start with "/"`},
		{name: "no upstream", mutate: func(r *Route) { r.Upstream = nil }, want: "routes[0].upstream.url: must not be empty"},
		{name: "ftp upstream", mutate: func(r *Route) { r.Upstream = mustURL(t, "ftp://x") }, want: "routes[0].upstream.url: scheme must be http or https"},
		{name: "upstream with user", mutate: func(r *Route) { r.Upstream = mustURL(t, "http://u:p@x/") }, want: "routes[0].upstream.url: must not contain user information"},
		{name: "upstream with query", mutate: func(r *Route) { r.Upstream = mustURL(t, "http://x/?a=b") }, want: "routes[0].upstream.url: must not have a query or fragment"},
		{name: "upstream without host", mutate: func(r *Route) { r.Upstream = mustURL(t, "http:///x") }, want: "routes[0].upstream.url: must be an absolute URL"},
		{name: "required without auth", mutate: func(r *Route) { r.Mode = policy.Required },
			want: "routes[0]: auth mode required: an authenticator is needed exactly when the mode is not none"},
		{name: "none with auth", mutate: func(r *Route) { r.Auth = fakeAuth{} },
			want: "routes[0]: auth mode none: an authenticator is needed exactly when the mode is not none"},
		{name: "unknown mode", mutate: func(r *Route) { r.Mode = 7; r.Auth = fakeAuth{} }, want: "routes[0].auth.mode: must be required, optional or none"},
		{name: "negative timeout", mutate: func(r *Route) { r.Timeout = -1 }, want: "routes[0].upstream.timeout: must not be negative"},
		{name: "bad header name", mutate: func(r *Route) { r.Headers = map[string]string{"X User": "sub"} },
			want: `routes[0].forward.headers["X User"]: header "X User" is not a valid header name`},
		{name: "reserved header", mutate: func(r *Route) { r.Headers = map[string]string{"authorization": "sub"} },
			want: `routes[0].forward.headers.authorization: header "authorization" is managed by the gateway and cannot be set from a claim`},
		{name: "bad selector", mutate: func(r *Route) { r.Headers = map[string]string{"X-A": "/a~"} },
			want: `routes[0].forward.headers.X-A: header "X-A": claim selector "/a~": reference token 1: "~" at the end (escape "~" as "~0")`},
		{name: "empty selector", mutate: func(r *Route) { r.Headers = map[string]string{"X-A": ""} },
			want: `routes[0].forward.headers.X-A: header "X-A" needs a claim name or JSON Pointer`},
		{name: "header twice", mutate: func(r *Route) { r.Headers = map[string]string{"x-a": "sub", "X-A": "sub"} },
			want: `routes[0].forward.headers.x-a: header "x-a" is also listed as "X-A" (header names are case-insensitive)`},
		{name: "claims header clashes", mutate: func(r *Route) { r.Headers = map[string]string{"X-A": "sub"}; r.ClaimsHeader = "x-a" },
			want: `routes[0].forward.claims_header: header "x-a" is also set by forward.headers`},
		{name: "bad scope", mutate: func(r *Route) { r.Scopes = []string{`a"b`} }, want: "routes[0].scopes[0]: must be a scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)"},
		// Regression: the proxy's own scope check let non-ASCII through,
		// where policy.New and the configuration refused it.
		{name: "non-ASCII scope", mutate: func(r *Route) { r.Scopes = []string{"écrire"} }, want: "routes[0].scopes[0]: must be a scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)"},
		{name: "bad method", mutate: func(r *Route) { r.Methods = []string{"GE T"} }, want: "routes[0].match.methods[0]: must be an uppercase HTTP method such as GET"},
		// Methods are case-sensitive: "get" is not GET, and is refused
		// rather than upper-cased behind the configuration's back.
		{name: "lower-case method", mutate: func(r *Route) { r.Methods = []string{"GET", "get"} }, want: "routes[0].match.methods[1]: must be an uppercase HTTP method such as GET"},
		{name: "trace", mutate: func(r *Route) { r.Methods = []string{"GET", "TRACE"} }, want: `routes[0].match.methods[1]: "TRACE" is never forwarded`},
		{name: "connect lower case", mutate: func(r *Route) { r.Methods = []string{"connect"} }, want: `routes[0].match.methods[0]: "connect" is never forwarded`},
		{name: "client-address header", mutate: func(r *Route) { r.Headers = map[string]string{"X-Real-IP": "sub"} },
			want: `routes[0].forward.headers.X-Real-IP: header "X-Real-IP" is managed by the gateway and cannot be set from a claim`},
		{name: "forwarded header in _ spelling", mutate: func(r *Route) { r.Headers = map[string]string{"X_Forwarded_Prefix": "sub"} },
			want: `routes[0].forward.headers.X_Forwarded_Prefix: header "X_Forwarded_Prefix" is managed by the gateway and cannot be set from a claim`},
		{name: "override header as claims header", mutate: func(r *Route) { r.ClaimsHeader = "x-original-url" },
			want: `routes[0].forward.claims_header: header "x-original-url" is managed by the gateway and cannot be set from a claim`},
		{name: "framing header in _ spelling", mutate: func(r *Route) { r.Headers = map[string]string{"Transfer_Encoding": "sub"} },
			want: `routes[0].forward.headers.Transfer_Encoding: header "Transfer_Encoding" is managed by the gateway and cannot be set from a claim`},
		{name: "path with parameter", mutate: func(r *Route) { r.PathPrefix = "/api;v=1" },
			want: `routes[0].match.path_prefix: must not contain ";" parameters: request paths are matched without them`},
		{name: "path with backslash", mutate: func(r *Route) { r.PathPrefix = `/api\x` }, want: "routes[0].match.path_prefix: must not contain a backslash"},
		{name: "exact path with dot segment", mutate: func(r *Route) { r.PathPrefix = ""; r.Path = "/a/../b" },
			want: `routes[0].match.path: must not contain empty, "." or ".." segments`},
		{name: "path with empty segment", mutate: func(r *Route) { r.PathPrefix = "/a//b" }, want: `routes[0].match.path_prefix: must not contain empty, "." or ".." segments`},
		{name: "path with tab", mutate: func(r *Route) { r.PathPrefix = "/a\tb" }, want: "routes[0].match.path_prefix: must not contain control characters"},
		{name: "path with query", mutate: func(r *Route) { r.PathPrefix = "/a?b" }, want: "routes[0].match.path_prefix: must not contain a query or fragment"},
		{name: "path not UTF-8", mutate: func(r *Route) { r.PathPrefix = "/a\xc0\xae" }, want: "routes[0].match.path_prefix: must be valid UTF-8"},
		{name: "path with fullwidth dots", mutate: func(r *Route) { r.PathPrefix = "/a/\uff0e\uff0e/b" },
			want: `routes[0].match.path_prefix: must not contain a compatibility character for path syntax (such as U+FF0E for ".")`},
		{name: "host of a dot", mutate: func(r *Route) { r.Host = "." }, want: "routes[0].match.host: names no host"},
		{name: "host of a port", mutate: func(r *Route) { r.Host = ":80" }, want: "routes[0].match.host: must not include a port (ports are ignored when matching)"},
		{name: "host with port", mutate: func(r *Route) { r.Host = "api.example.com:443" }, want: "routes[0].match.host: must not include a port (ports are ignored when matching)"},
		{name: "host with scheme", mutate: func(r *Route) { r.Host = "https://api.example.com" }, want: "routes[0].match.host: must be a host name, without scheme or path"},
		{name: "realm with newline", realm: "a\nb", want: "realm: must not contain quotes, backslashes or control characters"},
		{name: "realm with tab", realm: "a\tb", want: "realm: must not contain quotes, backslashes or control characters"},
		{name: "realm with quote", realm: `a"b`, want: "realm: must not contain quotes, backslashes or control characters"},
		{name: "every problem at once", mutate: func(r *Route) { r.Name = ""; r.Methods = []string{"get"}; r.Timeout = -1 },
			want: "routes[0].name: must not be empty\nroutes[0].match.methods[0]: must be an uppercase HTTP method such as GET\nroutes[0].upstream.timeout: must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			if tc.mutate != nil {
				tc.mutate(&r)
			}
			o := Options{Routes: []Route{r}, Realm: tc.realm}
			_, err := New(o)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v, want %q", err, tc.want)
			}
			// Validate refuses the same, except a missing or superfluous
			// Auth, which is not configuration.
			if verr := o.Validate(); !strings.Contains(tc.want, "authenticator") && fmt.Sprint(verr) != fmt.Sprint(err) {
				t.Errorf("Validate: got %v, want New's %v", verr, err)
			}
		})
	}
	_, err := New(Options{Routes: []Route{ok, ok}})
	if want := `routes[1].name: duplicate route name "r" (also routes[0])`; fmt.Sprint(err) != want {
		t.Errorf("duplicate names: got %v, want %q", err, want)
	}
}

// TestChallengeQuoting: New refuses a realm with '"' or '\', but the
// challenge quotes it correctly all the same.
func TestChallengeQuoting(t *testing.T) {
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.realm = `a "quoted" \ realm`
	got := h.missingToken().Challenge
	want := `Bearer realm="a \"quoted\" \\ realm"`
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	e := h.authError(&route{}, reason.ErrExpired)
	if !strings.HasPrefix(e.Challenge, want+`, error="invalid_token"`) {
		t.Errorf("got %q, want it to start with %q", e.Challenge, want)
	}
}
