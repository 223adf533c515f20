// Package headers holds the HTTP header-name rules shared by configuration
// validation and the proxy, so that `authgate check` refuses exactly what the
// gateway would.
package headers

import (
	"fmt"
	"net/textproto"
	"net/url"
	"strings"
)

// IsToken reports whether s is a non-empty RFC 9110 §5.6.2 token, the syntax
// of header names and methods.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !IsTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// IsTokenChar reports whether c may appear in an RFC 9110 token.
func IsTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// reserved may not carry identity: letting a claim set them would break
// framing, routing, cookies or credentials, or the gateway's own
// X-Forwarded-* and X-Request-Id guarantees (CONTRACT §3.5). Hop-by-hop
// headers (RFC 9110 §7.6.1) would be removed in transit anyway.
var reserved = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Proxy-Authenticate": true, "Cookie": true,
	"Host": true, "Content-Length": true, "Content-Type": true, "Content-Encoding": true,
	"Transfer-Encoding": true, "Connection": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Te": true, "Trailer": true, "Upgrade": true, "Expect": true,
	"X-Request-Id": true, "Forwarded": true,
}

// Reserved reports whether the header named name (any case) is owned by the
// gateway or the protocol and so may not be set from a claim.
func Reserved(name string) bool {
	canon := textproto.CanonicalMIMEHeaderKey(name)
	return reserved[canon] || strings.HasPrefix(canon, "X-Forwarded-")
}

// CanonicalOrigin returns s as browsers serialise an origin (RFC 6454 §6.1):
// lower-case scheme and host, no default port. A path, query, fragment, user
// information or wildcard is an error: none can match an Origin header, and
// rs/cors would read a "*" inside an origin as a pattern.
func CanonicalOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "":
		return "", fmt.Errorf("%q is not an origin such as https://app.example.com", s)
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf("%q is not an origin: use scheme://host[:port] only", s)
	case strings.Contains(u.Host, "*"):
		return "", fmt.Errorf("%q: wildcards are not supported; list each origin, or use \"*\" alone", s)
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if p := u.Port(); (scheme == "http" && p == "80") || (scheme == "https" && p == "443") {
		host = strings.TrimSuffix(host, ":"+p)
	}
	return scheme + "://" + host, nil
}
