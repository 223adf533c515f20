package attack

import (
	"net/http"
	"testing"
)

// badPath is a request docs/reference.md §3.1 refuses with 400 invalid_request.
func badPath(name, target string) tcase {
	return tcase{name: name, req: request("GET", target), status: 400, code: "invalid_request"}
}

// parserPath is a request-target the HTTP parser itself refuses (a raw
// control byte): 400, nothing forwarded.
func parserPath(name, target string) tcase {
	return tcase{name: name, req: request("GET", target), status: 400, parser: true}
}

// verbatim is a request forwarded with the request-target exactly as sent.
func verbatim(name, target string) tcase {
	return tcase{name: name, req: request("GET", target), status: 200, fwd: []string{"GET " + target}}
}

// guarded is a request that must reach a token-requiring route (and be
// refused without a token).
func guarded(name, target string) tcase {
	return tcase{name: name, req: request("GET", target), status: 401, code: "unauthorized", reason: "missing"}
}

const windows = "upstreams on Windows (IIS, ASP.NET, Kestrel on NTFS) "

// testPaths: docs/reference.md §3.1 and RFC 3986 §3.3, §5.2.4, §6.
func testPaths(t *testing.T, f *fixture) {
	f.run(t, []tcase{
		// Dot segments, plain and encoded (RFC 3986 §5.2.4).
		badPath("dot-dot segment", "/public/../admin"),
		badPath("dot segment", "/public/./x"),
		badPath("trailing dot-dot", "/public/.."),
		badPath("trailing dot", "/public/."),
		badPath("encoded dot-dot %2e%2e", "/public/%2e%2e/admin"),
		badPath("encoded dot-dot %2E%2E", "/public/%2E%2E/admin"),
		badPath("half-encoded .%2E", "/public/.%2E/admin"),
		badPath("half-encoded %2e.", "/public/%2e./admin"),
		badPath("encoded dot %2e", "/public/%2e/x"),
		badPath("dot-dot and an encoded slash", "/public/..%2Fadmin"),
		badPath("encoded dot-dot-slash", "/public%2F%2e%2e%2Fadmin"),
		badPath("dot-dot in an absolute-form target", "http://"+testHost+"/public/../admin"),
		// Empty segments.
		badPath("double slash", "/public//x"),
		badPath("leading double slash", "//public/x"),
		badPath("double slash at the end", "/public/x//"),
		badPath("encoded double slash", "/public/%2F/x"),
		badPath("slash then encoded slash", "/public/%2Fadmin"),
		// Matrix parameters (Tomcat, Jetty, Spring): ignored for the dot
		// check and matching (docs/reference.md §3.1).
		badPath("..; segment", "/public/..;/admin"),
		badPath("..;x segment", "/public/..;x/admin"),
		badPath(".; segment", "/public/.;/x"),
		badPath("encoded ..; segment", "/public/%2e%2e;/admin"),
		badPath("..;jsessionid segment", "/public/..;jsessionid=1/admin"),
		guarded("/api;x/y matches /api", "/api;x/y"),
		guarded("/admin;jsessionid=1 matches /admin", "/admin;jsessionid=1"),
		guarded("/files/private;x matches the guarded route", "/files/private;x"),
		verbatim("/public;x/y matches /public and goes as sent", "/public;x/y"),
		// Characters upstreams decode differently (docs/reference.md §3.1).
		badPath("encoded NUL", "/public/%00"),
		badPath("encoded NUL inside a dot-dot", "/public/.%00./admin"),
		badPath("encoded NUL before a suffix", "/public/a%00.json"),
		badPath("encoded SOH", "/public/%01"),
		badPath("encoded tab", "/public/%09x"),
		badPath("encoded CR LF", "/public/%0d%0aX-Injected:%201"),
		badPath("encoded unit separator", "/public/%1F"),
		badPath("encoded DEL", "/public/%7F"),
		parserPath("raw NUL", "/public/\x00"),
		parserPath("raw SOH", "/public/\x01"),
		parserPath("raw DEL", "/public/\x7f"),
		badPath("raw backslash", `/public/..\admin`),
		badPath("raw backslash alone", `/public\x`),
		badPath("encoded backslash %5C", "/public/..%5Cadmin"),
		badPath("encoded backslash %5c", "/public/%5cx"),
		// Not UTF-8, or not shortest-form UTF-8 (RFC 3629 §3).
		badPath("overlong dot %C0%AE", "/public/%C0%AE%C0%AE/admin"),
		badPath("overlong slash %C0%AF", "/public/..%C0%AFadmin"),
		badPath("three-byte overlong dot %E0%80%AE", "/public/%E0%80%AE%E0%80%AE/admin"),
		badPath("invalid byte %FF", "/public/%FF"),
		badPath("truncated sequence %C3", "/public/%C3"),
		badPath("UTF-16 surrogate %ED%A0%80", "/public/%ED%A0%80"),
		badPath("raw invalid byte", "/public/\xff"),
		badPath("raw overlong dot", "/public/\xc0\xae\xc0\xae/admin"),
		// Encodings that must go upstream as the client sent them.
		verbatim("encoded slash stays encoded", "/public/a%2Fb"),
		verbatim("lower-case encoded slash stays as sent", "/public/a%2fb"),
		verbatim("encoded letter stays encoded", "/public/%41"),
		verbatim("trailing slash", "/public/"),
		verbatim("double-encoded dot-dot goes as sent", "/public/%252e%252e/admin"),
		verbatim("double-encoded slash goes as sent", "/public/..%252Fadmin"),
		verbatim("query with dot-dot is not a path", "/public/q?x=/../admin&y=%2e%2e"),
		verbatim("query with an encoded NUL is not a path", "/public/q?x=%00"),
		{name: "raw UTF-8 goes percent-encoded", req: request("GET", "/public/caf\xc3\xa9"), status: 200,
			fwd: []string{"GET /public/caf%C3%A9"}},
		// Routing on the decoded path.
		guarded("encoded letter reaches /admin", "/%61dmin"),
		guarded("encoded letter inside the guarded prefix", "/files/%70rivate"),
		guarded("encoded letter inside the guarded prefix, lower-case hex", "/files/privat%65/x"),
		{name: "no route for a longer segment", req: request("GET", "/publicx"), status: 404, code: "not_found"},
		{name: "no route for a target that is not a path", req: request("GET", "*"), status: 400, code: "invalid_request"},
		// net/http answers "OPTIONS *" itself (RFC 9110 §9.3.7), before any
		// handler: 200, empty, never forwarded.
		{name: "OPTIONS * is not routed", req: request("OPTIONS", "*"), status: 200},
		// strip_prefix.
		{name: "strip_prefix: exactly the prefix goes to the base path", req: request("GET", "/strip"), status: 200, fwd: []string{"GET /base"}},
		{name: "strip_prefix: the prefix and a slash", req: request("GET", "/strip/"), status: 200, fwd: []string{"GET /base/"}},
		{name: "strip_prefix: encoded slash kept in the rest", req: request("GET", "/strip/a%2Fb?q=1"), status: 200, fwd: []string{"GET /base/a%2Fb?q=1"}},
		{name: "strip_prefix: encoded prefix", req: request("GET", "/%73trip/x"), status: 200, fwd: []string{"GET /base/x"}},
		{name: "strip_prefix: encoded slash as the boundary", req: request("GET", "/strip%2Fx"), status: 200, fwd: []string{"GET /base/x"}},
		{name: "strip_prefix: dot-dot after the prefix", req: request("GET", "/strip/..%2F..%2Fadmin"), status: 400, code: "invalid_request"},
		{name: "strip_prefix: longer segment is not the route", req: request("GET", "/stripx"), status: 404, code: "not_found"},
		// The prefix segment's parameters go with the prefix: they must not
		// become the base path's ("/base;x/y").
		{name: "strip_prefix: parameters on the prefix segment", req: request("GET", "/strip;x/y"), status: 200, fwd: []string{"GET /base/y"}},
		// Where upstreams read a path another way than the gateway routes it.
		{name: "case-insensitive upstream: /files/PRIVATE", req: request("GET", "/files/PRIVATE"), status: 401, code: "unauthorized",
			silent: windows + "match paths case-insensitively, so /files/PRIVATE is the guarded /files/private there; " +
				"routing is case-sensitive and sends it to the public /files route. Expected: refused (401 or 400)."},
		{name: "Windows strips a trailing dot: /files/private.", req: request("GET", "/files/private."), status: 401, code: "unauthorized",
			silent: windows + "strip trailing dots from segments. Expected: refused."},
		{name: "Windows strips a trailing space: /files/private%20", req: request("GET", "/files/private%20"), status: 401, code: "unauthorized",
			silent: windows + "strip trailing spaces from segments. Expected: refused."},
		{name: "NTFS stream suffix: /files/private::$DATA", req: request("GET", "/files/private::$DATA"), status: 401, code: "unauthorized",
			silent: windows + "read \"name::$DATA\" as the file itself. Expected: refused."},
		// U+FF0F FULLWIDTH SOLIDUS is no "/" to the gateway, but is one to an
		// upstream that applies NFKC.
		{name: "fullwidth solidus: /files%EF%BC%8Fprivate", req: request("GET", "/files%EF%BC%8Fprivate"), status: 400, code: "invalid_request"},
		// Upstreams that apply Unicode NFKC (Python unicodedata, some .NET
		// paths) turn U+FF0F into "/" and U+FF0E into ".", making a dot-dot
		// segment.
		{name: "fullwidth solidus after a dot-dot: /public/..%EF%BC%8Fadmin", req: request("GET", "/public/..%EF%BC%8Fadmin"), status: 400, code: "invalid_request"},
		{name: "fullwidth dots: /public/%EF%BC%8E%EF%BC%8E/admin", req: request("GET", "/public/%EF%BC%8E%EF%BC%8E/admin"), status: 400, code: "invalid_request"},
		{name: "fullwidth percent: /public/%EF%BC%852e%EF%BC%852e/admin", req: request("GET", "/public/%EF%BC%852e%EF%BC%852e/admin"), status: 400, code: "invalid_request"},
		{name: "control: non-ASCII letters pass", req: request("GET", "/public/caf%C3%A9"), status: 200, fwd: []string{"GET /public/caf%C3%A9"}},
		{name: "fragment in the request-target", req: request("GET", "/public/x#/../../admin"), status: 400, code: "invalid_request"},
	})
}

