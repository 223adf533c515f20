package proxy

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testkit"

	"github.com/authgate/authgate/policy"
)

const (
	appOrigin   = "https://app.example.com"
	otherOrigin = "https://evil.example.net"
)

// newGatewayWith is newGateway with CORS options.
func newGatewayWith(t testing.TB, co *CORS, routes ...Route) *gateway {
	t.Helper()
	return newGatewayLogger(t, nil, co, routes...)
}

// newGatewayLogger is newGatewayWith logging to logger; nil: JSON into
// the gateway's log buffer.
func newGatewayLogger(t testing.TB, logger *slog.Logger, co *CORS, routes ...Route) *gateway {
	t.Helper()
	g := &gateway{log: &testkit.LogBuffer{}}
	if logger == nil {
		logger = slog.New(slog.NewJSONHandler(g.log, nil))
	}
	h, err := New(Options{
		Routes:    routes,
		Logger:    logger,
		AccessLog: true,
		Observe: func(o Outcome) {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.outcomes = append(g.outcomes, o)
		},
		CORS: co,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g.h = h
	g.Server = httptest.NewServer(h)
	g.Client().Timeout = 10 * time.Second
	t.Cleanup(func() {
		g.Close()
		h.Close()
	})
	return g
}

// corsUpstream answers like echoUpstream but also sends CORS headers of its
// own, as an application that once handled CORS itself would.
func corsUpstream(t testing.TB) *echoUpstream {
	t.Helper()
	return newEchoWith(t, http.Header{
		"Access-Control-Allow-Origin":      {"*"},
		"Access-Control-Allow-Credentials": {"true"},
		"Access-Control-Expose-Headers":    {"X-Internal-Secret"},
		"access-control-max-age":           {"86400"}, // non-canonical on the wire
		"Vary":                             {"Accept-Encoding"},
	})
}

// closedURL is an http URL on which nothing listens: the upstream of a 502.
func closedURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// corsRoutes: the fixture's routes, a method-restricted one, and one whose
// upstream is down.
func corsRoutes(t testing.TB, up string) []Route {
	routes := fixtureRoutes(t, up)
	return append(routes,
		Route{Name: "readonly", PathPrefix: "/ro", Methods: []string{"GET"}, Upstream: mustURL(t, up),
			Mode: policy.Required, Auth: fixtureAuth(t)},
		Route{Name: "down", PathPrefix: "/down", Upstream: mustURL(t, closedURL(t)), Mode: policy.None},
	)
}

// varies reports whether the response's Vary lists name.
func varies(h http.Header, name string) bool {
	for _, v := range h.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return true
			}
		}
	}
	return false
}

