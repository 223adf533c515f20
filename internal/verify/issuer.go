// Package verify checks bearer tokens (docs/reference.md §3.3 steps 2–6): a compact
// JWS from a configured issuer, signed with an allowed algorithm by a key
// from that issuer's key set, within its lifetime, for an allowed audience.
// Every failure wraps exactly one sentinel of internal/reason.
package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/authgate/authgate/internal/field"
	"github.com/authgate/authgate/jwks"
)

// KeySource is the part of *jwks.Cache the verifier uses.
type KeySource interface {
	// Keys returns the current key set; its error wraps
	// reason.ErrKeysUnavailable when no usable set exists.
	Keys() (*jwks.Set, error)
	// RefreshForKID asks for a refetch because kid is unknown. The refetch
	// is shared and rate-limited; when it is not allowed yet, the current
	// set is returned at once.
	RefreshForKID(ctx context.Context, kid string) (*jwks.Set, error)
}

// DefaultAlgorithms are the asymmetric JWS algorithms (RFC 7518 §3.1,
// RFC 8037 §3.1) that an issuer accepts when IssuerOptions.Algorithms is
// nil. They are also the only ones it may list: "none" and the HMAC family
// are refused, because a verifier holding only public keys must never treat
// one as a shared secret (the RS256/HS256 key-confusion attack).
var DefaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// DefaultRequiredClaims are the claims an issuer requires when
// IssuerOptions.RequiredClaims is nil: a token without exp would otherwise
// never expire.
var DefaultRequiredClaims = []string{"exp"}

// DefaultScopeClaims are where granted scopes are read when
// IssuerOptions.ScopeClaims is nil: "scope" (RFC 8693 §4.2, RFC 9068) and
// "scp" (Azure AD, Okta).
var DefaultScopeClaims = []string{"scope", "scp"}

// noIssuer is the issuer label of requests whose issuer is not known
// (docs/reference.md §4), so no issuer may be named so.
const noIssuer = "none"

// IssuerOptions configure one trusted issuer (docs/reference.md §2.1 issuers[]).
type IssuerOptions struct {
	// Name is the configured name; it labels metrics and errors. It must be
	// non-empty and not "none", the label of requests whose issuer is not
	// known.
	Name string
	// Issuer must equal the token's iss exactly (no normalisation, so a
	// trailing slash matters); non-empty.
	Issuer string
	// Audiences are the accepted aud values; non-empty, no empty item. A
	// route's verifier may replace them (see New).
	Audiences []string
	// Algorithms is the allow-list for the header alg, from
	// DefaultAlgorithms, spelled as RFC 7518 spells them. Nil: all of
	// DefaultAlgorithms; an empty non-nil list is refused.
	Algorithms []string
	// ClockSkew is the leeway for exp, nbf and iat; not negative.
	ClockSkew time.Duration
	// RequiredClaims must each be present and not null. Nil: ["exp"], since
	// a token without exp would otherwise never expire; pass an empty
	// non-nil slice to require nothing.
	RequiredClaims []string
	// TokenTypes, when non-empty, are the accepted header typ values,
	// compared case-insensitively with an optional "application/" prefix
	// (RFC 7515 §4.1.9): "at+jwt" accepts "application/AT+JWT".
	TokenTypes []string
	// ScopeClaims are the claims granted scopes are read from (a
	// space-separated string or an array of strings). Nil:
	// DefaultScopeClaims; an empty non-nil list, which would grant no scope
	// ever, is refused.
	ScopeClaims []string
	// Keys supplies the issuer's verification keys; required.
	Keys KeySource
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
}

