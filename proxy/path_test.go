package proxy

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/authgate/authgate/policy"
)

// TestPathTricks sends paths as an attacker would, over a raw connection so
// no client library cleans them first, and checks that every dot or empty
// segment is refused before routing while encoded slashes travel unchanged.
func TestPathTricks(t *testing.T) {
	up := newEcho(t)
	g := newGateway(t,
		Route{Name: "public", PathPrefix: "/api", Upstream: mustURL(t, up.URL), Mode: policy.None},
		Route{Name: "root", PathPrefix: "/", Upstream: mustURL(t, up.URL), Mode: policy.Required, Auth: fakeAuth{}},
	)
	for _, tc := range []struct {
		name    string
		target  string
		status  int
		wantURI string // what the upstream saw, for 200s
	}{
		{name: "dot-dot", target: "/api/../admin", status: 400},
		{name: "encoded dot-dot", target: "/api/%2e%2e/admin", status: 400},
		{name: "upper-case encoded dot-dot", target: "/api/%2E%2E/admin", status: 400},
		{name: "mixed encoded dot-dot", target: "/api/.%2e/admin", status: 400},
		{name: "dot-dot at end", target: "/api/..", status: 400},
		{name: "dot", target: "/api/./x", status: 400},
		{name: "dot at end", target: "/api/.", status: 400},
		{name: "double slash", target: "/api//x", status: 400},
		{name: "leading double slash", target: "//api/x", status: 400},
		{name: "encoded double slash", target: "/%2F%2F", status: 400},
		{name: "encoded slash makes empty segment", target: "/api/%2F", status: 400},
		{name: "encoded dot-dot behind encoded slash", target: "/api/x%2F..%2Fadmin", status: 400},
		{name: "absolute form with dot-dot", target: "http://example.com/api/../admin", status: 400},
		// (OPTIONS * is answered by net/http itself, before any handler.)
		{name: "asterisk form", target: "*", status: 400},
		// Characters upstream stacks read differently (docs/reference.md §3.1).
		{name: "encoded NUL", target: "/api/a%00b", status: 400},
		{name: "encoded NUL before a suffix", target: "/api/secret%00.png", status: 400},
		{name: "encoded CR LF", target: "/api/a%0d%0aX-Injected:%201", status: 400},
		{name: "encoded tab", target: "/api/a%09b", status: 400},
		{name: "encoded unit separator", target: "/api/a%1Fb", status: 400},
		{name: "encoded DEL", target: "/api/a%7Fb", status: 400},
		{name: "raw backslash", target: "/api/a\\b", status: 400},
		{name: "raw backslash dot-dot", target: "/api\\..\\admin", status: 400},
		{name: "encoded backslash", target: "/api/%5C..%5Cadmin", status: 400},
		{name: "encoded backslash lower case", target: "/api/a%5cb", status: 400},
		{name: "overlong dot", target: "/api/%C0%AE%C0%AE/admin", status: 400},
		{name: "overlong slash", target: "/api/..%C0%AFadmin", status: 400},
		{name: "overlong slash, three bytes", target: "/api/%E0%80%AF", status: 400},
		{name: "lone continuation byte", target: "/api/%80", status: 400},
		{name: "truncated sequence", target: "/api/caf%C3", status: 400},
		{name: "surrogate", target: "/api/%ED%A0%80", status: 400},
		{name: "byte FF", target: "/api/%FF", status: 400},
		{name: "beyond U+10FFFF", target: "/api/%F4%90%80%80", status: 400},
		{name: "raw invalid UTF-8", target: "/api/caf\xff", status: 400},
		{name: "raw overlong dot", target: "/api/\xc0\xae\xc0\xae/admin", status: 400},
		{name: "raw valid UTF-8 sent encoded", target: "/api/caf\xc3\xa9", status: 200, wantURI: "/api/caf%C3%A9"},
		{name: "encoded UTF-8 kept", target: "/api/caf%C3%A9", status: 200, wantURI: "/api/caf%C3%A9"},
		// Path parameters are ignored for the dot-segment check.
		{name: "dot-dot with parameter", target: "/api/..;/admin", status: 400},
		{name: "dot-dot with named parameter", target: "/api/..;jsessionid=1/admin", status: 400},
		{name: "dot with parameter", target: "/api/.;x/y", status: 400},
		{name: "dot-dot with parameter at end", target: "/api/x/..;", status: 400},
		{name: "encoded dot-dot with parameter", target: "/api/%2e%2e;/admin", status: 400},
		{name: "dot-dot with encoded semicolon", target: "/api/..%3B/admin", status: 400},
		{name: "dot-dot with lower-case encoded semicolon", target: "/api/..%3bx/admin", status: 400},
		{name: "parameter-only segment makes an empty one", target: "/api/;x/y", status: 400},
		{name: "parameter kept upstream", target: "/api;x/y", status: 200, wantURI: "/api;x/y"},
		{name: "encoded semicolon kept upstream", target: "/api%3Bx/y", status: 200, wantURI: "/api%3Bx/y"},
		{name: "dot-dot inside a parameter", target: "/api/x;..", status: 200, wantURI: "/api/x;.."},
		{name: "encoded slash kept", target: "/api/a%2Fb", status: 200, wantURI: "/api/a%2Fb"},
		{name: "client encoding kept", target: "/api/%61%62?q=%2F", status: 200, wantURI: "/api/%61%62?q=%2F"},
		{name: "trailing slash", target: "/api/x/", status: 200, wantURI: "/api/x/"},
		{name: "dots inside a segment", target: "/api/..x/.y/a..", status: 200, wantURI: "/api/..x/.y/a.."},
		{name: "unparsable query verbatim", target: "/api/x?a=1;b=2&c=%zz", status: 200, wantURI: "/api/x?a=1;b=2&c=%zz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			resp, body := raw(t, g.addr(), "GET "+tc.target+" HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
			if resp.StatusCode != tc.status {
				t.Fatalf("status: got %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status != 200 {
				if e := errorOf(t, resp, body); e.Error != "invalid_request" {
					t.Errorf("error: got %q, want %q", e.Error, "invalid_request")
				}
				if got := up.count(); got != before {
					t.Errorf("upstream hits: got %d, want %d (a refused path reached the upstream)", got, before)
				}
				return
			}
			if got := echoOf(t, resp, body).RequestURI; got != tc.wantURI {
				t.Errorf("upstream request URI: got %q, want %q", got, tc.wantURI)
			}
		})
	}
}

