package attack

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// smuggled is the request an attacker hides in a body: /admin without a
// token, which the gateway refuses and the upstream must never see.
const smuggled = "GET /admin/smuggled HTTP/1.1\r\nHost: " + testHost + "\r\n\r\n"

// chunk frames s as one chunk and the last chunk.
func chunk(s string) string { return fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(s), s) }

// testFraming: RFC 9112 §6 message framing, request smuggling (§11.2) and
// pipelining (§9.3), docs/reference.md §3.1.
func testFraming(t *testing.T, f *fixture) {
	t.Run("ambiguous framing", func(t *testing.T) { testAmbiguous(t, f) })
	t.Run("malformed messages", func(t *testing.T) { f.run(t, f.malformedCases()) })
	t.Run("pipelining", func(t *testing.T) { testPipelining(t, f) })
}

// testAmbiguous sends requests with both Content-Length and
// Transfer-Encoding, or a Transfer-Encoding the gateway cannot honour, with
// a smuggled request behind the body. docs/reference.md §3.1: 400, or one answer and
// the connection closed; either way no second request is read, and the
// upstream never sees the smuggled one.
func testAmbiguous(t *testing.T, f *fixture) {
	clte := "0\r\n\r\n" + smuggled
	tecl := chunk(smuggled)
	cases := []struct {
		name  string
		req   string
		route string // the request-target the upstream may get if the gateway answers once
		// status, when set, is the one refusal status RFC 9112 gives for
		// this message (the contract names none: it is not CL+TE).
		status int
	}{
		{name: "CL.TE: Content-Length covers the smuggled request, chunked ends before it",
			req:   "POST /public/cl-te HTTP/1.1\r\nHost: " + testHost + "\r\nContent-Length: " + fmt.Sprint(len(clte)) + "\r\nTransfer-Encoding: chunked\r\n\r\n" + clte,
			route: "POST /public/cl-te"},
		{name: "TE.CL: Content-Length ends inside the chunk holding the smuggled request",
			req:   "POST /public/te-cl HTTP/1.1\r\nHost: " + testHost + "\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + tecl,
			route: "POST /public/te-cl"},
		{name: "CL.TE with Transfer-Encoding first",
			req:   "POST /public/te-first HTTP/1.1\r\nHost: " + testHost + "\r\nTransfer-Encoding: chunked\r\nContent-Length: " + fmt.Sprint(len(clte)) + "\r\n\r\n" + clte,
			route: "POST /public/te-first"},
		{name: "CL.TE on a guarded route with a valid token",
			req:   "POST /api/cl-te HTTP/1.1\r\nHost: " + testHost + "\r\n" + bearer(f.good(t, nil)) + "\r\nContent-Length: " + fmt.Sprint(len(clte)) + "\r\nTransfer-Encoding: chunked\r\n\r\n" + clte,
			route: "POST /api/cl-te"},
		{name: "CL.TE with Transfer-Encoding in upper case",
			req:   "POST /public/cl-te-upper HTTP/1.1\r\nHost: " + testHost + "\r\nContent-Length: " + fmt.Sprint(len(clte)) + "\r\nTransfer-Encoding: CHUNKED\r\n\r\n" + clte,
			route: "POST /public/cl-te-upper"},
		{name: "CL.TE with Transfer-Encoding folded (obs-fold)",
			req:   "POST /public/cl-te-fold HTTP/1.1\r\nHost: " + testHost + "\r\nContent-Length: " + fmt.Sprint(len(clte)) + "\r\nTransfer-Encoding:\r\n chunked\r\n\r\n" + clte,
			route: "POST /public/cl-te-fold"},
		// Transfer-Encoding the gateway cannot honour, no Content-Length:
		// RFC 9112 §6.1, a server SHOULD answer 501 to a coding it does not
		// understand; a body it did not read must not become a request.
		{name: "Transfer-Encoding chunked twice (two fields)",
			req:    "POST /public/te-twice HTTP/1.1\r\nHost: " + testHost + "\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + tecl,
			status: http.StatusNotImplemented},
		{name: "Transfer-Encoding chunked, chunked (one field)",
			req:    "POST /public/te-list HTTP/1.1\r\nHost: " + testHost + "\r\nTransfer-Encoding: chunked, chunked\r\n\r\n" + tecl,
			status: http.StatusNotImplemented},
		{name: "Transfer-Encoding xchunked",
			req:    "POST /public/xchunked HTTP/1.1\r\nHost: " + testHost + "\r\nTransfer-Encoding: xchunked\r\n\r\n" + tecl,
			status: http.StatusNotImplemented},
		{name: "Transfer-Encoding chunked, identity (chunked not last)",
			req:    "POST /public/te-identity HTTP/1.1\r\nHost: " + testHost + "\r\nTransfer-Encoding: chunked, identity\r\n\r\n" + tecl,
			status: http.StatusNotImplemented},
		{name: "Transfer-Encoding gzip, chunked",
			req:    "POST /public/te-gzip HTTP/1.1\r\nHost: " + testHost + "\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" + tecl,
			status: http.StatusNotImplemented},
		{name: "Transfer-Encoding xchunked with Content-Length",
			req:    "POST /public/xchunked-cl HTTP/1.1\r\nHost: " + testHost + "\r\nContent-Length: " + fmt.Sprint(len(tecl)) + "\r\nTransfer-Encoding: xchunked\r\n\r\n" + tecl,
			status: http.StatusNotImplemented},
		// RFC 9112 §6.3: differing Content-Length values are an
		// unrecoverable framing error.
		{name: "two different Content-Length fields",
			req:    "POST /public/cl-cl HTTP/1.1\r\nHost: " + testHost + "\r\nContent-Length: 0\r\nContent-Length: " + fmt.Sprint(len(smuggled)) + "\r\n\r\n" + smuggled,
			status: http.StatusBadRequest},
		{name: "Content-Length list with different values",
			req:    "POST /public/cl-list HTTP/1.1\r\nHost: " + testHost + "\r\nContent-Length: 0, " + fmt.Sprint(len(smuggled)) + "\r\n\r\n" + smuggled,
			status: http.StatusBadRequest},
		{name: "Content-Length with a sign",
			req:    "POST /public/cl-sign HTTP/1.1\r\nHost: " + testHost + "\r\nContent-Length: +0\r\n\r\n" + smuggled,
			status: http.StatusBadRequest},
		{name: "Content-Length in hexadecimal",
			req:    "POST /public/cl-hex HTTP/1.1\r\nHost: " + testHost + "\r\nContent-Length: 0x0\r\n\r\n" + smuggled,
			status: http.StatusBadRequest},
		{name: "Content-Length beyond int64",
			req:    "POST /public/cl-huge HTTP/1.1\r\nHost: " + testHost + "\r\nContent-Length: 99999999999999999999\r\n\r\n" + smuggled,
			status: http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := f.up.mark()
			c := f.dial(t)
			c.write(tc.req)
			resp, body := c.response("POST")
			recs := f.up.since(m)
			for _, r := range recs {
				if strings.Contains(r.Target, "smuggled") || r.Err != "" {
					t.Errorf("upstream received a smuggled request: %q", recordList(recs))
				}
			}
			switch {
			case tc.status != 0:
				wantParserRefusal(t, resp, body, tc.status)
				wantNothing(t, recs)
			case resp.StatusCode == http.StatusBadRequest:
				wantError(t, resp, body, 400, "invalid_request")
				wantNothing(t, recs)
			default:
				// Answered once: forwarded once, as one request.
				wantStatus(t, resp, body, 200)
				wantForwarded(t, recs, tc.route)
			}
			c.closed()
		})
	}
}

