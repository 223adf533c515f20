package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/policy"
)

// TestH2CUpgradeNeverPassedOn sends h2c upgrade requests, in every
// spelling, followed by what a client sends once it believes the switch
// happened. The upstream must get one plain HTTP/1.1 request without
// Upgrade, HTTP2-Settings or an "upgrade" Connection token, and nothing of
// what follows. Before the fix ReverseProxy passed "Upgrade: h2c" on, so an
// upstream that speaks h2c (or answers 101 to anything, see
// TestUnaskedSwitchNotRelayed) got a tunnel past every route.
func TestH2CUpgradeNeverPassedOn(t *testing.T) {
	up := newEcho(t)
	g := newGateway(t, fixtureRoutes(t, up.URL)...)
	for _, tc := range []struct {
		name   string
		header string // upgrade headers of the first request
		behind string // sent in the same write
	}{
		{name: "h2c, settings named in Connection", header: "Connection: Upgrade, HTTP2-Settings\r\n" + h2cHeaders, behind: h2Preface},
		{name: "h2c, settings not named", header: "Connection: Upgrade\r\n" + h2cHeaders, behind: h2Preface},
		{name: "h2c without Connection", header: h2cHeaders, behind: h2Preface},
		{name: "h2c then guarded request", header: "Connection: Upgrade, HTTP2-Settings\r\n" + h2cHeaders, behind: smuggledGuarded},
		{name: "h2c then public request", header: "Connection: Upgrade, HTTP2-Settings\r\n" + h2cHeaders, behind: smuggledPublic},
		{name: "h2c upper case", header: "connection: UPGRADE\r\nUPGRADE: H2C\r\n", behind: h2Preface},
		{name: "made-up protocol", header: "Connection: upgrade\r\nUpgrade: tunnel/1.0\r\n", behind: smuggledPublic},
		{name: "websocket listed with h2c", header: "Connection: Upgrade\r\nUpgrade: websocket, h2c\r\n", behind: smuggledPublic},
		{name: "websocket without Connection upgrade", header: "Connection: keep-alive\r\nUpgrade: websocket\r\n", behind: smuggledPublic},
		{name: "two Upgrade fields", header: "Connection: Upgrade\r\nUpgrade: websocket\r\nUpgrade: h2c\r\n", behind: smuggledPublic},
		{name: "websocket over HTTP/1.0", header: "Connection: Upgrade\r\nUpgrade: websocket\r\n", behind: smuggledPublic},
		{name: "websocket with POST", header: "Connection: Upgrade\r\nUpgrade: websocket\r\n", behind: smuggledPublic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method, proto := "GET", "HTTP/1.1"
			switch {
			case strings.Contains(tc.name, "HTTP/1.0"):
				proto = "HTTP/1.0"
			case strings.Contains(tc.name, "POST"):
				method = "POST"
			}
			before := up.count()
			resps, closed := rawSession(t, g.addr(), method+" /public/x "+proto+"\r\nHost: gw\r\n"+tc.header+"\r\n"+tc.behind)
			if len(resps) != 1 {
				t.Fatalf("responses: got %d, want 1", len(resps))
			}
			if !closed {
				t.Error("connection left open after an upgrade request: what follows would be read")
			}
			e := echoOf(t, resps[0].Response, resps[0].body)
			if !resps[0].Close {
				t.Error("response without Connection: close")
			}
			for _, name := range []string{"Upgrade", "Http2-Settings"} {
				if got := e.Header.Values(name); len(got) != 0 {
					t.Errorf("upstream %s: got %q, want none", name, got)
				}
			}
			if got := e.Header.Values("Connection"); hasToken(got, "upgrade") {
				t.Errorf("upstream Connection: got %q, want no upgrade token", got)
			}
			checkUpstreamSaw(t, up, before, "/public/x")
		})
	}
}

// switchingUpstream is a raw upstream that answers every request with a
// 101 carrying upgrade (no Upgrade header when ""), then echoes whatever
// arrives. It records each connection's first request and whether the
// gateway closed the connection.
type switchingUpstream struct {
	net.Listener
	upgrade string

	mu     sync.Mutex
	reqs   []*http.Request
	closed chan struct{} // one value per connection the gateway closed
}

