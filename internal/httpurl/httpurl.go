// Package httpurl is the rule for the URLs authgate itself sends requests
// to: an upstream, a key set or discovery document, a token endpoint. Each
// is an absolute http or https URL with a host and without user
// information; callers add what is particular to them (an upstream takes no
// query, a discovered issuer neither).
package httpurl

import (
	"errors"
	"net/url"
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
		return nil, errAbsolute
	}
	if err := Check(u); err != nil {
		return nil, err
	}
	return u, nil
}

// Check reports why u is not an absolute http or https URL with a host
// and without user information, or nil. The scheme is compared as url.Parse
// leaves it, in lower case.
func Check(u *url.URL) error {
	switch {
	case u.Scheme == "":
		return errAbsolute
	case u.Scheme != "http" && u.Scheme != "https":
		return errScheme
	case u.Host == "" || u.Opaque != "":
		return errAbsolute
	case u.User != nil:
		return errUser
	}
	return nil
}
