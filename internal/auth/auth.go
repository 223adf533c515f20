// Package auth authenticates a request's credentials for one route: token
// verification (docs/reference.md §3.3 steps 2–6, internal/verify) joined with the
// route's policy (step 7, policy) into one call whose answer is one value,
// the identity or the refusal. It knows nothing of HTTP routing, headers or
// responses: the proxy extracts the credentials, maps a refusal to its
// response and forwards the identity.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/verify"
	"github.com/authgate/authgate/policy"
)

// SchemeBearer is the RFC 6750 authorization scheme, the only one an
// Authenticator accepts today.
const SchemeBearer = "Bearer"

// Request is the read-only view of one request that authentication may use.
// The caller owns every value in it; an Authenticator never modifies them
// and keeps none after Authenticate returns.
type Request struct {
	// Scheme is the authorization scheme the credentials came with
	// (SchemeBearer).
	Scheme string
	// Credentials are the scheme's credentials: for Bearer, the token.
	Credentials string
	// Method and URL are the request's method and URL as received, for
	// proofs that bind a token to a request (RFC 9449 htm and htu).
	Method string
	URL    *url.URL
	// DPoP holds the request's DPoP header values (RFC 9449 §4), nil when it
	// has none. Carried for proof-of-possession; not checked yet.
	DPoP []string
	// Trace, if set, records every step of the decision for explain; nil on
	// the request path.
	Trace *verify.Trace
}

// Result is the outcome of Authenticate: exactly one of Identity and Err is
// set.
type Result struct {
	// Identity is the verified identity that passed the route's policy; nil
	// when refused.
	Identity *verify.Identity
	// Err is the refusal, nil when allowed. It wraps exactly one reason
	// sentinel (reason.Of), and is an *verify.Error naming the issuer once
	// one is known. Its text is for logs: it may quote claim values, never
	// the token. Clients get reason.Describe(Err) only.
	Err error
	// Issuer is the configured name of the issuer that vouched for or
	// refused the token, "" when the token selected none.
	Issuer string
	// Subject is the verified sub claim, also when the policy refused a
	// verified token (for the access log); "" otherwise.
	Subject string
}

// Reason is the result's reason: reason.OK when allowed, else the deny
// reason Err carries ("" for an Err without one, which is a fault).
func (r Result) Reason() reason.Reason {
	if r.Err == nil {
		return reason.OK
	}
	return reason.Of(r.Err)
}

// Authenticator verifies a route's tokens and applies its policy. It is
// immutable and safe for concurrent use.
type Authenticator struct {
	verifier *verify.Verifier
	policy   *policy.Policy
}

// New joins a route's verifier and policy. Both are required.
func New(v *verify.Verifier, p *policy.Policy) (*Authenticator, error) {
	if v == nil || p == nil {
		return nil, errors.New("auth: a verifier and a policy are required")
	}
	return &Authenticator{verifier: v, policy: p}, nil
}

// Verifier returns the route's verifier, for explain to describe its issuers.
func (a *Authenticator) Verifier() *verify.Verifier { return a.verifier }

// Policy returns the route's policy, for explain to describe its rules.
func (a *Authenticator) Policy() *policy.Policy { return a.policy }

// Authenticate verifies req's bearer token (§3.3 steps 2–6), then checks the
// route's policy against the verified scopes and claims (step 7). A policy
// refusal carries the issuer and subject of the verified token. It returns
// promptly when ctx ends (the key refetch an unknown kid may cause honours
// it). With req.Trace set, every step is recorded, policy steps included,
// also after an earlier failure (marked After, for information).
func (a *Authenticator) Authenticate(ctx context.Context, req Request) Result {
	if !strings.EqualFold(req.Scheme, SchemeBearer) {
		return Result{Err: fmt.Errorf("%w: the credentials are not of the Bearer scheme", reason.ErrMalformed)}
	}
	id, err := a.verifier.VerifyTrace(ctx, req.Credentials, req.Trace)
	a.trace(req.Trace, id, err)
	if err != nil {
		res := Result{Err: err}
		var ve *verify.Error
		if errors.As(err, &ve) {
			res.Issuer = ve.Issuer
		}
		return res
	}
	if err := a.policy.Check(id.Scopes, id.Claims); err != nil {
		if errors.Is(err, reason.ErrInsufficientScope) {
			err = fmt.Errorf("%w; %s", err, a.scopeHint(id.Issuer, id.Scopes, id.Claims))
		}
		// Wrapped like a verification failure, so that every refusal
		// after the issuer is known names it the same way in the log.
		return Result{Err: &verify.Error{Issuer: id.Issuer, Err: err}, Issuer: id.Issuer, Subject: id.Subject}
	}
	return Result{Identity: id, Issuer: id.Issuer, Subject: id.Subject}
}

// trace records step 7, one step per policy requirement, after VerifyTrace
// recorded steps 2–6. It runs on the verified identity; after a failure, on
// the token's unverified claims, marked After. Without a selected issuer
// there are no scope claims to read, so step 7 is not shown.
func (a *Authenticator) trace(t *verify.Trace, id *verify.Identity, err error) {
	if t == nil || t.Issuer == "" {
		return
	}
	verified := err == nil
	scopes, claims := t.Scopes, t.Claims
	if verified {
		scopes, claims = id.Scopes, id.Claims
	}
	results := a.policy.Explain(scopes, claims)
	if len(results) == 0 {
		t.Steps = append(t.Steps, verify.Step{Stage: 7, Name: StepPolicy, OK: true, After: !verified,
			Detail: "the route has no requirements: any verified token passes"})
	}
	hinted := false
	for _, res := range results {
		d := res.Requirement
		if !res.OK {
			d += ": " + res.Detail
		}
		// The first failed scope requirement says where scopes were read,
		// as the refusal's log line does.
		if !res.OK && !hinted && res.Reason == reason.InsufficientScope {
			hinted = true
			d += "; " + a.scopeHint(t.Issuer, scopes, claims)
		}
		t.Steps = append(t.Steps, verify.Step{Stage: 7, Name: StepPolicy, OK: res.OK, Detail: d, After: !verified})
	}
}

// scopeHint says, for an insufficient_scope refusal, where issuer's scopes
// were read and which other claim holds a missing one (policy.ScopeHint):
// the commonest cause is a provider granting them in a claim that is not
// among the issuer's scope_claims (Kinde's permissions).
func (a *Authenticator) scopeHint(issuer string, granted []string, claims map[string]any) string {
	return policy.ScopeHint(a.policy.MissingScopes(granted), claims, a.verifier.ScopeClaims(issuer))
}

// StepPolicy is the name of the policy steps (stage 7) in a Trace.
const StepPolicy = "policy"
