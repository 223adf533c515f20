package gateway_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/testkit"
)

// buildRuntime compiles yaml as `authgate explain` does: Build, nothing
// started, with now as its clock (nil: time.Now).
func buildRuntime(t *testing.T, yaml string, now func() time.Time) *gateway.Runtime {
	t.Helper()
	cfg, err := config.Parse("explain.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	rt, err := gateway.Build(cfg, nil, gateway.Deps{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Handler.Close)
	return rt
}

// TestExplainEndToEnd: explain and serving are one decision (proxy's
// Decide), so a handful of requests through a running gateway and explain on
// a runtime built from the same configuration suffice to show that the two
// are wired alike, down to the WWW-Authenticate value and the headers the
// upstream receives.
func TestExplainEndToEnd(t *testing.T) {
	fx := newFixture(t)
	rt := buildRuntime(t, strings.NewReplacer("{B}", fx.base, "{U}", "http://upstream.invalid").Replace(fixtureYAML), fx.clock.Now)
	tok := func(iss string, edits map[string]any) string { return fx.tokenFor(t, fx.claims(iss, edits)) }
	now := fx.now()

	for _, tc := range []struct {
		name, path, token string
		reason            reason.Reason
		decidedBy         string
		fix               string // the start of the verdict's fix
	}{
		{"forwarded claims", "/hdr/x", tok("a", map[string]any{"str": "s", "int": 7, "list": []string{"a", "b"}}), reason.OK, "", ""},
		{"expired", "/req/x", tok("a", map[string]any{"exp": now - 600}), reason.Expired, "exp",
			"the client must refresh the token (or get a new one): it expired 10m ago, at "},
		{"insufficient scope", "/scoped/x", tok("a", map[string]any{"scope": "read"}), reason.InsufficientScope, "policy", "grant "},
		{"unforwardable claim", "/hdr/x", tok("a", map[string]any{"ctl": "a\nb"}), reason.UnforwardableClaim, "forward",
			"a claim named in forward.headers holds what cannot be a header value"},
		{"no token", "/req/x", "", reason.Missing, "token", "send the access token in an Authorization: Bearer <token> header"},
		{"optional without token", "/opt/x", "", reason.Anonymous, "", ""},
		{"dot segment", "/pub/../req/x", "", "", "route", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := rt.Explain(context.Background(), gateway.ExplainQuery{Method: "GET", URL: fx.gw + tc.path, Token: tc.token})
			if err != nil {
				t.Fatalf("Explain: %v", err)
			}
			var hdr [][2]string
			if tc.token != "" {
				hdr = withBearer(tc.token)
			}
			res := fx.send(t, tc.path, hdr)
			v := rep.Verdict
			if v.Status != res.status {
				t.Fatalf("status: explain says %d, the gateway answered %d: %s", v.Status, res.status, res.body)
			}
			if v.Reason != tc.reason || v.DecidedBy != tc.decidedBy {
				t.Errorf("reason, decided by: got %q, %q, want %q, %q", v.Reason, v.DecidedBy, tc.reason, tc.decidedBy)
			}
			if !strings.HasPrefix(v.Fix, tc.fix) || (tc.fix == "") != (v.Fix == "") {
				t.Errorf("fix: got %q, want it to start with %q", v.Fix, tc.fix)
			}
			if v.Allowed {
				if res.forwarded != 1 {
					t.Errorf("the gateway forwarded %d requests, want 1", res.forwarded)
				}
				for _, f := range rep.Forwarded {
					if got := strings.Join(res.echo.Headers[f.Name], ","); got != f.Value {
						t.Errorf("%s: upstream got %q, explain says %q", f.Name, got, f.Value)
					}
				}
				return
			}
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if err := json.Unmarshal([]byte(res.body), &body); err != nil {
				t.Fatalf("body %q: %v", res.body, err)
			}
			retry := ""
			if v.Refusal.RetryAfter > 0 {
				retry = strconv.Itoa(v.Refusal.RetryAfter)
			}
			for _, c := range [][3]string{
				{"error", body.Error, v.Refusal.Code},
				{"error_description", body.Description, v.Refusal.Description},
				{"WWW-Authenticate", res.header.Get("WWW-Authenticate"), v.Refusal.Challenge},
				{"Retry-After", res.header.Get("Retry-After"), retry},
			} {
				if c[1] != c[2] {
					t.Errorf("%s: the gateway sent %q, explain says %q", c[0], c[1], c[2])
				}
			}
		})
	}
}

