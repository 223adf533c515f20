package jwks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/testkit"
)

// issuerWith serves one RSA key (kid) and returns the issuer and a cache
// with a manual clock over its key set URL.
func issuerWith(t *testing.T, kid string, o Options) (*testkit.Issuer, *Cache, *testkit.Clock, *observations) {
	t.Helper()
	is := testkit.NewIssuer(t, signer(kid, "RS256", keys(t).rsa))
	clock := testkit.NewClock(clockStart)
	obs := &observations{}
	if o.JWKSURL == "" && o.Issuer == "" {
		o.JWKSURL = is.JWKSURL()
	}
	o.Now = clock.Now
	o.Observe = obs.observe
	if o.Logger == nil {
		o.Logger, _ = newTestLogger()
	}
	return is, newTestCache(t, o), clock, obs
}

func mustKeys(t *testing.T, c *Cache) *Set {
	t.Helper()
	s, err := c.Keys()
	if err != nil {
		t.Fatalf("Keys: %v", err)
	}
	return s
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		wantErr string // "" means valid
	}{
		{"explicit jwks_url", Options{JWKSURL: "https://idp.example.com/keys?v=1"}, ""},
		{"issuer for discovery", Options{Issuer: "https://idp.example.com/realms/x/"}, ""},
		{"neither", Options{}, "issuer: must not be empty"},
		{"relative jwks_url", Options{JWKSURL: "/keys"}, "jwks_url: must be an absolute URL"},
		{"ftp jwks_url", Options{JWKSURL: "ftp://idp.example.com/keys"}, "jwks_url: scheme must be http or https"},
		{"no host", Options{JWKSURL: "https:///keys"}, "jwks_url: must be an absolute URL"},
		{"bad escape", Options{JWKSURL: "https://idp.example.com/%zz"}, "jwks_url: must be an absolute URL"},
		{"jwks_url with user information", Options{JWKSURL: "https://u:p@idp.example.com/keys"}, "jwks_url: must not contain user information"},
		{"issuer with query", Options{Issuer: "https://idp.example.com/?tenant=1"}, "issuer: must not have a query or fragment (with jwks_url empty"},
		{"issuer with user information", Options{Issuer: "https://u@idp.example.com"}, "issuer: must not contain user information"},
		{"issuer not a URL", Options{Issuer: "main"}, "issuer: must be an absolute URL (with jwks_url empty, the key set is discovered at {issuer}/.well-known/openid-configuration)"},
		{"min above refresh", Options{JWKSURL: "https://x.test/k", RefreshInterval: time.Minute, MinRefreshInterval: 2 * time.Minute},
			"jwks.min_refresh_interval: must not exceed refresh_interval (1m0s)"},
		{"max_stale below refresh", Options{JWKSURL: "https://x.test/k", MaxStale: time.Minute}, "jwks.max_stale: must not be shorter than refresh_interval (15m0s)"},
		{"negative timeout", Options{JWKSURL: "https://x.test/k", Timeout: -time.Second}, "jwks.timeout: must not be negative"},
		{"negative refresh, no comparison", Options{JWKSURL: "https://x.test/k", RefreshInterval: -time.Second}, "jwks.refresh_interval: must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.o)
			if verr := tc.o.Validate(); fmt.Sprint(verr) != fmt.Sprint(err) {
				t.Errorf("Validate: got %v, want New's error %v", verr, err)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("got error %q, want none", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("got no error, want one containing %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("got error %q, want it to contain %q", err, tc.wantErr)
			}
			if err == nil && c.Ready() {
				t.Error("a new cache is ready before any fetch")
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	c := newTestCache(t, Options{JWKSURL: "https://idp.example.com/keys"})
	got := []time.Duration{c.o.RefreshInterval, c.o.MinRefreshInterval, c.o.MaxStale, c.o.Timeout}
	want := []time.Duration{15 * time.Minute, 30 * time.Second, 24 * time.Hour, 5 * time.Second}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if c.o.Client == nil || c.o.Client.Timeout != 5*time.Second {
		t.Errorf("got client %+v, want a private client with a 5s timeout", c.o.Client)
	}
}

func TestKeysBeforeAnyFetch(t *testing.T) {
	_, c, _, _ := issuerWith(t, "k1", Options{})
	s, err := c.Keys()
	if !errors.Is(err, reason.ErrKeysUnavailable) {
		t.Fatalf("got (%v, %v), want ErrKeysUnavailable", s, err)
	}
	if got := reason.Of(err); got != reason.KeysUnavailable {
		t.Errorf("got reason %q, want %q", got, reason.KeysUnavailable)
	}
}

func TestExplicitJWKSURL(t *testing.T) {
	f, c, _, obs := issuerWith(t, "k1", Options{})
	s, err := c.RefreshForKID(context.Background(), "k1")
	if err != nil {
		t.Fatalf("RefreshForKID: %v", err)
	}
	if got := kidsOf(s); !slices.Equal(got, []string{"k1"}) {
		t.Errorf("got kids %q, want %q", got, []string{"k1"})
	}
	if got := f.Hits(testkit.DiscoveryPath); got != 0 {
		t.Errorf("got %d discovery requests, want 0 with an explicit jwks_url", got)
	}
	accept := f.LastHeader(testkit.JWKSPath).Get("Accept")
	if !strings.Contains(accept, "application/jwk-set+json") || !strings.Contains(accept, "application/json") {
		t.Errorf("got Accept %q, want both JWK set and JSON media types", accept)
	}
	if res, n := obs.last(); res != ResultSuccess || n != 1 {
		t.Errorf("got observe (%q, %d), want (%q, 1)", res, n, ResultSuccess)
	}
	st := c.Status()
	if st.URL != f.JWKSURL() || st.Keys != 1 || st.LastError != "" || st.LastSuccess.IsZero() {
		t.Errorf("got status %+v, want URL %q, 1 key, no error, a success time", st, f.JWKSURL())
	}
	if !c.Ready() {
		t.Error("not ready after a good fetch")
	}
}

func TestDiscovery(t *testing.T) {
	tests := []struct {
		name   string
		suffix string // appended to the server URL to form Options.Issuer and the document's issuer
	}{
		{"issuer without a trailing slash", ""},
		{"trailing slash is trimmed for the well-known URL only", "/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := testkit.NewIssuer(t, signer("ed1", "EdDSA", keys(t).ed))
			f.SetDiscoveryIssuer(f.URL + tc.suffix)
			log, logs := newTestLogger()
			clock := testkit.NewClock(clockStart)
			c := newTestCache(t, Options{Issuer: f.URL + tc.suffix, Logger: log, Now: clock.Now})
			ctx := context.Background()
			if _, err := c.RefreshForKID(ctx, "ed1"); err != nil {
				t.Fatalf("RefreshForKID: %v", err)
			}
			if got := c.Status().URL; got != f.JWKSURL() {
				t.Errorf("got URL %q, want %q", got, f.JWKSURL())
			}
			if got := logs.String(); strings.Contains(got, "level=WARN") || strings.Contains(got, "level=ERROR") {
				t.Errorf("got log %q, want no warning or error", got)
			}
			// jwks_uri is cached: later fetches skip discovery.
			clock.Advance(time.Minute)
			if _, err := c.RefreshForKID(ctx, "other"); err != nil {
				t.Fatalf("second RefreshForKID: %v", err)
			}
			if d, j := f.Hits(testkit.DiscoveryPath), f.Hits(testkit.JWKSPath); d != 1 || j != 2 {
				t.Errorf("got %d discovery and %d key set requests, want 1 and 2", d, j)
			}
		})
	}
}

func TestDiscoveryFailures(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(f *testkit.Issuer)
		wantErr string
	}{
		{"discovery 404", func(f *testkit.Issuer) { f.SetFault(testkit.ErrorFault(http.StatusNotFound, testkit.DiscoveryPath)) }, "discovery: GET "},
		{"relative jwks_uri", func(f *testkit.Issuer) { f.SetDiscoveryJWKSURI("/keys") }, "jwks_uri /keys: scheme"},
		{"jwks_uri with secret query", func(f *testkit.Issuer) { f.SetDiscoveryJWKSURI("ftp://x.test/keys?sig=SECRET") }, "jwks_uri ftp://x.test/keys: scheme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := testkit.NewIssuer(t, signer("ed1", "EdDSA", keys(t).ed))
			tc.setup(f)
			clock := testkit.NewClock(clockStart)
			obs := &observations{}
			c := newTestCache(t, Options{Issuer: f.URL, Now: clock.Now, Observe: obs.observe})
			_, err := c.RefreshForKID(context.Background(), "ed1")
			if !errors.Is(err, reason.ErrKeysUnavailable) {
				t.Fatalf("got %v, want ErrKeysUnavailable", err)
			}
			st := c.Status()
			if !strings.Contains(st.LastError, tc.wantErr) || strings.Contains(st.LastError, "SECRET") {
				t.Errorf("got LastError %q, want it to contain %q and no secret", st.LastError, tc.wantErr)
			}
			if res, n := obs.last(); res != ResultError || n != 0 {
				t.Errorf("got observe (%q, %d), want (%q, 0)", res, n, ResultError)
			}
			// Discovery is retried once the issuer is fixed.
			f.SetFault(nil)
			f.SetDiscoveryJWKSURI(f.JWKSURL())
			clock.Advance(c.o.MinRefreshInterval)
			if _, err := c.RefreshForKID(context.Background(), "ed1"); err != nil {
				t.Fatalf("after repair: %v", err)
			}
		})
	}
}

// TestDiscoveryHTTPSDowngrade: an https issuer must not send us to an http
// key set URL, where anyone on the path could substitute keys.
func TestDiscoveryHTTPSDowngrade(t *testing.T) {
	plain := testkit.NewIssuer(t, signer("ed1", "EdDSA", keys(t).ed))
	tlsIs := testkit.NewTLSIssuer(t)
	tlsIs.SetDiscoveryJWKSURI(plain.JWKSURL())
	c := newTestCache(t, Options{Issuer: tlsIs.URL, Client: tlsIs.Client()})
	_, err := c.RefreshForKID(context.Background(), "ed1")
	if !errors.Is(err, reason.ErrKeysUnavailable) {
		t.Fatalf("got %v, want ErrKeysUnavailable", err)
	}
	if got := c.Status().LastError; !strings.Contains(got, "is not https") {
		t.Errorf("got LastError %q, want it to mention https", got)
	}
	if got := plain.Hits(testkit.JWKSPath); got != 0 {
		t.Errorf("got %d requests to the http key set, want 0", got)
	}
}

// TestRotation: the issuer switches to a new kid; a token with that kid
// brings it in through RefreshForKID once the rate limit allows.
func TestRotation(t *testing.T) {
	f, c, clock, _ := issuerWith(t, "old", Options{})
	ctx := context.Background()
	if _, err := c.RefreshForKID(ctx, "old"); err != nil {
		t.Fatalf("initial fetch: %v", err)
	}
	f.SetKeys(signer("new", "RS256", keys(t).rsa2))

	clock.Advance(10 * time.Second) // inside MinRefreshInterval: refused at once
	s, err := c.RefreshForKID(ctx, "new")
	if err != nil {
		t.Fatalf("early RefreshForKID: %v", err)
	}
	if s.HasKID("new") || f.Hits(testkit.JWKSPath) != 1 {
		t.Errorf("got kids %q after %d fetches, want the old set and 1 fetch", kidsOf(s), f.Hits(testkit.JWKSPath))
	}

	clock.Advance(c.o.MinRefreshInterval)
	s, err = c.RefreshForKID(ctx, "new")
	if err != nil {
		t.Fatalf("RefreshForKID: %v", err)
	}
	if got := kidsOf(s); !slices.Equal(got, []string{"new"}) {
		t.Errorf("got kids %q, want %q", got, []string{"new"})
	}
	// A known kid is answered from the snapshot, without a fetch.
	clock.Advance(c.o.MinRefreshInterval)
	if _, err := c.RefreshForKID(ctx, "new"); err != nil {
		t.Fatal(err)
	}
	if got := f.Hits(testkit.JWKSPath); got != 2 {
		t.Errorf("got %d fetches, want 2", got)
	}
}

// TestFloodOfUnknownKIDs: a burst of tokens with unknown kids causes one
// shared fetch, and none more within MinRefreshInterval.
func TestFloodOfUnknownKIDs(t *testing.T) {
	f, c, clock, _ := issuerWith(t, "k1", Options{})
	ctx := context.Background()
	if _, err := c.RefreshForKID(ctx, "k1"); err != nil {
		t.Fatalf("initial fetch: %v", err)
	}
	k := keys(t)
	f.SetDelay(50 * time.Millisecond) // keep the fetch in flight while callers pile up
	f.SetKeys(signer("k1", "RS256", k.rsa), signer("k2", "ES256", k.ec))
	clock.Advance(c.o.MinRefreshInterval)

	flood := func(kid func(i int) string) []*Set {
		const n = 200
		sets := make([]*Set, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				s, err := c.RefreshForKID(ctx, kid(i))
				if err != nil {
					t.Errorf("RefreshForKID: %v", err)
				}
				sets[i] = s
			})
		}
		wg.Wait()
		return sets
	}

	sets := flood(func(i int) string { return fmt.Sprintf("unknown-%d", i) })
	if got := f.Hits(testkit.JWKSPath); got != 2 {
		t.Fatalf("got %d fetches after the flood, want 2 (initial + one shared)", got)
	}
	for i, s := range sets {
		if !s.HasKID("k2") {
			t.Fatalf("caller %d got kids %q, want the refreshed set", i, kidsOf(s))
		}
	}

	clock.Advance(c.o.MinRefreshInterval - time.Second)
	flood(func(i int) string { return "still-unknown" })
	if got := f.Hits(testkit.JWKSPath); got != 2 {
		t.Errorf("got %d fetches within MinRefreshInterval, want 2", got)
	}

	clock.Advance(time.Second)
	flood(func(i int) string { return "still-unknown" })
	if got := f.Hits(testkit.JWKSPath); got != 3 {
		t.Errorf("got %d fetches after MinRefreshInterval, want 3", got)
	}
}