func TestCORSPreflight(t *testing.T) {
	up := newEcho(t)
	base := CORS{AllowedOrigins: []string{appOrigin}, MaxAge: 10 * time.Minute}
	creds := CORS{AllowedOrigins: []string{appOrigin + ":443"}, AllowCredentials: true}
	wildcard := CORS{AllowedOrigins: []string{"*"}}

	tests := []struct {
		name    string
		cors    CORS
		path    string
		origin  string
		method  string // Access-Control-Request-Method
		headers string // Access-Control-Request-Headers
		// wantOrigin is the expected Access-Control-Allow-Origin; "" for
		// a refusal (204 without CORS headers).
		wantOrigin string
		wantRoute  string
		// wantRefused is the access line's cors_refused; "" for an
		// allowed preflight (cors=allowed).
		wantRefused string
	}{
		{name: "required route without token", cors: base, path: "/api/orders", origin: appOrigin,
			method: "GET", headers: "authorization", wantOrigin: appOrigin, wantRoute: "api"},
		{name: "public route", cors: base, path: "/public/x", origin: appOrigin,
			method: "POST", headers: "authorization,content-type", wantOrigin: appOrigin, wantRoute: "public"},
		{name: "no route matches", cors: base, path: "/nowhere", origin: appOrigin,
			method: "GET", headers: "authorization", wantOrigin: appOrigin, wantRoute: "none"},
		{name: "route matched by the requested method", cors: base, path: "/ro/items", origin: appOrigin,
			method: "GET", headers: "authorization", wantOrigin: appOrigin, wantRoute: "readonly"},
		{name: "route not matching the requested method", cors: base, path: "/ro/items", origin: appOrigin,
			method: "DELETE", headers: "authorization", wantOrigin: appOrigin, wantRoute: "none"},
		{name: "HEAD allowed with GET", cors: base, path: "/api", origin: appOrigin,
			method: "HEAD", headers: "authorization", wantOrigin: appOrigin, wantRoute: "api"},
		{name: "disallowed origin", cors: base, path: "/api", origin: otherOrigin,
			method: "GET", headers: "authorization", wantRoute: "api", wantRefused: "origin_not_allowed"},
		{name: "origin differing only by port", cors: base, path: "/api", origin: appOrigin + ":8443",
			method: "GET", wantRoute: "api", wantRefused: "origin_not_allowed"},
		{name: "disallowed method", cors: base, path: "/api", origin: appOrigin,
			method: "PURGE", wantRoute: "api", wantRefused: "method_not_allowed"},
		{name: "disallowed header", cors: base, path: "/api", origin: appOrigin,
			method: "GET", headers: "authorization,x-debug", wantRoute: "api", wantRefused: "header_not_allowed"},
		{name: "credentials, configured with a default port", cors: creds, path: "/api", origin: appOrigin,
			method: "PUT", headers: "authorization", wantOrigin: appOrigin, wantRoute: "api"},
		{name: "wildcard", cors: wildcard, path: "/api", origin: otherOrigin,
			method: "GET", headers: "authorization", wantOrigin: "*", wantRoute: "api"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			co := tt.cors
			g := newGatewayWith(t, &co, corsRoutes(t, up.URL)...)
			before := up.count()
			hdr := []string{"Origin", tt.origin, "Access-Control-Request-Method", tt.method, "X-Request-Id", "pf-1"}
			if tt.headers != "" {
				hdr = append(hdr, "Access-Control-Request-Headers", tt.headers)
			}
			resp, body := g.do(t, http.MethodOptions, tt.path, hdr...)

			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("status: got %d, want 204: %s", resp.StatusCode, body)
			}
			if up.count() != before {
				t.Errorf("upstream got the preflight: a preflight is the gateway's to answer")
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.wantOrigin {
				t.Errorf("Access-Control-Allow-Origin: got %q, want %q", got, tt.wantOrigin)
			}
			if !varies(resp.Header, "Origin") {
				t.Errorf("Vary: got %q, want it to list Origin", resp.Header.Values("Vary"))
			}
			if got := resp.Header.Get("X-Request-Id"); got != "pf-1" {
				t.Errorf("X-Request-Id: got %q, want %q", got, "pf-1")
			}
			if tt.wantOrigin != "" {
				if got := resp.Header.Get("Access-Control-Allow-Methods"); got != tt.method {
					t.Errorf("Access-Control-Allow-Methods: got %q, want %q", got, tt.method)
				}
				if got := resp.Header.Get("Access-Control-Allow-Headers"); got != tt.headers {
					t.Errorf("Access-Control-Allow-Headers: got %q, want %q", got, tt.headers)
				}
				wantCreds := ""
				if co.AllowCredentials {
					wantCreds = "true"
				}
				if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != wantCreds {
					t.Errorf("Access-Control-Allow-Credentials: got %q, want %q", got, wantCreds)
				}
				wantAge := ""
				if co.MaxAge > 0 {
					wantAge = "600"
				}
				if got := resp.Header.Get("Access-Control-Max-Age"); got != wantAge {
					t.Errorf("Access-Control-Max-Age: got %q, want %q", got, wantAge)
				}
			} else {
				for k := range resp.Header {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Errorf("refused preflight has %s: %q", k, resp.Header.Get(k))
					}
				}
			}

			line := g.log.Access(t, "pf-1")
			if line["route"] != tt.wantRoute || line["method"] != "OPTIONS" || line["status"] != 204.0 || line["reason"] != "" {
				t.Errorf("access line: got route=%v method=%v status=%v reason=%v, want route=%s method=OPTIONS status=204 reason=\"\"",
					line["route"], line["method"], line["status"], line["reason"], tt.wantRoute)
			}
			wantCORS := "allowed"
			if tt.wantRefused != "" {
				wantCORS = "refused"
			}
			if refused, _ := line["cors_refused"].(string); line["cors"] != wantCORS || refused != tt.wantRefused {
				t.Errorf("access line: got cors=%v cors_refused=%v, want cors=%s cors_refused=%q",
					line["cors"], line["cors_refused"], wantCORS, tt.wantRefused)
			}
			// The access line names a refusal's cause, never what the
			// client sent: no origin, requested method or header list.
			if all := g.log.String(); strings.Contains(all, tt.origin) || strings.Contains(all, "x-debug") || strings.Contains(all, "PURGE") {
				t.Errorf("log quotes the preflight's request:\n%s", all)
			}
		})
	}
}

