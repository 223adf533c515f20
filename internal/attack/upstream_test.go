package attack

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// record is one request as the upstream received it, before any
// interpretation: the request-target exactly as it stood on the request
// line, the Host header, every other header, the body (de-chunked) and the
// upstream connection it came on.
type record struct {
	Conn   int
	Method string
	Target string // the request-target as received
	Proto  string
	Host   string
	Header http.Header
	Body   []byte
	// Err is set instead of the fields above when bytes arrived on a
	// connection that did not parse as a request: a desynchronised
	// connection is recorded, not ignored.
	Err string
}

// String is the record as "METHOD target", or the parse error.
func (r record) String() string {
	if r.Err != "" {
		return "unparsable: " + r.Err
	}
	return r.Method + " " + r.Target
}

// upstream is the recording upstream behind the gateway. It is a raw
// net.Listener rather than an http.Server, so that nothing is normalised
// before it is recorded, and so that it can behave like the permissive
// upstreams attackers look for:
//
//   - any request: 200 with a small JSON body, connection kept alive;
//   - a request asking to upgrade (Upgrade plus "upgrade" in Connection):
//     101 to the first protocol it names, then an echo tunnel, as an h2c- or
//     WebSocket-capable server would; bytes that reach the tunnel are
//     recorded per connection;
//   - query "upstream=101-h2c" or "upstream=101-websocket": 101 to that
//     protocol whatever was asked, to test that the gateway never relays an
//     unrequested or non-WebSocket switch.
type upstream struct {
	ln net.Listener

	mu     sync.Mutex
	recs   []record
	tunnel int // bytes received on upgraded connections, all of them
	conns  int
	open   map[net.Conn]bool
	wg     sync.WaitGroup
}

// mark is a position in the upstream's record, for "what arrived since".
type mark struct{ recs, tunnel int }

func newUpstream(tb testing.TB) *upstream {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	u := &upstream{ln: ln, open: map[net.Conn]bool{}}
	u.wg.Add(1)
	go u.accept()
	tb.Cleanup(u.close)
	return u
}

// URL is the upstream's base URL.
func (u *upstream) URL() string { return "http://" + u.ln.Addr().String() }

func (u *upstream) close() {
	u.ln.Close()
	u.mu.Lock()
	for c := range u.open {
		c.Close()
	}
	u.mu.Unlock()
	u.wg.Wait()
}

func (u *upstream) accept() {
	defer u.wg.Done()
	for {
		c, err := u.ln.Accept()
		if err != nil {
			return
		}
		u.mu.Lock()
		u.conns++
		id := u.conns
		u.open[c] = true
		u.mu.Unlock()
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			defer func() {
				u.mu.Lock()
				delete(u.open, c)
				u.mu.Unlock()
				c.Close()
			}()
			u.serveConn(c, id)
		}()
	}
}

// serveConn reads requests off one connection until it closes.
func (u *upstream) serveConn(c net.Conn, id int) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
				u.add(record{Conn: id, Err: err.Error()})
			}
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			u.add(record{Conn: id, Err: "body: " + err.Error()})
			return
		}
		u.add(record{
			Conn: id, Method: req.Method, Target: req.RequestURI, Proto: req.Proto,
			Host: req.Host, Header: req.Header, Body: body,
		})
		if proto := switchTo(req); proto != "" {
			u.switchProtocols(c, br, req, proto)
			return
		}
		msg := fmt.Sprintf(`{"upstream":"ok","conn":%d}`, id)
		resp := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
			fmt.Sprint(len(msg)) + "\r\n\r\n" + msg
		if _, err := io.WriteString(c, resp); err != nil || req.Close {
			return
		}
	}
}

// switchTo returns the protocol the upstream answers 101 to, or "".
func switchTo(req *http.Request) string {
	switch req.URL.Query().Get("upstream") {
	case "101-h2c":
		return "h2c"
	case "101-websocket":
		return "websocket"
	}
	if !headerHasToken(req.Header, "Connection", "upgrade") {
		return ""
	}
	up := strings.TrimSpace(strings.Split(req.Header.Get("Upgrade"), ",")[0])
	return up
}

// switchProtocols answers 101 and echoes whatever arrives afterwards,
// counting it as tunnelled.
func (u *upstream) switchProtocols(c net.Conn, br *bufio.Reader, req *http.Request, proto string) {
	resp := "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + proto + "\r\n"
	if strings.EqualFold(proto, "websocket") {
		resp += "Sec-WebSocket-Accept: " + wsAccept(req.Header.Get("Sec-WebSocket-Key")) + "\r\n"
	}
	if _, err := io.WriteString(c, resp+"\r\n"); err != nil {
		return
	}
	buf := make([]byte, 4096)
	for {
		n, err := br.Read(buf)
		if n > 0 {
			u.mu.Lock()
			u.tunnel += n
			u.mu.Unlock()
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// wsAccept is the Sec-WebSocket-Accept value for key (RFC 6455 §4.2.2).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

func (u *upstream) add(r record) {
	u.mu.Lock()
	u.recs = append(u.recs, r)
	u.mu.Unlock()
}

// mark returns the current position.
func (u *upstream) mark() mark {
	u.mu.Lock()
	defer u.mu.Unlock()
	return mark{recs: len(u.recs), tunnel: u.tunnel}
}

// since returns the records added after m.
func (u *upstream) since(m mark) []record {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]record(nil), u.recs[m.recs:]...)
}

// tunnelled returns the bytes that reached an upgraded connection after m.
func (u *upstream) tunnelled(m mark) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.tunnel - m.tunnel
}

// headerHasToken reports whether a comma-separated header holds token, case
// insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}
