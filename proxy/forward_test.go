package proxy

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/policy"
)

// spoofRoutes are the fixture's routes and one of each other kind a
// request can take: a scope-guarded route, a host-restricted one and its
// fallback, a method-restricted one, strip_prefix, a public prefix of a
// guarded path, and a WebSocket route. Routes are tried in order.
func spoofRoutes(t *testing.T, up string) []Route {
	auth := fixtureAuth(t)
	sub := map[string]string{"X-User-Id": "sub"}
	return append(fixtureRoutes(t, up),
		Route{Name: "scoped", PathPrefix: "/scoped", Upstream: mustURL(t, up), Mode: policy.Required, Auth: auth, Scopes: []string{"read"}, Headers: sub},
		Route{Name: "vhost-admin", Host: "admin.example", PathPrefix: "/vhost", Upstream: mustURL(t, up), Mode: policy.Required, Auth: auth, Headers: sub},
		Route{Name: "vhost-any", PathPrefix: "/vhost", Upstream: mustURL(t, up), Mode: policy.None},
		Route{Name: "readonly-get", PathPrefix: "/readonly", Methods: []string{"GET"}, Upstream: mustURL(t, up), Mode: policy.None},
		Route{Name: "readonly-write", PathPrefix: "/readonly", Upstream: mustURL(t, up), Mode: policy.Required, Auth: auth, Headers: sub},
		Route{Name: "prefix", PathPrefix: "/prefix", Upstream: mustURL(t, up+"/base"), StripPrefix: true, Mode: policy.None},
		Route{Name: "files-private", PathPrefix: "/files/private", Upstream: mustURL(t, up), Mode: policy.Required, Auth: auth, Headers: sub},
		Route{Name: "files", PathPrefix: "/files", Upstream: mustURL(t, up), Mode: policy.None},
		Route{Name: "ws", PathPrefix: "/ws", Upstream: mustURL(t, up), Mode: policy.Required, Auth: auth, Headers: sub},
	)
}

// spoofedIdentity are the headers some route of spoofRoutes sets, folded
// (lower case, "_" read as "-"), to their canonical names.
var spoofedIdentity = map[string]string{}

func init() {
	for _, h := range []string{"X-User-Id", "X-Roles", "X-Exp", "X-Admin", "X-Pi", "X-Org", "X-Groups", "X-Email", "X-Nothing", "X-Auth-Claims"} {
		spoofedIdentity[foldHeader(h)] = h
	}
}

func foldHeader(name string) string { return strings.ToLower(strings.ReplaceAll(name, "_", "-")) }

