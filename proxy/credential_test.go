package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/policy"
)

// fakeCredential hands out tok-1, tok-2, … : Token returns the cached token,
// or mints the next one when there is none; Invalidate drops the cached one
// if it is the token named. It records every call.
type fakeCredential struct {
	name string
	err  func(call int) error // if set and non-nil for a Token call (1-based), Token fails

	mu          sync.Mutex
	minted      int
	cached      string
	calls       int
	clients     []string // clientToken of each Token call
	invalidated []string // "client/token" of each Invalidate call
}

func (f *fakeCredential) Name() string { return f.name }

func (f *fakeCredential) Token(_ context.Context, clientToken string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.clients = append(f.clients, clientToken)
	if f.err != nil {
		if err := f.err(f.calls); err != nil {
			return "", err
		}
	}
	if f.cached == "" {
		f.minted++
		f.cached = fmt.Sprintf("tok-%d", f.minted)
	}
	return f.cached, nil
}

func (f *fakeCredential) Invalidate(clientToken, token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invalidated = append(f.invalidated, clientToken+"/"+token)
	if f.cached == token {
		f.cached = ""
	}
}

func (f *fakeCredential) stats() (calls int, clients, invalidated []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, slices.Clone(f.clients), slices.Clone(f.invalidated)
}

// attempt is one request the credential upstream received.
type attempt struct {
	auth          []string // every Authorization value
	body          []byte
	contentLength int64
}

// credUpstream records each request's Authorization and body, and answers
// 401 (with a body and a challenge of its own) to the tokens refuse says
// it refuses, 200 with "ok" otherwise.
type credUpstream struct {
	*httptest.Server
	mu       sync.Mutex
	attempts []attempt
}

func newCredUpstream(t testing.TB, refuse func(auth string) bool) *credUpstream {
	t.Helper()
	u := &credUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("upstream reading the body: %v", err)
		}
		u.mu.Lock()
		u.attempts = append(u.attempts, attempt{auth: r.Header.Values("Authorization"), body: body, contentLength: r.ContentLength})
		u.mu.Unlock()
		if refuse(r.Header.Get("Authorization")) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "upstream refused "+r.Header.Get("Authorization"))
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *credUpstream) seen() []attempt {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.attempts)
}

// auths returns the Authorization values of each attempt, joined by ",".
func (u *credUpstream) auths() []string {
	var out []string
	for _, a := range u.seen() {
		out = append(out, strings.Join(a.auth, ","))
	}
	return out
}

func refuseToken(tokens ...string) func(string) bool {
	return func(auth string) bool {
		return slices.Contains(tokens, strings.TrimPrefix(auth, "Bearer "))
	}
}

// bodyTracker wraps a transport and counts the upstream response bodies
// not yet closed, so a test can assert that none is leaked.
type bodyTracker struct {
	next http.RoundTripper
	open atomic.Int64
}

func (b *bodyTracker) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := b.next.RoundTrip(r)
	// A 101's body is the upgraded connection, which ReverseProxy needs
	// writable: left as is.
	if err == nil && res.StatusCode != http.StatusSwitchingProtocols {
		b.open.Add(1)
		res.Body = &trackedBody{ReadCloser: res.Body, open: &b.open}
	}
	return res, err
}

type trackedBody struct {
	io.ReadCloser
	open *atomic.Int64
	once sync.Once
}

func (b *trackedBody) Close() error {
	b.once.Do(func() { b.open.Add(-1) })
	return b.ReadCloser.Close()
}

// credGateway is a gateway whose upstream transport is tracked.
func credGateway(t testing.TB, routes ...Route) (*gateway, *bodyTracker) {
	t.Helper()
	base := NewTransport()
	t.Cleanup(base.CloseIdleConnections)
	bt := &bodyTracker{next: base}
	return newGatewayOpts(t, Options{Routes: routes, Transport: bt}), bt
}

func credRoute(t testing.TB, up string, cred Credential) Route {
	return Route{Name: "billing", PathPrefix: "/billing", Upstream: mustURL(t, up), Mode: policy.Optional,
		Auth: fixtureAuth(t), Credential: cred}
}

