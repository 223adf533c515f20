// Package policy decides whether a verified identity may use a route
// (docs/reference.md §3.3 step 7, §3.4). It knows nothing of HTTP or tokens: it sees
// granted scopes and verified claims and answers allow (nil) or deny (an
// error wrapping a reason sentinel).
package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/authgate/authgate/internal/field"
	"github.com/authgate/authgate/internal/reason"
)

// Rules are a route's authorization requirements as configured.
type Rules struct {
	// Scopes must every one be granted.
	Scopes []string
	// AnyScopes, when non-empty, must have at least one granted.
	AnyScopes []string
	// Claims must every entry hold (docs/reference.md §3.4). A key is a top-level
	// claim name, or an RFC 6901 JSON Pointer when it starts with "/"
	// ("https://example.com/roles" is a name and needs no escaping). A
	// value is a scalar (string, bool, any Go integer or float type,
	// json.Number), which the claim must equal or, when the claim is an
	// array, contain; or a non-empty list of scalars ([]any or []string),
	// with which the claim (a scalar or an array) must share an element.
	Claims map[string]any
}

// tester is one compiled requirement's test. It returns ok, or a detail
// saying why not that quotes a claim value only where it holds the rule's
// value with another JSON type, cut to 64 bytes.
type tester interface {
	test(scopes []string, claims map[string]any) (ok bool, detail string)
}

// requirement is one compiled rule: what it requires (for Explain and
// logs), the reason sentinel its failure wraps, and its test. Check and
// Explain both run exactly these, so they cannot disagree.
type requirement struct {
	text string
	deny error
	t    tester
}

func (r *requirement) fail(detail string) error {
	return fmt.Errorf("%w: %s: %s", r.deny, r.text, detail)
}

// Policy is a compiled, immutable set of Rules. It is safe for concurrent use.
type Policy struct {
	reqs     []requirement
	required []string // for WWW-Authenticate scope="…"
}

// Result is the outcome of one policy requirement, for explain.
type Result struct {
	// Requirement says what is required, in configuration terms:
	// `scopes: all of [read write]`, `any_scopes: one of [a b]`,
	// `claims["/realm_access/roles"]: one of ["admin"]`,
	// `claims["org_code"]: "org_123"`. Its values come from the
	// configuration, never from a token.
	Requirement string
	// OK reports whether the requirement holds.
	OK bool
	// Reason is the deny reason its failure gives: insufficient_scope for
	// scopes and any_scopes, claim_mismatch for claims.
	Reason reason.Reason
	// Detail says why it does not hold ("missing scope write", "claim
	// absent", "claim value does not match"); empty when OK. It quotes a
	// claim value only when the claim holds the rule's value with another
	// JSON type ("the token holds the string \"true\", the rule wants the
	// boolean true"), cut to 64 bytes.
	Detail string
}