// testHosts: docs/reference.md §3.1, host matching is case-insensitive, ignores the
// port and one trailing dot; RFC 9112 §3.2.2, an absolute-form target's
// authority wins over Host. vhost-admin (admin.example) requires the admin
// scope; vhost-any, on the same prefix, is public and preserves the Host.
func testHosts(t *testing.T, f *fixture) {
	host := func(h string) []string { return []string{"Host: " + h} }
	refused := func(name, target string, lines ...string) tcase {
		return tcase{name: name, req: request("GET", target, lines...), status: 401, code: "unauthorized", reason: "missing"}
	}
	public := func(name, target, wantHost string, lines ...string) tcase {
		return tcase{name: name, req: request("GET", target, lines...), status: 200, fwd: []string{"GET /vhost/h"},
			check: func(t *testing.T, _ *http.Response, _ []byte, recs []record) {
				if recs[0].Host != wantHost {
					t.Errorf("upstream Host: got %q, want %q", recs[0].Host, wantHost)
				}
			}}
	}
	f.run(t, []tcase{
		refused("exact host", "/vhost/h", host("admin.example")...),
		refused("upper-case host", "/vhost/h", host("ADMIN.EXAMPLE")...),
		refused("mixed-case host", "/vhost/h", host("Admin.Example")...),
		refused("host with a port", "/vhost/h", host("admin.example:8443")...),
		refused("host with a trailing dot", "/vhost/h", host("admin.example.")...),
		refused("host with a trailing dot and a port", "/vhost/h", host("admin.example.:80")...),
		refused("absolute-form target names the host, Host another", "http://admin.example/vhost/h", host("other.example")...),
		refused("absolute-form https target", "https://admin.example/vhost/h", host("other.example")...),
		refused("absolute-form upper-case host", "http://ADMIN.EXAMPLE/vhost/h", host("other.example")...),
		public("control: another host", "/vhost/h", "other.example", host("other.example")...),
		public("absolute-form names another host, Host the guarded one", "http://other.example/vhost/h", "other.example", host("admin.example")...),
		// An empty label is no DNS name; lenient upstreams drop every
		// trailing dot and would serve it as admin.example.
		{name: "host with two trailing dots", req: request("GET", "/vhost/h", host("admin.example..")...), status: 400, code: "invalid_request"},
		{name: "two Host headers", req: request("GET", "/vhost/h", "Host: other.example", "Host: admin.example"), status: 400, parser: true},
		{name: "Host with a path", req: request("GET", "/vhost/h", host("admin.example/x")...), status: 400, parser: true},
	})
}

