package verify

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/testkit"
	"github.com/authgate/authgate/jwks"
)

// cacheFixture is one issuer on a real JWKS endpoint, a verified-token cache
// whose hooks count what it reports, and a verifier over both.
type cacheFixture struct {
	k      testKeys
	clk    *testkit.Clock
	srv    *testkit.Issuer
	keys   *jwks.Cache
	main   *Issuer // issMain, audiences api x y, clock_skew 30s
	cache  *Cache
	v      *Verifier // main, the issuer's audiences, with the cache
	hits   atomic.Int64
	misses atomic.Int64
	// entries is the last number Entries reported (-1: none yet).
	entries atomic.Int64
}

func newCacheFixture(t *testing.T, size int, maxTTL time.Duration) *cacheFixture {
	t.Helper()
	f := &cacheFixture{k: keys(t), clk: testkit.NewClock(testNow)}
	f.entries.Store(-1)
	f.srv = testkit.NewIssuer(t, published("rsa1", "", f.k.rsa), published("ec1", "", f.k.ec), published("ed1", "", f.k.ed))
	f.keys = newCache(t, f.srv, f.clk)
	f.main = mustIssuer(t, IssuerOptions{Name: "main", Issuer: issMain, Audiences: []string{"api", "x", "y"},
		ClockSkew: 30 * time.Second, Keys: f.keys, Now: f.clk.Now})
	c, err := NewCache(CacheOptions{Size: size, MaxTTL: maxTTL,
		Lookup: func(hit bool) {
			if hit {
				f.hits.Add(1)
			} else {
				f.misses.Add(1)
			}
		},
		Entries: func(n int) { f.entries.Store(int64(n)) },
	})
	if err != nil {
		t.Fatalf("NewCache: %v", err)
	}
	f.cache = c
	f.v = f.verifier(t, nil, f.main)
	return f
}

// verifier is a route's verifier over issuers sharing f's cache.
func (f *cacheFixture) verifier(t *testing.T, audiences []string, issuers ...*Issuer) *Verifier {
	t.Helper()
	return mustVerifier(t, audiences, issuers...).WithCache(f.cache)
}

// token is an RS256 token of main, kid rsa1, with claims edited (nil
// deletes).
func (f *cacheFixture) token(t *testing.T, edits map[string]any) string {
	t.Helper()
	return sign(t, "RS256", f.k.rsa, map[string]any{"kid": "rsa1"}, claims(issMain, edits))
}

// counts returns hits, misses and the last entries figure.
func (f *cacheFixture) counts() (hits, misses, entries int64) {
	return f.hits.Load(), f.misses.Load(), f.entries.Load()
}

func (f *cacheFixture) wantCounts(t *testing.T, hits, misses, entries int64) {
	t.Helper()
	h, m, e := f.counts()
	if h != hits || m != misses || e != entries {
		t.Errorf("got hits %d, misses %d, entries %d; want %d, %d, %d", h, m, e, hits, misses, entries)
	}
}

// refresh makes the key cache fetch the issuer's current set now, past
// min_refresh_interval. It may run on any goroutine.
func (f *cacheFixture) refresh(t *testing.T) {
	t.Helper()
	f.clk.Advance(31 * time.Second)
	if _, err := f.keys.RefreshForKID(context.Background(), "not-published"); err != nil {
		t.Errorf("refresh: %v", err)
	}
}

func verifyReason(v *Verifier, token string) (*Identity, reason.Reason) {
	id, err := v.Verify(context.Background(), token)
	if err != nil {
		return nil, reason.Of(err)
	}
	return id, reason.OK
}