// TestRefreshForKIDHonoursCallerContext: a caller whose request is gone
// returns at once; the shared fetch still completes for the others. The
// issuer holds the fetch until the caller has returned, so the caller
// cannot have waited for it (a caller that did would only return when the
// 10s safety release fires).
func TestRefreshForKIDHonoursCallerContext(t *testing.T) {
	f, c, _, _ := issuerWith(t, "k1", Options{})
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	var first sync.Once
	f.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		first.Do(func() { close(arrived) })
		<-release
		return false // then the key set answers
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-arrived // the fetch is at the issuer: the request goes away
		cancel()
	}()
	safety := time.AfterFunc(10*time.Second, unblock)
	defer safety.Stop()

	_, err := c.RefreshForKID(ctx, "k1")
	select {
	case <-release:
		t.Fatal("RefreshForKID returned only once the fetch was released: the cancelled caller waited for it")
	default:
	}
	if !errors.Is(err, reason.ErrKeysUnavailable) {
		t.Errorf("got %v, want ErrKeysUnavailable while the fetch is in flight", err)
	}
	unblock()
	waitFor(t, "the shared fetch to finish", 5*time.Second, c.Ready)
}

func TestStaleSetServesUntilMaxStale(t *testing.T) {
	f, c, clock, obs := issuerWith(t, "k1", Options{MaxStale: time.Hour})
	ctx := context.Background()
	if _, err := c.RefreshForKID(ctx, "k1"); err != nil {
		t.Fatalf("initial fetch: %v", err)
	}
	f.SetFault(testkit.ErrorFault(http.StatusInternalServerError))

	clock.Advance(40 * time.Minute)
	s, err := c.RefreshForKID(ctx, "k2")
	if err != nil {
		t.Fatalf("RefreshForKID while failing: %v", err)
	}
	if got := kidsOf(s); !slices.Equal(got, []string{"k1"}) {
		t.Errorf("got kids %q, want the old set", got)
	}
	if res, n := obs.last(); res != ResultError || n != 1 {
		t.Errorf("got observe (%q, %d), want (%q, 1)", res, n, ResultError)
	}
	if got := c.Status().LastError; !strings.Contains(got, "unexpected status 500") {
		t.Errorf("got LastError %q, want the status code", got)
	}

	clock.Advance(20 * time.Minute) // exactly MaxStale: still served
	if _, err := c.Keys(); err != nil {
		t.Fatalf("Keys at MaxStale: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := c.Keys(); !errors.Is(err, reason.ErrKeysUnavailable) {
		t.Fatalf("got %v past MaxStale, want ErrKeysUnavailable", err)
	}
	if c.Ready() {
		t.Error("ready with a stale set")
	}
	if got := c.Status().Keys; got != 1 {
		t.Errorf("got Status.Keys %d, want 1 (the stale set is kept)", got)
	}

	f.SetFault(nil)
	if _, err := c.RefreshForKID(ctx, "k1"); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestFailedFetchesKeepPreviousSet(t *testing.T) {
	k := keys(t)
	tests := []struct {
		name    string
		body    []byte
		wantErr string
	}{
		{"empty set", []byte(`{"keys":[]}`), "no usable signing keys"},
		{"only a symmetric key", jwksJSON(t, jwkJSON(t, []byte("0123456789abcdef0123456789abcdef"), nil)), "no usable signing keys"},
		{"not a key set", []byte(`<html>oops</html>`), "decode key set"},
		{"oversized", append(jwksJSON(t, jwkJSON(t, &k.ec.PublicKey, map[string]any{"kid": "big"})),
			strings.Repeat(" ", maxBody)...), "exceeds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, c, clock, obs := issuerWith(t, "k1", Options{})
			ctx := context.Background()
			if _, err := c.RefreshForKID(ctx, "k1"); err != nil {
				t.Fatalf("initial fetch: %v", err)
			}
			f.SetJWKS(tc.body)
			clock.Advance(c.o.MinRefreshInterval)
			s, err := c.RefreshForKID(ctx, "big")
			if err != nil {
				t.Fatalf("RefreshForKID: %v", err)
			}
			if got := kidsOf(s); !slices.Equal(got, []string{"k1"}) {
				t.Errorf("got kids %q, want the previous set", got)
			}
			if res, _ := obs.last(); res != ResultError {
				t.Errorf("got observe %q, want %q", res, ResultError)
			}
			if got := c.Status().LastError; !strings.Contains(got, tc.wantErr) {
				t.Errorf("got LastError %q, want it to contain %q", got, tc.wantErr)
			}
		})
	}
}

func TestBodyLimitBoundary(t *testing.T) {
	k := keys(t)
	doc := jwksJSON(t, jwkJSON(t, &k.ec.PublicKey, map[string]any{"kid": "ec"}))
	tests := []struct {
		name   string
		size   int
		wantOK bool
	}{
		{"exactly 1 MiB", maxBody, true},
		{"1 MiB and a byte", maxBody + 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := append(append([]byte{}, doc...), strings.Repeat(" ", tc.size-len(doc))...)
			f := testkit.NewIssuer(t)
			f.SetJWKS(body)
			c := newTestCache(t, Options{JWKSURL: f.JWKSURL()})
			_, err := c.RefreshForKID(context.Background(), "ec")
			if (err == nil) != tc.wantOK {
				t.Errorf("got error %v, want ok=%v", err, tc.wantOK)
			}
		})
	}
}

