package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/headers"

	"github.com/authgate/authgate/internal/claims"
	"github.com/authgate/authgate/policy"
)

// Route is one routing rule as the gateway compiles it from configuration
// (CONTRACT §2.1 routes). New validates it; the Handler never modifies it.
type Route struct {
	// Name identifies the route in logs and metrics. It must be non-empty and
	// not "none", the label of unmatched requests.
	Name string
	// Host, if set, must equal the request's host, compared
	// case-insensitively with any port ignored (on either side). "" matches
	// any host.
	Host string
	// Methods, if non-empty, lists the methods the route accepts. Methods
	// are case-sensitive (RFC 9110 §9.1); New upper-cases them.
	Methods []string
	// Path matches exactly this decoded path. Exactly one of Path and
	// PathPrefix is set, and it starts with "/".
	Path string
	// PathPrefix matches the decoded paths that equal it or continue it with
	// a "/": "/api" matches "/api" and "/api/x", not "/apix". "/" matches
	// every path. A trailing "/" is ignored ("/api/" is "/api").
	PathPrefix string
	// Upstream is where requests go: an absolute http or https URL with an
	// optional base path that the request path is appended to.
	Upstream *url.URL
	// StripPrefix removes the matched PathPrefix (or Path) from the path
	// before it is appended to the upstream's base path.
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
	host    string   // lower-cased, without port
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

// headerPlan is one identity header: the canonical name and its selector.
type headerPlan struct {
	name string
	sel  claims.Selector
}

// compileRoute validates r and precomputes everything a request needs.
func compileRoute(r Route) (*route, error) {
	if r.Name == "" {
		return nil, errors.New("name is empty")
	}
	if r.Name == noRoute {
		return nil, fmt.Errorf("name %q is reserved for unmatched requests", noRoute)
	}
	c := &route{Route: r, host: strings.ToLower(hostname(r.Host))}
	for _, m := range r.Methods {
		if !headers.IsToken(m) {
			return nil, fmt.Errorf("methods: %q is not a method name", m)
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
		c.headers = append(c.headers, headerPlan{name: canon, sel: sel})
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

// matches reports whether r is for this route. path is the decoded path,
// already checked by checkPath.
func (c *route) matches(r *http.Request, path string) bool {
	if c.host != "" && !strings.EqualFold(hostname(r.Host), c.host) {
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

// hostname strips the port from a Host header value, and the brackets from
// an IPv6 literal.
func hostname(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

// errBadPath is the cause of every path refusal; the client only learns that
// the path was refused.
var errBadPath = errors.New("path refused")

// checkPath enforces CONTRACT §3.1 on the decoded path: it must start with
// "/" and hold no "." or ".." segment and no empty segment ("//"), except an
// empty last segment (a trailing slash). Routing on a path that an upstream
// would normalise differently is how "/public/../admin" reaches /admin behind
// a gateway that let it through as /public; refusing such paths outright
// leaves nothing to disagree about. Decoding first catches "%2e%2e" and "%2F".
func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%w: does not start with /", errBadPath)
	}
	rest := p[1:]
	for rest != "" {
		seg, tail, more := strings.Cut(rest, "/")
		switch {
		case seg == "." || seg == "..":
			return fmt.Errorf("%w: dot segment", errBadPath)
		case seg == "" && more:
			return fmt.Errorf("%w: empty segment", errBadPath)
		}
		rest = tail
	}
	return nil
}
