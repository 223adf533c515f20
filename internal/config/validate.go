package config

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/authgate/authgate/internal/headers"
)

// Validate re-runs validation (used after programmatic construction, e.g. by
// the demo). It normalises the same fields Load does (a trailing slash on
// path_prefix, the case of match.host and log names) and replaces Warnings,
// but fills no defaults and merges no defaults block into the routes (Load
// does both): a programmatically built Config must set every route field.
// Errors are joined *FieldError values naming c.Source, without lines.
func (c *Config) Validate() error {
	return c.check(newLocator(cmp.Or(c.Source, "configuration")))
}

// check normalises and validates c, sets c.Warnings and returns every error.
func (c *Config) check(loc *locator) error {
	normalize(c)
	p := &problems{loc: loc}
	validateServer(c, p)
	validateIssuers(c, p)
	validateCredentials(c, p)
	validateCORS(c, p)
	validateRoutes(c, p)
	notSupportedYet(c, p)
	shadowWarnings(c.Routes, p)
	c.Warnings = renderWarnings(p.warnings)
	return joinSorted(p.errs)
}

// normalize rewrites fields into the one form the rest of authgate expects.
func normalize(c *Config) {
	dropEmptyCORS(c)
	c.Log.Level = strings.ToLower(c.Log.Level)
	c.Log.Format = strings.ToLower(c.Log.Format)
	for i := range c.Routes {
		m := &c.Routes[i].Match
		m.Host = strings.ToLower(m.Host)
		// "/api/" and "/api" match the same requests (segment boundary);
		// keep one spelling so matching and shadow checks compare equal.
		if len(m.PathPrefix) > 1 {
			m.PathPrefix = strings.TrimRight(m.PathPrefix, "/")
			if m.PathPrefix == "" {
				m.PathPrefix = "/"
			}
		}
	}
}

func validateServer(c *Config, p *problems) {
	s := c.Server
	checkListen(p, "server.listen", s.Listen)
	if s.AdminListen != nil && *s.AdminListen != "" {
		checkListen(p, "server.admin_listen", *s.AdminListen)
		if *s.AdminListen == s.Listen && !strings.HasSuffix(s.Listen, ":0") {
			p.add("server.admin_listen", "must differ from server.listen")
		}
	}
	switch {
	case s.Realm == "":
		p.add("server.realm", "must not be empty")
	case strings.ContainsAny(s.Realm, "\"\\") || hasControl(s.Realm):
		// It is sent inside a quoted-string of WWW-Authenticate.
		p.add("server.realm", "must not contain quotes, backslashes or control characters")
	}
	positive(p, "server.read_header_timeout", s.ReadHeaderTimeout)
	positive(p, "server.idle_timeout", s.IdleTimeout)
	positive(p, "server.shutdown_timeout", s.ShutdownTimeout)
	if s.MaxHeaderBytes <= 0 {
		p.add("server.max_header_bytes", "must be positive")
	}
	if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
		p.add("server.tls", "set both cert_file and key_file, or neither")
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", "must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		p.add("log.format", "must be text or json")
	}
}