func TestETagNotModified(t *testing.T) {
	f, c, clock, obs := issuerWith(t, "k1", Options{MaxStale: time.Hour})
	f.SetETag(`"v1"`)
	ctx := context.Background()
	first, err := c.RefreshForKID(ctx, "k1")
	if err != nil {
		t.Fatalf("initial fetch: %v", err)
	}
	if inm := f.LastHeader(testkit.JWKSPath).Get("If-None-Match"); inm != "" {
		t.Errorf("got If-None-Match %q on the first fetch, want none", inm)
	}

	clock.Advance(50 * time.Minute)
	s, err := c.RefreshForKID(ctx, "k2")
	if err != nil {
		t.Fatalf("conditional fetch: %v", err)
	}
	if inm := f.LastHeader(testkit.JWKSPath).Get("If-None-Match"); inm != `"v1"` {
		t.Errorf("got If-None-Match %q, want %q", inm, `"v1"`)
	}
	if res, n := obs.last(); res != ResultNotModified || n != 1 {
		t.Errorf("got observe (%q, %d), want (%q, 1)", res, n, ResultNotModified)
	}
	if !slices.Equal(kidsOf(s), kidsOf(first)) || s == first {
		t.Errorf("got kids %q (same snapshot: %v), want the same keys in a new snapshot", kidsOf(s), s == first)
	}
	if !s.Fetched.Equal(clock.Now()) {
		t.Errorf("got Fetched %v, want %v", s.Fetched, clock.Now())
	}
	// 304 counts as a good refresh: the set is not stale 50m later, although
	// its keys were first fetched 100m ago.
	clock.Advance(50 * time.Minute)
	if _, err := c.Keys(); err != nil {
		t.Errorf("Keys after 304: %v", err)
	}
	if got := c.Status().LastSuccess; !got.Equal(s.Fetched) {
		t.Errorf("got LastSuccess %v, want %v", got, s.Fetched)
	}
}

