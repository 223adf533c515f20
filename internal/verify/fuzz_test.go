package verify

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/testkit"
)

// FuzzVerify checks the invariant of the whole verifier: Verify never
// returns an identity unless the exact signing input of the token was
// signed by a key in the trusted set, and never panics. Each run tries
//
//   - tok, arbitrary token text;
//   - hdr and payload signed, as they are, by an untrusted key, which must
//     always be refused;
//   - hdr and payload signed by a trusted key, which may verify: then the
//     identity holds exactly that payload and the claims encoding/json
//     reads from it;
//   - one of the trusted tokens with the byte at pos XORed with flip.
//
// Every error carries a reason, and VerifyTrace, which runs the same code with
// a recorder and also checks the claims of refused tokens, reaches the same
// verdict.
func FuzzVerify(f *testing.F) {
	k := keys(f)
	clk := testkit.NewClock(testNow)
	srv := testkit.NewIssuer(f, published("ec1", "", k.ec), published("rsa1", "", k.rsa), published("ed1", "", k.ed))
	is := mustIssuer(f, IssuerOptions{Name: "main", Issuer: issMain, Audiences: []string{"api"}, Keys: newCache(f, srv, clk), Now: clk.Now})
	v := mustVerifier(f, nil, is)
	_, evilEd, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}

	// signer is a key that signs per run; the trusted ones are in the set,
	// the untrusted ones are not (this issuer publishes no P-384 key).
	type signer struct {
		alg string
		key any
	}
	trustedSigners := []signer{{"ES256", k.ec}, {"EdDSA", k.ed}}
	untrustedSigners := []signer{{"ES256", k.evilEC}, {"EdDSA", evilEd}, {"ES384", k.ec384}}

	// trusted maps the signing input of every token signed at setup by a
	// trusted key to its payload.
	trusted := map[string]string{}
	var good []string
	for _, g := range []struct {
		alg string
		key any
		hdr map[string]any
	}{
		{"ES256", k.ec, map[string]any{"kid": "ec1"}},
		{"RS256", k.rsa, map[string]any{"kid": "rsa1"}},
		{"PS256", k.rsa, map[string]any{"kid": "rsa1"}},
		{"EdDSA", k.ed, map[string]any{"kid": "ed1"}},
		{"EdDSA", k.ed, nil},
	} {
		payload, err := json.Marshal(claimsFor(issMain))
		if err != nil {
			f.Fatal(err)
		}
		tok := signPayload(f, g.alg, g.key, g.hdr, payload)
		trusted[tok[:strings.LastIndexByte(tok, '.')]] = string(payload)
		good = append(good, tok)
	}

	okHeader, okPayload := []byte(`{"alg":"ES256","kid":"ec1"}`), []byte(strictClaims(`,"sub":"user-1"`))
	for i, tok := range append(good, "", ".", "..", "a.b.c", "a.b.c.d.e", enc(`{"alg":"none"}`)+"."+enc(`{"iss":"`+issMain+`"}`)+".") {
		f.Add(tok, okHeader, okPayload, uint8(i), uint16(len(tok)-1), byte(1))
	}
	for i, c := range strictCases() {
		hdr := strings.Replace(c.header, "RS256", "ES256", 1)
		if hdr == "" {
			hdr = string(okHeader)
		}
		f.Add(good[0], []byte(hdr), []byte(c.payload), uint8(i), uint16(i), byte(0x20))
	}
	f.Add("", []byte(`{"alg":"EdDSA"}`), []byte(strictClaims(`,"scope":["a",{"b":1}],"scp":"x y","nbf":1e400,"sub":7`)), uint8(1), uint16(40), byte(0x80))
	f.Add("", []byte(`{"alg":"ES256","kid":"ec1","typ":"at+jwt"}`), []byte(`{"iss":"`+issMain+`","aud":["api",null],"exp":-1e-400}`), uint8(0), uint16(0), byte(0xff))

	ctx := context.Background()
	f.Fuzz(func(t *testing.T, tok string, hdr, payload []byte, pick uint8, pos uint16, flip byte) {
		// check verifies one token and returns its identity, after checking
		// that only a trusted signature yields one and that VerifyTrace agrees.
		check := func(what, tok string) *Identity {
			id, err := v.Verify(ctx, tok)
			eid, _, eerr := explain(ctx, v, tok)
			if (err == nil) != (eerr == nil) || reason.Of(err) != reason.Of(eerr) {
				t.Fatalf("%s: Verify says %v, VerifyTrace %v; want the same verdict", what, err, eerr)
			}
			if err != nil {
				if id != nil || eid != nil {
					t.Fatalf("%s: got an identity with error %v", what, err)
				}
				if reason.Of(err) == "" {
					t.Fatalf("%s: got %q, want an error carrying a reason", what, err)
				}
				return nil
			}
			if id == nil || eid == nil || !reflect.DeepEqual(id.Claims, eid.Claims) {
				t.Fatalf("%s: Verify and VerifyTrace returned different identities", what)
			}
			return id
		}
		// fromSetup checks that an accepted token was signed at setup.
		fromSetup := func(what, tok string, id *Identity) {
			if id == nil {
				return
			}
			want, ok := trusted[tok[:strings.LastIndexByte(tok, '.')]]
			if !ok {
				t.Fatalf("%s: accepted %q, whose signing input no trusted key signed", what, tok)
			}
			if string(id.Payload) != want {
				t.Fatalf("%s: got payload %q, want %q", what, id.Payload, want)
			}
		}

		fromSetup("fuzzed token", tok, check("fuzzed token", tok))

		input := enc(string(hdr)) + "." + enc(string(payload))
		if len(input) > MaxTokenSize {
			return // refused before any signature; not worth signing
		}
		u := untrustedSigners[int(pick)%len(untrustedSigners)]
		if id := check("untrusted key", testkit.SignInput(t, u.alg, u.key, input)); id != nil {
			t.Fatalf("untrusted key: accepted %q . %q signed with an untrusted %s key", hdr, payload, u.alg)
		}

		s := trustedSigners[int(pick)%len(trustedSigners)]
		if id := check("trusted key", testkit.SignInput(t, s.alg, s.key, input)); id != nil {
			var claims map[string]any
			if string(id.Payload) != string(payload) || stdDecode(payload, &claims) != nil || !reflect.DeepEqual(id.Claims, claims) {
				t.Fatalf("trusted key: got payload %q claims %#v, want %q as encoding/json decodes it", id.Payload, id.Claims, payload)
			}
		}

		if flip != 0 {
			b := []byte(good[int(pick)%len(good)])
			b[int(pos)%len(b)] ^= flip
			fromSetup("mutated token", string(b), check("mutated token", string(b)))
		}
	})
}