func newSwitchingUpstream(t *testing.T, upgrade string) *switchingUpstream {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &switchingUpstream{Listener: l, upgrade: upgrade, closed: make(chan struct{}, 16)}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go u.serve(conn)
		}
	}()
	return u
}

func (u *switchingUpstream) serve(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	u.mu.Lock()
	u.reqs = append(u.reqs, req)
	u.mu.Unlock()
	resp := "HTTP/1.1 101 Switching Protocols\r\n"
	if u.upgrade != "" {
		resp += "Connection: Upgrade\r\nUpgrade: " + u.upgrade + "\r\n"
	}
	if _, err := io.WriteString(conn, resp+"\r\n"); err != nil {
		return
	}
	// Echo until the gateway hangs up: a tunnel would carry the client's
	// bytes here and back.
	buf := make([]byte, 1024)
	for {
		n, err := br.Read(buf)
		if err != nil {
			u.closed <- struct{}{}
			return
		}
		if _, err := conn.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (u *switchingUpstream) url() string { return "http://" + u.Addr().String() }

// TestUnaskedSwitchNotRelayed points the gateway at an upstream that
// answers 101 to everything and then echoes, and checks that only a
// WebSocket handshake answered with "Upgrade: websocket" becomes a tunnel.
// Every other 101 gets the client a 502 and no tunnel, and the gateway
// closes the upstream connection. Before the fix a plain request answered
// with a bare 101 was tunnelled (ReverseProxy compares the request's and
// response's upgrade types, both ""), and so was an h2c request answered
// with "Upgrade: h2c".
func TestUnaskedSwitchNotRelayed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		header  string // the client's upgrade headers
		upgrade string // the upstream's Upgrade, "" none
		relayed bool
		close   bool // the 502 has Connection: close
	}{
		{name: "plain request, bare 101", upgrade: ""},
		{name: "plain request, 101 to websocket", upgrade: "websocket"},
		{name: "plain request, 101 to h2c", upgrade: "h2c"},
		{name: "h2c request, 101 to h2c", header: "Connection: Upgrade, HTTP2-Settings\r\n" + h2cHeaders, upgrade: "h2c", close: true},
		{name: "h2c request, bare 101", header: "Connection: Upgrade, HTTP2-Settings\r\n" + h2cHeaders, upgrade: "", close: true},
		{name: "websocket request, 101 to h2c", header: "Connection: Upgrade\r\nUpgrade: websocket\r\n", upgrade: "h2c", close: true},
		{name: "websocket request, bare 101", header: "Connection: Upgrade\r\nUpgrade: websocket\r\n", upgrade: "", close: true},
		{name: "websocket request, 101 to websocket", header: "Connection: Upgrade\r\nUpgrade: websocket\r\n", upgrade: "websocket", relayed: true},
		{name: "websocket request, 101 to WebSocket", header: "Connection: upgrade\r\nUpgrade: WebSocket\r\n", upgrade: "WebSocket", relayed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newSwitchingUpstream(t, tc.upgrade)
			g := newGateway(t, Route{Name: "r", PathPrefix: "/", Upstream: mustURL(t, up.url()), Mode: policy.None})
			conn, err := net.Dial("tcp", g.addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(conn, "GET /x HTTP/1.1\r\nHost: gw\r\n"+tc.header+"\r\n"); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatal(err)
			}
			up.mu.Lock()
			n := len(up.reqs)
			var upReq *http.Request
			if n > 0 {
				upReq = up.reqs[0]
			}
			up.mu.Unlock()
			if n != 1 {
				t.Fatalf("upstream requests: got %d, want 1", n)
			}
			if tc.relayed {
				if resp.StatusCode != http.StatusSwitchingProtocols {
					t.Fatalf("status: got %d, want 101", resp.StatusCode)
				}
				if _, err := io.WriteString(conn, "ping\n"); err != nil {
					t.Fatal(err)
				}
				if got, err := br.ReadString('\n'); err != nil || got != "ping\n" {
					t.Errorf("tunnel echo: got %q, %v, want %q", got, err, "ping\n")
				}
				return
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
			if resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("status: got %d, want 502: %s", resp.StatusCode, body)
			}
			if e := errorOf(t, resp, body); e.Error != "bad_gateway" {
				t.Errorf("error: got %q, want bad_gateway", e.Error)
			}
			if resp.Close != tc.close {
				t.Errorf("Connection: close: got %v, want %v", resp.Close, tc.close)
			}
			if got := upReq.Header.Get("Upgrade"); got != "" && !strings.EqualFold(got, "websocket") {
				t.Errorf("upstream Upgrade: got %q, want none or websocket", got)
			}
			select {
			case <-up.closed:
			case <-time.After(3 * time.Second):
				t.Fatal("the gateway kept the switched upstream connection open")
			}
			// Whatever the client sends next is never echoed: there is no
			// tunnel. (The connection is either closed or reads it as a
			// request.)
			_, _ = io.WriteString(conn, "ping\n")
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			if got, _ := io.ReadAll(br); strings.Contains(string(got), "ping") {
				t.Errorf("client bytes came back through a tunnel: %q", got)
			}
		})
	}
}

