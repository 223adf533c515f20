package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/claims"
	"github.com/authgate/authgate/internal/headers"
	"github.com/authgate/authgate/policy"
)

// Route is one routing rule as the gateway compiles it from configuration
// (CONTRACT §2.1 routes). New validates it; the Handler never modifies it.
type Route struct {
	// Name identifies the route in logs and metrics. It must be non-empty and
	// not "none", the label of unmatched requests.
	Name string
	// Host, if set, must equal the request's host, compared
	// case-insensitively (ASCII only) with any port and one trailing dot
	// ignored, on either side (see hostKey). "" matches any host.
	Host string
	// Methods, if non-empty, lists the methods the route accepts. Methods
	// are case-sensitive (RFC 9110 §9.1); New upper-cases them. TRACE and
	// CONNECT are refused: they are never forwarded.
	Methods []string
	// Path matches exactly this decoded path, once each segment's
	// ";parameters" are removed from the request's. Exactly one of Path and
	// PathPrefix is set; it starts with "/" and is a path checkPath accepts,
	// without parameters (a route that could never match is refused).
	Path string
	// PathPrefix matches the decoded paths that equal it or continue it with
	// a "/", parameters removed as for Path: "/api" matches "/api",
	// "/api;v=1" and "/api/x", not "/apix". "/" matches every path. A
	// trailing "/" is ignored ("/api/" is "/api").
	PathPrefix string
	// Upstream is where requests go: an absolute http or https URL with an
	// optional base path that the request path is appended to.
	Upstream *url.URL
	// StripPrefix removes the matched PathPrefix (or Path), with the
	// parameters of the segments it covers, from the path before it is
	// appended to the upstream's base path.
	StripPrefix bool
	// PreserveHost sends the client's Host header upstream instead of the
	// upstream URL's host.
	PreserveHost bool
	// Timeout bounds the time from forwarding the request to receiving the
	// upstream's response headers; past it the client gets 504. Zero means no
	// limit.
	Timeout time.Duration
	// Mode says what a request without a token gets (CONTRACT §3.3 step 1).
	Mode policy.Mode
	// Auth verifies tokens and applies the route's policy. It is nil if and
	// only if Mode is policy.None.
	Auth Authenticator
	// Scopes are the scopes the route requires; a 403 names them in
	// WWW-Authenticate scope="…" (RFC 6750 §3). They must be RFC 6749 §3.3
	// scope tokens, which need no quoting.
	Scopes []string
	// Headers maps an upstream header name to a claim selector
	// (claims.Compile syntax). Each is set from the verified claims; an
	// absent or null claim leaves the header unset.
	Headers map[string]string
	// ClaimsHeader, if set, names a header that carries the whole verified
	// payload, base64url-encoded without padding.
	ClaimsHeader string
	// StripAuthorization removes the client's Authorization header from the
	// upstream request.
	StripAuthorization bool
}

// noRoute is the route label of requests that match no route.
const noRoute = "none"

// route is a compiled Route: matchers, the header plan and its reverse proxy.
type route struct {
	Route
	host    string   // hostKey of Host, lower-cased
	methods []string // upper-cased
	prefix  string   // decoded path or prefix, trailing "/" trimmed (but "/" kept)
	exact   bool
	// baseRaw and base are the upstream's escaped and decoded base paths.
	baseRaw, base string
	headers       []headerPlan
	claimsHeader  string // canonical, "" none
	scope         string // space-joined Scopes
	proxy         *httputil.ReverseProxy
}

// headerPlan is one identity header: the canonical name, its selector and
// the selector's text (ForwardedHeader.Claim).
type headerPlan struct {
	name  string
	sel   claims.Selector
	claim string
}

