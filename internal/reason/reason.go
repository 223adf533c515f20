// Package reason is the closed vocabulary of authentication and authorization
// outcomes (docs/reference.md §4 "reason"). Each deny reason has one sentinel error;
// code wraps a sentinel with %w to add detail for logs and matches with
// errors.Is or Of, never by comparing strings.
package reason

import "errors"

// Reason is one value of the contract's reason label. The set is closed, so a
// Reason is always safe as a metric label value.
type Reason string

// The reasons, exactly as docs/reference.md §4 names them.
const (
	OK                 Reason = "ok"
	Anonymous          Reason = "anonymous"
	Public             Reason = "public"
	Missing            Reason = "missing"
	Malformed          Reason = "malformed"
	UntrustedIssuer    Reason = "untrusted_issuer"
	AlgNotAllowed      Reason = "alg_not_allowed"
	UnknownKey         Reason = "unknown_key"
	BadSignature       Reason = "bad_signature"
	Expired            Reason = "expired"
	NotYetValid        Reason = "not_yet_valid"
	BadAudience        Reason = "bad_audience"
	MissingClaim       Reason = "missing_claim"
	BadType            Reason = "bad_type"
	UnforwardableClaim Reason = "unforwardable_claim"
	InsufficientScope  Reason = "insufficient_scope"
	ClaimMismatch      Reason = "claim_mismatch"
	KeysUnavailable    Reason = "keys_unavailable"
)

// sentinel is a deny reason as an error. Its message is fixed and client-safe:
// it never holds token material, so it can be used as error_description.
type sentinel struct {
	r   Reason
	msg string
}

func (s *sentinel) Error() string { return s.msg }

// Sentinels, one per deny reason. Their Error text is the client-facing
// description; wrap them to add detail for logs.
var (
	ErrMissing            error = &sentinel{Missing, "no bearer token"}
	ErrMalformed          error = &sentinel{Malformed, "the token is not a well-formed signed JWT"}
	ErrUntrustedIssuer    error = &sentinel{UntrustedIssuer, "the token's issuer is not trusted for this route"}
	ErrAlgNotAllowed      error = &sentinel{AlgNotAllowed, "the token's signing algorithm is not allowed"}
	ErrUnknownKey         error = &sentinel{UnknownKey, "the token's signing key is unknown"}
	ErrBadSignature       error = &sentinel{BadSignature, "the token's signature is invalid"}
	ErrExpired            error = &sentinel{Expired, "the token has expired"}
	ErrNotYetValid        error = &sentinel{NotYetValid, "the token is not valid yet"}
	ErrBadAudience        error = &sentinel{BadAudience, "the token is not intended for this audience"}
	ErrMissingClaim       error = &sentinel{MissingClaim, "the token lacks a required claim"}
	ErrBadType            error = &sentinel{BadType, "the token's type is not accepted"}
	ErrUnforwardableClaim error = &sentinel{UnforwardableClaim, "a claim cannot be forwarded as a header value"}
	ErrInsufficientScope  error = &sentinel{InsufficientScope, "the token does not grant the required scope"}
	ErrClaimMismatch      error = &sentinel{ClaimMismatch, "the token's claims do not satisfy the route's policy"}
	ErrKeysUnavailable    error = &sentinel{KeysUnavailable, "the issuer's signing keys are temporarily unavailable"}
)

// Of returns the reason of the first sentinel in err's chain, or "" when err
// carries none (or is nil).
func Of(err error) Reason {
	var s *sentinel
	if errors.As(err, &s) {
		return s.r
	}
	return ""
}

// Describe returns the client-safe description of the first sentinel in
// err's chain, or "" when there is none. Unlike err.Error(), it never includes
// wrapped detail, which may quote claim values.
func Describe(err error) string {
	var s *sentinel
	if errors.As(err, &s) {
		return s.msg
	}
	return ""
}