func TestRouting(t *testing.T) {
	up := newEcho(t)
	u := mustURL(t, up.URL)
	g := newGateway(t,
		Route{Name: "hosted", Host: "API.example.com", PathPrefix: "/", Upstream: u, Mode: policy.None},
		Route{Name: "dotted", Host: "dotted.example.com.", PathPrefix: "/", Upstream: u, Mode: policy.None},
		Route{Name: "v6", Host: "[::1]", PathPrefix: "/", Upstream: u, Mode: policy.None},
		Route{Name: "sso", Host: "sso.example.com", PathPrefix: "/", Upstream: u, Mode: policy.None},
		Route{Name: "exact", Path: "/exact", Methods: []string{"GET", "HEAD"}, Upstream: u, Mode: policy.None},
		Route{Name: "orders", PathPrefix: "/api/orders/", Upstream: u, Mode: policy.None},
		Route{Name: "api", PathPrefix: "/api", Upstream: u, Mode: policy.None},
	)
	for _, tc := range []struct {
		name   string
		method string
		target string
		host   string
		route  string // "none": 404
	}{
		{name: "host with port", target: "/x", host: "api.example.com:8443", route: "hosted"},
		{name: "host case-insensitive", target: "/x", host: "Api.Example.COM", route: "hosted"},
		{name: "host trailing dot", target: "/x", host: "api.example.com.", route: "hosted"},
		{name: "host trailing dot, case and port", target: "/x", host: "API.Example.com.:8443", route: "hosted"},
		{name: "host empty port", target: "/x", host: "api.example.com:", route: "hosted"},
		{name: "configured trailing dot", target: "/x", host: "dotted.example.com", route: "dotted"},
		{name: "configured trailing dot, request too", target: "/x", host: "Dotted.Example.com.:80", route: "dotted"},
		{name: "IPv6 host", target: "/x", host: "[::1]:8080", route: "v6"},
		{name: "IPv6 host without port", target: "/x", host: "[::1]", route: "v6"},
		// U+017F folds to "s" under Unicode case folding; host names are
		// ASCII, and the upstream would get the punycode of this one.
		{name: "non-ASCII host in absolute form", target: "http://\u017f\u017fo.example.com/x", route: "none"},
		{name: "ASCII host in absolute form", target: "http://SSO.example.com/x", host: "other.example", route: "sso"},
		{name: "other host", target: "/x", host: "www.example.com", route: "none"},
		{name: "exact path", target: "/exact", route: "exact"},
		{name: "exact path, second method", method: "HEAD", target: "/exact", route: "exact"},
		{name: "exact path, other method", method: "POST", target: "/exact", route: "none"},
		{name: "exact path, trailing slash", target: "/exact/", route: "none"},
		{name: "exact path, longer", target: "/exact/x", route: "none"},
		{name: "prefix itself", target: "/api/orders", route: "orders"},
		{name: "prefix with trailing slash", target: "/api/orders/", route: "orders"},
		{name: "prefix child", target: "/api/orders/7", route: "orders"},
		{name: "prefix is a segment boundary", target: "/api/ordersx", route: "api"},
		{name: "first match wins", target: "/api/orders/7", route: "orders"},
		{name: "encoded prefix matches decoded", target: "/api/%6Frders", route: "orders"},
		{name: "no route", target: "/nothing", route: "none"},
		{name: "prefix not a boundary", target: "/apix", route: "none"},
		// Path parameters are ignored for matching.
		{name: "parameter on the prefix", target: "/api;x/y", route: "api"},
		{name: "parameter on the exact prefix", target: "/api;jsessionid=1", route: "api"},
		{name: "parameter between prefix segments", target: "/api;x/orders/7", route: "orders"},
		{name: "parameter on the last prefix segment", target: "/api/orders;v=2", route: "orders"},
		{name: "encoded semicolon as a parameter", target: "/api/orders%3Bv=2/7", route: "orders"},
		{name: "parameter on an exact path", target: "/exact;x", route: "exact"},
		{name: "parameter does not make a boundary", target: "/apix;y", route: "none"},
		{name: "parameter after a trailing slash", target: "/exact/;x", route: "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			host := tc.host
			if host == "" {
				host = "gw.local"
			}
			resp, body := raw(t, g.addr(), method+" "+tc.target+" HTTP/1.1\r\nHost: "+host+"\r\nX-Request-Id: rt-"+strings.ReplaceAll(tc.name, " ", "-")+"\r\nConnection: close\r\n\r\n")
			line := g.log.Access(t, "rt-"+strings.ReplaceAll(tc.name, " ", "-"))
			if got := line["route"]; got != tc.route {
				t.Errorf("route: got %q, want %q", got, tc.route)
			}
			if tc.route == "none" {
				if resp.StatusCode != http.StatusNotFound {
					t.Fatalf("status: got %d, want 404", resp.StatusCode)
				}
				if e := errorOf(t, resp, body); e.Error != "not_found" {
					t.Errorf("error: got %q, want %q", e.Error, "not_found")
				}
				if got := resp.Header.Get("WWW-Authenticate"); got != "" {
					t.Errorf("WWW-Authenticate: got %q, want none", got)
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status: got %d, want 200: %s", resp.StatusCode, body)
			}
		})
	}
}