// TestHeaderSpoofing sends identity headers a client must not be able to
// set, in every spelling, with forged forwarding headers and a Connection
// header naming the gateway's own, over a raw connection (so names and
// repeats arrive as written) on every kind of route, and checks what the
// upstream got: every identity header, in any spelling, is the gateway's
// own, spelled canonically with its one value, or absent; the forwarding
// headers and X-Request-Id are the gateway's (docs/reference.md §3.5, STYLE 3).
// Stripping runs before routing, on every route: a route that sets no
// identity header still gets none of the client's. One end-to-end case is
// internal/gateway's TestHandlerHeaderSpoofing.
func TestHeaderSpoofing(t *testing.T) {
	up := newEcho(t)
	g := newGateway(t, spoofRoutes(t, up.URL)...)
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"mallory","roles":["admin"]}`))
	spellings := []struct {
		name  string
		lines []string
	}{
		{"canonical", []string{"X-User-Id: mallory", "X-Roles: admin", "X-Auth-Claims: " + forged, "X-Email: mallory@example.com"}},
		{"lower case", []string{"x-user-id: mallory", "x-roles: admin", "x-auth-claims: " + forged, "x-email: mallory@example.com"}},
		{"upper case", []string{"X-USER-ID: mallory", "X-ROLES: admin", "X-AUTH-CLAIMS: " + forged}},
		{"underscores", []string{"X_User_Id: mallory", "X_Roles: admin", "X_Auth_Claims: " + forged}},
		{"lower-case underscores", []string{"x_user_id: mallory", "x_roles: admin", "x_auth_claims: " + forged}},
		{"mixed - and _", []string{"X-User_Id: mallory", "X_Auth-Claims: " + forged}},
		{"duplicates", []string{"X-User-Id: mallory", "X-User-Id: root", "X-Roles: admin", "X-Roles: root", "X-Auth-Claims: " + forged, "X-Auth-Claims: " + forged}},
		{"comma list", []string{"X-User-Id: mallory, alice", "X-Roles: admin,root"}},
		{"obs-fold value", []string{"X-User-Id: mal\r\n lory", "X-Auth-Claims: " + forged[:10] + "\r\n\t" + forged[10:]}},
		{"empty values", []string{"X-User-Id:", "X-Roles:", "X-Auth-Claims:"}},
		{"headers of routes not taken", []string{"X-Exp: 1", "X-Admin: true", "X-Pi: 3", "X-Org: {}", "X-Groups: admin", "X-Nothing: x"}},
	}
	var every []string
	for _, s := range spellings {
		every = append(every, s.lines...)
	}
	api := map[string]string{
		"X-User-Id": "alice", "X-Roles": "reader,writer", "X-Exp": "1700000000", "X-Admin": "true", "X-Pi": "3.5",
		"X-Org": `{"id":7,"name":"acme"}`, "X-Groups": "g1,2,false",
		"X-Auth-Claims": base64.RawURLEncoding.EncodeToString([]byte(alicePayload)),
	}
	alice := map[string]string{"X-User-Id": "alice"}
	bearer := "Authorization: Bearer good"
	ws := []string{bearer, "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="}
	routes := []struct {
		name     string
		method   string
		target   string
		host     string   // "gw" when empty
		lines    []string // the request's own
		conn     string   // first member of the Connection header
		path     string   // the upstream's path
		want     map[string]string
		spelling bool // each spelling on its own too, not only all at once
	}{
		{name: "public", method: "GET", target: "/public/x", path: "/public/x", spelling: true},
		{name: "public with a token", method: "GET", target: "/public/x", lines: []string{bearer}, path: "/public/x"},
		{name: "optional, anonymous", method: "GET", target: "/opt/x", path: "/opt/x", spelling: true},
		{name: "optional with a token", method: "GET", target: "/opt/x", lines: []string{bearer}, path: "/opt/x", want: alice},
		{name: "required", method: "GET", target: "/api/x", lines: []string{bearer}, path: "/api/x", want: api, spelling: true},
		{name: "required, route without identity headers", method: "GET", target: "/plain/x", lines: []string{bearer}, path: "/plain/x"},
		{name: "scope-guarded with a token", method: "GET", target: "/scoped/x", lines: []string{bearer}, path: "/scoped/x", want: alice},
		{name: "host-restricted, its fallback", method: "GET", target: "/vhost/x", host: "other.example", path: "/vhost/x"},
		{name: "host-restricted with a token", method: "GET", target: "/vhost/x", host: "admin.example", lines: []string{bearer}, path: "/vhost/x", want: alice},
		{name: "method-restricted", method: "GET", target: "/readonly/x", path: "/readonly/x"},
		{name: "strip_prefix", method: "GET", target: "/prefix/x", path: "/base/x"},
		{name: "public prefix of a guarded one", method: "POST", target: "/files/x", lines: []string{"Content-Length: 0"}, path: "/files/x"},
		{name: "WebSocket with a token", method: "GET", target: "/ws/x", lines: ws, conn: "Upgrade", path: "/ws/x", want: alice},
	}
	type tcase struct {
		name, method, target, host, conn, path, requestID string
		lines                                             []string
		want                                              map[string]string
	}
	var cases []tcase
	for i, r := range routes {
		host := cmp.Or(r.host, "gw")
		conn := cmp.Or(r.conn, "close")
		if r.spelling {
			for j, s := range spellings {
				cases = append(cases, tcase{r.name + "/" + s.name, r.method, r.target, host, conn, r.path,
					fmt.Sprintf("spoof-%d-%d", i, j), slices.Concat(r.lines, s.lines), r.want})
			}
		}
		// Without an X-Request-Id the gateway's generated one reaches the
		// upstream, although Connection names it.
		cases = append(cases, tcase{r.name + "/every spelling at once", r.method, r.target, host, conn, r.path, "",
			slices.Concat(r.lines, every), r.want})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lines := append([]string{
				"Host: " + tc.host,
				"Connection: " + tc.conn + ", X-User-Id, X-Auth-Claims, X-Request-Id, X-Forwarded-For",
				"X-Forwarded-For: 10.0.0.1",
				"X-Forwarded-Host: evil.example",
				"X-Forwarded-Proto: https",
				"Forwarded: for=10.0.0.1;host=evil.example",
			}, tc.lines...)
			if tc.requestID != "" {
				lines = append(lines, "X-Request-Id: "+tc.requestID)
			}
			resp, body := raw(t, g.addr(), tc.method+" "+tc.target+" HTTP/1.1\r\n"+strings.Join(lines, "\r\n")+"\r\n\r\n")
			e := echoOf(t, resp, body)
			if e.Path != tc.path {
				t.Errorf("upstream path: got %q, want %q", e.Path, tc.path)
			}
			seen := map[string]bool{}
			for k, vals := range e.Header {
				canon, ok := spoofedIdentity[foldHeader(k)]
				if !ok {
					continue
				}
				want, set := tc.want[canon]
				switch {
				case !set:
					t.Errorf("upstream %s: got %q, want none (the client's)", k, vals)
				case k != canon:
					t.Errorf("upstream %s: got %q next to the gateway's %s, want only the gateway's", k, vals, canon)
				case len(vals) != 1 || vals[0] != want:
					t.Errorf("upstream %s: got %q, want [%q]", k, vals, want)
				default:
					seen[canon] = true
				}
			}
			for name, want := range tc.want {
				if !seen[name] {
					t.Errorf("upstream %s: got %q, want [%q] (the gateway's)", name, e.Header.Values(name), want)
				}
			}
			for name, want := range map[string]string{
				"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": tc.host, "X-Forwarded-Proto": "http", "X-Real-Ip": "127.0.0.1",
			} {
				if got := e.Header.Values(name); len(got) != 1 || got[0] != want {
					t.Errorf("upstream %s: got %q, want [%q]", name, got, want)
				}
			}
			if got := e.Header.Values("Forwarded"); len(got) != 0 {
				t.Errorf("upstream Forwarded: got %q, want none", got)
			}
			id := resp.Header.Get("X-Request-Id")
			if tc.requestID != "" && id != tc.requestID {
				t.Errorf("response X-Request-Id: got %q, want the client's %q", id, tc.requestID)
			}
			if got := e.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != id {
				t.Errorf("upstream X-Request-Id: got %q, want [%q] (the response's)", got, id)
			}
		})
	}
}

// TestClaimHeaders checks the route's header plan as the upstream receives
// it through the real handler (docs/reference.md §3.5): each header from its
// selector, one of every kind of value, an absent or null claim leaving
// the header unset, the claims header holding the payload exactly. How
// each value is encoded is claims.TestHeaderValue's and
// TestHeaderValueRefused's; how selectors find values, claims.TestLookup's;
// one end-to-end case is internal/gateway's TestHandlerClaimHeaders.
func TestClaimHeaders(t *testing.T) {
	up := newEcho(t)
	g := newGateway(t, fixtureRoutes(t, up.URL)...)
	resp, body := g.do(t, "GET", "/api/x", "Authorization", "Bearer good")
	e := echoOf(t, resp, body)
	for _, tc := range []struct {
		header string
		want   []string // nil: not set
	}{
		{header: "X-User-Id", want: []string{"alice"}},
		{header: "X-Roles", want: []string{"reader,writer"}},
		{header: "X-Exp", want: []string{"1700000000"}},
		{header: "X-Admin", want: []string{"true"}},
		{header: "X-Pi", want: []string{"3.5"}},
		{header: "X-Org", want: []string{`{"id":7,"name":"acme"}`}},
		{header: "X-Groups", want: []string{"g1,2,false"}},
		{header: "X-Email", want: nil},
		{header: "X-Nothing", want: nil},
	} {
		t.Run(tc.header, func(t *testing.T) {
			got := e.Header.Values(tc.header)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("claims header", func(t *testing.T) {
		got := e.Header.Get("X-Auth-Claims")
		dec, err := base64.RawURLEncoding.DecodeString(got)
		if err != nil {
			t.Fatalf("X-Auth-Claims %q: %v", got, err)
		}
		if string(dec) != alicePayload {
			t.Errorf("decoded: got %q, want %q", dec, alicePayload)
		}
	})
}

// TestClaimHeaderValues sends one token per case through a route that
// forwards sub and a JSON Pointer: an empty value is still a header, a
// pointer that finds nothing sets none, a claim the route does not forward
// may hold anything, and a value that cannot be a header value refuses the
// request with 401 and forwards nothing (a refused sub is in
// TestErrorResponses).
func TestClaimHeaderValues(t *testing.T) {
	up := newEcho(t)
	cases := []struct {
		name    string
		payload string
		want    map[string][]string // header → values; nil values: not set
		refused bool
	}{
		{"empty string", `{"sub":"","realm_access":{"roles":["r"]}}`,
			map[string][]string{"X-User-Id": {""}, "X-Roles": {"r"}}, false},
		{"empty array", `{"sub":"alice","realm_access":{"roles":[]}}`,
			map[string][]string{"X-User-Id": {"alice"}, "X-Roles": {""}}, false},
		{"JSON Pointer finds nothing", `{"sub":"alice","realm_access":{"groups":["g"]}}`,
			map[string][]string{"X-User-Id": {"alice"}, "X-Roles": nil}, false},
		{"unforwarded claim with a newline", `{"sub":"alice","ctl":"a\nb"}`,
			map[string][]string{"X-User-Id": {"alice"}, "X-Roles": nil}, false},
		{"newline behind a JSON Pointer", `{"sub":"alice","realm_access":{"roles":["x\ny"]}}`, nil, true},
	}
	auth := fakeAuth{}
	for _, tc := range cases {
		auth[strings.ReplaceAll(tc.name, " ", "-")] = authResult{id: identity(t, "main", tc.payload)}
	}
	g := newGateway(t, Route{Name: "claims", PathPrefix: "/claims", Upstream: mustURL(t, up.URL), Mode: policy.Required, Auth: auth,
		Headers: map[string]string{"X-User-Id": "sub", "X-Roles": "/realm_access/roles"}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			resp, body := g.do(t, "GET", "/claims/x", "Authorization", "Bearer "+strings.ReplaceAll(tc.name, " ", "-"))
			if tc.refused {
				if e := errorOf(t, resp, body); resp.StatusCode != http.StatusUnauthorized || e.Error != "invalid_token" {
					t.Errorf("got %d %q, want 401 invalid_token", resp.StatusCode, e.Error)
				}
				if got := up.count() - before; got != 0 {
					t.Errorf("upstream requests: got %d, want 0", got)
				}
				return
			}
			e := echoOf(t, resp, body)
			for name, want := range tc.want {
				got, present := e.Header[name]
				if want == nil && present || want != nil && !slices.Equal(got, want) {
					t.Errorf("upstream %s: got %q (present: %v), want %q", name, got, present, want)
				}
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	up := newEcho(t)
	g := newGateway(t, fixtureRoutes(t, up.URL)...)
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, tc := range []struct {
		name string
		ids  []string
		keep bool
	}{
		{name: "kept", ids: []string{"abc-123"}, keep: true},
		{name: "128 characters kept", ids: []string{strings.Repeat("a", 128)}, keep: true},
		{name: "all visible ascii kept", ids: []string{`!"#$%&'()*+,-./:;<=>?@[\]^_{|}~`}, keep: true},
		{name: "absent", ids: nil},
		{name: "129 characters replaced", ids: []string{strings.Repeat("a", 129)}},
		{name: "space replaced", ids: []string{"a b"}},
		{name: "non-ascii replaced", ids: []string{"abcé"}},
		{name: "two replaced", ids: []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			for _, id := range tc.ids {
				hdr = append(hdr, "X-Request-Id", id)
			}
			resp, body := g.do(t, "GET", "/public/x", hdr...)
			got := resp.Header.Values("X-Request-Id")
			if len(got) != 1 {
				t.Fatalf("response X-Request-Id: got %q, want one value", got)
			}
			if tc.keep && got[0] != tc.ids[0] {
				t.Errorf("response X-Request-Id: got %q, want %q", got[0], tc.ids[0])
			}
			if !tc.keep && !generated.MatchString(got[0]) {
				t.Errorf("response X-Request-Id: got %q, want 32 hex digits", got[0])
			}
			if up := echoOf(t, resp, body).Header.Values("X-Request-Id"); len(up) != 1 || up[0] != got[0] {
				t.Errorf("upstream X-Request-Id: got %q, want [%q]", up, got[0])
			}
			if line := g.log.Access(t, got[0]); line["path"] != "/public/x" {
				t.Errorf("logged path: got %q, want %q", line["path"], "/public/x")
			}
		})
	}
	t.Run("generated ids differ", func(t *testing.T) {
		a, _ := g.do(t, "GET", "/public/x")
		b, _ := g.do(t, "GET", "/public/x")
		if a.Header.Get("X-Request-Id") == b.Header.Get("X-Request-Id") {
			t.Errorf("two requests got the same id %q", a.Header.Get("X-Request-Id"))
		}
	})
}