// malformedCases are messages RFC 9112 requires a server to refuse.
func (f *fixture) malformedCases() []tcase {
	refuse := func(name, req string) tcase {
		return tcase{name: name, req: req, status: 400, parser: true, closes: true}
	}
	return []tcase{
		refuse("space before the colon (Host)", "GET /public/f HTTP/1.1\r\nHost : "+testHost+"\r\n\r\n"),
		refuse("space before the colon (Transfer-Encoding)", "POST /public/f HTTP/1.1\r\nHost: "+testHost+"\r\nTransfer-Encoding : chunked\r\n\r\n"+chunk(smuggled)),
		refuse("space before the colon (identity header)", "GET /public/f HTTP/1.1\r\nHost: "+testHost+"\r\nX-User-Id : admin\r\n\r\n"),
		refuse("tab before the colon", "GET /public/f HTTP/1.1\r\nHost: "+testHost+"\r\nX-User-Id\t: admin\r\n\r\n"),
		refuse("missing Host on HTTP/1.1", "GET /public/f HTTP/1.1\r\n\r\n"),
		refuse("header line without a colon", "GET /public/f HTTP/1.1\r\nHost: "+testHost+"\r\nX-User-Id admin\r\n\r\n"),
		refuse("CR LF inside a token splits the Authorization line", "GET /api/f HTTP/1.1\r\nHost: "+testHost+"\r\nAuthorization: Bearer eyJhbGciOi\r\nJSUzI1NiJ9.e30.sig\r\n\r\n"),
		refuse("obs-fold at the first header line", "GET /public/f HTTP/1.1\r\n X-User-Id: admin\r\nHost: "+testHost+"\r\n\r\n"),
		refuse("NUL in a header value", "GET /public/f HTTP/1.1\r\nHost: "+testHost+"\r\nX-A: a\x00b\r\n\r\n"),
		refuse("bare CR in a header value", "GET /public/f HTTP/1.1\r\nHost: "+testHost+"\r\nX-A: a\rX-User-Id: admin\r\n\r\n"),
		refuse("request line with two spaces", "GET  /public/f HTTP/1.1\r\nHost: "+testHost+"\r\n\r\n"),
		{name: "HTTP/2 version on an HTTP/1 connection", req: "GET /public/f HTTP/2.0\r\nHost: " + testHost + "\r\n\r\n",
			status: http.StatusHTTPVersionNotSupported, parser: true, closes: true},
		refuse("version HTTP/1.10", "GET /public/f HTTP/1.10\r\nHost: "+testHost+"\r\n\r\n"),
		{name: "header over max_header_bytes", req: request("GET", "/public/f", "X-Big: "+strings.Repeat("a", 64<<10)),
			status: http.StatusRequestHeaderFieldsTooLarge, parser: true, closes: true},
		// RFC 9112 §2.2: a recipient MAY take a bare LF as a line end; the
		// gateway re-frames what it forwards, so it cannot desynchronise.
		{name: "bare LF line endings", req: "GET /public/lf HTTP/1.1\nHost: " + testHost + "\n\n", status: 200, fwd: []string{"GET /public/lf"}},
		// RFC 9110 §8.6: identical Content-Length values may be taken as one.
		{name: "two equal Content-Length fields", req: "POST /public/cl-same HTTP/1.1\r\nHost: " + testHost + "\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
			status: 200, fwd: []string{"POST /public/cl-same"},
			check: func(t *testing.T, _ *http.Response, _ []byte, recs []record) {
				if string(recs[0].Body) != "hello" {
					t.Errorf("upstream body: got %q, want %q", recs[0].Body, "hello")
				}
			}},
		{name: "control: chunked body with an extension", req: "POST /public/ext HTTP/1.1\r\nHost: " + testHost + "\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\n\r\n",
			status: 200, fwd: []string{"POST /public/ext"}},
		// Upstreams that fold "_" into "-" (CGI, some WSGI servers) would read
		// these as framing headers and desynchronise from the gateway, so the
		// gateway drops them.
		{name: "Transfer_Encoding (underscore) is dropped", req: "POST /public/te-underscore HTTP/1.1\r\nHost: " + testHost + "\r\nTransfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
			status: 200, fwd: []string{"POST /public/te-underscore"}, check: noHeader("Transfer_Encoding")},
		{name: "Content_Length (underscore) is dropped", req: "POST /public/cl-underscore HTTP/1.1\r\nHost: " + testHost + "\r\nContent_Length: 40\r\n\r\n",
			status: 200, fwd: []string{"POST /public/cl-underscore"}, check: noHeader("Content_Length")},
	}
}

