package attack

import (
	"net/http"
	"strings"
	"testing"
)

// wsKey is RFC 6455's sample Sec-WebSocket-Key.
const wsKey = "dGhlIHNhbXBsZSBub25jZQ=="

// websocket are the header lines of a WebSocket handshake (RFC 6455 §4.1).
var websocket = []string{"Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: " + wsKey}

// http2Preface is the client connection preface (RFC 9113 §3.4) and an
// empty SETTINGS frame.
const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + "\x00\x00\x00\x04\x00\x00\x00\x00\x00"

// upgradeCase is a handshake, what the gateway must answer, and bytes the
// attacker writes afterwards on the same connection.
type upgradeCase struct {
	name   string
	req    string
	status int
	code   string   // JSON error code when the gateway refuses
	fwd    []string // what the upstream gets for the handshake; nil nothing
	// after is written once the first response is read: a second request
	// (a smuggling attempt, or an HTTP/2 preface). It must never reach the
	// upstream: the gateway answers it itself, as HTTP/1.1, or closes.
	after string
	// afterStatus, when set with after, is the status the gateway must give
	// the second request (it was parsed as HTTP/1.1, not tunnelled).
	afterStatus int
	check       func(t *testing.T, recs []record)
}

// noUpgrade checks that the upstream got no upgrade request: no Upgrade,
// no "upgrade" in Connection.
func noUpgrade(t *testing.T, recs []record) {
	t.Helper()
	h := recs[0].Header
	if v := h.Values("Upgrade"); len(v) != 0 {
		t.Errorf("upstream Upgrade: got %q, want none", v)
	}
	if headerHasToken(h, "Connection", "upgrade") {
		t.Errorf("upstream Connection: got %q, want no upgrade", h.Values("Connection"))
	}
}

