package attack

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testHost is the Host header of every request that does not test hosts.
const testHost = "authgate.test"

// ioTimeout bounds every read and write on a raw connection. It is a
// failure deadline, never an expected wait: each case reads what the
// gateway must send, or the close it must make.
const ioTimeout = 10 * time.Second

// raw is one attacker connection to the gateway: bytes out exactly as
// written, responses parsed with http.ReadResponse.
type raw struct {
	tb testing.TB
	c  net.Conn
	br *bufio.Reader
}

func (f *fixture) dial(tb testing.TB) *raw {
	tb.Helper()
	c, err := net.DialTimeout("tcp", f.gw, ioTimeout)
	if err != nil {
		tb.Fatalf("dial gateway: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return &raw{tb: tb, c: c, br: bufio.NewReader(c)}
}

// write sends s verbatim.
func (r *raw) write(s string) {
	r.tb.Helper()
	_ = r.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(r.c, s); err != nil {
		r.tb.Fatalf("write: %v", err)
	}
}

// response reads one whole response to a request with method; it fails the
// test if none arrives.
func (r *raw) response(method string) (*http.Response, []byte) {
	r.tb.Helper()
	resp, body, err := r.tryResponse(method)
	if err != nil {
		r.tb.Fatalf("reading the response: %v", err)
	}
	return resp, body
}

// tryResponse reads one whole response, or returns the read error (io.EOF
// when the gateway closed the connection first).
func (r *raw) tryResponse(method string) (*http.Response, []byte, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(ioTimeout))
	resp, err := http.ReadResponse(r.br, &http.Request{Method: method})
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp, nil, nil // what follows belongs to the tunnel
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("body: %w", err)
	}
	return resp, body, nil
}

// closed checks that the gateway has closed the connection: it sends one
// more request (a probe) and expects the close, not an answer. An answer
// (to the probe or to anything left in the connection) means the gateway
// still reads requests from it, and fails the test; the answers are read
// up to the probe's, so that nothing the probe caused is still in flight
// when the next case starts.
func (r *raw) closed() bool {
	r.tb.Helper()
	probeID := fmt.Sprintf("probe-%p", r)
	_ = r.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, _ = io.WriteString(r.c, request("GET", "/public/probe", "X-Request-Id: "+probeID))
	for answered := 0; ; answered++ {
		resp, _, err := r.tryResponse("GET")
		switch {
		case err == nil:
			if answered == 0 {
				r.tb.Errorf("connection not closed: the gateway answered another request on it (%s)", resp.Status)
			}
			if resp.Header.Get("X-Request-Id") != probeID {
				continue
			}
			return false
		case answered > 0:
			return false
		case isClosed(err):
			return true
		default:
			r.tb.Errorf("connection not closed: %v", err)
			return false
		}
	}
}

// readExactly reads n bytes of tunnel data.
func (r *raw) readExactly(n int) (string, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(ioTimeout))
	buf := make([]byte, n)
	_, err := io.ReadFull(r.br, buf)
	return string(buf), err
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) ||
		(err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && strings.Contains(err.Error(), "reset"))
}

// request builds an HTTP/1.1 request: the request line, Host (unless a
// header line sets it, or host is ""), the header lines as given, and body
// with a Content-Length when non-empty and no framing header is given.
func request(method, target string, lines ...string) string {
	return requestBody(method, target, "", lines...)
}

func requestBody(method, target, body string, lines ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, target)
	hasHost, framed := false, false
	for _, l := range lines {
		name := strings.ToLower(strings.TrimSpace(strings.SplitN(l, ":", 2)[0]))
		hasHost = hasHost || name == "host"
		framed = framed || name == "content-length" || name == "transfer-encoding"
	}
	if !hasHost {
		b.WriteString("Host: " + testHost + "\r\n")
	}
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	if body != "" && !framed {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
}

// bearer is an Authorization header line.
func bearer(tok string) string { return "Authorization: Bearer " + tok }

// exchange sends one request on a new connection and returns the response,
// its body, and what the upstream received meanwhile. The upstream always
// records a request before it answers, and the gateway answers only after
// the upstream did, so nothing forwarded can arrive after the response.
func (f *fixture) exchange(tb testing.TB, req string) (*http.Response, []byte, []record) {
	tb.Helper()
	m := f.up.mark()
	c := f.dial(tb)
	c.write(req)
	resp, body := c.response(methodOf(req))
	return resp, body, f.up.since(m)
}

// methodOf returns the method of a raw request.
func methodOf(req string) string {
	m, _, _ := strings.Cut(req, " ")
	return m
}

