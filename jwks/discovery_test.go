package jwks

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/testkit"
)

// TestDiscoveryIssuerMismatch: a discovery document whose issuer is not
// exactly the configured one is a failed fetch (OpenID Connect Discovery 1.0
// §4.3, RFC 8414 §3.3). Its jwks_uri is never fetched, whoever wrote it; the
// failure is logged at error level naming both values and observed as an
// error; once the document is right the next fetch recovers.
func TestDiscoveryIssuerMismatch(t *testing.T) {
	tests := []struct {
		name      string
		suffix    string                  // appended to the issuer's URL for Options.Issuer
		docIssuer func(url string) string // what the document names
		fixed     func(url string) string // what it names once repaired
	}{
		{"another issuer", "",
			func(string) string { return "https://evil.example" },
			func(u string) string { return u }},
		{"configured has a trailing slash, document not", "/",
			func(u string) string { return u },
			func(u string) string { return u + "/" }},
		{"document has a trailing slash, configured not", "",
			func(u string) string { return u + "/" },
			func(u string) string { return u }},
		{"case differs", "",
			func(u string) string { return strings.ToUpper(u) },
			func(u string) string { return u }},
		{"issuer missing from the document", "",
			func(string) string { return "" },
			func(u string) string { return u }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := testkit.NewIssuer(t)
			configured := is.URL + tc.suffix
			doc := tc.docIssuer(is.URL)
			is.SetDiscoveryIssuer(doc)
			log, logs := newTestLogger()
			clock := testkit.NewClock(clockStart)
			obs := &observations{}
			c := newTestCache(t, Options{Issuer: configured, Logger: log, Now: clock.Now, Observe: obs.observe})

			_, err := c.RefreshForKID(context.Background(), "k1")
			if !errors.Is(err, reason.ErrKeysUnavailable) {
				t.Fatalf("got %v, want ErrKeysUnavailable", err)
			}
			if c.Ready() {
				t.Error("ready after a discovery document for another issuer")
			}
			if got := is.Hits(testkit.JWKSPath); got != 0 {
				t.Errorf("got %d requests to the document's jwks_uri, want 0", got)
			}
			if res, n := obs.last(); res != ResultError || n != 0 {
				t.Errorf("got observe (%q, %d), want (%q, 0)", res, n, ResultError)
			}
			st := c.Status()
			for _, want := range []string{"discovery: GET " + is.URL + discoveryPath, `names issuer "` + doc + `"`, `configured "` + configured + `"`} {
				if !strings.Contains(st.LastError, want) {
					t.Errorf("got LastError %q, want it to contain %q", st.LastError, want)
				}
			}
			if st.URL != "" {
				t.Errorf("got Status.URL %q, want none: the document's jwks_uri is not adopted", st.URL)
			}
			if got := logLines(logs, "ERROR", "key set fetch failed", configured); len(got) != 1 {
				t.Errorf("got %d error lines naming the configured issuer, want 1; log:\n%s", len(got), logs)
			}
			if got := logLines(logs, "WARN"); len(got) != 0 {
				t.Errorf("got warnings %q, want the failure at error level only", got)
			}

			is.SetDiscoveryIssuer(tc.fixed(is.URL))
			clock.Advance(c.o.MinRefreshInterval)
			if _, err := c.RefreshForKID(context.Background(), "k1"); err != nil {
				t.Fatalf("after the document was fixed: %v", err)
			}
			if got := c.Status(); got.URL != is.JWKSURL() || got.LastError != "" {
				t.Errorf("got status %+v, want URL %q and no error", got, is.JWKSURL())
			}
		})
	}
}

// TestDiscoveryIssuerMismatchQuotesBoundedIssuer: the document's issuer is
// the issuer's to write, up to the body limit; the error quotes a bounded
// part of it.
func TestDiscoveryIssuerMismatchQuotesBoundedIssuer(t *testing.T) {
	is := testkit.NewIssuer(t)
	is.SetDiscoveryIssuer("https://x.example/" + strings.Repeat("a", 10000))
	c := newTestCache(t, Options{Issuer: is.URL})
	_, _ = c.RefreshForKID(context.Background(), "k1")
	if got := c.Status().LastError; len(got) > 1000 || !strings.Contains(got, "https://x.example/aaa") {
		t.Errorf("got LastError of %d bytes (%.80q…), want the issuer quoted, cut short", len(got), got)
	}
}

// TestRunRecoversFromIssuerMismatch: under Run, each retry is one failed
// fetch with one error line, the key set URL is never requested, and the
// first retry after the document is fixed brings the keys in.
func TestRunRecoversFromIssuerMismatch(t *testing.T) {
	is := testkit.NewIssuer(t)
	is.SetDiscoveryIssuer("https://evil.example")
	log, logs := newTestLogger()
	obs := &observations{}
	c := newTestCache(t, Options{Issuer: is.URL, Logger: log, Observe: obs.observe})
	c.backoff = 5 * time.Millisecond // production default stays 1s
	startRun(t, c)

	waitFor(t, "three failed discoveries", 5*time.Second, func() bool { return is.Hits(testkit.DiscoveryPath) >= 3 })
	if c.Ready() {
		t.Fatal("ready while the discovery document names another issuer")
	}
	is.SetDiscoveryIssuer(is.URL)
	waitFor(t, "keys after the document was fixed", 5*time.Second, c.Ready)

	obs.mu.Lock()
	results := slices.Clone(obs.calls)
	obs.mu.Unlock()
	failed := 0
	for _, r := range results {
		if r == ResultError {
			failed++
		}
	}
	if failed < 3 || results[len(results)-1] != ResultSuccess {
		t.Errorf("got observations %q, want at least 3 errors, then success", results)
	}
	if got := logLines(logs, "ERROR", `names issuer \"https://evil.example\"`); len(got) != failed {
		t.Errorf("got %d error lines for %d failed fetches, want one each; log:\n%s", len(got), failed, logs)
	}
	// Every key set request came after the fix: the evil document's
	// jwks_uri (the issuer's own here) was never used while it was wrong.
	if got := is.Hits(testkit.JWKSPath); got != 1 {
		t.Errorf("got %d key set requests, want 1 (after the fix)", got)
	}
}

// TestExplicitJWKSURLIgnoresDiscovery: with jwks_url set nothing is
// discovered, so what a discovery document would say does not matter.
func TestExplicitJWKSURLIgnoresDiscovery(t *testing.T) {
	is := testkit.NewIssuer(t)
	is.SetDiscoveryIssuer("https://evil.example")
	c := newTestCache(t, Options{Issuer: is.URL, JWKSURL: is.JWKSURL()})
	if _, err := c.RefreshForKID(context.Background(), "k1"); err != nil {
		t.Fatalf("RefreshForKID: %v", err)
	}
	if got := is.Hits(testkit.DiscoveryPath); got != 0 {
		t.Errorf("got %d discovery requests, want 0", got)
	}
}
