package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxJSONDepth is the deepest nesting of objects and arrays accepted in a
// token's header or payload; the top-level object is depth 1. Real tokens
// nest three or four levels; the bound keeps attacker input from costing
// recursion (encoding/json alone would allow 10000 levels).
const MaxJSONDepth = 32

// Errors of decodeObject. None quotes the input: it is token material.
var (
	errNotObject     = errors.New("not a JSON object")
	errBadJSON       = errors.New("invalid JSON")
	errTrailingData  = errors.New("data after the JSON object")
	errInvalidUTF8   = errors.New("not valid UTF-8")
	errDuplicateName = errors.New("duplicate member name")
	errLoneSurrogate = errors.New("escaped lone UTF-16 surrogate")
	errTooDeep       = fmt.Errorf("nested deeper than %d levels", MaxJSONDepth)
)

// decodeObject decodes data, which must be exactly one JSON object (RFC 8259)
// with optional whitespace around it, into the values encoding/json would
// produce with UseNumber: map[string]any, []any, string, json.Number, bool
// and nil. It is stricter than encoding/json, which silently replaces bad
// UTF-8 with U+FFFD and keeps the last of duplicate names, where another
// parser upstream may keep the first: such parser differentials are how a
// second "sub" gets past one reader and into another. So it refuses:
//
//   - bytes that are not valid UTF-8 (RFC 8259 §8.1), overlong forms and
//     UTF-8-encoded surrogates included, and a byte order mark;
//   - an escaped UTF-16 surrogate that is not half of a pair, such as
//     "\ud800": RFC 8259 §8.2 leaves its meaning unpredictable, and parsers
//     do differ (U+FFFD, raw bytes, an error), so it is refused;
//   - two members of one object, at any depth, whose names are equal after
//     unescaping ("sub" and "\u0073ub"; "sub" and "SUB" differ) (RFC 7515
//     §4, RFC 7519 §4);
//   - nesting deeper than MaxJSONDepth.
//
// It is one pass: duplicates are found by the map being built. The strings
// in the result share one copy of data, saving an allocation for each.
func decodeObject(data []byte) (map[string]any, error) {
	if !utf8.Valid(data) {
		return nil, errInvalidUTF8
	}
	d := decoder{data: string(data)}
	d.skipSpace()
	if d.peek() != '{' {
		return nil, errNotObject
	}
	m, err := d.object()
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, errTrailingData
	}
	return m, nil
}

// decoder is a recursive-descent JSON decoder over UTF-8 input. Recursion is
// bounded by MaxJSONDepth.
type decoder struct {
	data  string
	pos   int
	depth int
}

// peek returns the next byte, or 0 at the end. A 0 byte in the input is
// never valid where peek's result is examined, so the two need no telling
// apart.
func (d *decoder) peek() byte {
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) value() (any, error) {
	d.skipSpace()
	switch c := d.peek(); {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.string()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	}
	return nil, errBadJSON
}

// object decodes an object; d.pos is at its '{'.
func (d *decoder) object() (map[string]any, error) {
	if d.depth++; d.depth > MaxJSONDepth {
		return nil, errTooDeep
	}
	d.pos++
	m := make(map[string]any)
	d.skipSpace()
	if d.peek() == '}' {
		d.pos++
		d.depth--
		return m, nil
	}
	for {
		d.skipSpace()
		if d.peek() != '"' {
			return nil, errBadJSON
		}
		name, err := d.string()
		if err != nil {
			return nil, err
		}
		if _, dup := m[name]; dup {
			return nil, errDuplicateName
		}
		d.skipSpace()
		if d.peek() != ':' {
			return nil, errBadJSON
		}
		d.pos++
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		m[name] = v
		d.skipSpace()
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			d.depth--
			return m, nil
		default:
			return nil, errBadJSON
		}
	}
}

// array decodes an array; d.pos is at its '['. Like encoding/json it
// returns an empty, non-nil slice for [].
func (d *decoder) array() ([]any, error) {
	if d.depth++; d.depth > MaxJSONDepth {
		return nil, errTooDeep
	}
	d.pos++
	a := make([]any, 0)
	d.skipSpace()
	if d.peek() == ']' {
		d.pos++
		d.depth--
		return a, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.skipSpace()
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			d.depth--
			return a, nil
		default:
			return nil, errBadJSON
		}
	}
}

// literal consumes true, false or null.
func (d *decoder) literal(lit string) error {
	if len(d.data)-d.pos < len(lit) || d.data[d.pos:d.pos+len(lit)] != lit {
		return errBadJSON
	}
	d.pos += len(lit)
	return nil
}

// number consumes a number (RFC 8259 §6) and returns its exact text.
func (d *decoder) number() (json.Number, error) {
	start := d.pos
	if d.peek() == '-' {
		d.pos++
	}
	switch c := d.peek(); {
	case c == '0':
		d.pos++ // no leading zeros: "01" ends after the 0 and then fails
	case '1' <= c && c <= '9':
		d.digits()
	default:
		return "", errBadJSON
	}
	if d.peek() == '.' {
		d.pos++
		if d.digits() == 0 {
			return "", errBadJSON
		}
	}
	if c := d.peek(); c == 'e' || c == 'E' {
		d.pos++
		if c := d.peek(); c == '+' || c == '-' {
			d.pos++
		}
		if d.digits() == 0 {
			return "", errBadJSON
		}
	}
	return json.Number(d.data[start:d.pos]), nil
}

// digits consumes decimal digits and returns how many.
func (d *decoder) digits() int {
	start := d.pos
	for d.pos < len(d.data) && '0' <= d.data[d.pos] && d.data[d.pos] <= '9' {
		d.pos++
	}
	return d.pos - start
}

// string decodes a string (RFC 8259 §7); d.pos is at its opening quote. The
// input is valid UTF-8 already, so only control characters and escapes need
// checking.
func (d *decoder) string() (string, error) {
	d.pos++
	start := d.pos
	for d.pos < len(d.data) {
		switch c := d.data[d.pos]; {
		case c == '"':
			s := d.data[start:d.pos]
			d.pos++
			return s, nil
		case c == '\\':
			return d.unescape(start)
		case c < 0x20:
			return "", errBadJSON
		}
		d.pos++
	}
	return "", errBadJSON
}

// unescape finishes a string holding escapes: data[start:d.pos] is its
// unescaped head, d.pos is at the first backslash.
func (d *decoder) unescape(start int) (string, error) {
	buf := make([]byte, 0, d.pos-start+16)
	buf = append(buf, d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(buf), nil
		case c < 0x20:
			return "", errBadJSON
		case c != '\\':
			buf = append(buf, c)
			d.pos++
			continue
		}
		// A backslash: one escape (RFC 8259 §7).
		if d.pos+1 >= len(d.data) {
			return "", errBadJSON
		}
		e := d.data[d.pos+1]
		d.pos += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", errBadJSON
			}
			if utf16.IsSurrogate(r) {
				// Only a high surrogate followed by an escaped low one
				// is a character; anything else is a lone half.
				lo, ok := rune(-1), false
				if r < 0xDC00 && d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
					d.pos += 2
					if lo, ok = d.hex4(); !ok {
						return "", errBadJSON
					}
				}
				if r = utf16.DecodeRune(r, lo); r == utf8.RuneError {
					return "", errLoneSurrogate
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", errBadJSON
		}
	}
	return "", errBadJSON
}

// hex4 consumes four hexadecimal digits.
func (d *decoder) hex4() (rune, bool) {
	if len(d.data)-d.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range []byte(d.data[d.pos : d.pos+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.pos += 4
	return r, true
}