// testUpgrades: docs/reference.md §3.5, only WebSocket upgrades, verified on the
// handshake; no other protocol and no unrequested 101 ever makes a tunnel.
// The upstream answers 101 to any upgrade it is asked for (as h2c- and
// WebSocket-capable servers do), so a forwarded Upgrade shows as a tunnel.
func testUpgrades(t *testing.T, f *fixture) {
	tok := f.good(t, nil)
	expired := f.good(t, map[string]any{"exp": 1})
	settings := "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"
	second := request("GET", "/admin/smuggled")
	h2c := func(name, conn, upgrade string, after string, afterStatus int) upgradeCase {
		lines := []string{"Upgrade: " + upgrade}
		if strings.EqualFold(upgrade, "h2c") {
			lines = append(lines, settings)
		}
		if conn != "" {
			lines = append([]string{"Connection: " + conn}, lines...)
		}
		check := noUpgrade
		if headerHasToken(http.Header{"Connection": {conn}}, "Connection", "http2-settings") {
			// Named in Connection, HTTP2-Settings is hop-by-hop (RFC 9110
			// §7.6.1); otherwise it means nothing without the Upgrade.
			check = func(t *testing.T, recs []record) {
				noUpgrade(t, recs)
				if v := recs[0].Header.Values("Http2-Settings"); len(v) != 0 {
					t.Errorf("upstream HTTP2-Settings: got %q, want none", v)
				}
			}
		}
		return upgradeCase{name: name, req: request("GET", "/public/up", lines...), status: 200,
			fwd: []string{"GET /public/up"}, after: after, afterStatus: afterStatus, check: check}
	}
	cases := []upgradeCase{
		// h2c smuggling: a tunnel to an h2c upstream would carry requests
		// the gateway never sees.
		h2c("h2c named in Connection, then a request for /admin", "Upgrade, HTTP2-Settings", "h2c", second, 401),
		h2c("h2c named in Connection, then the HTTP/2 preface", "Upgrade, HTTP2-Settings", "h2c", http2Preface, 0),
		h2c("h2c, Connection in another order and case", "http2-settings, upgrade", "H2C", second, 401),
		h2c("h2c, Connection naming only Upgrade", "Upgrade", "h2c", second, 401),
		h2c("h2c not named in Connection", "keep-alive", "h2c", second, 401),
		h2c("h2c without Connection", "", "h2c", second, 401),
		h2c("made-up protocol foo", "Upgrade", "foo", second, 401),
		h2c("TLS/1.2 (RFC 2817)", "Upgrade", "TLS/1.2", second, 401),
		h2c("HTTP/2.0", "Upgrade", "HTTP/2.0", second, 401),
		h2c("websocket2", "Upgrade", "websocket2", second, 401),
		// WebSocket: verified on the handshake.
		{name: "WebSocket on /api without a token", req: request("GET", "/api/ws", websocket...), status: 401, code: "unauthorized",
			after: second, afterStatus: 401},
		{name: "WebSocket on /ws with an expired token", req: request("GET", "/ws/x", append([]string{bearer(expired)}, websocket...)...),
			status: 401, code: "invalid_token", after: second, afterStatus: 401},
		{name: "WebSocket on /admin without the scope", req: request("GET", "/admin/ws", append([]string{bearer(tok)}, websocket...)...),
			status: 403, code: "insufficient_scope", after: second, afterStatus: 401},
		// The upstream switches to something not asked for, or not WebSocket:
		// never relayed (502), no tunnel.
		{name: "upstream answers 101 h2c to a plain request", req: request("GET", "/public/up?upstream=101-h2c"), status: 502, code: "bad_gateway",
			fwd: []string{"GET /public/up?upstream=101-h2c"}, after: second, afterStatus: 401},
		{name: "upstream answers 101 websocket to a plain request", req: request("GET", "/public/up?upstream=101-websocket"), status: 502, code: "bad_gateway",
			fwd: []string{"GET /public/up?upstream=101-websocket"}, after: second, afterStatus: 401},
		{name: "upstream answers 101 h2c to a WebSocket handshake", req: request("GET", "/ws/x?upstream=101-h2c", append([]string{bearer(tok)}, websocket...)...),
			status: 502, code: "bad_gateway", fwd: []string{"GET /ws/x?upstream=101-h2c"}, after: second, afterStatus: 401},
		{name: "Upgrade websocket without Connection upgrade is a plain request", req: request("GET", "/api/ws", bearer(tok), "Upgrade: websocket"),
			status: 200, fwd: []string{"GET /api/ws"}, check: noUpgrade, after: second, afterStatus: 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := f.up.mark()
			c := f.dial(t)
			c.write(tc.req)
			resp, body := c.response("GET")
			if tc.code != "" {
				wantError(t, resp, body, tc.status, tc.code)
			} else {
				wantStatus(t, resp, body, tc.status)
			}
			recs := f.up.since(m)
			if tc.fwd == nil {
				wantNothing(t, recs)
			} else if recs = wantForwarded(t, recs, tc.fwd...); recs != nil && tc.check != nil {
				tc.check(t, recs)
			}
			if tc.after == "" {
				return
			}
			m2 := f.up.mark()
			c.write(tc.after)
			resp2, body2, err := c.tryResponse(methodOf(tc.after))
			switch {
			case err != nil && !isClosed(err):
				t.Errorf("after the handshake: got %v, want an HTTP/1.1 answer from the gateway or a close", err)
			case err == nil && resp2.StatusCode == http.StatusSwitchingProtocols:
				t.Errorf("after the handshake: got 101, want no tunnel")
			case err == nil && tc.afterStatus == 401:
				wantError(t, resp2, body2, 401, "unauthorized")
			case err == nil && resp2.StatusCode < 400:
				t.Errorf("after the handshake: got %s, want a refusal or a close", resp2.Status)
			}
			wantNothing(t, f.up.since(m2))
			if n := f.up.tunnelled(m); n != 0 {
				t.Errorf("%d bytes reached the upstream through a tunnel, want none", n)
			}
		})
	}

	// A list naming h2c next to websocket still asks for h2c: whatever is
	// forwarded names no protocol but websocket (docs/reference.md §3.5).
	t.Run("h2c listed before websocket", func(t *testing.T) {
		m := f.up.mark()
		c := f.dial(t)
		c.write(request("GET", "/public/up", append([]string{"Connection: Upgrade", "Upgrade: h2c, websocket", settings}, websocket[2:]...)...))
		resp, body := c.response("GET")
		if resp.StatusCode == http.StatusSwitchingProtocols && !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
			t.Errorf("got 101 to %q, want no switch but to websocket", resp.Header.Get("Upgrade"))
		}
		for _, r := range f.up.since(m) {
			for _, up := range strings.Split(r.Header.Get("Upgrade"), ",") {
				if up = strings.TrimSpace(up); up != "" && !strings.EqualFold(up, "websocket") {
					t.Errorf("upstream Upgrade: got %q, want nothing but websocket (response %s %q)", r.Header.Get("Upgrade"), resp.Status, truncate(string(body)))
				}
			}
		}
	})

	t.Run("HTTP/2 preface on a fresh connection", func(t *testing.T) {
		m := f.up.mark()
		c := f.dial(t)
		c.write(http2Preface)
		resp, _, err := c.tryResponse("PRI")
		if err == nil && resp.StatusCode < 400 {
			t.Errorf("got %s, want a refusal or a close", resp.Status)
		}
		wantNothing(t, f.up.since(m))
	})

	t.Run("WebSocket with a valid token is tunnelled", func(t *testing.T) {
		m := f.up.mark()
		c := f.dial(t)
		c.write(request("GET", "/ws/chat", append([]string{bearer(tok), "X-User-Id: mallory"}, websocket...)...))
		resp, _ := c.response("GET")
		if !wantStatus(t, resp, nil, http.StatusSwitchingProtocols) {
			return
		}
		if got, want := resp.Header.Get("Sec-WebSocket-Accept"), wsAccept(wsKey); got != want {
			t.Errorf("Sec-WebSocket-Accept: got %q, want %q", got, want)
		}
		if recs := wantForwarded(t, f.up.since(m), "GET /ws/chat"); recs != nil {
			wantHeader(t, recs[0], "X-User-Id", "alice")
			if !strings.EqualFold(recs[0].Header.Get("Upgrade"), "websocket") {
				t.Errorf("upstream Upgrade: got %q, want websocket", recs[0].Header.Get("Upgrade"))
			}
		}
		// A masked text frame "ping" (RFC 6455 §5.2); the upstream echoes bytes.
		frame := "\x81\x84\x01\x02\x03\x04" + string([]byte{'p' ^ 1, 'i' ^ 2, 'n' ^ 3, 'g' ^ 4})
		c.write(frame)
		got, err := c.readExactly(len(frame))
		if err != nil || got != frame {
			t.Errorf("echo through the tunnel: got %q, %v; want %q", got, err, frame)
		}
		if n := f.up.tunnelled(m); n != len(frame) {
			t.Errorf("tunnelled bytes: got %d, want %d", n, len(frame))
		}
	})
}

