package policy

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"
)

func TestCanonNumber(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" when the input is not a number
	}{
		{name: "zero", in: "0", want: "0"},
		{name: "negative zero", in: "-0", want: "0"},
		{name: "zero with exponent", in: "0e10", want: "0"},
		{name: "zero fraction", in: "0.000", want: "0"},
		{name: "one", in: "1", want: "1e1"},
		{name: "one point zero", in: "1.0", want: "1e1"},
		{name: "one as exponent", in: "10e-1", want: "1e1"},
		{name: "capital E and plus", in: "0.1E+1", want: "1e1"},
		{name: "hundred", in: "100", want: "1e3"},
		{name: "fraction", in: "0.25", want: "25e0"},
		{name: "small fraction", in: "0.0025", want: "25e-2"},
		{name: "negative", in: "-12.5", want: "-125e2"},
		{name: "big integer keeps its digits", in: "9007199254740993", want: "9007199254740993e16"},
		{name: "neighbour of the big integer", in: "9007199254740992", want: "9007199254740992e16"},
		{name: "huge exponent does not expand", in: "1e999999999", want: "1e1000000000"},
		{name: "exponent beyond int64", in: "1e99999999999999999999", want: "1e100000000000000000000"},
		{name: "negative exponent beyond int64", in: "25e-99999999999999999999", want: "25e-99999999999999999997"},
		{name: "YAML leading plus", in: "+5", want: "5e1"},
		{name: "YAML leading dot", in: ".5", want: "5e0"},
		{name: "YAML trailing dot", in: "5.", want: "5e1"},
		{name: "empty", in: ""},
		{name: "sign only", in: "-"},
		{name: "dot only", in: "."},
		{name: "exponent without digits", in: "1e"},
		{name: "exponent sign only", in: "1e+"},
		{name: "hex", in: "0x10"},
		{name: "trailing garbage", in: "1a"},
		{name: "space", in: " 1"},
		{name: "infinity", in: "Infinity"},
		{name: "NaN", in: "NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := canonNumber(tt.in)
			if tt.want == "" {
				if ok {
					t.Errorf("got %q, want no number", got)
				}
				return
			}
			if !ok || got != tt.want {
				t.Errorf("got %q (ok %v), want %q", got, ok, tt.want)
			}
		})
	}
}

func TestDisplayNumber(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "integer", in: "1.0", want: "1"},
		{name: "exponent integer", in: "1e3", want: "1000"},
		{name: "fraction", in: "0.25", want: "0.25"},
		{name: "mixed", in: "-12.50", want: "-12.5"},
		{name: "big integer", in: "9007199254740993", want: "9007199254740993"},
		{name: "huge", in: "1.5e40", want: "1.5e40"},
		{name: "tiny", in: "2e-20", want: "2e-20"},
		{name: "zero", in: "-0.0", want: "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := canonNumber(tt.in)
			if !ok {
				t.Fatalf("canonNumber(%q) failed", tt.in)
			}
			got := displayNumber(c)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			// What is displayed must denote the same number.
			if back, _ := canonNumber(got); back != c {
				t.Errorf("got %q for %q, which reads back as %q, want %q", got, tt.in, back, c)
			}
		})
	}
}

// FuzzCanonNumber checks canonNumber against math/big: two numbers have the
// same canonical form exactly when they are equal as rationals. Exponents are
// kept small so that big.Rat can expand them.
func FuzzCanonNumber(f *testing.F) {
	for _, s := range [][2]string{{"1", "1.0"}, {"10e-1", "1"}, {"0.1", "1e-1"}, {"-0", "0"}, {"9007199254740993", "9007199254740992"}, {"1.5", "15e-1"}, {"+.5", "0.50"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ca, okA := canonNumber(a)
		cb, okB := canonNumber(b)
		ra, rb := ratOf(a), ratOf(b)
		if okA != (ra != nil) || okB != (rb != nil) {
			if ra == nil && okA && hugeExponent(a) || rb == nil && okB && hugeExponent(b) {
				return
			}
			t.Fatalf("%q ok %v, %q ok %v; want ok when big.Rat parses (%v, %v)", a, okA, b, okB, ra != nil, rb != nil)
		}
		if ra == nil || rb == nil {
			return
		}
		if (ca == cb) != (ra.Cmp(rb) == 0) {
			t.Fatalf("%q → %q, %q → %q; equal as rationals: %v", a, ca, b, cb, ra.Cmp(rb) == 0)
		}
	})
}

// ratOf parses the decimal syntax canonNumber accepts with math/big, or
// returns nil. Exponents beyond ±400 are refused so that parsing stays cheap.
func ratOf(s string) *big.Rat {
	if s == "" || strings.ContainsAny(s, "xXpP_ \t\n/") || hugeExponent(s) {
		return nil
	}
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 || strings.HasPrefix(strings.ToLower(body), "e") || strings.ContainsAny(body, "+-") && !strings.ContainsAny(body, "eE") {
		return nil
	}
	for _, c := range body {
		if !strings.ContainsRune("0123456789.eE+-", c) {
			return nil
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil
	}
	return r
}

func hugeExponent(s string) bool {
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return false
	}
	exp := strings.TrimLeft(s[i+1:], "+-")
	exp = strings.TrimLeft(exp, "0")
	return len(exp) > 3
}

func TestScalarValue(t *testing.T) {
	tests := []struct {
		name string
		a, b any
		want bool
	}{
		{name: "strings", a: "x", b: "x", want: true},
		{name: "string and bool", a: "true", b: true},
		{name: "string and number", a: "1", b: json.Number("1")},
		{name: "int and json.Number", a: 1, b: json.Number("1"), want: true},
		{name: "int and 1.0", a: 1, b: json.Number("1.0"), want: true},
		{name: "float and json.Number", a: 0.1, b: json.Number("0.1"), want: true},
		{name: "float32 and json.Number", a: float32(0.1), b: json.Number("0.1"), want: true},
		{name: "uint64 max", a: uint64(18446744073709551615), b: json.Number("18446744073709551615"), want: true},
		{name: "int64 min", a: int64(-9223372036854775808), b: json.Number("-9223372036854775808"), want: true},
		{name: "big json.Numbers differ", a: json.Number("9007199254740993"), b: json.Number("9007199254740992")},
		{name: "false and false", a: false, b: false, want: true},
		{name: "true and false", a: true, b: false},
		{name: "int8 and uint16", a: int8(7), b: uint16(7), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, okA := scalarValue(tt.a)
			b, okB := scalarValue(tt.b)
			if !okA || !okB {
				t.Fatalf("got ok %v %v, want scalars", okA, okB)
			}
			if got := a == b; got != tt.want {
				t.Errorf("got equal %v for %v (%T) and %v (%T), want %v", got, tt.a, tt.a, tt.b, tt.b, tt.want)
			}
		})
	}
}
