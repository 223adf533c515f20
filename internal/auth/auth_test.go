package auth_test

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/authgate/authgate/internal/auth"
	"github.com/authgate/authgate/internal/demo"
	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/verify"
	"github.com/authgate/authgate/jwks"
	"github.com/authgate/authgate/policy"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fixture is a real issuer (discovery and JWKS on loopback) whose key set a
// cache has fetched once, and a token minter for it.
type fixture struct {
	is *demo.Issuer
	v  *verify.Verifier
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	is, err := demo.NewIssuer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = is.Close() })
	cache, err := jwks.New(jwks.Options{Issuer: is.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cache.RefreshForKID(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	vi, err := verify.NewIssuer(verify.IssuerOptions{Name: "demo", Issuer: is.URL, Audiences: []string{"api"}, Keys: cache})
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New([]*verify.Issuer{vi}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{is: is, v: v}
}

func (f *fixture) token(t *testing.T, claims map[string]any, life time.Duration) string {
	t.Helper()
	c := map[string]any{"sub": "alice", "aud": "api"}
	for k, v := range claims {
		c[k] = v
	}
	tok, err := f.is.Token(c, life)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *fixture) authenticator(t *testing.T, rules policy.Rules) *auth.Authenticator {
	t.Helper()
	p, err := policy.New(rules)
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(f.v, p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func bearer(token string) auth.Request {
	return auth.Request{Scheme: auth.SchemeBearer, Credentials: token, Method: "GET", URL: &url.URL{Path: "/"}}
}

// TestAuthenticate checks that each outcome is one value: the identity or
// the refusal, with the reason, issuer and subject the log needs.
func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	a := f.authenticator(t, policy.Rules{Scopes: []string{"read"}})
	for _, tc := range []struct {
		name    string
		req     auth.Request
		reason  reason.Reason
		issuer  string
		subject string
		logText string // the start of Err's text, "" when allowed
	}{
		{"allowed", bearer(f.token(t, map[string]any{"scope": "read write"}, time.Hour)), reason.OK, "demo", "alice", ""},
		{"policy refusal names issuer and subject", bearer(f.token(t, map[string]any{"scope": "write"}, time.Hour)),
			reason.InsufficientScope, "demo", "alice", "issuer demo: the token does not grant the required scope: scopes: all of [read]"},
		// Kinde grants permissions in a claim the default scope_claims do
		// not read: the log line says where scopes were read and where the
		// missing one is.
		{"kinde permissions hint", bearer(f.token(t, map[string]any{"scope": "openid profile", "permissions": []string{"read", "write"}}, time.Hour)),
			reason.InsufficientScope, "demo", "alice", `issuer demo: the token does not grant the required scope: scopes: all of [read]: missing scope read; scopes read from scope, scp (scope: "openid profile"); permissions holds read: set scope_claims: [permissions]`},
		{"verification failure names the issuer", bearer(f.token(t, map[string]any{"scope": "read"}, -time.Minute)),
			reason.Expired, "demo", "", "issuer demo: the token has expired"},
		{"no issuer before one is selected", bearer("abc.def"), reason.Malformed, "", "", "the token is not a well-formed signed JWT"},
		{"other scheme", auth.Request{Scheme: "Basic", Credentials: "dXNlcg=="}, reason.Malformed, "", "",
			"the token is not a well-formed signed JWT: the credentials are not of the Bearer scheme"},
		{"scheme is case-insensitive", auth.Request{Scheme: "bearer", Credentials: f.token(t, map[string]any{"scope": "read"}, time.Hour)},
			reason.OK, "demo", "alice", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := a.Authenticate(t.Context(), tc.req)
			if got := res.Reason(); got != tc.reason {
				t.Errorf("reason: got %q (%v), want %q", got, res.Err, tc.reason)
			}
			if res.Issuer != tc.issuer || res.Subject != tc.subject {
				t.Errorf("issuer, subject: got %q, %q, want %q, %q", res.Issuer, res.Subject, tc.issuer, tc.subject)
			}
			if (res.Identity == nil) == (res.Err == nil) {
				t.Fatalf("got identity %v and error %v, want exactly one", res.Identity, res.Err)
			}
			if tc.logText == "" {
				if res.Identity.Issuer != tc.issuer || res.Identity.Subject != tc.subject {
					t.Errorf("identity: got %+v", res.Identity)
				}
				return
			}
			if !strings.HasPrefix(res.Err.Error(), tc.logText) {
				t.Errorf("error: got %q, want it to start with %q", res.Err, tc.logText)
			}
			var ve *verify.Error
			if errors.As(res.Err, &ve) != (tc.issuer != "") || ve != nil && ve.Issuer != tc.issuer {
				t.Errorf("error: got %#v, want a *verify.Error exactly when the issuer is known", res.Err)
			}
		})
	}
}

// TestAuthenticateTrace: with a trace, the policy's requirements follow the
// verification steps, one step each, shown for information after a failure.
func TestAuthenticateTrace(t *testing.T) {
	f := newFixture(t)
	scoped := f.authenticator(t, policy.Rules{Scopes: []string{"read"}, Claims: map[string]any{"org": "acme"}})
	open := f.authenticator(t, policy.Rules{})
	for _, tc := range []struct {
		name  string
		a     *auth.Authenticator
		token string
		want  []string // the steps after verification's
	}{
		{"verified", scoped, f.token(t, map[string]any{"scope": "read", "org": "acme"}, time.Hour),
			[]string{`7 policy ok scopes: all of [read]`, `7 policy ok claims["org"]: "acme"`}},
		{"policy refuses", scoped, f.token(t, map[string]any{"scope": "write", "org": "acme"}, time.Hour),
			[]string{`7 policy FAIL scopes: all of [read]: missing scope read; scopes read from scope, scp (scope: "write")`, `7 policy ok claims["org"]: "acme"`}},
		{"kinde permissions", scoped, f.token(t, map[string]any{"scope": "openid profile", "permissions": []string{"read"}, "org": "acme"}, time.Hour),
			[]string{`7 policy FAIL scopes: all of [read]: missing scope read; scopes read from scope, scp (scope: "openid profile"); permissions holds read: set scope_claims: [permissions]`, `7 policy ok claims["org"]: "acme"`}},
		{"after a verification failure", scoped, f.token(t, map[string]any{"scope": "read"}, -time.Minute),
			[]string{`7 policy ok after scopes: all of [read]`, `7 policy FAIL after claims["org"]: "acme": claim absent`}},
		{"no requirements", open, f.token(t, nil, time.Hour),
			[]string{`7 policy ok the route has no requirements: any verified token passes`}},
		{"no issuer, no policy steps", scoped, "abc.def", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &verify.Trace{}
			req := bearer(tc.token)
			req.Trace = tr
			tc.a.Authenticate(t.Context(), req)
			var got []string
			for _, s := range tr.Steps {
				if s.Stage != 7 {
					continue
				}
				mark := "ok"
				if !s.OK {
					mark = "FAIL"
				}
				if s.After {
					mark += " after"
				}
				got = append(got, fmt.Sprintf("%d %s %s %s", s.Stage, s.Name, mark, s.Detail))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("policy steps:\ngot  %q\nwant %q", got, tc.want)
			}
			if len(tr.Steps) == 0 || tr.Steps[0].Stage != 2 {
				t.Errorf("steps: got %+v, want verification's first", tr.Steps)
			}
		})
	}
}

// TestTypedClaimMismatch: a claim holding the rule's value with another
// JSON type is refused (docs/reference.md §3.4), and the log line says which types.
func TestTypedClaimMismatch(t *testing.T) {
	f := newFixture(t)
	a := f.authenticator(t, policy.Rules{Claims: map[string]any{"is_paid": true}})
	res := a.Authenticate(t.Context(), bearer(f.token(t, map[string]any{"is_paid": "true"}, time.Hour)))
	want := `claims["is_paid"]: true: claim value does not match: the token holds the string "true", the rule wants the boolean true`
	if res.Reason() != reason.ClaimMismatch || !strings.HasSuffix(res.Err.Error(), want) {
		t.Errorf("got %v, want claim_mismatch ending in %q", res.Err, want)
	}
}

func TestNew(t *testing.T) {
	f := newFixture(t)
	p, err := policy.New(policy.Rules{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.New(nil, p); err == nil {
		t.Errorf("nil verifier: got no error")
	}
	if _, err := auth.New(f.v, nil); err == nil {
		t.Errorf("nil policy: got no error")
	}
	a, err := auth.New(f.v, p)
	if err != nil || a.Verifier() != f.v || a.Policy() != p {
		t.Errorf("got %v, %v, want the verifier and policy given", a, err)
	}
}
