package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/claims"
	"github.com/authgate/authgate/internal/field"
	"github.com/authgate/authgate/policy"
)

// Route is one routing rule as the gateway compiles it from configuration
// (docs/reference.md §2.1 routes). New validates it; the Handler never modifies it.
type Route struct {
	// Name identifies the route in logs and metrics. It must be non-empty,
	// unique among the routes and not "none", the label of unmatched
	// requests.
	Name string
	// Host, if set, must equal the request's host, compared
	// case-insensitively (ASCII only) with the request's port and one
	// trailing dot on either side ignored (see hostKey). It is a host name
	// without scheme, path, port, space or control character. "" matches
	// any host.
	Host string
	// Methods, if non-empty, lists the methods the route accepts. Methods
	// are case-sensitive (RFC 9110 §9.1), so each must be an upper-case
	// method token, as the standard methods and the requests for them are.
	// TRACE and CONNECT are refused: they are never forwarded.
	Methods []string
	// Path matches exactly this decoded path, once each segment's
	// ";parameters" are removed from the request's. Exactly one of Path and
	// PathPrefix is set; it starts with "/", has no "?" or "#", and is a
	// path checkPath accepts, without parameters (a route that could never
	// match is refused; see checkRoutePath).
	Path string
	// PathPrefix matches the decoded paths that equal it or continue it with
	// a "/", parameters removed as for Path: "/api" matches "/api",
	// "/api;v=1" and "/api/x", not "/apix". "/" matches every path. A
	// trailing "/" is ignored ("/api/" is "/api").
	PathPrefix string
	// Upstream is where requests go: an absolute http or https URL with an
	// optional base path that the request path is appended to, and nothing
	// else (see checkUpstream; ParseUpstream parses a configured one).
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
	// limit; it must not be negative.
	Timeout time.Duration
	// Mode says what a request without a token gets (docs/reference.md §3.3 step 1).
	Mode policy.Mode
	// Auth verifies tokens and applies the route's policy. It is nil if and
	// only if Mode is policy.None.
	Auth Authenticator
	// Scopes are the scopes the route requires; a 403 names them in
	// WWW-Authenticate scope="…" (RFC 6750 §3). They must be RFC 6749 §3.3
	// scope tokens (policy.IsScopeToken), which need no quoting.
	Scopes []string
	// Headers maps an upstream header name to a claim selector
	// (claims.Compile syntax). Each is set from the verified claims; an
	// absent or null claim leaves the header unset. A name must be a header
	// name the gateway does not own (headers.Reserved), listed once in any
	// case.
	Headers map[string]string
	// ClaimsHeader, if set, names a header that carries the whole verified
	// payload, base64url-encoded without padding. The rules of a Headers
	// name apply, and Headers must not set it too.
	ClaimsHeader string
	// StripAuthorization removes the client's Authorization header from the
	// upstream request. A route with a Credential never sends it, whatever
	// this says.
	StripAuthorization bool
	// Credential, if set, supplies the gateway's own token for the upstream
	// (docs/reference.md §3.8): once the request is allowed, the gateway sends
	// "Authorization: Bearer <its token>" instead of the client's
	// Authorization, which never goes upstream on such a route, and retries
	// once on an upstream 401 when the request can be replayed (see
	// MaxReplayBody). A token it cannot get is a 502 naming it. Nil: none.
	Credential Credential
}

// noRoute is the route label of requests that match no route.
const noRoute = "none"

