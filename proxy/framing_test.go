package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"
)

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