// TestCORSPreflightBadPath: a preflight for a path that §3.1 refuses is
// refused too, and never answered 204.
func TestCORSPreflightBadPath(t *testing.T) {
	up := newEcho(t)
	g := newGatewayWith(t, &CORS{AllowedOrigins: []string{appOrigin}}, corsRoutes(t, up.URL)...)
	for _, target := range []string{"/public/%2e%2e/admin", "/public//x", "/api/./x"} {
		t.Run(target, func(t *testing.T) {
			resp, body := raw(t, g.addr(), "OPTIONS "+target+" HTTP/1.1\r\nHost: gw\r\nOrigin: "+appOrigin+
				"\r\nAccess-Control-Request-Method: GET\r\nConnection: close\r\n\r\n")
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status: got %d, want 400: %s", resp.StatusCode, body)
			}
			if e := errorOf(t, resp, body); e.Error != "invalid_request" {
				t.Errorf("error: got %q, want %q", e.Error, "invalid_request")
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("Access-Control-Allow-Origin: got %q, want none on a refused preflight", got)
			}
			if !varies(resp.Header, "Origin") {
				t.Errorf("Vary: got %q, want it to list Origin", resp.Header.Values("Vary"))
			}
		})
	}
	if up.count() != 0 {
		t.Errorf("upstream requests: got %d, want 0", up.count())
	}
}

