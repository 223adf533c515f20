package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/reason"
)

// TestTraceAgreesWithVerify: VerifyTrace runs Verify's code, so for every
// token it returns Verify's outcome, and its first failed step is the one
// that outcome names.
func TestTraceAgreesWithVerify(t *testing.T) {
	f := newFixture(t)
	k := f.k
	kid := func(id string) map[string]any { return map[string]any{"kid": id} }
	at := func(d time.Duration) int64 { return testNow.Add(d).Unix() }
	rs := func(c map[string]any) string { return sign(t, "RS256", k.rsa, kid("rsa1"), c) }
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		v     *Verifier
		token string
		want  reason.Reason
		step  string // the first failed step; "" when it verifies
	}{
		{"valid", nil, rs(claims(issMain, nil)), reason.OK, ""},
		{"valid without kid", nil, sign(t, "ES256", k.ec, nil, claims(issMain, nil)), reason.OK, ""},
		{"two parts", nil, "abc.def", reason.Malformed, StepFormat},
		{"JWE", nil, enc(`{"alg":"RSA-OAEP"}`) + ".a.b.c.d", reason.Malformed, StepFormat},
		{"unknown iss", nil, rs(claims("https://evil.example", nil)), reason.UntrustedIssuer, StepIssuer},
		{"no iss", nil, rs(claims(issMain, map[string]any{"iss": nil})), reason.UntrustedIssuer, StepIssuer},
		{"alg none", nil, enc(`{"alg":"none"}`) + "." + enc(`{"iss":"`+issMain+`"}`) + ".", reason.AlgNotAllowed, StepAlgorithm},
		{"RS256 on an ES256-only issuer", nil, rs(claims(issES, nil)), reason.AlgNotAllowed, StepAlgorithm},
		{"crit", nil, sign(t, "RS256", k.rsa, map[string]any{"kid": "rsa1", "crit": []string{"exp"}, "exp": 1}, claims(issMain, nil)), reason.Malformed, StepCrit},
		{"unknown kid", nil, sign(t, "RS256", k.evilRSA, kid("evil"), claims(issMain, nil)), reason.UnknownKey, StepKey},
		{"no kid, no key fits", nil, sign(t, "ES512", p521, nil, claims(issMain, nil)), reason.UnknownKey, StepKey},
		{"no kid, no key verifies", nil, sign(t, "RS256", k.evilRSA, nil, claims(issMain, nil)), reason.BadSignature, StepSignature},
		{"keys unavailable", nil, rs(claims(issDown, nil)), reason.KeysUnavailable, StepKey},
		{"bad signature", nil, sign(t, "RS256", k.rsa2, kid("rsa1"), claims(issMain, nil)), reason.BadSignature, StepSignature},
		{"expired", nil, rs(claims(issMain, map[string]any{"exp": at(-time.Hour)})), reason.Expired, StepExp},
		{"exp malformed", nil, rs(claims(issMain, map[string]any{"exp": "soon"})), reason.Malformed, StepExp},
		{"nbf ahead", nil, rs(claims(issMain, map[string]any{"nbf": at(time.Hour)})), reason.NotYetValid, StepNbf},
		{"iat ahead", nil, rs(claims(issMain, map[string]any{"iat": at(time.Hour)})), reason.NotYetValid, StepIat},
		{"bad audience", nil, rs(claims(issMain, map[string]any{"aud": "x"})), reason.BadAudience, StepAudience},
		{"route audiences", f.override, rs(claims(issMain, nil)), reason.BadAudience, StepAudience},
		{"missing claim", nil, rs(claims(issStrict, nil)), reason.MissingClaim, StepRequiredClaims},
		{"bad type", nil, rs(claims(issTyped, nil)), reason.BadType, StepType},
		{"expired and bad audience: exp decides", nil, rs(claims(issMain, map[string]any{"exp": at(-time.Hour), "aud": "x"})), reason.Expired, StepExp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			if v == nil {
				v = f.all
			}
			vid, verr := v.Verify(context.Background(), tc.token)
			id, tr, err := explain(context.Background(), v, tc.token)
			if reason.Of(err) != reason.Of(verr) || issuerOf(err) != issuerOf(verr) || (id == nil) != (vid == nil) {
				t.Fatalf("VerifyTrace: got %v, %v; Verify: %v, %v", id, err, vid, verr)
			}
			if tc.want == reason.OK {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				if id.Subject != vid.Subject || id.KeyID != vid.KeyID || strings.Join(id.Scopes, " ") != strings.Join(vid.Scopes, " ") {
					t.Errorf("identity: VerifyTrace %+v, Verify %+v", id, vid)
				}
			} else if got := reason.Of(err); got != tc.want {
				t.Errorf("reason: got %q (%v), want %q", got, err, tc.want)
			}

			failed := ""
			for i, s := range tr.Steps {
				if !s.OK && failed == "" {
					failed = s.Name
					if s.After {
						t.Errorf("step %d %s: the deciding failure is marked After", i, s.Name)
					}
				} else if (failed != "") != s.After {
					t.Errorf("step %d %s: After is %v, want %v", i, s.Name, s.After, failed != "")
				}
				if s.Detail == "" {
					t.Errorf("step %d %s: no detail", i, s.Name)
				}
				for _, p := range strings.Split(tc.token, ".") {
					if len(p) >= 8 && strings.Contains(s.Detail, p) {
						t.Errorf("step %s quotes the token: %q", s.Name, s.Detail)
					}
				}
			}
			if failed != tc.step {
				t.Errorf("first failed step: got %q, want %q", failed, tc.step)
			}
		})
	}
}

