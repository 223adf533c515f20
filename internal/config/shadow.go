package config

import (
	"slices"
	"strings"

	"github.com/authgate/authgate/internal/field"
)

// shadowWarnings warns about every route that can never match because an
// earlier route takes all of its requests (routes are tried in order, the
// first match wins). It is a warning, not an error (docs/reference.md §2.1).
func shadowWarnings(routes []Route, p *problems) {
	for j := range routes {
		for i := range j {
			if shadows(routes[i].Match, routes[j].Match) {
				p.warn(field.Index("routes", j), "never matches: shadowed by routes[%d] %s", i, field.Quote(routes[i].Name))
				break
			}
		}
	}
}

// shadows reports whether every request b matches is matched by a.
func shadows(a, b Match) bool {
	if a.Host != "" && !strings.EqualFold(a.Host, b.Host) {
		return false
	}
	// Empty methods means any method, which only another empty list covers.
	if len(a.Methods) > 0 {
		if len(b.Methods) == 0 {
			return false
		}
		for _, m := range b.Methods {
			if !slices.Contains(a.Methods, m) {
				return false
			}
		}
	}
	switch {
	case a.PathPrefix != "" && a.Path == "":
		target := b.PathPrefix
		if target == "" {
			target = b.Path
		}
		return target != "" && prefixCovers(a.PathPrefix, target)
	case a.Path != "" && a.PathPrefix == "":
		return b.PathPrefix == "" && b.Path == a.Path
	}
	return false // an invalid match, reported as an error already
}

// prefixCovers reports whether path_prefix prefix matches every path that
// starts with s: a segment-boundary prefix of s, or "/".
func prefixCovers(prefix, s string) bool {
	return prefix == "/" || s == prefix || strings.HasPrefix(s, prefix+"/")
}