// TestCORSActual: every response to an allowed origin carries the CORS
// headers, the gateway's own errors included, so that a browser application
// can read them (docs/reference.md §3.6, §3.7).
func TestCORSActual(t *testing.T) {
	up := corsUpstream(t)
	base := CORS{AllowedOrigins: []string{"https://other.example.org", appOrigin}, ExposedHeaders: []string{"X-Total-Count", "x-request-id"}}
	creds := CORS{AllowedOrigins: []string{appOrigin}, AllowCredentials: true}
	wildcard := CORS{AllowedOrigins: []string{"*"}}

	tests := []struct {
		name       string
		cors       CORS
		method     string
		path       string
		origin     string
		token      string
		wantStatus int
		wantCode   string // the error body's code; "" for an upstream answer
		wantOrigin string
	}{
		{name: "upstream answer", cors: base, method: "GET", path: "/api/x", origin: appOrigin, token: "good",
			wantStatus: 200, wantOrigin: appOrigin},
		{name: "upstream answer to OPTIONS without preflight headers", cors: base, method: "OPTIONS", path: "/public/x",
			origin: appOrigin, wantStatus: 200, wantOrigin: appOrigin},
		{name: "disallowed origin", cors: base, method: "GET", path: "/api/x", origin: otherOrigin, token: "good",
			wantStatus: 200},
		{name: "no origin", cors: base, method: "GET", path: "/api/x", token: "good", wantStatus: 200},
		{name: "400 bad path", cors: base, method: "GET", path: "/api//x", origin: appOrigin, token: "good",
			wantStatus: 400, wantCode: "invalid_request", wantOrigin: appOrigin},
		{name: "401 no token", cors: base, method: "GET", path: "/api/x", origin: appOrigin,
			wantStatus: 401, wantCode: "unauthorized", wantOrigin: appOrigin},
		{name: "401 expired", cors: base, method: "POST", path: "/api/x", origin: appOrigin, token: "tkExpired",
			wantStatus: 401, wantCode: "invalid_token", wantOrigin: appOrigin},
		{name: "403 scope", cors: base, method: "GET", path: "/admin", origin: appOrigin, token: "noscope",
			wantStatus: 403, wantCode: "insufficient_scope", wantOrigin: appOrigin},
		{name: "404", cors: base, method: "GET", path: "/nowhere", origin: appOrigin,
			wantStatus: 404, wantCode: "not_found", wantOrigin: appOrigin},
		{name: "502", cors: base, method: "GET", path: "/down", origin: appOrigin,
			wantStatus: 502, wantCode: "bad_gateway", wantOrigin: appOrigin},
		{name: "503", cors: base, method: "GET", path: "/api/x", origin: appOrigin, token: "nokeys",
			wantStatus: 503, wantCode: "temporarily_unavailable", wantOrigin: appOrigin},
		{name: "401 to a disallowed origin", cors: base, method: "GET", path: "/api/x", origin: otherOrigin,
			wantStatus: 401, wantCode: "unauthorized"},
		{name: "credentials", cors: creds, method: "GET", path: "/api/x", origin: appOrigin, token: "good",
			wantStatus: 200, wantOrigin: appOrigin},
		{name: "credentials on 401", cors: creds, method: "GET", path: "/api/x", origin: appOrigin, token: "tkExpired",
			wantStatus: 401, wantCode: "invalid_token", wantOrigin: appOrigin},
		{name: "wildcard", cors: wildcard, method: "GET", path: "/api/x", origin: otherOrigin, token: "good",
			wantStatus: 200, wantOrigin: "*"},
		{name: "wildcard on 404", cors: wildcard, method: "GET", path: "/nowhere", origin: otherOrigin,
			wantStatus: 404, wantCode: "not_found", wantOrigin: "*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			co := tt.cors
			g := newGatewayWith(t, &co, corsRoutes(t, up.URL)...)
			var hdr []string
			if tt.origin != "" {
				hdr = append(hdr, "Origin", tt.origin)
			}
			if tt.token != "" {
				hdr = append(hdr, "Authorization", "Bearer "+tt.token)
			}
			resp, body := g.do(t, tt.method, tt.path, hdr...)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status: got %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantCode != "" {
				if e := errorOf(t, resp, body); e.Error != tt.wantCode {
					t.Errorf("error: got %q, want %q", e.Error, tt.wantCode)
				}
			}

			// Exactly one value: the upstream's own "*" is gone.
			var wantACAO []string
			if tt.wantOrigin != "" {
				wantACAO = []string{tt.wantOrigin}
			}
			if got := resp.Header.Values("Access-Control-Allow-Origin"); !slices.Equal(got, wantACAO) {
				t.Errorf("Access-Control-Allow-Origin: got %q, want %q", got, wantACAO)
			}
			if !varies(resp.Header, "Origin") {
				t.Errorf("Vary: got %q, want it to list Origin", resp.Header.Values("Vary"))
			}
			if tt.wantCode == "" && !varies(resp.Header, "Accept-Encoding") {
				t.Errorf("Vary: got %q, want the upstream's Accept-Encoding kept", resp.Header.Values("Vary"))
			}
			if got := resp.Header.Get("Access-Control-Max-Age"); got != "" {
				t.Errorf("Access-Control-Max-Age: got %q, want none (the upstream's is stripped)", got)
			}

			wantCreds := ""
			if tt.wantOrigin != "" && co.AllowCredentials {
				wantCreds = "true"
			}
			if got := resp.Header.Values("Access-Control-Allow-Credentials"); strings.Join(got, ",") != wantCreds {
				t.Errorf("Access-Control-Allow-Credentials: got %q, want %q", got, wantCreds)
			}

			wantExpose := ""
			if tt.wantOrigin != "" {
				wantExpose = "Www-Authenticate, X-Request-Id, Retry-After"
				if len(co.ExposedHeaders) > 0 {
					wantExpose += ", X-Total-Count"
				}
			}
			if got := strings.Join(resp.Header.Values("Access-Control-Expose-Headers"), ","); got != wantExpose {
				t.Errorf("Access-Control-Expose-Headers: got %q, want %q", got, wantExpose)
			}
		})
	}
}