func TestAuthorizationAndHost(t *testing.T) {
	up := newEcho(t)
	routes := append(fixtureRoutes(t, up.URL),
		Route{Name: "preserve", PathPrefix: "/preserve", Upstream: mustURL(t, up.URL), PreserveHost: true, Mode: policy.None})
	g := newGateway(t, routes...)
	upHost := strings.TrimPrefix(up.URL, "http://")
	for _, tc := range []struct {
		name   string
		target string
		auth   string
		host   string
		want   string // upstream Authorization
		wantH  string // upstream Host
	}{
		{name: "kept by default", target: "/api/x", auth: "Bearer good", want: "Bearer good", wantH: upHost},
		{name: "stripped", target: "/strip/x", auth: "Bearer good", want: "", wantH: upHost},
		{name: "basic kept on public", target: "/public/x", auth: "Basic YTpi", want: "Basic YTpi", wantH: upHost},
		{name: "client host preserved", target: "/preserve/x", host: "app.example.com", wantH: "app.example.com"},
		{name: "client host replaced", target: "/public/x", host: "app.example.com", wantH: upHost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.auth != "" {
				hdr = append(hdr, "Authorization", tc.auth)
			}
			if tc.host != "" {
				hdr = append(hdr, "Host", tc.host)
			}
			resp, body := g.do(t, "GET", tc.target, hdr...)
			e := echoOf(t, resp, body)
			if got := e.Header.Get("Authorization"); got != tc.want {
				t.Errorf("upstream Authorization: got %q, want %q", got, tc.want)
			}
			if e.Host != tc.wantH {
				t.Errorf("upstream Host: got %q, want %q", e.Host, tc.wantH)
			}
		})
	}
}

