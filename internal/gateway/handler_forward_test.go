package gateway_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testkit"

	"github.com/authgate/authgate/internal/reason"
)

// headerAbsent in a case means the upstream must not receive the header.
const headerAbsent = "(no header)"

// TestHandlerClaimHeaders: each claim → header encoding of CONTRACT §3.5,
// through forward.headers of the route /hdr. A value that cannot be a header
// value refuses the request with 401 and the upstream receives nothing.
func TestHandlerClaimHeaders(t *testing.T) {
	fx := newFixture(t)
	cases := []struct {
		name   string
		claim  string
		value  any
		header string
		want   string // headerAbsent: the header must be absent
		deny   error
	}{
		{"string", "str", "hello world", "X-Str", "hello world", nil},
		{"string with tab and UTF-8", "str", "a\tZoë", "X-Str", "a\tZoë", nil},
		{"integer", "int", 1700000000, "X-Int", "1700000000", nil},
		{"integer beyond 2^53 keeps its digits", "int", uint64(9007199254740993), "X-Int", "9007199254740993", nil},
		{"negative integer", "int", -5, "X-Int", "-5", nil},
		{"float", "flt", 1.5, "X-Float", "1.5", nil},
		{"boolean true", "flag", true, "X-Bool", "true", nil},
		{"boolean false", "flag", false, "X-Bool", "false", nil},
		{"array of strings", "list", []string{"a", "b"}, "X-List", "a,b", nil},
		{"array of mixed scalars", "mixed", []any{1, true, "x", 2.5}, "X-Mixed", "1,true,x,2.5", nil},
		{"empty array", "list", []string{}, "X-List", "", nil},
		{"object as compact JSON", "obj", map[string]any{"k": "v", "n": 1, "a": []int{1}}, "X-Obj", `{"a":[1],"k":"v","n":1}`, nil},
		{"object keeps <>& unescaped", "obj", map[string]any{"h": "<b>&"}, "X-Obj", `{"h":"<b>&"}`, nil},
		{"object with a newline inside is escaped JSON", "obj", map[string]any{"k": "a\nb"}, "X-Obj", `{"k":"a\nb"}`, nil},
		{"nested array as compact JSON", "nested", []any{[]string{"a"}, "b"}, "X-Nested", `[["a"],"b"]`, nil},
		{"array with an object as compact JSON", "list", []any{"a", map[string]int{"n": 1}}, "X-List", `["a",{"n":1}]`, nil},
		{"JSON Pointer", "realm_access", map[string]any{"roles": []string{"admin", "user"}}, "X-Roles", "admin,user", nil},
		{"JSON Pointer, path absent", "realm_access", map[string]any{"groups": []string{"g"}}, "X-Roles", headerAbsent, nil},
		{"claim name with dots and slashes", "https://example.com/roles", []string{"x", "y"}, "X-Url-Roles", "x,y", nil},
		{"absent claim", "unrelated", "v", "X-Absent", headerAbsent, nil},
		{"null claim", "absent", nil, "X-Absent", headerAbsent, nil},
		{"empty string", "str", "", "X-Str", "", nil},
		{"newline", "ctl", "a\nb", "X-Ctl", "", reason.ErrUnforwardableClaim},
		// BUG: a field value cannot begin or end with SP or HTAB (RFC 9110
		// §5.5): net/http at the upstream trims them, so the claim " admin "
		// arrives as "admin", not "as is". Such a value cannot be a header
		// value and must be refused like a control character.
		{"leading and trailing space", "str", " admin ", "X-Str", "", reason.ErrUnforwardableClaim},
		{"trailing tab", "str", "admin\t", "X-Str", "", reason.ErrUnforwardableClaim},
		{"leading space inside an array", "list", []string{" admin"}, "X-List", "", reason.ErrUnforwardableClaim},
		{"carriage return", "ctl", "a\r\nX-Injected: 1", "X-Ctl", "", reason.ErrUnforwardableClaim},
		{"NUL", "ctl", "a\x00b", "X-Ctl", "", reason.ErrUnforwardableClaim},
		{"DEL", "ctl", "a\x7fb", "X-Ctl", "", reason.ErrUnforwardableClaim},
		{"newline inside an array", "list", []string{"a", "b\nc"}, "X-List", "", reason.ErrUnforwardableClaim},
		{"newline behind a JSON Pointer", "realm_access", map[string]any{"roles": []string{"x\ny"}}, "X-Roles", "", reason.ErrUnforwardableClaim},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := fx.claims("a", nil)
			c[tc.claim] = tc.value // nil stays as JSON null
			payload := jsonOf(t, c)
			tok := testkit.SignJWS(t, "RS256", fx.keys.rsa, map[string]any{"kid": "rsa-1"}, payload)
			res := fx.send(t, "/hdr", withBearer(tok))
			if tc.deny != nil {
				checkRefusal(t, res, http.StatusUnauthorized, "invalid_token", tc.deny.Error(), challengeFor(tc.deny.Error()), tok)
				return
			}
			checkVerdict(t, res, wantOK, tok)
			got, present := res.echo.Headers[tc.header]
			switch {
			case tc.want == headerAbsent:
				if present {
					t.Errorf("%s: got %q, want no header", tc.header, got)
				}
			case len(got) != 1 || got[0] != tc.want:
				t.Errorf("%s: got %q, want %q", tc.header, got, []string{tc.want})
			}
			// Every identity header comes from this token alone.
			if got, want := strings.Join(res.echo.Headers["X-Claims"], " | "), b64url(payload); got != want {
				t.Errorf("X-Claims: got %q, want %q", got, want)
			}
			if got := res.echo.Headers["Authorization"]; got != nil {
				t.Errorf("Authorization with strip: got %q, want none", got)
			}
		})
	}

	// A control character in a claim that the route does not forward is
	// harmless: /req forwards only sub.
	t.Run("unforwarded claim with a newline", func(t *testing.T) {
		tok := fx.tokenFor(t, fx.claims("a", map[string]any{"ctl": "a\nb"}))
		checkVerdict(t, fx.send(t, "/req", withBearer(tok)), wantOK, tok)
	})
	t.Run("forwarded sub with a newline", func(t *testing.T) {
		tok := fx.tokenFor(t, fx.claims("a", map[string]any{"sub": "alice\nX-Admin: 1"}))
		d := reason.ErrUnforwardableClaim.Error()
		checkRefusal(t, fx.send(t, "/req", withBearer(tok)), http.StatusUnauthorized, "invalid_token", d, challengeFor(d), tok)
	})
}

