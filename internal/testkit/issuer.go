package testkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Key is a signing key pair a fake issuer publishes: its kid, the alg it
// signs with (also published as the JWK's alg when PublishAlg is set) and
// the private key.
type Key struct {
	KID        string
	Alg        string
	Private    crypto.Signer
	PublishAlg bool
}

// NewRSAKey generates a 2048-bit RSA key that signs RS256.
func NewRSAKey(tb testing.TB, kid string) Key {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	return Key{KID: kid, Alg: "RS256", Private: k}
}

// NewECKey generates a P-256 key that signs ES256.
func NewECKey(tb testing.TB, kid string) Key {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return Key{KID: kid, Alg: "ES256", Private: k}
}

// NewEd25519Key generates an Ed25519 key that signs EdDSA.
func NewEd25519Key(tb testing.TB, kid string) Key {
	tb.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return Key{KID: kid, Alg: "EdDSA", Private: k}
}

// JWKSet renders the public halves of keys as a JWK Set document
// (RFC 7517 §5), each with use "sig", its kid when set, and its alg when
// PublishAlg is set.
func JWKSet(tb testing.TB, keys ...Key) []byte {
	tb.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		pub, err := jwk.PublicKeyOf(k.Private)
		if err != nil {
			tb.Fatalf("jwk.PublicKeyOf(%T): %v", k.Private, err)
		}
		_ = pub.Set(jwk.KeyUsageKey, "sig")
		if k.KID != "" {
			_ = pub.Set(jwk.KeyIDKey, k.KID)
		}
		if k.PublishAlg {
			_ = pub.Set(jwk.AlgorithmKey, k.Alg)
		}
		if err := set.AddKey(pub); err != nil {
			tb.Fatal(err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Issuer is a fake OpenID provider on loopback: a discovery document at
// /.well-known/openid-configuration naming itself and its key set at
// /jwks. Its keys can rotate and faults can be injected while a gateway
// uses it. Its URL is the issuer identifier.
type Issuer struct {
	*httptest.Server
	tb testing.TB
	sw *SwitchServer

	mu        sync.Mutex
	keys      []Key
	jwks      []byte // overrides the rendered key set when non-nil
	docIssuer *string
	fault     func(http.ResponseWriter, *http.Request) bool
	hits      map[string]int
}

// Well-known paths of the fake issuer.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/jwks"
)

// NewIssuer starts an issuer publishing keys; with none, one ES256 key
// with kid "k1" is generated. It stops when the test ends.
func NewIssuer(tb testing.TB, keys ...Key) *Issuer {
	tb.Helper()
	if len(keys) == 0 {
		keys = []Key{NewECKey(tb, "k1")}
	}
	is := &Issuer{tb: tb, keys: keys, hits: map[string]int{}}
	is.sw = NewSwitchServer(tb, http.HandlerFunc(is.serve))
	is.Server = is.sw.Server
	return is
}

func (is *Issuer) serve(w http.ResponseWriter, r *http.Request) {
	is.mu.Lock()
	is.hits[r.URL.Path]++
	fault, keys, doc, docIssuer := is.fault, is.keys, is.jwks, is.docIssuer
	is.mu.Unlock()
	if fault != nil && fault(w, r) {
		return
	}
	switch r.URL.Path {
	case DiscoveryPath:
		iss := is.URL
		if docIssuer != nil {
			iss = *docIssuer
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": is.URL + JWKSPath})
	case JWKSPath:
		if doc == nil {
			doc = JWKSet(is.tb, keys...)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(doc)
	default:
		http.NotFound(w, r)
	}
}

// JWKSURL is the key set's URL.
func (is *Issuer) JWKSURL() string { return is.URL + JWKSPath }

// Keys returns the published keys.
func (is *Issuer) Keys() []Key {
	is.mu.Lock()
	defer is.mu.Unlock()
	return append([]Key(nil), is.keys...)
}

// SetKeys replaces the published keys (a rotation) and drops any raw
// document set with SetJWKS.
func (is *Issuer) SetKeys(keys ...Key) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys, is.jwks = keys, nil
}

// SetJWKS makes the key set endpoint answer doc verbatim (garbage, an
// oversized body, an empty set); nil goes back to the rendered keys.
func (is *Issuer) SetJWKS(doc []byte) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.jwks = doc
}

// SetDiscoveryIssuer makes the discovery document name iss instead of the
// issuer's own URL.
func (is *Issuer) SetDiscoveryIssuer(iss string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.docIssuer = &iss
}

// SetFault installs f in front of every endpoint: when it returns true it
// has answered the request (a 500, a hang, a reset); false lets the
// endpoint answer. Nil removes it.
func (is *Issuer) SetFault(f func(http.ResponseWriter, *http.Request) bool) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.fault = f
}

// SetDown takes the issuer off the network (true): its port closes, so
// connections are refused, and open ones are dropped. False brings it back
// on the same URL. Call it from the test's goroutine.
func (is *Issuer) SetDown(down bool) { is.sw.SetDown(down) }

// Hits returns how many requests path has received.
func (is *Issuer) Hits(path string) int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.hits[path]
}

// Token signs a token with key whose claims are iss (this issuer), iat
// now and exp in an hour, then edits: a nil value deletes a claim.
func (is *Issuer) Token(tb testing.TB, key Key, edits map[string]any) string {
	tb.Helper()
	now := time.Now()
	c := map[string]any{"iss": is.URL, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for name, v := range edits {
		if v == nil {
			delete(c, name)
			continue
		}
		c[name] = v
	}
	payload, err := json.Marshal(c)
	if err != nil {
		tb.Fatal(err)
	}
	hdr := map[string]any{}
	if key.KID != "" {
		hdr["kid"] = key.KID
	}
	return SignJWS(tb, key.Alg, key.Private, hdr, payload)
}