// TestResponseRequestID is a regression test: an upstream that sets its own
// X-Request-Id must not give the client two.
func TestResponseRequestID(t *testing.T) {
	up := newEcho(t) // answers with X-Request-Id: from-upstream
	g := newGateway(t, fixtureRoutes(t, up.URL)...)
	resp, _ := g.do(t, "GET", "/public/x", "X-Request-Id", "mine")
	if got := resp.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != "mine" {
		t.Errorf("response X-Request-Id: got %q, want [mine]", got)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status: got %d, want 200", resp.StatusCode)
	}
}

// clientOnlyHeaders are the headers docs/reference.md §3.5 drops from every client
// request, a few more X-Forwarded-* suffixes, and HTTP2-Settings and Proxy.
var clientOnlyHeaders = []string{
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port",
	"X-Forwarded-Prefix", "X-Forwarded-Server", "X-Forwarded-Ssl", "X-Forwarded-Scheme",
	"X-Forwarded-Uri", "X-Forwarded-Client-Cert", "Forwarded",
	"X-Real-IP", "True-Client-IP", "X-Client-IP", "CF-Connecting-IP",
	"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
	"X-Original-URL", "X-Rewrite-URL", "X-Original-URI",
	"HTTP2-Settings", "Proxy",
}

// TestClientHeadersDropped sends each client-only header, as written, in
// lower case and in "_" spellings, over a raw connection to a public and a
// required route, and checks that none of the client's values reaches the
// upstream and that the gateway's own X-Forwarded-For, -Host, -Proto and
// X-Real-IP are there. Before the fix only X-Forwarded-For, -Host, -Proto
// and Forwarded were removed (by ReverseProxy): "X-Original-URL: /admin"
// reached a public route's upstream, and so did X-Real-IP, X-Forwarded-Prefix
// and their "_" spellings, and the gateway set no X-Real-IP at all.
func TestClientHeadersDropped(t *testing.T) {
	up := newEcho(t)
	g := newGateway(t, fixtureRoutes(t, up.URL)...)
	type spelling struct{ name, header string }
	var cases []spelling
	for _, h := range clientOnlyHeaders {
		cases = append(cases, spelling{h, h}, spelling{h + " lower", strings.ToLower(h)})
		if strings.Contains(h, "-") {
			cases = append(cases,
				spelling{h + " underscores", strings.ReplaceAll(h, "-", "_")},
				spelling{h + " last underscore", h[:strings.LastIndex(h, "-")] + "_" + h[strings.LastIndex(h, "-")+1:]})
		}
	}
	for _, route := range []struct{ name, target, auth string }{
		{name: "public", target: "/public/x"},
		{name: "required", target: "/api/x", auth: "Authorization: Bearer good\r\n"},
	} {
		for _, sp := range cases {
			t.Run(route.name+"/"+sp.name, func(t *testing.T) {
				const spoof = "spoofed-by-client"
				resp, body := raw(t, g.addr(), "GET "+route.target+" HTTP/1.1\r\nHost: gw\r\n"+route.auth+
					sp.header+": "+spoof+"\r\nConnection: close\r\n\r\n")
				e := echoOf(t, resp, body)
				for k, vs := range e.Header {
					for _, v := range vs {
						if strings.Contains(v, spoof) {
							t.Errorf("upstream %s: got %q, the client's value", k, v)
						}
					}
				}
				checkGatewayForwarded(t, e)
			})
		}
	}
}

