// Package claims picks values out of a verified token payload and encodes
// them as HTTP header values (docs/reference.md §3.4 claim keys, §3.5 claim → header).
// It knows nothing of HTTP handlers or tokens: it sees decoded JSON.
package claims

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Selector picks one claim out of a decoded payload: a top-level claim name,
// or an RFC 6901 JSON Pointer when the selector starts with "/" (for example
// "/realm_access/roles"). A top-level name containing dots or slashes, such as
// "https://example.com/roles", needs no escaping because it does not start
// with "/". Pointers may index arrays ("/groups/0"). The zero Selector selects
// nothing; a Selector is immutable and safe for concurrent use.
type Selector struct {
	raw string
	// path holds the decoded reference tokens: one token (the name itself)
	// for a top-level name, the unescaped RFC 6901 tokens for a pointer.
	path []string
}

// Compile parses s as a selector. It fails for the empty string and for a
// pointer with a "~" not followed by "0" or "1" (RFC 6901 §3).
func Compile(s string) (Selector, error) {
	if s == "" {
		return Selector{}, errors.New("claim selector is empty")
	}
	if s[0] != '/' {
		return Selector{raw: s, path: []string{s}}, nil
	}
	parts := strings.Split(s[1:], "/")
	for i, p := range parts {
		tok, err := unescapeToken(p)
		if err != nil {
			return Selector{}, fmt.Errorf("claim selector %q: reference token %d: %w", s, i+1, err)
		}
		parts[i] = tok
	}
	return Selector{raw: s, path: parts}, nil
}

// unescapeToken decodes an RFC 6901 reference token: "~1" is "/" and "~0" is
// "~"; any other "~" is an error. Decoding ~1 before ~0 would turn "~01"
// into "/", which §4 forbids, so this scans once, left to right.
func unescapeToken(p string) (string, error) {
	if strings.IndexByte(p, '~') < 0 {
		return p, nil
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] != '~' {
			b.WriteByte(p[i])
			continue
		}
		if i+1 == len(p) {
			return "", errors.New(`"~" at the end (escape "~" as "~0")`)
		}
		switch p[i+1] {
		case '0':
			b.WriteByte('~')
		case '1':
			b.WriteByte('/')
		default:
			return "", fmt.Errorf(`"~%c" is not an escape (use "~0" for "~", "~1" for "/")`, p[i+1])
		}
		i++
	}
	return b.String(), nil
}

// String returns the selector exactly as it was compiled.
func (s Selector) String() string { return s.raw }

// Lookup returns the selected value and true, or nil and false when the claim
// (or any step of the pointer) is absent. Objects must be map[string]any and
// arrays []any, as encoding/json decodes them; an array step must be an
// RFC 6901 array index (decimal, no leading zeros) within bounds. A JSON null
// that is present is returned as nil, true.
func (s Selector) Lookup(claims map[string]any) (any, bool) {
	if len(s.path) == 0 {
		return nil, false
	}
	var cur any = claims
	for _, tok := range s.path {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, ok := arrayIndex(tok, len(c))
			if !ok {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// arrayIndex parses an RFC 6901 array-index ("0" or a non-zero digit followed
// by digits) that is below n. "-" (past the end) never selects anything.
func arrayIndex(tok string, n int) (int, bool) {
	if tok == "" || len(tok) > 1 && tok[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return 0, false
		}
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i >= n {
		return 0, false
	}
	return i, true
}

var _ fmt.Stringer = Selector{}
