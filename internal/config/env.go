package config

import (
	"reflect"

	envlib "github.com/caarlos0/env/v11"
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
