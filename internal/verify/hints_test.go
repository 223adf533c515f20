package verify

import (
	"context"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/reason"
)

func TestNearMiss(t *testing.T) {
	for _, tc := range []struct {
		name, iss, configured, want string
	}{
		{"equal", "https://x.kinde.com", "https://x.kinde.com", ""},
		{"trailing slash on the issuer", "https://x.kinde.com", "https://x.kinde.com/", "a trailing slash"},
		{"trailing slash on iss", "https://x.kinde.com/", "https://x.kinde.com", "a trailing slash"},
		{"scheme", "http://x.kinde.com", "https://x.kinde.com", "the scheme (http, https)"},
		{"case", "https://X.Kinde.com", "https://x.kinde.com", "case"},
		{"scheme case only", "HTTPS://x.kinde.com", "https://x.kinde.com", "case"},
		{"all three", "HTTP://X.kinde.com/", "https://x.kinde.com", "a trailing slash, the scheme (http, https) and case"},
		{"other host", "https://y.kinde.com", "https://x.kinde.com", ""},
		{"other path", "https://x.kinde.com/a", "https://x.kinde.com/b", ""},
		{"both slashed, other host", "https://y/", "https://x/", ""},
		{"not a URL, case", "Issuer", "issuer", "case"},
		{"empty", "", "https://x", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nearMiss(tc.iss, tc.configured); got != tc.want {
				t.Errorf("nearMiss(%q, %q): got %q, want %q", tc.iss, tc.configured, got, tc.want)
			}
		})
	}
}

// TestIssuerHints: an iss that misses a configured issuer by a slash, the
// scheme or case is still refused (no normalisation), and the refusal names
// both values and the fix; other refusals quote iss, bounded.
func TestIssuerHints(t *testing.T) {
	f := newFixture(t)
	rs := func(iss any) string {
		return sign(t, "RS256", f.k.rsa, map[string]any{"kid": "rsa1"}, claims(issMain, map[string]any{"iss": iss}))
	}
	long := "https://evil.example/" + strings.Repeat("a", 500)
	for _, tc := range []struct {
		name, token, want string
	}{
		{"trailing slash", rs(issMain + "/"), `iss "https://issuer.example/" differs from issuer "https://issuer.example" of issuer main only by a trailing slash: write issuer: https://issuer.example/`},
		{"scheme", rs("http://issuer.example"), `iss "http://issuer.example" differs from issuer "https://issuer.example" of issuer main only by the scheme (http, https): write issuer: http://issuer.example`},
		{"case", rs("https://Issuer.example"), `iss "https://Issuer.example" differs from issuer "https://issuer.example" of issuer main only by case: write issuer: https://Issuer.example`},
		{"other", rs("https://evil.example"), `iss "https://evil.example" is not one of the route's issuers`},
		{"long, cut", rs(long), `iss "` + long[:maxQuoted] + `"… is not one of the route's issuers`},
		{"not a string", rs(7), "iss is not a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.all.Verify(context.Background(), tc.token)
			if reason.Of(err) != reason.UntrustedIssuer {
				t.Fatalf("got %v, want untrusted_issuer", err)
			}
			if !strings.HasSuffix(err.Error(), ": "+tc.want) {
				t.Errorf("got %q, want it to end in %q", err.Error(), tc.want)
			}
			_, tr, _ := explain(context.Background(), f.all, tc.token)
			if d := tr.Steps[1].Detail; !strings.Contains(d, tc.want) || !strings.Contains(d, "the route accepts https://") {
				t.Errorf("issuer step: got %q, want it to hold %q and the accepted issuers", d, tc.want)
			}
		})
	}
}

// TestEmptyAudienceHint: Kinde issues "aud": [] when the client asked for
// no registered API; the refusal says so and how to fix it.
func TestEmptyAudienceHint(t *testing.T) {
	f := newFixture(t)
	tok := sign(t, "RS256", f.k.rsa, map[string]any{"kid": "rsa1"}, claims(issMain, map[string]any{"aud": []any{}}))
	_, err := f.all.Verify(context.Background(), tok)
	if reason.Of(err) != reason.BadAudience || !strings.HasSuffix(err.Error(), EmptyAudienceHint) {
		t.Errorf("got %v, want bad_audience ending in the hint", err)
	}
	_, tr, _ := explain(context.Background(), f.all, tok)
	for _, s := range tr.Steps {
		if s.Name == StepAudience {
			if want := EmptyAudienceHint + "; the issuer's audiences: api"; !strings.HasSuffix(s.Detail, want) {
				t.Errorf("aud step: got %q, want it to end in %q", s.Detail, want)
			}
			return
		}
	}
	t.Error("no aud step")
}

func TestScopeClaims(t *testing.T) {
	f := newFixture(t)
	if got := strings.Join(f.all.ScopeClaims("main"), ","); got != "scope,scp" {
		t.Errorf("main: got %q, want scope,scp", got)
	}
	if got := f.all.ScopeClaims("nope"); got != nil {
		t.Errorf("unknown issuer: got %q, want nil", got)
	}
}