// testCORS: docs/reference.md §3.7. Preflights are answered by the gateway and never
// forwarded; OPTIONS without Access-Control-Request-Method is an ordinary
// request.
func testCORS(t *testing.T, f *fixture) {
	origin := "Origin: https://app.example"
	acao := func(want string) func(*testing.T, *http.Response, []byte, []record) {
		return func(t *testing.T, resp *http.Response, _ []byte, _ []record) {
			t.Helper()
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want {
				t.Errorf("Access-Control-Allow-Origin: got %q, want %q", got, want)
			}
		}
	}
	f.run(t, []tcase{
		{name: "preflight on /admin is answered, not forwarded",
			req:    request("OPTIONS", "/admin/c", origin, "Access-Control-Request-Method: DELETE", "Access-Control-Request-Headers: authorization"),
			status: 204, check: acao("https://app.example")},
		{name: "preflight on /api is answered, not forwarded",
			req:    request("OPTIONS", "/api/c", origin, "Access-Control-Request-Method: GET"),
			status: 204, check: acao("https://app.example")},
		{name: "preflight from another origin gets no CORS headers, not forwarded",
			req:    request("OPTIONS", "/admin/c", "Origin: https://evil.example", "Access-Control-Request-Method: DELETE"),
			status: 204, check: acao("")},
		{name: "preflight with a smuggled body is not forwarded",
			req:    requestBody("OPTIONS", "/admin/c", smuggled, origin, "Access-Control-Request-Method: GET"),
			status: 204, check: acao("https://app.example")},
		{name: "preflight for a dot-dot path is refused",
			req:    request("OPTIONS", "/public/../admin", origin, "Access-Control-Request-Method: GET"),
			status: 400, code: "invalid_request"},
		{name: "OPTIONS without Access-Control-Request-Method is an ordinary request",
			req:    request("OPTIONS", "/api/c", origin),
			status: 401, code: "unauthorized", reason: "missing", check: acao("https://app.example")},
		{name: "OPTIONS with Access-Control-Request-Method but no Origin is an ordinary request",
			req:    request("OPTIONS", "/api/c", "Access-Control-Request-Method: GET"),
			status: 401, code: "unauthorized", reason: "missing"},
		{name: "actual request from the allowed origin without a token",
			req:    request("GET", "/api/c", origin),
			status: 401, code: "unauthorized", check: acao("https://app.example")},
		{name: "origin with the allowed one as a prefix", req: request("GET", "/public/c", "Origin: https://app.example.evil.com"),
			status: 200, fwd: []string{"GET /public/c"}, check: acao("")},
		{name: "origin null", req: request("GET", "/public/c", "Origin: null"),
			status: 200, fwd: []string{"GET /public/c"}, check: acao("")},
		{name: "origin over http", req: request("GET", "/public/c", "Origin: http://app.example"),
			status: 200, fwd: []string{"GET /public/c"}, check: acao("")},
	})
}
