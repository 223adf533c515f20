package config

import (
	"reflect"
	"slices"
	"strings"
)

// knownVars are the names of every variable authgate reads, in a fixed
// order (suggestions prefer the earlier of two equally near names).
var knownVars = func() []string {
	names := []string{varConfig}
	for _, m := range []map[string]string{tagMap[overrideVars]("env"), sidecarFields} {
		for name := range m {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}()

// tagMap maps the env tag of each field of the struct T to its tag named
// key (the tag itself for key "env").
func tagMap[T any](key string) map[string]string {
	m := map[string]string{}
	for f := range reflect.TypeFor[T]().Fields() {
		m[f.Tag.Get("env")] = f.Tag.Get(key)
	}
	return m
}

const varPrefix = "AUTHGATE_"

// kubernetesVar reports the names Kubernetes sets in every pod of a
// namespace that has a Service called authgate (AUTHGATE_SERVICE_HOST,
// AUTHGATE_PORT_8080_TCP, …): not the user's, so never reported.
func kubernetesVar(name string) bool {
	return name == "AUTHGATE_PORT" || strings.HasPrefix(name, "AUTHGATE_PORT_") || strings.HasPrefix(name, "AUTHGATE_SERVICE_")
}

// suggestVar returns the known variable name is probably a typo of, or "".
// Names are compared without the common prefix, so that it does not make
// every AUTHGATE_ name look near every other.
func suggestVar(name string) string {
	rest, ok := strings.CutPrefix(strings.ToUpper(name), varPrefix)
	if !ok {
		return ""
	}
	cands := make([]string, len(knownVars))
	for i, k := range knownVars {
		cands[i] = strings.TrimPrefix(k, varPrefix)
	}
	if s := closest(rest, cands); s != "" {
		return varPrefix + s
	}
	return ""
}

// unknownVars returns a warning for each AUTHGATE_* name in names that
// authgate does not read, Kubernetes' service variables aside. With all
// false (a file is the configuration, and most AUTHGATE_ variables are the
// environment-only mode's, which a file ignores anyway) only those near a
// known name are reported: the likely typos of an override.
func unknownVars(names []string, all bool) []string {
	var out []string
	for _, name := range names {
		if !strings.HasPrefix(name, varPrefix) || slices.Contains(knownVars, name) || kubernetesVar(name) {
			continue
		}
		msg := name + " is not a variable authgate reads"
		switch s := suggestVar(name); {
		case s != "":
			msg += "; did you mean " + s + "?"
		case !all:
			continue
		default:
			msg += "; it is ignored"
		}
		out = append(out, (&FieldError{File: envSource, Msg: msg}).Error())
	}
	slices.Sort(out)
	return out
}

// nearMiss is the remark a "required" error about the variable want adds
// when a variable that is probably a typo of it is set (AUTHGATE_AUDIENCES
// for AUTHGATE_AUDIENCE), or "".
func nearMiss(want string, names []string) string {
	for _, name := range names {
		if name != want && !slices.Contains(knownVars, name) && suggestVar(name) == want {
			return " (" + name + " is set: did you mean " + want + "?)"
		}
	}
	return ""
}

// environNames returns the names of an environment in os.Environ's form.
func environNames(environ []string) []string {
	names := make([]string, 0, len(environ))
	for _, kv := range environ {
		if name, _, ok := strings.Cut(kv, "="); ok && name != "" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// environLookup is an Env over an environment in os.Environ's form; the
// last of repeated names wins, as in os.Getenv.
func environLookup(environ []string) Env {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if name, v, ok := strings.Cut(kv, "="); ok {
			m[name] = v
		}
	}
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// overridePaths maps each field a §2.2 variable overrides to the variable.
var overridePaths = map[string]string{
	"server.listen":       "AUTHGATE_LISTEN",
	"server.admin_listen": varAdminListen,
	"log.level":           "AUTHGATE_LOG_LEVEL",
	"log.format":          "AUTHGATE_LOG_FORMAT",
}

// SetBy names what sets the field at path, for a message that says what to
// change: the environment variable that set it ("AUTHGATE_LISTEN"), or
// the field with the variable that would override it ("server.listen (or
// AUTHGATE_LISTEN)"), or the field alone.
func (c *Config) SetBy(path string) string {
	if c.loc != nil {
		if v, ok := c.loc.vars[path]; ok {
			return v
		}
	}
	if c.Source == envSource {
		if v := overridePaths[path]; v != "" {
			return v
		}
	}
	if v := overridePaths[path]; v != "" {
		return path + " (or " + v + ")"
	}
	return path
}