// TestClientHeadersAllAtOnce sends every client-only header in one
// request, so that one copy of the header map must drop them all, and
// names the gateway's headers in Connection, which must not make it lose
// them.
func TestClientHeadersAllAtOnce(t *testing.T) {
	up := newEcho(t)
	g := newGateway(t, fixtureRoutes(t, up.URL)...)
	var req strings.Builder
	req.WriteString("GET /opt/x HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer good\r\nConnection: close, X-Real-IP, X-Forwarded-For\r\nX-User_Id: mallory\r\n")
	for _, h := range clientOnlyHeaders {
		fmt.Fprintf(&req, "%s: spoofed\r\n%s: spoofed\r\n", h, strings.ReplaceAll(h, "-", "_"))
	}
	resp, body := raw(t, g.addr(), req.String()+"\r\n")
	e := echoOf(t, resp, body)
	for k, vs := range e.Header {
		if slices.Contains(vs, "spoofed") || slices.Contains(vs, "mallory") {
			t.Errorf("upstream %s: got %q, the client's value", k, vs)
		}
	}
	if got := e.Header.Values("X-User-Id"); len(got) != 1 || got[0] != "alice" {
		t.Errorf("upstream X-User-Id: got %q, want [alice]", got)
	}
	checkGatewayForwarded(t, e)
}

// checkGatewayForwarded checks the forwarding headers the gateway sets for
// a raw request with "Host: gw" from loopback.
func checkGatewayForwarded(t testing.TB, e echoed) {
	t.Helper()
	for name, want := range map[string]string{
		"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "gw", "X-Forwarded-Proto": "http", "X-Real-Ip": "127.0.0.1",
	} {
		if got := e.Header.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("upstream %s: got %q, want [%q]", name, got, want)
		}
	}
}
