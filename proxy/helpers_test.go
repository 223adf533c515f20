package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testkit"

	"github.com/authgate/authgate/internal/auth"
	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/verify"
	"github.com/authgate/authgate/policy"
)

// echoed is what the echo upstream received.
type echoed struct {
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	RawPath    string      `json:"raw_path"`
	RequestURI string      `json:"request_uri"`
	Query      string      `json:"query"`
	Host       string      `json:"host"`
	Header     http.Header `json:"header"`
}

// echoUpstream is a real upstream that answers with what it received and
// counts its requests.
type echoUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	hits int
	uris []string // request URIs, in order
}

func newEcho(t testing.TB) *echoUpstream {
	t.Helper()
	return newEchoWith(t, nil)
}

// newEchoWith is newEcho whose responses also carry extra, keys as given
// (so non-canonical names go on the wire as written).
func newEchoWith(t testing.TB, extra http.Header) *echoUpstream {
	t.Helper()
	e := &echoUpstream{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.hits++
		e.uris = append(e.uris, r.RequestURI)
		e.mu.Unlock()
		for k, v := range extra {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "from-upstream")
		_ = json.NewEncoder(w).Encode(echoed{
			Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, RequestURI: r.RequestURI,
			Query: r.URL.RawQuery, Host: r.Host, Header: r.Header,
		})
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *echoUpstream) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits
}

// seen returns the request URIs the upstream received from the n-th request
// on (0-based).
func (e *echoUpstream) seen(from int) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.uris[from:])
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// authResult is what fakeAuth answers for one token.
type authResult struct {
	id  *verify.Identity
	err error
}

// fakeAuth authenticates by table lookup: real verification is tested in
// internal/verify and internal/auth. An unknown token is refused with an
// error whose text quotes the token, as a careless library might, so tests
// can check that it never reaches a client or a log. The token "block"
// waits for the request to end. A result's issuer comes from an issuerErr
// in its error, or from its identity.
type fakeAuth map[string]authResult

func (f fakeAuth) Authenticate(ctx context.Context, req auth.Request) auth.Result {
	token := req.Credentials
	if token == "block" {
		<-ctx.Done()
		return auth.Result{Err: fmt.Errorf("%w: waiting for keys: %w", reason.ErrKeysUnavailable, ctx.Err())}
	}
	res, ok := f[token]
	if !ok {
		return auth.Result{Err: fmt.Errorf("%w: cannot verify %s", reason.ErrBadSignature, token)}
	}
	if res.err != nil {
		return auth.Result{Err: res.err, Issuer: issuerOf(res.err)}
	}
	if res.id == nil {
		return auth.Result{}
	}
	return auth.Result{Identity: res.id, Issuer: res.id.Issuer, Subject: res.id.Subject}
}

// identity builds a verified identity from a JSON payload, decoded the way
// verify decodes it.
func identity(t testing.TB, issuer, payload string, scopes ...string) *verify.Identity {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(payload))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("payload %q: %v", payload, err)
	}
	sub, _ := m["sub"].(string)
	return &verify.Identity{Issuer: issuer, Subject: sub, Claims: m, Payload: []byte(payload), Scopes: scopes}
}

// issuerErr carries an issuer name the way verify's errors do; issuerOf
// reads it for fakeAuth's results.
type issuerErr struct {
	issuer string
	err    error
}

func (e *issuerErr) Error() string { return e.err.Error() }
func (e *issuerErr) Unwrap() error { return e.err }

func issuerOf(err error) string {
	var ie *issuerErr
	if errors.As(err, &ie) {
		return ie.issuer
	}
	return ""
}

// gateway is a Handler behind a real server, with its log and outcomes.
type gateway struct {
	*httptest.Server
	h   *Handler
	log *testkit.LogBuffer

	mu       sync.Mutex
	outcomes []Outcome
}

func newGateway(t testing.TB, routes ...Route) *gateway {
	t.Helper()
	return newGatewayOpts(t, Options{Routes: routes})
}

// newGatewayOpts is newGateway with options of the test's own (a
// transport, say); the logger, access log and Observe are the gateway's.
func newGatewayOpts(t testing.TB, o Options) *gateway {
	t.Helper()
	g := &gateway{log: &testkit.LogBuffer{}}
	o.Logger = slog.New(slog.NewJSONHandler(g.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.AccessLog = true
	o.Observe = func(out Outcome) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.outcomes = append(g.outcomes, out)
	}
	h, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g.h = h
	g.Server = httptest.NewServer(h)
	g.Client().Timeout = 10 * time.Second // a hang fails the test instead of stalling it
	t.Cleanup(func() {
		g.Close()
		h.Close()
	})
	return g
}

// do sends a request through the gateway. hdr values are added in order, so
// a key may repeat.
func (g *gateway) do(t testing.TB, method, target string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	return g.doBody(t, method, target, nil, hdr...)
}

// doBody is do with a request body.
func (g *gateway) doBody(t testing.TB, method, target string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, g.URL+target, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := g.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, got
}

// raw sends a request exactly as written (so nothing cleans its path) and
// returns the response and body.
func raw(t testing.TB, addr, request string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	// The request tells ReadResponse whether a body follows (not for HEAD).
	method, _, _ := strings.Cut(request, " ")
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading response to %q: %v", request, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func (g *gateway) addr() string { return strings.TrimPrefix(g.URL, "http://") }

// rawResponse is one response read off a raw connection, with its body.
type rawResponse struct {
	*http.Response
	body []byte
}

// rawSession writes data (a request and whatever an attacker sends behind
// it: pipelined requests, another protocol's bytes) in one write, then reads
// responses until the server closes the connection or none arrives for two
// seconds. closed reports whether the server closed the connection.
func rawSession(t testing.TB, addr, data string) (resps []rawResponse, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, data); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return resps, false
			}
			return resps, true // EOF, or a reset: the server hung up
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("reading response body: %v", err)
		}
		resps = append(resps, rawResponse{Response: resp, body: body})
	}
}

