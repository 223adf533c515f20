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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Key is a signing key pair a fake issuer publishes: its kid, the alg it
// signs with (also published as the JWK's alg when PublishAlg is set), the
// private key, and the JWK's use ("sig" when empty).
type Key struct {
	KID        string
	Alg        string
	Private    crypto.Signer
	PublishAlg bool
	Use        string
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
// (RFC 7517 §5), each with its use ("sig" unless Use says otherwise), its
// kid when set, and its alg when PublishAlg is set.
func JWKSet(tb testing.TB, keys ...Key) []byte {
	tb.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		pub, err := jwk.PublicKeyOf(k.Private)
		if err != nil {
			tb.Fatalf("jwk.PublicKeyOf(%T): %v", k.Private, err)
		}
		use := k.Use
		if use == "" {
			use = "sig"
		}
		_ = pub.Set(jwk.KeyUsageKey, use)
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
// DiscoveryPath naming itself and its key set at JWKSPath. Its keys can
// rotate, its answers can be slowed, made conditional (ETag) or cacheable
// (Cache-Control), and faults can be injected while a gateway uses it. It
// counts the requests it receives and keeps the header of the last one to
// each path. Several issuers can share one server, each under its own path
// (Mount).
type Issuer struct {
	*httptest.Server
	// URL is the issuer identifier: the server's URL, followed by the
	// issuer's path for one added with Mount. It shadows Server.URL.
	URL string

	tb   testing.TB
	sw   *SwitchServer
	root *Issuer // the issuer that owns the server: itself, unless mounted

	mu           sync.Mutex
	keys         []Key
	jwks         []byte // overrides the rendered key set when non-nil
	docIssuer    *string
	docJWKSURI   *string
	fault        func(http.ResponseWriter, *http.Request) bool
	delay        time.Duration
	etag         string
	cacheControl string
	hits         map[string]int
	headers      map[string]http.Header // of the last request, by path
	mounts       map[string]*Issuer     // on the root only: path → issuer
}

// Well-known paths of the fake issuer, under its URL.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/jwks"
)

// NewIssuer starts an issuer publishing keys; with none, one ES256 key
// with kid "k1" is generated. It stops when the test ends.
func NewIssuer(tb testing.TB, keys ...Key) *Issuer {
	tb.Helper()
	return newIssuer(tb, false, keys)
}

// NewTLSIssuer is NewIssuer on https, with httptest's certificate: its
// Client trusts it.
func NewTLSIssuer(tb testing.TB, keys ...Key) *Issuer {
	tb.Helper()
	return newIssuer(tb, true, keys)
}

func newIssuer(tb testing.TB, useTLS bool, keys []Key) *Issuer {
	tb.Helper()
	is := newState(tb, keys)
	is.root, is.mounts = is, map[string]*Issuer{}
	is.sw = newSwitchServer(tb, http.HandlerFunc(is.serve), useTLS)
	// The server is already serving: a request can arrive before this
	// returns (a gateway of an earlier test retrying against a reused
	// port), and answer reads URL under mu.
	is.mu.Lock()
	is.Server, is.URL = is.sw.Server, is.sw.URL
	is.mu.Unlock()
	return is
}

func newState(tb testing.TB, keys []Key) *Issuer {
	tb.Helper()
	if len(keys) == 0 {
		keys = []Key{NewECKey(tb, "k1")}
	}
	return &Issuer{tb: tb, keys: keys, hits: map[string]int{}, headers: map[string]http.Header{}}
}

// Mount adds an issuer to is's server under path, a path from the server's
// root such as "/realms/shop" (it starts with "/" and does not end with
// one), and returns it. Its URL is the server's URL followed by path, its
// endpoints are at path+DiscoveryPath and path+JWKSPath, and it has its own
// keys (one ES256 key "k1" when none are given), knobs and counts: paths it
// is asked about (Hits, LastHeader, and the request a fault sees) are under
// its own, so DiscoveryPath and JWKSPath name its endpoints. Requests under
// path are served and counted by the mounted issuer alone. SetDown on any
// issuer of a server takes the server, and so every issuer on it, down.
func (is *Issuer) Mount(path string, keys ...Key) *Issuer {
	is.tb.Helper()
	if !strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") || strings.ContainsAny(path, "?#") {
		is.tb.Fatalf("Mount(%q): want a path that starts with / and does not end with one", path)
	}
	sub := newState(is.tb, keys)
	sub.root, sub.sw, sub.Server, sub.URL = is.root, is.sw, is.Server, is.Server.URL+path
	root := is.root
	root.mu.Lock()
	defer root.mu.Unlock()
	if root.mounts[path] != nil {
		is.tb.Fatalf("Mount(%q): already mounted", path)
	}
	root.mounts[path] = sub
	return sub
}

