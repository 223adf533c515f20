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

// Environment variables that choose the configuration source (CONTRACT §1).
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
	env = env.lookup()
	cfg, loc, err := decodeFile(name, data, env)
	if err != nil {
		return nil, err
	}
	cfg.Source = name
	return finish(cfg, env, loc)
}

// finish applies the AUTHGATE_* overrides, fills defaults and validates: the
// steps a file and the environment-only mode share.
func finish(cfg *Config, env Env, loc *locator) (*Config, error) {
	if err := applyOverrides(cfg, env, loc); err != nil {
		return nil, err
	}
	fillDefaults(cfg, loc)
	cfg.loc = loc
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Resolve picks the configuration source, first that applies: flagPath;
// AUTHGATE_CONFIG; env-only mode (AUTHGATE_UPSTREAM and AUTHGATE_ISSUER both
// set); otherwise an error of type *NoSourceError. When a file is used while
// environment-only variables are set too, a warning says they are ignored.
func Resolve(flagPath string, env Env) (*Config, error) {
	env = env.lookup()
	path := flagPath
	if path == "" {
		path, _ = env(varConfig)
	}
	upstream, _ := env(varUpstream)
	issuer, _ := env(varIssuer)
	if path != "" {
		cfg, err := Load(path, env)
		if err != nil {
			return nil, err
		}
		for _, v := range []string{varUpstream, varIssuer} {
			if s, _ := env(v); s != "" {
				cfg.Warnings = append(cfg.Warnings, (&FieldError{File: envSource, Path: v,
					Msg: "ignored: the configuration file " + path + " is used instead of environment-only mode"}).Error())
			}
		}
		return cfg, nil
	}
	if upstream != "" && issuer != "" {
		return FromEnv(env)
	}
	return nil, &NoSourceError{UpstreamSet: upstream != "", IssuerSet: issuer != ""}
}

// NoSourceError is Resolve's error when no configuration source applies. Its
// message names all three sources and suggests `authgate demo`.
type NoSourceError struct {
	// UpstreamSet and IssuerSet report a half-configured environment-only
	// mode, which the message then points out.
	UpstreamSet, IssuerSet bool
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
	return msg + "; to try authgate without any configuration, run `authgate demo`"
}

var _ error = (*NoSourceError)(nil)