// testMethods: docs/reference.md §3.1, TRACE and CONNECT are never forwarded;
// methods are case-sensitive (RFC 9110 §9.1). readonly-get (GET only) is
// public; readonly-write, on the same prefix, requires the admin scope.
func testMethods(t *testing.T, f *fixture) {
	tok := f.good(t, map[string]any{"scope": "read admin"})
	notAllowed := func(name, req string) tcase {
		return tcase{name: name, req: req, status: 405, code: "method_not_allowed"}
	}
	f.run(t, []tcase{
		notAllowed("TRACE on a public route", request("TRACE", "/public/m")),
		notAllowed("TRACE with a valid token", request("TRACE", "/api/m", bearer(tok))),
		notAllowed("TRACE with a body", requestBody("TRACE", "/public/m", "GET /admin HTTP/1.1\r\n\r\n")),
		notAllowed("CONNECT authority-form", request("CONNECT", "127.0.0.1:80", "Host: 127.0.0.1:80")),
		notAllowed("CONNECT to the upstream's own address", request("CONNECT", f.up.ln.Addr().String(), "Host: "+f.up.ln.Addr().String())),
		notAllowed("CONNECT origin-form", request("CONNECT", "/public/m")),
		notAllowed("CONNECT with a valid token", request("CONNECT", "/api/m", bearer(tok))),
		{name: "lower-case get is not GET", req: request("get", "/readonly/m"), status: 401, code: "unauthorized", reason: "missing"},
		{name: "HEAD is not GET", req: request("HEAD", "/readonly/m"), status: 401, code: "unauthorized", reason: "missing"},
		{name: "POST with an override to GET is still POST", req: request("POST", "/readonly/m", "X-HTTP-Method-Override: GET"),
			status: 401, code: "unauthorized", reason: "missing"},
		{name: "control: GET on the GET-only route", req: request("GET", "/readonly/m"), status: 200, fwd: []string{"GET /readonly/m"}},
		{name: "control: DELETE with the admin scope", req: request("DELETE", "/readonly/m", bearer(tok)), status: 200, fwd: []string{"DELETE /readonly/m"}},
		{name: "made-up method on the guarded route", req: request("PROPFIND", "/readonly/m"), status: 401, code: "unauthorized"},
		// Upstreams that upper-case methods would answer "trace" as TRACE
		// (cross-site tracing), so it is refused in any letter case.
		{name: "lower-case trace on a public route", req: request("trace", "/public/m"), status: 405, code: "method_not_allowed"},
	})
}
