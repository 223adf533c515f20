// Package gateway compiles a configuration into an immutable runtime (issuers
// with their key caches, verifiers, policies, routes) and serves it: the main
// listener, the admin listener, background key refresh, reload on SIGHUP and
// graceful shutdown.
package gateway

import (
	"fmt"
	"log/slog"
	"net/url"
	"reflect"

	"github.com/authgate/authgate/internal/auth"
	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/verify"
	"github.com/authgate/authgate/jwks"
	"github.com/authgate/authgate/policy"
	"github.com/authgate/authgate/proxy"
)

// issuer is one configured issuer: its key cache and verifier half. It is
// shared between runtimes while its settings do not change, and its key cache
// while the settings it depends on do not (sameKeySource), so a reload keeps
// the cached keys (CONTRACT §5).
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
	// auth is each authenticated route's Authenticator by route name, the
	// very one its proxy.Route holds, for explain to describe.
	auth map[string]*auth.Authenticator
}

// Build compiles cfg. Issuers whose settings equal one in prev (which may be
// nil) reuse its cache and verifier; those whose key source is unchanged
// reuse its cache with a new verifier; the others get new, not yet started,
// caches. Build starts nothing: Gateway.swap does.
func Build(cfg *config.Config, prev *Runtime, logger *slog.Logger) (*Runtime, error) {
	rt := &Runtime{Config: cfg, auth: map[string]*auth.Authenticator{}}
	byName := make(map[string]*issuer, len(cfg.Issuers))
	for _, ic := range cfg.Issuers {
		is, err := buildIssuer(ic, prev, logger)
		if err != nil {
			return nil, fmt.Errorf("%s: issuer %q: %w", cfg.Source, ic.Name, err)
		}
		rt.issuers = append(rt.issuers, is)
		byName[ic.Name] = is
	}

	routes := make([]proxy.Route, 0, len(cfg.Routes))
	for i, rc := range cfg.Routes {
		r, err := rt.buildRoute(rc, rt.issuers, byName)
		if err != nil {
			return nil, fmt.Errorf("%s: routes[%d] %q: %w", cfg.Source, i, rc.Name, err)
		}
		routes = append(routes, r)
	}
	h, err := proxy.New(proxy.Options{
		Routes:    routes,
		Realm:     cfg.Server.Realm,
		Logger:    logger,
		AccessLog: cfg.Log.AccessEnabled(),
		// Nil stays nil. The two structs have the same fields, so a field
		// added to one without the other fails to compile here.
		CORS: (*proxy.CORS)(cfg.CORS),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Source, err)
	}
	rt.Handler = h
	return rt, nil
}

func buildIssuer(ic config.Issuer, prev *Runtime, logger *slog.Logger) (*issuer, error) {
	var cache *jwks.Cache
	if prev != nil {
		for _, old := range prev.issuers {
			if reflect.DeepEqual(old.cfg, ic) {
				return &issuer{cfg: ic, cache: old.cache, verify: old.verify}, nil
			}
			if sameKeySource(old.cfg, ic) {
				cache = old.cache
			}
		}
	}
	if cache == nil {
		var err error
		cache, err = jwks.New(jwks.Options{
			Issuer:             ic.Issuer,
			JWKSURL:            ic.JWKSURL,
			RefreshInterval:    ic.JWKS.RefreshInterval,
			MinRefreshInterval: ic.JWKS.MinRefreshInterval,
			MaxStale:           ic.JWKS.MaxStale,
			Timeout:            ic.JWKS.Timeout,
			Logger:             logger.With("issuer", ic.Name),
		})
		if err != nil {
			return nil, err
		}
	}
	v, err := verify.NewIssuer(verify.IssuerOptions{
		Name:           ic.Name,
		Issuer:         ic.Issuer,
		Audiences:      ic.Audiences,
		Algorithms:     ic.Algorithms,
		ClockSkew:      ic.ClockSkew,
		RequiredClaims: ic.RequiredClaims,
		TokenTypes:     ic.TokenTypes,
		ScopeClaims:    ic.ScopeClaims,
		Keys:           cache,
	})
	if err != nil {
		return nil, err
	}
	return &issuer{cfg: ic, cache: cache, verify: v}, nil
}

// sameKeySource reports whether two issuer settings make the same key
// cache: the same name (its log lines carry it), issuer, key set URL and
// fetch settings. A reload that changes only what tokens must satisfy
// (audiences, algorithms, clock skew, …) keeps the cache and its keys; a new
// cache would hold no keys until its first fetch, and every token of that
// issuer would meanwhile be answered 503.
func sameKeySource(a, b config.Issuer) bool {
	return a.Name == b.Name && a.Issuer == b.Issuer && a.JWKSURL == b.JWKSURL && a.JWKS == b.JWKS
}

// buildRoute compiles one route and records its Authenticator in rt.auth.
func (rt *Runtime) buildRoute(rc config.Route, all []*issuer, byName map[string]*issuer) (proxy.Route, error) {
	mode, err := policy.ParseMode(rc.Auth.Mode)
	if err != nil {
		return proxy.Route{}, err
	}
	up, err := url.Parse(rc.Upstream.URL)
	if err != nil {
		return proxy.Route{}, fmt.Errorf("upstream.url: %w", err)
	}
	r := proxy.Route{
		Name:               rc.Name,
		Host:               rc.Match.Host,
		Methods:            rc.Match.Methods,
		Path:               rc.Match.Path,
		PathPrefix:         rc.Match.PathPrefix,
		Upstream:           up,
		StripPrefix:        rc.Upstream.StripPrefix,
		PreserveHost:       rc.Upstream.PreserveHost,
		Timeout:            rc.Upstream.Timeout,
		Mode:               mode,
		Headers:            rc.Forward.Headers,
		ClaimsHeader:       rc.Forward.ClaimsHeader,
		StripAuthorization: rc.Forward.Authorization == "strip",
	}
	if mode == policy.None {
		return r, nil
	}

	issuers := all
	if len(rc.Auth.Issuers) > 0 {
		issuers = make([]*issuer, 0, len(rc.Auth.Issuers))
		for _, name := range rc.Auth.Issuers {
			is, ok := byName[name]
			if !ok {
				return proxy.Route{}, fmt.Errorf("auth.issuers: unknown issuer %q", name)
			}
			issuers = append(issuers, is)
		}
	}
	vs := make([]*verify.Issuer, len(issuers))
	for i, is := range issuers {
		is.used = true
		vs[i] = is.verify
	}
	v, err := verify.New(vs, rc.Auth.Audiences)
	if err != nil {
		return proxy.Route{}, err
	}
	p, err := policy.New(policy.Rules{Scopes: rc.Auth.Scopes, AnyScopes: rc.Auth.AnyScopes, Claims: rc.Auth.Claims})
	if err != nil {
		return proxy.Route{}, err
	}
	a, err := auth.New(v, p)
	if err != nil {
		return proxy.Route{}, err
	}
	r.Auth = a
	rt.auth[rc.Name] = a
	r.Scopes = p.RequiredScopes()
	return r, nil
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