// TestExplainSteps checks the report's shape: every step of §3.3 in order,
// the failure that decides, and what follows it marked as information.
func TestExplainSteps(t *testing.T) {
	fx := newFixture(t)
	rt := buildRuntime(t, strings.NewReplacer("{B}", fx.base, "{U}", "http://upstream.invalid").Replace(fixtureYAML), fx.clock.Now)
	expired := fx.tokenFor(t, fx.claims("a", map[string]any{"exp": fx.now() - 192, "scope": "read"}))

	before := fx.hits("a")
	rep, err := rt.Explain(context.Background(), gateway.ExplainQuery{Route: "scoped", Token: expired})
	if err != nil {
		t.Fatal(err)
	}
	if got := fx.hits("a") - before; got != 1 {
		t.Errorf("JWKS fetches for the issuer: got %d, want 1", got)
	}
	var got []string
	for _, s := range rep.Steps {
		mark := "ok"
		if !s.OK {
			mark = "FAIL"
		}
		if s.After {
			mark += " after"
		}
		got = append(got, strconv.Itoa(s.Stage)+" "+s.Name+" "+mark)
	}
	want := []string{"1 token ok", "2 format ok", "3 issuer ok", "4 algorithm ok", "4 crit ok", "5 key ok", "6 signature ok",
		"6 exp FAIL", "6 nbf ok after", "6 iat ok after", "6 aud ok after", "6 required_claims ok after", "6 typ ok after",
		"7 policy FAIL after"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("steps:\ngot  %q\nwant %q", got, want)
	}
	for _, s := range rep.Steps {
		// Explain reads the injected clock, which has not moved since
		// the token was made: the age is exact.
		if s.Name == "exp" && !strings.HasPrefix(s.Detail, "expired 3m12s ago, at ") {
			t.Errorf("exp detail: got %q, want it to start with %q", s.Detail, "expired 3m12s ago, at ")
		}
		if strings.Contains(s.Detail, expired[strings.LastIndexByte(expired, '.')+1:]) {
			t.Errorf("step %s quotes the signature", s.Name)
		}
	}
	if rep.Route == nil || rep.Route.Name != "scoped" || len(rep.Route.Policy) != 1 || rep.Route.Policy[0] != "scopes: all of [read write]" {
		t.Errorf("route: got %+v", rep.Route)
	}
	var claims map[string]any
	if err := json.Unmarshal(rep.Claims, &claims); err != nil || claims["sub"] != "alice" {
		t.Errorf("claims: got %s (%v)", rep.Claims, err)
	}

	if _, err := rt.Explain(context.Background(), gateway.ExplainQuery{Route: "nope", Token: expired}); err == nil ||
		!strings.Contains(err.Error(), `no route named "nope"`) {
		t.Errorf("unknown route: got %v, want an error naming it", err)
	}
	if _, err := rt.Explain(context.Background(), gateway.ExplainQuery{Method: "GET", URL: "ftp://x/req?secret=1", Token: expired}); err == nil ||
		strings.Contains(err.Error(), "secret") {
		t.Errorf("bad URL: got %v, want an error that does not quote the query", err)
	}
}

