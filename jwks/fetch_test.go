package jwks

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/testkit"
)

// TestRedirectMustNotLeaveHTTPS: an https discovery document or key set
// that redirects to plain http fails the fetch, as an https issuer's http
// jwks_uri does: on the plain leg anyone on the path could substitute it.
//
// Regression: the HTTP client followed such redirects and used what the
// plain response said: the keys of a redirected key set, or the jwks_uri
// of a redirected discovery document, which could send the cache to any
// https host for its keys.
func TestRedirectMustNotLeaveHTTPS(t *testing.T) {
	for _, tc := range []struct {
		name string
		path string // redirected to the plain side's same path
	}{
		{"key set", testkit.JWKSPath},
		{"discovery", testkit.DiscoveryPath},
		{"key set, via http and back to https", "/bounce"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The plain side, as an attacker on the path would answer: a
			// good key set, and a document naming the https issuer with a
			// jwks_uri of the attacker's choosing (over valid https).
			plain := testkit.NewIssuer(t)
			// The https issuer redirects tc.path to the plain side and
			// serves the plain side's keys at the jwks_uri it chose.
			tlsIs := testkit.NewTLSIssuer(t, plain.Keys()...)
			plain.SetDiscoveryIssuer(tlsIs.URL)
			plain.SetDiscoveryJWKSURI(tlsIs.URL + "/chosen-keys")
			plain.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/bounce" {
					return false
				}
				http.Redirect(w, r, tlsIs.URL+"/chosen-keys", http.StatusFound)
				return true
			})
			tlsIs.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
				switch r.URL.Path {
				case tc.path:
					http.Redirect(w, r, plain.URL+r.URL.Path, http.StatusFound)
				case "/chosen-keys":
					_, _ = w.Write(testkit.JWKSet(t, plain.Keys()...))
				default:
					http.NotFound(w, r)
				}
				return true
			})
			o := Options{Issuer: tlsIs.URL, Client: tlsIs.Client()}
			if tc.path != testkit.DiscoveryPath {
				o.JWKSURL = tlsIs.URL + tc.path
			}
			c := newTestCache(t, o)
			if _, err := c.RefreshForKID(context.Background(), "k1"); !errors.Is(err, reason.ErrKeysUnavailable) {
				t.Fatalf("got %v, want ErrKeysUnavailable", err)
			}
			if got := c.Status().LastError; !strings.Contains(got, "redirected to "+plain.URL+tc.path+", not https") {
				t.Errorf("got LastError %q, want it to name the redirect to http", got)
			}
		})
	}
}