// TestHandlerClaimsHeaderExactPayload: claims_header carries base64url
// (no padding) of the payload exactly as signed, whitespace and key order
// included, and authorization keep forwards the client's header unchanged.
func TestHandlerClaimsHeaderExactPayload(t *testing.T) {
	fx := newFixture(t)
	now := fx.now()
	payloads := []struct{ name, json string }{
		{"spaced", fmt.Sprintf(`{ "sub" : "alice",  "aud":["api"], "iss":%q, "exp":%d, "n": 1.0e2 }`, fx.iss("a"), now+60)},
		{"unicode escapes", fmt.Sprintf(`{"iss":%q,"exp":%d,"aud":"api","sub":"\u00e9l\u00e8ve","x":"\u003c"}`, fx.iss("a"), now+60)},
		{"length not a multiple of three", fmt.Sprintf(`{"iss":%q,"exp":%d,"aud":"api","sub":"ab"}`, fx.iss("a"), now+60)},
	}
	for _, p := range payloads {
		t.Run(p.name, func(t *testing.T) {
			tok := testkit.SignJWS(t, "ES256", fx.keys.ec, map[string]any{"kid": "ec-1"}, []byte(p.json))
			res := fx.send(t, "/req", withBearer(tok))
			checkVerdict(t, res, wantOK, tok)
			for _, h := range [][2]string{{"X-Auth-Claims", b64url([]byte(p.json))}, {"Authorization", "Bearer " + tok}} {
				if got := strings.Join(res.echo.Headers[h[0]], " | "); got != h[1] {
					t.Errorf("%s: got %q, want %q", h[0], got, h[1])
				}
			}
			if strings.ContainsAny(res.echo.Headers["X-Auth-Claims"][0], "=+/") {
				t.Errorf("X-Auth-Claims is not unpadded base64url: %q", res.echo.Headers["X-Auth-Claims"][0])
			}
		})
	}
}