// testPipelining: RFC 9112 §9.3. Requests pipelined on one connection are
// each authenticated on their own: no auth state carries across keep-alive.
func testPipelining(t *testing.T, f *fixture) {
	tok := f.good(t, map[string]any{"scope": "read admin"})
	cases := []struct {
		name string
		reqs []string
		want []int    // statuses in order
		fwd  []string // what the upstream gets
		anon int      // index in fwd of a request that must carry no identity; -1 none
		// mayClose: after the first response the gateway may close the
		// connection instead of answering the rest; what it answers must
		// still be the requests as sent, never one hidden in a body.
		mayClose bool
	}{
		{"valid /api, then /api without a token", []string{request("GET", "/api/p1", bearer(tok)), request("GET", "/api/p2")},
			[]int{200, 401}, []string{"GET /api/p1"}, -1, false},
		{"valid /admin, then /admin without a token", []string{request("GET", "/admin/p1", bearer(tok)), request("GET", "/admin/p2")},
			[]int{200, 401}, []string{"GET /admin/p1"}, -1, false},
		{"valid /api, then /opt without a token (anonymous)", []string{request("GET", "/api/p1", bearer(tok)), request("GET", "/opt/p2")},
			[]int{200, 200}, []string{"GET /api/p1", "GET /opt/p2"}, 1, false},
		{"/api without a token, then valid /api", []string{request("GET", "/api/p1"), request("GET", "/api/p2", bearer(tok))},
			[]int{401, 200}, []string{"GET /api/p2"}, -1, false},
		{"valid WebSocket-less /ws, then /admin without a token", []string{request("GET", "/ws/p1", bearer(tok)), request("GET", "/admin/p2")},
			[]int{200, 401}, []string{"GET /ws/p1"}, -1, false},
		{"refused body is not read as a request", []string{requestBody("POST", "/api/p1", smuggled), request("GET", "/public/p3")},
			[]int{401, 200}, []string{"GET /public/p3"}, -1, false},
		{"Expect 100-continue without a token: refused before the body", []string{
			"POST /api/p1 HTTP/1.1\r\nHost: " + testHost + "\r\nExpect: 100-continue\r\nContent-Length: " + fmt.Sprint(len(smuggled)) + "\r\n\r\n" + smuggled,
			request("GET", "/public/p3")},
			[]int{401, 200}, []string{"GET /public/p3"}, -1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := f.up.mark()
			c := f.dial(t)
			c.write(strings.Join(tc.reqs, ""))
			answered := 0
			for i, want := range tc.want {
				resp, body, err := c.tryResponse(methodOf(tc.reqs[i]))
				if err != nil && i > 0 && tc.mayClose && isClosed(err) {
					break
				}
				if err != nil {
					t.Fatalf("response %d: %v", i+1, err)
				}
				answered++
				if resp.StatusCode == http.StatusContinue {
					resp, body, err = c.tryResponse(methodOf(tc.reqs[i]))
					if err != nil {
						t.Fatalf("response %d after 100: %v", i+1, err)
					}
				}
				switch want {
				case 401:
					wantError(t, resp, body, 401, "unauthorized")
				default:
					wantStatus(t, resp, body, want)
				}
			}
			fwd := tc.fwd
			if answered < len(tc.want) {
				// Closed after the refusal (mayClose cases begin with
				// one): nothing was forwarded.
				fwd = nil
			}
			recs := wantForwarded(t, f.up.since(m), fwd...)
			if recs != nil && tc.anon >= 0 {
				wantHeader(t, recs[tc.anon], "X-User-Id")
				wantHeader(t, recs[tc.anon], "X-Auth-Claims")
			}
		})
	}
}

// noHeader checks that the one forwarded request lacks the header name.
func noHeader(name string) func(*testing.T, *http.Response, []byte, []record) {
	return func(t *testing.T, _ *http.Response, _ []byte, recs []record) {
		t.Helper()
		wantHeader(t, recs[0], name)
	}
}