func TestCacheHit(t *testing.T) {
	f := newCacheFixture(t, 100, time.Hour)
	for _, tc := range []struct {
		name string
		alg  string
		key  any
		kid  string
		used string // kid of the key that verifies
	}{
		{name: "RS256 with kid", alg: "RS256", key: f.k.rsa, kid: "rsa1", used: "rsa1"},
		{name: "ES256 with kid", alg: "ES256", key: f.k.ec, kid: "ec1", used: "ec1"},
		{name: "EdDSA without kid", alg: "EdDSA", key: f.k.ed, used: "ed1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]any{}
			if tc.kid != "" {
				hdr["kid"] = tc.kid
			}
			tok := sign(t, tc.alg, tc.key, hdr, claimsFor(issMain))
			h0, m0, _ := f.counts()
			fetches := f.srv.Hits(testkit.JWKSPath)
			first, err := f.v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("first: %v", err)
			}
			second, err := f.v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("second: %v", err)
			}
			if second != first {
				t.Error("second verification returned a new Identity, want the cached one")
			}
			if second.Subject != "user-1" || second.Issuer != "main" || second.KeyID != tc.used {
				t.Errorf("got %+v", second)
			}
			if h, m, _ := f.counts(); h-h0 != 1 || m-m0 != 1 {
				t.Errorf("got %d hits, %d misses, want 1 each", h-h0, m-m0)
			}
			if got := f.srv.Hits(testkit.JWKSPath); got != fetches {
				t.Errorf("got %d key set fetches, want none", got-fetches)
			}
		})
	}
	if got := f.entries.Load(); got != 3 {
		t.Errorf("got entries %d, want 3", got)
	}
}

// lifeStep is one request of TestCacheLifetime.
type lifeStep struct {
	advance time.Duration // the clock moves first
	want    reason.Reason
	hit     bool
	cached  int // entries afterwards
}

// TestCacheLifetime: an entry never outlives the token's exp nor max_ttl
// from insertion; after either, the token is verified in full again.
func TestCacheLifetime(t *testing.T) {
	for _, tc := range []struct {
		name   string
		exp    time.Duration // token's exp from the start
		maxTTL time.Duration
		steps  []lifeStep
	}{
		{
			name: "exp first", exp: time.Minute, maxTTL: time.Hour,
			steps: []lifeStep{
				{0, reason.OK, false, 1},
				{59 * time.Second, reason.OK, true, 1},
				// Past exp but within clock_skew: still valid, yet not
				// from the cache, and not admitted again.
				{10 * time.Second, reason.OK, false, 0},
				{0, reason.OK, false, 0},
				// Refused as expired after its signature verified: the
				// token is remembered in the memo, and answered from it.
				{time.Minute, reason.Expired, false, 1},
				{time.Minute, reason.Expired, true, 1},
			},
		},
		{
			name: "max_ttl first", exp: time.Hour, maxTTL: 5 * time.Minute,
			steps: []lifeStep{
				{0, reason.OK, false, 1},
				{5*time.Minute - time.Second, reason.OK, true, 1},
				{time.Second, reason.OK, false, 1}, // verified in full, admitted again
				{5*time.Minute - time.Second, reason.OK, true, 1},
				{time.Second, reason.OK, false, 1},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCacheFixture(t, 10, tc.maxTTL)
			tok := f.token(t, map[string]any{"exp": testNow.Add(tc.exp).Unix()})
			for i, st := range tc.steps {
				f.clk.Advance(st.advance)
				h0, _, _ := f.counts()
				if _, got := verifyReason(f.v, tok); got != st.want {
					t.Fatalf("step %d: got %q, want %q", i, got, st.want)
				}
				if h, _, _ := f.counts(); (h > h0) != st.hit {
					t.Errorf("step %d: hit %v, want %v", i, h > h0, st.hit)
				}
				if got := f.cache.Len(); got != st.cached || f.entries.Load() != int64(st.cached) {
					t.Errorf("step %d: got %d entries (reported %d), want %d", i, got, f.entries.Load(), st.cached)
				}
			}
		})
	}
}