// errorBody is docs/reference.md §3.6's error body.
type errorBody struct {
	Error       *string `json:"error"`
	Description *string `json:"error_description"`
}

// wantStatus fails unless resp has status.
func wantStatus(tb testing.TB, resp *http.Response, body []byte, status int) bool {
	tb.Helper()
	if resp.StatusCode != status {
		tb.Errorf("status: got %d, want %d; body %q", resp.StatusCode, status, truncate(string(body)))
		return false
	}
	return true
}

// wantError checks a refusal the gateway made itself against docs/reference.md §3.6:
// status, Content-Type, Cache-Control, the JSON body's error code, a
// description that quotes no part of any token in secrets, and the
// challenge: a bare one for a missing token, error="invalid_token" for an
// invalid one, error="insufficient_scope" with the scope for a policy
// refusal.
func wantError(tb testing.TB, resp *http.Response, body []byte, status int, code string, secrets ...string) {
	tb.Helper()
	if !wantStatus(tb, resp, body, status) {
		return
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		tb.Errorf("Content-Type: got %q, want %q", got, "application/json")
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		tb.Errorf("Cache-Control: got %q, want %q", got, "no-store")
	}
	// A HEAD response has no body (RFC 9110 §9.3.2): only its headers say
	// what the GET would have.
	if head := resp.Request != nil && resp.Request.Method == http.MethodHead; !head {
		var eb errorBody
		if err := json.Unmarshal(body, &eb); err != nil || eb.Error == nil || eb.Description == nil {
			tb.Errorf("body: got %q, want {\"error\":%q,\"error_description\":…}", truncate(string(body)), code)
			return
		}
		if *eb.Error != code {
			tb.Errorf("error: got %q, want %q", *eb.Error, code)
		}
	}
	for _, s := range secrets {
		for _, part := range strings.Split(s, ".") {
			if len(part) >= 8 && strings.Contains(string(body), part) {
				tb.Errorf("error body quotes token material %q", truncate(part))
			}
		}
	}
	if code == "temporarily_unavailable" && resp.Header.Get("Retry-After") == "" {
		tb.Errorf("Retry-After: missing on a 503 %s", code)
	}
	www := resp.Header.Values("WWW-Authenticate")
	switch {
	case status == http.StatusUnauthorized && code == "unauthorized":
		if len(www) != 1 || www[0] != `Bearer realm="authgate"` {
			tb.Errorf("WWW-Authenticate: got %q, want %q", www, `Bearer realm="authgate"`)
		}
	case status == http.StatusUnauthorized:
		want := `Bearer realm="authgate", error="invalid_token", error_description="`
		if len(www) != 1 || !strings.HasPrefix(www[0], want) {
			tb.Errorf("WWW-Authenticate: got %q, want it to start %q", www, want)
		}
	case status == http.StatusForbidden:
		want := `Bearer realm="authgate", error="insufficient_scope"`
		if len(www) != 1 || !strings.HasPrefix(www[0], want) || !strings.Contains(www[0], `scope="admin"`) {
			tb.Errorf("WWW-Authenticate: got %q, want it to start %q and name scope=\"admin\"", www, want)
		}
	}
}

// wantParserRefusal checks a refusal of a message the HTTP parser cannot
// accept (RFC 9112 framing errors, a request line that is no URI). Only the
// status is checked strictly: the body is Go net/http's own when the
// refusal happens before the gateway's handler; if it is the gateway's
// JSON, its code must be invalid_request.
func wantParserRefusal(tb testing.TB, resp *http.Response, body []byte, status int) {
	tb.Helper()
	if !wantStatus(tb, resp, body, status) {
		return
	}
	if resp.Header.Get("Content-Type") == "application/json" && status == http.StatusBadRequest {
		var eb errorBody
		if json.Unmarshal(body, &eb) != nil || eb.Error == nil || *eb.Error != "invalid_request" {
			tb.Errorf("body: got %q, want error %q", truncate(string(body)), "invalid_request")
		}
	}
}

// wantNothing fails if the upstream received anything.
func wantNothing(tb testing.TB, recs []record) {
	tb.Helper()
	if len(recs) != 0 {
		tb.Errorf("upstream received %q, want nothing", recordList(recs))
	}
}

// wantForwarded fails unless the upstream received exactly the requests
// targets lists, each "METHOD request-target", in order, and returns them.
func wantForwarded(tb testing.TB, recs []record, targets ...string) []record {
	tb.Helper()
	got := recordList(recs)
	if strings.Join(got, "\n") != strings.Join(targets, "\n") {
		tb.Errorf("upstream received %q, want %q", got, targets)
		return nil
	}
	return recs
}

func recordList(recs []record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.String()
	}
	return out
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
