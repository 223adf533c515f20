package config

import (
	"fmt"
	"os"
)

// Env looks up an environment variable (os.LookupEnv in production, a map in
// tests). A nil Env is an empty environment.
type Env func(name string) (string, bool)

// lookup returns env, or an empty environment for nil.
func (env Env) lookup() Env {
	if env == nil {
		return func(string) (string, bool) { return "", false }
	}
	return env
}

// Environment variables that choose the configuration source (docs/reference.md §1).
const (
	varConfig   = "AUTHGATE_CONFIG"
	varUpstream = "AUTHGATE_UPSTREAM"
	varIssuer   = "AUTHGATE_ISSUER"
)

// Load reads the YAML file at path, expands ${NAME} in string values, applies
// AUTHGATE_* overrides (§2.2), fills defaults and validates. cfg.Source = path.
// On error the *Config is nil and the error joins *FieldError values (or is
// the file-read error).
func Load(path string, env Env) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, data, env)
}

// Parse is Load on bytes already read; name is used in messages and becomes
// cfg.Source.
func Parse(name string, data []byte, env Env) (*Config, error) {
	cfg, err := parse(name, data, env)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// parse is Parse, except that the Config comes back with the error when the
// file was valid YAML, for check to build what it can (see Diagnose).
func parse(name string, data []byte, env Env) (*Config, error) {
	env = env.lookup()
	d, err := decodeFile(name, data, env)
	if err != nil {
		return nil, err
	}
	d.cfg.Source = name
	return d.cfg, finish(d.cfg, env, d.loc, d.errs, d.blocked)
}

// finish applies the AUTHGATE_* overrides, fills defaults and validates: the
// steps a file and the environment-only mode share. early are the errors
// found before (decoding, or parsing a variable); validation's findings
// inside the fields (or about the variables) that blocked names are left
// out, as repeats of those. It returns every error,
// early ones included, in line order; cfg is filled in either way.
func finish(cfg *Config, env Env, loc *locator, early []*FieldError, blocked []string) error {
	if err := applyOverrides(cfg, env, loc); err != nil {
		return err
	}
	fillDefaults(cfg, loc)
	cfg.loc = loc
	loc.blocked = blocked
	errs := early
	for _, e := range cfg.check() {
		if !blockedBy(e.Path, blocked) {
			errs = append(errs, e)
		}
	}
	return joinSorted(errs)
}

// Resolve picks the configuration source, first that applies: flagPath;
// AUTHGATE_CONFIG; env-only mode (AUTHGATE_UPSTREAM and AUTHGATE_ISSUER both
// set); otherwise an error of type *NoSourceError. When a file is used while
// environment-only variables are set too, a warning says they are ignored.
// Resolve only looks variables up; ResolveEnviron also reports the
// AUTHGATE_* variables authgate does not know.
func Resolve(flagPath string, env Env) (*Config, error) {
	cfg, err := resolve(flagPath, env.lookup(), nil)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// ResolveEnviron is Resolve for a whole environment in os.Environ's form
// (NAME=value), which lets it tell the variables set that authgate does not
// read. In environment-only mode each such AUTHGATE_* variable is a warning
// in cfg.Warnings, naming the closest known one ("AUTHGATE_AUDIENCES is not
// a variable authgate reads; did you mean AUTHGATE_AUDIENCE?"); with a
// file, only those near a known name are (the file ignores the
// environment-only variables anyway). The variables Kubernetes sets for a
// Service named authgate (AUTHGATE_SERVICE_*, AUTHGATE_PORT*) are never
// reported. A required variable's error mentions a near miss that is set.
func ResolveEnviron(flagPath string, environ []string) (*Config, error) {
	cfg, err := Diagnose(flagPath, environ)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// Diagnose is ResolveEnviron for `authgate check`: when the source was
// found and could be decoded, the Config comes back with the error, filled
// as far as it could be, so that the caller can run the checks that need a
// whole Config too (gateway.Build) and report everything in one run (see
// LocateMore). The Config is nil when there is nothing to check: no
// source, a file that cannot be read or is not valid YAML, a required
// variable missing.
func Diagnose(flagPath string, environ []string) (*Config, error) {
	names := environNames(environ)
	cfg, err := resolve(flagPath, environLookup(environ), names)
	if cfg != nil {
		cfg.Warnings = append(cfg.Warnings, unknownVars(names, cfg.Source == envSource)...)
	}
	return cfg, err
}

// resolve is Resolve; names, when known, are every variable set. The
// Config comes back with the error when it could be decoded.
func resolve(flagPath string, env Env, names []string) (*Config, error) {
	path := flagPath
	if path == "" {
		path, _ = env(varConfig)
	}
	upstream, _ := env(varUpstream)
	issuer, _ := env(varIssuer)
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read configuration: %w", err)
		}
		cfg, err := parse(path, data, env)
		if cfg == nil {
			return nil, err
		}
		for _, v := range []string{varUpstream, varIssuer} {
			if s, _ := env(v); s != "" {
				cfg.Warnings = append(cfg.Warnings, (&FieldError{File: envSource, Path: v,
					Msg: "ignored: the configuration file " + path + " is used instead of environment-only mode"}).Error())
			}
		}
		return cfg, err
	}
	if upstream != "" && issuer != "" {
		return fromEnv(env, names)
	}
	e := &NoSourceError{UpstreamSet: upstream != "", IssuerSet: issuer != ""}
	switch {
	case e.UpstreamSet:
		e.NearMiss = nearMiss(varIssuer, names)
	case e.IssuerSet:
		e.NearMiss = nearMiss(varUpstream, names)
	}
	return nil, e
}

// NoSourceError is Resolve's error when no configuration source applies. Its
// message names all three sources and suggests `authgate demo`.
type NoSourceError struct {
	// UpstreamSet and IssuerSet report a half-configured environment-only
	// mode, which the message then points out.
	UpstreamSet, IssuerSet bool
	// NearMiss is a remark about a set variable that is probably a typo
	// of the missing one, or "".
	NearMiss string
}

// Error names the three sources and suggests `authgate demo`.
func (e *NoSourceError) Error() string {
	msg := "no configuration: pass -config FILE, set AUTHGATE_CONFIG to a file, " +
		"or set AUTHGATE_UPSTREAM+AUTHGATE_ISSUER for environment-only mode"
	switch {
	case e.UpstreamSet:
		msg += " (AUTHGATE_UPSTREAM is set but AUTHGATE_ISSUER is not)"
	case e.IssuerSet:
		msg += " (AUTHGATE_ISSUER is set but AUTHGATE_UPSTREAM is not)"
	}
	msg += e.NearMiss
	return msg + "; to try authgate without any configuration, run `authgate demo`"
}

var _ error = (*NoSourceError)(nil)