// TestCacheKeyRemoval: an entry whose key has left the issuer's key set is
// never used; a refresh that keeps the key keeps the entry.
func TestCacheKeyRemoval(t *testing.T) {
	for _, tc := range []struct {
		name  string
		keys  func(k testKeys) []testkit.Key
		want  reason.Reason
		entry bool // still cached afterwards
	}{
		{"rotated away", func(k testKeys) []testkit.Key { return []testkit.Key{published("rsa9", "", k.rsa2)} }, reason.UnknownKey, false},
		{"same kid, another key", func(k testKeys) []testkit.Key { return []testkit.Key{published("rsa1", "", k.rsa2)} }, reason.BadSignature, false},
		{"kid now for another algorithm", func(k testKeys) []testkit.Key { return []testkit.Key{published("rsa1", "PS256", k.rsa)} }, reason.UnknownKey, false},
		{"same key, set fetched again", func(k testKeys) []testkit.Key { return []testkit.Key{published("rsa1", "", k.rsa)} }, reason.OK, true},
		{"same key among new ones", func(k testKeys) []testkit.Key {
			return []testkit.Key{published("rsa2", "", k.rsa2), published("rsa1", "RS256", k.rsa)}
		}, reason.OK, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCacheFixture(t, 10, time.Hour)
			tok := f.token(t, nil)
			if _, got := verifyReason(f.v, tok); got != reason.OK {
				t.Fatalf("before: got %q", got)
			}
			f.srv.SetKeys(tc.keys(f.k)...)
			f.refresh(t)
			h0, _, _ := f.counts()
			if _, got := verifyReason(f.v, tok); got != tc.want {
				t.Fatalf("after the refresh: got %q, want %q", got, tc.want)
			}
			h, _, _ := f.counts()
			if hit := h > h0; hit != tc.entry {
				t.Errorf("hit %v, want %v", hit, tc.entry)
			}
			if got := f.cache.Len() == 1; got != tc.entry {
				t.Errorf("cached afterwards: %v, want %v", got, tc.entry)
			}
		})
	}
}

// TestCacheRouteChecks: a hit on another route still meets that route's
// issuers and audiences, and the time checks still run.
func TestCacheRouteChecks(t *testing.T) {
	f := newCacheFixture(t, 10, time.Hour)
	es := mustIssuer(t, IssuerOptions{Name: "es", Issuer: issES, Audiences: []string{"x"}, Keys: f.keys, Now: f.clk.Now})
	// The same iss URL under a new *Issuer, as after a reload, requiring
	// a claim the token lacks.
	rebuilt := mustIssuer(t, IssuerOptions{Name: "main", Issuer: issMain, Audiences: []string{"x"}, RequiredClaims: []string{"exp", "tenant"},
		Keys: f.keys, Now: f.clk.Now})
	typed := mustIssuer(t, IssuerOptions{Name: "main", Issuer: issMain, Audiences: []string{"x"}, TokenTypes: []string{"at+jwt"},
		Keys: f.keys, Now: f.clk.Now})
	routeX := f.verifier(t, []string{"x"}, f.main)
	tok := f.token(t, map[string]any{"aud": "x", "nbf": testNow.Unix()})
	if _, got := verifyReason(routeX, tok); got != reason.OK {
		t.Fatalf("route x: got %q", got)
	}
	for _, tc := range []struct {
		name    string
		v       *Verifier
		advance time.Duration
		want    reason.Reason
		hit     bool
	}{
		{"same route", routeX, 0, reason.OK, true},
		{"route with the issuer's audiences", f.v, 0, reason.OK, true},
		{"route with audience y", f.verifier(t, []string{"y"}, f.main), 0, reason.BadAudience, true},
		{"route of another issuer", f.verifier(t, nil, es), 0, reason.UntrustedIssuer, false},
		{"route of the rebuilt issuer", f.verifier(t, nil, rebuilt), 0, reason.MissingClaim, false},
		{"route of an issuer rebuilt with token_types", f.verifier(t, nil, typed), 0, reason.BadType, false},
		{"clock set back before nbf", routeX, -time.Hour, reason.NotYetValid, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.clk.Advance(tc.advance)
			defer f.clk.Advance(-tc.advance)
			h0, _, _ := f.counts()
			if _, got := verifyReason(tc.v, tok); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if h, _, _ := f.counts(); (h > h0) != tc.hit {
				t.Errorf("hit %v, want %v", h > h0, tc.hit)
			}
			if f.cache.Len() != 1 {
				t.Errorf("got %d entries, want the one of route x", f.cache.Len())
			}
		})
	}
}

