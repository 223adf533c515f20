package policy

// Hints for refusals that come from a provider's setup: scopes granted in
// a claim the issuer does not read them from (Kinde's permissions), and a
// claim that holds the rule's value with another JSON type. They quote
// token values, cut to a few dozen bytes: claim values are the client's
// text and may be personal data, so only what explains the refusal.

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Bounds on ScopeHint's work and output: a token is at most 16 KiB, but the
// hint runs on every insufficient_scope refusal and its text reaches the
// access log.
const (
	maxHintClaims   = 256 // top-level claims examined
	maxHintElements = 256 // elements examined per array claim
	maxHintHolders  = 3   // other claims named
)

// MissingScopes returns the scopes the policy requires that granted lacks:
// those of Scopes not granted, and all of AnyScopes when none of them is
// granted, without duplicates. It is empty when no scope requirement fails.
func (p *Policy) MissingScopes(granted []string) []string {
	var out []string
	for i := range p.reqs {
		switch t := p.reqs[i].t.(type) {
		case allScopes:
			for _, s := range t {
				if !contains(granted, s) && !contains(out, s) {
					out = append(out, s)
				}
			}
		case anyScopes:
			if ok, _ := t.test(granted, nil); !ok {
				for _, s := range t {
					if !contains(out, s) {
						out = append(out, s)
					}
				}
			}
		}
	}
	return out
}

// ScopeHint explains an insufficient_scope refusal: which claims the scopes
// were read from (scopeClaims, the issuer's scope_claims) and what those
// held, and which other top-level claims of the token (strings read as
// space-separated lists, arrays of strings) hold a missing scope, with the
// setting that would read them:
//
//	scopes read from scope, scp (scope: "openid profile"); permissions holds read:orders: set scope_claims: [permissions]
//
// It examines at most maxHintClaims claims and maxHintElements elements of
// each, and quotes values cut to 64 bytes.
func ScopeHint(missing []string, claims map[string]any, scopeClaims []string) string {
	var b strings.Builder
	b.WriteString("scopes read from " + strings.Join(scopeClaims, ", ") + " (")
	n := 0
	for _, name := range scopeClaims {
		v, ok := claims[name]
		if !ok {
			continue
		}
		if n > 0 {
			b.WriteString(", ")
		}
		n++
		b.WriteString(name + ": " + quoteValue(v))
	}
	if n == 0 {
		b.WriteString("none of them present")
	}
	b.WriteString(")")

	holders := ScopeHolders(missing, claims, scopeClaims)
	for _, h := range holders {
		b.WriteString("; " + h.Claim + " holds " + strings.Join(h.Scopes, " "))
	}
	if len(holders) > 0 {
		names := make([]string, len(holders))
		for i, h := range holders {
			names[i] = h.Claim
		}
		b.WriteString(": set scope_claims: [" + strings.Join(names, ", ") + "]")
	}
	return b.String()
}

// Holder is a claim outside scope_claims that holds missing scopes.
type Holder struct {
	// Claim is the claim's name, bare when it is a plain word, else quoted;
	// cut to 64 bytes.
	Claim string
	// Scopes are the missing scopes it holds, in the order of missing.
	Scopes []string
}

// ScopeHolders returns the top-level claims of the token, other than
// scopeClaims, that hold scopes of missing when read as a scope claim (a
// space-separated string or an array of strings): at most maxHintHolders,
// by name. It examines at most maxHintClaims claims and maxHintElements
// elements of each.
func ScopeHolders(missing []string, claims map[string]any, scopeClaims []string) []Holder {
	if len(missing) == 0 {
		return nil
	}
	keys := make([]string, 0, min(len(claims), maxHintClaims))
	for k := range claims {
		if len(keys) == maxHintClaims {
			break
		}
		if !contains(scopeClaims, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys) // deterministic output: map order is random
	var out []Holder
	for _, k := range keys {
		if held := holds(claims[k], missing); len(held) > 0 {
			if out = append(out, Holder{Claim: claimName(k), Scopes: held}); len(out) == maxHintHolders {
				break
			}
		}
	}
	return out
}

// holds returns the scopes of missing that claim v grants when read as a
// scope claim: a space-separated string or an array of strings.
func holds(v any, missing []string) []string {
	var out []string
	add := func(s string) {
		if contains(missing, s) && !contains(out, s) {
			out = append(out, s)
		}
	}
	switch x := v.(type) {
	case string:
		for i, s := range strings.Fields(x) {
			if i == maxHintElements {
				break
			}
			add(s)
		}
	case []any:
		for i, e := range x {
			if i == maxHintElements {
				break
			}
			if s, ok := e.(string); ok {
				add(s)
			}
		}
	}
	return out
}

// quoteValue renders a claim value as JSON, cut to 64 bytes.
func quoteValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "(unprintable)"
	}
	return shorten(string(b))
}

// claimName writes a claim's name bare when it is a plain word
// (letters, digits, "_", "-", ":", "."), else quoted; cut to 64 bytes.
func claimName(k string) string {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-:.", c) >= 0) {
			return strconv.Quote(shorten(k))
		}
	}
	if k == "" {
		return `""`
	}
	return shorten(k)
}
