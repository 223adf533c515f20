package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/authgate/authgate/internal/auth"
	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/verify"
	"github.com/authgate/authgate/policy"
)

// decideGateway is a gateway whose decisions the tests hold against what
// ServeHTTP sends for the same request.
func decideGateway(t *testing.T) (*gateway, *echoUpstream) {
	t.Helper()
	up := newEcho(t)
	auth := fakeAuth{
		"good": {id: identity(t, "main", `{"sub":"alice","roles":["a","b"],"n":7}`, "read")},
		"ctl":  {id: identity(t, "main", `{"sub":"al\u0001ice"}`)},
		"scope": {err: &issuerErr{issuer: "main",
			err: fmt.Errorf("%w: scopes: all of [admin]: missing scope admin", reason.ErrInsufficientScope)}},
		"keys":     {err: fmt.Errorf("%w: no key set yet", reason.ErrKeysUnavailable)},
		"expired":  {err: &issuerErr{issuer: "main", err: fmt.Errorf("%w: exp is 3m before now", reason.ErrExpired)}},
		"internal": {err: errors.New("authenticator bug")},
	}
	g := newGateway(t,
		Route{Name: "orders", Host: "api.example.com", Methods: []string{"GET"}, PathPrefix: "/api/orders",
			Upstream: mustURL(t, up.URL), Mode: policy.Required, Auth: auth, Scopes: []string{"admin"},
			Headers: map[string]string{"X-User-Id": "sub", "X-Roles": "/roles", "X-N": "n", "X-Absent": "nope"}, ClaimsHeader: "X-Claims"},
		Route{Name: "public", PathPrefix: "/public", Upstream: mustURL(t, up.URL), Mode: policy.None},
		Route{Name: "exact", Path: "/health", Upstream: mustURL(t, up.URL), Mode: policy.Optional, Auth: auth},
	)
	return g, up
}

