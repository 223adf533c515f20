package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/human"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/jwks"
)

// Step names, in the order Verify runs the checks. Stage says which step of
// docs/reference.md §3.3 each belongs to.
const (
	StepFormat         = "format"          // stage 2: compact JWS, size
	StepIssuer         = "issuer"          // stage 3: iss selects a configured issuer
	StepAlgorithm      = "algorithm"       // stage 4: header alg allowed
	StepCrit           = "crit"            // stage 4: no crit header
	StepKey            = "key"             // stage 5: key by kid from the issuer's set
	StepSignature      = "signature"       // stage 6
	StepExp            = "exp"             // stage 6
	StepNbf            = "nbf"             // stage 6
	StepIat            = "iat"             // stage 6
	StepAudience       = "aud"             // stage 6
	StepRequiredClaims = "required_claims" // stage 6
	StepType           = "typ"             // stage 6
)

// claimStepNames maps a claimCheck to its step name.
var claimStepNames = [numClaimChecks]string{
	checkExp: StepExp, checkNbf: StepNbf, checkIat: StepIat,
	checkAud: StepAudience, checkRequired: StepRequiredClaims, checkType: StepType,
}

// Step is one check of docs/reference.md §3.3 as a Trace recorded it.
type Step struct {
	// Stage is the contract's step number: 2 to 6 for verification; the
	// proxy records 1 (the token) and internal/auth 7 (the policy).
	Stage int `json:"stage"`
	// Name is one of the Step* constants ("token" and "policy" for stages 1
	// and 7).
	Name string `json:"name"`
	// OK reports whether the check passed.
	OK bool `json:"ok"`
	// Detail says why, in one line. It may quote decoded header and claim
	// values, never the token, its signature or key material.
	Detail string `json:"detail"`
	// After marks a check that ran after an earlier one had failed. It is
	// shown for information: the earlier failure decides the outcome.
	After bool `json:"after,omitempty"`
}

// Trace records one request's decision for `authgate explain`: each check in
// order, and what could be decoded on the way. The proxy's decision appends
// the token step, VerifyTrace the verification steps, internal/auth the
// policy steps. Decoded values come from the token itself and are
// unverified unless verification succeeded. A Trace is for one decision and
// one goroutine.
type Trace struct {
	// Prepare, if set, is called once when verification begins, before the
	// token is parsed, with the verifier about to run: explain fetches the
	// issuers' key sets there, so only for a request that gets that far.
	Prepare func(ctx context.Context, v *Verifier)
	// Steps are the checks in the order they ran; the decision is the first
	// step that is not OK.
	Steps []Step
	// Header is the decoded JOSE header (JSON), nil when the token could not
	// be decoded.
	Header []byte
	// Payload is the decoded payload (JSON), nil when the token could not be
	// decoded.
	Payload []byte
	// Claims is Payload decoded as Verify decodes it (numbers as
	// json.Number); nil when the token could not be decoded.
	Claims map[string]any
	// Issuer is the configured name of the issuer the token's iss selected,
	// "" when none did.
	Issuer string
	// Scopes are the scopes the selected issuer's scope_claims grant, as
	// Identity.Scopes would hold them; nil when no issuer was selected.
	Scopes []string
	// Now is the clock reading the time checks used; zero when they did not
	// run.
	Now time.Time

	failed bool // a step has failed: later ones are After
}

// Issuers returns the verifier's issuers, ordered by configured name.
func (v *Verifier) Issuers() []*Issuer {
	out := make([]*Issuer, 0, len(v.byIss))
	for _, is := range v.byIss {
		out = append(out, is)
	}
	slices.SortFunc(out, func(a, b *Issuer) int { return strings.Compare(a.opts.Name, b.opts.Name) })
	return out
}

// Audiences returns the route's audiences that replace each issuer's own,
// sorted; nil when the issuers' own apply.
func (v *Verifier) Audiences() []string {
	if v.audiences == nil {
		return nil
	}
	return sortedSet(v.audiences)
}

func (t *Trace) prepare(ctx context.Context, v *Verifier) {
	if t != nil && t.Prepare != nil {
		t.Prepare(ctx, v)
	}
}

// add appends a step; once one has failed, later steps are After.
func (t *Trace) add(stage int, name string, err error, detail string) {
	if err != nil && detail == "" {
		detail = err.Error()
	}
	t.Steps = append(t.Steps, Step{Stage: stage, Name: name, OK: err == nil, Detail: detail, After: t.failed})
	if err != nil {
		t.failed = true
	}
}

