// Package gateway compiles a configuration into an immutable runtime (issuers
// with their key caches, verifiers, policies, upstream credentials, routes)
// and serves it: the main listener, the admin listener, the runtime's
// background jobs (Runner: key refresh, credential refresh), reload on
// SIGHUP and graceful shutdown.
package gateway

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/auth"
	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/credentials"
	"github.com/authgate/authgate/internal/field"
	"github.com/authgate/authgate/internal/metrics"
	"github.com/authgate/authgate/internal/verify"
	"github.com/authgate/authgate/jwks"
	"github.com/authgate/authgate/policy"
	"github.com/authgate/authgate/proxy"
)

// issuer is one configured issuer of one runtime: its key cache and
// verifier half. The cache is a runner, reused by a later runtime while its
// keySource does not change, so a reload keeps the cached keys (docs/reference.md
// §5); the verifier is rebuilt by every Build.
type issuer struct {
	cfg    config.Issuer
	cache  *jwks.Cache
	verify *verify.Issuer
	// used reports whether any route of the runtime that built it refers to
	// it; only those count for /readyz.
	used bool
}

// Runtime is one compiled configuration. It is never modified after Build;
// a reload builds a new one and swaps it in.
type Runtime struct {
	Config  *config.Config
	Handler *proxy.Handler
	issuers []*issuer
	// jobs are the background runners this runtime needs, each listed
	// once; Gateway.swap runs them while the runtime is installed.
	jobs []*job
	// auth is each authenticated route's Authenticator by route name, the
	// very one its proxy.Route holds, for explain to describe.
	auth map[string]*auth.Authenticator
	// metrics are the children of this runtime's routes; nil without
	// Deps.Metrics. Gateway.swap hands them to Metrics.Retain.
	metrics *metrics.Routes
	// credentials are the upstream token sources by credential name, each
	// also a job; a route's proxy.Route.Credential is one of them.
	credentials map[string]proxy.Credential
	// verifyCache is the verified-token cache every route's verifier
	// shares; nil when verify_cache.size is 0. Each Build makes a fresh
	// one: entries hold the issuers they were verified for, and a reload
	// rebuilds every issuer, so an old cache could never answer.
	verifyCache *verify.Cache
}

