package jwks

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseKeySetFiltering(t *testing.T) {
	k := keys(t)
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := []json.RawMessage{
		jwkJSON(t, &k.rsa.PublicKey, map[string]any{"kid": "rsa", "alg": "RS256", "use": "sig"}),
		jwkJSON(t, &k.ec.PublicKey, map[string]any{"kid": "ec"}),
		jwkJSON(t, k.ed.Public(), map[string]any{"kid": "ed", "key_ops": []string{"verify"}}),
	}
	tests := []struct {
		name     string
		extra    json.RawMessage
		warnLike string // non-empty: a warning naming this must be logged
	}{
		{"symmetric oct key", jwkJSON(t, []byte("0123456789abcdef0123456789abcdef"), map[string]any{"kid": "oct"}), "symmetric"},
		{"use enc", jwkJSON(t, &k.rsa2.PublicKey, map[string]any{"kid": "enc", "use": "enc"}), ""},
		{"private RSA key", jwkJSON(t, k.rsa2, map[string]any{"kid": "priv-rsa"}), "private key material"},
		{"private EC key", jwkJSON(t, k.ec384, map[string]any{"kid": "priv-ec"}), "private key material"},
		{"private Ed25519 key", jwkJSON(t, k.ed, map[string]any{"kid": "priv-ed"}), "private key material"},
		{"RSA 1024 bits", jwkJSON(t, &k.rsaSmall.PublicKey, map[string]any{"kid": "small"}), "1024 bits"},
		{"key_ops without verify", jwkJSON(t, &k.rsa2.PublicKey, map[string]any{"kid": "ops", "key_ops": []string{"encrypt"}}), ""},
		{"alg of another key type", jwkJSON(t, &k.rsa2.PublicKey, map[string]any{"kid": "mismatch", "alg": "ES256"}), ""},
		{"HS256 alg on RSA key", jwkJSON(t, &k.rsa2.PublicKey, map[string]any{"kid": "hs", "alg": "HS256"}), ""},
		{"X25519 key", json.RawMessage(`{"kty":"OKP","crv":"X25519","kid":"x25519","x":"` +
			base64.RawURLEncoding.EncodeToString(x25519.PublicKey().Bytes()) + `"}`), ""},
		{"malformed modulus", json.RawMessage(`{"kty":"RSA","kid":"bad","n":"!!!","e":"AQAB"}`), "unparseable"},
		{"unknown kty", json.RawMessage(`{"kty":"XYZ","kid":"xyz"}`), "unparseable"},
		{"not an object", json.RawMessage(`"hello"`), "unparseable"},
		{"EC point off the curve", json.RawMessage(`{"kty":"EC","kid":"offcurve","crv":"P-256",` +
			`"x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"}`), "not on curve"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log, logs := newTestLogger()
			// The bad key sits between good ones: it must not disturb them.
			doc := jwksJSON(t, good[0], tc.extra, good[1], good[2])
			got, err := parseKeySet(doc, log)
			if err != nil {
				t.Fatalf("parseKeySet: %v", err)
			}
			if want := []string{"rsa", "ec", "ed"}; !slices.Equal(kidsOf(newSet(got, fixedTime)), want) {
				t.Errorf("got kids %q, want %q", kidsOf(newSet(got, fixedTime)), want)
			}
			out := logs.String()
			if tc.warnLike != "" && (!strings.Contains(out, "level=WARN") || !strings.Contains(out, tc.warnLike)) {
				t.Errorf("got log %q, want a warning containing %q", out, tc.warnLike)
			}
			if strings.Contains(out, `"d"`) || strings.Contains(out, "\"k\":") {
				t.Errorf("log %q quotes key material", out)
			}
		})
	}
}

func TestParseKeySetErrors(t *testing.T) {
	k := keys(t)
	tests := []struct {
		name    string
		doc     string
		noUsble bool
	}{
		{"empty set", `{"keys":[]}`, true},
		{"only unusable keys", string(jwksJSON(t, jwkJSON(t, &k.rsaSmall.PublicKey, nil), jwkJSON(t, k.rsa, nil))), true},
		{"no keys member", `{"kty":"RSA"}`, false},
		{"not JSON", `<html>`, false},
		{"keys not an array", `{"keys":{}}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log, _ := newTestLogger()
			got, err := parseKeySet([]byte(tc.doc), log)
			if err == nil {
				t.Fatalf("got %d keys and no error, want an error", len(got))
			}
			if errors.Is(err, errNoUsableKeys) != tc.noUsble {
				t.Errorf("got error %q, want errNoUsableKeys: %v", err, tc.noUsble)
			}
		})
	}
}

func TestParseKeyAlg(t *testing.T) {
	k := keys(t)
	tests := []struct {
		name    string
		raw     json.RawMessage
		wantAlg string
	}{
		{"no alg", jwkJSON(t, &k.rsa.PublicKey, nil), ""},
		{"RS256", jwkJSON(t, &k.rsa.PublicKey, map[string]any{"alg": "RS256"}), "RS256"},
		{"PS512", jwkJSON(t, &k.rsa.PublicKey, map[string]any{"alg": "PS512"}), "PS512"},
		{"ES256 on P-256", jwkJSON(t, &k.ec.PublicKey, map[string]any{"alg": "ES256"}), "ES256"},
		{"EdDSA", jwkJSON(t, k.ed.Public(), map[string]any{"alg": "EdDSA"}), "EdDSA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseKey(tc.raw)
			if err != nil {
				t.Fatalf("parseKey: %v", err)
			}
			if string(got.Alg) != tc.wantAlg {
				t.Errorf("got alg %q, want %q", got.Alg, tc.wantAlg)
			}
		})
	}
}

func TestParseKeyRefusesES384OnP256(t *testing.T) {
	k := keys(t)
	if _, err := parseKey(jwkJSON(t, &k.ec.PublicKey, map[string]any{"alg": "ES384"})); err == nil {
		t.Fatal("got no error for an ES384 P-256 key, want one")
	}
}