// TestExplainKeysUnavailable: an issuer whose JWKS cannot be fetched gives
// the gateway's 503, and explain says why.
func TestExplainKeysUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	_ = ln.Close() // nothing listens there any more: connection refused
	yaml := `
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
log: { access: false }
issuers:
  - { name: down, issuer: "http://down.example", jwks_url: "` + down + `/jwks", audiences: [api], jwks: { timeout: 1s } }
routes:
  - { name: api, match: { path_prefix: /api }, upstream: { url: "http://upstream.invalid" } }
`
	k := fixtureKeys(t)
	token := testkit.SignJWS(t, "ES256", k.ec, map[string]any{"kid": "ec-1"},
		jsonOf(t, map[string]any{"iss": "http://down.example", "aud": "api", "exp": time.Now().Unix() + 60}))
	rep, err := buildRuntime(t, yaml, nil).Explain(context.Background(), gateway.ExplainQuery{Route: "api", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	gw, _, _ := serveTest(t, yaml) // its issuer is down: never ready
	resp, body := fetch(t, "GET", gw+"/api/x", token)
	v := rep.Verdict
	if v.Status != http.StatusServiceUnavailable || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status: explain %d, gateway %d (%s), want 503", v.Status, resp.StatusCode, body)
	}
	if got, want := strconv.Itoa(v.Refusal.RetryAfter), resp.Header.Get("Retry-After"); got != want {
		t.Errorf("Retry-After: explain %q, gateway %q", got, want)
	}
	if !strings.HasPrefix(v.Note, "keys unavailable: ") || !strings.Contains(v.Note, "connection refused") {
		t.Errorf("note: got %q, want the fetch error", v.Note)
	}
	if len(rep.Keys) != 1 || rep.Keys[0].Ready || rep.Keys[0].Error == "" {
		t.Errorf("keys: got %+v, want one unavailable set with its error", rep.Keys)
	}
}

// TestExplainClaimPolicy: claim rules (docs/reference.md §3.4) are explained one
// line each, and the verdict is the running gateway's.
func TestExplainClaimPolicy(t *testing.T) {
	fx := newFixture(t)
	yaml := `
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
log: { access: false }
issuers:
  - { name: main, issuer: "` + fx.iss("a") + `", audiences: [api] }
routes:
  - name: org
    match: { path_prefix: /org }
    upstream: { url: "http://upstream.invalid" }
    auth: { scopes: [read], claims: { org: acme, /realm_access/roles: [admin, ops] } }
`
	rt := buildRuntime(t, yaml, fx.clock.Now)
	gw, _ := serveReady(t, yaml)
	for _, tc := range []struct {
		name   string
		claims map[string]any
		status int
		policy []string // each step's mark and the start of its requirement, in order
	}{
		{"all hold", map[string]any{"scope": "read", "org": "acme", "realm_access": map[string]any{"roles": []string{"ops"}}}, 0, []string{
			"ok scopes:", `ok claims["/realm_access/roles"]:`, `ok claims["org"]:`}},
		{"claim mismatch", map[string]any{"scope": "read", "org": "other", "realm_access": map[string]any{"roles": []string{"user"}}}, http.StatusForbidden, []string{
			"ok scopes:", `FAIL claims["/realm_access/roles"]:`, `FAIL claims["org"]:`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := fx.tokenFor(t, fx.claims("a", tc.claims))
			rep, err := rt.Explain(context.Background(), gateway.ExplainQuery{Route: "org", Token: token})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range rep.Steps {
				if s.Name != "policy" {
					continue
				}
				mark := "ok"
				if !s.OK {
					mark = "FAIL"
				}
				got = append(got, mark+" "+s.Detail)
			}
			ok := len(got) == len(tc.policy)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.HasPrefix(got[i], tc.policy[i])
			}
			if !ok {
				t.Errorf("policy steps:\ngot  %q\nwant %q…", got, tc.policy)
			}
			resp, body := fetch(t, "GET", gw+"/org/x", token)
			want := http.StatusBadGateway // allowed: upstream.invalid cannot be reached
			if tc.status != 0 {
				want = tc.status
			}
			if resp.StatusCode != want {
				t.Fatalf("gateway: got %d, want %d: %s", resp.StatusCode, want, body)
			}
			if tc.status == 0 {
				if !rep.Verdict.Allowed {
					t.Errorf("explain refuses what the gateway forwards: %+v", rep.Verdict)
				}
				return
			}
			if rep.Verdict.Status != resp.StatusCode || rep.Verdict.Refusal.Challenge != resp.Header.Get("WWW-Authenticate") {
				t.Errorf("verdict: explain %d %q, gateway %d %q", rep.Verdict.Status, rep.Verdict.Refusal.Challenge,
					resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			if rep.Verdict.Reason != reason.ClaimMismatch {
				t.Errorf("reason: got %q, want %q", rep.Verdict.Reason, reason.ClaimMismatch)
			}
		})
	}
}
