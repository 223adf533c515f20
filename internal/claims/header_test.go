package claims

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/reason"
)

func TestHeaderValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
		want string
	}{
		{name: "string", in: "alice@example.com", want: "alice@example.com"},
		{name: "string with tab and utf-8", in: "a\tb é", want: "a\tb é"},
		{name: "string with inner spaces", in: "Ada Lovelace", want: "Ada Lovelace"},
		{name: "empty string", in: "", want: ""},
		{name: "json integer", in: json.Number("1700000000"), want: "1700000000"},
		{name: "json integer 2^53+1", in: json.Number("9007199254740993"), want: "9007199254740993"},
		{name: "json integer beyond float64", in: json.Number("12345678901234567890123"), want: "12345678901234567890123"},
		{name: "json negative integer", in: json.Number("-42"), want: "-42"},
		{name: "json float", in: json.Number("1.5"), want: "1.5"},
		{name: "json integral float", in: json.Number("5.0"), want: "5"},
		{name: "json exponent integer", in: json.Number("1.7e9"), want: "1700000000"},
		{name: "json huge exponent", in: json.Number("1e400"), want: "1e400"},
		{name: "float64 integer", in: float64(1700000000), want: "1700000000"},
		{name: "float64 fraction", in: 0.25, want: "0.25"},
		{name: "float64 huge", in: 1e300, want: "1e+300"},
		{name: "float32 fraction", in: float32(0.1), want: "0.1"},
		{name: "int", in: 7, want: "7"},
		{name: "int64", in: int64(-9007199254740993), want: "-9007199254740993"},
		{name: "uint64", in: uint64(math.MaxUint64), want: "18446744073709551615"},
		{name: "true", in: true, want: "true"},
		{name: "false", in: false, want: "false"},
		{name: "null", in: nil, want: "null"},
		{name: "array of strings", in: []any{"admin", "ops"}, want: "admin,ops"},
		{name: "array of one string", in: []any{"admin"}, want: "admin"},
		{name: "array of mixed scalars", in: []any{"a", json.Number("1"), true, json.Number("2.5")}, want: "a,1,true,2.5"},
		{name: "empty array", in: []any{}, want: ""},
		{name: "string slice", in: []string{"x", "y"}, want: "x,y"},
		{name: "array with object", in: []any{"a", map[string]any{"b": json.Number("1")}}, want: `["a",{"b":1}]`},
		{name: "array with null", in: []any{"a", nil}, want: `["a",null]`},
		{name: "nested array", in: []any{[]any{"a"}}, want: `[["a"]]`},
		{name: "object", in: map[string]any{"b": []any{"x"}, "a": "<&>"}, want: `{"a":"<&>","b":["x"]}`},
		{name: "object escapes newline", in: map[string]any{"a": "x\ny"}, want: `{"a":"x\ny"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := HeaderValue(tc.in)
			if err != nil {
				t.Fatalf("HeaderValue(%#v): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHeaderValueRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
	}{
		{name: "LF", in: "alice\nX-Admin: true"},
		{name: "CR", in: "a\rb"},
		{name: "CRLF and a header line", in: "a\r\nX-Injected: 1"},
		{name: "NUL", in: "a\x00b"},
		{name: "DEL", in: "a\x7fb"},
		{name: "escape", in: "\x1b[31m"},
		{name: "LF inside array element", in: []any{"ok", "bad\n"}},
		// Regression: HTTP parsers trim outer whitespace, so " admin " used
		// to arrive upstream as "admin", a different identity.
		{name: "leading and trailing spaces", in: " admin "},
		{name: "trailing tab", in: "admin\t"},
		{name: "leading space in array", in: []any{" admin"}},
		{name: "NaN", in: math.NaN()},
		{name: "infinity", in: math.Inf(1)},
		{name: "invalid json.Number", in: json.Number("1\n2")},
		{name: "json.Number text", in: json.Number("abc")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := HeaderValue(tc.in)
			if err == nil {
				t.Fatalf("HeaderValue(%#v): got %q, want an error", tc.in, got)
			}
			if !errors.Is(err, reason.ErrUnforwardableClaim) {
				t.Errorf("error %v does not wrap reason.ErrUnforwardableClaim", err)
			}
			if s, ok := tc.in.(string); ok && strings.Contains(err.Error(), s) {
				t.Errorf("error %q quotes the claim value", err)
			}
		})
	}
}

// FuzzHeaderValue: HeaderValue never panics, every error wraps
// reason.ErrUnforwardableClaim, and a value it returns is a valid HTTP field
// value without outer whitespace; strings go unchanged, integer literals
// keep their digits, and objects read back as the same object.
func FuzzHeaderValue(f *testing.F) {
	for _, s := range []string{`"a"`, `1`, `1.5e3`, `-0`, `true`, `null`, `["a",1,true]`, `{"a":"b\nc"}`, `"a\u0000b"`, `[[],{}]`, `"\u2028"`,
		`" admin"`, `"a\tb"`, `12345678901234567890123`, `{"n":1e400,"s":"<&>","a":[1,{"b":null}]}`, `["a,b","c"]`, `"\u007f"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var v any
		d := json.NewDecoder(strings.NewReader(doc))
		d.UseNumber()
		if d.Decode(&v) != nil {
			v = doc // a raw string exercises the string path with arbitrary bytes
		}
		s, err := HeaderValue(v)
		if err != nil {
			if !errors.Is(err, reason.ErrUnforwardableClaim) {
				t.Errorf("error %v does not wrap reason.ErrUnforwardableClaim", err)
			}
			return
		}
		if strings.ContainsAny(s, "\r\n\x00\x7f") {
			t.Errorf("HeaderValue(%q) = %q holds CR, LF, NUL or DEL", doc, s)
		}
		if s != "" && strings.ContainsAny(s[:1]+s[len(s)-1:], " \t") {
			t.Errorf("HeaderValue(%q) = %q has outer whitespace", doc, s)
		}
		if i := invalidFieldByte(s); i >= 0 {
			t.Errorf("HeaderValue(%q) = %q holds a control byte at %d", doc, s, i)
		}
		// docs/reference.md §3.5: a string goes as is, an integer in its own digits,
		// an object as JSON that reads back as the same object.
		switch x := v.(type) {
		case string:
			if s != x {
				t.Errorf("HeaderValue(%q): got %q, want the string unchanged", doc, s)
			}
		case json.Number:
			if isIntLiteral(string(x)) && s != string(x) {
				t.Errorf("HeaderValue(%q): got %q, want the integer's digits", doc, s)
			}
		case map[string]any:
			var back any
			d := json.NewDecoder(strings.NewReader(s))
			d.UseNumber()
			if err := d.Decode(&back); err != nil || !reflect.DeepEqual(back, v) {
				t.Errorf("HeaderValue(%q) = %q, which reads back as %#v (%v), want %#v", doc, s, back, err, v)
			}
		}
	})
}

// BenchmarkHeaderValue measures claim→header encoding for the claim shapes
// identity headers carry.
func BenchmarkHeaderValue(b *testing.B) {
	for _, bc := range []struct {
		name string
		v    any
	}{
		{"string", "alice"},
		{"integer", json.Number("1700000000")},
		{"strings", []any{"reader", "writer", "admin"}},
		{"mixed array", []any{"g1", json.Number("2"), false}},
		{"object", map[string]any{"id": json.Number("7"), "name": "acme"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := HeaderValue(bc.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