// Build compiles cfg with the process's deps. What prev (which may be nil)
// runs and may be reused is reused by the one rule of reuse: the key
// caches of issuers whose keySource is unchanged and the credentials'
// token sources whose credentialSource (secret included) is unchanged.
// Everything else is built anew. Build starts nothing: Gateway.swap does.
//
// The constructors judge every value (config.Load has already run their
// validation); an error is theirs, placed by cfg.Locate at the file and
// line of the field, as Load's are: "config.yaml:14:
// routes[2].upstream.url: scheme must be http or https".
func Build(cfg *config.Config, prev *Runtime, deps Deps) (*Runtime, error) {
	deps = deps.withDefaults()
	rt := &Runtime{Config: cfg, auth: map[string]*auth.Authenticator{}, credentials: map[string]proxy.Credential{}}
	// Every item is built even after one fails, so that the error lists
	// all of them (check reports everything in one run); a route that names
	// an item that failed is left out rather than reported as naming an
	// unknown one.
	var errs []error
	fail := func(path string, err error) { errs = append(errs, cfg.Locate(field.Prefix(path, err))) }
	byName := make(map[string]*issuer, len(cfg.Issuers))
	failed := map[string]bool{} // issuers and credentials that did not build
	for i, ic := range cfg.Issuers {
		is, err := buildIssuer(rt, prev, ic, deps)
		if err != nil {
			fail(field.Index("issuers", i), err)
			failed["issuer "+ic.Name] = true
			continue
		}
		rt.issuers = append(rt.issuers, is)
		byName[ic.Name] = is
	}

	vco := cfg.VerifyCache.CacheOptions()
	if m := deps.Metrics; m != nil {
		vco.Lookup, vco.Entries = m.VerifyCacheLookup, m.SetVerifyCacheEntries
	}
	if vc, err := verify.NewCache(vco); err != nil {
		fail("verify_cache", err)
	} else {
		rt.verifyCache = vc
	}

	for i, cr := range cfg.Credentials {
		c, err := buildCredential(rt, prev, cr, deps)
		if err != nil {
			fail(field.Index("credentials", i), err)
			failed["credential "+cr.Name] = true
			continue
		}
		rt.credentials[cr.Name] = c
	}

	routes := make([]proxy.Route, 0, len(cfg.Routes))
	specs := make([]metrics.RouteSpec, 0, len(cfg.Routes))
	for i, rc := range cfg.Routes {
		if dependsOnFailed(rc, cfg.Issuers, failed) {
			continue
		}
		r, names, err := rt.buildRoute(rc, rt.issuers, byName)
		if err != nil {
			fail(field.Index("routes", i), err)
			continue
		}
		routes = append(routes, r)
		specs = append(specs, metrics.RouteSpec{Name: rc.Name, Issuers: names})
	}
	if len(errs) > 0 {
		// proxy.New indexes its errors by position in the routes it is
		// given, which no longer match the file's once one is left out.
		return nil, errors.Join(errs...)
	}
	po := cfg.ProxyOptions()
	po.Routes, po.Logger, po.Transport = routes, deps.Logger, deps.Transport
	if deps.Metrics != nil {
		names := make([]string, len(cfg.Issuers))
		for i, ic := range cfg.Issuers {
			names[i] = ic.Name
		}
		rt.metrics = deps.Metrics.NewRoutes(specs, names)
		po.Observe = rt.metrics.Observe
	}
	h, err := proxy.New(po)
	if err != nil {
		return nil, cfg.Locate(err)
	}
	rt.Handler = h
	return rt, nil
}

// dependsOnFailed reports whether route rc uses an issuer or a credential
// that failed to build: all issuers when it names none.
func dependsOnFailed(rc config.Route, issuers []config.Issuer, failed map[string]bool) bool {
	if len(failed) == 0 {
		return false
	}
	if failed["credential "+rc.Upstream.Credentials] {
		return true
	}
	names := rc.Auth.Issuers
	if len(names) == 0 && rc.Auth.Mode != policy.None.String() {
		for _, ic := range issuers {
			names = append(names, ic.Name)
		}
	}
	for _, n := range names {
		if failed["issuer "+n] {
			return true
		}
	}
	return false
}

// keySource is the reuse key of an issuer's key cache: every setting the
// cache is built from. The name is in it because the cache's log lines
// carry it. Audiences, algorithms, clock skew and the other rules a token
// must meet are not: a reload that changes only those keeps the cache and
// its keys, where a new cache would hold no keys until its first fetch and
// every token of the issuer would meanwhile be answered 503.
type keySource struct {
	name, issuer, jwksURL string
	jwks                  config.JWKS
}

func buildIssuer(rt, prev *Runtime, ic config.Issuer, deps Deps) (*issuer, error) {
	key := keySource{name: ic.Name, issuer: ic.Issuer, jwksURL: ic.JWKSURL, jwks: ic.JWKS}
	cache, err := reuse(rt, prev, "key refresh", key, func() (*jwks.Cache, error) {
		ko := ic.KeySetOptions()
		ko.Logger, ko.Now = deps.Logger.With("issuer", ic.Name), deps.Now
		if deps.Metrics != nil {
			// A reused cache keeps the hook it was built with: the same
			// children, since the name is part of the keySource.
			ko.Observe = deps.Metrics.KeySetObserver(ic.Name, deps.Now)
		}
		c, err := jwks.New(ko)
		if err == nil {
			if old := prev.keyCacheOf(ic); old != nil {
				c.Seed(old)
			}
		}
		return c, err
	})
	if err != nil {
		return nil, err
	}
	vo := ic.VerifierOptions()
	vo.Keys, vo.Now = cache, deps.Now
	v, err := verify.NewIssuer(vo)
	if err != nil {
		return nil, err
	}
	return &issuer{cfg: ic, cache: cache, verify: v}, nil
}

