package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// audience is the audience every bench token carries and the gateway's
// issuer requires.
const audience = "bench-api"

// issuer is a local OIDC issuer: a discovery document and a JWKS holding one
// RS256 key. It runs inside the bench process, which is idle while load runs
// and is never the process whose CPU is measured.
type issuer struct {
	URL     string
	kid     string
	key     *rsa.PrivateKey
	other   *rsa.PrivateKey // signs tokens that must fail signature verification
	jwks    []byte
	srv     *http.Server
	delay   atomic.Int64 // nanoseconds the JWKS endpoint waits before answering
	fetches atomic.Int64 // JWKS requests served
}

// newIssuer generates the keys and starts serving on a loopback port.
func newIssuer() (*issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	is := &issuer{kid: "bench-key-1", key: key, other: other}
	pub, err := jwk.PublicKeyOf(key)
	if err != nil {
		return nil, err
	}
	for k, v := range map[string]any{jwk.KeyIDKey: is.kid, jwk.KeyUsageKey: "sig", jwk.AlgorithmKey: "RS256"} {
		if err := pub.Set(k, v); err != nil {
			return nil, err
		}
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return nil, err
	}
	if is.jwks, err = json.Marshal(set); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	is.URL = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": is.URL, "jwks_uri": is.URL + "/jwks.json"})
	})
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		if d := time.Duration(is.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(is.jwks)
	})
	is.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = is.srv.Serve(ln) }()
	return is, nil
}

// Close stops the issuer.
func (is *issuer) Close() error { return is.srv.Close() }

// setDelay makes the JWKS endpoint answer d late (0: at once).
func (is *issuer) setDelay(d time.Duration) { is.delay.Store(int64(d)) }

// tokenKind names the tokens the scenarios send.
type tokenKind int

const (
	tokValid      tokenKind = iota // RS256, known kid, live
	tokBadSig                      // known kid, signed by an unrelated key
	tokExpired                     // known kid, exp two hours ago
	tokUnknownKID                  // a kid the JWKS never held
)

// token signs one token of kind; n makes sub (and, for tokUnknownKID, the
// kid) distinct, so a pool of tokens is not one token repeated.
func (is *issuer) token(kind tokenKind, n int) (string, error) {
	now := time.Now()
	exp := now.Add(time.Hour)
	key, kid := is.key, is.kid
	switch kind {
	case tokBadSig:
		key = is.other
	case tokExpired:
		exp = now.Add(-2 * time.Hour)
		now = now.Add(-3 * time.Hour)
	case tokUnknownKID:
		kid = fmt.Sprintf("unknown-%d", n)
	}
	payload, err := json.Marshal(map[string]any{
		"iss": is.URL, "aud": audience, "sub": fmt.Sprintf("user-%d", n),
		"iat": now.Unix(), "exp": exp.Unix(), "scope": "read",
	})
	if err != nil {
		return "", err
	}
	h := jws.NewHeaders()
	if err := h.Set(jws.KeyIDKey, kid); err != nil {
		return "", err
	}
	if err := h.Set(jws.TypeKey, "JWT"); err != nil {
		return "", err
	}
	tok, err := jws.Sign(payload, jws.WithKey(jwa.RS256(), key, jws.WithProtectedHeaders(h)))
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return string(tok), nil
}

// tokens signs count tokens of kind.
func (is *issuer) tokens(kind tokenKind, count int) ([]string, error) {
	out := make([]string, count)
	for i := range out {
		t, err := is.token(kind, i)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// malformedToken has the b64token syntax, so the gateway gets past bearer
// extraction, but is no JWS: its header segment is not base64url JSON. It
// must be refused with 401 invalid_token, not 400.
const malformedToken = "not-a-jwt.bm90LWpzb24.c2lnbmF0dXJl"