func (t *Trace) format(token string, c *compact, err error) {
	if t == nil {
		return
	}
	if err != nil {
		t.add(2, StepFormat, err, "")
		return
	}
	// compact keeps only the header members it acts on; decoding the header
	// again here, for the report, keeps Verify's compact as small as before.
	rawHeader, _, _ := strings.Cut(token, ".")
	t.Header, _ = b64.DecodeString(rawHeader) // parseCompact decoded it already
	t.Payload, t.Claims = c.payload, c.claims
	t.add(2, StepFormat, nil, fmt.Sprintf("compact JWS, 3 parts, %d bytes (limit %d)", len(token), MaxTokenSize))
}

func (t *Trace) issuer(v *Verifier, iss string, is *Issuer, err error) {
	if t == nil {
		return
	}
	if err != nil {
		urls := make([]string, 0, len(v.byIss))
		for u := range v.byIss {
			urls = append(urls, u)
		}
		slices.Sort(urls)
		t.add(3, StepIssuer, err, fmt.Sprintf("%v; the route accepts %s", err, strings.Join(urls, ", ")))
		return
	}
	t.Issuer = is.opts.Name
	t.Scopes = scopes(t.Claims, is.opts.ScopeClaims)
	t.add(3, StepIssuer, nil, fmt.Sprintf("iss %q selects issuer %s", iss, is.opts.Name))
}

func (t *Trace) algorithm(is *Issuer, alg string, err error) {
	if t == nil {
		return
	}
	allowed := strings.Join(is.opts.Algorithms, ", ")
	switch {
	case err == nil:
		t.add(4, StepAlgorithm, nil, fmt.Sprintf("%s is one of the issuer's algorithms (%s)", alg, allowed))
	case alg == "":
		t.add(4, StepAlgorithm, err, fmt.Sprintf("%v: the header has no alg; allowed: %s", reason.ErrAlgNotAllowed, allowed))
	default:
		t.add(4, StepAlgorithm, err, fmt.Sprintf("%v: %q is not one of the issuer's algorithms (%s)", reason.ErrAlgNotAllowed, alg, allowed))
	}
}

func (t *Trace) crit(err error) {
	if t == nil {
		return
	}
	if err != nil {
		t.add(4, StepCrit, err, fmt.Sprintf("%v: the header has crit, and authgate understands no JWS extension", reason.ErrMalformed))
		return
	}
	t.add(4, StepCrit, nil, "no crit header")
}

func (t *Trace) key(kid string, alg string, cands []jwks.Key, refetched bool, err error) {
	if t == nil {
		return
	}
	where := "in the cached key set"
	if refetched {
		where = "after a refetch (it was not in the cached set)"
	}
	switch {
	case errors.Is(err, reason.ErrKeysUnavailable):
		t.add(5, StepKey, err, "")
	case err != nil && kid == "":
		t.add(5, StepKey, err, fmt.Sprintf("%v: the token has no kid, and no key in the issuer's set fits %s", reason.ErrUnknownKey, alg))
	case err != nil:
		t.add(5, StepKey, err, fmt.Sprintf("%v: no key with kid %q fits %s, neither in the cached set nor after the refetch the cache allows (at most one per min_refresh_interval)", reason.ErrUnknownKey, logKID(kid), alg))
	case kid == "":
		t.add(5, StepKey, nil, fmt.Sprintf("the token has no kid: %d key(s) of the issuer's set fit %s and are tried in turn", len(cands), alg))
	default:
		t.add(5, StepKey, nil, fmt.Sprintf("kid %q found %s: %s", kid, where, describeKey(cands[0])))
	}
}

func (t *Trace) signature(k *jwks.Key, tried int, err error) {
	if t == nil {
		return
	}
	if err != nil {
		t.add(6, StepSignature, err, fmt.Sprintf("%v: none of the %d candidate key(s) verifies it", reason.ErrBadSignature, tried))
		return
	}
	kid := "without a kid"
	if k.KID != "" {
		kid = fmt.Sprintf("%q", k.KID)
	}
	t.add(6, StepSignature, nil, fmt.Sprintf("verified with key %s (%s)", kid, describeKey(*k)))
}

// rest runs the step-6 claim checks after a failure before them, for
// information: the caller returns its own error regardless.
func (t *Trace) rest(v *Verifier, is *Issuer, c *compact) {
	if t == nil {
		return
	}
	_ = v.checkClaims(is, c, t)
}

