package attack

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The claim and encoding classes of testJWT: RFC 7519 §4 claims, RFC 8725
// §3.11 typing, RFC 8259 JSON, RFC 7515 §2 base64url, and what the gateway
// forwards from claims (docs/reference.md §3.5).

func (f *fixture) timeCases(t *testing.T) []tcase {
	now := time.Now().Unix()
	num := func(s string) any { return json.Number(s) }
	at := func(d int64) any { return num(fmt.Sprint(now + d)) }
	tok := func(edits map[string]any) string { return f.good(t, edits) }
	raw := func(name, value string) string {
		return f.jws(t, "RS256", f.mainRSA.Private, `{"alg":"RS256","kid":"rsa-1"}`, object(with(claims(f.main.URL), name, value)...))
	}
	return []tcase{
		invalid("exp a string", tok(map[string]any{"exp": fmt.Sprint(now + 3600)}), "malformed"),
		invalid("exp true", tok(map[string]any{"exp": true}), "malformed"),
		invalid("exp an object", tok(map[string]any{"exp": map[string]any{"$gt": 0}}), "malformed"),
		invalid("exp null", raw("exp", "null"), ""),
		invalid("exp missing (required_claims)", tok(map[string]any{"exp": nil}), "missing_claim"),
		invalid("exp with leading zeros (not JSON)", raw("exp", "0"+fmt.Sprint(now+3600)), "malformed"),
		accepted("exp a float in the future", tok(map[string]any{"exp": num(fmt.Sprintf("%d.5", now+3600))})),
		invalid("exp a float in the past", tok(map[string]any{"exp": num(fmt.Sprintf("%d.5", now-3600))}), "expired"),
		accepted("exp in exponent form (9.9e9)", tok(map[string]any{"exp": num("9.9e9")})),
		invalid("exp 0", tok(map[string]any{"exp": num("0")}), "expired"),
		invalid("exp negative", tok(map[string]any{"exp": num("-1")}), "expired"),
		invalid("exp hugely negative (-1e300)", tok(map[string]any{"exp": num("-1e300")}), "expired"),
		invalid("exp below int64 (-2^64-1)", tok(map[string]any{"exp": num("-18446744073709551617")}), "expired"),
		invalid("exp past beyond the skew", tok(map[string]any{"exp": at(-120)}), "expired"),
		accepted("exp past within the skew", tok(map[string]any{"exp": at(-5)})),
		// Out of int64 range: saturates to the far future, never wraps.
		accepted("exp beyond int64 (2^64+1)", tok(map[string]any{"exp": num("18446744073709551617")})),
		invalid("nbf a string", tok(map[string]any{"nbf": fmt.Sprint(now)}), "malformed"),
		invalid("nbf in the future", tok(map[string]any{"nbf": at(3600)}), "not_yet_valid"),
		accepted("nbf within the skew", tok(map[string]any{"nbf": at(5)})),
		invalid("nbf a float in the future", tok(map[string]any{"nbf": num(fmt.Sprintf("%d.5", now+3600))}), "not_yet_valid"),
		invalid("nbf huge (1e300)", tok(map[string]any{"nbf": num("1e300")}), "not_yet_valid"),
		invalid("nbf beyond int64 (2^64+1, would wrap to 1)", tok(map[string]any{"nbf": num("18446744073709551617")}), "not_yet_valid"),
		invalid("nbf beyond float64 (1e999)", tok(map[string]any{"nbf": num("1e999")}), "not_yet_valid"),
		accepted("nbf negative", tok(map[string]any{"nbf": num("-1")})),
		invalid("iat in the future", tok(map[string]any{"iat": at(3600)}), "not_yet_valid"),
		invalid("iat a string", tok(map[string]any{"iat": fmt.Sprint(now)}), "malformed"),
		invalid("iat huge (1e300)", tok(map[string]any{"iat": num("1e300")}), "not_yet_valid"),
		invalid("iat beyond int64 (2^64+1)", tok(map[string]any{"iat": num("18446744073709551617")}), "not_yet_valid"),
		accepted("iat missing", tok(map[string]any{"iat": nil})),
	}
}

func (f *fixture) audienceCases(t *testing.T) []tcase {
	tok := func(aud any) string { return f.good(t, map[string]any{"aud": aud}) }
	return []tcase{
		invalid("aud missing", f.good(t, map[string]any{"aud": nil}), "bad_audience"),
		invalid("aud empty array", tok([]string{}), "bad_audience"),
		invalid("aud empty string", tok(""), "bad_audience"),
		invalid("aud wrong", tok("other-api"), "bad_audience"),
		invalid("aud upper-case", tok("ATTACK-API"), "bad_audience"),
		invalid("aud with a trailing space", tok(audience+" "), "bad_audience"),
		invalid("aud prefix of the allowed one", tok("attack"), "bad_audience"),
		invalid("aud an object", tok(map[string]any{audience: true}), ""),
		invalid("aud array holding a number", tok([]any{1, audience}), ""),
		invalid("aud array of wrong ones", tok([]string{"a", "b"}), "bad_audience"),
		accepted("control: aud array with the allowed one last", tok([]string{"other-api", audience})),
	}
}

