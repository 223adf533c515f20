package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/authgate/authgate/internal/reason"
)

// FuzzParseCompact checks step 2 on fuzzed header and payload JSON against
// two independent readers:
//
//   - refDuplicates, a duplicate-name and depth checker over encoding/json's
//     token stream, and utf8.Valid: a duplicate or invalid UTF-8 they find
//     must be refused;
//   - refStrict, the strict JSON of github.com/go-json-experiment/json
//     (jsontext: RFC 8259 with RFC 7493's valid UTF-8, no lone surrogates
//     and unique names): parseCompact must accept exactly when it accepts
//     both parts as objects, within MaxJSONDepth and MaxTokenSize, with
//     string alg, kid and typ.
//
// What parseCompact accepts must decode with encoding/json (UseNumber) to
// the very same claims.
func FuzzParseCompact(f *testing.F) {
	for _, c := range strictCases() {
		hdr := c.header
		if hdr == "" {
			hdr = strictHeader
		}
		f.Add([]byte(hdr), []byte(c.payload))
	}
	f.Add([]byte(`{"alg":"RS256","kid":"rsa1","typ":"JWT"}`), []byte(realisticPayload))
	f.Add([]byte(`{"alg":"ES256","crit":["b64"],"b64":false}`), []byte(`{"a":[1,-0.5e+3,true,false,null,"\"\\\/\b\f\n\r\t\u00e9"],"b":{}}`))
	f.Add([]byte(`{"alg":1}`), []byte(`{}`))
	f.Add([]byte(`{}`), []byte(` [] `))
	f.Fuzz(func(t *testing.T, hdr, payload []byte) {
		tok := b64.EncodeToString(hdr) + "." + b64.EncodeToString(payload) + ".c2ln"
		c, err := parseCompact(tok)

		for _, part := range []struct {
			name string
			data []byte
		}{{"header", hdr}, {"payload", payload}} {
			if dup, _ := refDuplicates(part.data); err == nil && dup {
				t.Fatalf("accepted a %s with a duplicate name: %q", part.name, part.data)
			}
			if err == nil && !utf8.Valid(part.data) {
				t.Fatalf("accepted a %s that is not UTF-8: %q", part.name, part.data)
			}
		}
		want := len(tok) <= MaxTokenSize && refStrict(hdr) && refStrict(payload) && refHeaderTypes(hdr)
		if err != nil {
			if !errors.Is(err, reason.ErrMalformed) {
				t.Fatalf("got %q, want %q", reason.Of(err), reason.Malformed)
			}
			if want {
				t.Fatalf("refused %q . %q (%v), want it accepted as strict JSON objects", hdr, payload, err)
			}
			return
		}
		if !want {
			t.Fatalf("accepted %q . %q, which the strict reference refuses", hdr, payload)
		}
		var claims map[string]any
		if err := stdDecode(payload, &claims); err != nil {
			t.Fatalf("accepted a payload encoding/json refuses: %v", err)
		}
		if !reflect.DeepEqual(c.claims, claims) {
			t.Fatalf("got claims %#v, want %#v as encoding/json decodes them", c.claims, claims)
		}
		if !bytes.Equal(c.payload, payload) {
			t.Fatalf("got payload %q, want %q", c.payload, payload)
		}
		var h map[string]any
		if err := stdDecode(hdr, &h); err != nil {
			t.Fatalf("accepted a header encoding/json refuses: %v", err)
		}
		alg, _ := h["alg"].(string)
		kid, _ := h["kid"].(string)
		typ, _ := h["typ"].(string)
		_, crit := h["crit"]
		if got, want := c.header, (header{alg: alg, kid: kid, typ: typ, crit: crit}); got != want {
			t.Fatalf("got header %+v, want %+v", got, want)
		}
	})
}

// refDuplicates walks encoding/json's token stream and reports whether an
// object repeats a member name, and the deepest nesting seen. It stops at
// the first syntax error, reporting what it found up to there.
func refDuplicates(data []byte) (dup bool, depth int) {
	type frame struct {
		names   map[string]bool // nil for an array
		wantKey bool
	}
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false, depth
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].names != nil {
			if stack[top].wantKey {
				if name, ok := tok.(string); ok {
					if stack[top].names[name] {
						return true, depth
					}
					stack[top].names[name] = true
					stack[top].wantKey = false
					continue
				}
			} else {
				stack[top].wantKey = true // this token is (or opens) the value
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{names: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		depth = max(depth, len(stack))
	}
}

// refStrict reports whether data is exactly one JSON object, nested at most
// MaxJSONDepth deep, that jsontext accepts with its default, strict options.
func refStrict(data []byte) bool {
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	v, err := dec.ReadValue()
	if err != nil || v.Kind() != '{' {
		return false
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return false
	}
	_, depth := refDuplicates(data)
	return depth <= MaxJSONDepth
}

// refHeaderTypes reports whether alg, kid and typ, where present, are
// strings, as step 2 requires of the header.
func refHeaderTypes(hdr []byte) bool {
	var h map[string]any
	if stdDecode(hdr, &h) != nil {
		return false
	}
	for _, name := range []string{"alg", "kid", "typ"} {
		if v, ok := h[name]; ok {
			if _, isString := v.(string); !isString {
				return false
			}
		}
	}
	return true
}

// stdDecode decodes data with encoding/json, numbers as json.Number.
func stdDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}
