package verify

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/authgate/authgate/internal/field"
	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/jwks"
)

// Verifier verifies tokens for one route: the issuers it accepts and, when
// non-empty, audiences replacing each issuer's own. It is immutable and safe
// for concurrent use.
type Verifier struct {
	byIss     map[string]*Issuer // keyed by the exact iss string
	audiences set                // route override; nil: each issuer's own
	cache     *Cache             // nil: none
}

// New builds a verifier over issuers (at least one; see ValidateRoute for
// the rest). audiences, when non-empty, replace every issuer's audiences for
// this verifier. Errors are *field.Error values: issuers[1] is the second
// of issuers, audiences[0] the first of audiences.
func New(issuers []*Issuer, audiences []string) (*Verifier, error) {
	if len(issuers) == 0 {
		return nil, field.Errorf("issuers", "at least one issuer is required")
	}
	opts := make([]IssuerOptions, len(issuers))
	for i, is := range issuers {
		if is == nil {
			return nil, field.Errorf(field.Index("issuers", i), "nil issuer")
		}
		opts[i] = is.opts
	}
	if err := ValidateRoute(opts, audiences); err != nil {
		return nil, err
	}
	v := &Verifier{byIss: make(map[string]*Issuer, len(issuers))}
	for _, is := range issuers {
		if _, ok := v.byIss[is.opts.Issuer]; !ok { // a second one is the same issuer again
			v.byIss[is.opts.Issuer] = is
		}
	}
	if len(audiences) > 0 {
		v.audiences = toSet(audiences, nil)
	}
	return v, nil
}

// WithCache returns a verifier like v whose Verify consults c, the
// verified-token cache, which may be shared by the verifiers of many
// routes: a token another route verified skips signature verification
// here, and still meets this route's issuers, audiences and claim checks.
// c nil: no cache. VerifyTrace with a trace never consults it.
func (v *Verifier) WithCache(c *Cache) *Verifier {
	w := *v
	w.cache = c
	return &w
}

// ValidateRoute reports what New would refuse in the settings of a route
// over issuers with these options: two issuers of different names that
// share an issuer URL, since a token's unverified iss must pick exactly one
// (issuers[k] names the later one), and an empty item of audiences. An
// issuer listed twice under one name is the same issuer again. It builds
// nothing, and checks neither each issuer's own options (see
// IssuerOptions.Validate) nor that there is at least one.
func ValidateRoute(issuers []IssuerOptions, audiences []string) error {
	var errs []error
	first := make(map[string]int, len(issuers))
	for i, o := range issuers {
		j, seen := first[o.Issuer]
		switch {
		case o.Issuer == "": // IssuerOptions.Validate refuses it
		case !seen:
			first[o.Issuer] = i
		case issuers[j].Name != o.Name:
			errs = append(errs, field.Errorf(field.Index("issuers", i), "%s and %s share the issuer URL %s, so a token's iss cannot pick one",
				field.Quote(issuers[j].Name), field.Quote(o.Name), field.Quote(o.Issuer)))
		}
	}
	errs = append(errs, noEmptyItems("audiences", audiences))
	return errors.Join(errs...)
}

// Verify runs docs/reference.md §3.3 steps 2–6, in that order, and returns the
// verified identity:
//
//  2. compact JWS of at most MaxTokenSize bytes        [malformed]
//  3. the unverified iss selects the issuer            [untrusted_issuer]
//  4. header alg allowed, no crit                      [alg_not_allowed], [malformed]
//  5. a key by kid (one shared refetch) or by trial    [unknown_key], [keys_unavailable]
//  6. signature, exp/nbf/iat, aud, required claims, typ
//
// Errors wrap exactly one reason sentinel; once the issuer is known the error
// is an *Error carrying its name. No error text quotes the token.
//
// With a cache (WithCache), a token seen before may be answered from it
// (see Cache): then the Identity is the one cached, shared with every other
// request that presents the token, and callers must not modify it or
// anything it refers to (Claims, Payload, Scopes).
func (v *Verifier) Verify(ctx context.Context, token string) (*Identity, error) {
	return v.VerifyTrace(ctx, token, nil)
}

// VerifyTrace is Verify with an optional recorder: the same code, returning
// the same identity and error, and with a non-nil t every check is appended
// to t.Steps as it runs (see Trace). After a failure it then still runs the
// claim checks of step 6 that need no key (marked After), so explain can
// show everything that is wrong with a token at once; they never change the
// outcome. Like Verify it may trigger the issuer's shared, rate-limited
// refetch for an unknown kid. With t nil it is Verify: every recording call
// is a method on a possibly nil *Trace that returns at once when it is nil,
// and formats nothing before that check, so the request path pays no
// allocation for it. With t non-nil the cache is never consulted, nor
// filled: explain always shows the full verification.
func (v *Verifier) VerifyTrace(ctx context.Context, token string, t *Trace) (*Identity, error) {
	if t == nil && v.cache != nil {
		return v.cache.verify(ctx, v, token)
	}
	id, _, err := v.verifyToken(ctx, token, t)
	return id, err
}

