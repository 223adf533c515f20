package jwks

import (
	"crypto"
	"slices"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"

	"github.com/lestrrat-go/jwx/v3/jws"
)

var fixedTime = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// candidateSet is parsed from a real JWKS so that Candidates sees exactly
// what a fetch produces.
func candidateSet(t *testing.T) *Set {
	t.Helper()
	k := keys(t)
	log, _ := newTestLogger()
	got, err := parseKeySet(jwksJSON(t,
		jwkJSON(t, &k.rsa.PublicKey, map[string]any{"kid": "a"}),
		jwkJSON(t, &k.rsa2.PublicKey, map[string]any{"kid": "b", "alg": "RS256"}),
		jwkJSON(t, &k.ec.PublicKey, map[string]any{"kid": "c"}),
		jwkJSON(t, k.ed.Public(), map[string]any{"kid": "d"}),
		jwkJSON(t, &k.ec384.PublicKey, map[string]any{"kid": "e", "alg": "ES384"}),
		jwkJSON(t, &k.rsa2.PublicKey, map[string]any{"kid": "b", "alg": "PS256"}),
	), log)
	if err != nil {
		t.Fatalf("parseKeySet: %v", err)
	}
	return newSet(got, fixedTime)
}

func TestCandidates(t *testing.T) {
	s := candidateSet(t)
	tests := []struct {
		name string
		kid  string
		alg  string
		want []string // kids, in set order; alg shown where a kid repeats
	}{
		{"kid without alg fits RS256", "a", "RS256", []string{"a/"}},
		{"kid without alg fits PS384", "a", "PS384", []string{"a/"}},
		{"RSA kid for ES256", "a", "ES256", nil},
		{"alg pinned RS256", "b", "RS256", []string{"b/RS256"}},
		{"same kid, other pinned alg", "b", "PS256", []string{"b/PS256"}},
		{"alg pinned, other RSA alg", "b", "RS512", nil},
		{"P-256 for ES256", "c", "ES256", []string{"c/"}},
		{"P-256 for ES384", "c", "ES384", nil},
		{"P-256 for ES512", "c", "ES512", nil},
		{"P-384 for ES384", "e", "ES384", []string{"e/ES384"}},
		{"Ed25519 for EdDSA", "d", "EdDSA", []string{"d/"}},
		{"Ed25519 for RS256", "d", "RS256", nil},
		{"unknown kid never falls back", "zzz", "RS256", nil},
		{"no kid: every RS256 fit", "", "RS256", []string{"a/", "b/RS256"}},
		{"no kid: every ES256 fit", "", "ES256", []string{"c/"}},
		{"no kid: EdDSA", "", "EdDSA", []string{"d/"}},
		{"HS256 never", "a", "HS256", nil},
		{"none never", "", "none", nil},
		{"unknown alg never", "", "XX999", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, k := range s.Candidates(tc.kid, tc.alg) {
				got = append(got, k.KID+"/"+k.Alg)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCandidatesVerifyRealSignatures signs with each private key and checks
// that the candidate the set hands out verifies it.
func TestCandidatesVerifyRealSignatures(t *testing.T) {
	k := keys(t)
	s := candidateSet(t)
	tests := []struct {
		name   string
		kid    string
		alg    string
		signer crypto.Signer
	}{
		{"RS256", "a", "RS256", k.rsa},
		{"PS256", "b", "PS256", k.rsa2},
		{"ES256", "c", "ES256", k.ec},
		{"ES384", "e", "ES384", k.ec384},
		{"EdDSA", "d", "EdDSA", k.ed},
	}
	payload := []byte(`{"sub":"alice"}`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			signed, err := jws.Sign(payload, jws.WithKey(mustAlg(t, tc.alg), tc.signer))
			if err != nil {
				t.Fatalf("sign: %v", err)
			}
			c := s.Candidates(tc.kid, tc.alg)
			if len(c) != 1 {
				t.Fatalf("got %d candidates, want 1", len(c))
			}
			got, err := jws.Verify(signed, jws.WithKey(mustAlg(t, tc.alg), c[0].Public))
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if string(got) != string(payload) {
				t.Errorf("got %q, want %q", got, payload)
			}
		})
	}
}

func TestSetNilAndHasKID(t *testing.T) {
	var nilSet *Set
	if got := nilSet.Len(); got != 0 {
		t.Errorf("nil Len: got %d, want 0", got)
	}
	if nilSet.HasKID("a") || nilSet.Candidates("", "RS256") != nil {
		t.Error("nil set reports keys")
	}
	s := candidateSet(t)
	if got := s.Len(); got != 6 {
		t.Errorf("Len: got %d, want 6", got)
	}
	if !s.HasKID("e") || s.HasKID("zzz") {
		t.Errorf("HasKID: got e=%v zzz=%v, want true false", s.HasKID("e"), s.HasKID("zzz"))
	}
}

func mustAlg(t *testing.T, name string) jwa.SignatureAlgorithm {
	t.Helper()
	a, ok := jwa.LookupSignatureAlgorithm(name)
	if !ok {
		t.Fatalf("unknown algorithm %q", name)
	}
	return a
}