// credentialSource is the reuse key of a credential's token source: every
// setting it is built from, the secret's source, and the digest of the
// secret read now. Build reads the secret file or variable on every load,
// so a reload after the secret was rotated (same path, new content) builds
// a new source, which fetches with the new secret; an unchanged secret
// keeps the source and its cached token.
type credentialSource struct {
	endpointSource
	refreshBefore time.Duration
}

// endpointSource is what both kinds of credential are keyed by: every
// token-endpoint setting, the secret's source and the digest of the secret
// read now. Each kind wraps it in a key type of its own, so keys of
// different kinds never match.
type endpointSource struct {
	name, tokenURL, clientID string
	secretFile, secretEnv    string
	authMethod, audience     string
	scopes, resource         string // NUL-joined
	secretDigest             [sha256.Size]byte
}

func newEndpointSource(name, tokenURL, clientID, secretFile, secretEnv, authMethod, audience string, scopes, resource []string, digest [sha256.Size]byte) endpointSource {
	return endpointSource{
		name: name, tokenURL: tokenURL, clientID: clientID,
		secretFile: secretFile, secretEnv: secretEnv,
		authMethod: authMethod, audience: audience,
		scopes: strings.Join(scopes, "\x00"), resource: strings.Join(resource, "\x00"),
		secretDigest: digest,
	}
}

// buildCredential builds the credential's token source and reuses, by
// reuse's rule, the one prev runs if its credentialSource is the same.
// Building reads the secret and starts nothing, so the source built to
// learn the digest is simply dropped when an equal one is reused.
func buildCredential(rt, prev *Runtime, cr config.Credential, deps Deps) (proxy.Credential, error) {
	if cr.TokenExchange != nil {
		return buildExchange(rt, prev, cr, deps)
	}
	o := cr.Options()
	o.Logger, o.Now = deps.Logger.With("credential", cr.Name), deps.Now
	if deps.Metrics != nil {
		// A reused source keeps these hooks: the same children, since the
		// name is part of the key.
		m := deps.Metrics
		o.Fetched = func(ok bool) { m.CredentialFetched(cr.Name, ok) }
		o.Expires = func(t time.Time) { m.SetCredentialExpiry(cr.Name, t) }
	}
	fresh, err := credentials.New(o)
	if err != nil {
		return nil, err
	}
	key := credentialSource{
		endpointSource: newEndpointSource(o.Name, o.TokenURL, o.ClientID, o.SecretFile, o.SecretEnv,
			o.AuthMethod, o.Audience, o.Scopes, o.Resource, fresh.SecretDigest()),
		refreshBefore: o.RefreshBefore,
	}
	return reuse(rt, prev, "credential refresh", key, func() (*credentials.ClientCredentials, error) {
		return fresh, nil
	})
}

// exchangeSource is the reuse key of a token exchange: as credentialSource,
// every setting, the secret's source and the digest of the secret read now.
// A reused exchange keeps its cache of exchanged tokens.
type exchangeSource struct {
	endpointSource
	cacheSize int
}

// buildExchange builds a token_exchange credential by buildCredential's
// rule. Its Run does nothing: it is a job only so that reuse applies.
func buildExchange(rt, prev *Runtime, cr config.Credential, deps Deps) (*credentials.TokenExchange, error) {
	o := cr.ExchangeOptions()
	o.Logger, o.Now = deps.Logger.With("credential", cr.Name), deps.Now
	if deps.Metrics != nil {
		// Exchanges count as fetches; the expiry gauge is for
		// client-credentials tokens only (docs/reference.md §3.8).
		m := deps.Metrics
		o.Fetched = func(ok bool) { m.CredentialFetched(cr.Name, ok) }
	}
	fresh, err := credentials.NewTokenExchange(o)
	if err != nil {
		return nil, err
	}
	key := exchangeSource{
		endpointSource: newEndpointSource(o.Name, o.TokenURL, o.ClientID, o.SecretFile, o.SecretEnv,
			o.AuthMethod, o.Audience, o.Scopes, o.Resource, fresh.SecretDigest()),
		cacheSize: o.CacheSize,
	}
	return reuse(rt, prev, "token exchange", key, func() (*credentials.TokenExchange, error) {
		return fresh, nil
	})
}

