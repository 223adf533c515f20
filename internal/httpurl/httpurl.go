// Package httpurl is the rule for the URLs authgate itself sends requests
// to: an upstream, a key set or discovery document, a token endpoint. Each
// is an absolute http or https URL with a host and without user
// information; callers add what is particular to them (an upstream takes no
// query, a discovered issuer neither).
package httpurl

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// The messages of Check and Parse. They never quote the URL, which may hold
// a secret in its user information or query.
var (
	errAbsolute = errors.New("must be an absolute URL")
	errScheme   = errors.New("scheme must be http or https")
	errUser     = errors.New("must not contain user information")
)

// Parse parses s and checks it with Check. A string that does not parse
// is "must be an absolute URL": url.Parse's own error quotes the input.
func Parse(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		if h := schemeless(s); h != "" {
			return nil, &hintError{err: errAbsolute, hint: h}
		}
		return nil, errAbsolute
	}
	if err := Check(u); err != nil {
		return nil, err
	}
	return u, nil
}

// Check reports why u is not an absolute http or https URL with a host
// and without user information, or nil. The scheme is compared as url.Parse
// leaves it, in lower case. A URL written without its scheme (localhost:3000,
// which url.Parse reads as scheme "localhost", or api/v1, or //api) is
// refused with the fix: "must be an absolute URL; write http://localhost:3000".
func Check(u *url.URL) error {
	switch {
	case u.Scheme == "" || u.Opaque != "":
		if h := schemeless(u.String()); h != "" {
			return &hintError{err: errAbsolute, hint: h}
		}
		if u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https" {
			return errScheme
		}
		return errAbsolute
	case u.Scheme != "http" && u.Scheme != "https":
		return errScheme
	case u.Host == "":
		return errAbsolute
	case u.User != nil:
		return errUser
	}
	return nil
}

// schemeless returns the URL s was probably meant to be when it lacks a
// scheme ("http://localhost:3000" for "localhost:3000"), or "". Only what
// looks like a host is completed: one with a port or a dot, or localhost.
// A dotted name gets https (a public name, as an issuer's is), a single
// label, localhost or an IP address http (a container or a local service,
// as an upstream often is). Only the host and port are shown, followed by
// "/…" when s goes on: a path or query may hold a secret, and a message
// never quotes one.
func schemeless(s string) string {
	if s == "" || strings.Contains(s, "://") || strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return ""
	}
	v, err := url.Parse("http://" + strings.TrimPrefix(s, "//"))
	if err != nil || v.Host == "" || v.User != nil || strings.Contains(v.Host, "%") {
		return ""
	}
	name := v.Hostname()
	if v.Port() == "" && !strings.Contains(name, ".") && name != "localhost" {
		return ""
	}
	scheme := "http://"
	if strings.Contains(name, ".") && net.ParseIP(name) == nil {
		scheme = "https://"
	}
	out := scheme + v.Host
	if v.Path != "" && v.Path != "/" || v.RawQuery != "" || v.Fragment != "" {
		out += "/…"
	}
	return out
}

// hintError is an error of Check with the fix for it: its text is the
// error's, then "; write " and the fix. errors.Is sees the error.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() + "; write " + e.hint }
func (e *hintError) Unwrap() error { return e.err }