// TestCacheBounds: distinct valid tokens never take the cache past its
// size; invalid ones are never admitted, so they evict nothing (expired
// ones only go to the memo, a quarter of the size); a flood of valid
// one-time tokens leaves the tokens in repeated use cached (2Q).
func TestCacheBounds(t *testing.T) {
	const size = 8
	f := newCacheFixture(t, size, time.Hour)
	tokenN := func(i int) string {
		return sign(t, "ES256", f.k.ec, map[string]any{"kid": "ec1"}, claims(issMain, map[string]any{"sub": fmt.Sprint("user-", i)}))
	}
	working := make([]string, 4)
	for i := range working {
		working[i] = tokenN(i)
		for range 2 { // seen twice: in use
			if _, got := verifyReason(f.v, working[i]); got != reason.OK {
				t.Fatalf("working %d: got %q", i, got)
			}
		}
	}
	stillCached := func(t *testing.T) {
		t.Helper()
		for i, tok := range working {
			h0, _, _ := f.counts()
			if _, got := verifyReason(f.v, tok); got != reason.OK {
				t.Fatalf("working %d: got %q", i, got)
			}
			if h, _, _ := f.counts(); h == h0 {
				t.Errorf("working token %d was evicted", i)
			}
		}
	}

	t.Run("invalid tokens", func(t *testing.T) {
		for i := range 50 {
			for _, tc := range []struct {
				tok  string
				want reason.Reason
			}{
				{sign(t, "ES256", f.k.evilEC, map[string]any{"kid": "ec1"}, claims(issMain, map[string]any{"sub": fmt.Sprint("evil-", i)})), reason.BadSignature},
				{sign(t, "ES256", f.k.ec, map[string]any{"kid": "ec1"}, claims(issMain, map[string]any{"jti": fmt.Sprint(i), "exp": testNow.Add(-time.Hour).Unix()})), reason.Expired},
				{sign(t, "ES256", f.k.ec, map[string]any{"kid": "ec1"}, claims(issMain, map[string]any{"jti": fmt.Sprint(i), "aud": "nope"})), reason.BadAudience},
			} {
				for range 2 {
					if _, got := verifyReason(f.v, tc.tok); got != tc.want {
						t.Fatalf("got %q, want %q", got, tc.want)
					}
				}
			}
		}
		if got := f.cache.lru.Len(); got != len(working) {
			t.Errorf("got %d entries, want %d", got, len(working))
		}
		if got := f.cache.memo.Len(); got != size/4 {
			t.Errorf("got %d memo entries, want %d", got, size/4)
		}
		stillCached(t)
	})
	t.Run("one-time valid tokens", func(t *testing.T) {
		for i := range 40 {
			if _, got := verifyReason(f.v, tokenN(100+i)); got != reason.OK {
				t.Fatalf("got %q", got)
			}
			if n := f.cache.lru.Len(); n > size {
				t.Fatalf("got %d entries, over the size %d", n, size)
			}
		}
		// Entries counts the memo's expired tokens too.
		if got := f.entries.Load(); got != size+size/4 {
			t.Errorf("got entries %d, want %d", got, size+size/4)
		}
		stillCached(t)
	})
}

func TestCacheOff(t *testing.T) {
	c, err := NewCache(CacheOptions{Size: 0, Lookup: func(bool) { t.Error("lookup counted with the cache off") }})
	if err != nil || c != nil {
		t.Fatalf("got %v, %v; want nil, nil", c, err)
	}
	k := keys(t)
	clk := testkit.NewClock(testNow)
	srv := testkit.NewIssuer(t, published("rsa1", "", k.rsa))
	is := mustIssuer(t, IssuerOptions{Name: "main", Issuer: issMain, Audiences: []string{"api"}, Keys: newCache(t, srv, clk), Now: clk.Now})
	v := mustVerifier(t, nil, is).WithCache(c)
	tok := sign(t, "RS256", k.rsa, map[string]any{"kid": "rsa1"}, claimsFor(issMain))
	first, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	second, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if first == second {
		t.Error("got the same Identity twice with the cache off")
	}
	if c.Len() != 0 {
		t.Errorf("nil cache Len: got %d", c.Len())
	}
}

func TestNewCacheRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    CacheOptions
		want string // "" accepted
	}{
		{"defaults", CacheOptions{Size: DefaultCacheSize, MaxTTL: DefaultCacheMaxTTL}, ""},
		{"off, no max_ttl", CacheOptions{}, ""},
		{"negative size", CacheOptions{Size: -1, MaxTTL: time.Minute}, "size: must not be negative (0 turns the cache off)"},
		{"zero max_ttl", CacheOptions{Size: 1}, "max_ttl: must be positive while the cache is on (size above 0)"},
		{"negative max_ttl", CacheOptions{Size: 1, MaxTTL: -time.Second}, "max_ttl: must be positive while the cache is on (size above 0)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCache(tc.o)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if verr := tc.o.Validate(); (verr == nil) != (err == nil) {
				t.Errorf("Validate: %v, NewCache: %v", verr, err)
			}
		})
	}
}

