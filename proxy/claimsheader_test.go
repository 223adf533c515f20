package proxy

import (
	"encoding/base64"
	"strings"
	"testing"
	"unsafe"
)

// TestClaimsHeaderValue: the claims header is always the payload's own
// unpadded base64url encoding, whether it is taken from the token's payload
// part or encoded anew.
func TestClaimsHeaderValue(t *testing.T) {
	payload := []byte(alicePayload)
	long := []byte(`{"sub":"` + strings.Repeat("x", 1000) + `"}`) // several 384-byte chunks
	enc := base64.RawURLEncoding.EncodeToString
	for _, tc := range []struct {
		name    string
		payload []byte
		token   string
		reused  bool // the value is the token's own payload part, not a copy
	}{
		{name: "token part reused", payload: payload, token: "h." + enc(payload) + ".s", reused: true},
		{name: "long payload", payload: long, token: "h." + enc(long) + ".s", reused: true},
		{name: "payload not a multiple of 3", payload: []byte(`{"a":1}`), token: "h." + enc([]byte(`{"a":1}`)) + ".s", reused: true},
		{name: "other payload in token", payload: payload, token: "h." + enc([]byte(`{"sub":"mallory"}`)) + ".s"},
		// Same length, one character off in the last chunk.
		{name: "last character differs", payload: payload, token: "h." + enc(payload)[:len(enc(payload))-1] + "A.s"},
		// "eA" decodes (leniently) to the same byte as "eQ": not canonical.
		{name: "non-canonical part", payload: []byte("y"), token: "h.eA.s"},
		{name: "opaque token", payload: payload, token: "opaque-token"},
		{name: "two parts", payload: payload, token: "h." + enc(payload)},
		{name: "no token", payload: payload, token: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, want := claimsHeaderValue(tc.payload, tc.token), enc(tc.payload)
			if got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			if reused := strings.Contains(tc.token, got) && unsafe.StringData(got) == unsafe.StringData(tc.token[2:]); reused != tc.reused {
				t.Errorf("reused the token's part: got %v, want %v", reused, tc.reused)
			}
		})
	}
}
