package gateway

// The one place that maps a refusal's reason to the fix explain suggests.
// The access log keeps the refusal's short detail; a fix is longer, says
// who has to act (the client, the provider's setup, this configuration) and
// is only ever printed by explain.

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/human"

	"github.com/authgate/authgate/internal/field"
	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/verify"
	"github.com/authgate/authgate/policy"
	"github.com/authgate/authgate/proxy"
)

// fixContext is what a fix may read: the decision, its trace, the token's
// shape (never the token) and the runtime the decision ran on.
type fixContext struct {
	rt    *Runtime
	d     proxy.Decision
	t     *verify.Trace
	step  verify.Step // the deciding step; zero when none failed
	parts int         // the token's dot-separated parts, 0 without a token
}

// fixes maps every deny reason to its fix. A reason without an entry gets
// none; TestFixesCoverEveryDenyReason keeps the table complete.
var fixes = map[reason.Reason]func(fixContext) string{
	reason.Missing: func(fixContext) string {
		return "send the access token in an Authorization: Bearer <token> header"
	},
	reason.Malformed:       fixMalformed,
	reason.UntrustedIssuer: fixUntrustedIssuer,
	reason.AlgNotAllowed:   fixAlgNotAllowed,
	reason.UnknownKey:      fixUnknownKey,
	reason.BadSignature: func(fixContext) string {
		return "the token was altered or cut short when copied, or another environment signs with a key of the same kid: get a fresh token from the provider the route trusts"
	},
	reason.Expired:     fixExpired,
	reason.NotYetValid: fixNotYetValid,
	reason.BadAudience: fixBadAudience,
	reason.MissingClaim: func(c fixContext) string {
		o, _ := c.issuerOptions()
		var absent []string
		for _, name := range o.RequiredClaims {
			if c.t.Claims[name] == nil {
				absent = append(absent, name)
			}
		}
		return fmt.Sprintf("the token lacks %s, which issuer %s's required_claims (%s) demand: have the provider include it, or drop it from required_claims",
			strings.Join(absent, ", "), o.Name, strings.Join(o.RequiredClaims, ", "))
	},
	reason.BadType: func(c fixContext) string {
		o, _ := c.issuerOptions()
		return fmt.Sprintf("the header typ is not one of issuer %s's token_types (%s): send the provider's access token (an ID token has typ JWT), or change token_types", o.Name, strings.Join(o.TokenTypes, ", "))
	},
	reason.InsufficientScope: fixInsufficientScope,
	reason.ClaimMismatch: func(c fixContext) string {
		return "the token's claims do not meet the route's claims rule (" + c.step.Detail + "): have the provider set the claim, or change the rule; a value's JSON type must match too (\"true\" is not true)"
	},
	reason.KeysUnavailable: func(c fixContext) string {
		return "the gateway cannot fetch issuer " + c.d.Issuer + "'s keys (see keys above): check that its discovery or jwks_url is reachable from the gateway; clients get 503 until a fetch succeeds"
	},
	reason.UnforwardableClaim: func(fixContext) string {
		return "a claim named in forward.headers holds what cannot be a header value: forward another claim, or the whole payload with forward.claims_header"
	},
}

// fix returns the fix for the decision's reason, "" when it has none.
func fix(c fixContext) string {
	f := fixes[c.d.Reason]
	if f == nil {
		return ""
	}
	return f(c)
}

func fixMalformed(c fixContext) string {
	switch {
	case c.step.Name == "token":
		return "send exactly one Authorization: Bearer <token> header, the token alone after \"Bearer \""
	case c.step.Name == verify.StepFormat && c.parts == 1:
		return "this is not a JWT: opaque tokens (e.g. Auth0 without an audience) cannot be verified; ask the provider for a JWT access token (Auth0: pass audience when requesting the token)"
	case c.step.Name == verify.StepFormat && c.parts == 5:
		return "this is an encrypted token (JWE), which cannot be verified without the provider's private key: have the provider issue signed (JWS) access tokens"
	case c.step.Name == verify.StepFormat:
		return "this is not a compact JWT (three base64url parts joined by dots): check that the whole token was copied"
	case c.step.Name == verify.StepCrit:
		return "the token's header has crit, naming a JWS extension authgate does not implement: have the provider issue plain JWS access tokens"
	}
	return "a claim does not have its RFC 7519 type (exp, nbf and iat are numbers; aud a string or a list of strings): the provider issues tokens authgate cannot read"
}

func fixUntrustedIssuer(c fixContext) string {
	iss, isString := c.t.Claims["iss"].(string)
	_, present := c.t.Claims["iss"]
	if v := c.verifier(); v != nil && isString {
		if h := v.IssuerNearMiss(iss); h != "" {
			return h
		}
	}
	if !present {
		return "the token has no iss claim, and authgate picks the issuer by iss: use an access token from one of the route's issuers"
	}
	if !isString {
		return "the token's iss is not a string: use an access token from one of the route's issuers"
	}
	return "iss must equal one of the route's issuers exactly: if " + field.Quote(iss) + " is trusted, add an issuer with issuer: " + field.Quote(iss) + " and list it in the route's auth.issuers; else the token comes from another provider, tenant or environment"
}

