package jwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"time"
)

// Key is one usable public verification key from the set.
type Key struct {
	// KID is the key's kid, "" when the JWK has none.
	KID string
	// Alg is the JWK's alg as RFC 7518 spells it, "" when the JWK has no
	// alg; when set it always
	// fits the key type.
	Alg string
	// Public is *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey.
	Public any
}

// Set is an immutable snapshot of a fetched key set. Callers must not modify
// Keys; a new Set replaces it on every change.
type Set struct {
	// Keys are the usable keys in the order the issuer published them.
	Keys []Key
	// Fetched is when the issuer last delivered or confirmed (304 Not
	// Modified) this set; staleness is measured from it.
	Fetched time.Time

	byKID map[string][]int // kid → indexes into Keys
}

// newSet builds a Set and its kid index.
func newSet(keys []Key, fetched time.Time) *Set {
	s := &Set{Keys: keys, Fetched: fetched, byKID: make(map[string][]int, len(keys))}
	for i, k := range keys {
		s.byKID[k.KID] = append(s.byKID[k.KID], i)
	}
	return s
}

// confirmed returns a Set with the same keys and a new Fetched time, for a
// 304 response; s itself is never modified.
func (s *Set) confirmed(at time.Time) *Set {
	return &Set{Keys: s.Keys, Fetched: at, byKID: s.byKID}
}

// Len returns the number of usable keys; 0 for a nil Set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.Keys)
}

// HasKID reports whether some key in the set carries kid (whatever its
// algorithm). A nil Set has no keys.
func (s *Set) HasKID(kid string) bool {
	if s == nil {
		return false
	}
	_, ok := s.byKID[kid]
	return ok
}

// Candidates returns the keys that may verify a token with this kid and alg:
// if kid != "" only keys with that kid; always only keys whose Alg is "" or alg and
// whose key type fits alg (RS*/PS* → RSA; ES256/384/512 → ECDSA P-256/P-384/P-521;
// EdDSA → Ed25519). Never falls back to other kids. It returns nil when no key
// fits, and always nil for symmetric algorithms and "none".
func (s *Set) Candidates(kid, alg string) []Key {
	if s == nil {
		return nil
	}
	var out []Key
	consider := func(k Key) {
		if (k.Alg == "" || k.Alg == alg) && fits(alg, k.Public) {
			out = append(out, k)
		}
	}
	if kid != "" {
		for _, i := range s.byKID[kid] {
			consider(s.Keys[i])
		}
		return out
	}
	for _, k := range s.Keys {
		consider(k)
	}
	return out
}

// fits reports whether pub is of the type and curve alg signs with
// (RFC 7518 §3.1, RFC 8037 §3.1).
func fits(alg string, pub any) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		_, ok := pub.(*rsa.PublicKey)
		return ok
	case "ES256":
		return ecCurve(pub) == elliptic.P256()
	case "ES384":
		return ecCurve(pub) == elliptic.P384()
	case "ES512":
		return ecCurve(pub) == elliptic.P521()
	case "EdDSA":
		k, ok := pub.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize
	default:
		return false
	}
}

// ecCurve returns pub's curve, or nil when pub is not an ECDSA key.
func ecCurve(pub any) elliptic.Curve {
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		return k.Curve
	}
	return nil
}
