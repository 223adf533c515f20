// Package policy decides whether a verified identity may use a route
// (CONTRACT §3.3 step 7, §3.4). It knows nothing of HTTP or tokens: it sees
// granted scopes and verified claims and answers allow (nil) or deny (an
// error wrapping a reason sentinel).
package policy

import (
	"fmt"
	"strings"

	"github.com/authgate/authgate/internal/reason"
)

// Rules are a route's authorization requirements as configured.
type Rules struct {
	// Scopes must every one be granted.
	Scopes []string
	// AnyScopes, when non-empty, must have at least one granted.
	AnyScopes []string
}

// requirement is one compiled check against the identity. Scope rules are
// requirements, and claim rules (§3.4 claims) slot in beside them: New
// compiles each rule once, Check runs them in order and stops at the first
// failure.
type requirement interface {
	check(scopes []string, claims map[string]any) error
}

// Policy is a compiled, immutable set of Rules. It is safe for concurrent use.
type Policy struct {
	reqs     []requirement
	required []string // for WWW-Authenticate scope="…"
}

// New validates and compiles r. Scope names must be RFC 6749 §3.3
// scope-tokens: non-empty, printable ASCII, no space, '"' or '\'. Such names
// can be quoted in WWW-Authenticate without escaping. Duplicates are dropped.
func New(r Rules) (*Policy, error) {
	all, err := scopeList("scopes", r.Scopes)
	if err != nil {
		return nil, err
	}
	anyOf, err := scopeList("any_scopes", r.AnyScopes)
	if err != nil {
		return nil, err
	}
	p := &Policy{}
	if len(all) > 0 {
		p.reqs = append(p.reqs, allScopes(all))
	}
	if len(anyOf) > 0 {
		p.reqs = append(p.reqs, anyScopes(anyOf))
	}
	p.required = dedupe(append(append([]string(nil), all...), anyOf...))
	return p, nil
}

// Check returns nil when scopes (the granted scopes) and claims satisfy the
// rules. Otherwise it returns an error wrapping reason.ErrInsufficientScope
// whose detail names the missing scopes; it never quotes claim values.
// A Policy with no rules allows everything.
func (p *Policy) Check(scopes []string, claims map[string]any) error {
	for _, r := range p.reqs {
		if err := r.check(scopes, claims); err != nil {
			return err
		}
	}
	return nil
}

// RequiredScopes lists the scopes to name in WWW-Authenticate scope="…"
// (RFC 6750 §3): Scopes, then AnyScopes, without duplicates. The slice is
// shared; callers must not modify it.
func (p *Policy) RequiredScopes() []string { return p.required }

// allScopes requires every listed scope.
type allScopes []string

func (a allScopes) check(granted []string, _ map[string]any) error {
	var missing []string
	for _, s := range a {
		if !contains(granted, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing scopes %s", reason.ErrInsufficientScope, strings.Join(missing, " "))
	}
	return nil
}

// anyScopes requires at least one listed scope.
type anyScopes []string

func (a anyScopes) check(granted []string, _ map[string]any) error {
	for _, s := range a {
		if contains(granted, s) {
			return nil
		}
	}
	return fmt.Errorf("%w: requires one of the scopes %s", reason.ErrInsufficientScope, strings.Join(a, " "))
}

// contains is a linear scan: scope lists are short, and a map per request
// would cost more than it saves.
func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// scopeList validates names (field is the config field for the message) and
// returns them without duplicates, in order.
func scopeList(field string, names []string) ([]string, error) {
	for i, s := range names {
		if !validScope(s) {
			return nil, fmt.Errorf("%s[%d]: %q is not a valid scope name (RFC 6749 §3.3: non-empty, printable ASCII, no spaces, quotes or backslashes)", field, i, s)
		}
	}
	return dedupe(names), nil
}

// validScope reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func dedupe(list []string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

var (
	_ requirement = allScopes(nil)
	_ requirement = anyScopes(nil)
)