// TestUpstreamPath checks the outbound path: base paths, strip_prefix, and
// the client's encoding (docs/reference.md §3.1).
func TestUpstreamPath(t *testing.T) {
	up := newEcho(t)
	for _, tc := range []struct {
		name     string
		upstream string // path appended to the echo server's URL
		prefix   string
		exact    bool
		strip    bool
		target   string
		wantURI  string
	}{
		{name: "no base, no strip", prefix: "/api", target: "/api/x?a=b", wantURI: "/api/x?a=b"},
		{name: "base, no strip", upstream: "/base", prefix: "/api", target: "/api/x", wantURI: "/base/api/x"},
		{name: "base with slash, no strip", upstream: "/base/", prefix: "/api", target: "/api/x", wantURI: "/base/api/x"},
		{name: "strip to base", upstream: "/base", prefix: "/api", strip: true, target: "/api/x", wantURI: "/base/x"},
		{name: "strip exact prefix to base", upstream: "/base", prefix: "/api", strip: true, target: "/api", wantURI: "/base"},
		{name: "strip exact prefix to base with slash", upstream: "/base/", prefix: "/api", strip: true, target: "/api", wantURI: "/base/"},
		{name: "strip prefix with trailing slash", upstream: "/base", prefix: "/api", strip: true, target: "/api/", wantURI: "/base/"},
		{name: "strip exact prefix, no base", prefix: "/api", strip: true, target: "/api", wantURI: "/"},
		{name: "strip exact prefix, base /", upstream: "/", prefix: "/api", strip: true, target: "/api", wantURI: "/"},
		{name: "strip, no base", prefix: "/api", strip: true, target: "/api/x/y?q=1", wantURI: "/x/y?q=1"},
		{name: "strip keeps encoded slash", upstream: "/base", prefix: "/api", strip: true, target: "/api/a%2Fb", wantURI: "/base/a%2Fb"},
		{name: "strip escaped form of prefix", upstream: "/base", prefix: "/api/orders", strip: true, target: "/api/%6Frders/x%2Fy", wantURI: "/base/x%2Fy"},
		{name: "strip escaped prefix, exact", upstream: "/base", prefix: "/api/orders", strip: true, target: "/api/%6F%72ders", wantURI: "/base"},
		{name: "strip with encoded boundary slash", upstream: "/base", prefix: "/api", strip: true, target: "/api%2Fx", wantURI: "/base/x"},
		{name: "strip root prefix is a no-op", upstream: "/base", prefix: "/", strip: true, target: "/x", wantURI: "/base/x"},
		{name: "strip exact path", upstream: "/base", prefix: "/login", exact: true, strip: true, target: "/login", wantURI: "/base"},
		{name: "escaped base path", upstream: "/b%20ase", prefix: "/api", strip: true, target: "/api/x", wantURI: "/b%20ase/x"},
		// strip_prefix removes the prefix with its segments' parameters.
		{name: "strip prefix with parameter", upstream: "/base", prefix: "/api", strip: true, target: "/api;x/y", wantURI: "/base/y"},
		{name: "strip prefix with parameter, no base", prefix: "/api", strip: true, target: "/api;x/y", wantURI: "/y"},
		{name: "strip exact prefix with parameter", upstream: "/base", prefix: "/api", strip: true, target: "/api;jsessionid=1", wantURI: "/base"},
		{name: "strip keeps later parameters", upstream: "/base", prefix: "/api", strip: true, target: "/api;a/y;b/z", wantURI: "/base/y;b/z"},
		{name: "strip two-segment prefix with parameters", upstream: "/base", prefix: "/api/orders", strip: true, target: "/api;a/orders;b/7", wantURI: "/base/7"},
		{name: "strip prefix with encoded semicolon", upstream: "/base", prefix: "/api", strip: true, target: "/api%3Bx/y", wantURI: "/base/y"},
		{name: "strip exact path with parameter", upstream: "/base", prefix: "/login", exact: true, strip: true, target: "/login;jsessionid=1", wantURI: "/base"},
		{name: "no strip keeps parameters", upstream: "/base", prefix: "/api", target: "/api;x/y", wantURI: "/base/api;x/y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Route{Name: "r", Upstream: mustURL(t, up.URL+tc.upstream), StripPrefix: tc.strip, Mode: policy.None}
			if tc.exact {
				r.Path = tc.prefix
			} else {
				r.PathPrefix = tc.prefix
			}
			g := newGateway(t, r)
			resp, body := raw(t, g.addr(), "GET "+tc.target+" HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
			if got := echoOf(t, resp, body).RequestURI; got != tc.wantURI {
				t.Errorf("upstream request URI: got %q, want %q", got, tc.wantURI)
			}
		})
	}
}

