package config

import (
	"maps"
	"slices"
)

// mergeDefaults merges the defaults block into every route, field by field
// (CONTRACT §2.1): a field the route sets, even to an explicitly empty list
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
		r, rp := &c.Routes[i], indexPath("routes", i)
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

// own reports whether the route field at path (routes[i].auth.scopes) holds
// what the route itself wrote, rather than a value inherited from defaults.
func (l *locator) own(path string) bool { return !l.inherited[path] }
