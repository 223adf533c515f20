package proxy

import (
	"errors"
	"net/http"
	"strings"

	"github.com/authgate/authgate/internal/headers"
)

// Bearer syntax errors. Their text is client-safe (it never quotes the
// header) and becomes error_description.
var (
	errManyAuthorization = errors.New("more than one Authorization header")
	errBearerSyntax      = errors.New("the bearer credentials are empty or not RFC 6750 b64token syntax")
)

// bearerToken extracts the token from the request's Authorization header
// (docs/reference.md §3.2, RFC 6750 §2.1):
//   - no header, or a scheme other than Bearer (Basic, …): "", nil;
//   - more than one Authorization header: errManyAuthorization;
//   - "Bearer" (any case) followed by one or more spaces and a b64token:
//     the token;
//   - "Bearer" with empty credentials, anything but spaces after the
//     scheme, or credentials that are not a b64token (spaces inside, say):
//     errBearerSyntax.
func bearerToken(h http.Header) (string, error) {
	vals := h.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
	default:
		// Two headers could be read differently by the gateway and the
		// upstream (first vs last); refusing is the only safe reading.
		return "", errManyAuthorization
	}
	v := vals[0]
	const scheme = "bearer"
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", nil
	}
	rest := v[len(scheme):]
	switch {
	case rest == "":
		return "", errBearerSyntax
	case rest[0] == '\t':
		return "", errBearerSyntax
	case rest[0] != ' ':
		// A longer scheme name that starts with "bearer" ("BearerX") is
		// another scheme, not a malformed Bearer.
		if headers.IsTokenChar(rest[0]) {
			return "", nil
		}
		return "", errBearerSyntax
	}
	tok := strings.TrimLeft(rest, " ")
	if !isB64Token(tok) {
		return "", errBearerSyntax
	}
	return tok, nil
}

// isB64Token reports whether s matches RFC 6750 §2.1
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for i < len(s) && b64TokenChar[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// b64TokenChar holds the characters of a b64token before its "=" padding,
// looked up rather than compared: a token is a few hundred of them and every
// authenticated request checks each one.
var b64TokenChar = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()