func TestCheckPath(t *testing.T) {
	for _, tc := range []struct {
		path string
		ok   bool
		want string // the path routes match, when ok; "" means path itself
	}{
		{path: "/", ok: true}, {path: "/a", ok: true}, {path: "/a/", ok: true}, {path: "/a/b/", ok: true},
		{path: "/...", ok: true}, {path: "/a.b", ok: true}, {path: "/café", ok: true}, {path: "/a b", ok: true},
		{path: "/a;b", ok: true, want: "/a"}, {path: "/a;b/c;d", ok: true, want: "/a/c"}, {path: "/a;", ok: true, want: "/a"},
		{path: "/;x", ok: true, want: "/"}, {path: "/a/;x", ok: true, want: "/a/"}, {path: "/a;x/", ok: true, want: "/a/"},
		{path: "/a;../b", ok: true, want: "/a/b"}, {path: "/.a;b", ok: true, want: "/.a"},
		{path: ""}, {path: "a"}, {path: "//"}, {path: "/a//"}, {path: "/."}, {path: "/.."},
		{path: "/./"}, {path: "/a/../"}, {path: "/a/./b"}, {path: "///a"},
		{path: "/..;"}, {path: "/..;x/a"}, {path: "/.;/a"}, {path: "/a/;/b"}, {path: "/;x/a"},
		{path: "/a\x00b"}, {path: "/a\nb"}, {path: "/a\rb"}, {path: "/a\tb"}, {path: "/a\x1fb"}, {path: "/a\x7fb"},
		{path: "/a;\x00"}, {path: "/a\\b"}, {path: "\\a"}, {path: "/a;\\"},
		{path: "/\xc0\xae"}, {path: "/\xc0\xaf"}, {path: "/\x80"}, {path: "/\xed\xa0\x80"}, {path: "/\xff"}, {path: "/caf\xc3"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			got, err := checkPath(tc.path)
			if (err == nil) != tc.ok {
				t.Fatalf("checkPath(%q): got %v, want ok=%v", tc.path, err, tc.ok)
			}
			if err != nil && !errors.Is(err, errBadPath) {
				t.Errorf("checkPath(%q): got %v, want it to wrap errBadPath", tc.path, err)
			}
			want := tc.want
			if want == "" && tc.ok {
				want = tc.path
			}
			if got != want {
				t.Errorf("checkPath(%q): got %q, want %q", tc.path, got, want)
			}
		})
	}
}

