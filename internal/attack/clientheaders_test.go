package attack

import (
	"net/http"
	"strings"
	"testing"
)

// testClientHeaders: the proxy, client-address and method/URL override
// headers of docs/reference.md §3.5 never reach an upstream from a client; the
// gateway sets X-Forwarded-For/-Host/-Proto and X-Real-IP itself.
func testClientHeaders(t *testing.T, f *fixture) {
	tok := f.good(t, nil)
	// The gateway's values for this suite's requests: the client is
	// 127.0.0.1, the Host testHost, the scheme http.
	set := map[string]string{
		"X-Forwarded-For":   "127.0.0.1",
		"X-Forwarded-Host":  testHost,
		"X-Forwarded-Proto": "http",
		"X-Real-Ip":         "127.0.0.1",
	}
	dropped := []string{
		"X-Forwarded-Prefix: /admin", "X-Forwarded-Port: 443", "X-Forwarded-Server: admin.example",
		"X-Forwarded-Uri: /admin", "X-Forwarded-Path: /admin", "X-Forwarded-Ssl: on", "X-Forwarded-Scheme: https",
		"X-Forwarded-User: admin", "X-Forwarded-Email: admin@example.com", "X-Forwarded-Access-Token: " + tok,
		"Forwarded: for=10.0.0.1;host=admin.example;proto=https", "Forwarded: for=\"[::1]\"",
		"True-Client-IP: 10.0.0.1", "X-Client-IP: 10.0.0.1", "CF-Connecting-IP: 10.0.0.1",
		"X-HTTP-Method-Override: DELETE", "X-HTTP-Method: DELETE", "X-Method-Override: DELETE",
		"X-Original-URL: /admin", "X-Rewrite-URL: /admin", "X-Original-URI: /admin",
		"x-original-url: /admin", "X-ORIGINAL-URL: /admin",
	}
	replaced := []string{
		"X-Forwarded-For: 10.0.0.1", "X-Forwarded-For: 10.0.0.1, 10.0.0.2", "x-forwarded-for: 10.0.0.1",
		"X-Forwarded-Host: admin.example", "X-Forwarded-Proto: https", "X-Real-IP: 10.0.0.1", "x-real-ip: 10.0.0.1",
	}
	// Underscore spellings, which CGI, WSGI, PHP and nginx fold into the
	// same variable as the dash spelling (HTTP_X_REAL_IP).
	underscored := []string{
		"X_Forwarded_For: 10.0.0.1", "X_Real_IP: 10.0.0.1", "X_Forwarded_Host: admin.example",
		"X_Original_URL: /admin", "X_HTTP_Method_Override: DELETE", "True_Client_IP: 10.0.0.1",
	}

	// check: the header named on line did not reach the upstream, or, for
	// one the gateway sets, holds the gateway's value only.
	check := func(line string) func(*testing.T, *http.Response, []byte, []record) {
		name := http.CanonicalHeaderKey(strings.TrimSpace(strings.SplitN(line, ":", 2)[0]))
		return func(t *testing.T, _ *http.Response, _ []byte, recs []record) {
			t.Helper()
			if want, ok := set[name]; ok {
				wantHeader(t, recs[0], name, want)
				return
			}
			for k, vals := range recs[0].Header {
				if strings.EqualFold(k, name) {
					t.Errorf("upstream got %s: %q, want it dropped", k, vals)
				}
			}
		}
	}
	var cases []tcase
	for _, route := range []struct{ name, target, auth string }{
		{"public", "/public/ch", ""},
		{"required", "/api/ch", bearer(tok)},
	} {
		lines := func(extra ...string) []string {
			if route.auth != "" {
				extra = append(extra, route.auth)
			}
			return extra
		}
		add := func(line string) {
			name := line
			if len(name) > 60 {
				name = strings.SplitN(line, ":", 2)[0] + ": (a token)"
			}
			cases = append(cases, tcase{name: route.name + ", " + name, req: request("GET", route.target, lines(line)...),
				status: 200, fwd: []string{"GET " + route.target}, check: check(line)})
		}
		cases = append(cases, tcase{name: route.name + ", the gateway sets X-Forwarded-For/-Host/-Proto and X-Real-IP",
			req: request("GET", route.target, lines()...), status: 200, fwd: []string{"GET " + route.target},
			check: func(t *testing.T, _ *http.Response, _ []byte, recs []record) {
				for k, want := range set {
					wantHeader(t, recs[0], k, want)
				}
			}})
		for _, l := range dropped {
			add(l)
		}
		for _, l := range replaced {
			add(l)
		}
		for _, l := range underscored {
			add(l)
		}
		// The gateway's own headers survive a client naming them as
		// hop-by-hop (docs/reference.md §3.5: a client cannot make it drop them).
		cases = append(cases, tcase{name: route.name + ", the headers the gateway sets named in Connection",
			req:    request("GET", route.target, lines("Connection: X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto, X-Real-IP, X-Request-Id")...),
			status: 200, fwd: []string{"GET " + route.target},
			check: func(t *testing.T, resp *http.Response, _ []byte, recs []record) {
				for k, want := range set {
					wantHeader(t, recs[0], k, want)
				}
				wantHeader(t, recs[0], "X-Request-Id", resp.Header.Get("X-Request-Id"))
			}})
	}
	// A framework honouring the override would turn an allowed GET into
	// the DELETE the route refuses without the admin scope.
	overrides := []string{"X-HTTP-Method-Override: DELETE", "X-HTTP-Method: DELETE", "X-Method-Override: DELETE"}
	cases = append(cases, tcase{name: "override headers on the GET-only public route",
		req: request("GET", "/readonly/ch", overrides...), status: 200, fwd: []string{"GET /readonly/ch"},
		check: func(t *testing.T, resp *http.Response, body []byte, recs []record) {
			for _, l := range overrides {
				check(l)(t, resp, body, recs)
			}
		}})
	f.run(t, cases)
}