func TestRefreshScheduleFromCacheControl(t *testing.T) {
	tests := []struct {
		name         string
		cacheControl string
		want         time.Duration
	}{
		{"no header", "", 15 * time.Minute},
		{"max-age inside bounds", "public, max-age=300", 5 * time.Minute},
		{"max-age below min", "max-age=5", 30 * time.Second},
		{"max-age above refresh_interval", "max-age=86400", 15 * time.Minute},
		{"no-cache", "no-cache", 30 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, c, clock, _ := issuerWith(t, "k1", Options{})
			f.SetCacheControl(tc.cacheControl)
			if _, err := c.RefreshForKID(context.Background(), "k1"); err != nil {
				t.Fatal(err)
			}
			if got := c.Status().NextRefresh.Sub(clock.Now()); got != tc.want {
				t.Errorf("got next refresh in %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRefreshAfter(t *testing.T) {
	lo, hi := 30*time.Second, 15*time.Minute
	tests := []struct {
		name   string
		values []string
		want   time.Duration
	}{
		{"absent", nil, hi},
		{"max-age", []string{"max-age=120"}, 2 * time.Minute},
		{"case and spaces", []string{"Public , MAX-AGE = 120"}, 2 * time.Minute},
		{"quoted", []string{`max-age="120"`}, 2 * time.Minute},
		{"clamped low", []string{"max-age=0"}, lo},
		{"clamped high", []string{"max-age=99999999999999"}, hi},
		{"negative ignored", []string{"max-age=-5"}, hi},
		{"garbage ignored", []string{"max-age=soon"}, hi},
		{"no-store", []string{"no-store"}, lo},
		{"second header line", []string{"public", "max-age=60"}, time.Minute},
		{"s-maxage is for shared caches", []string{"s-maxage=60"}, hi},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.values {
				h.Add("Cache-Control", v)
			}
			if got := refreshAfter(h, lo, hi); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	c := newTestCache(t, Options{JWKSURL: "https://x.test/k", RefreshInterval: 10 * time.Minute, MinRefreshInterval: 20 * time.Second})
	now := time.Now()
	tests := []struct {
		name     string
		failures int
		haveSet  bool
		age      time.Duration // of the set, when there is one (MaxStale is 24h)
		lo, hi   time.Duration
	}{
		{"first retry", 1, false, 0, 500 * time.Millisecond, time.Second},
		{"third retry", 3, false, 0, 2 * time.Second, 4 * time.Second},
		{"capped at a minute without a set", 30, false, 0, 30 * time.Second, time.Minute},
		{"huge count does not overflow", 1000, false, 0, 30 * time.Second, time.Minute},
		{"never below min with a set", 1, true, time.Hour, 20 * time.Second, 20 * time.Second},
		{"capped at refresh_interval with a set", 30, true, time.Hour, 5 * time.Minute, 10 * time.Minute},
		{"capped at a minute when the set is stale before then", 30, true, 23*time.Hour + 55*time.Minute, 30 * time.Second, time.Minute},
		{"capped at a minute with a stale set", 30, true, 25 * time.Hour, 30 * time.Second, time.Minute},
		{"never below min with a stale set", 1, true, 25 * time.Hour, 20 * time.Second, 20 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var prev *Set
			if tc.haveSet {
				prev = newSet(nil, now.Add(-tc.age))
			}
			for range 50 {
				if got := c.retryAfter(tc.failures, prev, now); got < tc.lo || got > tc.hi {
					t.Fatalf("got %s, want within [%s, %s]", got, tc.lo, tc.hi)
				}
			}
		})
	}
}

// TestRetrySoonOnceTheSetGoesStale: while refreshes fail, retries back off
// towards RefreshInterval; once the last good set is stale, or will be
// before such a retry, they are at most maxInitialBackoff apart, as for a
// cache that never had keys.
//
// Regression: the ceiling was RefreshInterval whenever any set existed,
// stale or not, so after a long issuer outage a gateway kept answering 503
// for up to refresh_interval (15m by default) after the issuer came back.
func TestRetrySoonOnceTheSetGoesStale(t *testing.T) {
	f, c, clock, _ := issuerWith(t, "k1", Options{RefreshInterval: time.Hour, MaxStale: 3 * time.Hour})
	ctx := context.Background()
	if _, err := c.RefreshForKID(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	f.SetFault(testkit.ErrorFault(http.StatusInternalServerError))
	start := clock.Now()
	for _, tc := range []struct {
		name   string
		age    time.Duration // of the last good set at the failed fetch
		lo, hi time.Duration // of the next retry's delay
	}{
		{"fresh: paced by refresh_interval", time.Hour, 30 * time.Minute, time.Hour},
		{"stale within a refresh_interval", 150 * time.Minute, c.o.MinRefreshInterval, maxInitialBackoff},
		{"stale", 4 * time.Hour, c.o.MinRefreshInterval, maxInitialBackoff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.mu.Lock()
			c.failures = 40 // a long outage: the backoff is at its ceiling
			c.mu.Unlock()
			clock.Advance(start.Add(tc.age).Sub(clock.Now()))
			if _, err := c.RefreshForKID(ctx, "k2"); err != nil && !errors.Is(err, reason.ErrKeysUnavailable) {
				t.Fatal(err)
			}
			if res := c.Status(); !res.LastAttempt.Equal(clock.Now()) || res.LastError == "" {
				t.Fatalf("got status %+v, want a failed fetch now", res)
			}
			if got := c.Status().NextRefresh.Sub(clock.Now()); got < tc.lo || got > tc.hi {
				t.Errorf("got the next retry in %s, want within [%s, %s]", got, tc.lo, tc.hi)
			}
		})
	}
}

// TestSeed: a new cache seeded from an old one serves the old keys, aged
// from when the old cache fetched them, until its own first fetch; a cache
// that has a set of its own ignores the seed.
func TestSeed(t *testing.T) {
	is := testkit.NewIssuer(t)
	clk := testkit.NewClock(time.Unix(1_700_000_000, 0))
	o := Options{Issuer: is.URL, Now: clk.Now, MaxStale: time.Hour, RefreshInterval: time.Minute}
	old, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.RefreshForKID(context.Background(), "k1"); err != nil {
		t.Fatal(err)
	}
	o.RefreshInterval = 2 * time.Minute
	fresh, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Ready() {
		t.Fatal("a new cache is ready before any fetch")
	}
	fresh.Seed(old)
	s, err := fresh.Keys()
	if err != nil || !s.HasKID("k1") {
		t.Fatalf("seeded cache: got %v, %v; want the old set with k1", s, err)
	}
	if got, want := fresh.Status().LastSuccess, old.Status().LastSuccess; !got.Equal(want) {
		t.Errorf("LastSuccess: got %v, want the old cache's %v", got, want)
	}
	clk.Advance(2 * time.Hour)
	if fresh.Ready() {
		t.Error("a seeded set older than max_stale still serves: its age must count from the old fetch")
	}

	other, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	is.SetKeys(testkit.NewECKey(t, "k2"))
	if _, err := other.RefreshForKID(context.Background(), "k2"); err != nil {
		t.Fatal(err)
	}
	other.Seed(old)
	if s, _ := other.Keys(); s == nil || !s.HasKID("k2") {
		t.Error("Seed replaced a set the cache had fetched itself")
	}
}
