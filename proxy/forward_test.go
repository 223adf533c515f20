package proxy

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/policy"
)

// TestHeaderSpoofing sends identity and forwarding headers a client must not
// be able to set, on every kind of route, and checks what the upstream got.
func TestHeaderSpoofing(t *testing.T) {
	up := newEcho(t)
	g := newGateway(t, fixtureRoutes(t, up.URL)...)
	spoof := []string{
		"X-User-Id", "mallory",
		"X-Roles", "admin",
		"X-Auth-Claims", "eyJzdWIiOiJtYWxsb3J5In0",
		"X-User_Id", "mallory",
		"x-email", "mallory@example.com",
		"X-Forwarded-For", "10.0.0.1",
		"X-Forwarded-Host", "evil.example",
		"X-Forwarded-Proto", "https",
		"Forwarded", "for=10.0.0.1;host=evil.example",
		// Naming a header in Connection makes a proxy drop it as
		// hop-by-hop; it must not drop the ones the gateway sets.
		"Connection", "X-User-Id, X-Auth-Claims, X-Request-Id, X-Forwarded-For",
	}
	for _, tc := range []struct {
		name   string
		target string
		auth   string
		user   string // expected X-User-Id
		claims bool   // X-Auth-Claims expected
	}{
		{name: "public", target: "/public/x"},
		{name: "optional anonymous", target: "/opt/x"},
		{name: "optional with token", target: "/opt/x", auth: "Bearer good", user: "alice"},
		{name: "required", target: "/api/x", auth: "Bearer good", user: "alice", claims: true},
		{name: "required, route without identity headers", target: "/plain/x", auth: "Bearer good"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := append([]string{"X-Request-Id", "spoof-1"}, spoof...)
			if tc.auth != "" {
				hdr = append(hdr, "Authorization", tc.auth)
			}
			resp, body := g.do(t, "GET", tc.target, hdr...)
			e := echoOf(t, resp, body)
			if got := e.Header.Values("X-User-Id"); tc.user == "" && len(got) != 0 || tc.user != "" && (len(got) != 1 || got[0] != tc.user) {
				t.Errorf("upstream X-User-Id: got %q, want %q", got, tc.user)
			}
			if got := e.Header.Values("X-Roles"); tc.name != "required" && len(got) != 0 {
				t.Errorf("upstream X-Roles: got %q, want none", got)
			}
			if got := e.Header.Get("X-Auth-Claims"); tc.claims != (got != "") || strings.Contains(got, "eyJzdWIiOiJtYWxsb3J5In0") {
				t.Errorf("upstream X-Auth-Claims: got %q, want claims=%v and not the client's", got, tc.claims)
			}
			for k := range e.Header {
				if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), "X-User-Id") && k != "X-User-Id" {
					t.Errorf("upstream got %q: an underscore variant of an identity header", k)
				}
			}
			if got := e.Header.Get("X-Email"); got != "" {
				t.Errorf("upstream X-Email: got %q, want none (absent claim, client value stripped)", got)
			}
			if got := e.Header.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" {
				t.Errorf("upstream X-Forwarded-For: got %q, want [127.0.0.1]", got)
			}
			if got := e.Header.Get("X-Forwarded-Host"); got != g.addr() {
				t.Errorf("upstream X-Forwarded-Host: got %q, want %q", got, g.addr())
			}
			if got := e.Header.Get("X-Forwarded-Proto"); got != "http" {
				t.Errorf("upstream X-Forwarded-Proto: got %q, want %q", got, "http")
			}
			if got := e.Header.Get("Forwarded"); got != "" {
				t.Errorf("upstream Forwarded: got %q, want none", got)
			}
			if got := e.Header.Get("X-Request-Id"); got != "spoof-1" {
				t.Errorf("upstream X-Request-Id: got %q, want %q", got, "spoof-1")
			}
		})
	}
}

// TestClaimHeaders checks each claim encoding of CONTRACT §3.5 as the
// upstream receives it through the real handler.
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

// clientOnlyHeaders are the headers CONTRACT §3.5 drops from every client
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
