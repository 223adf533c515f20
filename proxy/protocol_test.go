package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/policy"
)

// Attack traffic for the tests below: a request behind the one the gateway
// answers, for a guarded path without a token and for a public path, and
// the HTTP/2 connection preface a client sends once it believes h2c is on.
const (
	smuggledGuarded = "GET /api/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n"
	smuggledPublic  = "GET /public/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n"
	h2Preface       = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"
	h2cHeaders      = "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
)

// checkUpstreamSaw fails unless the upstream received exactly want (request
// URIs) since it had received from requests.
func checkUpstreamSaw(t testing.TB, up *echoUpstream, from int, want ...string) {
	t.Helper()
	got := up.seen(from)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("upstream received %q, want %q", got, want)
	}
}

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

// TestSmuggling sends requests whose framing two HTTP parsers may read
// differently, each followed in the same write by a second request. The
// gateway must answer at most once and close the connection, and the
// upstream must never receive the second request. Before the fix,
// "Content-Length" with "Transfer-Encoding: chunked", and HTTP/1.0 with
// "Transfer-Encoding", kept the connection open and the second request was
// served: a front proxy that framed by Content-Length would have passed it
// as body bytes, unchecked.
func TestSmuggling(t *testing.T) {
	up := newEcho(t)
	g := newGateway(t, fixtureRoutes(t, up.URL)...)
	for _, tc := range []struct {
		name    string
		request string // headers after the request line and Host, and the body
		proto   string // "" is HTTP/1.1
		status  int    // of the one response
		json    bool   // the gateway's own error body (not net/http's)
		upstr   bool   // the first request reaches the upstream
	}{
		// Served once by the gateway, then the connection is closed.
		{name: "CL and TE", request: "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 200, upstr: true},
		{name: "TE and CL", request: "Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n", status: 200, upstr: true},
		{name: "CL and TE with a body", request: "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", status: 200, upstr: true},
		{name: "chunked alone", request: "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 200, upstr: true},
		{name: "TE upper case", request: "Transfer-Encoding: CHUNKED\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", status: 200, upstr: true},
		{name: "TE with tabs", request: "Transfer-Encoding:\tchunked\t\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", status: 200, upstr: true},
		{name: "TE obs-fold", request: "Transfer-Encoding:\r\n chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", status: 200, upstr: true},
		{name: "HTTP/1.0 keep-alive with TE and CL", proto: "HTTP/1.0", request: "Connection: keep-alive\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 200, upstr: true},
		{name: "HTTP/1.0 keep-alive", proto: "HTTP/1.0", request: "Connection: keep-alive\r\nContent-Length: 0\r\n\r\n", status: 200, upstr: true},
		{name: "TE on a guarded route", request: "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", status: 401, json: true},
		// Refused by net/http before the handler, connection closed.
		{name: "TE twice", request: "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 501},
		{name: "xchunked", request: "Transfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", status: 501},
		{name: "chunked, identity", request: "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", status: 501},
		{name: "identity", request: "Transfer-Encoding: identity\r\nContent-Length: 4\r\n\r\nabcd", status: 501},
		{name: "empty TE", request: "Transfer-Encoding: \r\nContent-Length: 4\r\n\r\nabcd", status: 501},
		{name: "TE with vertical tab", request: "Transfer-Encoding: \x0bchunked\r\nContent-Length: 4\r\n\r\nabcd", status: 400},
		{name: "space before colon", request: "Transfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", status: 400},
		{name: "TE folded into Host", request: " Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", status: 400},
		{name: "two CL", request: "Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", status: 400},
		{name: "CL list", request: "Content-Length: 4, 5\r\n\r\nabcde", status: 400},
		{name: "CL plus sign", request: "Content-Length: +4\r\n\r\nabcd", status: 400},
		{name: "CL negative", request: "Content-Length: -4\r\n\r\nabcd", status: 400},
		{name: "CL hex", request: "Content-Length: 0x4\r\n\r\nabcd", status: 400},
	} {
		for _, second := range []string{smuggledGuarded, smuggledPublic} {
			path := "/public/x"
			if strings.Contains(tc.name, "guarded") {
				path = "/api/x"
			}
			proto := tc.proto
			if proto == "" {
				proto = "HTTP/1.1"
			}
			t.Run(tc.name+" then "+strings.Fields(second)[1], func(t *testing.T) {
				before := up.count()
				resps, closed := rawSession(t, g.addr(), "POST "+path+" "+proto+"\r\nHost: gw\r\n"+tc.request+second)
				if len(resps) != 1 {
					t.Fatalf("responses: got %d, want 1 (a second request was read)", len(resps))
				}
				if resps[0].StatusCode != tc.status {
					t.Errorf("status: got %d, want %d: %s", resps[0].StatusCode, tc.status, resps[0].body)
				}
				if tc.json {
					errorOf(t, resps[0].Response, resps[0].body)
				}
				if !closed {
					t.Error("connection left open: a second request would be read")
				}
				var want []string
				if tc.upstr {
					want = []string{path}
				}
				checkUpstreamSaw(t, up, before, want...)
			})
		}
	}
}

// TestKeepAliveStays checks that the close rules leave ordinary
// connections alone: two pipelined plain requests get two answers.
func TestKeepAliveStays(t *testing.T) {
	up := newEcho(t)
	g := newGateway(t, fixtureRoutes(t, up.URL)...)
	before := up.count()
	resps, _ := rawSession(t, g.addr(), "GET /public/a HTTP/1.1\r\nHost: gw\r\n\r\n"+
		"POST /public/b HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\n\r\nhi"+
		"GET /public/c HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
	if len(resps) != 3 {
		t.Fatalf("responses: got %d, want 3", len(resps))
	}
	for _, r := range resps[:2] {
		if r.Close {
			t.Error("Connection: close on a plain keep-alive request")
		}
	}
	checkUpstreamSaw(t, up, before, "/public/a", "/public/b", "/public/c")
}

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

// TestHTTP2KeepsConnection checks that the HTTP/1 close rules never touch
// HTTP/2, where net/http reads a handler's "Connection: close" as a request
// to shut the whole connection down: a refused CONNECT and a body of
// unknown length are one stream each, and the next request reuses the
// connection.
func TestHTTP2KeepsConnection(t *testing.T) {
	up := newEcho(t)
	h, err := New(Options{Routes: fixtureRoutes(t, up.URL)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.Timeout = 10 * time.Second

	do := func(method, target string, body io.Reader) (status int, reused bool) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+target, body)
		if err != nil {
			t.Fatal(err)
		}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
		}))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, target, err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.ProtoMajor != 2 {
			t.Fatalf("%s %s: got %s, want HTTP/2", method, target, resp.Proto)
		}
		return resp.StatusCode, reused
	}
	do("GET", "/public/warm", nil)
	if status, _ := do("CONNECT", "", nil); status != http.StatusMethodNotAllowed {
		t.Errorf("CONNECT: got %d, want 405", status)
	}
	if _, reused := do("GET", "/public/a", nil); !reused {
		t.Error("the connection was not reused after a refused CONNECT")
	}
	pr, pw := io.Pipe()
	go func() { io.WriteString(pw, "streamed"); pw.Close() }()
	if status, _ := do("POST", "/public/b", pr); status != http.StatusOK {
		t.Errorf("streamed POST: got %d, want 200", status)
	}
	if _, reused := do("GET", "/public/c", nil); !reused {
		t.Error("the connection was not reused after a body of unknown length")
	}
	if got := up.count(); got != 4 {
		t.Errorf("upstream hits: got %d, want 4 (the CONNECT never forwarded)", got)
	}
}