func (o IssuerOptions) withDefaults() IssuerOptions {
	o.Audiences = slices.Clone(o.Audiences)
	o.Algorithms = slices.Clone(o.Algorithms)
	if o.Algorithms == nil {
		o.Algorithms = slices.Clone(DefaultAlgorithms)
	}
	o.RequiredClaims = slices.Clone(o.RequiredClaims)
	if o.RequiredClaims == nil {
		o.RequiredClaims = slices.Clone(DefaultRequiredClaims)
	}
	o.TokenTypes = slices.Clone(o.TokenTypes)
	o.ScopeClaims = slices.Clone(o.ScopeClaims)
	if o.ScopeClaims == nil {
		o.ScopeClaims = slices.Clone(DefaultScopeClaims)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Issuer is a compiled, immutable IssuerOptions: the lookups Verify needs are
// built once here. It is safe for concurrent use.
type Issuer struct {
	opts      IssuerOptions
	algs      map[string]algorithm
	audiences set
	types     set // normalised with normalizeType
}

// algorithm is an allowed alg with its stateless jwx verifier.
type algorithm struct {
	alg      string
	verifier jws.Verifier2
}

type set map[string]struct{}

func (s set) has(v string) bool { _, ok := s[v]; return ok }

// NewIssuer validates o (see Validate), fills defaults (see IssuerOptions)
// and compiles it. Errors are *field.Error values named in configuration
// spelling.
func NewIssuer(o IssuerOptions) (*Issuer, error) {
	o = o.withDefaults()
	errs := []error{o.validate()}
	if o.Keys == nil {
		errs = append(errs, field.Errorf("keys", "a key source is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	is := &Issuer{
		opts:      o,
		algs:      make(map[string]algorithm, len(o.Algorithms)),
		audiences: toSet(o.Audiences, nil),
		types:     toSet(o.TokenTypes, normalizeType),
	}
	for _, name := range o.Algorithms {
		a, _ := newAlgorithm(name) // validated above
		is.algs[name] = a
	}
	return is, nil
}

// Validate reports every problem NewIssuer would refuse in o apart from a
// missing Keys, which is not configuration, as *field.Error values whose
// paths are those of an issuer's settings in the configuration (name,
// audiences[1], algorithms[0], …). It builds nothing.
func (o IssuerOptions) Validate() error { return o.withDefaults().validate() }

// validate checks options that have had their defaults filled in.
func (o IssuerOptions) validate() error {
	var errs []error
	switch o.Name {
	case "":
		errs = append(errs, field.Errorf("name", "must not be empty"))
	case noIssuer:
		errs = append(errs, field.Errorf("name", `%q is reserved: metrics use it for "no issuer"`, noIssuer))
	}
	if o.Issuer == "" {
		errs = append(errs, field.Errorf("issuer", "must not be empty"))
	}
	if o.ClockSkew < 0 {
		errs = append(errs, field.Errorf("clock_skew", "must not be negative"))
	}
	if len(o.Audiences) == 0 {
		errs = append(errs, field.Errorf("audiences", "must not be empty: list the audiences this gateway accepts"))
	}
	if len(o.Algorithms) == 0 {
		errs = append(errs, field.Errorf("algorithms", "must not be empty (leave it out for the default set)"))
	}
	for i, name := range o.Algorithms {
		if _, err := newAlgorithm(name); err != nil {
			errs = append(errs, &field.Error{Path: field.Index("algorithms", i), Err: err})
		}
	}
	if len(o.ScopeClaims) == 0 {
		errs = append(errs, field.Errorf("scope_claims", "must not be empty (leave it out for the default [%s])", strings.Join(DefaultScopeClaims, ", ")))
	}
	for _, f := range []struct {
		name string
		list []string
	}{{"audiences", o.Audiences}, {"required_claims", o.RequiredClaims}, {"token_types", o.TokenTypes}, {"scope_claims", o.ScopeClaims}} {
		errs = append(errs, noEmptyItems(f.name, f.list))
	}
	return errors.Join(errs...)
}

// Name returns the configured name.
func (i *Issuer) Name() string { return i.opts.Name }

// Options returns the options as compiled, defaults filled in. The slices
// are copies; changing them does not affect i.
func (i *Issuer) Options() IssuerOptions {
	o := i.opts
	o.Audiences = slices.Clone(o.Audiences)
	o.Algorithms = slices.Clone(o.Algorithms)
	o.RequiredClaims = slices.Clone(o.RequiredClaims)
	o.TokenTypes = slices.Clone(o.TokenTypes)
	o.ScopeClaims = slices.Clone(o.ScopeClaims)
	return o
}

// newAlgorithm accepts exactly the names in DefaultAlgorithms, spelled as
// RFC 7518 spells them. It is the one place the algorithm rule is written:
// "none" and the HMAC family are refused by name, because a verifier holding
// only public keys must never treat one as a shared secret.
func newAlgorithm(name string) (algorithm, error) {
	switch {
	case strings.EqualFold(name, "none"):
		return algorithm{}, fmt.Errorf(`algorithm %q is never allowed: tokens must be signed`, name)
	case strings.HasPrefix(strings.ToUpper(name), "HS"):
		return algorithm{}, fmt.Errorf("symmetric algorithm %s is not supported: keys come from a public key set", field.Quote(name))
	case !slices.Contains(DefaultAlgorithms, name):
		return algorithm{}, fmt.Errorf("unknown algorithm %s (allowed: %s)", field.Quote(name), strings.Join(DefaultAlgorithms, ", "))
	}
	alg, ok := jwa.LookupSignatureAlgorithm(name)
	if !ok {
		return algorithm{}, fmt.Errorf("algorithm %q is not known to the JOSE library", name)
	}
	v, err := jws.VerifierFor(alg)
	if err != nil {
		return algorithm{}, fmt.Errorf("algorithm %q: %w", name, err)
	}
	return algorithm{alg: name, verifier: v}, nil
}

// normalizeType puts a typ value in canonical form: lower case, without the
// "application/" prefix that RFC 7515 §4.1.9 makes optional for media types
// without another '/'.
func normalizeType(t string) string {
	t = strings.ToLower(t)
	if rest, ok := strings.CutPrefix(t, "application/"); ok && !strings.Contains(rest, "/") {
		return rest
	}
	return t
}

func toSet(list []string, norm func(string) string) set {
	s := make(set, len(list))
	for _, v := range list {
		if norm != nil {
			v = norm(v)
		}
		s[v] = struct{}{}
	}
	return s
}

// noEmptyItems reports every item of list (the field path) that is empty
// or only spaces.
func noEmptyItems(path string, list []string) error {
	var errs []error
	for i, v := range list {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, field.Errorf(field.Index(path, i), "must not be empty"))
		}
	}
	return errors.Join(errs...)
}
