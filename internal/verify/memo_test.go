package verify

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/testkit"
	"github.com/authgate/authgate/jwks"
)

// The memo of the verified-token cache: expired tokens remembered as
// refused (see Cache).

// countingVerifier counts the signature checks of the algorithm it wraps.
type countingVerifier struct {
	inner interface {
		Verify(key any, payload, signature []byte) error
	}
	n *atomic.Int64
}

func (c countingVerifier) Verify(key any, payload, signature []byte) error {
	c.n.Add(1)
	return c.inner.Verify(key, payload, signature)
}

// countSignatures makes every algorithm of is count its signature checks
// in n, and returns n. It must run before is verifies anything.
func countSignatures(is *Issuer, n *atomic.Int64) *atomic.Int64 {
	for name, a := range is.algs {
		is.algs[name] = algorithm{alg: a.alg, verifier: countingVerifier{inner: a.verifier, n: n}}
	}
	return n
}

// expired returns claim edits for a token of main that expired an hour
// before testNow, issued an hour before that.
func expired(edits map[string]any) map[string]any {
	e := map[string]any{"exp": testNow.Add(-time.Hour).Unix(), "iat": testNow.Add(-2 * time.Hour).Unix()}
	for k, v := range edits {
		e[k] = v
	}
	return e
}

// TestCacheMemo: a token refused as expired after its signature verified
// is answered from the memo the second time, with the very error full
// verification gives and no signature check; no other refusal is
// remembered.
func TestCacheMemo(t *testing.T) {
	for _, tc := range []struct {
		name string
		tok  func(f *cacheFixture) string
		want reason.Reason
		memo bool // the second request is answered from the memo
	}{
		{"expired", func(f *cacheFixture) string { return f.token(t, expired(nil)) }, reason.Expired, true},
		{"expired, audience wrong too", func(f *cacheFixture) string { return f.token(t, expired(map[string]any{"aud": "nope"})) }, reason.Expired, true},
		{"expired with a bad signature", func(f *cacheFixture) string {
			return sign(t, "RS256", f.k.evilRSA, map[string]any{"kid": "rsa1"}, claims(issMain, expired(nil)))
		}, reason.BadSignature, false},
		{"expired with an unknown kid", func(f *cacheFixture) string {
			return sign(t, "RS256", f.k.rsa, map[string]any{"kid": "rsa9"}, claims(issMain, expired(nil)))
		}, reason.UnknownKey, false},
		{"audience wrong", func(f *cacheFixture) string { return f.token(t, map[string]any{"aud": "nope"}) }, reason.BadAudience, false},
		{"not yet valid", func(f *cacheFixture) string { return f.token(t, map[string]any{"nbf": testNow.Add(time.Hour).Unix()}) }, reason.NotYetValid, false},
		{"exp not a number", func(f *cacheFixture) string { return f.token(t, map[string]any{"exp": "soon"}) }, reason.Malformed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCacheFixture(t, 8, time.Hour)
			sigs := countSignatures(f.main, new(atomic.Int64))
			tok := tc.tok(f)
			_, first := f.v.Verify(context.Background(), tok)
			fullChecks := sigs.Load()
			if got := reason.Of(first); got != tc.want {
				t.Fatalf("first: got %q, want %q", got, tc.want)
			}
			f.wantCounts(t, 0, 1, map[bool]int64{true: 1, false: -1}[tc.memo])
			s0 := sigs.Load()
			_, second := f.v.Verify(context.Background(), tok)
			if second == nil || second.Error() != first.Error() {
				t.Errorf("second: got %v, want %q", second, first.Error())
			}
			if tc.want == reason.Expired && !errors.Is(second, reason.ErrExpired) {
				t.Errorf("second: %v does not wrap reason.ErrExpired", second)
			}
			if issuerOf(second) != issuerOf(first) {
				t.Errorf("second: got issuer %q, want %q", issuerOf(second), issuerOf(first))
			}
			// From the memo: no signature check; else as many as the first.
			checked, want := sigs.Load()-s0, fullChecks
			if tc.memo {
				want = 0
			}
			if h, _, _ := f.counts(); (h == 1) != tc.memo || checked != want {
				t.Errorf("second: hit %v with %d signature checks; want hit %v with %d", h == 1, checked, tc.memo, want)
			}
			if got := f.cache.memo.Len(); (got == 1) != tc.memo || f.cache.lru.Len() != 0 {
				t.Errorf("got %d memo entries, %d valid ones", got, f.cache.lru.Len())
			}
		})
	}
}

