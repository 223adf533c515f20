package verify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/testkit"
)

// strictHeader and strictClaims build the hand-written JSON of the strictness
// cases: valid claims for issuer main, with extra members spliced in.
const strictHeader = `{"alg":"RS256","kid":"rsa1"}`

func strictClaims(extra string) string {
	return `{"iss":"` + issMain + `","aud":"api","exp":1700003600,"iat":1700000000` + extra + `}`
}

// nest wraps inner in n levels of open+close, innermost last.
func nest(n int, open, close, inner string) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

// strictCase is a header and payload given as exact bytes, signed as they
// are by a trusted key.
type strictCase struct {
	name    string
	header  string // strictHeader when empty
	payload string
	ok      bool // verifies; otherwise refused as malformed
}

// strictCases are the JSON strictness cases of docs/reference.md §3.3 step 2. Every
// token is validly signed by a trusted key, so a refusal can only come from
// the JSON itself. FuzzParseCompact seeds its corpus with them.
func strictCases() []strictCase {
	sub := func(v string) string { return strictClaims(`,"sub":` + v) }
	return []strictCase{
		// Controls: what the hand-built tokens look like when nothing is wrong.
		{name: "control: hand-built token", payload: strictClaims(`,"sub":"user-1"`), ok: true},
		{name: "control: whitespace around the objects", header: " \t\r\n" + strictHeader + "\n", payload: "\n " + strictClaims(` , "sub" : "user-1" `) + " \r\n", ok: true},
		{name: "control: raw multi-byte UTF-8", payload: sub(`"Łukasz 😀 中文 \u00e9"`), ok: true},
		{name: "control: escaped surrogate pair", payload: sub(`"\ud83d\ude00"`), ok: true},
		{name: "control: escaped surrogate pair, upper-case hex", payload: sub(`"\uD83D\uDE00"`), ok: true},
		{name: "control: escaped U+FFFD", payload: sub(`"\ufffd"`), ok: true},
		{name: "control: raw U+FFFD", payload: sub("\"\xef\xbf\xbd\""), ok: true},
		{name: "control: escaped U+FEFF inside a string", payload: sub(`"\ufeffx"`), ok: true},
		{name: "control: escaped NUL", payload: sub(`"a\u0000b"`), ok: true},
		{name: "control: U+10FFFF", payload: sub("\"\xf4\x8f\xbf\xbf\""), ok: true},
		{name: "control: names differing only by case", payload: strictClaims(`,"sub":"a","Sub":"b","SUB":"c"`), ok: true},
		{name: "control: header names differing only by case", header: `{"alg":"RS256","ALG":"none","kid":"rsa1","Kid":"x"}`, payload: strictClaims(""), ok: true},
		{name: "control: same name in sibling objects", payload: strictClaims(`,"a":{"x":1},"b":{"x":2}`), ok: true},
		{name: "control: same name at another depth", payload: strictClaims(`,"x":{"x":{"x":1}}`), ok: true},
		{name: "control: same name in objects of one array", payload: strictClaims(`,"roles":[{"k":"a"},{"k":"b"}]`), ok: true},
		{name: "control: names equal only as prefixes", payload: strictClaims(`,"s":1,"su":2,"sub":"x","subs":3`), ok: true},
		{name: "control: nesting at the limit, objects", payload: strictClaims(`,"n":` + nest(MaxJSONDepth-1, `{"a":`, `}`, `1`)), ok: true},
		{name: "control: nesting at the limit, arrays", payload: strictClaims(`,"n":` + nest(MaxJSONDepth-1, `[`, `]`, ``)), ok: true},

		// Invalid UTF-8 (RFC 8259 §8.1). encoding/json would turn each into U+FFFD.
		{name: "invalid byte in a string", payload: sub("\"user-\xff\"")},
		{name: "invalid byte in a member name", payload: strictClaims(",\"s\xffub\":\"x\"")},
		{name: "invalid byte outside strings", payload: strictClaims(",\"sub\":\"x\"\xff")},
		{name: "invalid byte before the object", payload: "\xff" + strictClaims("")},
		{name: "lone continuation byte", payload: sub("\"\x80\"")},
		{name: "truncated two-byte sequence", payload: sub("\"\xc3\"")},
		{name: "truncated four-byte sequence", payload: sub("\"\xf0\x9f\x98\"")},
		{name: "overlong slash C0 AF", payload: sub("\"\xc0\xaf\"")},
		{name: "overlong slash E0 80 AF", payload: sub("\"\xe0\x80\xaf\"")},
		{name: "overlong quote C0 A2", payload: sub("\"a\xc0\xa2\"")},
		{name: "UTF-8-encoded high surrogate ED A0 80", payload: sub("\"\xed\xa0\x80\"")},
		{name: "UTF-8-encoded low surrogate ED B0 80", payload: sub("\"\xed\xb0\x80\"")},
		{name: "UTF-8-encoded surrogate pair (CESU-8)", payload: sub("\"\xed\xa0\xbd\xed\xb8\x80\"")},
		{name: "above U+10FFFF", payload: sub("\"\xf4\x90\x80\x80\"")},
		{name: "invalid UTF-8 in the header", header: "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"x\":\"\xff\"}", payload: strictClaims("")},
		{name: "invalid UTF-8 in the header kid", header: "{\"alg\":\"RS256\",\"kid\":\"rsa1\xc0\xaf\"}", payload: strictClaims("")},

		// Escaped lone surrogates (RFC 8259 §8.2): refused.
		{name: "escaped lone high surrogate", payload: sub(`"\ud800"`)},
		{name: "escaped lone low surrogate", payload: sub(`"\udc00"`)},
		{name: "escaped high surrogate then a letter", payload: sub(`"\ud800x"`)},
		{name: "escaped high surrogate then a non-surrogate escape", payload: sub(`"\ud800\u0041"`)},
		{name: "escaped high surrogate then another escape", payload: sub(`"\ud800\n"`)},
		{name: "two escaped high surrogates", payload: sub(`"\ud800\udbff"`)},
		{name: "escaped surrogates in the wrong order", payload: sub(`"\ude00\ud83d"`)},
		{name: "escaped high surrogate at the end", payload: sub(`"x\udbff"`)},
		{name: "escaped lone surrogate in a member name", payload: strictClaims(`,"\ud800":1`)},
		{name: "escaped lone surrogate in the header kid", header: `{"alg":"RS256","kid":"rsa1\udfff"}`, payload: strictClaims("")},

		// Byte order mark (RFC 8259 §8.1: not allowed; we do not ignore it).
		{name: "BOM before the payload", payload: "\xef\xbb\xbf" + strictClaims("")},
		{name: "BOM before the header", header: "\xef\xbb\xbf" + strictHeader, payload: strictClaims("")},
		{name: "BOM after the payload", payload: strictClaims("") + "\xef\xbb\xbf"},

		// Trailing data.
		{name: "second object after the payload", payload: strictClaims(`,"sub":"user-1"`) + `{"sub":"admin"}`},
		{name: "garbage after the payload", payload: strictClaims("") + "x"},
		{name: "NUL after the payload", payload: strictClaims("") + "\x00"},
		{name: "second object after the header", header: strictHeader + `{"alg":"none"}`, payload: strictClaims("")},
		{name: "comma after the payload", payload: strictClaims("") + ","},

		// Duplicate member names (RFC 7515 §4, RFC 7519 §4).
		{name: "sub twice", payload: strictClaims(`,"sub":"user-1","sub":"admin"`)},
		{name: "sub twice, same value", payload: strictClaims(`,"sub":"user-1","sub":"user-1"`)},
		{name: "exp twice", payload: strictClaims(`,"exp":9999999999`)},
		{name: "iss twice", payload: strictClaims(`,"iss":"https://evil.example"`)},
		{name: "aud twice", payload: strictClaims(`,"aud":"other"`)},
		{name: "duplicate far apart", payload: `{"sub":"admin",` + strictClaims(`,"a":1,"b":2,"c":3,"sub":"user-1"`)[1:]},
		{name: "alg twice in the header, none first", header: `{"alg":"none","alg":"RS256","kid":"rsa1"}`, payload: strictClaims("")},
		{name: "alg twice in the header, none last", header: `{"alg":"RS256","kid":"rsa1","alg":"none"}`, payload: strictClaims("")},
		{name: "kid twice in the header", header: `{"alg":"RS256","kid":"evil","kid":"rsa1"}`, payload: strictClaims("")},
		{name: "crit twice in the header", header: `{"alg":"RS256","kid":"rsa1","crit":["x"],"crit":null}`, payload: strictClaims("")},
		{name: "nested duplicate in the header", header: `{"alg":"RS256","kid":"rsa1","x":{"y":1,"y":2}}`, payload: strictClaims("")},
		{name: "duplicate inside an object claim", payload: strictClaims(`,"org":{"id":"a","id":"b"}`)},
		{name: "duplicate inside an object in an array", payload: strictClaims(`,"roles":[{"k":"a"},{"k":"b","k":"admin"}]`)},
		{name: "duplicate inside an array of arrays", payload: strictClaims(`,"x":[[{"a":1}],[{"a":1,"b":2,"a":3}]]`)},
		{name: "duplicate four levels down", payload: strictClaims(`,"a":{"b":{"c":{"d":1,"d":2}}}`)},
		{name: "duplicate in an empty-named pair", payload: strictClaims(`,"":1,"":2`)},
		{name: "duplicate differing by escaping, sub and \\u0073ub", payload: strictClaims(`,"sub":"user-1","\u0073ub":"admin"`)},
		{name: "duplicate fully escaped", payload: strictClaims(`,"\u0073\u0075\u0062":"admin","sub":"user-1"`)},
		{name: "duplicate with upper-case hex escape", payload: strictClaims(`,"sub":"x","s\u0055b":"y","su\u0062":"z"`)},
		{name: "duplicate differing by \\/", payload: strictClaims(`,"a/b":1,"a\/b":2`)},
		{name: "duplicate with escaped surrogate pair", payload: strictClaims(`,"😀":1,"\ud83d\ude00":2`)},
		{name: "duplicate escaped iss", payload: strictClaims(`,"\u0069ss":"https://evil.example"`)},
		{name: "duplicate escaped alg in the header", header: `{"alg":"RS256","kid":"rsa1","\u0061lg":"none"}`, payload: strictClaims("")},

		// Nesting deeper than MaxJSONDepth.
		{name: "objects one level too deep", payload: strictClaims(`,"n":` + nest(MaxJSONDepth, `{"a":`, `}`, `1`))},
		{name: "arrays one level too deep", payload: strictClaims(`,"n":` + nest(MaxJSONDepth, `[`, `]`, ``))},
		{name: "arrays 5000 deep", payload: strictClaims(`,"n":` + nest(5000, `[`, `]`, ``))},
		{name: "unclosed arrays 9000 deep", payload: strictClaims(`,"n":` + strings.Repeat("[", 9000))},
		{name: "header too deep", header: `{"alg":"RS256","kid":"rsa1","x":` + nest(MaxJSONDepth, `[`, `]`, ``) + `}`, payload: strictClaims("")},

		// Grammar the hand-written decoder must refuse as encoding/json does.
		{name: "unterminated string", payload: `{"iss":"` + issMain},
		{name: "unterminated object", payload: strictClaims("")[:len(strictClaims(""))-1]},
		{name: "raw control character in a string", payload: sub("\"a\x01b\"")},
		{name: "raw tab in a string", payload: sub("\"a\tb\"")},
		{name: "raw newline in a member name", payload: strictClaims(",\"s\nub\":1")},
		{name: "unknown escape", payload: sub(`"\x41"`)},
		{name: "short unicode escape", payload: sub(`"\u004"`)},
		{name: "non-hex unicode escape", payload: sub(`"\u00g1"`)},
		{name: "backslash at the end", payload: `{"sub":"\`},
		{name: "single quotes", payload: strictClaims(`,'sub':'x'`)},
		{name: "unquoted name", payload: strictClaims(`,sub:"x"`)},
		{name: "trailing comma in an object", payload: strictClaims(`,`)},
		{name: "trailing comma in an array", payload: strictClaims(`,"a":[1,]`)},
		{name: "missing colon", payload: strictClaims(`,"sub" "x"`)},
		{name: "missing comma", payload: strictClaims(` "sub":"x"`)},
		{name: "leading zero", payload: strictClaims(`,"n":01`)},
		{name: "plus sign", payload: strictClaims(`,"n":+1`)},
		{name: "bare decimal point", payload: strictClaims(`,"n":1.`)},
		{name: "leading decimal point", payload: strictClaims(`,"n":.5`)},
		{name: "empty exponent", payload: strictClaims(`,"n":1e`)},
		{name: "lone minus", payload: strictClaims(`,"n":-`)},
		{name: "hex number", payload: strictClaims(`,"n":0x10`)},
		{name: "NaN", payload: strictClaims(`,"n":NaN`)},
		{name: "Infinity", payload: strictClaims(`,"n":-Infinity`)},
		{name: "truncated literal", payload: strictClaims(`,"n":tru`)},
		{name: "literal in the wrong case", payload: strictClaims(`,"n":True`)},
		{name: "literal with a tail", payload: strictClaims(`,"n":nullx`)},
		{name: "comment", payload: strictClaims(`/* c */`)},
		{name: "vertical tab as space", payload: "\v" + strictClaims("")},
		{name: "non-breaking space as space", payload: "\u00a0" + strictClaims("")},
		{name: "empty header object then garbage", header: `{}x`, payload: strictClaims("")},
	}
}

// TestVerifyStrictJSON runs the JSON strictness cases through Verify: each
// token is signed by a trusted key, and the ones that break a rule must still
// be refused, as malformed.
//
// Regression: before the strict decoder, encoding/json decoded the header
// and payload. It kept the last of duplicate names (so a header
// {"alg":"none","alg":"RS256"} or a payload with two "sub" verified, with
// whatever value came last, where an upstream reading claims_header might
// take the first) and replaced invalid UTF-8 and lone surrogates with U+FFFD.
func TestVerifyStrictJSON(t *testing.T) {
	f := newFixture(t)
	for _, tt := range strictCases() {
		t.Run(tt.name, func(t *testing.T) {
			hdr := tt.header
			if hdr == "" {
				hdr = strictHeader
			}
			tok := testkit.SignInput(t, "RS256", f.k.rsa, enc(hdr)+"."+enc(tt.payload))
			id, err := f.all.Verify(context.Background(), tok)
			if tt.ok {
				if err != nil {
					t.Fatalf("got %q, want success", err)
				}
				if string(id.Payload) != tt.payload {
					t.Errorf("got payload %q, want %q", id.Payload, tt.payload)
				}
				return
			}
			if err == nil {
				t.Fatalf("got success (subject %q), want %q", id.Subject, reason.Malformed)
			}
			if id != nil {
				t.Errorf("got identity %+v with an error, want nil", id)
			}
			if !errors.Is(err, reason.ErrMalformed) {
				t.Errorf("got %q, want %q", reason.Of(err), reason.Malformed)
			}
			// The text quotes nothing of the token: no member name, no
			// invalid bytes.
			if msg := err.Error(); !utf8.ValidString(msg) || strings.Contains(msg, `"`) || strings.Contains(msg, "sub") {
				t.Errorf("got %q, want an error quoting no token bytes", msg)
			}
		})
	}
}
