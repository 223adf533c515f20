package gateway_test

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
)

// TestServeClosesAmbiguousFraming runs the real server setup (Serve) and
// sends requests whose framing a front proxy may read differently, each
// with a second request in the same write. The client must get exactly one
// response and a closed connection, and the upstream must never see the
// second request: the proxy package's "Connection: close" rule holds only
// if the server Serve builds honours it.
func TestServeClosesAmbiguousFraming(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen = append(seen, r.RequestURI)
		mu.Unlock()
	}))
	defer up.Close()
	gw, _, _ := serveTest(t, fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
routes:
  - { name: public, match: { path_prefix: /public }, upstream: { url: %q }, auth: { mode: none } }
`, up.URL))
	const second = "GET /public/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n"
	for _, tc := range []struct{ name, request string }{
		{name: "CL and TE", request: "POST /public/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{name: "HTTP/1.0 keep-alive with TE", request: "POST /public/x HTTP/1.0\r\nHost: gw\r\nConnection: keep-alive\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{name: "h2c upgrade", request: "GET /public/x HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			before := len(seen)
			mu.Unlock()
			conn, err := net.Dial("tcp", strings.TrimPrefix(gw, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(conn, tc.request+second); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !resp.Close {
				t.Errorf("response: got %d, close %v; want 200 with Connection: close", resp.StatusCode, resp.Close)
			}
			if extra, err := http.ReadResponse(br, nil); err == nil {
				t.Errorf("a second response (%d): the smuggled request was read", extra.StatusCode)
			}
			mu.Lock()
			got := append([]string(nil), seen[before:]...)
			mu.Unlock()
			if len(got) != 1 || got[0] != "/public/x" {
				t.Errorf("upstream received %q, want [/public/x]", got)
			}
		})
	}
}
