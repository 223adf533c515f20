package claims

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/authgate/authgate/internal/headers"
	"github.com/authgate/authgate/internal/reason"
)

// maxExactFloat is 2^53: every integer of at most this magnitude has an exact
// float64 representation, so printing it in plain digits loses nothing.
const maxExactFloat = 1 << 53

// HeaderValue encodes a claim value as an HTTP header value (docs/reference.md §3.5):
//   - a string as is;
//   - an integer in plain digits ("1700000000", never "1.7e+09"), including a
//     json.Number or float64 that holds an integer (floats up to 2^53); other
//     numbers as JSON;
//   - a boolean as true or false; null as null;
//   - an array whose elements are all strings, numbers or booleans as those
//     elements, each encoded by these rules, joined with "," (an empty array
//     is the empty string);
//   - objects and any other array as compact JSON.
//
// The error wraps reason.ErrUnforwardableClaim when the result cannot be an
// HTTP field value (RFC 9110 §5.5): it holds a control character other than
// HTAB (CR, LF, NUL, DEL, …), or begins or ends with a space or tab, which
// HTTP parsers trim (" admin " would arrive as "admin", a different value).
// Such a value is refused, never cleaned, so an upstream sees either the
// claim exactly or nothing. The error text does not quote the value.
func HeaderValue(v any) (string, error) {
	s, err := encode(v)
	if err != nil {
		return "", fmt.Errorf("%w: %v", reason.ErrUnforwardableClaim, err)
	}
	if i := invalidFieldByte(s); i >= 0 {
		return "", fmt.Errorf("%w: control character 0x%02x at byte %d", reason.ErrUnforwardableClaim, s[i], i)
	}
	if s != "" && (isBlank(s[0]) || isBlank(s[len(s)-1])) {
		return "", fmt.Errorf("%w: leading or trailing whitespace would be trimmed in transit", reason.ErrUnforwardableClaim)
	}
	return s, nil
}

// invalidFieldByte returns the index of the first byte that may not appear in
// an RFC 9110 §5.5 field value, or -1: a control character (headers.IsCTL)
// other than HTAB, which a field value may hold between other characters.
// This is the one place the TAB exception to authgate's control-character
// rule is made. Bytes 0x80–0xFF (obs-text, e.g. UTF-8) are allowed, as
// net/http allows them.
func invalidFieldByte(s string) int {
	for i := 0; i < len(s); i++ {
		if b := s[i]; headers.IsCTL(b) && b != '\t' {
			return i
		}
	}
	return -1
}

func isBlank(b byte) bool { return b == ' ' || b == '\t' }

func encode(v any) (string, error) {
	if s, ok, err := scalar(v); ok || err != nil {
		return s, err
	}
	switch x := v.(type) {
	case nil:
		return "null", nil
	case []any:
		if s, ok := joinStrings(x); ok {
			return s, nil
		}
		parts := make([]string, len(x))
		for i, e := range x {
			s, ok, err := scalar(e)
			if err != nil {
				return "", err
			}
			if !ok {
				return compactJSON(x)
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	case []string:
		return strings.Join(x, ","), nil
	}
	return compactJSON(v)
}

// joinStrings is encode's fast path for an array of strings only (roles,
// groups, audiences): the elements joined with "," in one allocation, or
// none for a single element. ok is false when an element is not a string.
func joinStrings(x []any) (s string, ok bool) {
	n := len(x) - 1
	for _, e := range x {
		s, ok := e.(string)
		if !ok {
			return "", false
		}
		n += len(s)
	}
	switch len(x) {
	case 0:
		return "", true
	case 1:
		return x[0].(string), true
	}
	var b strings.Builder
	b.Grow(n)
	for i, e := range x {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(e.(string))
	}
	return b.String(), true
}

// scalar encodes strings, numbers and booleans; ok is false for anything else.
func scalar(v any) (s string, ok bool, err error) {
	switch x := v.(type) {
	case string:
		return x, true, nil
	case bool:
		return strconv.FormatBool(x), true, nil
	case json.Number:
		s, err := number(x)
		return s, true, err
	case float64:
		s, err := float(x, 64)
		return s, true, err
	case float32:
		s, err := float(float64(x), 32)
		return s, true, err
	case int:
		return strconv.FormatInt(int64(x), 10), true, nil
	case int8:
		return strconv.FormatInt(int64(x), 10), true, nil
	case int16:
		return strconv.FormatInt(int64(x), 10), true, nil
	case int32:
		return strconv.FormatInt(int64(x), 10), true, nil
	case int64:
		return strconv.FormatInt(x, 10), true, nil
	case uint:
		return strconv.FormatUint(uint64(x), 10), true, nil
	case uint8:
		return strconv.FormatUint(uint64(x), 10), true, nil
	case uint16:
		return strconv.FormatUint(uint64(x), 10), true, nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true, nil
	case uint64:
		return strconv.FormatUint(x, 10), true, nil
	}
	return "", false, nil
}

// number encodes a json.Number. Integer literals keep their exact digits,
// however long (a 64-bit id must not round through float64). A literal such
// as 1e3 or 5.0 that denotes a small integer is printed as that integer;
// anything else is printed as the JSON literal it already is.
func number(n json.Number) (string, error) {
	s := string(n)
	if isIntLiteral(s) {
		return s, nil
	}
	if !isJSONNumber(s) {
		return "", fmt.Errorf("%q is not a JSON number", s)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) <= maxExactFloat {
		return strconv.FormatInt(int64(f), 10), nil
	}
	return s, nil
}

// float encodes a float of the given bit size: an exactly representable
// integer in plain digits, anything else as JSON. NaN and ±Inf have no JSON
// form and are an error.
func float(f float64, bits int) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("number %v has no JSON form", f)
	}
	if f == math.Trunc(f) && math.Abs(f) <= maxExactFloat {
		return strconv.FormatInt(int64(f), 10), nil
	}
	var b []byte
	var err error
	if bits == 32 {
		b, err = json.Marshal(float32(f))
	} else {
		b, err = json.Marshal(f)
	}
	return string(b), err
}

// isIntLiteral reports whether s is -?digits: an integer in JSON's grammar
// (leading zeros are tolerated; json.Decoder never produces them).
func isIntLiteral(s string) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isJSONNumber reports whether s is a JSON number literal (RFC 8259 §6), so a
// hand-made json.Number cannot smuggle arbitrary text into a header.
func isJSONNumber(s string) bool {
	var v any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return false
	}
	n, ok := v.(json.Number)
	return ok && string(n) == s && !d.More()
}

// compactJSON encodes v as compact JSON without HTML escaping: the value goes
// to an API, not a page, and '<' reads better than \u003c. encoding/json
// escapes control characters inside strings, so the result never holds one.
func compactJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