// New validates and compiles r. Scope names must be RFC 6749 §3.3
// scope-tokens (IsScopeToken); such names can be quoted in WWW-Authenticate
// without escaping. Duplicates are dropped. Each Claims entry is compiled as
// CompileClaim describes; an invalid JSON Pointer, a null, an object, an
// empty list or a list holding anything but scalars is an error naming the
// key. Errors are *field.Error values, one per bad entry, with paths in
// configuration spelling relative to a route's auth block: scopes[1],
// any_scopes[0], claims.roles, claims["/realm_access/roles"].
func New(r Rules) (*Policy, error) {
	all, errAll := scopeList("scopes", r.Scopes)
	anyOf, errAny := scopeList("any_scopes", r.AnyScopes)
	errs := []error{errAll, errAny}
	p := &Policy{}
	if len(all) > 0 {
		p.reqs = append(p.reqs, requirement{
			text: "scopes: all of [" + strings.Join(all, " ") + "]",
			deny: reason.ErrInsufficientScope,
			t:    allScopes(all),
		})
	}
	if len(anyOf) > 0 {
		p.reqs = append(p.reqs, requirement{
			text: "any_scopes: one of [" + strings.Join(anyOf, " ") + "]",
			deny: reason.ErrInsufficientScope,
			t:    anyScopes(anyOf),
		})
	}
	// Sorted keys: map order is random, and the first failure Check
	// reports (and Explain's order) must not change from run to run.
	keys := make([]string, 0, len(r.Claims))
	for k := range r.Claims {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		c, cond, err := compileClaim(k, r.Claims[k])
		if err != nil {
			errs = append(errs, &field.Error{Path: field.Key("claims", k), Err: err})
			continue
		}
		p.reqs = append(p.reqs, requirement{text: claimText(k, cond), deny: reason.ErrClaimMismatch, t: c})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p.required = dedupe(append(append([]string(nil), all...), anyOf...))
	return p, nil
}

// Check returns nil when scopes (the granted scopes) and claims (the
// verified payload, numbers as json.Number) satisfy the rules. Otherwise it
// returns the first failure in Explain's order: scopes, any_scopes, then
// claims by key. A scope failure wraps reason.ErrInsufficientScope, a claim
// failure reason.ErrClaimMismatch; the detail names the requirement and
// quotes claim values only as Result.Detail says. A Policy with no rules
// allows everything.
func (p *Policy) Check(scopes []string, claims map[string]any) error {
	for i := range p.reqs {
		r := &p.reqs[i]
		if ok, detail := r.t.test(scopes, claims); !ok {
			return r.fail(detail)
		}
	}
	return nil
}

// Explain evaluates every requirement (not stopping at the first failure)
// and returns one Result each, in Check's order; Check fails iff some Result
// is not OK. A Policy with no rules returns no Results.
func (p *Policy) Explain(scopes []string, claims map[string]any) []Result {
	out := make([]Result, len(p.reqs))
	for i := range p.reqs {
		r := &p.reqs[i]
		ok, detail := r.t.test(scopes, claims)
		out[i] = Result{Requirement: r.text, OK: ok, Reason: reason.Of(r.deny), Detail: detail}
	}
	return out
}

// RequiredScopes lists the scopes to name in WWW-Authenticate scope="…"
// (RFC 6750 §3): Scopes, then AnyScopes, without duplicates. The slice is
// shared; callers must not modify it.
func (p *Policy) RequiredScopes() []string { return p.required }

// allScopes requires every listed scope.
type allScopes []string

func (a allScopes) test(granted []string, _ map[string]any) (bool, string) {
	var missing []string
	for _, s := range a {
		if !contains(granted, s) {
			missing = append(missing, s)
		}
	}
	switch len(missing) {
	case 0:
		return true, ""
	case 1:
		return false, "missing scope " + missing[0]
	}
	return false, "missing scopes " + strings.Join(missing, " ")
}

// anyScopes requires at least one listed scope.
type anyScopes []string

func (a anyScopes) test(granted []string, _ map[string]any) (bool, string) {
	for _, s := range a {
		if contains(granted, s) {
			return true, ""
		}
	}
	return false, "none of them granted"
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

// scopeList validates names (path is the config field) and returns them
// without duplicates, in order, and an error for every name that is not a
// scope token.
func scopeList(path string, names []string) ([]string, error) {
	var errs []error
	for i, s := range names {
		if !IsScopeToken(s) {
			errs = append(errs, field.Errorf(field.Index(path, i), "must be a scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)"))
		}
	}
	return dedupe(names), errors.Join(errs...)
}

// IsScopeToken reports whether s is an RFC 6749 §3.3 scope-token, exactly:
//
//	scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
//
// printable ASCII without space, '"' and '\'. Anything else (a control
// character, a byte of a non-ASCII character) is refused. It is the one
// scope rule: the proxy checks the scopes it names in WWW-Authenticate
// scope="…" with it too.
func IsScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0x21, c >= 0x23 && c <= 0x5b, c >= 0x5d && c <= 0x7e:
		default:
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
	_ tester = allScopes(nil)
	_ tester = anyScopes(nil)
)
