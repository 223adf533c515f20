package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

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
		Route{Name: "hosted", Host: "API.example.com:443", PathPrefix: "/", Upstream: u, Mode: policy.None},
		Route{Name: "exact", Path: "/exact", Methods: []string{"get", "HEAD"}, Upstream: u, Mode: policy.None},
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
		{name: "other host", target: "/x", host: "www.example.com", route: "none"},
		{name: "exact path", target: "/exact", route: "exact"},
		{name: "exact path, method lower-cased in config", method: "HEAD", target: "/exact", route: "exact"},
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
// the client's encoding (CONTRACT §3.1).
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
	}{
		{"/", true}, {"/a", true}, {"/a/", true}, {"/a/b/", true}, {"/...", true}, {"/a.b", true},
		{"", false}, {"a", false}, {"//", false}, {"/a//", false}, {"/.", false}, {"/..", false},
		{"/./", false}, {"/a/../", false}, {"/a/./b", false}, {"///a", false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if err := checkPath(tc.path); (err == nil) != tc.ok {
				t.Errorf("checkPath(%q): got %v, want ok=%v", tc.path, err, tc.ok)
			}
		})
	}
}

// FuzzPath checks path safety, matching and the outbound path together: an
// accepted path never holds a dot or empty segment, and the outbound path
// always starts with "/" and decodes to the joined decoded path.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"/api/x", "/api/%2e%2e/x", "/api%2Fx", "/api/%6Frders/%2F", "//", "/api", "/apix", "/api/a%2Fb", "/%zz"} {
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
		if checkPath(in.Path) != nil {
			return
		}
		for _, seg := range strings.Split(in.Path, "/")[1:] {
			if seg == "." || seg == ".." {
				t.Fatalf("accepted %q with a dot segment", in.Path)
			}
		}
		if !hasPathPrefix(in.Path, c.prefix) {
			return
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
