package gateway_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testkit"
)

// TestHandlerClaimHeaders: one request through the route /hdr shows the
// configuration's forward block at work end to end: each header of
// forward.headers from its claim or JSON Pointer, an absent or null claim
// setting none, claims_header holding the payload as signed, and
// authorization: strip (docs/reference.md §3.5). The rules are tested where they
// live: the encodings in claims.TestHeaderValue and TestHeaderValueRefused,
// selectors in claims.TestLookup, the handler's header plan and refusals in
// proxy.TestClaimHeaders, TestClaimHeaderValues and TestErrorResponses.
func TestHandlerClaimHeaders(t *testing.T) {
	fx := newFixture(t)
	c := fx.claims("a", map[string]any{
		"str": "a\tZoë", "int": uint64(9007199254740993), "flt": 1.5, "flag": false,
		"list": []string{"a", "b"}, "mixed": []any{1, true, "x", 2.5},
		"obj": map[string]any{"k": "v", "n": 1, "h": "<b>&"}, "nested": []any{[]string{"a"}, "b"},
		"realm_access":              map[string]any{"roles": []string{"admin", "user"}},
		"https://example.com/roles": []string{"x", "y"},
	})
	c["absent"] = nil // JSON null; ctl is not in the token at all
	payload := jsonOf(t, c)
	tok := testkit.SignJWS(t, "RS256", fx.keys.rsa, map[string]any{"kid": "rsa-1"}, payload)
	res := fx.send(t, "/hdr", withBearer(tok))
	checkVerdict(t, res, wantOK, tok)
	for _, h := range []struct {
		name string
		want []string // nil: the header must be absent
	}{
		{"X-Str", []string{"a\tZoë"}},
		{"X-Int", []string{"9007199254740993"}},
		{"X-Float", []string{"1.5"}},
		{"X-Bool", []string{"false"}},
		{"X-List", []string{"a,b"}},
		{"X-Mixed", []string{"1,true,x,2.5"}},
		{"X-Obj", []string{`{"h":"<b>&","k":"v","n":1}`}},
		{"X-Nested", []string{`[["a"],"b"]`}},
		{"X-Roles", []string{"admin,user"}},
		{"X-Url-Roles", []string{"x,y"}},
		{"X-Absent", nil},
		{"X-Ctl", nil},
		{"X-Claims", []string{b64url(payload)}},
		{"Authorization", nil},
	} {
		got, present := res.echo.Headers[h.name]
		if h.want == nil && present || h.want != nil && !slices.Equal(got, h.want) {
			t.Errorf("upstream %s: got %q (present: %v), want %q", h.name, got, present, h.want)
		}
	}
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

// TestHandlerHeaderSpoofing: a client sends identity headers of the route
// it takes and of other routes, in several spellings and twice, forged
// forwarding headers and a Connection header naming the gateway's own,
// to /hdr with a token. The upstream sees only what the gateway set: the
// set of headers stripped from every request is compiled from the whole
// configuration (docs/reference.md §3.5, STYLE 3). Every spelling on every kind of
// route is proxy.TestHeaderSpoofing's.
func TestHandlerHeaderSpoofing(t *testing.T) {
	fx := newFixture(t)
	payload := jsonOf(t, fx.claims("a", nil))
	tok := testkit.SignJWS(t, "RS256", fx.keys.rsa, map[string]any{"kid": "rsa-1"}, payload)
	host := strings.TrimPrefix(fx.gw, "http://")
	res := fx.rawSend(t, "/hdr", []string{
		"Authorization: Bearer " + tok,
		"Connection: close, X-User-Id, X-Auth-Claims, X-Claims, X-Forwarded-For, X-Request-Id",
		"X-User-Id: admin", // /req's and /opt's
		"X-User-Id: root",
		"X-User_Id: admin",
		"x-auth-claims: " + b64url([]byte(`{"sub":"admin"}`)), // /req's claims header
		"X-Claims: forged", // /hdr's claims header
		"X-Str: forged",    // /hdr's, its claim absent from the token
		"X-Roles: admin",
		"X-Url-Roles: admin",
		"X-Absent: forged",
		"X-Forwarded-For: 6.6.6.6",
		"X-Forwarded-Host: evil.example",
		"X-Forwarded-Proto: https",
		"Forwarded: for=6.6.6.6;proto=https",
	})
	if res.status != http.StatusOK || res.forwarded != 1 {
		t.Fatalf("got %d with %d upstream requests, want 200 with 1: %s", res.status, res.forwarded, res.body)
	}
	want := map[string]string{"X-Claims": b64url(payload)} // identity header → the only value allowed
	got := map[string][]string{}
	for name, vals := range res.echo.Headers {
		norm := textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(name, "_", "-"))
		if slices.Contains(allIdentityHeaders, norm) {
			got[name] = vals
		}
	}
	for name, vals := range got {
		if w, ok := want[name]; !ok || len(vals) != 1 || vals[0] != w {
			t.Errorf("upstream %s: got %q, want %q", name, vals, want[name])
		}
	}
	for name, w := range want {
		if got[name] == nil {
			t.Errorf("upstream %s: got nothing, want %q", name, w)
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
}
