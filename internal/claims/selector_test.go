package claims

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// decode parses a JSON object the way verify does: numbers as json.Number.
func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return m
}

const payload = `{
	"sub": "alice",
	"https://example.com/roles": ["admin", "ops"],
	"realm_access": {"roles": ["reader", "writer"], "a/b": 1, "m~n": 2, "": 3},
	"groups": [{"name": "g0"}, {"name": "g1"}],
	"nothing": null,
	"n": 7
}`

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
	}{
		{name: "empty", in: ""},
		{name: "tilde at end", in: "/a~"},
		{name: "tilde two", in: "/a~2b"},
		{name: "tilde slash", in: "/x/~/y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := Compile(tc.in); err == nil {
				t.Errorf("Compile(%q): got %q, want an error", tc.in, s)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	claims := decode(t, payload)
	for _, tc := range []struct {
		name     string
		selector string
		want     string // compact JSON of the value
		found    bool
	}{
		{name: "top-level", selector: "sub", want: `"alice"`, found: true},
		{name: "top-level with slashes and dots", selector: "https://example.com/roles", want: `["admin","ops"]`, found: true},
		{name: "pointer into object", selector: "/realm_access/roles", want: `["reader","writer"]`, found: true},
		{name: "pointer array index", selector: "/realm_access/roles/1", want: `"writer"`, found: true},
		{name: "pointer array of objects", selector: "/groups/1/name", want: `"g1"`, found: true},
		{name: "escaped slash", selector: "/realm_access/a~1b", want: `1`, found: true},
		{name: "escaped tilde", selector: "/realm_access/m~0n", want: `2`, found: true},
		{name: "empty key", selector: "/realm_access/", want: `3`, found: true},
		{name: "pointer to top-level", selector: "/sub", want: `"alice"`, found: true},
		{name: "null is present", selector: "nothing", want: `null`, found: true},
		{name: "absent top-level", selector: "email", found: false},
		{name: "absent nested", selector: "/realm_access/missing", found: false},
		{name: "index out of range", selector: "/realm_access/roles/2", found: false},
		{name: "index leading zero", selector: "/realm_access/roles/01", found: false},
		{name: "index dash", selector: "/realm_access/roles/-", found: false},
		{name: "index negative", selector: "/realm_access/roles/-1", found: false},
		{name: "index huge", selector: "/realm_access/roles/99999999999999999999999", found: false},
		{name: "step into scalar", selector: "/sub/x", found: false},
		{name: "step into number", selector: "/n/0", found: false},
		{name: "dotted name is not a path", selector: "realm_access.roles", found: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compile(tc.selector)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tc.selector, err)
			}
			if got := s.String(); got != tc.selector {
				t.Errorf("String: got %q, want %q", got, tc.selector)
			}
			v, ok := s.Lookup(claims)
			if ok != tc.found {
				t.Fatalf("found: got %v, want %v (value %v)", ok, tc.found, v)
			}
			if !ok {
				return
			}
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); got != tc.want {
				t.Errorf("value: got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLookupZeroAndNil(t *testing.T) {
	if v, ok := (Selector{}).Lookup(map[string]any{"": 1}); ok {
		t.Errorf("zero Selector: got %v, want nothing", v)
	}
	s, err := Compile("sub")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := s.Lookup(nil); ok {
		t.Errorf("nil claims: got %v, want nothing", v)
	}
}

// badEscape matches a "~" not followed by "0" or "1".
var badEscape = regexp.MustCompile(`~([^01]|$)`)

// FuzzSelector checks Compile against RFC 6901 §3's grammar, String against
// the input, and Lookup against refLookup on fuzzed documents.
func FuzzSelector(f *testing.F) {
	for _, s := range []string{"sub", "/a/b", "/a~1b/~0", "/groups/0/name", "/", "~", "/~", "/a/01", "https://x/y"} {
		f.Add(s, payload)
	}
	f.Fuzz(func(t *testing.T, sel, doc string) {
		s, err := Compile(sel)
		if err != nil {
			// Only the empty string and a pointer with a "~" that is not
			// "~0" or "~1" are refused (RFC 6901 §3).
			if sel != "" && (sel[0] != '/' || !badEscape.MatchString(sel)) {
				t.Errorf("Compile(%q): got %v, want it accepted", sel, err)
			}
			return
		}
		if badEscape.MatchString(sel) && sel[0] == '/' {
			t.Errorf("Compile(%q): got success, want an error for a bad ~ escape", sel)
		}
		if got := s.String(); got != sel {
			t.Errorf("String: got %q, want %q", got, sel)
		}
		var m map[string]any
		d := json.NewDecoder(strings.NewReader(doc))
		d.UseNumber()
		if d.Decode(&m) != nil {
			m = nil
		}
		v, ok := s.Lookup(m)
		if !ok && v != nil {
			t.Errorf("absent claim returned value %v", v)
		}
		if rv, rok := refLookup(sel, m); ok != rok || !reflect.DeepEqual(v, rv) {
			t.Errorf("Lookup(%q): got %#v, %v; want %#v, %v as RFC 6901 evaluates it", sel, v, ok, rv, rok)
		}
	})
}

// refLookup evaluates sel the long way round, for FuzzSelector: a name as
// a map key; a pointer by RFC 6901 §4's two replacements, "~1" then "~0",
// and array indices through strconv, canonical decimal only.
func refLookup(sel string, claims map[string]any) (any, bool) {
	if !strings.HasPrefix(sel, "/") {
		v, ok := claims[sel]
		return v, ok
	}
	var cur any = claims
	for _, tok := range strings.Split(sel, "/")[1:] {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.ParseUint(tok, 10, 64)
			if err != nil || strconv.FormatUint(i, 10) != tok || i >= uint64(len(c)) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
