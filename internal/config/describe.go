package config

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/authgate/authgate/internal/human"

	"github.com/authgate/authgate/policy"
	"github.com/authgate/authgate/proxy"
)

// Describe writes a human-readable summary of the resolved configuration for
// `authgate check`: every resolved setting that decides a verdict.
// Listeners; each issuer (name, iss, jwks source and timing, audiences,
// algorithms, clock_skew, required_claims, token_types, scope_claims); the
// cors block; each route in order (name, match, upstream, auth mode,
// issuers, audiences, scopes and any_scopes, claims, forwarded headers,
// claims header, authorization), then warnings. Credentials show their name, token URL without query, client
// ID, auth method and scopes. Routes are shown with the defaults block merged in.
// It prints configuration values only, never secrets: the configuration
// holds none (client secrets are referenced by file or variable name).
func (c *Config) Describe(w io.Writer) {
	fmt.Fprintf(w, "configuration: %s\n\n", c.Source)

	s := c.Server
	scheme := "http"
	if s.TLS.CertFile != "" {
		scheme = "https"
	}
	fmt.Fprintln(w, "listeners:")
	fmt.Fprintf(w, "  gateway  %s (%s)\n", s.Listen, scheme)
	if admin := s.AdminAddr(); admin != "" {
		paths := "/healthz /readyz"
		if s.Pprof {
			paths += " /debug/pprof/"
		}
		fmt.Fprintf(w, "  admin    %s (%s)\n", admin, paths)
	} else {
		fmt.Fprintln(w, "  admin    disabled")
	}
	fmt.Fprintf(w, "  log      level %s, format %s, access log %s\n", c.Log.Level, c.Log.Format, onOff(c.Log.AccessEnabled()))
	if vc := c.VerifyCache; vc.Size > 0 {
		fmt.Fprintf(w, "  cache    verified tokens: %d entries, max_ttl %s\n", vc.Size, vc.MaxTTL)
	} else {
		fmt.Fprintln(w, "  cache    verified tokens: off")
	}

	fmt.Fprintf(w, "\nissuers (%d):\n", len(c.Issuers))
	for _, is := range c.Issuers {
		jwks := is.JWKSURL
		if jwks == "" {
			jwks = "discovered from " + strings.TrimSuffix(is.Issuer, "/") + "/.well-known/openid-configuration"
		}
		field := func(name, value string) { fmt.Fprintf(w, "    %-16s %s\n", name, value) }
		fmt.Fprintf(w, "  %s\n", is.Name)
		field("iss", is.Issuer)
		field("jwks", jwks)
		field("jwks timing", fmt.Sprintf("refresh %s, min_refresh_interval %s, max_stale %s, timeout %s",
			human.Duration(is.JWKS.RefreshInterval), human.Duration(is.JWKS.MinRefreshInterval), human.Duration(is.JWKS.MaxStale), human.Duration(is.JWKS.Timeout)))
		field("audiences", list(is.Audiences, "none"))
		field("algorithms", list(is.Algorithms, "none"))
		field("clock_skew", human.Duration(is.ClockSkew))
		field("required_claims", list(is.RequiredClaims, "none"))
		field("token_types", list(is.TokenTypes, "any (typ not checked)"))
		field("scope_claims", list(is.ScopeClaims, "none"))
	}

	describeCORS(w, c.CORS)

	if len(c.Credentials) > 0 {
		fmt.Fprintf(w, "\ncredentials (%d):\n", len(c.Credentials))
		for _, cr := range c.Credentials {
			describeCredential(w, cr)
		}
	}

	fmt.Fprintf(w, "\nroutes (%d, first match wins):\n", len(c.Routes))
	for i, r := range c.Routes {
		field := func(name, value string) { fmt.Fprintf(w, "     %-14s %s\n", name, value) }
		fmt.Fprintf(w, "  %d. %s\n", i+1, r.Name)
		field("match", r.Match.String())
		field("upstream", describeUpstream(r.Upstream))
		field("auth", r.Auth.Mode)
		if r.Auth.Mode != modeNone {
			field("issuers", list(r.Auth.Issuers, "all: "+list(c.issuerNames(), "none")))
			field("audiences", list(r.Auth.Audiences, "the issuer's"))
			field("scopes", describeScopes(r.Auth))
			field("claims", describeClaims(r.Auth.Claims))
		}
		field("forward", describeHeaders(r.Forward.Headers))
		if r.Forward.ClaimsHeader != "" {
			field("claims header", r.Forward.ClaimsHeader)
		}
		field("authorization", r.Forward.Authorization)
	}

	if len(c.Warnings) > 0 {
		fmt.Fprintf(w, "\nwarnings (%d):\n", len(c.Warnings))
		for _, warning := range c.Warnings {
			fmt.Fprintf(w, "  %s\n", warning)
		}
	}
}

