package config

import (
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/authgate/authgate/internal/field"
)

// sidecarVars are the environment-only mode's variables (§2.3). Lists are
// comma-separated; trimList cleans them after parsing. Each field's sidecar
// tag is the configuration field the variable sets, so that an error about
// that field names the variable.
type sidecarVars struct {
	Upstream       string   `env:"AUTHGATE_UPSTREAM" sidecar:"routes[0].upstream.url"`
	Issuer         string   `env:"AUTHGATE_ISSUER" sidecar:"issuers[0].issuer"`
	Audience       []string `env:"AUTHGATE_AUDIENCE" sidecar:"issuers[0].audiences"`
	JWKSURL        string   `env:"AUTHGATE_JWKS_URL" sidecar:"issuers[0].jwks_url"`
	Algorithms     []string `env:"AUTHGATE_ALGORITHMS" sidecar:"issuers[0].algorithms"`
	ScopeClaims    []string `env:"AUTHGATE_SCOPE_CLAIMS" sidecar:"issuers[0].scope_claims"`
	TokenTypes     []string `env:"AUTHGATE_TOKEN_TYPES" sidecar:"issuers[0].token_types"`
	Scopes         []string `env:"AUTHGATE_SCOPES" sidecar:"routes[0].auth.scopes"`
	AnyScopes      []string `env:"AUTHGATE_ANY_SCOPES" sidecar:"routes[0].auth.any_scopes"`
	Claims         string   `env:"AUTHGATE_CLAIMS" sidecar:"routes[0].auth.claims"`
	ForwardHeaders []string `env:"AUTHGATE_FORWARD_HEADERS" sidecar:"routes[0].forward.headers"`
	ClaimsHeader   string   `env:"AUTHGATE_CLAIMS_HEADER" sidecar:"routes[0].forward.claims_header"`
	Authorization  string   `env:"AUTHGATE_AUTHORIZATION" sidecar:"routes[0].forward.authorization"`
	Realm          string   `env:"AUTHGATE_REALM" sidecar:"server.realm"`
	CORSOrigins    []string `env:"AUTHGATE_CORS_ALLOWED_ORIGINS" sidecar:"cors"`
}

// Variable names the environment-only mode checks itself.
const (
	varAudience = "AUTHGATE_AUDIENCE"
	varClaims   = "AUTHGATE_CLAIMS"
	varHeaders  = "AUTHGATE_FORWARD_HEADERS"
)