// TestPathParameterBypass is a regression test: before parameters were
// ignored for matching, "/admin;x/secret" missed the guarded /admin route
// (";" is no segment boundary) and went to the catch-all public route, and
// an upstream that removes path parameters (Tomcat, Jetty, Spring) served
// /admin/secret to a client without a token.
func TestPathParameterBypass(t *testing.T) {
	up := newEcho(t)
	g := newGateway(t,
		Route{Name: "admin", PathPrefix: "/admin", Upstream: mustURL(t, up.URL), Mode: policy.Required, Auth: fixtureAuth(t)},
		Route{Name: "public", PathPrefix: "/", Upstream: mustURL(t, up.URL), Mode: policy.None},
	)
	for _, target := range []string{"/admin;x/secret", "/admin;jsessionid=1", "/admin%3Bx/secret", "/admin;/secret", "/ADMIN/../admin;x"} {
		t.Run(target, func(t *testing.T) {
			before := up.count()
			resp, body := raw(t, g.addr(), "GET "+target+" HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
			if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status: got %d, want 401 (the admin route) or 400: %s", resp.StatusCode, body)
			}
			checkUpstreamSaw(t, up, before)
		})
	}
}

// TestAbsoluteForm sends absolute-form request targets whose host differs
// from the Host header. net/http routes by the URL's host (RFC 9112
// §3.2.2); the route, the Host sent with preserve_host and X-Forwarded-Host
// must all name that same host.
func TestAbsoluteForm(t *testing.T) {
	up := newEcho(t)
	u := mustURL(t, up.URL)
	g := newGateway(t,
		Route{Name: "api", Host: "api.example.com", PathPrefix: "/", Upstream: u, PreserveHost: true, Mode: policy.Required, Auth: fixtureAuth(t)},
		Route{Name: "other", PathPrefix: "/", Upstream: u, PreserveHost: true, Mode: policy.None},
	)
	for _, tc := range []struct {
		name   string
		target string
		host   string // the Host header
		route  string
		wantH  string // the upstream's Host and X-Forwarded-Host; "" when refused
	}{
		{name: "guarded Host header, other URL host", target: "http://other.example/x", host: "api.example.com", route: "other", wantH: "other.example"},
		{name: "other Host header, guarded URL host", target: "http://api.example.com/x", host: "other.example", route: "api"},
		{name: "guarded URL host with case, dot and port", target: "http://API.Example.com.:8443/x", host: "other.example", route: "api"},
		{name: "https scheme on a plain connection", target: "https://api.example.com/x", host: "other.example", route: "api"},
		{name: "user info", target: "http://mallory@api.example.com/x", host: "other.example", route: "api"},
		{name: "empty URL host falls back to Host", target: "http:///x", host: "api.example.com", route: "api"},
		{name: "other URL host with a path trick", target: "http://other.example/x/../y", host: "api.example.com", route: "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "abs-" + strings.ReplaceAll(tc.name, " ", "-")
			before := up.count()
			resp, body := raw(t, g.addr(), "GET "+tc.target+" HTTP/1.1\r\nHost: "+tc.host+"\r\nX-Request-Id: "+id+"\r\nConnection: close\r\n\r\n")
			if got := g.log.Access(t, id)["route"]; got != tc.route {
				t.Errorf("route: got %v, want %q", got, tc.route)
			}
			if tc.wantH == "" {
				if resp.StatusCode == http.StatusOK {
					t.Errorf("status: got 200, want a refusal")
				}
				checkUpstreamSaw(t, up, before)
				return
			}
			e := echoOf(t, resp, body)
			if e.Host != tc.wantH {
				t.Errorf("upstream Host: got %q, want %q", e.Host, tc.wantH)
			}
			if got := e.Header.Get("X-Forwarded-Host"); got != tc.wantH {
				t.Errorf("upstream X-Forwarded-Host: got %q, want %q", got, tc.wantH)
			}
			checkUpstreamSaw(t, up, before, "/x")
		})
	}
}