// TestDecide checks the verdict for each kind of request, and that
// ServeHTTP acts on exactly that verdict: the refusal it renders, or the
// headers the upstream receives.
func TestDecide(t *testing.T) {
	g, up := decideGateway(t)
	for _, tc := range []struct {
		name, method, host, target, authorization string

		route   string // "" none
		reason  reason.Reason
		status  int    // of the refusal; 0 when forwarded
		issuer  string // "issuer/sub"; "" when no route was reached
		headers string // "Name<-claim=value" in order, when forwarded
	}{
		{name: "prefix and host", method: "GET", host: "api.example.com", target: "/api/orders/7", authorization: "Bearer good",
			route: "orders", reason: reason.OK, issuer: "main/alice",
			headers: "X-N<-n=7 X-Roles<-/roles=a,b X-User-Id<-sub=alice X-Claims<-=eyJzdWIiOiJhbGljZSIsInJvbGVzIjpbImEiLCJiIl0sIm4iOjd9"},
		{name: "host with port", method: "GET", host: "API.example.com:8443", target: "/api/orders", authorization: "Bearer good",
			route: "orders", reason: reason.OK, issuer: "main/alice",
			headers: "X-N<-n=7 X-Roles<-/roles=a,b X-User-Id<-sub=alice X-Claims<-=eyJzdWIiOiJhbGljZSIsInJvbGVzIjpbImEiLCJiIl0sIm4iOjd9"},
		{name: "other host", method: "GET", host: "other.example.com", target: "/api/orders", status: http.StatusNotFound},
		{name: "other method", method: "POST", host: "api.example.com", target: "/api/orders", status: http.StatusNotFound},
		{name: "not on a segment boundary", method: "GET", host: "api.example.com", target: "/api/ordersx", status: http.StatusNotFound},
		{name: "dot-dot", method: "GET", host: "x", target: "/public/../api/orders", status: http.StatusBadRequest},
		{name: "encoded dot-dot", method: "GET", host: "x", target: "/public/%2e%2e/api", status: http.StatusBadRequest},
		{name: "double slash", method: "GET", host: "x", target: "/public//a", status: http.StatusBadRequest},
		{name: "TRACE", method: "TRACE", host: "x", target: "/public/a", status: http.StatusMethodNotAllowed},
		{name: "public ignores Authorization", method: "DELETE", host: "x", target: "/public/", authorization: "Bearer a b",
			route: "public", reason: reason.Public, issuer: "/"},
		{name: "optional without token", method: "GET", host: "x", target: "/health",
			route: "exact", reason: reason.Anonymous, issuer: "/"},
		{name: "optional with basic", method: "GET", host: "x", target: "/health", authorization: "Basic dXNlcg==",
			route: "exact", reason: reason.Anonymous, issuer: "/"},
		{name: "optional with a bad token", method: "GET", host: "x", target: "/health", authorization: "Bearer expired",
			route: "exact", reason: reason.Expired, status: http.StatusUnauthorized, issuer: "main/"},
		{name: "missing", method: "GET", host: "api.example.com", target: "/api/orders",
			route: "orders", reason: reason.Missing, status: http.StatusUnauthorized, issuer: "/"},
		{name: "bearer syntax", method: "GET", host: "api.example.com", target: "/api/orders", authorization: "Bearer a b",
			route: "orders", reason: reason.Malformed, status: http.StatusBadRequest, issuer: "/"},
		{name: "bad signature", method: "GET", host: "api.example.com", target: "/api/orders", authorization: "Bearer forged",
			route: "orders", reason: reason.BadSignature, status: http.StatusUnauthorized, issuer: "/"},
		{name: "insufficient scope", method: "GET", host: "api.example.com", target: "/api/orders", authorization: "Bearer scope",
			route: "orders", reason: reason.InsufficientScope, status: http.StatusForbidden, issuer: "main/"},
		{name: "keys unavailable", method: "GET", host: "api.example.com", target: "/api/orders", authorization: "Bearer keys",
			route: "orders", reason: reason.KeysUnavailable, status: http.StatusServiceUnavailable, issuer: "/"},
		{name: "no reason", method: "GET", host: "api.example.com", target: "/api/orders", authorization: "Bearer internal",
			route: "orders", status: http.StatusInternalServerError, issuer: "/"},
		{name: "unforwardable claim", method: "GET", host: "api.example.com", target: "/api/orders", authorization: "Bearer ctl",
			route: "orders", reason: reason.UnforwardableClaim, status: http.StatusUnauthorized, issuer: "main/al\x01ice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, nil)
			req.Host = tc.host
			if tc.authorization != "" {
				req.Header.Set("Authorization", tc.authorization)
			}
			d := g.h.Decide(req, nil)

			route := ""
			if d.Route != nil {
				route = d.Route.Name
			}
			if route != tc.route || d.Reason != tc.reason {
				t.Errorf("route, reason: got %q, %q, want %q, %q", route, d.Reason, tc.route, tc.reason)
			}
			if got := d.Issuer + "/" + d.Subject; tc.issuer != "" && got != tc.issuer {
				t.Errorf("issuer/sub: got %q, want %q", got, tc.issuer)
			}
			var got []string
			for _, f := range d.Headers {
				got = append(got, f.Name+"<-"+f.Claim+"="+f.Value)
			}
			if strings.Join(got, " ") != tc.headers {
				t.Errorf("headers: got %q, want %q", strings.Join(got, " "), tc.headers)
			}
			if (d.Identity != nil) != (tc.reason == reason.OK) {
				t.Errorf("identity: got %v for reason %q", d.Identity, d.Reason)
			}

			hdr := "Host: " + tc.host + "\r\n"
			if tc.authorization != "" {
				hdr += "Authorization: " + tc.authorization + "\r\n"
			}
			before := up.count()
			resp, body := raw(t, g.addr(), tc.method+" "+tc.target+" HTTP/1.1\r\n"+hdr+"Connection: close\r\n\r\n")
			if tc.status == 0 {
				if d.Refusal != nil {
					t.Fatalf("refusal: got %v, want none", d.Refusal)
				}
				e := echoOf(t, resp, body)
				for _, f := range d.Headers {
					if got := e.Header.Get(f.Name); got != f.Value {
						t.Errorf("%s: upstream got %q, the decision says %q", f.Name, got, f.Value)
					}
				}
				return
			}
			if d.Refusal == nil || d.Refusal.Status != tc.status {
				t.Fatalf("refusal: got %+v, want status %d", d.Refusal, tc.status)
			}
			if d.Refusal.Reason != d.Reason {
				t.Errorf("refusal reason: got %q, decision reason %q", d.Refusal.Reason, d.Reason)
			}
			assertRendered(t, d.Refusal, resp, body)
			if up.count() != before {
				t.Errorf("the refused request reached the upstream")
			}
		})
	}
}

