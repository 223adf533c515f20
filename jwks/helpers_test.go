package jwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testkit"

	"github.com/lestrrat-go/jwx/v3/jwk"
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

// fakeIssuer is an httptest OIDC issuer whose key set and behaviour the
// test changes while it runs. It counts the requests it receives.
type fakeIssuer struct {
	srv *httptest.Server

	mu           sync.Mutex
	body         []byte
	status       int    // for the key set; 0 means 200
	etag         string // served and honoured when set
	cacheControl string
	docIssuer    string // issuer in the discovery document; "" means srv.URL
	docJWKSURI   string // jwks_uri; "" means srv.URL+"/keys"
	discoveryErr int    // status for discovery; 0 means 200
	delay        time.Duration
	hold         func(*http.Request) // if set, called before each key set answer
	lastINM      string
	lastAccept   string

	jwksHits      atomic.Int32
	discoveryHits atomic.Int32
}

func newFakeIssuer(t *testing.T, body []byte) *fakeIssuer {
	t.Helper()
	f := &fakeIssuer{body: body}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", f.serveDiscovery)
	mux.HandleFunc("GET /keys", f.serveKeys)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIssuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	f.discoveryHits.Add(1)
	f.mu.Lock()
	status, iss, uri := f.discoveryErr, f.docIssuer, f.docJWKSURI
	f.mu.Unlock()
	if status != 0 {
		http.Error(w, "unavailable", status)
		return
	}
	if iss == "" {
		iss = f.srv.URL
	}
	if uri == "" {
		uri = f.srv.URL + "/keys"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": uri})
}

func (f *fakeIssuer) serveKeys(w http.ResponseWriter, r *http.Request) {
	f.jwksHits.Add(1)
	f.mu.Lock()
	body, status, etag, cc, delay, hold := f.body, f.status, f.etag, f.cacheControl, f.delay, f.hold
	f.lastINM = r.Header.Get("If-None-Match")
	f.lastAccept = r.Header.Get("Accept")
	f.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	if hold != nil {
		hold(r)
	}
	if status != 0 && status != http.StatusOK {
		http.Error(w, "failing", status)
		return
	}
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	if etag != "" {
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_, _ = w.Write(body)
}

func (f *fakeIssuer) set(fn func(f *fakeIssuer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeIssuer) keysURL() string { return f.srv.URL + "/keys" }

// fakeClock is a manually advanced clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
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

// newTestCache builds a Cache over f's key set URL with a fake clock.
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

// newFakeIssuerTLS is an https issuer whose discovery document points at
// jwksURI.
func newFakeIssuerTLS(t *testing.T, jwksURI string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != discoveryPath {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": jwksURI})
	}))
	t.Cleanup(srv.Close)
	return srv
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