func fixAlgNotAllowed(c fixContext) string {
	alg, _ := headerString(c.t, "alg")
	o, _ := c.issuerOptions()
	switch {
	case alg == "" || strings.EqualFold(alg, "none"):
		return "the token is unsigned: authgate never accepts alg none"
	case strings.HasPrefix(alg, "HS"):
		return alg + " is a shared-secret algorithm, which authgate never accepts: configure the provider to sign access tokens with RS256 or ES256"
	}
	return fmt.Sprintf("add %s to issuer %s's algorithms (now %s), if the provider really signs with it", field.Quote(alg), o.Name, strings.Join(o.Algorithms, ", "))
}

func fixUnknownKey(c fixContext) string {
	kid, _ := headerString(c.t, "kid")
	kids := "none"
	if is := c.rt.issuer(c.d.Issuer); is != nil {
		if set, err := is.cache.Keys(); err == nil {
			names := make([]string, 0, min(len(set.Keys), 10))
			for i, k := range set.Keys {
				if i == 10 {
					names = append(names, "…")
					break
				}
				names = append(names, field.Quote(k.KID))
			}
			if len(names) > 0 {
				kids = strings.Join(names, ", ")
			}
		}
	}
	if kid == "" {
		return "the token has no kid and no key of issuer " + c.d.Issuer + " fits its algorithm (kids in the set: " + kids + "): the token comes from another tenant or environment"
	}
	return "kid " + field.Quote(kid) + " is not in issuer " + c.d.Issuer + "'s key set (kids in the set: " + kids + "): the token comes from another tenant or environment, or the provider rotated its keys and does not publish the new one yet"
}

func fixExpired(c fixContext) string {
	at, ok := claimTime(c.t, "exp")
	o, _ := c.issuerOptions()
	if !ok || c.t.Now.IsZero() {
		return "the client must refresh the token (or get a new one)"
	}
	return fmt.Sprintf("the client must refresh the token (or get a new one): it expired %s ago, at %s; clock_skew %s", human.Age(c.t.Now.Sub(at)), at.UTC().Format(time.RFC3339), o.ClockSkew)
}

func fixNotYetValid(c fixContext) string {
	name := verify.StepNbf
	if c.step.Name == verify.StepIat {
		name = verify.StepIat
	}
	at, ok := claimTime(c.t, name)
	o, _ := c.issuerOptions()
	if !ok || c.t.Now.IsZero() {
		return "the issuer's clock and the gateway's differ: sync both (NTP), or raise clock_skew"
	}
	return fmt.Sprintf("the issuer's clock is ahead of the gateway's: %s is %s after the gateway's now, beyond clock_skew %s; sync both clocks (NTP), or raise issuer %s's clock_skew", name, human.Age(at.Sub(c.t.Now)), o.ClockSkew, o.Name)
}

func fixBadAudience(c fixContext) string {
	if a, ok := c.t.Claims["aud"].([]any); ok && len(a) == 0 {
		return verify.EmptyAudienceHint
	}
	o, _ := c.issuerOptions()
	allowed := o.Audiences
	if v := c.verifier(); v != nil && v.Audiences() != nil {
		allowed = v.Audiences()
	}
	return "request the token for one of the route's audiences (" + strings.Join(allowed, ", ") + "), e.g. with the provider's audience parameter; or, if its aud is meant for this API, add it to the issuer's audiences"
}

func fixInsufficientScope(c fixContext) string {
	a := c.rt.auth[c.d.Route.Name]
	if a == nil {
		return ""
	}
	missing := a.Policy().MissingScopes(c.t.Scopes)
	scopeClaims := a.Verifier().ScopeClaims(c.d.Issuer)
	if h := policy.ScopeHolders(missing, c.t.Claims, scopeClaims); len(h) > 0 {
		names := make([]string, len(h))
		for i := range h {
			names[i] = h[i].Claim
		}
		return fmt.Sprintf("%s holds %s, but issuer %s reads scopes from %s: set scope_claims: [%s] on issuer %s",
			h[0].Claim, strings.Join(h[0].Scopes, " "), c.d.Issuer, strings.Join(scopeClaims, ", "), strings.Join(names, ", "), c.d.Issuer)
	}
	return "grant " + strings.Join(missing, " ") + " to the client or user in the provider (scopes are read from " + strings.Join(scopeClaims, ", ") + "), and have the client request it"
}

// verifier is the route's verifier, nil for a route without one.
func (c fixContext) verifier() *verify.Verifier {
	if c.d.Route == nil {
		return nil
	}
	if a := c.rt.auth[c.d.Route.Name]; a != nil {
		return a.Verifier()
	}
	return nil
}

// issuerOptions are the options of the issuer the decision names.
func (c fixContext) issuerOptions() (verify.IssuerOptions, bool) {
	if v := c.verifier(); v != nil {
		for _, is := range v.Issuers() {
			if is.Name() == c.d.Issuer {
				return is.Options(), true
			}
		}
	}
	return verify.IssuerOptions{Name: c.d.Issuer}, false
}

// headerString reads a string member of the token's decoded header.
func headerString(t *verify.Trace, name string) (string, bool) {
	var h map[string]any
	if json.Unmarshal(t.Header, &h) != nil {
		return "", false
	}
	s, ok := h[name].(string)
	return s, ok
}

// claimTime reads a NumericDate claim (whole seconds are enough here).
func claimTime(t *verify.Trace, name string) (time.Time, bool) {
	n, ok := t.Claims[name].(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}
