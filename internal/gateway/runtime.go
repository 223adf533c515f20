// Package gateway compiles a configuration into an immutable runtime (issuers
// with their key caches, verifiers, policies, routes) and serves it: the main
// listener, the admin listener, background key refresh, reload on SIGHUP and
// graceful shutdown.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/field"
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
}

// Build compiles cfg. Issuers whose settings equal one in prev (which may be
// nil) reuse its cache and verifier; those whose key source is unchanged
// reuse its cache with a new verifier; the others get new, not yet started,
// caches. Build starts nothing: Gateway.swap does.
//
// The constructors judge every value (config.Load has already run their
// validation); an error is theirs, placed by cfg.Locate at the file and
// line of the field, as Load's are: "config.yaml:14:
// routes[2].upstream.url: scheme must be http or https".
func Build(cfg *config.Config, prev *Runtime, logger *slog.Logger) (*Runtime, error) {
	rt := &Runtime{Config: cfg}
	byName := make(map[string]*issuer, len(cfg.Issuers))
	for i, ic := range cfg.Issuers {
		is, err := buildIssuer(ic, prev, logger)
		if err != nil {
			return nil, cfg.Locate(field.Prefix(field.Index("issuers", i), err))
		}
		rt.issuers = append(rt.issuers, is)
		byName[ic.Name] = is
	}

	routes := make([]proxy.Route, 0, len(cfg.Routes))
	for i, rc := range cfg.Routes {
		r, err := buildRoute(rc, rt.issuers, byName)
		if err != nil {
			return nil, cfg.Locate(field.Prefix(field.Index("routes", i), err))
		}
		routes = append(routes, r)
	}
	po := cfg.ProxyOptions()
	po.Routes, po.Logger, po.IssuerOf = routes, logger, verify.IssuerOf
	h, err := proxy.New(po)
	if err != nil {
		return nil, cfg.Locate(err)
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
		ko := ic.KeySetOptions()
		ko.Logger = logger.With("issuer", ic.Name)
		var err error
		if cache, err = jwks.New(ko); err != nil {
			return nil, err
		}
	}
	vo := ic.VerifierOptions()
	vo.Keys = cache
	v, err := verify.NewIssuer(vo)
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

// buildRoute compiles one route; its errors are field errors relative to
// the route (auth.issuers[1], upstream.url).
func buildRoute(rc config.Route, all []*issuer, byName map[string]*issuer) (proxy.Route, error) {
	r, err := rc.ProxyRoute()
	if err != nil {
		return proxy.Route{}, err
	}
	if r.Mode == policy.None {
		return r, nil
	}

	issuers := all
	if len(rc.Auth.Issuers) > 0 {
		issuers = make([]*issuer, 0, len(rc.Auth.Issuers))
		for k, name := range rc.Auth.Issuers {
			is, ok := byName[name]
			if !ok {
				return proxy.Route{}, field.Errorf(field.Index("auth.issuers", k), "unknown issuer %s", field.Quote(name))
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
		return proxy.Route{}, field.Prefix("auth", err)
	}
	p, err := policy.New(rc.Auth.Rules())
	if err != nil {
		return proxy.Route{}, field.Prefix("auth", err)
	}
	r.Auth = authenticator{verifier: v, policy: p}
	r.Scopes = p.RequiredScopes()
	return r, nil
}

// authenticator joins verification (§3.3 steps 2–6) and the route's policy
// (step 7) into the proxy's one Authenticate call.
type authenticator struct {
	verifier *verify.Verifier
	policy   *policy.Policy
}

func (a authenticator) Authenticate(ctx context.Context, token string) (*verify.Identity, error) {
	id, err := a.verifier.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := a.policy.Check(id.Scopes, id.Claims); err != nil {
		return id, &verify.Error{Issuer: id.Issuer, Err: err}
	}
	return id, nil
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

var _ proxy.Authenticator = authenticator{}
