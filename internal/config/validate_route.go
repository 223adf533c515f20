package config

import (
	"net"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/authgate/authgate/internal/claims"
	"github.com/authgate/authgate/internal/headers"
	"github.com/authgate/authgate/policy"
)

func validateRoutes(c *Config, p *problems) {
	if len(c.Routes) == 0 {
		p.add("routes", "at least one route is required")
	}
	issuers := map[string]bool{}
	for _, is := range c.Issuers {
		issuers[is.Name] = true
	}
	creds := map[string]bool{}
	for _, cr := range c.Credentials {
		creds[cr.Name] = true
	}
	validateDefaults(p, c.Defaults, issuers)
	names := map[string]int{}
	for i, r := range c.Routes {
		rp := indexPath("routes", i)
		checkName(p, rp+".name", r.Name, "route", names, i)
		validateMatch(p, rp+".match", r.Match)
		validateUpstream(p, rp+".upstream", r.Upstream, creds)
		validateAuth(p, rp+".auth", r.Auth, issuers, len(c.Issuers))
		validateForward(p, rp+".forward", r.Forward)
	}
}

// validateDefaults checks the defaults block where it is written, so that a
// bad value is reported once, at its own line, however many routes inherit
// it. Unlike a route's, its fields may be unset, and mode none may come with
// auth rules: they serve the routes that set another mode.
func validateDefaults(p *problems, d Defaults, issuers map[string]bool) {
	switch d.Auth.Mode {
	case "", modeRequired, modeOptional, modeNone:
	default:
		p.add("defaults.auth.mode", "must be required, optional or none")
	}
	validateAuthValues(p, "defaults.auth", d.Auth, issuers)
	validateForwardValues(p, "defaults.forward", d.Forward)
	checkClaimsHeaderClash(p, "defaults.forward", d.Forward)
	if d.Forward.Authorization != "" {
		checkAuthorization(p, "defaults.forward.authorization", d.Forward.Authorization)
	}
}

func validateMatch(p *problems, mp string, m Match) {
	switch {
	case m.PathPrefix == "" && m.Path == "":
		p.add(mp, "set exactly one of path_prefix or path")
	case m.PathPrefix != "" && m.Path != "":
		p.add(mp, "set exactly one of path_prefix or path, not both")
	case m.PathPrefix != "":
		checkRoutePath(p, mp+".path_prefix", m.PathPrefix)
	default:
		checkRoutePath(p, mp+".path", m.Path)
	}
	if m.Host != "" {
		switch {
		case strings.ContainsAny(m.Host, "/?#@ ") || hasControl(m.Host):
			p.add(mp+".host", "must be a host name, without scheme or path")
		default:
			if _, _, err := net.SplitHostPort(m.Host); err == nil {
				p.add(mp+".host", "must not include a port (ports are ignored when matching)")
			}
		}
	}
	for k, meth := range m.Methods {
		if !isMethod(meth) {
			p.add(indexPath(mp+".methods", k), "must be an uppercase HTTP method such as GET")
		}
	}
}

// checkRoutePath checks a match path against what §3.1 lets through: the
// gateway refuses request paths with "." or ".." segments or "//", so a
// route written with them could never match.
func checkRoutePath(p *problems, path, s string) {
	switch {
	case !strings.HasPrefix(s, "/"):
		p.add(path, `must start with "/"`)
	case strings.ContainsAny(s, "?#"):
		p.add(path, "must not contain a query or fragment")
	case hasControl(s):
		p.add(path, "must not contain control characters")
	default:
		segs := strings.Split(strings.TrimSuffix(s[1:], "/"), "/")
		for k, seg := range segs {
			if seg == "." || seg == ".." || seg == "" && (k > 0 || len(s) > 1) {
				p.add(path, `must not contain empty, "." or ".." segments`)
				return
			}
		}
	}
}

func validateUpstream(p *problems, up string, u Upstream, creds map[string]bool) {
	checkHTTPURL(p, up+".url", u.URL)
	if pu, err := url.Parse(u.URL); err == nil && (pu.RawQuery != "" || pu.ForceQuery || pu.Fragment != "") {
		p.add(up+".url", "must not have a query or fragment")
	}
	positive(p, up+".timeout", u.Timeout)
	if u.Credentials != "" && !creds[u.Credentials] {
		p.add(up+".credentials", "unknown credential %s", quoteShort(u.Credentials))
	}
}

func validateAuth(p *problems, ap string, a Auth, issuers map[string]bool, nIssuers int) {
	own := p.loc.own
	switch a.Mode {
	case modeRequired, modeOptional:
		if nIssuers == 0 {
			p.add(ap+".mode", "auth mode %s needs an issuer, but no issuers are configured", a.Mode)
		}
	case modeNone:
		// A public route checks nothing; rules on it would only suggest a
		// protection that does not exist. Rules it inherits from defaults
		// were dropped when merging (they serve the other routes).
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"issuers", len(a.Issuers) > 0}, {"audiences", len(a.Audiences) > 0},
			{"scopes", len(a.Scopes) > 0}, {"any_scopes", len(a.AnyScopes) > 0},
			{"claims", len(a.Claims) > 0},
		} {
			if f.set && own(ap+"."+f.name) {
				p.add(ap+"."+f.name, "has no effect with auth mode none")
			}
		}
	default:
		if own(ap + ".mode") { // an inherited mode is reported at defaults.auth.mode
			p.add(ap+".mode", "must be required, optional or none")
		}
	}
	// Inherited values were checked at the defaults block already.
	var mine Auth
	if own(ap + ".issuers") {
		mine.Issuers = a.Issuers
	}
	if own(ap + ".audiences") {
		mine.Audiences = a.Audiences
	}
	if own(ap + ".scopes") {
		mine.Scopes = a.Scopes
	}
	if own(ap + ".any_scopes") {
		mine.AnyScopes = a.AnyScopes
	}
	if own(ap + ".claims") {
		mine.Claims = a.Claims
	}
	validateAuthValues(p, ap, mine, issuers)
}