// proof is what verification established besides the Identity, for the
// cache to admit the token: the issuer, the key that verified the signature
// with the set it came from, and the parsed token. It is set whenever the
// signature verified, also when a later claim check failed (an expired
// token is remembered as refused); otherwise it is the zero proof.
type proof struct {
	issuer *Issuer
	key    jwks.Key
	set    *jwks.Set
	c      *compact
}

// verifyToken is VerifyTrace without the cache: steps 2–6 in full. The
// proof is set when the signature verified (see proof), whatever err.
func (v *Verifier) verifyToken(ctx context.Context, token string, t *Trace) (*Identity, proof, error) {
	t.prepare(ctx, v)
	c, err := parseCompact(token)
	t.format(token, c, err)
	if err != nil {
		return nil, proof{}, err
	}
	iss, _ := c.claims["iss"].(string)
	is, ok := v.byIss[iss]
	if !ok {
		if _, present := c.claims["iss"]; !present {
			err = fmt.Errorf("%w: no iss claim", reason.ErrUntrustedIssuer)
		} else {
			err = fmt.Errorf("%w: %s", reason.ErrUntrustedIssuer, v.untrustedIssuer(c.claims["iss"]))
		}
		t.issuer(v, iss, nil, err)
		return nil, proof{}, err
	}
	t.issuer(v, iss, is, nil)
	id, p, err := v.verify(ctx, is, c, t)
	if err != nil {
		return nil, p, &Error{Issuer: is.opts.Name, Err: err}
	}
	return id, p, nil
}

// verify runs steps 4–6 for the selected issuer. With a trace, the claim
// checks of step 6 also run after an earlier failure, for information only
// (Trace marks them); the result is the first failure all the same. The
// proof is set once the signature verified, even when a claim check fails.
func (v *Verifier) verify(ctx context.Context, is *Issuer, c *compact, t *Trace) (*Identity, proof, error) {
	alg, ok := is.algs[c.header.alg]
	if !ok {
		err := fmt.Errorf("%w: header alg is not in the issuer's algorithms", reason.ErrAlgNotAllowed)
		t.algorithm(is, c.header.alg, err)
		t.rest(v, is, c)
		return nil, proof{}, err
	}
	t.algorithm(is, c.header.alg, nil)
	// RFC 7515 §4.1.11: a recipient must reject a crit it does not
	// understand, and authgate understands no extensions.
	if c.header.crit {
		err := fmt.Errorf("%w: crit header present", reason.ErrMalformed)
		t.crit(err)
		t.rest(v, is, c)
		return nil, proof{}, err
	}
	t.crit(nil)

	key, set, err := verifySignature(ctx, is, alg, c, t)
	if err != nil {
		t.rest(v, is, c)
		return nil, proof{}, err
	}
	p := proof{issuer: is, key: key, set: set, c: c}
	if err := v.checkClaims(is, c, t); err != nil {
		return nil, p, err
	}

	sub, _ := c.claims["sub"].(string)
	return &Identity{
		Issuer:  is.opts.Name,
		Subject: sub,
		Claims:  c.claims,
		Payload: c.payload,
		Scopes:  scopes(c.claims, is.opts.ScopeClaims),
		KeyID:   key.KID,
	}, p, nil
}

// claimCheck is one of the step-6 checks that follow the signature.
type claimCheck int

const (
	checkExp claimCheck = iota
	checkNbf
	checkIat
	checkAud
	checkRequired
	checkType
	numClaimChecks
)

// checkClaims runs the step-6 checks after the signature in the contract's
// order: exp, nbf, iat, aud, required claims, typ. Without a trace it stops
// at the first failure; with one it runs them all so that explain can show
// each, and still returns the first failure.
func (v *Verifier) checkClaims(is *Issuer, c *compact, t *Trace) error {
	return v.checkClaimsAt(is, c, t, is.opts.Now())
}

// checkClaimsAt is checkClaims at now, for a cache hit that read the clock
// already.
func (v *Verifier) checkClaimsAt(is *Issuer, c *compact, t *Trace, now time.Time) error {
	var first error
	for k := range numClaimChecks {
		err := v.checkClaim(k, is, c, now)
		t.claim(k, v, is, c, now, err)
		if err != nil && first == nil {
			if t == nil {
				return err
			}
			first = err
		}
	}
	return first
}

