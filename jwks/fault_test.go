package jwks

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/testkit"
)

// Faults of the issuer's endpoints, injected through testkit.Issuer. Gateway
// level cases (status codes, /readyz) are in internal/gateway/fault_test.go.

// onJWKS installs f as a fault of the key set endpoint only.
func onJWKS(is *testkit.Issuer, f func(w http.ResponseWriter, r *http.Request)) {
	is.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != testkit.JWKSPath {
			return false
		}
		f(w, r)
		return true
	})
}

// TestFetchFaults: each fault of the key set endpoint fails the fetch,
// before any key set (not ready, observed as an error with no keys) and
// after one (the previous set keeps serving), and the next fetch after the
// fault clears succeeds. Bodies the cache refuses after a good set (HTML,
// oversized, empty or symmetric-only sets) are in
// TestFailedFetchesKeepPreviousSet.
func TestFetchFaults(t *testing.T) {
	tests := []struct {
		name    string
		fault   func(is *testkit.Issuer)
		wantErr string // alternatives separated by "|"
	}{
		{"connection refused", func(is *testkit.Issuer) { is.SetDown(true) }, "connection refused"},
		{"hangs beyond the timeout", func(is *testkit.Issuer) {
			onJWKS(is, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		}, "exceeded"},
		{"reset before the response", func(is *testkit.Issuer) {
			onJWKS(is, func(w http.ResponseWriter, r *http.Request) { testkit.BreakConn(w, "", true) })
		}, "connection reset|EOF"},
		{"connection closed in the body", func(is *testkit.Issuer) {
			onJWKS(is, func(w http.ResponseWriter, r *http.Request) {
				testkit.BreakConn(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"keys\":[{\"kty\":", false)
			})
		}, "read body: unexpected EOF"},
		{"HTTP 500", func(is *testkit.Issuer) {
			onJWKS(is, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) })
		}, "unexpected status 500"},
		{"not JSON", func(is *testkit.Issuer) { is.SetJWKS([]byte("keys: k1\n")) }, "decode key set"},
		{"truncated JSON", func(is *testkit.Issuer) { is.SetJWKS([]byte(`{"keys":[{"kty":"EC","crv":"P-256"`)) }, "decode key set"},
		{"JSON null", func(is *testkit.Issuer) { is.SetJWKS([]byte("null")) }, `no "keys" member`},
		{"keys not an array", func(is *testkit.Issuer) { is.SetJWKS([]byte(`{"keys":{"kid":"k1"}}`)) }, "decode key set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := testkit.NewIssuer(t)
			clear := func() { is.SetFault(nil); is.SetJWKS(nil); is.SetDown(false) }
			clock := testkit.NewClock(clockStart)
			obs := &observations{}
			c := newTestCache(t, Options{JWKSURL: is.JWKSURL(), Timeout: 200 * time.Millisecond, Now: clock.Now, Observe: obs.observe})
			ctx := context.Background()
			check := func(phase string, wantKeys int) {
				t.Helper()
				if res, n := obs.last(); res != ResultError || n != wantKeys {
					t.Errorf("%s: got observe (%q, %d), want (%q, %d)", phase, res, n, ResultError, wantKeys)
				}
				got := c.Status().LastError
				if !slices.ContainsFunc(strings.Split(tc.wantErr, "|"), func(s string) bool { return strings.Contains(got, s) }) ||
					!strings.Contains(got, is.JWKSURL()) {
					t.Errorf("%s: got LastError %q, want it to name the URL and contain %q", phase, got, tc.wantErr)
				}
			}

			tc.fault(is)
			if _, err := c.RefreshForKID(ctx, "k1"); !errors.Is(err, reason.ErrKeysUnavailable) {
				t.Fatalf("at start: got %v, want ErrKeysUnavailable", err)
			}
			if c.Ready() {
				t.Error("at start: ready without keys")
			}
			check("at start", 0)

			clear()
			clock.Advance(c.o.MinRefreshInterval)
			if _, err := c.RefreshForKID(ctx, "k1"); err != nil {
				t.Fatalf("after the fault cleared: %v", err)
			}

			tc.fault(is)
			clock.Advance(c.o.MinRefreshInterval)
			s, err := c.RefreshForKID(ctx, "k2")
			if err != nil {
				t.Fatalf("with a previous set: %v", err)
			}
			if got := kidsOf(s); !slices.Equal(got, []string{"k1"}) {
				t.Errorf("with a previous set: got kids %q, want the previous set", got)
			}
			check("with a previous set", 1)

			clear()
			clock.Advance(c.o.MinRefreshInterval)
			if _, err := c.RefreshForKID(ctx, "k2"); err != nil {
				t.Fatalf("after the second fault cleared: %v", err)
			}
			if st := c.Status(); st.LastError != "" || !st.LastSuccess.Equal(clock.Now()) {
				t.Errorf("after the second fault cleared: got status %+v, want a success now", st)
			}
		})
	}
}