// TestCacheMemoGuards: a memo entry answers only where full verification
// would give the same refusal at that moment; otherwise the token is
// verified in full, and the entry dropped when it can never answer again.
func TestCacheMemoGuards(t *testing.T) {
	const maxTTL = 48 * time.Hour
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, f *cacheFixture, sigs *atomic.Int64) *Verifier // the route asked; nil: f.v
		advance time.Duration
		want    reason.Reason
		hit     bool
		checks  int64 // signature checks of the request
		memo    int   // memo entries afterwards
		valid   int   // valid entries afterwards
	}{
		{name: "later", advance: time.Hour, want: reason.Expired, hit: true, memo: 1},
		{name: "route with audience y", setup: func(t *testing.T, f *cacheFixture, sigs *atomic.Int64) *Verifier {
			return f.verifier(t, []string{"y"}, f.main)
		}, want: reason.Expired, hit: true, memo: 1},
		{name: "key rotated away", setup: func(t *testing.T, f *cacheFixture, sigs *atomic.Int64) *Verifier {
			f.srv.SetKeys(published("rsa9", "", f.k.rsa2))
			f.refresh(t)
			return nil
		}, want: reason.UnknownKey},
		{name: "same kid, another key", setup: func(t *testing.T, f *cacheFixture, sigs *atomic.Int64) *Verifier {
			f.srv.SetKeys(published("rsa1", "", f.k.rsa2))
			f.refresh(t)
			return nil
		}, want: reason.BadSignature, checks: 1},
		{name: "same key, set fetched again", setup: func(t *testing.T, f *cacheFixture, sigs *atomic.Int64) *Verifier {
			f.srv.SetKeys(published("rsa2", "", f.k.rsa2), published("rsa1", "", f.k.rsa))
			f.refresh(t)
			return nil
		}, want: reason.Expired, hit: true, memo: 1},
		{name: "keys unavailable", setup: func(t *testing.T, f *cacheFixture, sigs *atomic.Int64) *Verifier {
			f.srv.SetDown(true)
			f.clk.Advance(jwks.DefaultMaxStale + time.Hour)
			return nil
		}, want: reason.KeysUnavailable, memo: 1},
		{name: "route of another issuer", setup: func(t *testing.T, f *cacheFixture, sigs *atomic.Int64) *Verifier {
			es := mustIssuer(t, IssuerOptions{Name: "es", Issuer: issES, Audiences: []string{"api"}, Keys: f.keys, Now: f.clk.Now})
			return f.verifier(t, nil, es)
		}, want: reason.UntrustedIssuer, memo: 1},
		{name: "route of the rebuilt issuer", setup: func(t *testing.T, f *cacheFixture, sigs *atomic.Int64) *Verifier {
			// The same iss URL under a new *Issuer, as after a reload: its
			// own full verification, remembered under it in place of the
			// old entry.
			rebuilt := mustIssuer(t, IssuerOptions{Name: "main", Issuer: issMain, Audiences: []string{"api"}, Keys: f.keys, Now: f.clk.Now})
			countSignatures(rebuilt, sigs)
			return f.verifier(t, nil, rebuilt)
		}, want: reason.Expired, checks: 1, memo: 1},
		// Verified in full, remembered again. The refresh keeps the key
		// set fresh, max_ttl being longer than max_stale.
		{name: "past max_ttl", setup: func(t *testing.T, f *cacheFixture, sigs *atomic.Int64) *Verifier {
			f.clk.Advance(maxTTL)
			f.refresh(t)
			return nil
		}, want: reason.Expired, checks: 1, memo: 1},
		// The clock set back before exp: the token passes, so the memo
		// does not answer; full verification accepts and caches it.
		{name: "clock set back", advance: -90 * time.Minute, want: reason.OK, checks: 1, valid: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCacheFixture(t, 8, maxTTL)
			sigs := countSignatures(f.main, new(atomic.Int64))
			tok := f.token(t, expired(nil))
			if _, got := verifyReason(f.v, tok); got != reason.Expired {
				t.Fatalf("first: got %q", got)
			}
			v := f.v
			if tc.setup != nil {
				if w := tc.setup(t, f, sigs); w != nil {
					v = w
				}
			}
			f.clk.Advance(tc.advance)
			h0, _, _ := f.counts()
			s0 := sigs.Load()
			_, err := v.Verify(context.Background(), tok)
			if got := reason.Of(err); err != nil && got != tc.want || err == nil && tc.want != reason.OK {
				t.Fatalf("got %q (%v), want %q", got, err, tc.want)
			}
			h, _, _ := f.counts()
			if hit, checks := h > h0, sigs.Load()-s0; hit != tc.hit || checks != tc.checks {
				t.Errorf("hit %v with %d signature checks, want hit %v with %d", hit, checks, tc.hit, tc.checks)
			}
			if m, l := f.cache.memo.Len(), f.cache.lru.Len(); m != tc.memo || l != tc.valid || f.entries.Load() != int64(m+l) {
				t.Errorf("got %d memo and %d valid entries (reported %d), want %d and %d", m, l, f.entries.Load(), tc.memo, tc.valid)
			}
			// The refusal is the one full verification gives now, text
			// included.
			_, full := (&Verifier{byIss: v.byIss, audiences: v.audiences}).Verify(context.Background(), tok)
			if fmt.Sprint(err) != fmt.Sprint(full) {
				t.Errorf("got %v, full verification says %v", err, full)
			}
		})
	}
}

