package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// kind is the JSON type of a scalar. Values of different kinds never compare
// equal (docs/reference.md §3.4: true does not equal "true", 1 does not equal "1").
type kind uint8

const (
	kindString kind = iota + 1
	kindBool
	kindNumber
)

// value is a JSON scalar in a form where equality is plain ==: a string as
// is, a boolean as "true"/"false", a number in the canonical decimal form of
// canonNumber, so 1, 1.0, 10e-1 and 1E0 are one value. It is comparable, so
// it can be a map key.
type value struct {
	k kind
	s string
}

// errNull and errNotScalar are the reasons a configured value is refused;
// compileClaim words them for the configuration's reader.
var (
	errNull      = errors.New("null value")
	errNotScalar = errors.New("not a string, number or boolean")
)

// configValue converts a configured scalar (as a YAML or JSON decoder
// produces it, or as Go code writes it) into a value. Numbers keep their
// exact value: integers from their digits, json.Number from its text, and
// floats from their shortest decimal form (so a configured 0.1 equals a
// token's 0.1, which a binary comparison would not).
func configValue(v any) (value, error) {
	switch x := v.(type) {
	case nil:
		return value{}, errNull
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return value{}, fmt.Errorf("number %v has no JSON form", x)
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return value{}, fmt.Errorf("number %v has no JSON form", x)
		}
	case json.Number:
		if _, ok := canonNumber(string(x)); !ok {
			return value{}, fmt.Errorf("%q is not a number", shorten(string(x)))
		}
	}
	if val, ok := scalarValue(v); ok {
		return val, nil
	}
	return value{}, errNotScalar
}

// scalarValue converts a claim value to a value; ok is false for null,
// objects, arrays and anything that is not a JSON scalar (a json.Number
// that is not a number included). It does not allocate for strings and
// booleans, the common claim types.
func scalarValue(v any) (value, bool) {
	switch x := v.(type) {
	case string:
		return value{kindString, x}, true
	case bool:
		if x {
			return value{kindBool, "true"}, true
		}
		return value{kindBool, "false"}, true
	case json.Number:
		return numberValue(string(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return value{}, false
		}
		return numberValue(strconv.FormatFloat(x, 'g', -1, 64))
	case float32:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return value{}, false
		}
		return numberValue(strconv.FormatFloat(f, 'g', -1, 32))
	case int:
		return numberValue(strconv.FormatInt(int64(x), 10))
	case int8:
		return numberValue(strconv.FormatInt(int64(x), 10))
	case int16:
		return numberValue(strconv.FormatInt(int64(x), 10))
	case int32:
		return numberValue(strconv.FormatInt(int64(x), 10))
	case int64:
		return numberValue(strconv.FormatInt(x, 10))
	case uint:
		return numberValue(strconv.FormatUint(uint64(x), 10))
	case uint8:
		return numberValue(strconv.FormatUint(uint64(x), 10))
	case uint16:
		return numberValue(strconv.FormatUint(uint64(x), 10))
	case uint32:
		return numberValue(strconv.FormatUint(uint64(x), 10))
	case uint64:
		return numberValue(strconv.FormatUint(x, 10))
	}
	return value{}, false
}

func numberValue(s string) (value, bool) {
	c, ok := canonNumber(s)
	return value{kindNumber, c}, ok
}

// String renders v as JSON, for requirement texts. Numbers appear in their
// canonical form (1.0 as 1, 1e3 as 1000), so an explanation shows the value
// that is compared.
func (v value) String() string {
	switch v.k {
	case kindString:
		b, _ := json.Marshal(v.s) // a string always marshals
		return string(b)
	case kindNumber:
		return displayNumber(v.s)
	}
	return v.s
}

// canonNumber returns the canonical form of a decimal number, such that two
// numbers are equal exactly when their canonical forms are: an optional "-",
// the significant digits without leading or trailing zeros, "e" and the
// decimal exponent of the digit string read as 0.DIGITS. Zero (and -0) is
// "0". It accepts JSON numbers and the wider decimal syntax of YAML floats
// (a leading "+", ".5", "5."); ok is false for anything else.
//
// It works on the text, never through float64 (which would make
// 9007199254740993 equal 9007199254740992) nor by expanding the exponent
// (a token's 1e999999999 must not allocate a billion digits).
func canonNumber(s string) (string, bool) {
	i, neg := 0, false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intPart := s[start:i]
	var frac string
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		frac = s[fs:i]
	}
	if intPart == "" && frac == "" {
		return "", false
	}
	var exp string
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		es := i
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		ds := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == ds {
			return "", false
		}
		exp = s[es:i]
	}
	if i != len(s) {
		return "", false
	}

	// The value is 0.DIGITS × 10^point.
	digits := intPart + frac
	point := int64(len(intPart))
	lead := 0
	for lead < len(digits) && digits[lead] == '0' {
		lead++
	}
	digits = digits[lead:]
	point -= int64(lead)
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		return "0", true
	}
	var b strings.Builder
	b.Grow(len(digits) + 8)
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(digits)
	b.WriteByte('e')
	b.WriteString(addExponent(point, exp))
	return b.String(), true
}

// addExponent returns point + exp (exp a signed decimal string, possibly
// empty) in decimal. Exponents of up to 18 digits use int64 arithmetic;
// point is at most the length of a number's text, so that cannot overflow.
// Longer exponents (never in real tokens, possible in hostile ones) are
// added exactly with math/big, still without expanding 10^exp.
func addExponent(point int64, exp string) string {
	if exp == "" {
		return strconv.FormatInt(point, 10)
	}
	body := strings.TrimLeft(strings.TrimLeft(exp, "+-"), "0")
	if len(body) <= 18 {
		e, _ := strconv.ParseInt(strings.TrimPrefix(exp, "+"), 10, 64) // at most 18 significant digits: fits
		return strconv.FormatInt(point+e, 10)
	}
	e, _ := new(big.Int).SetString(strings.TrimPrefix(exp, "+"), 10) // digits checked by canonNumber
	return e.Add(e, big.NewInt(point)).String()
}

// displayNumber turns a canonical number back into ordinary JSON: plain
// digits for integers and short fractions, exponent notation otherwise.
func displayNumber(c string) string {
	if c == "0" {
		return "0"
	}
	sign := ""
	if c[0] == '-' {
		sign, c = "-", c[1:]
	}
	digits, exp, _ := strings.Cut(c, "e")
	point, err := strconv.Atoi(exp)
	switch {
	case err != nil:
		// An exponent beyond int: the canonical form is still valid JSON.
		return sign + "0." + digits + "e" + exp
	case point > 30 || point < -10:
		// Huge or tiny: d.ddde±N, N = point-1.
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		return sign + m + "e" + strconv.Itoa(point-1)
	case point <= 0:
		return sign + "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		return sign + digits + strings.Repeat("0", point-len(digits))
	}
	return sign + digits[:point] + "." + digits[point:]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// shorten cuts s to 64 bytes for a message, so a huge value cannot flood it.
func shorten(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

var _ fmt.Stringer = value{}
