package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/policy"
)

// explainGateway is a gateway whose explain answers the tests hold against
// what ServeHTTP really does with the same request.
func explainGateway(t *testing.T) (*gateway, *echoUpstream) {
	t.Helper()
	up := newEcho(t)
	auth := fakeAuth{
		"good": {id: identity(t, "main", `{"sub":"alice","roles":["a","b"],"n":7}`, "read")},
		"ctl":  {id: identity(t, "main", `{"sub":"al\u0001ice"}`)},
		"scope": {err: &issuerErr{issuer: "main",
			err: fmt.Errorf("%w: scopes: all of [admin]: missing scope admin", reason.ErrInsufficientScope)}},
		"claims": {err: &issuerErr{issuer: "main",
			err: fmt.Errorf("%w: claims[\"org\"]: claim absent", reason.ErrClaimMismatch)}},
		"keys":     {err: fmt.Errorf("%w: no key set yet", reason.ErrKeysUnavailable)},
		"expired":  {err: fmt.Errorf("%w: exp is 3m before now", reason.ErrExpired)},
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

// TestExplainRoute checks that Route picks the route ServeHTTP picks, and
// refuses what it refuses with the same response.
func TestExplainRoute(t *testing.T) {
	g, _ := explainGateway(t)
	for _, tc := range []struct {
		name, method, host, target string
		want                       string // route name; "" when refused
		status                     int    // of the refusal
	}{
		{"prefix and host", "GET", "api.example.com", "/api/orders/7", "orders", 0},
		{"host with port", "GET", "API.example.com:8443", "/api/orders", "orders", 0},
		{"other host", "GET", "other.example.com", "/api/orders", "", http.StatusNotFound},
		{"other method", "POST", "api.example.com", "/api/orders", "", http.StatusNotFound},
		{"not on a segment boundary", "GET", "api.example.com", "/api/ordersx", "", http.StatusNotFound},
		{"any host", "DELETE", "x", "/public/a", "public", 0},
		{"exact path", "GET", "x", "/health", "exact", 0},
		{"exact path only", "GET", "x", "/health/x", "", http.StatusNotFound},
		{"dot-dot", "GET", "x", "/public/../api/orders", "", http.StatusBadRequest},
		{"encoded dot-dot", "GET", "x", "/public/%2e%2e/api", "", http.StatusBadRequest},
		{"double slash", "GET", "x", "/public//a", "", http.StatusBadRequest},
		{"trailing slash is fine", "GET", "x", "/public/", "public", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://"+tc.host+tc.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			name, err := g.h.Route(tc.method, tc.host, req.URL.Path)
			if name != tc.want {
				t.Errorf("route: got %q, want %q (err %v)", name, tc.want, err)
			}
			if tc.want != "" {
				if err != nil {
					t.Errorf("route error: got %v, want nil", err)
				}
				return
			}
			var ref *Refusal
			if !errors.As(err, &ref) {
				t.Fatalf("error: got %v, want a *Refusal", err)
			}
			resp, body := raw(t, g.addr(), tc.method+" "+tc.target+" HTTP/1.1\r\nHost: "+tc.host+"\r\nConnection: close\r\n\r\n")
			assertSameRefusal(t, ref, resp, body)
			if ref.Status != tc.status {
				t.Errorf("status: got %d, want %d", ref.Status, tc.status)
			}
		})
	}
}

// TestExplainRefuse checks that Refuse gives exactly ServeHTTP's response
// to an Authenticate error, and IdentityHeaders exactly what the upstream
// receives.
func TestExplainRefuse(t *testing.T) {
	g, up := explainGateway(t)
	fa := g.h.routes[0].Auth
	for _, tc := range []struct {
		name, token string
		status      int
	}{
		{"bad signature", "forged", http.StatusUnauthorized},
		{"expired", "expired", http.StatusUnauthorized},
		{"insufficient scope", "scope", http.StatusForbidden},
		{"claim mismatch", "claims", http.StatusForbidden},
		{"keys unavailable", "keys", http.StatusServiceUnavailable},
		{"no reason", "internal", http.StatusInternalServerError},
		{"unforwardable claim", "ctl", http.StatusUnauthorized},
		{"missing", "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.token == "" {
				err = reason.ErrMissing
			} else {
				id, aerr := fa.Authenticate(t.Context(), tc.token)
				err = aerr
				if aerr == nil {
					_, err = g.h.IdentityHeaders("orders", id)
				}
			}
			if err == nil {
				t.Fatal("no error to refuse")
			}
			ref := g.h.Refuse("orders", err)
			hdr := []string{"Host", "api.example.com"}
			if tc.token != "" {
				hdr = append(hdr, "Authorization", "Bearer "+tc.token)
			}
			before := up.count()
			resp, body := g.do(t, "GET", "/api/orders", hdr...)
			assertSameRefusal(t, ref, resp, body)
			if ref.Status != tc.status {
				t.Errorf("status: got %d, want %d", ref.Status, tc.status)
			}
			if up.count() != before {
				t.Errorf("the refused request reached the upstream")
			}
		})
	}

	t.Run("identity headers", func(t *testing.T) {
		id, err := fa.Authenticate(t.Context(), "good")
		if err != nil {
			t.Fatal(err)
		}
		fwd, err := g.h.IdentityHeaders("orders", id)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := g.do(t, "GET", "/api/orders", "Host", "api.example.com", "Authorization", "Bearer good")
		e := echoOf(t, resp, body)
		var names []string
		for _, f := range fwd {
			names = append(names, f.Name+"<-"+f.Claim)
			if got := e.Header.Get(f.Name); got != f.Value {
				t.Errorf("%s: upstream got %q, explain says %q", f.Name, got, f.Value)
			}
		}
		if got, want := strings.Join(names, " "), "X-N<-n X-Roles<-/roles X-User-Id<-sub X-Claims<-"; got != want {
			t.Errorf("headers: got %q, want %q", got, want)
		}
	})
}

func TestExplainBearer(t *testing.T) {
	g, _ := explainGateway(t)
	for _, tc := range []struct {
		name, value, want string
		status            int
	}{
		{"token", "Bearer a.b.c", "a.b.c", 0},
		{"scheme any case, several spaces", "bEaReR   a.b.c", "a.b.c", 0},
		{"other scheme", "Basic dXNlcg==", "", 0},
		{"space inside", "Bearer a.b c", "", http.StatusBadRequest},
		{"empty", "Bearer ", "", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := g.h.Bearer(tc.value)
			if got != tc.want {
				t.Errorf("token: got %q, want %q", got, tc.want)
			}
			var ref *Refusal
			switch {
			case tc.status == 0 && err != nil:
				t.Errorf("error: got %v, want nil", err)
			case tc.status != 0 && (!errors.As(err, &ref) || ref.Status != tc.status || ref.Code != "invalid_request"):
				t.Errorf("error: got %v, want a %d invalid_request refusal", err, tc.status)
			}
		})
	}
}

// assertSameRefusal compares a Refusal with the response ServeHTTP sent.
func assertSameRefusal(t *testing.T, ref *Refusal, resp *http.Response, body []byte) {
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
			t.Errorf("%s: ServeHTTP sent %q, Refusal says %q", c[0], c[1], c[2])
		}
	}
}
