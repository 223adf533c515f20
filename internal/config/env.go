package config

import (
	"reflect"
	"strings"

	envlib "github.com/caarlos0/env/v11"

	"github.com/authgate/authgate/internal/field"
)

// overrideVars are the §2.2 overrides; they apply to a file and to the
// environment-only mode alike. An empty value counts as unset, except for
// AUTHGATE_ADMIN_LISTEN, where "" disables the admin listener.
type overrideVars struct {
	Listen      string `env:"AUTHGATE_LISTEN"`
	AdminListen string `env:"AUTHGATE_ADMIN_LISTEN"`
	LogLevel    string `env:"AUTHGATE_LOG_LEVEL"`
	LogFormat   string `env:"AUTHGATE_LOG_FORMAT"`
}

const varAdminListen = "AUTHGATE_ADMIN_LISTEN"

// sidecarVars are the environment-only mode's variables (§2.3). Lists are
// comma-separated; trimList cleans them after parsing.
type sidecarVars struct {
	Upstream       string   `env:"AUTHGATE_UPSTREAM"`
	Issuer         string   `env:"AUTHGATE_ISSUER"`
	Audience       []string `env:"AUTHGATE_AUDIENCE"`
	JWKSURL        string   `env:"AUTHGATE_JWKS_URL"`
	Algorithms     []string `env:"AUTHGATE_ALGORITHMS"`
	Scopes         []string `env:"AUTHGATE_SCOPES"`
	ForwardHeaders []string `env:"AUTHGATE_FORWARD_HEADERS"`
	ClaimsHeader   string   `env:"AUTHGATE_CLAIMS_HEADER"`
}

// parseEnv fills v (a pointer to a struct with env tags) from env. Only the
// variables v names are looked up, so tests never touch the process
// environment and nothing else of it is read.
func parseEnv(v any, env Env) error {
	m := map[string]string{}
	t := reflect.TypeOf(v).Elem()
	for f := range t.Fields() {
		name := f.Tag.Get("env")
		if val, ok := env(name); ok {
			m[name] = val
		}
	}
	return envlib.ParseWithOptions(v, envlib.Options{Environment: m})
}

// applyOverrides applies the §2.2 variables to cfg and records which fields
// they set, so errors about those fields name the variable.
func applyOverrides(cfg *Config, env Env, loc *locator) error {
	var o overrideVars
	if err := parseEnv(&o, env); err != nil {
		return err
	}
	set := func(dst *string, val, path, name string) {
		if val != "" {
			*dst = val
			loc.vars[path] = name
		}
	}
	set(&cfg.Server.Listen, o.Listen, "server.listen", "AUTHGATE_LISTEN")
	set(&cfg.Log.Level, o.LogLevel, "log.level", "AUTHGATE_LOG_LEVEL")
	set(&cfg.Log.Format, o.LogFormat, "log.format", "AUTHGATE_LOG_FORMAT")
	// The env library treats "" as unset; here set-but-empty means
	// "disable", so ask the environment directly.
	if v, ok := env(varAdminListen); ok {
		cfg.Server.AdminListen = &v
		loc.vars["server.admin_listen"] = varAdminListen
	}
	return nil
}

// sidecarPaths maps the fields the environment-only mode sets to their
// variables, so validation errors read "environment: AUTHGATE_X: ...".
var sidecarPaths = map[string]string{
	"issuers[0].issuer":               "AUTHGATE_ISSUER",
	"issuers[0].jwks_url":             "AUTHGATE_JWKS_URL",
	"issuers[0].audiences":            "AUTHGATE_AUDIENCE",
	"issuers[0].algorithms":           "AUTHGATE_ALGORITHMS",
	"routes[0].upstream.url":          "AUTHGATE_UPSTREAM",
	"routes[0].auth.scopes":           "AUTHGATE_SCOPES",
	"routes[0].forward.headers":       "AUTHGATE_FORWARD_HEADERS",
	"routes[0].forward.claims_header": "AUTHGATE_CLAIMS_HEADER",
}

// FromEnv builds the environment-only (sidecar) configuration of §2.3: one
// issuer named "default" and one catch-all route named "default" (path_prefix
// "/", auth mode required). cfg.Source = "environment". Errors read
// "environment: AUTHGATE_AUDIENCE: required".
func FromEnv(env Env) (*Config, error) {
	env = env.lookup()
	var s sidecarVars
	if err := parseEnv(&s, env); err != nil {
		return nil, err
	}
	loc := newLocator(envSource)
	p := &problems{loc: loc}
	required := func(val, name string) {
		if val == "" {
			p.errs = append(p.errs, &FieldError{File: envSource, Path: name, Msg: "required"})
		}
	}
	s.Upstream, s.Issuer = strings.TrimSpace(s.Upstream), strings.TrimSpace(s.Issuer)
	s.Audience, s.Scopes = trimList(s.Audience), trimList(s.Scopes)
	s.ForwardHeaders = trimList(s.ForwardHeaders)
	required(s.Upstream, "AUTHGATE_UPSTREAM")
	required(s.Issuer, "AUTHGATE_ISSUER")
	if len(s.Audience) == 0 {
		required("", "AUTHGATE_AUDIENCE")
	}
	headers := parseHeaderPairs(s.ForwardHeaders, p)
	if len(p.errs) > 0 {
		return nil, joinSorted(p.errs)
	}

	cfg := &Config{
		Source: envSource,
		Issuers: []Issuer{{
			Name:       "default",
			Issuer:     s.Issuer,
			JWKSURL:    strings.TrimSpace(s.JWKSURL),
			Audiences:  s.Audience,
			Algorithms: trimList(s.Algorithms),
		}},
		Routes: []Route{{
			Name:     "default",
			Match:    Match{PathPrefix: "/"},
			Upstream: Upstream{URL: s.Upstream},
			Auth:     Auth{Mode: modeRequired, Scopes: s.Scopes},
			Forward:  Forward{Headers: headers, ClaimsHeader: strings.TrimSpace(s.ClaimsHeader)},
		}},
	}
	for path, name := range sidecarPaths {
		loc.vars[path] = name
	}
	return finish(cfg, env, loc)
}

// parseHeaderPairs parses AUTHGATE_FORWARD_HEADERS items "Header=claim".
func parseHeaderPairs(items []string, p *problems) map[string]string {
	if len(items) == 0 {
		return nil
	}
	const name = "AUTHGATE_FORWARD_HEADERS"
	out := make(map[string]string, len(items))
	for _, item := range items {
		h, c, ok := strings.Cut(item, "=")
		h, c = strings.TrimSpace(h), strings.TrimSpace(c)
		switch {
		case !ok || h == "" || c == "":
			p.errs = append(p.errs, &FieldError{File: envSource, Path: name,
				Msg: "malformed pair " + field.Quote(item) + ": want Header=claim, e.g. X-User-Id=sub"})
		case hasHeaderFold(out, h):
			p.errs = append(p.errs, &FieldError{File: envSource, Path: name, Msg: "header " + field.Quote(h) + " is listed twice"})
		default:
			out[h] = c
		}
	}
	return out
}

// hasHeaderFold reports whether m has a key equal to name under case
// folding, as header names compare.
func hasHeaderFold(m map[string]string, name string) bool {
	for k := range m {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// trimList trims spaces around list items and drops empty ones; a list with
// no items left is nil (unset).
func trimList(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
