package jwks

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// RSA modulus bounds. Below 2048 bits is too weak (NIST SP 800-131A); above
// 16384 bits verification gets expensive enough to be a denial-of-service lever.
const (
	minRSABits = 2048
	maxRSABits = 16384
)

// errNoUsableKeys marks a key set that parsed but had nothing we may verify
// with; such a fetch counts as failed (docs/reference.md §3.3 step 5).
var errNoUsableKeys = errors.New("no usable signing keys in the key set")

// parseKeySet decodes a JWK Set document (RFC 7517 §5) and returns its usable
// verification keys. Individual keys that are malformed or unfit are skipped
// with a log line, so that one bad entry cannot take the issuer down; only a
// document that is not a key set at all, or leaves no usable key, is an error.
func parseKeySet(body []byte, log *slog.Logger) ([]Key, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode key set: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`decode key set: no "keys" member`)
	}
	var keys []Key
	for i, raw := range doc.Keys {
		k, err := parseKey(raw)
		if err != nil {
			level := slog.LevelDebug
			if errors.Is(err, errMisconfigured) {
				level = slog.LevelWarn
			}
			log.Log(context.Background(), level, "skipping key in key set", "index", i, "kid", peekKID(raw), "why", err.Error())
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w (%d published)", errNoUsableKeys, len(doc.Keys))
	}
	return keys, nil
}

// errMisconfigured marks skipped keys that point at an issuer mistake worth
// a warning (secrets published, broken keys), as opposed to keys that are
// simply not for us (encryption keys, other algorithms).
var errMisconfigured = errors.New("misconfigured key")

// parseKey turns one JWK into a usable Key, or says why it is not one.
func parseKey(raw json.RawMessage) (Key, error) {
	jk, err := jwk.ParseKey(raw)
	if err != nil {
		return Key{}, fmt.Errorf("%w: unparseable: %v", errMisconfigured, err)
	}
	switch jk.KeyType() {
	case jwa.RSA(), jwa.EC(), jwa.OKP():
	case jwa.OctetSeq():
		// A shared secret in a public document is a leak, and we never verify
		// with symmetric keys anyway.
		return Key{}, fmt.Errorf("%w: symmetric (oct) key published", errMisconfigured)
	default:
		return Key{}, fmt.Errorf("unsupported key type %q", jk.KeyType())
	}
	// Publishing private key material is a misconfiguration; using its public
	// half would hide the mistake, so the key is refused outright.
	if private, err := jwk.IsPrivateKey(jk); err != nil || private {
		return Key{}, fmt.Errorf("%w: private key material published", errMisconfigured)
	}
	if use, ok := jk.KeyUsage(); ok && use != "" && use != jwk.ForSignature.String() {
		return Key{}, fmt.Errorf("use is %q, not sig", use)
	}
	if ops, ok := jk.KeyOps(); ok && len(ops) > 0 && !slices.Contains(ops, jwk.KeyOpVerify) {
		return Key{}, errors.New("key_ops exclude verify")
	}
	if err := jk.Validate(); err != nil {
		return Key{}, fmt.Errorf("%w: invalid: %v", errMisconfigured, err)
	}
	var pub any
	if err := jwk.Export(jk, &pub); err != nil {
		return Key{}, fmt.Errorf("%w: unusable: %v", errMisconfigured, err)
	}
	if err := checkPublic(pub); err != nil {
		return Key{}, err
	}
	var alg string
	if a, ok := jk.Algorithm(); ok && a.String() != "" {
		alg = a.String()
		if !fits(alg, pub) {
			return Key{}, fmt.Errorf("alg %q does not fit the key", alg)
		}
	}
	kid, _ := jk.KeyID()
	return Key{KID: kid, Alg: alg, Public: pub}, nil
}

// checkPublic accepts only the key types and sizes we verify with.
func checkPublic(pub any) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		if bits < minRSABits || bits > maxRSABits {
			return fmt.Errorf("%w: RSA key of %d bits (want %d to %d)", errMisconfigured, bits, minRSABits, maxRSABits)
		}
		if k.E < 3 || k.E%2 == 0 {
			return fmt.Errorf("%w: RSA public exponent %d", errMisconfigured, k.E)
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return fmt.Errorf("unsupported EC curve %s", k.Curve.Params().Name)
		}
		// ECDH rejects points not on the curve, which an attacker-controlled
		// key set could otherwise smuggle in.
		if _, err := k.ECDH(); err != nil {
			return fmt.Errorf("%w: EC point: %v", errMisconfigured, err)
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: Ed25519 key of %d bytes", errMisconfigured, len(k))
		}
	default:
		// X25519 and the like: OKP keys that cannot sign.
		return fmt.Errorf("unsupported public key %T", pub)
	}
	return nil
}

// peekKID extracts the kid of a JWK for log lines, even when the JWK as a
// whole does not parse. kid is a public identifier, safe to log.
func peekKID(raw json.RawMessage) string {
	var v struct {
		KID any `json:"kid"`
	}
	_ = json.Unmarshal(raw, &v)
	if s, ok := v.KID.(string); ok {
		const maxLen = 128
		if len(s) > maxLen {
			s = s[:maxLen]
		}
		return s
	}
	return ""
}