// checkNoOpenBodies fails if an upstream response body is still open once
// the gateway has answered (the first 401 of a retry must be closed).
func checkNoOpenBodies(t testing.TB, bt *bodyTracker) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for bt.open.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("upstream response bodies left open: %d", bt.open.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCredentialReplacesClientToken(t *testing.T) {
	up := newCredUpstream(t, func(string) bool { return false })
	cred := &fakeCredential{name: "billing"}
	g, bt := credGateway(t, credRoute(t, up.URL, cred))

	// StripAuthorization is false (authorization: keep): the client's
	// token must still not go upstream.
	resp, body := g.do(t, "GET", "/billing/x", "Authorization", "Bearer good")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d, want 200: %s", resp.StatusCode, body)
	}
	resp, body = g.do(t, "GET", "/billing/x") // anonymous, optional route
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("anonymous: status: got %d, want 200: %s", resp.StatusCode, body)
	}
	if got, want := up.auths(), []string{"Bearer tok-1", "Bearer tok-1"}; !slices.Equal(got, want) {
		t.Errorf("upstream Authorization: got %q, want %q", got, want)
	}
	calls, clients, inv := cred.stats()
	if calls != 2 || !slices.Equal(clients, []string{"good", ""}) {
		t.Errorf("Token calls: got %d with client tokens %q, want 2 with %q", calls, clients, []string{"good", ""})
	}
	if len(inv) != 0 {
		t.Errorf("Invalidate calls: got %q, want none", inv)
	}
	checkNoOpenBodies(t, bt)
}