// typeCases: RFC 8725 §3.11 explicit typing. second's token_types are
// [at+jwt], so an ID token or any other JWT it signs is no access token.
func (f *fixture) typeCases(t *testing.T) []tcase {
	payload := object(claims(f.second.URL)...)
	typed := func(typ string) string {
		hdr := `{"alg":"ES256","kid":"ec-2"` + typ + `}`
		return f.jws(t, "ES256", f.secondEC.Private, hdr, payload)
	}
	return []tcase{
		invalid("no typ", typed(""), "bad_type"),
		invalid("typ JWT (an ID token)", typed(`,"typ":"JWT"`), "bad_type"),
		invalid("typ with a trailing space", typed(`,"typ":"at+jwt "`), "bad_type"),
		invalid("typ id_token+jwt", typed(`,"typ":"id_token+jwt"`), "bad_type"),
		invalid("typ a number", typed(`,"typ":1`), "malformed"),
		invalid("typ member name upper-case (TYP)", typed(`,"TYP":"at+jwt"`), "bad_type"),
		accepted("control: typ at+jwt", typed(`,"typ":"at+jwt"`)),
		accepted("control: typ application/at+jwt (RFC 7515 §4.1.9)", typed(`,"typ":"application/at+jwt"`)),
		accepted("control: typ AT+JWT (media types are case-insensitive)", typed(`,"typ":"AT+JWT"`)),
	}
}

func (f *fixture) jsonCases(t *testing.T) []tcase {
	base := claims(f.main.URL)
	hdr := `{"alg":"RS256","kid":"rsa-1"}`
	sign := func(h, p string) string { return f.jws(t, "RS256", f.mainRSA.Private, h, p) }
	baseObj := object(base...)
	open := strings.TrimSuffix(baseObj, "}")
	return []tcase{
		// RFC 7519 §4, RFC 7515 §4: duplicate names must be refused. A
		// last-wins parser (the gateway) and a first-wins one (the upstream
		// reading X-Auth-Claims) would otherwise see different identities.
		invalid("duplicate sub (alice, then admin)", sign(hdr, object(append(base, member{"sub", `"admin"`})...)), "malformed"),
		invalid("duplicate sub, escaped spelling s\\u0075b", sign(hdr, open+`,"s\u0075b":"admin"}`), "malformed"),
		invalid("duplicate iss (untrusted, then main)", sign(hdr, `{"iss":"https://evil.example",`+strings.TrimPrefix(baseObj, "{")), "malformed"),
		invalid("duplicate exp (past, then future)", sign(hdr, `{"exp":1,`+strings.TrimPrefix(baseObj, "{")), "malformed"),
		invalid("duplicate scope (read, then admin)", sign(hdr, open+`,"scope":"admin"}`), "malformed"),
		invalid("duplicate alg in the header (none, then RS256)", sign(`{"alg":"none","alg":"RS256","kid":"rsa-1"}`, baseObj), "malformed"),
		invalid("duplicate kid in the header", sign(`{"alg":"RS256","kid":"evil-1","kid":"rsa-1"}`, baseObj), "malformed"),
		// Nested objects too: they are forwarded raw in X-Auth-Claims and read
		// by JSON Pointer policies, so a last-wins reader upstream would
		// disagree with the gateway about them.
		invalid("duplicate name inside a nested claim", sign(hdr, open+`,"realm_access":{"roles":["user"],"roles":["admin"]}}`), "malformed"),
		// RFC 7519 §7.2 step 4, RFC 8259 §8.1: JSON text is UTF-8.
		invalid("payload with an invalid UTF-8 byte", sign(hdr, open+`,"name":"al`+"\xff"+`ice"}`), "malformed"),
		invalid("payload with an overlong UTF-8 slash (C0 AF)", sign(hdr, open+`,"name":"`+"\xc0\xaf"+`"}`), "malformed"),
		invalid("payload with a UTF-16 surrogate encoded in UTF-8 (ED A0 80)", sign(hdr, open+`,"name":"`+"\xed\xa0\x80"+`"}`), "malformed"),
		invalid("sub with an invalid UTF-8 byte", sign(hdr, object(with(base, "sub", `"adm`+"\xffin"+`"`)...)), "malformed"),
		invalid("header with an invalid UTF-8 byte", sign(`{"alg":"RS256","kid":"rsa-1","x":"`+"\xfe"+`"}`, baseObj), "malformed"),
		// RFC 8259 §8.2 leaves a lone surrogate's meaning to the parser (U+FFFD,
		// raw bytes, an error), so the gateway and an upstream reading
		// X-Auth-Claims could see different subjects.
		invalid("escaped lone surrogate in sub (\\ud800)", sign(hdr, object(with(base, "sub", `"admin\ud800"`)...)), "malformed"),
		invalid("payload with a byte-order mark", sign(hdr, "\xef\xbb\xbf"+baseObj), "malformed"),
		invalid("payload a JSON array", sign(hdr, "["+baseObj+"]"), "malformed"),
		invalid("payload null", sign(hdr, "null"), "malformed"),
		invalid("payload with trailing data", sign(hdr, baseObj+`{"sub":"admin"}`), "malformed"),
		invalid("payload truncated", sign(hdr, strings.TrimSuffix(baseObj, "}")), "malformed"),
		invalid("header a JSON string", sign(`"RS256"`, baseObj), "malformed"),
	}
}