// route is a compiled Route: matchers, the header plan and its reverse proxy.
type route struct {
	Route
	index   int      // in Options.Routes, for Outcome.RouteIndex
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

// Validate reports every problem New would refuse in r apart from its Auth,
// as *field.Error values with paths in configuration spelling relative to
// the route: name, match.methods[1], match.path_prefix, upstream.url,
// forward.headers.X-User, forward.claims_header. It builds nothing.
func (r Route) Validate() error {
	_, err := r.compile()
	return err
}

// compileRoute validates r and precomputes everything a request needs.
func compileRoute(r Route) (*route, error) {
	c, err := r.compile()
	if err != nil {
		return nil, err
	}
	if (r.Mode == policy.None) != (r.Auth == nil) {
		return nil, fmt.Errorf("auth mode %s: an authenticator is needed exactly when the mode is not none", r.Mode)
	}
	return c, nil
}

// compile checks every field of r but Auth and precomputes the matchers and
// the header plan. It reports every problem, not only the first.
func (r Route) compile() (*route, error) {
	var errs []error
	fail := func(path string, err error) { errs = append(errs, &field.Error{Path: path, Err: err}) }
	switch r.Name {
	case "":
		fail("name", errors.New("must not be empty"))
	case noRoute:
		fail("name", fmt.Errorf("%q is reserved: metrics use it for \"no route\"", noRoute))
	}
	c := &route{Route: r, host: asciiLower(hostKey(r.Host))}
	if err := checkRouteHost(r.Host, c.host); err != nil {
		fail("match.host", err)
	}
	for i, m := range r.Methods {
		if err := checkRouteMethod(m); err != nil {
			fail(field.Index("match.methods", i), err)
			continue
		}
		c.methods = append(c.methods, m)
	}
	switch {
	case r.Path == "" && r.PathPrefix == "":
		fail("match", errors.New("set exactly one of path_prefix or path"))
	case r.Path != "" && r.PathPrefix != "":
		fail("match", errors.New("set exactly one of path_prefix or path, not both"))
	case r.Path != "":
		c.prefix, c.exact = r.Path, true
		if err := checkRoutePath(c.prefix); err != nil {
			fail("match.path", err)
		}
	default:
		// "/api/" matches what "/api" matches (a segment boundary).
		c.prefix = strings.TrimRight(r.PathPrefix, "/")
		if c.prefix == "" {
			c.prefix = "/"
		}
		if err := checkRoutePath(c.prefix); err != nil {
			fail("match.path_prefix", err)
		}
	}
	if err := checkUpstream(r.Upstream); err != nil {
		fail("upstream.url", err)
	} else {
		c.baseRaw, c.base = r.Upstream.EscapedPath(), r.Upstream.Path
	}
	if r.Timeout < 0 {
		fail("upstream.timeout", errors.New("must not be negative"))
	}
	if r.Mode != policy.Required && r.Mode != policy.Optional && r.Mode != policy.None {
		fail("auth.mode", errors.New("must be required, optional or none"))
	}
	for i, s := range r.Scopes {
		if !policy.IsScopeToken(s) {
			fail(field.Index("scopes", i), errors.New("must be a scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)"))
		}
	}
	c.scope = strings.Join(r.Scopes, " ")

	// seen maps a lower-cased name to the first spelling of it, in sorted
	// order, so that a pair differing only in case is reported once, at
	// the later name.
	seen := map[string]string{}
	names := make([]string, 0, len(r.Headers))
	for name := range r.Headers {
		names = append(names, name)
	}
	slices.Sort(names) // deterministic errors and header order
	for _, name := range names {
		hp := field.Key("forward.headers", name)
		canon, nameErr := identityHeaderName(name)
		if nameErr != nil {
			fail(hp, nameErr)
		}
		if first, dup := seen[asciiLower(name)]; dup {
			fail(hp, fmt.Errorf("header %s is also listed as %s (header names are case-insensitive)", field.Quote(name), field.Quote(first)))
		} else {
			seen[asciiLower(name)] = name
		}
		sel, selErr := compileSelector(name, r.Headers[name])
		if selErr != nil {
			fail(hp, selErr)
		}
		if nameErr == nil && selErr == nil {
			c.headers = append(c.headers, headerPlan{name: canon, sel: sel, claim: sel.String()})
		}
	}
	if r.ClaimsHeader != "" {
		canon, err := identityHeaderName(r.ClaimsHeader)
		switch {
		case err != nil:
			fail("forward.claims_header", err)
		case seen[asciiLower(r.ClaimsHeader)] != "":
			// The two values would overwrite each other upstream.
			fail("forward.claims_header", fmt.Errorf("header %s is also set by forward.headers", field.Quote(r.ClaimsHeader)))
		default:
			c.claimsHeader = canon
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
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

// hostKey returns the part of a Host value that routes compare (docs/reference.md
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

// asciiUpper upper-cases ASCII letters only, like asciiLower.
func asciiUpper(s string) string {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'a' <= b[j] && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
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