// TestRefusedHandshakeCloses checks that a WebSocket handshake the gateway
// refuses (400, 401, 403, 404, 405) or the upstream does not accept (a
// non-101) is answered with "Connection: close" and that the connection is
// closed: the client's next bytes, here a request for a public path, are
// never read, let alone forwarded.
func TestRefusedHandshakeCloses(t *testing.T) {
	up := newEcho(t) // answers 200, never 101
	g := newGateway(t, fixtureRoutes(t, up.URL)...)
	const ws = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	for _, tc := range []struct {
		name   string
		line   string
		auth   string
		status int
		want   []string // what the upstream receives
	}{
		{name: "bad path", line: "GET /api/../admin HTTP/1.1", status: 400},
		{name: "no token", line: "GET /api/ws HTTP/1.1", status: 401},
		{name: "bad token", line: "GET /api/ws HTTP/1.1", auth: "Bearer nope", status: 401},
		{name: "insufficient scope", line: "GET /admin/ws HTTP/1.1", auth: "Bearer noscope", status: 403},
		{name: "no route", line: "GET /nowhere HTTP/1.1", status: 404},
		{name: "trace", line: "TRACE /public/ws HTTP/1.1", status: 405},
		{name: "upstream answers 200", line: "GET /public/ws HTTP/1.1", status: 200, want: []string{"/public/ws"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.line + "\r\nHost: gw\r\n" + ws
			if tc.auth != "" {
				req += "Authorization: " + tc.auth + "\r\n"
			}
			before := up.count()
			resps, closed := rawSession(t, g.addr(), req+"\r\n"+smuggledPublic)
			if len(resps) != 1 {
				t.Fatalf("responses: got %d, want 1", len(resps))
			}
			if resps[0].StatusCode != tc.status {
				t.Errorf("status: got %d, want %d: %s", resps[0].StatusCode, tc.status, resps[0].body)
			}
			if !resps[0].Close {
				t.Error("response without Connection: close")
			}
			if !closed {
				t.Error("connection left open after a refused handshake")
			}
			checkUpstreamSaw(t, up, before, tc.want...)
		})
	}
}

// TestWebSocketHandshakeForwarded checks the positive side of upgradeOf: a
// real handshake keeps its Upgrade and Connection upstream, and its
// Sec-WebSocket headers.
func TestWebSocketHandshakeForwarded(t *testing.T) {
	got := make(chan http.Header, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
	}))
	t.Cleanup(up.Close)
	g := newGateway(t, Route{Name: "ws", PathPrefix: "/", Upstream: mustURL(t, up.URL), Mode: policy.None})
	resps, _ := rawSession(t, g.addr(), "GET /ws HTTP/1.1\r\nHost: gw\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	if len(resps) != 1 || resps[0].StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("responses: got %d, want one 101", len(resps))
	}
	if got := resps[0].Header.Get("Connection"); strings.Contains(strings.ToLower(got), "close") {
		t.Errorf("101 Connection: got %q, want no close", got)
	}
	h := <-got
	if h.Get("Upgrade") != "websocket" || !hasToken(h.Values("Connection"), "upgrade") || h.Get("Sec-Websocket-Key") == "" {
		t.Errorf("upstream handshake headers: got %v", h)
	}
}