// TestDecideOn: a named route is decided without the path checks and
// route matching, and an unknown name is reported.
func TestDecideOn(t *testing.T) {
	g, _ := decideGateway(t)
	req := httptest.NewRequest("GET", "/anything/../else", nil)
	req.Header.Set("Authorization", "Bearer good")
	d, ok := g.h.DecideOn("orders", req, nil)
	if !ok || d.Route == nil || d.Route.Name != "orders" || d.Reason != reason.OK || d.Refusal != nil {
		t.Errorf("got %v, %+v, want orders allowed", ok, d)
	}
	if _, ok := g.h.DecideOn("nope", req, nil); ok {
		t.Errorf("unknown route: got ok")
	}
}

// TestDecideTrace checks the token step each mode records, and that the
// Authenticator gets the trace and the request's method, URL and DPoP.
func TestDecideTrace(t *testing.T) {
	rec := &recordingAuth{}
	g := newGateway(t,
		Route{Name: "req", PathPrefix: "/req", Upstream: mustURL(t, "http://up.invalid"), Mode: policy.Required, Auth: rec},
		Route{Name: "opt", PathPrefix: "/opt", Upstream: mustURL(t, "http://up.invalid"), Mode: policy.Optional, Auth: rec},
		Route{Name: "pub", PathPrefix: "/pub", Upstream: mustURL(t, "http://up.invalid"), Mode: policy.None},
	)
	for _, tc := range []struct{ name, target, authorization, want string }{
		{"none", "/pub", "Bearer x", "ok not examined: the route's auth mode is none"},
		{"optional", "/opt", "", "ok no token: the route's auth mode is optional, so the request is forwarded without identity"},
		{"required", "/req", "", "FAIL no token, and the route's auth mode is required"},
		{"syntax", "/req", "Bearer a b", "FAIL the bearer credentials are empty or not RFC 6750 b64token syntax"},
		{"token", "/req?q=1", "bearer  a.b.c", "ok bearer token present (auth mode required)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", tc.target, nil)
			if tc.authorization != "" {
				req.Header.Set("Authorization", tc.authorization)
			}
			req.Header.Set("DPoP", "proof")
			tr := &verify.Trace{}
			g.h.Decide(req, tr)
			var got []string
			for _, s := range tr.Steps {
				mark := "ok"
				if !s.OK {
					mark = "FAIL"
				}
				got = append(got, fmt.Sprintf("%d %s %s %s", s.Stage, s.Name, mark, s.Detail))
			}
			if want := "1 token " + tc.want; len(got) != 1 || got[0] != want {
				t.Errorf("steps: got %q, want [%q]", got, want)
			}
			if tc.name != "token" {
				return
			}
			r := rec.last()
			if r.Scheme != auth.SchemeBearer || r.Credentials != "a.b.c" || r.Method != "POST" || r.URL.RequestURI() != "/req?q=1" ||
				strings.Join(r.DPoP, ",") != "proof" || r.Trace != tr {
				t.Errorf("auth.Request: got %+v", r)
			}
		})
	}
}