// FromEnv builds the environment-only (sidecar) configuration of §2.3: one
// issuer named "default" and one catch-all route named "default" (path_prefix
// "/", auth mode required). cfg.Source = "environment". Errors read
// "environment: AUTHGATE_AUDIENCE: required". It cannot tell variables it
// does not know (it only looks names up); ResolveEnviron can.
func FromEnv(env Env) (*Config, error) {
	cfg, err := fromEnv(env.lookup(), nil)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// fromEnv is FromEnv. names, when known, are every variable set, for the
// near misses a required variable's error mentions. The Config comes back
// with the error unless a required variable is missing.
func fromEnv(env Env, names []string) (*Config, error) {
	var s sidecarVars
	if err := parseEnv(&s, env); err != nil {
		return nil, err
	}
	loc := newLocator(envSource)
	p := &problems{loc: loc}
	required := func(val, name string) {
		if val == "" {
			p.errs = append(p.errs, &FieldError{File: envSource, Path: name, Msg: "required" + nearMiss(name, names)})
		}
	}
	for _, l := range []*[]string{&s.Audience, &s.Algorithms, &s.ScopeClaims, &s.TokenTypes, &s.Scopes, &s.AnyScopes, &s.ForwardHeaders, &s.CORSOrigins} {
		*l = trimList(*l)
	}
	for _, v := range []*string{&s.Upstream, &s.Issuer, &s.JWKSURL, &s.Claims, &s.ClaimsHeader, &s.Authorization, &s.Realm} {
		*v = strings.TrimSpace(*v)
	}
	required(s.Upstream, varUpstream)
	required(s.Issuer, varIssuer)
	if len(s.Audience) == 0 {
		required("", varAudience)
	}
	if len(p.errs) > 0 {
		return nil, joinSorted(p.errs)
	}
	headers := parseHeaderPairs(s.ForwardHeaders, p)
	claims := parseClaims(s.Claims, p)
	var blocked []string
	for _, e := range p.errs {
		blocked = append(blocked, e.Path)
	}

	cfg := &Config{
		Source: envSource,
		Server: Server{Realm: s.Realm},
		Issuers: []Issuer{{
			Name:        "default",
			Issuer:      s.Issuer,
			JWKSURL:     s.JWKSURL,
			Audiences:   s.Audience,
			Algorithms:  s.Algorithms,
			ScopeClaims: s.ScopeClaims,
			TokenTypes:  s.TokenTypes,
		}},
		Routes: []Route{{
			Name:     "default",
			Match:    Match{PathPrefix: "/"},
			Upstream: Upstream{URL: s.Upstream},
			Auth:     Auth{Mode: modeRequired, Scopes: s.Scopes, AnyScopes: s.AnyScopes, Claims: claims},
			Forward:  Forward{Headers: headers, ClaimsHeader: s.ClaimsHeader, Authorization: s.Authorization},
		}},
	}
	if len(s.CORSOrigins) > 0 {
		// Set: CORS on, every other CORS setting at its default.
		cfg.CORS = &CORS{AllowedOrigins: s.CORSOrigins}
	}
	// Only variables that are set own their field: an unset one leaves it
	// to its default, which must not read as "set to empty".
	for name, path := range sidecarFields {
		if v, ok := env(name); ok && strings.TrimSpace(v) != "" {
			loc.vars[path] = name
		}
	}
	return cfg, finish(cfg, env, loc, p.errs, blocked)
}

// sidecarFields maps each sidecar variable to the field it sets.
var sidecarFields = tagMap[sidecarVars]("sidecar")

// parseHeaderPairs parses AUTHGATE_FORWARD_HEADERS items "Header=claim".
func parseHeaderPairs(items []string, p *problems) map[string]string {
	if len(items) == 0 {
		return nil
	}
	out := make(map[string]string, len(items))
	for _, item := range items {
		h, c, ok := strings.Cut(item, "=")
		h, c = strings.TrimSpace(h), strings.TrimSpace(c)
		switch {
		case !ok || h == "" || c == "":
			p.errs = append(p.errs, &FieldError{File: envSource, Path: varHeaders,
				Msg: "malformed pair " + field.Quote(item) + ": want Header=claim, e.g. X-User-Id=sub"})
		case hasHeaderFold(out, h):
			p.errs = append(p.errs, &FieldError{File: envSource, Path: varHeaders, Msg: "header " + field.Quote(h) + " is listed twice"})
		default:
			out[h] = c
		}
	}
	return out
}

// parseClaims parses AUTHGATE_CLAIMS, a JSON object of claim rules with the
// meaning of a file's auth.claims; validation then judges the rules as it
// judges the file's. Numbers keep their exact text (json.Number), as
// ClaimRules requires. A syntax error names the character where it is.
func parseClaims(s string, p *problems) ClaimRules {
	if s == "" {
		return nil
	}
	bad := func(msg string) ClaimRules {
		p.errs = append(p.errs, &FieldError{File: envSource, Path: varClaims, Msg: msg})
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil {
		end := int(dec.InputOffset())
		if rest := strings.TrimLeft(s[end:], " \t\r\n"); rest != "" {
			at := len(s) - len(rest) + 1
			return bad("invalid JSON at character " + strconv.Itoa(at) + `: more than one value; write one object such as {"lifetime_subscriber":true}`)
		}
	}
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return bad("invalid JSON at character " + strconv.FormatInt(se.Offset, 10) + ": " + se.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bad("invalid JSON at character " + strconv.Itoa(len(s)) + ": unexpected end of input")
	case err != nil:
		return bad("invalid JSON: " + err.Error())
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return bad(`must be a JSON object of claim rules, such as {"lifetime_subscriber":true}`)
	}
	return ClaimRules(obj)
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