// TestCacheMemoFlood: distinct expired tokens, more than the whole cache
// holds, only churn the memo: the valid tokens cached before still hit,
// and the cache never holds more than Size plus a quarter.
func TestCacheMemoFlood(t *testing.T) {
	const size = 8
	f := newCacheFixture(t, size, time.Hour)
	working := make([]string, size/2)
	for i := range working {
		working[i] = f.token(t, map[string]any{"sub": fmt.Sprint("user-", i)})
		if _, got := verifyReason(f.v, working[i]); got != reason.OK {
			t.Fatalf("working %d: got %q", i, got)
		}
	}
	for i := range 5 * size {
		tok := f.token(t, expired(map[string]any{"jti": fmt.Sprint(i)}))
		for range 2 {
			if _, got := verifyReason(f.v, tok); got != reason.Expired {
				t.Fatalf("expired %d: got %q", i, got)
			}
			if n := f.entries.Load(); n > size+size/4 || n != int64(f.cache.Len()) {
				t.Fatalf("expired %d: reported %d entries (Len %d), bound %d", i, n, f.cache.Len(), size+size/4)
			}
		}
	}
	if got := f.cache.memo.Len(); got != size/4 {
		t.Errorf("got %d memo entries, want %d", got, size/4)
	}
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

// TestCacheMemoOff: with size 0 an expired token is verified in full every
// time.
func TestCacheMemoOff(t *testing.T) {
	k := keys(t)
	clk := testkit.NewClock(testNow)
	srv := testkit.NewIssuer(t, published("rsa1", "", k.rsa))
	is := mustIssuer(t, IssuerOptions{Name: "main", Issuer: issMain, Audiences: []string{"api"}, Keys: newCache(t, srv, clk), Now: clk.Now})
	sigs := countSignatures(is, new(atomic.Int64))
	c, err := NewCache(CacheOptions{Size: 0})
	if err != nil {
		t.Fatal(err)
	}
	v := mustVerifier(t, nil, is).WithCache(c)
	tok := sign(t, "RS256", k.rsa, map[string]any{"kid": "rsa1"}, claims(issMain, expired(nil)))
	for i := range 3 {
		if _, got := verifyReason(v, tok); got != reason.Expired {
			t.Fatalf("request %d: got %q", i, got)
		}
	}
	if got := sigs.Load(); got != 3 {
		t.Errorf("got %d signature checks, want 3", got)
	}
}

// TestCacheSizeOne is a regression test: NewCache refused size 1 with
// golang-lru's "must provide a positive size", its 2Q ghost list being
// half the size, rounded down to nothing. Size 1 (and a memo of one) work.
func TestCacheSizeOne(t *testing.T) {
	f := newCacheFixture(t, 1, time.Hour)
	valid, old := f.token(t, nil), f.token(t, expired(nil))
	for i := range 2 {
		if _, got := verifyReason(f.v, valid); got != reason.OK {
			t.Fatalf("valid %d: got %q", i, got)
		}
		if _, got := verifyReason(f.v, old); got != reason.Expired {
			t.Fatalf("expired %d: got %q", i, got)
		}
	}
	f.wantCounts(t, 2, 2, 2)
}