// serve hands a request under a mounted path to that issuer, with the path
// under the issuer's own, and answers any other itself.
func (is *Issuer) serve(w http.ResponseWriter, r *http.Request) {
	if sub, rel := is.mounted(r.URL.Path); sub != nil {
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path, u.RawPath = rel, ""
		r2.URL = &u
		sub.answer(w, r2)
		return
	}
	is.answer(w, r)
}

// mounted returns the issuer mounted at the longest path that path is
// under, and path under it; nil when there is none.
func (is *Issuer) mounted(path string) (*Issuer, string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	var sub *Issuer
	var rel string
	n := 0
	for p, m := range is.mounts {
		if rest, ok := strings.CutPrefix(path, p); ok && strings.HasPrefix(rest, "/") && len(p) > n {
			sub, rel, n = m, rest, len(p)
		}
	}
	return sub, rel
}

func (is *Issuer) answer(w http.ResponseWriter, r *http.Request) {
	is.mu.Lock()
	is.hits[r.URL.Path]++
	is.headers[r.URL.Path] = r.Header.Clone()
	fault, keys, doc, delay, etag, cc := is.fault, is.keys, is.jwks, is.delay, is.etag, is.cacheControl
	iss, jwksURI := is.URL, is.URL+JWKSPath
	if is.docIssuer != nil {
		iss = *is.docIssuer
	}
	if is.docJWKSURI != nil {
		jwksURI = *is.docJWKSURI
	}
	is.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done(): // the client gave up
			t.Stop()
			return
		}
	}
	if fault != nil && fault(w, r) {
		return
	}
	switch r.URL.Path {
	case DiscoveryPath:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": jwksURI})
	case JWKSPath:
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
// issuer's own URL; SetDiscoveryIssuer(is.URL) undoes it.
func (is *Issuer) SetDiscoveryIssuer(iss string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.docIssuer = &iss
}

// SetDiscoveryJWKSURI makes the discovery document's jwks_uri uri instead
// of the issuer's own key set URL; SetDiscoveryJWKSURI(is.JWKSURL()) undoes
// it.
func (is *Issuer) SetDiscoveryJWKSURI(uri string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.docJWKSURI = &uri
}

// SetFault installs f in front of every endpoint: when it returns true it
// has answered the request (a 500, a hang, a reset); false lets the
// endpoint answer. Nil removes it.
func (is *Issuer) SetFault(f func(http.ResponseWriter, *http.Request) bool) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.fault = f
}

// ErrorFault is a fault for SetFault that answers status, with a short text
// body, to requests for paths, or to every request when none are given.
func ErrorFault(status int, paths ...string) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if len(paths) > 0 && !slices.Contains(paths, r.URL.Path) {
			return false
		}
		http.Error(w, "fault injected by the test", status)
		return true
	}
}

// SetDelay makes every answer, a fault's included, wait d first: a slow
// issuer that keeps a fetch in flight. Zero removes the delay. A request
// whose client gives up meanwhile gets no answer.
func (is *Issuer) SetDelay(d time.Duration) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.delay = d
}

// SetETag makes the key set answer carry ETag tag, and answer 304 Not
// Modified without a body to a request whose If-None-Match is exactly tag
// (RFC 9110 §13.1.2). "" turns it off.
func (is *Issuer) SetETag(tag string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.etag = tag
}

// SetCacheControl makes the key set answer carry Cache-Control v; "" sends
// none.
func (is *Issuer) SetCacheControl(v string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.cacheControl = v
}

// SetDown takes the issuer's server off the network (true): its port
// closes, so connections are refused, and open ones are dropped. False
// brings it back on the same URL. Every issuer mounted on the server goes
// with it. Call it from the test's goroutine.
func (is *Issuer) SetDown(down bool) { is.sw.SetDown(down) }

// Hits returns how many requests path (under the issuer's URL) has
// received.
func (is *Issuer) Hits(path string) int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.hits[path]
}

// TotalHits returns how many requests the issuer has received, on any
// path. On a server's own issuer it leaves out those of mounted issuers.
func (is *Issuer) TotalHits() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	n := 0
	for _, h := range is.hits {
		n += h
	}
	return n
}

// LastHeader returns a copy of the header of the last request to path
// (under the issuer's URL), or nil when there has been none.
func (is *Issuer) LastHeader(path string) http.Header {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.headers[path].Clone()
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
