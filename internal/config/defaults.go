package config

import (
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/authgate/authgate/internal/credentials"
	"github.com/authgate/authgate/internal/field"
	"github.com/authgate/authgate/internal/verify"
	"github.com/authgate/authgate/jwks"
	"github.com/authgate/authgate/proxy"
)

// Defaults of docs/reference.md §2.1. A default that a constructor applies to a zero
// value is the constructor's, and is named from there: jwks.Default*,
// verify.Default*, proxy.DefaultRealm; the CORS methods and headers are
// filled by proxy.New and not here at all. The others are the
// configuration's own: the constructor reads zero differently (no upstream
// timeout, no Access-Control-Max-Age, no clock skew) or there is no
// constructor (listeners, logs, credentials).
const (
	defaultListen            = ":8080"
	defaultAdminListen       = ":9090"
	defaultReadHeaderTimeout = 10 * time.Second
	defaultIdleTimeout       = 120 * time.Second
	defaultShutdownTimeout   = 25 * time.Second
	defaultMaxHeaderBytes    = 32768
	defaultLogLevel          = "info"
	defaultLogFormat         = "text"
	defaultClockSkew         = 30 * time.Second
	defaultUpstreamTimeout   = 30 * time.Second
	defaultRefreshBefore     = 60 * time.Second
	defaultCORSMaxAge        = 10 * time.Minute
)

// Auth modes and forward.authorization values.
const (
	modeRequired = "required"
	modeOptional = "optional"
	modeNone     = "none"
	authKeep     = "keep"
	authStrip    = "strip"
)

// fillDefaults merges the defaults block into the routes, then sets every
// field that neither the file, the environment nor the defaults block set.
// "Set" comes from loc, so an explicit zero (clock_skew: 0s) or an explicit
// empty list (token_types: []) is kept and validated as written. The
// realm, issuers' lists and key set durations are filled with the
// constructors' defaults although those would fill them too, so that check
// and explain show the values in force.
func fillDefaults(c *Config, loc *locator) {
	str := func(dst *string, path, def string) {
		if *dst == "" && !loc.isSet(path) {
			*dst = def
		}
	}
	dur := func(dst *time.Duration, path string, def time.Duration) {
		if *dst == 0 && !loc.isSet(path) {
			*dst = def
		}
	}
	list := func(dst *[]string, def []string) {
		// nil is absent; an explicit [] decodes to a non-nil empty slice.
		if *dst == nil {
			*dst = slices.Clone(def)
		}
	}

	s := &c.Server
	str(&s.Listen, "server.listen", defaultListen)
	if s.AdminListen == nil {
		a := defaultAdminListen
		s.AdminListen = &a
	}
	str(&s.Realm, "server.realm", proxy.DefaultRealm)
	dur(&s.ReadHeaderTimeout, "server.read_header_timeout", defaultReadHeaderTimeout)
	dur(&s.IdleTimeout, "server.idle_timeout", defaultIdleTimeout)
	dur(&s.ShutdownTimeout, "server.shutdown_timeout", defaultShutdownTimeout)
	if s.MaxHeaderBytes == 0 && !loc.isSet("server.max_header_bytes") {
		s.MaxHeaderBytes = defaultMaxHeaderBytes
	}

	str(&c.Log.Level, "log.level", defaultLogLevel)
	str(&c.Log.Format, "log.format", defaultLogFormat)
	if c.Log.Access == nil {
		on := true
		c.Log.Access = &on
	}

	for i := range c.Issuers {
		is, p := &c.Issuers[i], field.Index("issuers", i)
		list(&is.Algorithms, verify.DefaultAlgorithms)
		dur(&is.ClockSkew, p+".clock_skew", defaultClockSkew)
		list(&is.RequiredClaims, verify.DefaultRequiredClaims)
		list(&is.ScopeClaims, verify.DefaultScopeClaims)
		dur(&is.JWKS.RefreshInterval, p+".jwks.refresh_interval", jwks.DefaultRefreshInterval)
		dur(&is.JWKS.MinRefreshInterval, p+".jwks.min_refresh_interval", jwks.DefaultMinRefreshInterval)
		dur(&is.JWKS.MaxStale, p+".jwks.max_stale", jwks.DefaultMaxStale)
		dur(&is.JWKS.Timeout, p+".jwks.timeout", jwks.DefaultTimeout)
	}

	for i := range c.Credentials {
		if tx := c.Credentials[i].TokenExchange; tx != nil {
			if tx.AuthMethod == "" {
				tx.AuthMethod = credentials.AuthBasic
			}
			if tx.CacheSize == 0 && !loc.isSet(field.Index("credentials", i)+".token_exchange.cache_size") {
				tx.CacheSize = credentials.DefaultCacheSize
			}
		}
		cc := c.Credentials[i].ClientCredentials
		if cc == nil {
			continue
		}
		if cc.AuthMethod == "" {
			cc.AuthMethod = credentials.AuthBasic
		}
		dur(&cc.RefreshBefore, field.Index("credentials", i)+".client_credentials.refresh_before", defaultRefreshBefore)
	}

	if c.VerifyCache.Size == 0 && !loc.isSet("verify_cache.size") {
		c.VerifyCache.Size = verify.DefaultCacheSize
	}
	dur(&c.VerifyCache.MaxTTL, "verify_cache.max_ttl", verify.DefaultCacheMaxTTL)

	dropEmptyCORS(c)
	if c.CORS != nil {
		dur(&c.CORS.MaxAge, "cors.max_age", defaultCORSMaxAge)
	}

	mergeDefaults(c, loc)
	for i := range c.Routes {
		r, p := &c.Routes[i], field.Index("routes", i)
		dur(&r.Upstream.Timeout, p+".upstream.timeout", defaultUpstreamTimeout)
		str(&r.Auth.Mode, p+".auth.mode", modeRequired)
		str(&r.Forward.Authorization, p+".forward.authorization", authKeep)
	}
}