// FuzzPath checks path safety, matching and the outbound path together: an
// accepted path, once its parameters are removed, holds no dot or empty
// segment, no control character and no backslash and is valid UTF-8, and
// so is its NFKC form; a
// stripped prefix takes its parameters along; and the outbound path always
// starts with "/" and decodes to the joined decoded path.
func FuzzPath(f *testing.F) {
	for _, s := range []string{
		"/api/x", "/api/%2e%2e/x", "/api%2Fx", "/api/%6Frders/%2F", "//", "/api", "/apix", "/api/a%2Fb", "/%zz",
		"/api/a%00b", "/api/a%0d%0a", "/api/%7F", "/api/a\\b", "/api/%5C..%5C", "/api/%5c",
		"/api/%C0%AE%C0%AE/", "/api/%C0%AF", "/api/%80", "/api/%ED%A0%80", "/api/caf\xff", "/api/caf\xc3\xa9",
		"/api/..;/admin", "/api/..;x=1/admin", "/api/.;/x", "/api/..%3B/admin", "/api/..%3b",
		"/api;x/y", "/api;jsessionid=1", "/api%3Bx/y", "/api;a/y;b/z", "/api/;x", "/;x", "/api;%2F/y",
		"/api/%EF%BC%8E%EF%BC%8E/x", "/api/..%EF%BC%8Fx", "/api/%E2%80%A5/x", "/api/%EF%BC%852e", "/api/%EF%B9%94x",
	} {
		f.Add(s, "/api", "/base", true)
	}
	f.Fuzz(func(t *testing.T, target, prefix, base string, strip bool) {
		in, err := url.ParseRequestURI(target)
		if err != nil || in.Path == "" {
			return
		}
		bu, err := url.Parse("http://u" + base)
		if err != nil || bu.RawQuery != "" || bu.Fragment != "" || bu.Host != "u" {
			return
		}
		c, err := compileRoute(Route{Name: "r", PathPrefix: prefix, Upstream: bu, StripPrefix: strip, Mode: policy.None})
		if err != nil {
			return
		}
		match, err := checkPath(in.Path)
		if err != nil {
			return
		}
		if strings.IndexFunc(in.Path, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) >= 0 || !utf8.ValidString(in.Path) {
			t.Fatalf("accepted %q with a control character, a backslash or invalid UTF-8", in.Path)
		}
		if match != stripParams(in.Path) || strings.Contains(match, ";") {
			t.Fatalf("checkPath(%q) = %q, want it without parameters", in.Path, match)
		}
		// What an upstream that applies NFKC reads must be just as clean.
		for _, p := range []string{match, stripParams(norm.NFKC.String(in.Path))} {
			segs := strings.Split(p, "/")[1:]
			for i, seg := range segs {
				if seg == "." || seg == ".." || seg == "" && i < len(segs)-1 {
					t.Fatalf("accepted %q (read as %q) with a dot or empty segment", in.Path, p)
				}
			}
		}
		if !hasPathPrefix(match, c.prefix) {
			return
		}
		if strip && c.prefix != "/" {
			n := afterPrefix(in.Path, len(c.prefix))
			if rest := in.Path[n:]; rest != "" && rest[0] != '/' {
				t.Fatalf("stripping %q from %q leaves %q", c.prefix, in.Path, rest)
			}
			if got := stripParams(in.Path[:n]); got != c.prefix {
				t.Fatalf("stripping %q from %q cut %q", c.prefix, in.Path, in.Path[:n])
			}
		}
		p, rp := c.upstreamPath(in)
		if !strings.HasPrefix(p, "/") || !strings.HasPrefix(rp, "/") {
			t.Fatalf("outbound path %q (raw %q) does not start with /", p, rp)
		}
		dec, err := url.PathUnescape(rp)
		if err != nil {
			t.Fatalf("outbound raw path %q: %v", rp, err)
		}
		if dec != p && !strings.Contains(base, "%") {
			t.Fatalf("outbound raw path %q decodes to %q, want %q", rp, dec, p)
		}
	})
}