// buildRoute compiles one route and records its Authenticator in rt.auth;
// it also returns the names of the issuers the route accepts (none for
// auth mode none), the issuer label values of its decisions. Its errors are
// field errors relative to the route (auth.issuers[1], upstream.url).
func (rt *Runtime) buildRoute(rc config.Route, all []*issuer, byName map[string]*issuer) (proxy.Route, []string, error) {
	r, err := rc.ProxyRoute()
	if err != nil {
		return proxy.Route{}, nil, err
	}
	if name := rc.Upstream.Credentials; name != "" {
		c, ok := rt.credentials[name]
		if !ok {
			return proxy.Route{}, nil, field.Errorf("upstream.credentials", "unknown credential %s", field.Quote(name))
		}
		r.Credential = c
	}
	if r.Mode == policy.None {
		return r, nil, nil
	}

	issuers := all
	if len(rc.Auth.Issuers) > 0 {
		issuers = make([]*issuer, 0, len(rc.Auth.Issuers))
		for k, name := range rc.Auth.Issuers {
			is, ok := byName[name]
			if !ok {
				return proxy.Route{}, nil, field.Errorf(field.Index("auth.issuers", k), "unknown issuer %s", field.Quote(name))
			}
			issuers = append(issuers, is)
		}
	}
	vs := make([]*verify.Issuer, len(issuers))
	names := make([]string, len(issuers))
	for i, is := range issuers {
		is.used = true
		vs[i] = is.verify
		names[i] = is.cfg.Name
	}
	v, err := verify.New(vs, rc.Auth.Audiences)
	if err != nil {
		return proxy.Route{}, nil, field.Prefix("auth", err)
	}
	v = v.WithCache(rt.verifyCache)
	p, err := policy.New(rc.Auth.Rules())
	if err != nil {
		return proxy.Route{}, nil, field.Prefix("auth", err)
	}
	a, err := auth.New(v, p)
	if err != nil {
		return proxy.Route{}, nil, field.Prefix("auth", err)
	}
	r.Auth = a
	rt.auth[rc.Name] = a
	r.Scopes = p.RequiredScopes()
	return r, names, nil
}

// keyCacheOf returns the key cache rt (which may be nil) has for the issuer
// of ic with the same issuer and key set URL, whatever its fetch settings:
// a cache that a new one for ic may start from (jwks.Cache.Seed).
func (rt *Runtime) keyCacheOf(ic config.Issuer) *jwks.Cache {
	if rt == nil {
		return nil
	}
	for _, is := range rt.issuers {
		if is.cfg.Name == ic.Name && is.cfg.Issuer == ic.Issuer && is.cfg.JWKSURL == ic.JWKSURL {
			return is.cache
		}
	}
	return nil
}

// notReady lists, for /readyz, the issuers used by a route whose keys are not
// usable now.
func (rt *Runtime) notReady() []string {
	var out []string
	for _, is := range rt.issuers {
		if !is.used || is.cache.Ready() {
			continue
		}
		msg := fmt.Sprintf("issuer %q: no usable key set", is.cfg.Name)
		if st := is.cache.Status(); st.LastError != "" {
			msg += ": " + st.LastError
		}
		out = append(out, msg)
	}
	return out
}

var (
	_ proxy.Credential = (*credentials.ClientCredentials)(nil)
	_ proxy.Credential = (*credentials.TokenExchange)(nil)
)