// validateAuthValues checks the values of a route's or the defaults'
// auth rules, each on its own.
func validateAuthValues(p *problems, ap string, a Auth, issuers map[string]bool) {
	for k, name := range a.Issuers {
		if !issuers[name] {
			p.add(indexPath(ap+".issuers", k), "unknown issuer %s", quoteShort(name))
		}
	}
	nonEmptyItems(p, ap+".audiences", a.Audiences)
	for _, f := range []struct {
		name   string
		scopes []string
	}{{"scopes", a.Scopes}, {"any_scopes", a.AnyScopes}} {
		for k, s := range f.scopes {
			if !isScopeToken(s) {
				p.add(indexPath(ap+"."+f.name, k), "must be a scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)")
			}
		}
	}
	for _, key := range sortedKeys(a.Claims) {
		// The gateway compiles the same rule with policy.New; its error
		// is the one to show, and check can never accept what it refuses.
		if _, err := policy.CompileClaim(key, a.Claims[key]); err != nil {
			p.add(keyPath(ap+".claims", key), "%v", err)
		}
	}
}

func validateForward(p *problems, fp string, f Forward) {
	own := p.loc.own
	mine := Forward{ClaimsHeader: f.ClaimsHeader}
	if own(fp + ".headers") {
		mine.Headers = f.Headers
	}
	if !own(fp + ".claims_header") {
		mine.ClaimsHeader = ""
	}
	validateForwardValues(p, fp, mine)
	// The pair is checked here when the route wrote at least one of them;
	// a clash within the defaults block is reported there.
	if own(fp+".headers") || own(fp+".claims_header") {
		checkClaimsHeaderClash(p, fp, f)
	}
	if own(fp + ".authorization") {
		checkAuthorization(p, fp+".authorization", f.Authorization)
	}
}

// validateForwardValues checks forward.headers and forward.claims_header,
// each on its own.
func validateForwardValues(p *problems, fp string, f Forward) {
	for _, name := range sortedKeys(f.Headers) {
		hp := keyPath(fp+".headers", name)
		checkHeaderName(p, hp, name)
		if first := firstFold(f.Headers, name); first != name {
			p.add(hp, "header %s is also listed as %s (header names are case-insensitive)", quoteShort(name), quoteShort(first))
		}
		checkClaimRef(p, hp, name, f.Headers[name])
	}
	if f.ClaimsHeader != "" {
		checkHeaderName(p, fp+".claims_header", f.ClaimsHeader)
	}
}

// checkClaimsHeaderClash refuses a claims_header that forward.headers sets
// too: the two values would overwrite each other upstream.
func checkClaimsHeaderClash(p *problems, fp string, f Forward) {
	if f.ClaimsHeader != "" && hasHeaderFold(f.Headers, f.ClaimsHeader) {
		p.add(fp+".claims_header", "header %s is also set by forward.headers", quoteShort(f.ClaimsHeader))
	}
}

func checkAuthorization(p *problems, path, v string) {
	switch v {
	case authKeep, authStrip:
	default:
		p.add(path, "must be keep or strip")
	}
}

// checkHeaderName checks a header the gateway sets upstream.
func checkHeaderName(p *problems, path, name string) {
	canon := textproto.CanonicalMIMEHeaderKey(name)
	switch {
	case !headers.IsToken(name):
		p.add(path, "header %s is not a valid header name", quoteShort(name))
	case headers.Reserved(canon):
		p.add(path, "header %s is managed by the gateway and cannot be set from a claim", quoteShort(name))
	}
}

// checkClaimRef checks the claim a header is filled from: a top-level claim
// name, or an RFC 6901 JSON Pointer when it starts with "/".
func checkClaimRef(p *problems, path, header, ref string) {
	if ref == "" {
		p.add(path, "header %s needs a claim name or JSON Pointer", quoteShort(header))
		return
	}
	// The proxy compiles the same selector; its error is the one to show.
	if _, err := claims.Compile(ref); err != nil {
		p.add(path, "header %s: %v", quoteShort(header), err)
	}
}

// firstFold returns the alphabetically first key of m equal to name under
// case folding, so a pair of such keys is reported once, at the later one.
func firstFold(m map[string]string, name string) string {
	first := name
	for k := range m {
		if strings.EqualFold(k, name) && k < first {
			first = k
		}
	}
	return first
}

func hasHeaderFold(m map[string]string, name string) bool {
	for k := range m {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// isToken reports whether s is an RFC 9110 §5.6.2 token (header names,
// methods).

// isMethod reports whether s is a method token without lowercase letters;
// methods are case-sensitive and the standard ones are uppercase.
func isMethod(s string) bool { return headers.IsToken(s) && strings.ToUpper(s) == s }

// isScopeToken reports whether s is an RFC 6749 §3.3 scope-token: it is
// echoed inside scope="..." in WWW-Authenticate.
func isScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
			return false
		}
	}
	return true
}
