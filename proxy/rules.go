package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/authgate/authgate/internal/claims"
	"github.com/authgate/authgate/internal/field"
	"github.com/authgate/authgate/internal/headers"
	"github.com/authgate/authgate/internal/httpurl"
)

// The configuration rules of New, each written once: Options.Validate
// applies them (with Route.Validate and newCORS), New calls it, and so
// does the configuration's validation, which places each error at its line.

// Validate reports every problem New would refuse in o apart from each
// route's Auth, as *field.Error values with paths in configuration
// spelling: realm, cors.allowed_origins[1], routes[2].upstream.url,
// routes[3].name. It builds nothing and starts nothing: configuration
// validation calls it before any authenticator exists, and New calls it
// first.
func (o Options) Validate() error {
	var errs []error
	if err := checkRealm(o.Realm); err != nil {
		errs = append(errs, &field.Error{Path: "realm", Err: err})
	}
	if o.CORS != nil {
		if _, err := newCORS(*o.CORS); err != nil {
			errs = append(errs, field.Prefix("cors", err))
		}
	}
	names := make(map[string]int, len(o.Routes))
	for i, r := range o.Routes {
		rp := field.Index("routes", i)
		errs = append(errs, field.Prefix(rp, r.Validate()))
		if r.Name == "" || r.Name == noRoute {
			continue // reported by Validate
		}
		if first, dup := names[r.Name]; dup {
			errs = append(errs, field.Errorf(rp+".name", "duplicate route name %s (also routes[%d])", field.Quote(r.Name), first))
			continue
		}
		names[r.Name] = i
	}
	return errors.Join(errs...)
}

// checkRouteHost is the rule for Route.Host; key is its hostKey, lower-cased.
// A host is a name, compared as hostKey compares it: a scheme, path, user
// information, space or control character cannot be part of one, a port
// is ignored when matching so it cannot be configured either, and "." names
// no host at all (it would otherwise match every request without a Host).
func checkRouteHost(host, key string) error {
	if host == "" {
		return nil
	}
	if strings.ContainsAny(host, "/?#@ ") || headers.HasCTL(host) {
		return errors.New("must be a host name, without scheme or path")
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return errors.New("must not include a port (ports are ignored when matching)")
	}
	if key == "" {
		return errors.New("names no host")
	}
	return nil
}

// checkMethodName is the rule for a configured method, a route's or CORS's:
// an RFC 9110 §9.1 method token in upper case. Methods are case-sensitive
// and the standard ones are upper case, so "get" would be a method no
// browser or client sends.
func checkMethodName(m string) error {
	if !headers.IsToken(m) || asciiUpper(m) != m {
		return errors.New("must be an uppercase HTTP method such as GET")
	}
	return nil
}

// checkRouteMethod is checkMethodName for Route.Methods, which also refuses
// TRACE and CONNECT in any case: the gateway never forwards them (see
// refusedMethod), so a route for them could never match.
func checkRouteMethod(m string) error {
	if refusedMethod(m) {
		return fmt.Errorf("%s is never forwarded", field.Quote(m))
	}
	return checkMethodName(m)
}

// checkRoutePath is the rule for Route.Path and a PathPrefix with its
// trailing "/" trimmed: a path some request checkPath accepts can have once
// its parameters are removed, since that is what routes are matched
// against. A route outside that set could never match. "?" and "#" are
// refused too: in a decoded path they are only ever "%3F" and "%23", and a
// route written with them was meant to match a query.
func checkRoutePath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return errors.New(`must start with "/"`)
	}
	if strings.ContainsAny(p, "?#") {
		return errors.New("must not contain a query or fragment")
	}
	matched, err := checkPath(p)
	switch {
	case errors.Is(err, errControl):
		return errors.New("must not contain control characters")
	case errors.Is(err, errDotSegment), errors.Is(err, errEmptySegment):
		return errors.New(`must not contain empty, "." or ".." segments`)
	case errors.Is(err, errBackslash):
		return errors.New("must not contain a backslash")
	case errors.Is(err, errNotUTF8):
		return errors.New("must be valid UTF-8")
	case errors.Is(err, errCompat):
		return errors.New(`must not contain a compatibility character for path syntax (such as U+FF0E for ".")`)
	case err != nil:
		return fmt.Errorf("no request path that the gateway accepts can match it: %w", err)
	case matched != p:
		return errors.New(`must not contain ";" parameters: request paths are matched without them`)
	}
	return nil
}

// checkUpstream is the rule for Route.Upstream: an absolute http or https
// URL without user information (httpurl.Check) and with nothing but an
// optional base path after its host. A query or fragment would have to be
// merged with the client's, which the gateway never does.
func checkUpstream(u *url.URL) error {
	if u == nil {
		return errors.New("must not be empty")
	}
	if err := httpurl.Check(u); err != nil {
		return err
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return errors.New("must not have a query or fragment")
	}
	return nil
}

// ParseUpstream parses a configured upstream URL for Route.Upstream and
// checks it as New does (see checkUpstream). "" is "must not be empty". The
// error names no field and never quotes the URL, which may hold a secret.
func ParseUpstream(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("must not be empty")
	}
	u, err := httpurl.Parse(s)
	if err != nil {
		return nil, err
	}
	if err := checkUpstream(u); err != nil {
		return nil, err
	}
	return u, nil
}

// identityHeaderName is the rule for a header the gateway sets from a
// claim (a forward.headers name, the claims header): a header name
// (headers.IsToken) that the gateway or the protocol does not own
// (headers.Reserved). It returns the canonical form.
func identityHeaderName(name string) (string, error) {
	if !headers.IsToken(name) {
		return "", fmt.Errorf("header %s is not a valid header name", field.Quote(name))
	}
	canon := textproto.CanonicalMIMEHeaderKey(name)
	if headers.Reserved(canon) {
		return "", fmt.Errorf("header %s is managed by the gateway and cannot be set from a claim", field.Quote(name))
	}
	return canon, nil
}

// compileSelector compiles the claim a header is filled from: a top-level
// claim name, or an RFC 6901 JSON Pointer when it starts with "/".
func compileSelector(header, ref string) (claims.Selector, error) {
	if ref == "" {
		return claims.Selector{}, fmt.Errorf("header %s needs a claim name or JSON Pointer", field.Quote(header))
	}
	sel, err := claims.Compile(ref)
	if err != nil {
		return claims.Selector{}, fmt.Errorf("header %s: %w", field.Quote(header), err)
	}
	return sel, nil
}