// TestExplainTrace checks what a trace tells about a valid token, at the
// injected clock.
func TestExplainTrace(t *testing.T) {
	f := newFixture(t)
	tok := sign(t, "ES256", f.k.ec, map[string]any{"kid": "ec1", "typ": "JWT"},
		claims(issMain, map[string]any{"nbf": testNow.Add(-2 * time.Minute).Unix(), "exp": testNow.Add(59*time.Minute + 12*time.Second).Unix()}))
	id, tr, err := explain(context.Background(), f.all, tok)
	if err != nil {
		t.Fatal(err)
	}
	exp := testNow.Add(59*time.Minute + 12*time.Second).UTC().Format(time.RFC3339)
	want := []string{
		fmt.Sprintf("2 format: compact JWS, 3 parts, %d bytes (limit 16384)", len(tok)),
		`3 issuer: iss "https://issuer.example" selects issuer main`,
		"4 algorithm: ES256 is one of the issuer's algorithms (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)",
		"4 crit: no crit header",
		`5 key: kid "ec1" found in the cached key set: EC P-256, no alg`,
		`6 signature: verified with key "ec1" (EC P-256, no alg)`,
		"6 exp: expires in 59m12s, at " + exp,
		"6 nbf: valid since 2m ago, at " + testNow.Add(-2*time.Minute).UTC().Format(time.RFC3339),
		"6 iat: issued 0s ago, at " + testNow.UTC().Format(time.RFC3339),
		`6 aud: aud "api" holds one of the issuer's audiences (api)`,
		"6 required_claims: present: exp",
		`6 typ: not checked: the issuer sets no token_types (typ "JWT")`,
	}
	var got []string
	for _, s := range tr.Steps {
		got = append(got, fmt.Sprintf("%d %s: %s", s.Stage, s.Name, s.Detail))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps:\ngot\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if tr.Issuer != "main" || strings.Join(tr.Scopes, " ") != "read write" || !tr.Now.Equal(testNow) {
		t.Errorf("trace: got issuer %q, scopes %q, now %v", tr.Issuer, tr.Scopes, tr.Now)
	}
	if got, want := string(tr.Header), `{"alg":"ES256","kid":"ec1","typ":"JWT"}`; got != want {
		t.Errorf("header: got %q, want %q", got, want)
	}
	if string(tr.Payload) != string(id.Payload) {
		t.Errorf("payload: got %q, want the identity's %q", tr.Payload, id.Payload)
	}
}

// TestExplainRefetch: a kid that arrives with a key rotation is reported as
// found after the refetch the verifier made.
func TestExplainRefetch(t *testing.T) {
	f := newFixture(t)
	f.clk.Advance(time.Minute) // past min_refresh_interval since the priming fetch
	f.srv.SetKeys(published("new", "", f.k.rsa2))
	_, tr, err := explain(context.Background(), f.all, sign(t, "RS256", f.k.rsa2, map[string]any{"kid": "new"}, claims(issMain, map[string]any{
		"exp": f.clk.Now().Add(time.Hour).Unix(), "iat": f.clk.Now().Unix(),
	})))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tr.Steps[4].Detail, `kid "new" found after a refetch (it was not in the cached set): RSA 2048 bits, no alg`; got != want {
		t.Errorf("key step: got %q, want %q", got, want)
	}
}

// TestTracePrepare: Prepare runs once, with the verifier, before anything
// is recorded, also for a token that fails at once.
func TestTracePrepare(t *testing.T) {
	f := newFixture(t)
	for _, tok := range []string{"abc.def", sign(t, "ES256", f.k.ec, map[string]any{"kid": "ec1"}, claims(issMain, nil))} {
		var calls int
		var tr *Trace
		tr = &Trace{Prepare: func(ctx context.Context, v *Verifier) {
			calls++
			if v != f.all {
				t.Errorf("Prepare: got verifier %p, want %p", v, f.all)
			}
			if len(tr.Steps) != 0 {
				t.Errorf("Prepare: %d steps recorded before it, want 0", len(tr.Steps))
			}
		}}
		_, _ = f.all.VerifyTrace(context.Background(), tok, tr)
		if calls != 1 {
			t.Errorf("Prepare: called %d times, want 1", calls)
		}
		if len(tr.Steps) == 0 {
			t.Errorf("no steps recorded")
		}
	}
}

func TestTimeDetail(t *testing.T) {
	skew := 30 * time.Second
	for _, tc := range []struct {
		name  string
		check claimCheck
		off   time.Duration // claim relative to testNow
		ok    bool
		want  string
	}{
		{"exp ahead", checkExp, time.Hour, true, "expires in 1h, at "},
		{"exp within skew", checkExp, -10 * time.Second, true, "expired 10s ago, at 2023-11-14T22:13:10Z, but within the clock skew 30s"},
		{"exp past", checkExp, -(3*time.Minute + 12*time.Second), false, "expired 3m12s ago, at 2023-11-14T22:10:08Z (clock skew 30s)"},
		{"nbf past", checkNbf, -time.Minute, true, "valid since 1m ago, at "},
		{"nbf within skew", checkNbf, 20 * time.Second, true, "valid in 20s, at 2023-11-14T22:13:40Z, but within the clock skew 30s"},
		{"nbf ahead", checkNbf, 5 * time.Minute, false, "not valid for another 5m, until 2023-11-14T22:18:20Z (clock skew 30s)"},
		{"iat past", checkIat, -2 * time.Hour, true, "issued 2h ago, at "},
		{"iat ahead", checkIat, time.Hour + 30*time.Minute, false, "issued 1h30m in the future, at 2023-11-14T23:43:20Z (clock skew 30s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := map[string]any{claimStepNames[tc.check]: json.Number(strconv.FormatInt(testNow.Add(tc.off).Unix(), 10))}
			got := timeDetail(tc.check, c, testNow, skew, tc.ok)
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("got %q, want it to start with %q", got, tc.want)
			}
		})
	}
	if got := timeDetail(checkExp, map[string]any{}, testNow, skew, true); got != "absent" {
		t.Errorf("absent exp: got %q, want %q", got, "absent")
	}
}