// TestDNSFailure: a host name that cannot resolve fails the fetch with the
// resolver's error; .invalid never resolves (RFC 6761 §6.4). Where the
// resolver answers at once this fails fast; where it hangs, Timeout bounds
// it like any other exchange.
func TestDNSFailure(t *testing.T) {
	// The transport must not hand the name to an HTTP proxy from the
	// environment, whose error would not be the resolver's.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	t.Cleanup(tr.CloseIdleConnections)
	for _, tc := range []struct {
		name string
		o    Options
		host string
	}{
		{"jwks_url", Options{JWKSURL: "http://keys.invalid/jwks"}, "keys.invalid"},
		{"discovery", Options{Issuer: "https://issuer.invalid"}, "issuer.invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Timeout = 2 * time.Second
			o.Client = &http.Client{Transport: tr, Timeout: o.Timeout}
			obs := &observations{}
			o.Observe = obs.observe
			c := newTestCache(t, o)
			err := c.attempt(context.Background(), false)
			var dnsErr *net.DNSError
			if !errors.As(err, &dnsErr) || dnsErr.Name != tc.host {
				t.Fatalf("got %v, want a DNS error for %q", err, tc.host)
			}
			if res, n := obs.last(); res != ResultError || n != 0 {
				t.Errorf("got observe (%q, %d), want (%q, 0)", res, n, ResultError)
			}
			if c.Ready() {
				t.Error("ready without keys")
			}
			if got := c.Status().LastError; !strings.Contains(got, tc.host) {
				t.Errorf("got LastError %q, want it to name %q", got, tc.host)
			}
		})
	}
}

// TestKeysWhileAFetchHangs: a fetch that hangs holds no lock that Keys, or
// RefreshForKID for a kid already in the set, would wait on: requests read an
// immutable snapshot.
func TestKeysWhileAFetchHangs(t *testing.T) {
	is := testkit.NewIssuer(t)
	clock := testkit.NewClock(clockStart)
	c := newTestCache(t, Options{JWKSURL: is.JWKSURL(), Now: clock.Now})
	ctx := context.Background()
	if _, err := c.RefreshForKID(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	hanging, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) })
	onJWKS(is, func(w http.ResponseWriter, r *http.Request) {
		close(hanging)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		http.Error(w, "late", http.StatusServiceUnavailable)
	})
	clock.Advance(c.o.MinRefreshInterval)
	fetched := make(chan error, 1)
	go func() { _, err := c.RefreshForKID(ctx, "k2"); fetched <- err }()
	<-hanging

	if s, err := c.Keys(); err != nil || !s.HasKID("k1") {
		t.Errorf("Keys while a fetch hangs: got (%v, %v), want the set with k1", kidsOf(s), err)
	}
	if s, err := c.RefreshForKID(ctx, "k1"); err != nil || !s.HasKID("k1") {
		t.Errorf("RefreshForKID(k1) while a fetch hangs: got (%v, %v), want the set with k1", kidsOf(s), err)
	}
	select {
	case err := <-fetched:
		t.Fatalf("the hanging fetch ended (%v) before the test released it: the checks above proved nothing", err)
	default:
	}
}
