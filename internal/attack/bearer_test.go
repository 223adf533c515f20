package attack

import (
	"net/http"
	"strings"
	"testing"
)

// testBearer: token extraction (docs/reference.md §3.2, RFC 6750 §2).
func testBearer(t *testing.T, f *fixture) {
	tok := f.good(t, nil)
	form := "access_token=" + query(tok)
	formType := "Content-Type: application/x-www-form-urlencoded"
	missing := func(name, req string) tcase {
		return tcase{name: name, req: req, status: 401, code: "unauthorized", reason: "missing"}
	}
	bad := func(name, req string) tcase {
		return tcase{name: name, req: req, status: 400, code: "invalid_request"}
	}
	ok := func(name, auth string) tcase {
		return tcase{name: name, req: request("GET", "/api/b", auth), status: 200, reason: "ok",
			fwd: []string{"GET /api/b"}, check: identity(tok)}
	}
	f.run(t, []tcase{
		// RFC 6750 §2.2, §2.3 are not supported: a token there is no token.
		missing("access_token in the query", request("GET", "/api/b?access_token="+query(tok))),
		missing("access_token in a form body", requestBody("POST", "/api/b", form, formType)),
		missing("access_token in a form body of a GET", requestBody("GET", "/api/b", form, formType)),
		{name: "access_token in the query on a public route is forwarded verbatim",
			req: request("GET", "/public/b?access_token="+query(tok)+"&x=%2F"), status: 200,
			fwd: []string{"GET /public/b?access_token=" + query(tok) + "&x=%2F"}},
		{name: "access_token in a form body on a public route is forwarded intact",
			req: requestBody("POST", "/public/b", form, formType), status: 200, fwd: []string{"POST /public/b"},
			check: func(t *testing.T, _ *http.Response, _ []byte, recs []record) {
				if got := string(recs[0].Body); got != form {
					t.Errorf("upstream body: got %q, want %q", got, form)
				}
			}},
		missing("access_token in the query on a WebSocket route", request("GET", "/ws/b?access_token="+query(tok),
			"Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")),
		{name: "a valid header and another token in the query: the query goes as sent",
			req: request("GET", "/api/b?access_token=other&x=1", bearer(tok)), status: 200, reason: "ok",
			fwd: []string{"GET /api/b?access_token=other&x=1"}, check: identity(tok)},
		missing("Basic credentials", request("GET", "/api/b", "Authorization: Basic YWxpY2U6c2VjcmV0")),
		missing("another scheme (Token)", request("GET", "/api/b", "Authorization: Token "+tok)),
		missing("a longer scheme starting with Bearer (BearerX)", request("GET", "/api/b", "Authorization: BearerX "+tok)),
		missing("empty Authorization", request("GET", "/api/b", "Authorization:")),
		missing("token in Proxy-Authorization", request("GET", "/api/b", "Proxy-Authorization: Bearer "+tok)),
		missing("token in a cookie", request("GET", "/api/b", "Cookie: access_token="+tok)),
		// docs/reference.md §3.2: more than one Authorization header, or malformed
		// Bearer credentials: 400, whatever else is there.
		bad("two Authorization headers, both the valid token", request("GET", "/api/b", bearer(tok), bearer(tok))),
		bad("two Authorization headers, Basic then Bearer", request("GET", "/api/b", "Authorization: Basic YWxpY2U6c2VjcmV0", bearer(tok))),
		bad("two Authorization headers, different case names", request("GET", "/api/b", bearer(tok), "authorization: Bearer "+tok)),
		bad("two tokens in one header", request("GET", "/api/b", "Authorization: Bearer "+tok+", Bearer "+tok)),
		bad("Bearer with no credentials", request("GET", "/api/b", "Authorization: Bearer")),
		bad("Bearer with only spaces", request("GET", "/api/b", "Authorization: Bearer    ")),
		bad("Bearer with a space inside the token", request("GET", "/api/b", "Authorization: Bearer "+strings.Replace(tok, ".", ". ", 1))),
		bad("Bearer with a tab before the token", request("GET", "/api/b", "Authorization: Bearer\t"+tok)),
		bad("Bearer followed by a comma", request("GET", "/api/b", "Authorization: Bearer,"+tok)),
		bad("Bearer with a quoted token", request("GET", "/api/b", `Authorization: Bearer "`+tok+`"`)),
		bad("token folded over two lines (obs-fold)", request("GET", "/api/b", "Authorization: Bearer "+tok[:20]+"\r\n "+tok[20:])),
		bad("two Authorization headers on the optional route", request("GET", "/opt/b", bearer(tok), bearer(tok))),
		ok("bearer in lower case", "Authorization: bearer "+tok),
		ok("BEARER in upper case", "Authorization: BEARER "+tok),
		ok("two spaces after Bearer (1*SP)", "Authorization: Bearer  "+tok),
		// docs/reference.md §3.3 step 1: a token present on an optional route must
		// pass; a bad one is never downgraded to anonymous.
		{name: "invalid token on the optional route is refused, not anonymous",
			req: request("GET", "/opt/b", bearer(f.good(t, map[string]any{"aud": "other"}))), status: 401, code: "invalid_token", reason: "bad_audience"},
		{name: "Basic on the optional route is anonymous", req: request("GET", "/opt/b", "Authorization: Basic YWxpY2U6c2VjcmV0"),
			status: 200, reason: "anonymous", fwd: []string{"GET /opt/b"},
			check: func(t *testing.T, _ *http.Response, _ []byte, recs []record) {
				wantHeader(t, recs[0], "X-User-Id")
				wantHeader(t, recs[0], "X-Auth-Claims")
			}},
		// docs/reference.md §3.2: on a none route the header is not examined at all.
		{name: "two Authorization headers on a public route are not examined",
			req: request("GET", "/public/b", bearer("a"), "Authorization: Basic b"), status: 200, reason: "public", fwd: []string{"GET /public/b"}},
		{name: "malformed Bearer on a public route is not examined",
			req: request("GET", "/public/b", "Authorization: Bearer"), status: 200, reason: "public", fwd: []string{"GET /public/b"}},
	})
}