// checkClaim runs one step-6 check against the claims: verified ones, or
// after an earlier failure (Trace.rest) unverified ones, for information.
func (v *Verifier) checkClaim(k claimCheck, is *Issuer, c *compact, now time.Time) error {
	switch k {
	case checkExp:
		return checkExpiry(c.exp, now, is.opts.ClockSkew)
	case checkNbf:
		return checkNotBefore(c.nbf, now, is.opts.ClockSkew)
	case checkIat:
		return checkIssuedAt(c.iat, now, is.opts.ClockSkew)
	case checkAud:
		return checkAudience(c.claims, v.allowedAudiences(is))
	case checkRequired:
		for _, name := range is.opts.RequiredClaims {
			if c.claims[name] == nil {
				return fmt.Errorf("%w: %s", reason.ErrMissingClaim, name)
			}
		}
	case checkType:
		if len(is.types) > 0 && !is.types.has(normalizeType(c.header.typ)) {
			return fmt.Errorf("%w: header typ is not one of the issuer's token_types", reason.ErrBadType)
		}
	}
	return nil
}

// allowedAudiences returns the route's audiences when it overrides them,
// else the issuer's own.
func (v *Verifier) allowedAudiences(is *Issuer) set {
	if v.audiences != nil {
		return v.audiences
	}
	return is.audiences
}

// verifySignature runs steps 5 and 6 (signature): it finds the candidate
// keys and returns the one that verifies, with the set it came from. Keys come only from the
// issuer's set; jku, jwk, x5u and x5c in the header are never consulted.
//
// The check is jwx's per-algorithm jws.Verifier over the exact signing input
// parseCompact split off, rather than jws.Verify: that would parse the token
// a second time and could read it differently (RFC 7797 "b64":false changes
// what is signed), so the bytes verified could differ from the claims used.
func verifySignature(ctx context.Context, is *Issuer, alg algorithm, c *compact, t *Trace) (jwks.Key, *jwks.Set, error) {
	// Candidates filters by kid, alg and key type (an ES384 token never
	// meets a P-256 key), so every candidate is fit for alg.
	keys, err := is.opts.Keys.Keys()
	if err != nil {
		err = keysUnavailable(err)
		t.key(c.header.kid, alg.alg, nil, false, err)
		return jwks.Key{}, nil, err
	}
	input := []byte(c.signingInput)
	kid := c.header.kid
	// Without a kid, every key that fits the algorithm is a candidate.
	cands := keys.Candidates(kid, alg.alg)
	refetched := false
	if len(cands) == 0 && kid != "" {
		// Maybe the issuer rotated keys since the last fetch. The cache
		// shares and rate-limits this refetch, so a flood of made-up kids
		// costs at most one fetch per min_refresh_interval.
		refetched = true
		if keys, err = is.opts.Keys.RefreshForKID(ctx, kid); err != nil {
			err = keysUnavailable(err)
			t.key(kid, alg.alg, nil, refetched, err)
			return jwks.Key{}, nil, err
		}
		cands = keys.Candidates(kid, alg.alg)
	}
	if len(cands) == 0 {
		// A present kid never falls back to other keys (docs/reference.md §3.3 step 5).
		err := fmt.Errorf("%w: no key in the issuer's set for kid %q and this algorithm", reason.ErrUnknownKey, logKID(kid))
		t.key(kid, alg.alg, nil, refetched, err)
		return jwks.Key{}, nil, err
	}
	t.key(kid, alg.alg, cands, refetched, nil)
	for i := range cands {
		if alg.verifier.Verify(cands[i].Public, input, c.signature) == nil {
			t.signature(&cands[i], len(cands), nil)
			return cands[i], keys, nil
		}
	}
	err = fmt.Errorf("%w: no candidate key verifies the signature", reason.ErrBadSignature)
	t.signature(nil, len(cands), err)
	return jwks.Key{}, nil, err
}

// maxLoggedKID bounds how much of a kid an error quotes: the kid is the
// client's text, and a 16 KiB token could otherwise make every refusal's
// log line that long.
const maxLoggedKID = 64

// logKID returns kid cut to maxLoggedKID bytes (on a rune boundary), with
// "…" where it was cut.
func logKID(kid string) string {
	if len(kid) <= maxLoggedKID {
		return kid
	}
	i := maxLoggedKID
	for i > 0 && !utf8.RuneStart(kid[i]) {
		i--
	}
	return kid[:i] + "…"
}

// keysUnavailable makes err a keys_unavailable error, wrapping the sentinel
// once whether or not the key source already did.
func keysUnavailable(err error) error {
	if errors.Is(err, reason.ErrKeysUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", reason.ErrKeysUnavailable, err)
}

var _ KeySource = (*jwks.Cache)(nil)
