// Package testkit holds helpers that tests in several packages share. It is
// imported only from _test.go files.
package testkit

import (
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// SignJWS makes a compact JWS over the exact payload bytes with jws.Sign;
// hdr members (kid, typ, crit, jku, jwk, …) go into the protected header
// next to alg. It fails the test on error.
func SignJWS(tb testing.TB, alg jwa.SignatureAlgorithm, key any, hdr map[string]any, payload []byte) string {
	tb.Helper()
	h := jws.NewHeaders()
	for name, v := range hdr {
		if err := h.Set(name, v); err != nil {
			tb.Fatalf("header %s: %v", name, err)
		}
	}
	tok, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		tb.Fatalf("jws.Sign(%s): %v", alg, err)
	}
	return string(tok)
}
