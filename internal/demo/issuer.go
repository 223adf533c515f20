// Package demo provides the pieces of `authgate demo`: a local OIDC issuer
// (discovery document and JWKS, key generated at start) and an echo upstream.
// The end-to-end tests use the same pieces.
package demo

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Issuer is a minimal OpenID Provider on loopback: it publishes
// /.well-known/openid-configuration and /jwks.json and signs tokens with an
// ES256 key generated at start.
type Issuer struct {
	URL    string
	srv    *http.Server
	ln     net.Listener
	key    jwk.Key
	public []byte
}

// NewIssuer starts an issuer on addr (e.g. "127.0.0.1:0").
func NewIssuer(addr string) (*Issuer, error) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	key, err := jwk.Import(raw)
	if err != nil {
		return nil, err
	}
	kid := make([]byte, 8)
	if _, err := rand.Read(kid); err != nil {
		return nil, err
	}
	_ = key.Set(jwk.KeyIDKey, "demo-"+hex.EncodeToString(kid))
	_ = key.Set(jwk.AlgorithmKey, jwa.ES256())
	pub, err := key.PublicKey()
	if err != nil {
		return nil, err
	}
	_ = pub.Set(jwk.KeyUsageKey, "sig")
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return nil, err
	}
	public, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	is := &Issuer{URL: "http://" + ln.Addr().String(), ln: ln, key: key, public: public}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                is.URL,
			"jwks_uri":                              is.URL + "/jwks.json",
			"id_token_signing_alg_values_supported": []string{"ES256"},
		})
	})
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "max-age=900")
		_, _ = w.Write(is.public)
	})
	is.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = is.srv.Serve(ln) }()
	return is, nil
}

// Close stops the issuer.
func (is *Issuer) Close() error { return is.srv.Close() }

// Token signs a token with iss set to the issuer and the given claims; exp,
// iat and nbf are set from lifetime relative to now (a negative lifetime
// gives an expired token).
func (is *Issuer) Token(claims map[string]any, lifetime time.Duration) (string, error) {
	now := time.Now()
	b := jwt.NewBuilder().
		Issuer(is.URL).
		IssuedAt(now.Add(min(lifetime, 0) * 2)).
		Expiration(now.Add(lifetime))
	for k, v := range claims {
		b = b.Claim(k, v)
	}
	tok, err := b.Build()
	if err != nil {
		return "", err
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), is.key))
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return string(signed), nil
}