func (t *Trace) claim(k claimCheck, v *Verifier, is *Issuer, c *compact, now time.Time, err error) {
	if t == nil {
		return
	}
	t.Now = now
	skew := is.opts.ClockSkew
	detail := ""
	switch k {
	case checkExp, checkNbf, checkIat:
		if !errors.Is(err, reason.ErrMalformed) {
			detail = timeDetail(k, c.claims, now, skew, err == nil)
		}
	case checkAud:
		allowed := strings.Join(sortedSet(v.allowedAudiences(is)), ", ")
		source := "the issuer's"
		if v.audiences != nil {
			source = "the route's"
		}
		aud := "absent"
		if a, ok := c.claims["aud"]; ok {
			aud = jsonText(a)
		}
		switch {
		case err == nil:
			detail = fmt.Sprintf("aud %s holds one of %s audiences (%s)", aud, source, allowed)
		case errors.Is(err, reason.ErrBadAudience) && isEmptyList(c.claims["aud"]):
			detail = fmt.Sprintf("%v: %s; %s audiences: %s", reason.ErrBadAudience, EmptyAudienceHint, source, allowed)
		case errors.Is(err, reason.ErrBadAudience):
			detail = fmt.Sprintf("%v: aud %s holds none of %s audiences (%s)", reason.ErrBadAudience, aud, source, allowed)
		}
	case checkRequired:
		if err == nil {
			detail = "none configured"
			if len(is.opts.RequiredClaims) > 0 {
				detail = "present: " + strings.Join(is.opts.RequiredClaims, ", ")
			}
		}
	case checkType:
		typ := "no typ header"
		if c.header.typ != "" {
			typ = fmt.Sprintf("typ %q", c.header.typ)
		}
		switch {
		case len(is.types) == 0:
			detail = fmt.Sprintf("not checked: the issuer sets no token_types (%s)", typ)
		case err == nil:
			detail = fmt.Sprintf("%s is one of the issuer's token_types (%s)", typ, strings.Join(is.opts.TokenTypes, ", "))
		default:
			detail = fmt.Sprintf("%v: %s; token_types: %s", reason.ErrBadType, typ, strings.Join(is.opts.TokenTypes, ", "))
		}
	}
	t.add(6, claimStepNames[k], err, detail)
}

// timeDetail describes exp, nbf or iat relative to now in human terms:
// "expires in 59m12s", "expired 3m12s ago (clock skew 30s)".
func timeDetail(k claimCheck, claims map[string]any, now time.Time, skew time.Duration, ok bool) string {
	name := claimStepNames[k]
	at, present, _ := numericDate(claims, name)
	if !present {
		return "absent"
	}
	d := at.Sub(now) // positive: in the future
	stamp := at.UTC().Format(time.RFC3339)
	switch k {
	case checkExp:
		switch {
		case !ok:
			return fmt.Sprintf("expired %s ago, at %s (clock skew %s)", human.Age(d), stamp, skew)
		case d < 0:
			return fmt.Sprintf("expired %s ago, at %s, but within the clock skew %s", human.Age(d), stamp, skew)
		}
		return fmt.Sprintf("expires in %s, at %s", human.Age(d), stamp)
	case checkNbf:
		switch {
		case !ok:
			return fmt.Sprintf("not valid for another %s, until %s (clock skew %s)", human.Age(d), stamp, skew)
		case d > 0:
			return fmt.Sprintf("valid in %s, at %s, but within the clock skew %s", human.Age(d), stamp, skew)
		}
		return fmt.Sprintf("valid since %s ago, at %s", human.Age(d), stamp)
	default:
		switch {
		case !ok:
			return fmt.Sprintf("issued %s in the future, at %s (clock skew %s)", human.Age(d), stamp, skew)
		case d > 0:
			return fmt.Sprintf("issued %s in the future, at %s, but within the clock skew %s", human.Age(d), stamp, skew)
		}
		return fmt.Sprintf("issued %s ago, at %s", human.Age(d), stamp)
	}
}

// describeKey names a key's type and alg, never its material: "EC P-256,
// alg ES256", "RSA 2048 bits, no alg".
func describeKey(k jwks.Key) string {
	kty := "unknown key type"
	switch pub := k.Public.(type) {
	case *rsa.PublicKey:
		kty = fmt.Sprintf("RSA %d bits", pub.N.BitLen())
	case *ecdsa.PublicKey:
		kty = "EC " + pub.Curve.Params().Name
	case ed25519.PublicKey:
		kty = "OKP Ed25519"
	}
	if k.Alg == "" {
		return kty + ", no alg"
	}
	return fmt.Sprintf("%s, alg %s", kty, k.Alg)
}

// jsonText renders a decoded claim value compactly, as it appeared in the
// token; a value that cannot be re-encoded is shown with %v.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

func sortedSet(s set) []string {
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}