// allIdentityHeaders are every header any route of the fixture sets.
var allIdentityHeaders = []string{"X-User-Id", "X-Auth-Claims", "X-Claims", "X-Str", "X-Int", "X-Float", "X-Bool",
	"X-List", "X-Mixed", "X-Obj", "X-Nested", "X-Roles", "X-Url-Roles", "X-Absent", "X-Ctl"}

// rawSend writes an HTTP/1.1 request byte for byte, as an attacker would,
// so that header names and repeats reach the gateway as written.
func (fx *gwFixture) rawSend(t *testing.T, path string, lines []string) gwResult {
	t.Helper()
	host := strings.TrimPrefix(fx.gw, "http://")
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	before := fx.upHits.Load()
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" + strings.Join(lines, "\r\n") + "\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	return fx.result(t, resp, before)
}

// TestHandlerHeaderSpoofing: a client sends every identity header, forged
// forwarding headers and a Connection header naming the identity headers;
// on required, optional and public routes the upstream sees only what the
// gateway set (CONTRACT §3.5, STYLE 3).
func TestHandlerHeaderSpoofing(t *testing.T) {
	fx := newFixture(t)
	payload := jsonOf(t, fx.claims("a", nil))
	tok := testkit.SignJWS(t, "RS256", fx.keys.rsa, map[string]any{"kid": "rsa-1"}, payload)
	host := strings.TrimPrefix(fx.gw, "http://")
	spoof := []string{
		"Connection: close, X-User-Id, X-Auth-Claims, X-Forwarded-For, X-Request-Id",
		"X-User-Id: admin",
		"X-User-Id: root",
		"X-User_Id: admin",
		"x-auth-claims: " + b64url([]byte(`{"sub":"admin"}`)),
		"X-Claims: forged",
		"X-Str: forged",
		"X-Roles: admin",
		"X-Url-Roles: admin",
		"X-Absent: forged",
		"X-Forwarded-For: 6.6.6.6",
		"X-Forwarded-Host: evil.example",
		"X-Forwarded-Proto: https",
		"Forwarded: for=6.6.6.6;proto=https",
	}
	withToken := append([]string{"Authorization: Bearer " + tok}, spoof...)
	cases := []struct {
		name  string
		path  string
		lines []string
		want  map[string]string // identity header → the only value allowed
	}{
		{"required route", "/req", withToken, map[string]string{"X-User-Id": "alice", "X-Auth-Claims": b64url(payload)}},
		{"optional route with a token", "/opt", withToken, map[string]string{"X-User-Id": "alice"}},
		{"optional route anonymous", "/opt", spoof, nil},
		{"public route", "/pub", spoof, nil},
		{"public route with a token", "/pub", withToken, nil},
		{"route setting other headers", "/hdr", withToken, map[string]string{"X-Claims": b64url(payload)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := fx.rawSend(t, tc.path, tc.lines)
			if res.status != http.StatusOK || res.forwarded != 1 {
				t.Fatalf("got %d with %d upstream requests, want 200 with 1: %s", res.status, res.forwarded, res.body)
			}
			got := map[string][]string{}
			for name, vals := range res.echo.Headers {
				norm := textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(name, "_", "-"))
				for _, id := range allIdentityHeaders {
					if norm == id {
						got[name] = vals
					}
				}
			}
			for name, vals := range got {
				if want, ok := tc.want[name]; !ok || len(vals) != 1 || vals[0] != want {
					t.Errorf("upstream %s: got %q, want %q", name, vals, tc.want[name])
				}
			}
			for name, want := range tc.want {
				if got[name] == nil {
					t.Errorf("upstream %s: got nothing, want %q", name, want)
				}
			}
			for _, h := range [][2]string{
				{"X-Forwarded-For", "127.0.0.1"},
				{"X-Forwarded-Host", host},
				{"X-Forwarded-Proto", "http"},
				{"Forwarded", ""},
				{"X-Request-Id", res.header.Get("X-Request-Id")},
			} {
				if got := strings.Join(res.echo.Headers[h[0]], " | "); got != h[1] {
					t.Errorf("upstream %s: got %q, want %q", h[0], got, h[1])
				}
			}
		})
	}
}