// recordingAuth allows every token and remembers the last request.
type recordingAuth struct {
	mu  sync.Mutex
	req auth.Request
}

func (a *recordingAuth) Authenticate(_ context.Context, req auth.Request) auth.Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.req = req
	return auth.Result{Identity: &verify.Identity{Issuer: "main"}, Issuer: "main"}
}

func (a *recordingAuth) last() auth.Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.req
}

// TestDecidePreflight: with CORS, a preflight is decided as one, on the
// route the actual request would take, without authentication; without
// CORS it is an ordinary OPTIONS request.
func TestDecidePreflight(t *testing.T) {
	up := mustURL(t, "http://up.invalid")
	routes := []Route{
		{Name: "get", PathPrefix: "/api", Methods: []string{"GET"}, Upstream: up, Mode: policy.Required, Auth: fakeAuth{}},
		{Name: "other", PathPrefix: "/api", Upstream: up, Mode: policy.Required, Auth: fakeAuth{}},
	}
	req := httptest.NewRequest("OPTIONS", "/api/x", nil)
	req.Header.Set("Origin", appOrigin)
	req.Header.Set("Access-Control-Request-Method", "GET")

	with := newGatewayWith(t, &CORS{AllowedOrigins: []string{appOrigin}}, routes...)
	d := with.h.Decide(req, nil)
	if !d.Preflight || d.Route == nil || d.Route.Name != "get" || d.Refusal != nil || d.Reason != "" {
		t.Errorf("with CORS: got %+v, want a preflight for route get", d)
	}
	without := newGateway(t, routes...)
	d = without.h.Decide(req, nil)
	if d.Preflight || d.Route == nil || d.Route.Name != "other" || d.Reason != reason.Missing {
		t.Errorf("without CORS: got %+v, want route other refused as missing", d)
	}
}

// TestDecideAllocs: on the request path (no trace) a decision that sets no
// identity headers allocates nothing, so Decide adds no cost to ServeHTTP.
func TestDecideAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	up := mustURL(t, "http://up.invalid")
	h, err := New(Options{Routes: []Route{
		{Name: "pub", PathPrefix: "/pub", Upstream: up, Mode: policy.None},
		{Name: "opt", PathPrefix: "/opt", Upstream: up, Mode: policy.Optional, Auth: trivialAuth{id: identity(t, "main", alicePayload)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	for _, tc := range []struct{ name, target, authorization string }{
		{"public", "/pub/x", ""},
		{"anonymous", "/opt/x", ""},
		{"verified", "/opt/x", "Bearer a.b.c"},
	} {
		req := httptest.NewRequest("GET", tc.target, nil)
		if tc.authorization != "" {
			req.Header.Set("Authorization", tc.authorization)
		}
		if n := testing.AllocsPerRun(100, func() { _ = h.Decide(req, nil) }); n != 0 {
			t.Errorf("%s: got %v allocations, want 0", tc.name, n)
		}
	}
}

// assertRendered compares a Refusal with the response ServeHTTP sent.
func assertRendered(t *testing.T, ref *Refusal, resp *http.Response, body []byte) {
	t.Helper()
	e := errorOf(t, resp, body)
	retry := ""
	if ref.RetryAfter > 0 {
		retry = strconv.Itoa(ref.RetryAfter)
	}
	for _, c := range [][3]string{
		{"status", strconv.Itoa(resp.StatusCode), strconv.Itoa(ref.Status)},
		{"error", e.Error, ref.Code},
		{"error_description", e.Description, ref.Description},
		{"WWW-Authenticate", resp.Header.Get("WWW-Authenticate"), ref.Challenge},
		{"Retry-After", resp.Header.Get("Retry-After"), retry},
	} {
		if c[1] != c[2] {
			t.Errorf("%s: ServeHTTP sent %q, the decision says %q", c[0], c[1], c[2])
		}
	}
}