// mergeDefaults merges the defaults block into every route, field by field
// (docs/reference.md §2.1): a field the route sets, even to an explicitly empty list
// or mapping, wins; otherwise the default's value applies. Lists and
// mappings are replaced whole, never combined, so a route can always say
// exactly what it wants. It runs before the built-in defaults, which then
// fill what is still unset (auth.mode required, authorization keep).
//
// Every inherited field is recorded in loc.inherited: validation reports a
// bad inherited value once, at the defaults block's line, and the rule that
// a mode-none route sets no auth rules applies to what the route wrote
// itself. A route whose mode is none drops the auth rules it inherited, as
// nothing checks them there; inherited forward settings stay, so those
// headers are still stripped from its requests (and never set, as it has
// no identity).
func mergeDefaults(c *Config, loc *locator) {
	d := c.Defaults
	for i := range c.Routes {
		r, rp := &c.Routes[i], field.Index("routes", i)
		inherit := func(field string, has bool, apply func()) {
			if has && !loc.isSet(rp+"."+field) {
				apply()
				loc.inherited[rp+"."+field] = true
			}
		}
		a, f := &r.Auth, &r.Forward
		inherit("auth.mode", d.Auth.Mode != "", func() { a.Mode = d.Auth.Mode })
		inherit("auth.issuers", d.Auth.Issuers != nil, func() { a.Issuers = slices.Clone(d.Auth.Issuers) })
		inherit("auth.audiences", d.Auth.Audiences != nil, func() { a.Audiences = slices.Clone(d.Auth.Audiences) })
		inherit("auth.scopes", d.Auth.Scopes != nil, func() { a.Scopes = slices.Clone(d.Auth.Scopes) })
		inherit("auth.any_scopes", d.Auth.AnyScopes != nil, func() { a.AnyScopes = slices.Clone(d.Auth.AnyScopes) })
		inherit("auth.claims", d.Auth.Claims != nil, func() { a.Claims = maps.Clone(d.Auth.Claims) })
		inherit("forward.headers", d.Forward.Headers != nil, func() { f.Headers = maps.Clone(d.Forward.Headers) })
		inherit("forward.claims_header", d.Forward.ClaimsHeader != "", func() { f.ClaimsHeader = d.Forward.ClaimsHeader })
		inherit("forward.authorization", d.Forward.Authorization != "", func() { f.Authorization = d.Forward.Authorization })

		if a.Mode != modeNone {
			continue
		}
		for _, field := range []struct {
			name  string
			clear func()
		}{
			{"auth.issuers", func() { a.Issuers = nil }},
			{"auth.audiences", func() { a.Audiences = nil }},
			{"auth.scopes", func() { a.Scopes = nil }},
			{"auth.any_scopes", func() { a.AnyScopes = nil }},
			{"auth.claims", func() { a.Claims = nil }},
		} {
			if p := rp + "." + field.name; loc.inherited[p] {
				field.clear()
				delete(loc.inherited, p)
			}
		}
	}
}

// dropEmptyCORS treats "cors: {}" like an absent block: no CORS handling.
func dropEmptyCORS(c *Config) {
	if c.CORS != nil && reflect.ValueOf(*c.CORS).IsZero() {
		c.CORS = nil
	}
}
