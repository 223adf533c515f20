package proxy

import (
	"net/http"
	"strings"
	"testing"
)

// TestTraceConnect checks that TRACE and CONNECT are answered 405
// method_not_allowed by the gateway itself on every path, before routing
// and before the path check, and never forwarded. Before the fix both were
// routed like any method: TRACE to a public route was forwarded, and an
// upstream that honours it echoes the request back with every header the
// gateway added.
func TestTraceConnect(t *testing.T) {
	up := newEcho(t)
	g := newGateway(t, fixtureRoutes(t, up.URL)...)
	for _, tc := range []struct {
		name    string
		request string
	}{
		{name: "trace public", request: "TRACE /public/x HTTP/1.1\r\nHost: gw\r\n\r\n"},
		{name: "trace guarded with token", request: "TRACE /api/x HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer good\r\n\r\n"},
		{name: "trace no route", request: "TRACE /nowhere HTTP/1.1\r\nHost: gw\r\n\r\n"},
		{name: "trace bad path", request: "TRACE /public/../admin HTTP/1.1\r\nHost: gw\r\n\r\n"},
		{name: "trace asterisk", request: "TRACE * HTTP/1.1\r\nHost: gw\r\n\r\n"},
		{name: "trace lower case", request: "trace /public/x HTTP/1.1\r\nHost: gw\r\n\r\n"},
		{name: "trace with body", request: "TRACE /public/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\n\r\nhi"},
		{name: "connect authority form", request: "CONNECT " + strings.TrimPrefix(up.URL, "http://") + " HTTP/1.1\r\nHost: " + strings.TrimPrefix(up.URL, "http://") + "\r\n\r\n"},
		{name: "connect authority form without Host", request: "CONNECT upstream:80 HTTP/1.1\r\n\r\n"},
		{name: "connect origin form", request: "CONNECT /public/x HTTP/1.1\r\nHost: gw\r\n\r\n"},
		{name: "connect lower case", request: "Connect /public/x HTTP/1.1\r\nHost: gw\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "m-" + strings.ReplaceAll(tc.name, " ", "-")
			req := strings.Replace(tc.request, "\r\n", "\r\nX-Request-Id: "+id+"\r\n", 1)
			before := up.count()
			resps, closed := rawSession(t, g.addr(), req+"GET /public/after HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
			if len(resps) == 0 {
				t.Fatal("no response")
			}
			resp := resps[0]
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("status: got %d, want 405: %s", resp.StatusCode, resp.body)
			}
			e := errorOf(t, resp.Response, resp.body)
			if e.Error != "method_not_allowed" || e.Description == "" {
				t.Errorf("body: got %+v, want method_not_allowed with a description", e)
			}
			line := g.log.Access(t, id)
			if line["route"] != noRoute || line["status"] != float64(405) {
				t.Errorf("access line: got route %v status %v, want none 405", line["route"], line["status"])
			}
			if !closed {
				t.Fatal("connection left open")
			}
			if strings.HasPrefix(tc.name, "connect") {
				// A client that asked for a tunnel may send tunnel bytes
				// next: the connection is closed after the refusal.
				if len(resps) != 1 {
					t.Errorf("responses after a refused CONNECT: got %d, want 1", len(resps))
				}
				checkUpstreamSaw(t, up, before)
				return
			}
			// After a TRACE the connection stays usable: the pipelined
			// request is an ordinary one.
			if len(resps) != 2 {
				t.Errorf("responses: got %d, want 2", len(resps))
			}
			checkUpstreamSaw(t, up, before, "/public/after")
		})
	}
}

// TestTraceCORS checks that a 405 carries CORS headers as other errors do:
// those of an actual request, for the methods the configuration allows.
// (Browsers never send TRACE or CONNECT, the Fetch standard forbids them,
// so by default an allowed origin gets only "Vary: Origin".)
func TestTraceCORS(t *testing.T) {
	up := newEcho(t)
	for _, tc := range []struct {
		name    string
		methods []string
		method  string
		allowed bool
	}{
		{name: "trace allowed by the configuration", methods: []string{"GET", "TRACE"}, method: "TRACE", allowed: true},
		{name: "connect allowed by the configuration", methods: []string{"GET", "CONNECT"}, method: "CONNECT", allowed: true},
		{name: "trace not allowed", method: "TRACE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGatewayWith(t, &CORS{AllowedOrigins: []string{appOrigin}, AllowedMethods: tc.methods}, corsRoutes(t, up.URL)...)
			resp, body := raw(t, g.addr(), tc.method+" /public/x HTTP/1.1\r\nHost: gw\r\nOrigin: "+appOrigin+"\r\nConnection: close\r\n\r\n")
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("status: got %d, want 405", resp.StatusCode)
			}
			if e := errorOf(t, resp, body); e.Error != "method_not_allowed" {
				t.Errorf("error: got %q, want method_not_allowed", e.Error)
			}
			want := ""
			if tc.allowed {
				want = appOrigin
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want {
				t.Errorf("Access-Control-Allow-Origin: got %q, want %q", got, want)
			}
			if got := resp.Header.Get("Access-Control-Expose-Headers"); tc.allowed && !strings.Contains(got, "X-Request-Id") {
				t.Errorf("Access-Control-Expose-Headers: got %q, want X-Request-Id among them", got)
			}
			if !varies(resp.Header, "Origin") {
				t.Errorf("Vary: got %q, want Origin", resp.Header.Values("Vary"))
			}
			if got := up.count(); got != 0 {
				t.Errorf("upstream hits: got %d, want 0", got)
			}
		})
	}
}