func (f *fixture) encodingCases(t *testing.T) []tcase {
	valid := f.good(t, map[string]any{"sub": "enc"})
	parts := strings.Split(valid, ".")
	// A token whose base64url uses '-' or '_' somewhere, re-encoded in the
	// standard alphabet.
	var std string
	for i := 0; std == ""; i++ {
		tok := f.good(t, map[string]any{"sub": "enc", "n": i, "x": "??>>"})
		if strings.ContainsAny(tok, "-_") {
			std = strings.NewReplacer("-", "+", "_", "/").Replace(tok)
		}
	}
	// Non-canonical base64url: the signature's last character with an
	// unused low bit set decodes to the same bytes in a lenient decoder.
	sig := parts[2]
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, sig[len(sig)-1])
	nonCanonical := parts[0] + "." + parts[1] + "." + sig[:len(sig)-1] + string(alphabet[last^1])
	big := f.good(t, map[string]any{"pad": strings.Repeat("a", 17<<10)})
	// The canonical token goes first, so that a verified-token cache holds
	// it when its re-encodings arrive: a cache keyed on anything but the
	// exact bytes would let them through.
	return []tcase{
		accepted("control: the token, canonical (now cached)", valid),
		invalid("padding on the signature", f.keep(valid+"=="), "malformed"),
		{name: "padding on the header (= inside the token)", req: request("GET", "/api/jwt", bearer(f.keep(parts[0]+"=="+"."+parts[1]+"."+parts[2]))),
			status: 400, code: "invalid_request", reason: "malformed"},
		invalid("standard base64 alphabet (+ and /)", f.keep(std), "malformed"),
		invalid("non-canonical base64url (unused bits set)", f.keep(nonCanonical), "malformed"),
		invalid("a segment with a dot doubled", f.keep(parts[0]+".."+parts[1]+"."+parts[2]), "malformed"),
		invalid("over 16 KiB", big, "malformed"),
	}
}

func (f *fixture) unforwardableCases(t *testing.T) []tcase {
	var cases []tcase
	for _, c := range []struct{ name, sub string }{
		{"CR LF and a header", "alice\r\nX-Admin: true"},
		{"LF", "alice\nX-Admin: true"},
		{"CR", "alice\rX-Admin: true"},
		{"NUL", "alice\x00admin"},
		{"DEL", "alice\x7f"},
		{"another control character (0x01)", "alice\x01"},
		{"leading space", " alice"},
		{"trailing tab", "alice\t"},
	} {
		cases = append(cases, invalid("sub with "+c.name, f.good(t, map[string]any{"sub": c.sub}), "unforwardable_claim"))
	}
	roles := f.good(t, map[string]any{"roles": []string{"reader", "admin\r\nX-User-Id: root"}})
	cases = append(cases,
		invalid("roles element with CR LF", roles, "unforwardable_claim"),
		onAPI("control: CR LF in a claim no header carries (X-Auth-Claims is base64)", f.good(t, map[string]any{"note": "a\r\nb"}), 200, "", "ok"),
		tcase{name: "sub with CR LF on the optional route", req: request("GET", "/opt/x", bearer(f.good(t, map[string]any{"sub": "alice\r\nX-Admin: 1"}))),
			status: 401, code: "invalid_token", reason: "unforwardable_claim"},
	)
	return cases
}

func (f *fixture) policyCases(t *testing.T) []tcase {
	onAdmin := func(name string, tok string, status int, code, reason string) tcase {
		tc := tcase{name: name, req: request("GET", "/admin/x", bearer(tok)), status: status, code: code, reason: reason}
		if status == 200 {
			tc.fwd = []string{"GET /admin/x"}
		}
		return tc
	}
	scope := func(s any) string { return f.good(t, map[string]any{"scope": s}) }
	return []tcase{
		onAdmin("scope read only", scope("read"), 403, "insufficient_scope", "insufficient_scope"),
		onAdmin("scope administrator (no substring match)", scope("administrator"), 403, "insufficient_scope", "insufficient_scope"),
		onAdmin("scope ADMIN (case-sensitive)", scope("ADMIN"), 403, "insufficient_scope", "insufficient_scope"),
		onAdmin("scope admin in an unrelated claim", f.good(t, map[string]any{"scopes": "admin"}), 403, "insufficient_scope", "insufficient_scope"),
		onAdmin("scope admin,read (one comma-joined scope)", scope("admin,read"), 403, "insufficient_scope", "insufficient_scope"),
		onAdmin("control: scope read admin", scope("read admin"), 200, "", "ok"),
		onAdmin("control: scope as an array", scope([]string{"admin"}), 200, "", "ok"),
		onAdmin("control: scp array", f.good(t, map[string]any{"scope": nil, "scp": []string{"admin"}}), 200, "", "ok"),
	}
}