// compileRoute validates r and precomputes everything a request needs.
func compileRoute(r Route) (*route, error) {
	if r.Name == "" {
		return nil, errors.New("name is empty")
	}
	if r.Name == noRoute {
		return nil, fmt.Errorf("name %q is reserved for unmatched requests", noRoute)
	}
	c := &route{Route: r, host: asciiLower(hostKey(r.Host))}
	if r.Host != "" && c.host == "" {
		// "." or ":80" would otherwise match every host.
		return nil, fmt.Errorf("host %q: names no host", r.Host)
	}
	for _, m := range r.Methods {
		if !headers.IsToken(m) {
			return nil, fmt.Errorf("methods: %q is not a method name", m)
		}
		if refusedMethod(m) {
			return nil, fmt.Errorf("methods: %s is never forwarded", m)
		}
		c.methods = append(c.methods, strings.ToUpper(m))
	}
	switch {
	case (r.Path == "") == (r.PathPrefix == ""):
		return nil, errors.New("exactly one of path and path_prefix must be set")
	case r.Path != "":
		if !strings.HasPrefix(r.Path, "/") {
			return nil, fmt.Errorf("path %q: must start with /", r.Path)
		}
		c.prefix, c.exact = r.Path, true
	default:
		if !strings.HasPrefix(r.PathPrefix, "/") {
			return nil, fmt.Errorf("path_prefix %q: must start with /", r.PathPrefix)
		}
		c.prefix = strings.TrimRight(r.PathPrefix, "/")
		if c.prefix == "" {
			c.prefix = "/"
		}
	}
	// Request paths are matched without parameters, and checkPath refuses
	// what it refuses before matching: a route path outside that set could
	// never match.
	if p, err := checkPath(c.prefix); err != nil || p != c.prefix {
		return nil, fmt.Errorf("path %q: no request path that the gateway accepts can match it", c.prefix)
	}
	if err := checkUpstream(r.Upstream); err != nil {
		return nil, err
	}
	c.baseRaw, c.base = r.Upstream.EscapedPath(), r.Upstream.Path
	if r.Timeout < 0 {
		return nil, fmt.Errorf("timeout %s: must not be negative", r.Timeout)
	}
	if (r.Mode == policy.None) != (r.Auth == nil) {
		return nil, fmt.Errorf("auth mode %s: an authenticator is needed exactly when the mode is not none", r.Mode)
	}
	if r.Mode != policy.Required && r.Mode != policy.Optional && r.Mode != policy.None {
		return nil, fmt.Errorf("auth mode %s: unknown", r.Mode)
	}
	for _, s := range r.Scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") || hasCTL(s) {
			return nil, fmt.Errorf("scopes: %q is not a scope token", s)
		}
	}
	c.scope = strings.Join(r.Scopes, " ")

	seen := map[string]bool{}
	names := make([]string, 0, len(r.Headers))
	for name := range r.Headers {
		names = append(names, name)
	}
	slices.Sort(names) // deterministic errors and header order
	for _, name := range names {
		canon, err := identityHeaderName(name, seen)
		if err != nil {
			return nil, fmt.Errorf("forward.headers: %w", err)
		}
		sel, err := claims.Compile(r.Headers[name])
		if err != nil {
			return nil, fmt.Errorf("forward.headers[%s]: %w", name, err)
		}
		c.headers = append(c.headers, headerPlan{name: canon, sel: sel, claim: sel.String()})
	}
	if r.ClaimsHeader != "" {
		canon, err := identityHeaderName(r.ClaimsHeader, seen)
		if err != nil {
			return nil, fmt.Errorf("forward.claims_header: %w", err)
		}
		c.claimsHeader = canon
	}
	return c, nil
}

func checkUpstream(u *url.URL) error {
	switch {
	case u == nil:
		return errors.New("upstream.url: missing")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("upstream.url %q: scheme must be http or https", u.Redacted())
	case u.Host == "":
		return fmt.Errorf("upstream.url %q: host is empty", u.Redacted())
	case u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Errorf("upstream.url %q: only scheme, host and base path are allowed", u.Redacted())
	}
	return nil
}

// identityHeaderName validates an identity header name and returns its
// canonical form; seen catches a name used twice on one route.
func identityHeaderName(name string, seen map[string]bool) (string, error) {
	if !headers.IsToken(name) {
		return "", fmt.Errorf("%q is not a header name", name)
	}
	canon := textproto.CanonicalMIMEHeaderKey(name)
	if headers.Reserved(canon) {
		return "", fmt.Errorf("%q is set by the gateway or the protocol and cannot carry a claim", name)
	}
	if seen[canon] {
		return "", fmt.Errorf("%q is set twice", name)
	}
	seen[canon] = true
	return canon, nil
}

// matches reports whether r is for this route. path is checkPath's result
// for the request's decoded path.
func (c *route) matches(r *http.Request, path string) bool {
	if c.host != "" && !asciiEqualFold(hostKey(r.Host), c.host) {
		return false
	}
	if len(c.methods) > 0 && !slices.Contains(c.methods, r.Method) {
		return false
	}
	if c.exact {
		return path == c.prefix
	}
	return hasPathPrefix(path, c.prefix)
}

// hasPathPrefix reports whether prefix matches path on a segment boundary.
func hasPathPrefix(path, prefix string) bool {
	if prefix == "/" {
		return true
	}
	return strings.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
}

// hostKey returns the part of a Host value that routes compare (CONTRACT
// §3.1), without allocating: the port, the brackets of an IPv6 literal and
// one trailing dot removed ("API.Example.com.:8443" → "API.Example.com").
// "api.example.com." is the same name as "api.example.com" to DNS and to
// most upstream virtual-host matching, so a route for the one must catch the
// other or a client could reach the upstream's api.example.com past the
// route's policy; a second dot makes a name that no resolver accepts, which
// is matched as written. A value that is neither [ipv6][:port] nor
// host[:port] with a single colon is used whole.
func hostKey(host string) string {
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end > 0 {
			if rest := host[end+1:]; rest == "" || rest[0] == ':' && strings.IndexByte(rest[1:], ':') < 0 {
				return strings.TrimSuffix(host[1:end], ".")
			}
		}
	}
	if i := strings.IndexByte(host, ':'); i >= 0 && strings.IndexByte(host[i+1:], ':') < 0 {
		host = host[:i]
	}
	return strings.TrimSuffix(host, ".")
}

// asciiEqualFold is strings.EqualFold for ASCII letters only. Host names
// are ASCII (RFC 9110 §4.2.3, IDNs travel as punycode), and Unicode folding
// would let "ſſo.example.com" (U+017F, which folds to "s") match a route
// for "sso.example.com" while the upstream receives its punycode, a
// different name.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] != lowerASCII(s[i]) {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
