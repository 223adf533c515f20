// Package headers holds the HTTP syntax rules the proxy and the packages
// around it share: tokens (header names, methods), control characters, the
// header names the gateway owns, and origins.
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

// IsCTL reports whether c is a control character: RFC 5234 Appendix B.1's
// CTL, %x00-1F and %x7F. HTAB (%x09) is one. This is authgate's one
// definition of a control character: configured text (the realm, a route's
// host or path) may hold none, HTAB included, and request paths none either
// (docs/reference.md §3.1). The single exception is a header value built from a
// claim, which may hold HTAB because an RFC 9110 §5.5 field value may; it is
// made, and documented, where that value is encoded.
func IsCTL(c byte) bool { return c < 0x20 || c == 0x7f }

// HasCTL reports whether s holds a control character (see IsCTL).
func HasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if IsCTL(s[i]) {
			return true
		}
	}
	return false
}

// reserved may not carry identity: letting a claim set them would break
// framing, routing, cookies or credentials, or the gateway's own
// X-Forwarded-* and X-Request-Id guarantees (docs/reference.md §3.5). Hop-by-hop
// headers (RFC 9110 §7.6.1) would be removed in transit anyway.
var reserved = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Proxy-Authenticate": true, "Cookie": true,
	"Host": true, "Content-Length": true, "Content-Type": true, "Content-Encoding": true,
	"Transfer-Encoding": true, "Connection": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Te": true, "Trailer": true, "Upgrade": true, "Expect": true,
	"X-Request-Id": true,
}

// Reserved reports whether the header named name (any case, "_" read as
// "-") is owned by the gateway or the protocol and so may not be set from a
// claim. Every name Dropped reports is reserved too: the gateway removes
// those from clients and sets some of them itself. "_" is folded because
// some upstream stacks (CGI, WSGI, nginx) read "X_Real_IP" as X-Real-IP, so
// a claim in that spelling would stand in for the gateway's own header.
func Reserved(name string) bool {
	canon := textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(name, "_", "-"))
	return reserved[canon] || Dropped(canon)
}

// dropped are the client headers, besides every X-Forwarded-*, that the
// gateway removes from every incoming request, on every route (docs/reference.md
// §3.5). Upstream frameworks act on each of them:
//   - Forwarded and the client-address headers are read as the client's
//     address or the original host, scheme or prefix, so a client could pose
//     as an internal address, or as having come over HTTPS; the gateway sets
//     X-Forwarded-For, -Host, -Proto and X-Real-IP itself.
//   - The method and URL override headers make Symfony, Laravel, IIS,
//     Express and others serve another method or path than the one the
//     gateway routed and authorised: "GET /public" with
//     "X-Original-URL: /admin" would reach /admin through a public route.
//   - HTTP2-Settings only accompanies an upgrade to h2c (RFC 7540 §3.2),
//     which the gateway never passes on.
//   - Proxy is read by CGI-style stacks as the HTTP_PROXY environment
//     variable, sending the upstream's own outgoing requests through a host
//     of the client's choosing ("httpoxy", CVE-2016-5385).
var dropped = map[string]bool{
	"Forwarded": true,
	"X-Real-Ip": true, "True-Client-Ip": true, "X-Client-Ip": true, "Cf-Connecting-Ip": true,
	"X-Http-Method-Override": true, "X-Http-Method": true, "X-Method-Override": true,
	"X-Original-Url": true, "X-Rewrite-Url": true, "X-Original-Uri": true,
	"Http2-Settings": true, "Proxy": true,
}

// Dropped reports whether a client header whose canonical name is canon is
// removed from every incoming request: every X-Forwarded-* (-For, -Host,
// -Proto, -Port, -Prefix, -Server, -Ssl, …), Forwarded, the client-address
// headers, the method and URL override headers, HTTP2-Settings and Proxy. canon
// must be in canonical form (textproto.CanonicalMIMEHeaderKey), as the keys
// of a server request's header map are; callers fold "_" spellings
// themselves. It does not allocate.
func Dropped(canon string) bool {
	return dropped[canon] || strings.HasPrefix(canon, "X-Forwarded-")
}

// CanonicalOrigin returns s as browsers serialise an origin (RFC 6454 §6.1):
// lower-case scheme and host, no default port. A scheme other than http or
// https, a path, query, fragment, user information or wildcard is an error:
// the gateway serves web pages' calls over HTTP, none of the others can
// match an Origin header, and rs/cors would read a "*" inside an origin as a
// pattern.
func CanonicalOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "":
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