// TestCORSNotConfigured: without CORS, OPTIONS is an ordinary request: it is
// authenticated on a required route and forwarded on a public one, and the
// upstream's own CORS headers pass through untouched (docs/reference.md §3.7).
func TestCORSNotConfigured(t *testing.T) {
	up := corsUpstream(t)
	g := newGatewayWith(t, nil, corsRoutes(t, up.URL)...)
	preflight := []string{"Origin", appOrigin, "Access-Control-Request-Method", "GET",
		"Access-Control-Request-Headers", "authorization"}

	tests := []struct {
		name       string
		path       string
		hdr        []string
		wantStatus int
		wantACAO   string
		wantHits   int
	}{
		{name: "required route refuses", path: "/api/x", hdr: preflight, wantStatus: 401},
		{name: "required route with token forwards", path: "/api/x",
			hdr: append(slices.Clone(preflight), "Authorization", "Bearer good"), wantStatus: 200, wantACAO: "*", wantHits: 1},
		{name: "public route forwards", path: "/public/x", hdr: preflight, wantStatus: 200, wantACAO: "*", wantHits: 1},
		{name: "no route", path: "/nowhere", hdr: preflight, wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := up.count()
			resp, body := g.do(t, http.MethodOptions, tt.path, tt.hdr...)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status: got %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if got := up.count() - before; got != tt.wantHits {
				t.Errorf("upstream requests: got %d, want %d", got, tt.wantHits)
			}
			if tt.wantHits > 0 {
				if e := echoOf(t, resp, body); e.Method != http.MethodOptions {
					t.Errorf("upstream method: got %q, want %q", e.Method, http.MethodOptions)
				}
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.wantACAO {
				t.Errorf("Access-Control-Allow-Origin: got %q, want %q", got, tt.wantACAO)
			}
			if tt.wantHits == 0 && varies(resp.Header, "Origin") {
				t.Errorf("Vary: got %q, want no Origin without CORS", resp.Header.Values("Vary"))
			}
		})
	}
}

// TestCORSOptionsWithoutOrigin: an OPTIONS with Access-Control-Request-Method
// but no Origin is not a preflight (docs/reference.md §3.7), so it is authenticated.
func TestCORSOptionsWithoutOrigin(t *testing.T) {
	up := newEcho(t)
	g := newGatewayWith(t, &CORS{AllowedOrigins: []string{"*"}}, corsRoutes(t, up.URL)...)
	resp, body := g.do(t, http.MethodOptions, "/api/x", "Access-Control-Request-Method", "GET")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status: got %d, want 401: %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("Access-Control-Allow-Origin: got %q, want none without Origin", got)
	}
	if got := resp.Header.Values("Vary"); !slices.Equal(got, []string{"Origin"}) {
		t.Errorf("Vary: got %q, want %q", got, []string{"Origin"})
	}
}

