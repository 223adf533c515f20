package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/authgate/authgate/internal/testkit"
)

// testKeys are real key pairs shared by the tests; RSA generation is slow
// enough to do once.
type testKeys struct {
	rsa, rsa2 *rsa.PrivateKey
	rsaSmall  *rsa.PrivateKey // 1024 bits: must be refused
	ec        *ecdsa.PrivateKey
	ec384     *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
}

var (
	keysOnce sync.Once
	keysVal  testKeys
)

func keys(t *testing.T) testKeys {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		must := func(e error) {
			if e != nil && err == nil {
				err = e
			}
		}
		var e error
		keysVal.rsa, e = rsa.GenerateKey(rand.Reader, 2048)
		must(e)
		keysVal.rsa2, e = rsa.GenerateKey(rand.Reader, 2048)
		must(e)
		keysVal.rsaSmall, e = rsa.GenerateKey(rand.Reader, 1024)
		must(e)
		keysVal.ec, e = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(e)
		keysVal.ec384, e = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(e)
		_, keysVal.ed, e = ed25519.GenerateKey(rand.Reader)
		must(e)
		if err != nil {
			panic(err)
		}
	})
	return keysVal
}

// jwkJSON renders raw (public or private key, or []byte for oct) as a JWK
// with the given members set (kid, alg, use, key_ops...).
func jwkJSON(t *testing.T, raw any, members map[string]any) json.RawMessage {
	t.Helper()
	if pub, ok := raw.(*rsa.PublicKey); ok && pub.N.BitLen() < 2048 {
		// jwk.Import refuses keys this small; an issuer can still publish
		// one, so the test writes the JWK by hand (RFC 7518 §6.3.1).
		m := map[string]any{"kty": "RSA", "n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
		for name, v := range members {
			m[name] = v
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	k, err := jwk.Import(raw)
	if err != nil {
		t.Fatalf("jwk.Import(%T): %v", raw, err)
	}
	for name, v := range members {
		if err := k.Set(name, v); err != nil {
			t.Fatalf("set %s: %v", name, err)
		}
	}
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatalf("marshal JWK: %v", err)
	}
	return b
}

// jwksJSON wraps JWKs into a JWK Set document.
func jwksJSON(t *testing.T, keys ...json.RawMessage) []byte {
	t.Helper()
	if keys == nil {
		keys = []json.RawMessage{}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatalf("marshal JWKS: %v", err)
	}
	return b
}

// clockStart is where the tests' clocks (testkit.Clock) start.
var clockStart = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// signer is raw, one of keys(t), published under kid; alg is what a token
// would be signed with, and is not published.
func signer(kid, alg string, raw crypto.Signer) testkit.Key {
	return testkit.Key{KID: kid, Alg: alg, Private: raw}
}

// observations records Options.Observe calls.
type observations struct {
	mu    sync.Mutex
	calls []string
	keys  []int
}

func (o *observations) observe(result string, keys int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, result)
	o.keys = append(o.keys, keys)
}

func (o *observations) last() (string, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.calls) == 0 {
		return "", -1
	}
	return o.calls[len(o.calls)-1], o.keys[len(o.keys)-1]
}

func (o *observations) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.calls)
}

func newTestLogger() (*slog.Logger, *testkit.LogBuffer) {
	b := &testkit.LogBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// newTestCache builds a Cache from o, failing the test if New refuses it.
func newTestCache(t *testing.T, o Options) *Cache {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// kidsOf lists the kids of s, or nil.
func kidsOf(s *Set) []string { return kids(s) }

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logLines returns the lines of a text log at level ("ERROR", "WARN") that
// contain every one of subs.
func logLines(logs *testkit.LogBuffer, level string, subs ...string) []string {
	var out []string
	for line := range strings.Lines(logs.String()) {
		if !strings.Contains(line, "level="+level+" ") {
			continue
		}
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}
