package verify

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/authgate/authgate/internal/reason"
)

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, never
// accept a token the fixture did not sign, and every error must carry a reason.
func FuzzVerify(f *testing.F) {
	k := keys(f)
	clk := newClock()
	srv := newJWKSServer(f, pubJWK{kid: "ec1", pub: &k.ec.PublicKey})
	is := mustIssuer(f, IssuerOptions{Name: "main", Issuer: issMain, Audiences: []string{"api"}, Keys: newCache(f, srv, clk), Now: clk.Now})
	v := mustVerifier(f, nil, is)
	good := sign(f, "ES256", k.ec, map[string]any{"kid": "ec1"}, claimsFor(issMain))
	wantPayload, err := json.Marshal(claimsFor(issMain))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, "", ".", "..", "a.b.c", "a.b.c.d.e", enc(`{"alg":"none"}`) + "." + enc(`{"iss":"`+issMain+`"}`) + "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := v.Verify(context.Background(), tok)
		if err == nil {
			// ECDSA signatures are malleable ((r, s) and (r, n-s) both
			// verify), so a different string may pass; its content may not.
			if string(id.Payload) != string(wantPayload) {
				t.Fatalf("got payload %q, want %q", id.Payload, wantPayload)
			}
			return
		}
		if reason.Of(err) == "" {
			t.Fatalf("got %q, want an error carrying a reason", err)
		}
	})
}
