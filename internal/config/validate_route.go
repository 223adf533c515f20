package config

import (
	"errors"
	"strings"

	"github.com/authgate/authgate/internal/field"
	"github.com/authgate/authgate/internal/verify"
	"github.com/authgate/authgate/policy"
	"github.com/authgate/authgate/proxy"
)

// validateRoutes checks the routes and the defaults block. The proxy
// (proxy.Route.Validate, proxy.Options.Validate, with the realm and CORS),
// the policy (policy.New) and the verifier (verify.ValidateRoute) judge the
// values; this checks the references to issuers and credentials, the rules
// about what a route wrote itself, and places the defaults block's problems
// once, where it is written.
func validateRoutes(c *Config, p *problems) {
	if len(c.Routes) == 0 {
		p.add("routes", "at least one route is required")
	}
	issuers := make(map[string]int, len(c.Issuers))
	for i, is := range c.Issuers {
		if _, dup := issuers[is.Name]; !dup {
			issuers[is.Name] = i
		}
	}
	creds := map[string]bool{}
	for _, cr := range c.Credentials {
		creds[cr.Name] = true
	}
	rc := &routeCheck{p: p, atDefaults: validateDefaults(c, p, issuers), mapped: map[string]bool{}}
	po := c.ProxyOptions()
	for i, r := range c.Routes {
		rp := field.Index("routes", i)
		pr, err := r.ProxyRoute()
		rc.addMapping(rp, err)
		rc.add(rp, pr.Validate())
		po.Routes = append(po.Routes, pr)
		if path := rp + ".upstream.timeout"; zeroSet(p.loc, path, r.Upstream.Timeout) {
			rc.addf(path, "must be positive")
		}
		if name := r.Upstream.Credentials; name != "" && !creds[name] {
			rc.addf(rp+".upstream.credentials", "unknown credential %s", field.Quote(name))
		}
		validateAuth(c, rc, rp+".auth", r.Auth, issuers)
		if fp := rp + ".forward.authorization"; p.loc.own(fp) {
			rc.add(fp, checkAuthorization(r.Forward.Authorization))
		}
		rc.flush(rp)
	}
	// The realm, CORS and unique route names; each route's own problems
	// again, which joinSorted keeps once.
	rc.add("", po.Validate())
	rc.flush("")
}

// validateAuth checks a route's auth block: its mode needs an issuer, a
// public route sets no rules itself, the issuers it names exist; the
// policy and the verifier's route rules judge the values.
func validateAuth(c *Config, rc *routeCheck, ap string, a Auth, issuers map[string]int) {
	own := rc.p.loc.own
	mode, modeErr := policy.ParseMode(a.Mode) // a bad mode is ProxyRoute's to report
	switch {
	case modeErr != nil:
	case mode != policy.None:
		if len(c.Issuers) == 0 {
			rc.addf(ap+".mode", "auth mode %s needs an issuer, but no issuers are configured", a.Mode)
		}
	default:
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
				rc.addf(ap+"."+f.name, "has no effect with auth mode none")
			}
		}
	}
	known := true
	for k, name := range a.Issuers {
		if _, ok := issuers[name]; !ok {
			known = false
			if own(ap + ".issuers") { // an inherited one is reported at the defaults block
				rc.addf(field.Index(ap+".issuers", k), "unknown issuer %s", field.Quote(name))
			}
		}
	}

	// The verifier's route rules: audiences, and issuers that share an
	// issuer URL. Without auth.issuers the route takes every issuer, and a
	// clash names them by their place in issuers.
	var opts []verify.IssuerOptions
	implicit := len(a.Issuers) == 0
	switch {
	case modeErr != nil || mode == policy.None || !known:
	case implicit:
		for _, is := range c.Issuers {
			opts = append(opts, is.VerifierOptions())
		}
	default:
		for _, name := range a.Issuers {
			opts = append(opts, c.Issuers[issuers[name]].VerifierOptions())
		}
	}
	for _, e := range field.All(verify.ValidateRoute(opts, a.Audiences)) {
		if implicit && strings.HasPrefix(e.Path, "issuers[") {
			rc.add("", e)
		} else {
			rc.add(ap, e)
		}
	}
	rc.add(ap, policyErr(a.Rules()))
}

// validateDefaults checks the defaults block where it is written, so that a
// bad value is reported once, at its own line, however many routes inherit
// it, and even if none does. Unlike a route's, its fields may be unset, and
// mode none may come with auth rules: they serve the routes that set
// another mode. It returns what it reported, for routeCheck.
func validateDefaults(c *Config, p *problems, issuers map[string]int) map[FieldError]bool {
	d, start := c.Defaults, len(p.errs)
	if d.Auth.Mode != "" {
		if _, err := policy.ParseMode(d.Auth.Mode); err != nil {
			p.addErr("defaults.auth.mode", err)
		}
	}
	for k, name := range d.Auth.Issuers {
		if _, ok := issuers[name]; !ok {
			p.add(field.Index("defaults.auth.issuers", k), "unknown issuer %s", field.Quote(name))
		}
	}
	p.addErr("defaults.auth", verify.ValidateRoute(nil, d.Auth.Audiences))
	p.addErr("defaults.auth", policyErr(d.Auth.Rules()))
	// The forward settings are a route's: the proxy's rules for them are
	// those of a route that sets nothing else, whose other problems
	// (no name, no path, no upstream) are not the block's.
	fwd := proxy.Route{Headers: d.Forward.Headers, ClaimsHeader: d.Forward.ClaimsHeader}
	for _, e := range field.All(fwd.Validate()) {
		if strings.HasPrefix(e.Path, "forward.") {
			p.addErr("defaults", e)
		}
	}
	if d.Forward.Authorization != "" {
		p.addErr("defaults.forward.authorization", checkAuthorization(d.Forward.Authorization))
	}
	reported := make(map[FieldError]bool, len(p.errs)-start)
	for _, e := range p.errs[start:] {
		reported[e.plain()] = true
	}
	return reported
}

// policyErr is policy.New's verdict on rules.
func policyErr(rules policy.Rules) error {
	_, err := policy.New(rules)
	return err
}

// checkAuthorization checks forward.authorization, which the configuration
// alone spells: ProxyRoute turns it into proxy.Route.StripAuthorization.
func checkAuthorization(v string) error {
	switch v {
	case authKeep, authStrip:
		return nil
	}
	return errors.New("must be keep or strip, got " + field.Quote(v))
}
