package jwks

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/testkit"
)

// startRun runs c.Run until the test ends and checks that it returns nil.
func startRun(t *testing.T, c *Cache) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
}

// TestRunIssuerDownAtStart: with the issuer down the cache is not ready and
// says why; Run keeps retrying and picks the keys up once the issuer is back.
func TestRunIssuerDownAtStart(t *testing.T) {
	f := testkit.NewIssuer(t, signer("ec1", "ES256", keys(t).ec))
	f.SetFault(testkit.ErrorFault(http.StatusServiceUnavailable, testkit.DiscoveryPath))
	obs := &observations{}
	c := newTestCache(t, Options{Issuer: f.URL, Observe: obs.observe})
	c.backoff = 5 * time.Millisecond // production default stays 1s
	startRun(t, c)

	waitFor(t, "two failed attempts", 5*time.Second, func() bool { return f.Hits(testkit.DiscoveryPath) >= 2 })
	if _, err := c.Keys(); !errors.Is(err, reason.ErrKeysUnavailable) {
		t.Fatalf("got %v, want ErrKeysUnavailable", err)
	}
	if c.Ready() {
		t.Fatal("ready while the issuer is down")
	}
	if got := c.Status().LastError; !strings.Contains(got, "unexpected status 503") {
		t.Errorf("got LastError %q, want the 503", got)
	}
	if res, _ := obs.last(); res != ResultError {
		t.Errorf("got observe %q, want %q", res, ResultError)
	}

	f.SetFault(nil)
	waitFor(t, "keys after the issuer came up", 5*time.Second, c.Ready)
	if st := c.Status(); st.Keys != 1 || st.LastError != "" {
		t.Errorf("got status %+v, want 1 key and no error", st)
	}
}

// TestRunRefreshesPeriodically: Run refetches on its schedule, and a
// max-age longer than refresh_interval does not delay it.
func TestRunRefreshesPeriodically(t *testing.T) {
	k := keys(t)
	f := testkit.NewIssuer(t, signer("ec1", "ES256", k.ec))
	f.SetCacheControl("max-age=3600")
	c := newTestCache(t, Options{
		JWKSURL:            f.JWKSURL(),
		RefreshInterval:    30 * time.Millisecond,
		MinRefreshInterval: 10 * time.Millisecond,
		MaxStale:           time.Minute,
	})
	startRun(t, c)
	waitFor(t, "three fetches", 5*time.Second, func() bool { return f.Hits(testkit.JWKSPath) >= 3 })

	// The rotated key is picked up by the periodic refresh alone.
	f.SetKeys(signer("ed1", "EdDSA", k.ed))
	waitFor(t, "the rotated key", 5*time.Second, func() bool {
		s, err := c.Keys()
		return err == nil && s.HasKID("ed1")
	})
}

// TestRunPacedByOnDemandFetches: an on-demand fetch sets Run's schedule, so
// the two together stay within one fetch per MinRefreshInterval.
func TestRunPacedByOnDemandFetches(t *testing.T) {
	f := testkit.NewIssuer(t, signer("ec1", "ES256", keys(t).ec))
	c := newTestCache(t, Options{
		JWKSURL:            f.JWKSURL(),
		RefreshInterval:    time.Hour,
		MinRefreshInterval: time.Hour,
		MaxStale:           2 * time.Hour,
	})
	if _, err := c.RefreshForKID(context.Background(), "ec1"); err != nil {
		t.Fatal(err)
	}
	startRun(t, c)
	// Nothing to wait for: the test gives a wrong immediate fetch time to
	// show. Run's timers are on the wall clock; the schedule itself (an
	// hour away) is not what the sleep waits for.
	time.Sleep(200 * time.Millisecond)
	if got := f.Hits(testkit.JWKSPath); got != 1 {
		t.Errorf("got %d fetches, want 1: Run must not refetch what was just fetched", got)
	}
}

func TestRunTwiceIsRefused(t *testing.T) {
	c := newTestCache(t, Options{JWKSURL: "http://127.0.0.1:1/keys"})
	c.backoff = time.Hour
	startRun(t, c)
	waitFor(t, "Run to start", 5*time.Second, func() bool { return c.running.Load() })
	if err := c.Run(context.Background()); err == nil {
		t.Error("got nil from a second concurrent Run, want an error")
	}
}

// TestErrorsAndLogsHideSecrets: a key set URL may carry credentials in its
// user info or query; neither may reach Status or the logs.
func TestErrorsAndLogsHideSecrets(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	t.Cleanup(failing.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name    string
		url     string
		wantErr string
	}{
		// A configured URL cannot hold user information (New refuses it;
		// see TestNewValidation), so only the query carries a secret.
		{"status error", failing.URL + "/keys?token=SECRET", "unexpected status 403"},
		{"connection refused", closedURL + "/keys?token=SECRET", "GET " + closedURL + "/keys: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log, logs := newTestLogger()
			c := newTestCache(t, Options{JWKSURL: tc.url, Logger: log})
			_, err := c.RefreshForKID(context.Background(), "k")
			st := c.Status()
			for _, s := range []string{err.Error(), st.LastError, st.URL, logs.String()} {
				if strings.Contains(s, "SECRET") || strings.Contains(s, "PASSWORD") {
					t.Errorf("got %q, want no secret in it", s)
				}
			}
			if !strings.Contains(st.LastError, tc.wantErr) {
				t.Errorf("got LastError %q, want it to contain %q", st.LastError, tc.wantErr)
			}
		})
	}
}