// TestCacheTraceBypass: explain shows the full verification, and neither
// reads nor fills the cache.
func TestCacheTraceBypass(t *testing.T) {
	f := newCacheFixture(t, 10, time.Hour)
	tok := f.token(t, nil)
	if _, tr, err := explain(context.Background(), f.v, tok); err != nil || len(tr.Steps) == 0 {
		t.Fatalf("explain: %v, %d steps", err, len(tr.Steps))
	}
	f.wantCounts(t, 0, 0, -1)
	if _, got := verifyReason(f.v, tok); got != reason.OK {
		t.Fatalf("got %q", got)
	}
	_, tr, err := explain(context.Background(), f.v, tok)
	if err != nil {
		t.Fatal(err)
	}
	signed := false
	for _, st := range tr.Steps {
		signed = signed || st.Name == StepSignature
	}
	if !signed {
		t.Errorf("explain of a cached token shows no signature step: %+v", tr.Steps)
	}
	f.wantCounts(t, 0, 1, 1)
}

// TestCacheConcurrent runs hits, misses, refusals and key refreshes at once,
// for -race.
func TestCacheConcurrent(t *testing.T) {
	f := newCacheFixture(t, 16, time.Hour)
	var toks []string
	for i := range 24 {
		toks = append(toks, sign(t, "ES256", f.k.ec, map[string]any{"kid": "ec1"}, claims(issMain, map[string]any{"sub": fmt.Sprint("u", i)})))
	}
	bad := sign(t, "ES256", f.k.evilEC, map[string]any{"kid": "ec1"}, claimsFor(issMain))
	routeY := f.verifier(t, []string{"y"}, f.main)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				tok := toks[(g*7+i)%len(toks)]
				if _, got := verifyReason(f.v, tok); got != reason.OK {
					t.Errorf("got %q", got)
					return
				}
				if _, got := verifyReason(routeY, tok); got != reason.BadAudience {
					t.Errorf("route y: got %q", got)
					return
				}
				if i%50 == 0 {
					if _, got := verifyReason(f.v, bad); got != reason.BadSignature {
						t.Errorf("bad: got %q", got)
						return
					}
				}
			}
		})
	}
	wg.Go(func() {
		for range 3 {
			f.refresh(t)
		}
	})
	wg.Wait()
	if n := f.cache.Len(); n > 16 {
		t.Errorf("got %d entries, over 16", n)
	}
	if h, m, e := f.counts(); h == 0 || m == 0 || e != int64(f.cache.Len()) {
		t.Errorf("got hits %d, misses %d, entries %d (Len %d)", h, m, e, f.cache.Len())
	}
}

// TestCacheStaleKeys: once the issuer's key set is past max_stale, a cached
// token is refused keys_unavailable like any other, and answered from the
// cache again when a fresh set holds its key.
func TestCacheStaleKeys(t *testing.T) {
	f := newCacheFixture(t, 10, 48*time.Hour)
	tok := f.token(t, map[string]any{"exp": testNow.Add(48 * time.Hour).Unix()})
	if _, got := verifyReason(f.v, tok); got != reason.OK {
		t.Fatalf("before: got %q", got)
	}
	f.srv.SetDown(true)
	f.clk.Advance(jwks.DefaultMaxStale + time.Hour)
	if _, got := verifyReason(f.v, tok); got != reason.KeysUnavailable {
		t.Fatalf("stale: got %q, want %q", got, reason.KeysUnavailable)
	}
	f.srv.SetDown(false)
	f.refresh(t)
	h0, _, _ := f.counts()
	if _, got := verifyReason(f.v, tok); got != reason.OK {
		t.Fatalf("after the refresh: got %q", got)
	}
	if h, _, _ := f.counts(); h == h0 {
		t.Error("not answered from the cache after the refresh")
	}
}