// FuzzHostMatch checks host matching against a plain reference: both sides
// lower-cased (ASCII), a ":port" after a name or a "]" removed, an IPv6
// literal's brackets removed, then one trailing dot removed. A route host
// is refused only as Route.Host says: not a host name (a scheme, path, user
// information, space or control character), with a port, or naming no host.
func FuzzHostMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"api.example.com", "api.example.com"}, {"API.Example.com.:8443", "api.example.com"},
		{"api.example.com..", "api.example.com"}, {"api.example.com", "api.example.com."},
		{"[::1]:80", "[::1]"}, {"[::1]", "::1"}, {"a:b:c", "a"}, {"[::1]x:1", "::1"}, {"\u017f\u017fo.example.com", "sso.example.com"},
		{"K.example", "\u212a.example"}, {"api.example.com:", "api.example.com"}, {".", "x"}, {"x.", "."},
		{"a[b:80", "a[b"}, {"[abc:80", "[abc"}, {"[a]b", "[a]b"}, {"[]:80", "x"}, {"\xee", "\x83"},
	} {
		f.Add(s[0], s[1])
	}
	ref := func(h string) string {
		if m := refHostRE.FindStringSubmatch(h); m != nil {
			h = m[1] + m[2]
		}
		b := []byte(strings.TrimSuffix(h, "."))
		for i, c := range b {
			if 'A' <= c && c <= 'Z' {
				b[i] = c + ('a' - 'A')
			}
		}
		return string(b)
	}
	f.Fuzz(func(t *testing.T, reqHost, routeHost string) {
		c, err := compileRoute(Route{Name: "r", Host: routeHost, PathPrefix: "/", Upstream: mustURL(t, "http://up"), Mode: policy.None})
		if err != nil {
			_, _, portErr := net.SplitHostPort(routeHost)
			if routeHost != "" && (ref(routeHost) == "" || strings.ContainsAny(routeHost, "/?#@ ") ||
				strings.ContainsFunc(routeHost, func(r rune) bool { return r < 0x20 || r == 0x7f }) || portErr == nil) {
				return // refused as Route.Host says
			}
			t.Fatalf("compileRoute with host %q: %v", routeHost, err)
		}
		got := c.matches(&http.Request{Method: "GET", Host: reqHost}, "/")
		want := routeHost == "" || ref(reqHost) == ref(routeHost)
		if got != want {
			t.Fatalf("host %q against route host %q: matched %v, want %v (reference %q vs %q)",
				reqHost, routeHost, got, want, ref(reqHost), ref(routeHost))
		}
	})
}

// refHostRE splits a host[:port] or [ipv6][:port] value; the port may be
// anything without a colon. Other values are compared whole.
var refHostRE = regexp.MustCompile(`^(?:\[([^\]]*)\]|([^:]*))(?::[^:]*)?$`)

// TestBadHost: a Host with an empty label is refused before routing.
// Regression: "api.example.com.." missed the route for api.example.com and
// fell through to a catch-all, while lenient upstreams drop every trailing
// dot and serve it as api.example.com.
func TestBadHost(t *testing.T) {
	up := newEcho(t)
	g := newGateway(t, Route{Name: "all", PathPrefix: "/", Upstream: mustURL(t, up.URL), Mode: policy.None})
	for _, host := range []string{"api.example.com..", ".api.example.com", "api..example.com", "api.example.com..:8080", "..", "."} {
		t.Run(host, func(t *testing.T) {
			before := up.count()
			resp, body := raw(t, g.addr(), "GET /x HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status: got %d, want 400: %s", resp.StatusCode, body)
			}
			if e := errorOf(t, resp, body); e.Error != "invalid_request" {
				t.Errorf("error: got %q, want %q", e.Error, "invalid_request")
			}
			if got := up.count(); got != before {
				t.Errorf("upstream hits: got %d, want %d", got, before)
			}
		})
	}
}