func TestCredentialRetryOn401(t *testing.T) {
	t.Run("fresh token accepted", func(t *testing.T) {
		up := newCredUpstream(t, refuseToken("tok-1"))
		cred := &fakeCredential{name: "billing"}
		g, bt := credGateway(t, credRoute(t, up.URL, cred))
		resp, body := g.do(t, "GET", "/billing/x", "Authorization", "Bearer good")
		if resp.StatusCode != http.StatusOK || string(body) != "ok" {
			t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, body, "ok")
		}
		if got, want := up.auths(), []string{"Bearer tok-1", "Bearer tok-2"}; !slices.Equal(got, want) {
			t.Errorf("upstream Authorization: got %q, want %q", got, want)
		}
		if _, _, inv := cred.stats(); !slices.Equal(inv, []string{"good/tok-1"}) {
			t.Errorf("Invalidate: got %q, want %q", inv, []string{"good/tok-1"})
		}
		// The next request uses the fresh token at once.
		g.do(t, "GET", "/billing/y")
		if got := up.auths(); len(got) != 3 || got[2] != "Bearer tok-2" {
			t.Errorf("next request's Authorization: got %q, want a third attempt with %q", got, "Bearer tok-2")
		}
		checkNoOpenBodies(t, bt)
	})
	t.Run("every token refused", func(t *testing.T) {
		up := newCredUpstream(t, func(string) bool { return true })
		cred := &fakeCredential{name: "billing"}
		g, bt := credGateway(t, credRoute(t, up.URL, cred))
		resp, body := g.do(t, "GET", "/billing/x", "Authorization", "Bearer good")
		// The second 401 is the upstream's, relayed as is: never a loop.
		if resp.StatusCode != http.StatusUnauthorized || string(body) != "upstream refused Bearer tok-2" {
			t.Errorf("got %d %q, want 401 %q", resp.StatusCode, body, "upstream refused Bearer tok-2")
		}
		if got, want := resp.Header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`; got != want {
			t.Errorf("WWW-Authenticate: got %q, want the upstream's %q", got, want)
		}
		if got, want := up.auths(), []string{"Bearer tok-1", "Bearer tok-2"}; !slices.Equal(got, want) {
			t.Errorf("upstream attempts: got %q, want %q", got, want)
		}
		if _, _, inv := cred.stats(); !slices.Equal(inv, []string{"good/tok-1"}) {
			t.Errorf("Invalidate: got %q, want %q (once)", inv, []string{"good/tok-1"})
		}
		checkNoOpenBodies(t, bt)
	})
	t.Run("refetch fails", func(t *testing.T) {
		up := newCredUpstream(t, func(string) bool { return true })
		cred := &fakeCredential{name: "billing", err: func(call int) error {
			if call == 2 {
				return errors.New("token endpoint: 503")
			}
			return nil
		}}
		g, bt := credGateway(t, credRoute(t, up.URL, cred))
		resp, body := g.do(t, "GET", "/billing/x", "X-Request-Id", "refetch-fails")
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("status: got %d, want 502: %s", resp.StatusCode, body)
		}
		if e := errorOf(t, resp, body); e.Error != "bad_gateway" || e.Description != `the upstream credential "billing" could not be obtained` {
			t.Errorf("body: got %+v", e)
		}
		if n := len(up.seen()); n != 1 {
			t.Errorf("upstream attempts: got %d, want 1", n)
		}
		if o := g.outcome(t, func(o Outcome) bool { return o.Route == "billing" }); o.UpstreamError != "credentials" {
			t.Errorf("Outcome.UpstreamError: got %q, want %q", o.UpstreamError, "credentials")
		}
		checkNoOpenBodies(t, bt)
	})
}

func TestCredentialRequestBodies(t *testing.T) {
	type tc struct {
		name     string
		body     func() io.Reader
		want     []byte
		attempts int
		status   int
	}
	small := []byte(`{"amount":42,"currency":"EUR","note":"caf\u00e9 ☕"}`)
	large := bytes.Repeat([]byte("x"), MaxReplayBody+1)
	exact := bytes.Repeat([]byte("y"), MaxReplayBody)
	for _, c := range []tc{
		{name: "small JSON replayed", body: func() io.Reader { return bytes.NewReader(small) }, want: small, attempts: 2, status: 200},
		{name: "exactly the limit replayed", body: func() io.Reader { return bytes.NewReader(exact) }, want: exact, attempts: 2, status: 200},
		{name: "over the limit sent once", body: func() io.Reader { return bytes.NewReader(large) }, want: large, attempts: 1, status: 401},
		// A reader of unknown length: the client sends it chunked
		// (ContentLength -1), and the gateway streams it once.
		{name: "chunked sent once", body: func() io.Reader { return io.MultiReader(bytes.NewReader(small)) }, want: small, attempts: 1, status: 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := newCredUpstream(t, refuseToken("tok-1"))
			g, bt := credGateway(t, credRoute(t, up.URL, &fakeCredential{name: "billing"}))
			resp, body := g.doBody(t, "POST", "/billing/pay", c.body(), "Content-Type", "application/json")
			if resp.StatusCode != c.status {
				t.Fatalf("status: got %d, want %d: %.100s", resp.StatusCode, c.status, body)
			}
			if c.status == 401 && string(body) != "upstream refused Bearer tok-1" {
				t.Errorf("body: got %q, want the upstream's 401 body", body)
			}
			got := up.seen()
			if len(got) != c.attempts {
				t.Fatalf("upstream attempts: got %d, want %d", len(got), c.attempts)
			}
			for i, a := range got {
				if !bytes.Equal(a.body, c.want) {
					t.Errorf("attempt %d: body of %d bytes differs from the %d sent", i+1, len(a.body), len(c.want))
				}
			}
			checkNoOpenBodies(t, bt)
		})
	}
}

func TestCredentialTokenError(t *testing.T) {
	up := newCredUpstream(t, func(string) bool { return false })
	cred := &fakeCredential{name: "billing", err: func(int) error {
		// A careless source quoting what it was given: the client's token
		// must be redacted from the log.
		return errors.New("exchange of good failed: invalid_client")
	}}
	g, _ := credGateway(t, credRoute(t, up.URL, cred))
	resp, body := g.doBody(t, "POST", "/billing/pay", strings.NewReader(`{"a":1}`),
		"Authorization", "Bearer good", "X-Request-Id", "cred-err")
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status: got %d, want 502: %s", resp.StatusCode, body)
	}
	e := errorOf(t, resp, body)
	if want := `the upstream credential "billing" could not be obtained`; e.Error != "bad_gateway" || e.Description != want {
		t.Errorf("body: got %+v, want bad_gateway %q", e, want)
	}
	if n := len(up.seen()); n != 0 {
		t.Errorf("upstream requests: got %d, want none", n)
	}
	o := g.outcome(t, func(o Outcome) bool { return o.Route == "billing" })
	if o.UpstreamError != "credentials" || o.Status != http.StatusBadGateway || o.Reason != "ok" {
		t.Errorf("Outcome: got status %d, upstream error %q, reason %q; want 502, credentials, ok", o.Status, o.UpstreamError, o.Reason)
	}
	line := g.log.Access(t, "cred-err")
	if line["upstream_error"] != "credentials" {
		t.Errorf("access line upstream_error: got %v, want credentials", line["upstream_error"])
	}
	msg, _ := line["error"].(string)
	if !strings.Contains(msg, `upstream credential "billing"`) || !strings.Contains(msg, "invalid_client") || strings.Contains(msg, "good") {
		t.Errorf("access line error: got %q, want the cause, with the client token redacted", msg)
	}
}

// TestCredentialRawClientAuthorization sends the client's Authorization on
// the wire in the ways a client might hope to get it past the gateway: as
// is, and named in Connection (which would make the gateway's hop-by-hop
// removal drop the Authorization it sets, were it set before that).
func TestCredentialRawClientAuthorization(t *testing.T) {
	var mu sync.Mutex
	var seen [][]string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Values("Authorization"))
		mu.Unlock()
		raw, _ := json.Marshal(r.Header)
		w.Write(raw)
	}))
	t.Cleanup(up.Close)
	g, _ := credGateway(t, credRoute(t, up.URL, &fakeCredential{name: "billing"}))
	for _, req := range []string{
		"GET /billing/x HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer good\r\nConnection: close\r\n\r\n",
		"GET /billing/x HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer good\r\nConnection: close, Authorization\r\n\r\n",
		"GET /billing/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
	} {
		resp, body := raw(t, g.addr(), req)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%q: status %d: %s", req, resp.StatusCode, body)
		}
		if bytes.Contains(body, []byte("good")) {
			t.Errorf("%q: the client's token reached the upstream: %s", req, body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, v := range seen {
		if !slices.Equal(v, []string{"Bearer tok-1"}) {
			t.Errorf("request %d: upstream Authorization: got %q, want exactly %q", i+1, v, "Bearer tok-1")
		}
	}
}

// TestCredentialWebSocket checks that a handshake on a credential route is
// proxied with the gateway's token, and that a 401 to a handshake is relayed
// without a retry.
func TestCredentialWebSocket(t *testing.T) {
	var attempts atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		if r.Header.Get("Authorization") != "Bearer tok-1" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		io.Copy(conn, brw) // echo until the client closes
	}))
	t.Cleanup(up.Close)
	cred := &fakeCredential{name: "billing"}
	g, _ := credGateway(t, credRoute(t, up.URL, cred))

	handshake := func() (net.Conn, *bufio.Reader, *http.Response) {
		conn, err := net.Dial("tcp", g.addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, "GET /billing/ws HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nAuthorization: Bearer good\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatal(err)
		}
		return conn, br, resp
	}
	conn, br, resp := handshake()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status: got %d, want 101", resp.StatusCode)
	}
	io.WriteString(conn, "hello\n")
	if got, err := br.ReadString('\n'); err != nil || got != "hello\n" {
		t.Errorf("echo: got %q, %v; want %q", got, err, "hello\n")
	}
	conn.Close()

	// The upstream now refuses tok-1's successor; make the cached token
	// one it refuses, and check that the handshake's 401 is not retried.
	cred.Invalidate("good", "tok-1")
	before := attempts.Load()
	_, _, resp = handshake()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status: got %d, want the upstream's 401", resp.StatusCode)
	}
	if n := attempts.Load() - before; n != 1 {
		t.Errorf("upstream attempts for the refused handshake: got %d, want 1", n)
	}
}

// TestCredentialTimeout checks that the route's timeout bounds both attempts
// together: each answers within it, the two do not.
func TestCredentialTimeout(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(up.Close)
	rt := credRoute(t, up.URL, &fakeCredential{name: "billing"})
	rt.Timeout = 500 * time.Millisecond
	g, bt := credGateway(t, rt)
	resp, body := g.do(t, "GET", "/billing/x")
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status: got %d, want 504: %s", resp.StatusCode, body)
	}
	if o := g.outcome(t, func(o Outcome) bool { return o.Route == "billing" }); o.UpstreamError != "timeout" {
		t.Errorf("Outcome.UpstreamError: got %q, want %q", o.UpstreamError, "timeout")
	}
	checkNoOpenBodies(t, bt)
}

// refusedErr is a Credential error that refuses the client's token, as a
// token exchange the token endpoint refused (invalid_grant) is.
type refusedErr struct{}

func (refusedErr) Error() string { return "token endpoint refused the request (400): invalid_grant" }
func (refusedErr) Refused() bool { return true }

func TestCredentialRefused(t *testing.T) {
	up := newCredUpstream(t, refuseToken("tok-1"))
	cred := &fakeCredential{name: "drive", err: func(call int) error {
		if call == 1 {
			return fmt.Errorf("credential %q: %w", "drive", refusedErr{})
		}
		if call == 3 { // the refetch after the upstream refused tok-1
			return fmt.Errorf("credential %q: %w", "drive", refusedErr{})
		}
		return nil
	}}
	r := credRoute(t, up.URL, cred)
	r.Scopes = []string{"files:read"}
	g, _ := credGateway(t, r)
	for i, tc := range []struct {
		name     string
		upstream int
	}{
		{"refused before forwarding", 0},
		{"refused on the retry after a 401", 1},
	} {
		resp, body := g.doBody(t, "GET", "/billing/x", nil, "Authorization", "Bearer good", "X-Request-Id", fmt.Sprint("refused-", i))
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: status: got %d, want 403: %s", tc.name, resp.StatusCode, body)
		}
		e := errorOf(t, resp, body)
		if e.Error != "insufficient_scope" || !strings.Contains(e.Description, `"drive"`) {
			t.Errorf("%s: body: got %+v, want insufficient_scope naming the credential", tc.name, e)
		}
		wa := resp.Header.Get("WWW-Authenticate")
		if !strings.HasPrefix(wa, `Bearer realm=`) || !strings.Contains(wa, `error="insufficient_scope"`) || !strings.Contains(wa, `scope="files:read"`) {
			t.Errorf("%s: WWW-Authenticate: got %q, want an insufficient_scope challenge naming the scope", tc.name, wa)
		}
		if n := len(up.seen()); n != tc.upstream {
			t.Errorf("%s: upstream requests: got %d, want %d", tc.name, n, tc.upstream)
		}
		o := g.nthOutcome(t, i) // Observe may run after the client has its answer
		if o.UpstreamError != "" || o.Status != http.StatusForbidden {
			t.Errorf("%s: Outcome: got status %d, upstream error %q; want 403, none", tc.name, o.Status, o.UpstreamError)
		}
	}
}

// emptyCredential is a token exchange's answer to an anonymous request: no
// token, no error.
type emptyCredential struct{ fakeCredential }

func (e *emptyCredential) Token(ctx context.Context, clientToken string) (string, error) {
	if clientToken == "" {
		return "", nil
	}
	return e.fakeCredential.Token(ctx, clientToken)
}

func TestCredentialAnonymousNoAuthorization(t *testing.T) {
	up := newCredUpstream(t, func(string) bool { return false })
	cred := &emptyCredential{fakeCredential{name: "drive"}}
	g, _ := credGateway(t, credRoute(t, up.URL, cred))
	resp, body := g.doBody(t, "GET", "/billing/x", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d, want 200: %s", resp.StatusCode, body)
	}
	if got := up.auths(); !slices.Equal(got, []string{""}) {
		t.Errorf("upstream Authorization: got %q, want none", got)
	}
}

// nthOutcome waits for the i-th (0-based) Outcome and returns it.
func (g *gateway) nthOutcome(t testing.TB, i int) Outcome {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		g.mu.Lock()
		if len(g.outcomes) > i {
			defer g.mu.Unlock()
			return g.outcomes[i]
		}
		g.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no outcome %d", i)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