// echoOf decodes the echo upstream's answer.
func echoOf(t testing.TB, resp *http.Response, body []byte) echoed {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d, want 200: %s", resp.StatusCode, body)
	}
	var e echoed
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("upstream answer %q: %v", body, err)
	}
	return e
}

// errorOf decodes a gateway error body and checks the headers every error
// response carries (docs/reference.md §3.6).
func errorOf(t testing.TB, resp *http.Response, body []byte) errorBody {
	t.Helper()
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type: got %q, want %q", got, "application/json")
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want %q", got, "no-store")
	}
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e
}

// The fixture's payload: every claim encoding of docs/reference.md §3.5.
const alicePayload = `{"sub":"alice","iss":"https://issuer.example","exp":1700000000,"scope":"read",` +
	`"realm_access":{"roles":["reader","writer"]},"admin":true,"pi":3.5,"org":{"id":7,"name":"acme"},` +
	`"https://example.com/groups":["g1",2,false],"nothing":null}`

// fixtureAuth knows a few tokens, each standing for one verification outcome.
func fixtureAuth(t testing.TB) fakeAuth {
	return fakeAuth{
		"good":      {id: identity(t, "main", alicePayload, "read")},
		"tkExpired": {err: &issuerErr{"main", fmt.Errorf("%w: exp 1700000000 is in the past", reason.ErrExpired)}},
		"noscope":   {err: &issuerErr{"main", fmt.Errorf("%w: admin not granted", reason.ErrInsufficientScope)}},
		"mismatch":  {err: &issuerErr{"main", fmt.Errorf("%w: /tenant", reason.ErrClaimMismatch)}},
		"nokeys":    {err: &issuerErr{"main", fmt.Errorf("%w: fetch failed", reason.ErrKeysUnavailable)}},
		"broken":    {err: errors.New("authenticator bug")},
		"missing":   {err: reason.ErrMissing},
		"newline":   {id: identity(t, "main", `{"sub":"mallory\nX-Admin: true"}`)},
		"nil":       {},
	}
}

// fixtureRoutes covers every mode and forwarding option against one
// upstream.
func fixtureRoutes(t testing.TB, up string) []Route {
	auth := fixtureAuth(t)
	headers := map[string]string{
		"X-User-Id": "sub", "X-Roles": "/realm_access/roles", "X-Exp": "exp", "X-Admin": "admin",
		"X-Pi": "pi", "X-Org": "org", "X-Groups": "https://example.com/groups", "X-Email": "email",
		"X-Nothing": "nothing",
	}
	return []Route{
		{Name: "public", PathPrefix: "/public", Upstream: mustURL(t, up), Mode: policy.None},
		{Name: "optional", PathPrefix: "/opt", Upstream: mustURL(t, up), Mode: policy.Optional, Auth: auth,
			Headers: map[string]string{"X-User-Id": "sub"}},
		{Name: "admin", PathPrefix: "/admin", Upstream: mustURL(t, up), Mode: policy.Required, Auth: auth,
			Scopes: []string{"admin", "write"}},
		{Name: "noscopes", PathPrefix: "/plain", Upstream: mustURL(t, up), Mode: policy.Required, Auth: auth},
		{Name: "api", PathPrefix: "/api", Upstream: mustURL(t, up), Mode: policy.Required, Auth: auth,
			Headers: headers, ClaimsHeader: "X-Auth-Claims"},
		{Name: "stripped", PathPrefix: "/strip", Upstream: mustURL(t, up), Mode: policy.Required, Auth: auth,
			StripAuthorization: true},
	}
}

// Attack traffic: a request behind the one the gateway
// answers, for a guarded path without a token and for a public path, and
// the HTTP/2 connection preface a client sends once it believes h2c is on.
const (
	smuggledGuarded = "GET /api/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n"
	smuggledPublic  = "GET /public/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n"
	h2Preface       = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"
	h2cHeaders      = "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
)

// checkUpstreamSaw fails unless the upstream received exactly want (request
// URIs) since it had received from requests.
func checkUpstreamSaw(t testing.TB, up *echoUpstream, from int, want ...string) {
	t.Helper()
	got := up.seen(from)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("upstream received %q, want %q", got, want)
	}
}