func checkListen(p *problems, path, addr string) {
	if addr == "" {
		p.add(path, "must not be empty")
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if _, perr := strconv.ParseUint(port, 10, 16); err != nil || perr != nil {
		p.add(path, "must be HOST:PORT or :PORT with a numeric port")
	}
}

func validateIssuers(c *Config, p *problems) {
	names := map[string]int{}
	for i, is := range c.Issuers {
		ip := indexPath("issuers", i)
		checkName(p, ip+".name", is.Name, "issuer", names, i)
		if is.Issuer == "" {
			p.add(ip+".issuer", "must not be empty")
		}
		if is.JWKSURL != "" {
			checkHTTPURL(p, ip+".jwks_url", is.JWKSURL)
		} else if is.Issuer != "" {
			if msg := httpURLProblem(is.Issuer); msg != "" {
				p.add(ip+".issuer", "%s (with jwks_url empty, the key set is discovered at {issuer}/.well-known/openid-configuration)", msg)
			}
		}
		if len(is.Audiences) == 0 {
			p.add(ip+".audiences", "must not be empty: list the audiences this gateway accepts")
		}
		nonEmptyItems(p, ip+".audiences", is.Audiences)
		checkAlgorithms(p, ip+".algorithms", is.Algorithms)
		if is.ClockSkew < 0 {
			p.add(ip+".clock_skew", "must not be negative")
		}
		nonEmptyItems(p, ip+".required_claims", is.RequiredClaims)
		nonEmptyItems(p, ip+".token_types", is.TokenTypes)
		if is.ScopeClaims != nil && len(is.ScopeClaims) == 0 {
			p.add(ip+".scope_claims", "must not be empty (leave it out for the default [scope, scp])")
		}
		nonEmptyItems(p, ip+".scope_claims", is.ScopeClaims)
		j := is.JWKS
		positive(p, ip+".jwks.refresh_interval", j.RefreshInterval)
		positive(p, ip+".jwks.min_refresh_interval", j.MinRefreshInterval)
		positive(p, ip+".jwks.max_stale", j.MaxStale)
		positive(p, ip+".jwks.timeout", j.Timeout)
		if j.MinRefreshInterval > j.RefreshInterval && j.RefreshInterval > 0 {
			p.add(ip+".jwks.min_refresh_interval", "must not exceed refresh_interval (%s)", j.RefreshInterval)
		}
		// Shorter than the refresh interval, the last good set would lapse
		// between two scheduled refreshes whenever one fetch fails.
		if j.MaxStale > 0 && j.MaxStale < j.RefreshInterval {
			p.add(ip+".jwks.max_stale", "must not be shorter than refresh_interval (%s)", j.RefreshInterval)
		}
	}
}

func checkAlgorithms(p *problems, path string, algs []string) {
	if algs != nil && len(algs) == 0 {
		p.add(path, "must not be empty (leave it out for the default set)")
	}
	for k, a := range algs {
		ap := indexPath(path, k)
		switch {
		case strings.EqualFold(a, "none"):
			p.add(ap, `algorithm "none" is never allowed: tokens must be signed`)
		case strings.HasPrefix(strings.ToUpper(a), "HS"):
			p.add(ap, "symmetric algorithm %s is not supported: keys come from a public key set", quoteShort(a))
		case !slices.Contains(defaultAlgorithms, a):
			p.add(ap, "unknown algorithm %s (allowed: %s)", quoteShort(a), strings.Join(defaultAlgorithms, ", "))
		}
	}
}

func validateCredentials(c *Config, p *problems) {
	names := map[string]int{}
	for i, cr := range c.Credentials {
		cp := indexPath("credentials", i)
		checkName(p, cp+".name", cr.Name, "credential", names, i)
		cc, ccp := cr.ClientCredentials, cp+".client_credentials"
		checkHTTPURL(p, ccp+".token_url", cc.TokenURL)
		if cc.ClientID == "" {
			p.add(ccp+".client_id", "must not be empty")
		}
		if (cc.ClientSecretFile == "") == (cc.ClientSecretEnv == "") {
			p.add(ccp, "set exactly one of client_secret_file or client_secret_env")
		}
		if cc.ClientSecretEnv != "" && !isVarName(cc.ClientSecretEnv) {
			p.add(ccp+".client_secret_env", "must be an environment variable name")
		}
		if cc.RefreshBefore < 0 {
			p.add(ccp+".refresh_before", "must not be negative")
		}
	}
}

func validateCORS(c *Config, p *problems) {
	if c.CORS == nil {
		return
	}
	co := c.CORS
	if len(co.AllowedOrigins) == 0 {
		p.add("cors.allowed_origins", "must not be empty")
	}
	for k, o := range co.AllowedOrigins {
		op := indexPath("cors.allowed_origins", k)
		switch {
		case o == "*":
			if co.AllowCredentials {
				p.add(op, `"*" is not allowed with allow_credentials: true; list the origins`)
			}
		case httpURLProblem(o) != "":
			p.add(op, "must be \"*\" or an origin such as https://app.example.com")
		default:
			// The proxy canonicalises origins with the same function.
			if _, err := headers.CanonicalOrigin(o); err != nil {
				p.add(op, "%v", err)
			}
		}
	}
	for k, m := range co.AllowedMethods {
		if !isMethod(m) {
			p.add(indexPath("cors.allowed_methods", k), "must be an uppercase HTTP method")
		}
	}
	for k, h := range co.AllowedHeaders {
		if !headers.IsToken(h) {
			p.add(indexPath("cors.allowed_headers", k), "must be a header name")
		}
	}
	for k, h := range co.ExposedHeaders {
		if !headers.IsToken(h) {
			p.add(indexPath("cors.exposed_headers", k), "must be a header name")
		}
	}
	if co.MaxAge < 0 {
		p.add("cors.max_age", "must not be negative")
	}
}

// notSupportedYet refuses the sections this release decodes but does not
// implement yet (credentials, upstream.credentials). Remove each check when
// its feature lands.
func notSupportedYet(c *Config, p *problems) {
	const msg = "not supported yet by this version of authgate"
	if len(c.Credentials) > 0 {
		p.add("credentials", msg)
	}
	for i, r := range c.Routes {
		if r.Upstream.Credentials != "" {
			p.add(indexPath("routes", i)+".upstream.credentials", msg)
		}
	}
}

// checkName checks a name that others refer to: non-empty, unique, and not
// "none", which the metrics use for "no route" and "no issuer".
func checkName(p *problems, path, name, kind string, seen map[string]int, i int) {
	switch {
	case name == "":
		p.add(path, "must not be empty")
	case name == "none":
		p.add(path, `%q is reserved: metrics use it for "no %s"`, name, kind)
	default:
		if first, dup := seen[name]; dup {
			p.add(path, "duplicate %s name %s (also %ss[%d])", kind, quoteShort(name), kind, first)
			return
		}
		seen[name] = i
	}
}

// httpURLProblem says why s is not an absolute http(s) URL, or "".
func httpURLProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "must be an absolute URL"
	case u.Scheme == "":
		return "must be an absolute URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "scheme must be http or https"
	case u.Host == "" || u.Opaque != "":
		return "must be an absolute URL"
	case u.User != nil:
		return "must not contain user information"
	}
	return ""
}

func checkHTTPURL(p *problems, path, s string) {
	if s == "" {
		p.add(path, "must not be empty")
		return
	}
	if msg := httpURLProblem(s); msg != "" {
		p.add(path, "%s", msg)
	}
}

func positive[D ~int64](p *problems, path string, d D) {
	if d <= 0 {
		p.add(path, "must be positive")
	}
}

func nonEmptyItems(p *problems, path string, items []string) {
	for k, s := range items {
		if strings.TrimSpace(s) == "" {
			p.add(indexPath(path, k), "must not be empty")
		}
	}
}

// quoteShort quotes s for a message, cut to 64 bytes so a pasted secret or a
// huge value cannot flood the output.
func quoteShort(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q…", s[:64])
	}
	return fmt.Sprintf("%q", s)
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
