package verify

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/authgate/authgate/internal/reason"
)

// MaxTokenSize is the longest token accepted, in bytes (docs/reference.md §3.3 step 2).
// The check runs before any decoding, so oversized input costs nothing.
const MaxTokenSize = 16 << 10

// b64 decodes base64url without padding (RFC 7515 §2) and, being strict,
// refuses non-zero trailing bits, so each byte string has one encoding.
var b64 = base64.RawURLEncoding.Strict()

// compact is a JWS in compact serialization (RFC 7515 §7.1), split and
// decoded but not yet trusted.
type compact struct {
	signingInput string // ASCII(BASE64URL(header) || '.' || BASE64URL(payload))
	signature    []byte
	header       header
	payload      []byte
	claims       map[string]any
	// exp, nbf and iat are the time claims read once from claims, so that
	// a cache hit re-checks them without parsing numbers again.
	exp, nbf, iat date
}

// header holds the JOSE header members the verifier acts on. Members that
// would name a key by reference or by value (jku, jwk, x5u, x5c) are
// deliberately not read: keys come only from the issuer's configured set.
type header struct {
	alg  string
	kid  string
	typ  string // "" when absent
	crit bool   // a crit member is present, whatever its value
}

// parseCompact runs docs/reference.md §3.3 step 2: at most MaxTokenSize bytes, three
// parts of canonical base64url, and a header and payload that are each
// exactly one JSON object in valid UTF-8 with no duplicate member names at
// any depth (RFC 7515 §4, RFC 7519 §4), as decodeObject checks. Every
// failure wraps reason.ErrMalformed. Its detail never quotes token bytes.
func parseCompact(token string) (*compact, error) {
	if len(token) > MaxTokenSize {
		return nil, fmt.Errorf("%w: token is %d bytes, over the %d-byte limit", reason.ErrMalformed, len(token), MaxTokenSize)
	}
	switch n := strings.Count(token, "."); n {
	case 2:
	case 4:
		return nil, fmt.Errorf("%w: five parts: an encrypted JWT (JWE) is not accepted", reason.ErrMalformed)
	default:
		return nil, fmt.Errorf("%w: %d parts, want 3", reason.ErrMalformed, n+1)
	}
	d1 := strings.IndexByte(token, '.')
	d2 := d1 + 1 + strings.IndexByte(token[d1+1:], '.')
	rawHeader, rawPayload, rawSig := token[:d1], token[d1+1:d2], token[d2+1:]

	// The decoder ignores CR and LF; checking the alphabet first makes those
	// (and padding) errors too, so only canonical base64url passes.
	for _, p := range [...]struct{ name, s string }{{"header", rawHeader}, {"payload", rawPayload}, {"signature", rawSig}} {
		if !isBase64URL(p.s) {
			return nil, fmt.Errorf("%w: %s is not unpadded base64url", reason.ErrMalformed, p.name)
		}
	}
	hdrJSON, err := b64.DecodeString(rawHeader)
	if err != nil {
		return nil, fmt.Errorf("%w: header is not valid base64url", reason.ErrMalformed)
	}
	payload, err := b64.DecodeString(rawPayload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not valid base64url", reason.ErrMalformed)
	}
	sig, err := b64.DecodeString(rawSig)
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not valid base64url", reason.ErrMalformed)
	}
	c := &compact{signingInput: token[:d2], signature: sig, payload: payload}
	if err := c.header.parse(hdrJSON); err != nil {
		return nil, fmt.Errorf("%w: header: %v", reason.ErrMalformed, err)
	}
	if c.claims, err = decodeObject(payload); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", reason.ErrMalformed, err)
	}
	c.exp, c.nbf, c.iat = readDate(c.claims, "exp"), readDate(c.claims, "nbf"), readDate(c.claims, "iat")
	return c, nil
}

// parse reads the header members. It decodes into a map, with the same
// strict decoder as the payload, because JOSE member names are
// case-sensitive and encoding/json's struct matching is not: with a struct,
// "ALG" would be taken for "alg".
func (h *header) parse(data []byte) error {
	m, err := decodeObject(data)
	if err != nil {
		return err
	}
	if h.alg, err = stringMember(m, "alg"); err != nil {
		return err
	}
	if h.kid, err = stringMember(m, "kid"); err != nil {
		return err
	}
	if h.typ, err = stringMember(m, "typ"); err != nil {
		return err
	}
	_, h.crit = m["crit"]
	return nil
}

// stringMember returns member name of m, "" when absent; present, it must be
// a JSON string.
func stringMember(m map[string]any, name string) (string, error) {
	v, ok := m[name]
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s is not a string", name)
	}
	return s, nil
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