// String describes what the route matches, e.g. "path_prefix /api, any
// host, methods GET HEAD", as check and explain print it.
func (m Match) String() string {
	var parts []string
	if m.PathPrefix != "" {
		parts = append(parts, "path_prefix "+m.PathPrefix)
	} else {
		parts = append(parts, "path "+m.Path)
	}
	if m.Host != "" {
		parts = append(parts, "host "+m.Host)
	} else {
		parts = append(parts, "any host")
	}
	if len(m.Methods) > 0 {
		parts = append(parts, "methods "+strings.Join(m.Methods, " "))
	} else {
		parts = append(parts, "any method")
	}
	return strings.Join(parts, ", ")
}

func describeUpstream(u Upstream) string {
	s := u.URL + " (timeout " + u.Timeout.String()
	if u.StripPrefix {
		s += ", strip_prefix"
	}
	if u.PreserveHost {
		s += ", preserve_host"
	}
	if u.Credentials != "" {
		s += ", credentials " + u.Credentials
	}
	return s + ")"
}

func describeScopes(a Auth) string {
	var parts []string
	if len(a.Scopes) > 0 {
		parts = append(parts, "all of "+strings.Join(a.Scopes, " "))
	}
	if len(a.AnyScopes) > 0 {
		parts = append(parts, "any of "+strings.Join(a.AnyScopes, " "))
	}
	if len(parts) == 0 {
		return "none required"
	}
	return strings.Join(parts, "; ")
}

// describeClaims prints each claim rule as policy compiles it, in the
// order the policy checks them (by key).
func describeClaims(c ClaimRules) string {
	if len(c) == 0 {
		return "none required"
	}
	parts := make([]string, 0, len(c))
	for _, key := range sortedKeys(c) {
		cond, err := policy.CompileClaim(key, c[key])
		if err != nil { // validation refuses these; never expected here
			cond = "invalid: " + err.Error()
		}
		parts = append(parts, key+": "+cond)
	}
	return strings.Join(parts, "; ")
}

// describeCORS writes the cors block as configured. Empty methods and
// headers lists take proxy's defaults, printed as such, and the gateway's
// own response headers are always exposed besides exposed_headers.
func describeCORS(w io.Writer, c *CORS) {
	if c == nil {
		fmt.Fprintln(w, "\ncors: off (no cors block: the gateway sends no CORS headers)")
		return
	}
	field := func(name, value string) { fmt.Fprintf(w, "  %-18s %s\n", name, value) }
	methods, headers, exposed := proxy.CORSDefaults()
	fmt.Fprintln(w, "\ncors:")
	field("allowed_origins", list(c.AllowedOrigins, "none"))
	field("allowed_methods", list(c.AllowedMethods, list(methods, "")+" (the default)"))
	field("allowed_headers", list(c.AllowedHeaders, list(headers, "")+" (the default)"))
	field("exposed_headers", list(c.ExposedHeaders, "none")+" (and always the gateway's own: "+list(exposed, "")+")")
	field("allow_credentials", onOff(c.AllowCredentials))
	field("max_age", human.Duration(c.MaxAge))
}

func describeHeaders(h map[string]string) string {
	parts := make([]string, 0, len(h))
	for _, name := range sortedKeys(h) {
		parts = append(parts, name+"="+h[name])
	}
	return list(parts, "no headers")
}

func list(items []string, empty string) string {
	if len(items) == 0 {
		return empty
	}
	return strings.Join(items, ", ")
}

func (c *Config) issuerNames() []string {
	names := make([]string, len(c.Issuers))
	for i, is := range c.Issuers {
		names[i] = is.Name
	}
	return names
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// describeCredential writes one credential. The token URL's query and
// user information are left out: an operator may have put a key there.
func describeCredential(w io.Writer, cr Credential) {
	fmt.Fprintf(w, "  %s\n", cr.Name)
	if tx := cr.TokenExchange; tx != nil {
		fmt.Fprintln(w, "    grant       token exchange (RFC 8693), per client token")
		fmt.Fprintf(w, "    token url   %s\n", redactURL(tx.TokenURL))
		fmt.Fprintf(w, "    client id   %s\n", tx.ClientID)
		fmt.Fprintf(w, "    auth        %s\n", tx.AuthMethod)
		fmt.Fprintf(w, "    audience    %s\n", orNone(tx.Audience))
		fmt.Fprintf(w, "    resource    %s\n", list(tx.Resource, "none"))
		fmt.Fprintf(w, "    scopes      %s\n", list(tx.Scopes, "none"))
		fmt.Fprintf(w, "    cache size  %d\n", tx.CacheSize)
		return
	}
	cc := cr.ClientCredentials
	fmt.Fprintln(w, "    grant       client credentials")
	fmt.Fprintf(w, "    token url   %s\n", redactURL(cc.TokenURL))
	fmt.Fprintf(w, "    client id   %s\n", cc.ClientID)
	fmt.Fprintf(w, "    auth        %s\n", cc.AuthMethod)
	fmt.Fprintf(w, "    scopes      %s\n", list(cc.Scopes, "none"))
}

// redactURL is u without its query, fragment and user information.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		u.RawQuery, u.ForceQuery, u.Fragment, u.User = "", false, "", nil
		return u.String()
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