func TestNewCORSErrors(t *testing.T) {
	up := mustURL(t, "http://127.0.0.1:1")
	tests := []struct {
		name string
		cors CORS
		want string
	}{
		{name: "no origins", cors: CORS{}, want: "cors.allowed_origins: must not be empty"},
		{name: "star with credentials", cors: CORS{AllowedOrigins: []string{appOrigin, "*"}, AllowCredentials: true},
			want: `cors.allowed_origins[1]: "*" is not allowed with allow_credentials: true; list the origins`},
		{name: "wildcard inside an origin", cors: CORS{AllowedOrigins: []string{"https://*.example.com"}},
			want: "wildcards are not supported"},
		{name: "path", cors: CORS{AllowedOrigins: []string{"https://app.example.com/app"}},
			want: "use scheme://host[:port] only"},
		{name: "query", cors: CORS{AllowedOrigins: []string{"https://app.example.com?x=1"}},
			want: "use scheme://host[:port] only"},
		{name: "no scheme", cors: CORS{AllowedOrigins: []string{"app.example.com"}},
			want: "is not an origin such as"},
		{name: "bad method", cors: CORS{AllowedOrigins: []string{appOrigin}, AllowedMethods: []string{"GET", "PO ST"}},
			want: `cors.allowed_methods[1]: must be an uppercase HTTP method such as GET`},
		{name: "lower-case method", cors: CORS{AllowedOrigins: []string{appOrigin}, AllowedMethods: []string{"get"}},
			want: `cors.allowed_methods[0]: must be an uppercase HTTP method such as GET`},
		{name: "ftp origin", cors: CORS{AllowedOrigins: []string{"ftp://app.example.com"}},
			want: `cors.allowed_origins[0]: "ftp://app.example.com" is not an origin such as https://app.example.com`},
		{name: "bad allowed header", cors: CORS{AllowedOrigins: []string{appOrigin}, AllowedHeaders: []string{"X:Y"}},
			want: `cors.allowed_headers[0]: "X:Y" is not a header name`},
		{name: "bad exposed header", cors: CORS{AllowedOrigins: []string{appOrigin}, ExposedHeaders: []string{""}},
			want: `cors.exposed_headers[0]: "" is not a header name`},
		{name: "negative max age", cors: CORS{AllowedOrigins: []string{appOrigin}, MaxAge: -time.Second},
			want: "cors.max_age: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			co := tt.cors
			_, err := New(Options{Routes: []Route{{Name: "r", PathPrefix: "/", Upstream: up, Mode: policy.None}}, CORS: &co})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestCORSAfterEarlyHints: ReverseProxy clears the response headers after
// relaying an interim 1xx response; the final response must still carry the
// gateway's CORS headers and X-Request-Id, once each. Regression: both were
// missing after an upstream's 103 Early Hints.
func TestCORSAfterEarlyHints(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(up.Close)

	tests := []struct {
		name, origin, wantACAO string
	}{
		{name: "allowed origin", origin: appOrigin, wantACAO: appOrigin},
		{name: "disallowed origin", origin: otherOrigin},
	}
	g := newGatewayWith(t, &CORS{AllowedOrigins: []string{appOrigin}},
		Route{Name: "hints", PathPrefix: "/", Upstream: mustURL(t, up.URL), Mode: policy.None})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := g.do(t, http.MethodGet, "/x", "Origin", tt.origin, "X-Request-Id", "hints-1")
			if resp.StatusCode != http.StatusOK || string(body) != "ok" {
				t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, body, "ok")
			}
			var want []string
			if tt.wantACAO != "" {
				want = []string{tt.wantACAO}
			}
			if got := resp.Header.Values("Access-Control-Allow-Origin"); !slices.Equal(got, want) {
				t.Errorf("Access-Control-Allow-Origin: got %q, want %q", got, want)
			}
			if got := resp.Header.Values("X-Request-Id"); !slices.Equal(got, []string{"hints-1"}) {
				t.Errorf("X-Request-Id: got %q, want %q", got, []string{"hints-1"})
			}
			if got := resp.Header.Values("Vary"); !slices.Equal(got, []string{"Origin"}) {
				t.Errorf("Vary: got %q, want %q", got, []string{"Origin"})
			}
		})
	}
}
