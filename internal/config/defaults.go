package config

import (
	"fmt"
	"reflect"
	"slices"
	"time"
)

// Defaults of CONTRACT §2.1, in one place.
const (
	defaultListen            = ":8080"
	defaultAdminListen       = ":9090"
	defaultRealm             = "authgate"
	defaultReadHeaderTimeout = 10 * time.Second
	defaultIdleTimeout       = 120 * time.Second
	defaultShutdownTimeout   = 25 * time.Second
	defaultMaxHeaderBytes    = 32768
	defaultLogLevel          = "info"
	defaultLogFormat         = "text"
	defaultClockSkew         = 30 * time.Second
	defaultRefreshInterval   = 15 * time.Minute
	defaultMinRefresh        = 30 * time.Second
	defaultMaxStale          = 24 * time.Hour
	defaultJWKSTimeout       = 5 * time.Second
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

// defaultAlgorithms is the default and also the complete set of accepted
// signature algorithms: asymmetric only, because keys come from a public JWKS.
var defaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

var (
	defaultRequiredClaims = []string{"exp"}
	defaultScopeClaims    = []string{"scope", "scp"}
	defaultCORSMethods    = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	defaultCORSHeaders    = []string{"Authorization", "Content-Type"}
)

// fillDefaults merges the defaults block into the routes, then sets every
// field that neither the file, the environment nor the defaults block set. "Set" comes from loc, so an explicit zero (clock_skew: 0s) or an
// explicit empty list (token_types: []) is kept and validated as written.
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
	str(&s.Realm, "server.realm", defaultRealm)
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
		is, p := &c.Issuers[i], fmt.Sprintf("issuers[%d]", i)
		list(&is.Algorithms, defaultAlgorithms)
		dur(&is.ClockSkew, p+".clock_skew", defaultClockSkew)
		list(&is.RequiredClaims, defaultRequiredClaims)
		list(&is.ScopeClaims, defaultScopeClaims)
		dur(&is.JWKS.RefreshInterval, p+".jwks.refresh_interval", defaultRefreshInterval)
		dur(&is.JWKS.MinRefreshInterval, p+".jwks.min_refresh_interval", defaultMinRefresh)
		dur(&is.JWKS.MaxStale, p+".jwks.max_stale", defaultMaxStale)
		dur(&is.JWKS.Timeout, p+".jwks.timeout", defaultJWKSTimeout)
	}

	for i := range c.Credentials {
		cc := &c.Credentials[i].ClientCredentials
		dur(&cc.RefreshBefore, fmt.Sprintf("credentials[%d].client_credentials.refresh_before", i), defaultRefreshBefore)
	}

	dropEmptyCORS(c)
	if c.CORS != nil {
		list(&c.CORS.AllowedMethods, defaultCORSMethods)
		list(&c.CORS.AllowedHeaders, defaultCORSHeaders)
		dur(&c.CORS.MaxAge, "cors.max_age", defaultCORSMaxAge)
	}

	mergeDefaults(c, loc)
	for i := range c.Routes {
		r, p := &c.Routes[i], fmt.Sprintf("routes[%d]", i)
		dur(&r.Upstream.Timeout, p+".upstream.timeout", defaultUpstreamTimeout)
		str(&r.Auth.Mode, p+".auth.mode", modeRequired)
		str(&r.Forward.Authorization, p+".forward.authorization", authKeep)
	}
}

// dropEmptyCORS treats "cors: {}" like an absent block: no CORS handling.
func dropEmptyCORS(c *Config) {
	if c.CORS != nil && reflect.ValueOf(*c.CORS).IsZero() {
		c.CORS = nil
	}
}
