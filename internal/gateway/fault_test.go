package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testkit"
)

// Fault injection: the issuer and the upstream fail in the ways real ones
// do while a real gateway (configuration, verification, readiness) runs in
// front of them. Each case checks what the client gets, what /readyz says,
// and that the gateway recovers once the fault clears. Key-set-level
// details (observations, the previous set) are in jwks/fault_test.go; the
// proxy's own upstream tests are in proxy/upstream_test.go.
//
// Durations are short so that faults and recoveries show quickly; the tests
// poll for the expected state with a deadline and never assert how long
// anything took. The rules that count time (max_stale, min_refresh_interval,
// a token's exp) read the gateway's injected clock, which stands still until
// a test advances it; only the refresh timers and HTTP timeouts run on the
// wall clock.

// faultEnv is a gateway with one issuer "main" (discovery at is.URL) and
// the routes of its configuration, logging JSON at debug level into logs,
// with clock as its clock.
type faultEnv struct {
	is        *testkit.Issuer
	gw, admin string
	logs      *testkit.LogBuffer
	clock     *testkit.Clock
}

// startFaultEnv starts a gateway for is with the given jwks block (YAML
// flow mapping) and routes (YAML list items, "{U}" standing for an echo
// upstream's URL). It does not wait for readiness.
func startFaultEnv(t *testing.T, is *testkit.Issuer, jwks, routes string) *faultEnv {
	t.Helper()
	up := testkit.NewSwitchServer(t, http.HandlerFunc(echoUser))
	yaml := fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
issuers:
  - { name: main, issuer: %q, audiences: [api], jwks: %s }
routes:
%s`, is.URL, jwks, strings.ReplaceAll(routes, "{U}", up.URL))
	logs := &testkit.LogBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := testkit.NewClock(time.Now())
	gw, admin, _ := serveClock(t, parseConfig(t, yaml), logger, clock.Now)
	return &faultEnv{is: is, gw: gw, admin: admin, logs: logs, clock: clock}
}

// apiRoute is one required route on the issuer, forwarding the subject.
const apiRoute = `  - { name: api, match: { path_prefix: /api }, upstream: { url: "{U}" }, forward: { headers: { X-User-Id: sub } } }
`

// echoUser answers "ok <X-User-Id>": what the upstream learned of the
// verified identity.
func echoUser(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok "+r.Header.Get("X-User-Id"))
}

// token is a token of e's issuer for audience api, signed with k, valid
// for a day of the gateway's clock: longer than any test advances it.
func (e *faultEnv) token(t *testing.T, k testkit.Key) string {
	t.Helper()
	now := e.clock.Now()
	return e.is.Token(t, k, map[string]any{"sub": "alice", "aud": "api", "iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix()})
}

// reply is one response as the client saw it.
type reply struct {
	status int
	header http.Header
	body   string
	code   string // the JSON body's "error", "" when there is none
	id     string // the X-Request-Id sent
}

var requestSeq atomic.Int64

// get sends GET url with token (none when "") and a fresh X-Request-Id.
func get(t *testing.T, url, token string) reply {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("fault-%d", requestSeq.Add(1))
	req.Header.Set("X-Request-Id", id)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, body: string(b), id: id}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var e struct{ Error string }
		_ = json.Unmarshal(b, &e)
		r.code = e.Error
	}
	return r
}

// wantServed asserts a 200 from the echo upstream for alice.
func wantServed(t *testing.T, what string, r reply) {
	t.Helper()
	if r.status != http.StatusOK || r.body != "ok alice" {
		t.Errorf("%s: got %d %q, want 200 %q", what, r.status, r.body, "ok alice")
	}
}

// wantError asserts an error response of the gateway's own (docs/reference.md §3.6).
func wantError(t *testing.T, what string, r reply, status int, code string) {
	t.Helper()
	if r.status != status || r.code != code {
		t.Errorf("%s: got %d %q, want %d with error %q", what, r.status, r.body, status, code)
	}
	if got := r.header.Get("Cache-Control"); r.status == status && got != "no-store" {
		t.Errorf("%s: Cache-Control: got %q, want no-store", what, got)
	}
}

// wantUnavailable asserts the 503 for keys that are not usable (§3.3 step 5).
func wantUnavailable(t *testing.T, what string, r reply) {
	t.Helper()
	wantError(t, what, r, http.StatusServiceUnavailable, "temporarily_unavailable")
	if got := r.header.Get("Retry-After"); got == "" {
		t.Errorf("%s: 503 without Retry-After", what)
	}
}

// waitFor polls cond until it holds, failing the test after 15s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitLog waits for a log line with message msg whose err contains sub,
// and returns how many lines with message msg there are by then.
func (e *faultEnv) waitLog(t *testing.T, msg, sub string) int {
	t.Helper()
	n := 0
	waitFor(t, fmt.Sprintf("a log line %q with err containing %q", msg, sub), func() bool {
		lines := e.logs.Lines(t, msg)
		n = len(lines)
		for _, l := range lines {
			if s, _ := l["err"].(string); strings.Contains(s, sub) {
				return true
			}
		}
		return false
	})
	return n
}

// readyz returns /readyz's status and body now.
func (e *faultEnv) readyz(t *testing.T) (int, string) {
	t.Helper()
	r := get(t, e.admin+"/readyz", "")
	return r.status, r.body
}

// keyWithKID is k under another kid: a token signed by k that names kid.
func keyWithKID(k testkit.Key, kid string) testkit.Key {
	k.KID = kid
	return k
}

// TestFaultIssuerDownAtStart: the issuer refuses connections when the
// gateway starts. Requests get 503 and /readyz names the issuer and the
// refusal; once the issuer listens, the backoff retries bring the keys in.
func TestFaultIssuerDownAtStart(t *testing.T) {
	is := testkit.NewIssuer(t)
	is.SetDown(true)
	e := startFaultEnv(t, is, `{ refresh_interval: 50ms, min_refresh_interval: 10ms, max_stale: 200ms }`, apiRoute)
	tok := e.token(t, is.Keys()[0])

	waitReadyz(t, e.admin, http.StatusServiceUnavailable, `issuer \"main\"`, "connection refused")
	wantUnavailable(t, "issuer down", get(t, e.gw+"/api/x", tok))

	is.SetDown(false)
	waitReady(t, e.admin)
	wantServed(t, "issuer up", get(t, e.gw+"/api/x", tok))
}

// TestFaultIssuerDownLater: the issuer goes away after a good fetch. The
// cached keys keep serving while refreshes fail, until the set is older
// than max_stale; then 503 and /readyz 503. The issuer's return recovers.
func TestFaultIssuerDownLater(t *testing.T) {
	is := testkit.NewIssuer(t)
	e := startFaultEnv(t, is, `{ refresh_interval: 50ms, min_refresh_interval: 10ms, max_stale: 1h }`, apiRoute)
	tok := e.token(t, is.Keys()[0])
	waitReady(t, e.admin)
	wantServed(t, "before", get(t, e.gw+"/api/x", tok))

	is.SetDown(true)
	e.waitLog(t, "key set refresh failed; serving the previous set", "connection refused")
	// The clock has not moved: the set is as old as it was at the last
	// good fetch, well inside max_stale.
	wantServed(t, "refresh failing, set not yet stale", get(t, e.gw+"/api/x", tok))

	e.clock.Advance(time.Hour + time.Second) // past max_stale
	waitReadyz(t, e.admin, http.StatusServiceUnavailable, `issuer \"main\"`, "connection refused")
	wantUnavailable(t, "set older than max_stale", get(t, e.gw+"/api/x", tok))

	is.SetDown(false)
	waitReady(t, e.admin)
	wantServed(t, "issuer back", get(t, e.gw+"/api/x", tok))
}

// TestFaultIssuerHangs: the key set endpoint accepts the connection and
// never answers. The fetch fails at jwks.timeout; meanwhile requests whose
// key is cached are answered without waiting for it, and the next refresh
// after the endpoint answers again succeeds.
func TestFaultIssuerHangs(t *testing.T) {
	is := testkit.NewIssuer(t)
	e := startFaultEnv(t, is, `{ refresh_interval: 50ms, min_refresh_interval: 10ms, max_stale: 30s, timeout: 1s }`, apiRoute)
	tok := e.token(t, is.Keys()[0])
	waitReady(t, e.admin)

	var inFlight atomic.Int32
	hanging, release := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	is.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != testkit.JWKSPath {
			return false
		}
		inFlight.Add(1)
		defer inFlight.Add(-1)
		select {
		case hanging <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done(): // the gateway gave up
			return true
		case <-release: // the fault cleared: answer normally
			return false
		}
	})
	select {
	case <-hanging:
	case <-time.After(15 * time.Second):
		t.Fatal("no key set fetch reached the hanging endpoint")
	}
	wantServed(t, "known key while a fetch hangs", get(t, e.gw+"/api/x", tok))
	if inFlight.Load() == 0 {
		t.Fatal("the hanging fetch ended before the request was answered, so the test cannot tell whether the request waited for it")
	}

	e.waitLog(t, "key set refresh failed; serving the previous set", "exceeded")
	if status, body := e.readyz(t); status != http.StatusOK {
		t.Errorf("readyz while refreshes time out within max_stale: got %d %s, want 200", status, body)
	}

	good := len(e.logs.Lines(t, "key set refreshed"))
	unblock()
	is.SetFault(nil)
	waitFor(t, "a successful refresh after the endpoint answered again", func() bool {
		return len(e.logs.Lines(t, "key set refreshed")) > good
	})
	wantServed(t, "after recovery", get(t, e.gw+"/api/x", tok))
}

// TestFaultIssuerBadKeySet: after a good fetch, the key set endpoint
// answers with something that is not a usable key set. Each such fetch
// fails (the last good set is not replaced by garbage); once the set is
// older than max_stale, requests get 503 and /readyz names the cause; a
// good answer recovers.
func TestFaultIssuerBadKeySet(t *testing.T) {
	good := testkit.NewECKey(t, "k1")
	tests := []struct {
		name  string
		fault func(is *testkit.Issuer)
		cause string // in the log line and /readyz
	}{
		{"HTTP 500", func(is *testkit.Issuer) {
			is.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != testkit.JWKSPath {
					return false
				}
				http.Error(w, "internal error", http.StatusInternalServerError)
				return true
			})
		}, "unexpected status 500"},
		{"not JSON", func(is *testkit.Issuer) { is.SetJWKS([]byte("\x00\x01 garbage")) }, "decode key set"},
		{"HTML", func(is *testkit.Issuer) {
			is.SetJWKS([]byte("<!doctype html><html><body>Service temporarily unavailable</body></html>"))
		}, "decode key set"},
		{"over the 1 MiB cap", func(is *testkit.Issuer) {
			// A valid set padded past the cap: only the size refuses it.
			is.SetJWKS(append(testkit.JWKSet(t, good), bytes.Repeat([]byte(" "), 1<<20)...))
		}, "exceeds 1048576 bytes"},
		{"no keys", func(is *testkit.Issuer) { is.SetJWKS([]byte(`{"keys":[]}`)) }, "no usable signing keys"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := testkit.NewIssuer(t, good)
			e := startFaultEnv(t, is, `{ refresh_interval: 50ms, min_refresh_interval: 10ms, max_stale: 1h }`, apiRoute)
			tok := e.token(t, good)
			waitReady(t, e.admin)
			wantServed(t, "before", get(t, e.gw+"/api/x", tok))

			tc.fault(is)
			e.waitLog(t, "key set refresh failed; serving the previous set", tc.cause)
			wantServed(t, "failed fetch, set not yet stale", get(t, e.gw+"/api/x", tok))
			e.clock.Advance(time.Hour + time.Second) // past max_stale
			waitReadyz(t, e.admin, http.StatusServiceUnavailable, `issuer \"main\"`, tc.cause)
			wantUnavailable(t, "stale", get(t, e.gw+"/api/x", tok))

			is.SetFault(nil)
			is.SetJWKS(nil)
			waitReady(t, e.admin)
			wantServed(t, "after recovery", get(t, e.gw+"/api/x", tok))
		})
	}
}

// TestFaultKeyRemoved: the issuer stops publishing the key a token names.
// After the next refresh such tokens get 401 unknown_key, and a present
// kid never falls back to the set's other keys: a token naming the removed
// kid but signed with a key still published is refused too (docs/reference.md §3.3
// step 5). Publishing the key again recovers.
func TestFaultKeyRemoved(t *testing.T) {
	k1, k2 := testkit.NewECKey(t, "k1"), testkit.NewECKey(t, "k2")
	is := testkit.NewIssuer(t, k1, k2)
	e := startFaultEnv(t, is, `{ refresh_interval: 50ms, min_refresh_interval: 10ms, max_stale: 200ms }`, apiRoute)
	tok1, tok2 := e.token(t, k1), e.token(t, k2)
	forged := e.token(t, keyWithKID(k2, "k1")) // k2's signature, k1's kid
	waitReady(t, e.admin)
	wantServed(t, "k1 published", get(t, e.gw+"/api/x", tok1))

	is.SetKeys(k2)
	var r reply
	waitFor(t, "tokens with kid k1 to be refused", func() bool {
		r = get(t, e.gw+"/api/x", tok1)
		return r.status != http.StatusOK
	})
	for _, c := range []struct {
		name string
		r    reply
	}{{"kid k1", r}, {"kid k1, signed with k2", get(t, e.gw+"/api/x", forged)}} {
		wantError(t, c.name, c.r, http.StatusUnauthorized, "invalid_token")
		if want := challengeFor("the token's signing key is unknown"); c.r.header.Get("Www-Authenticate") != want {
			t.Errorf("%s: WWW-Authenticate: got %q, want %q", c.name, c.r.header.Get("Www-Authenticate"), want)
		}
		if got := e.logs.Access(t, c.r.id)["reason"]; got != "unknown_key" {
			t.Errorf("%s: logged reason: got %q, want unknown_key", c.name, got)
		}
	}
	wantServed(t, "k2 still published", get(t, e.gw+"/api/x", tok2))
	if status, body := e.readyz(t); status != http.StatusOK {
		t.Errorf("readyz with a good set that lacks one kid: got %d %s, want 200", status, body)
	}

	is.SetKeys(k1, k2)
	waitFor(t, "tokens with kid k1 to be accepted again", func() bool {
		return get(t, e.gw+"/api/x", tok1).status == http.StatusOK
	})
}

// TestFaultRotationWithOverlap: the issuer publishes a new key next to the
// old one, then retires the old one. Until the configured
// min_refresh_interval has passed since the last fetch, the new kid is
// refused at once without a fetch; then the first tokens with it cause
// exactly one refetch between them, shared while a slow key set endpoint
// holds it open. During the overlap both keys verify; the retirement takes
// effect at the next fetch. This is the end-to-end case of the unknown-kid
// refetch; its rules are tested in jwks (TestRotation,
// TestFloodOfUnknownKIDs) and internal/verify (TestUnknownKIDRefetch).
func TestFaultRotationWithOverlap(t *testing.T) {
	k1, k2, k3 := testkit.NewECKey(t, "k1"), testkit.NewECKey(t, "k2"), testkit.NewECKey(t, "k3")
	is := testkit.NewIssuer(t, k1)
	// No periodic refresh during the test: every fetch after the first is a
	// refetch for an unknown kid, allowed once the test advances the clock
	// by minRefresh.
	const minRefresh = time.Minute
	e := startFaultEnv(t, is, fmt.Sprintf(`{ refresh_interval: 1h, min_refresh_interval: %s, max_stale: 2h }`, minRefresh), apiRoute)
	tok1, tok2 := e.token(t, k1), e.token(t, k2)
	waitReady(t, e.admin)
	wantServed(t, "k1 only", get(t, e.gw+"/api/x", tok1))

	is.SetKeys(k1, k2)
	before := is.Hits(testkit.JWKSPath)
	e.clock.Advance(minRefresh - time.Second) // past the default (30s), not the configured interval
	r := get(t, e.gw+"/api/x", tok2)
	wantError(t, "new kid inside min_refresh_interval", r, http.StatusUnauthorized, "invalid_token")
	if got := e.logs.Access(t, r.id)["reason"]; got != "unknown_key" {
		t.Errorf("new kid inside min_refresh_interval: logged reason: got %q, want unknown_key", got)
	}
	if got := is.Hits(testkit.JWKSPath) - before; got != 0 {
		t.Errorf("got %d key set fetches inside min_refresh_interval, want 0", got)
	}
	// min_refresh_interval has now passed since the initial fetch; the
	// refetch stays in flight while the requests pile up.
	e.clock.Advance(time.Second)
	is.SetDelay(300 * time.Millisecond)
	const n = 16
	replies := make([]reply, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { replies[i] = get(t, e.gw+"/api/x", tok2) })
	}
	wg.Wait()
	is.SetDelay(0)
	for i, r := range replies {
		wantServed(t, fmt.Sprintf("new kid, request %d", i), r)
	}
	if got := is.Hits(testkit.JWKSPath) - before; got != 1 {
		t.Errorf("got %d key set fetches for %d concurrent new-kid requests, want 1", got, n)
	}
	wantServed(t, "old kid during the overlap", get(t, e.gw+"/api/x", tok1))

	is.SetKeys(k2)
	wantServed(t, "old kid retired, not fetched yet", get(t, e.gw+"/api/x", tok1))
	e.clock.Advance(minRefresh)
	// A token with a kid the gateway does not know causes the next fetch.
	wantError(t, "unpublished kid", get(t, e.gw+"/api/x", e.token(t, k3)), http.StatusUnauthorized, "invalid_token")
	r = get(t, e.gw+"/api/x", tok1)
	wantError(t, "old kid after the fetch", r, http.StatusUnauthorized, "invalid_token")
	if got := e.logs.Access(t, r.id)["reason"]; got != "unknown_key" {
		t.Errorf("old kid after the fetch: logged reason: got %q, want unknown_key", got)
	}
	wantServed(t, "new kid after the fetch", get(t, e.gw+"/api/x", tok2))
	if status, body := e.readyz(t); status != http.StatusOK {
		t.Errorf("readyz: got %d %s, want 200", status, body)
	}
}

// TestFaultIssuerDNS: the issuer's host name does not resolve (.invalid
// never does, RFC 6761 §6.4). The issuer is not ready, /readyz names it and
// the name, and requests get 503. jwks.timeout bounds the attempt where
// the resolver hangs instead of answering. There is nothing to recover.
func TestFaultIssuerDNS(t *testing.T) {
	is := testkit.NewIssuer(t) // signs the token; never contacted
	up := testkit.NewSwitchServer(t, http.HandlerFunc(echoUser))
	logs := &testkit.LogBuffer{}
	gw, admin, _ := serveConfig(t, parseConfig(t, fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
issuers:
  - { name: dns, issuer: "http://issuer.invalid", audiences: [api], jwks: { refresh_interval: 50ms, min_refresh_interval: 10ms, max_stale: 200ms, timeout: 2s } }
routes:
  - { name: api, match: { path_prefix: /api }, upstream: { url: %q } }
`, up.URL)), slog.New(slog.NewJSONHandler(logs, nil)))

	waitReadyz(t, admin, http.StatusServiceUnavailable, `issuer \"dns\"`, "issuer.invalid")
	tok := is.Token(t, is.Keys()[0], map[string]any{"iss": "http://issuer.invalid", "sub": "alice", "aud": "api"})
	wantUnavailable(t, "issuer unresolvable", get(t, gw+"/api/x", tok))
	if got := is.Hits(testkit.DiscoveryPath) + is.Hits(testkit.JWKSPath); got != 0 {
		t.Errorf("got %d requests to the signing issuer, want 0", got)
	}
}

// TestFaultUpstream: the upstream of a verified route fails after the
// token passed. The client gets the gateway's 502 or 504 while nothing has
// been written, an aborted connection when the upstream breaks off after
// its headers, and a slow body in full. The access line keeps the verified
// identity and the cause; /readyz stays 200 (readiness is about key sets,
// docs/reference.md §4); the next request after the fault clears succeeds.
func TestFaultUpstream(t *testing.T) {
	is := testkit.NewIssuer(t)

	refused := testkit.NewSwitchServer(t, http.HandlerFunc(echoUser))
	refused.SetDown(true)

	var resetBefore atomic.Bool
	resetBefore.Store(true)
	resetBeforeUp := testkit.NewSwitchServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if resetBefore.Load() {
			testkit.BreakConn(w, "", true)
			return
		}
		echoUser(w, r)
	}))

	var resetAfter atomic.Bool
	resetAfter.Store(true)
	abort := make(chan struct{})
	resetAfterUp := testkit.NewSwitchServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !resetAfter.Load() {
			echoUser(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "partial")
		_ = http.NewResponseController(w).Flush()
		select {
		case <-abort:
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		testkit.BreakConn(w, "", true)
	}))

	var hang atomic.Bool
	hang.Store(true)
	hangUp := testkit.NewSwitchServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			<-r.Context().Done() // the gateway gives up at the route timeout
			return
		}
		echoUser(w, r)
	}))

	const routeTimeout = 200 * time.Millisecond
	gotFirst := make(chan struct{})
	slowUp := testkit.NewSwitchServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "first;")
		_ = http.NewResponseController(w).Flush()
		select {
		case <-gotFirst: // the client has the first part: the body streams
		case <-time.After(10 * time.Second):
		}
		time.Sleep(2 * routeTimeout) // the body outlasts the route timeout
		_, _ = io.WriteString(w, "last")
	}))

	e := startFaultEnv(t, is, `{}`, fmt.Sprintf(`
  - { name: refused, match: { path_prefix: /refused }, upstream: { url: %q }, forward: { headers: { X-User-Id: sub } } }
  - { name: reset-before, match: { path_prefix: /reset-before }, upstream: { url: %q }, forward: { headers: { X-User-Id: sub } } }
  - { name: reset-after, match: { path_prefix: /reset-after }, upstream: { url: %q }, forward: { headers: { X-User-Id: sub } } }
  - { name: hang, match: { path_prefix: /hang }, upstream: { url: %q, timeout: %s }, forward: { headers: { X-User-Id: sub } } }
  - { name: slow, match: { path_prefix: /slow }, upstream: { url: %q, timeout: %s }, forward: { headers: { X-User-Id: sub } } }
`, refused.URL, resetBeforeUp.URL, resetAfterUp.URL, hangUp.URL, routeTimeout, slowUp.URL, routeTimeout))
	tok := e.token(t, is.Keys()[0])
	waitReady(t, e.admin)

	// access checks the access line of r: status, the verified identity,
	// and an error containing one of causes.
	access := func(t *testing.T, r reply, route string, status int, causes ...string) {
		t.Helper()
		l := e.logs.Access(t, r.id)
		if l["route"] != route || l["status"] != float64(status) || l["issuer"] != "main" || l["sub"] != "alice" || l["reason"] != "ok" {
			t.Errorf("access line: got %v, want route %s, status %d, issuer main, sub alice, reason ok", l, route, status)
		}
		got, _ := l["error"].(string)
		if !slices.ContainsFunc(causes, func(c string) bool { return strings.Contains(got, c) }) {
			t.Errorf("access line error: got %q, want it to contain one of %q", got, causes)
		}
	}
	ready := func(t *testing.T) {
		t.Helper()
		if status, body := e.readyz(t); status != http.StatusOK {
			t.Errorf("readyz with a failing upstream: got %d %s, want 200", status, body)
		}
	}

	t.Run("refusing connections", func(t *testing.T) {
		r := get(t, e.gw+"/refused/x", tok)
		wantError(t, "refused", r, http.StatusBadGateway, "bad_gateway")
		access(t, r, "refused", http.StatusBadGateway, "connection refused")
		ready(t)
		refused.SetDown(false)
		wantServed(t, "upstream back", get(t, e.gw+"/refused/x", tok))
	})

	t.Run("reset before headers", func(t *testing.T) {
		r := get(t, e.gw+"/reset-before/x", tok)
		wantError(t, "reset", r, http.StatusBadGateway, "bad_gateway")
		access(t, r, "reset-before", http.StatusBadGateway, "connection reset", "EOF")
		ready(t)
		resetBefore.Store(false)
		wantServed(t, "upstream fixed", get(t, e.gw+"/reset-before/x", tok))
	})

	t.Run("reset after headers", func(t *testing.T) {
		req, _ := http.NewRequest("GET", e.gw+"/reset-after/x", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Request-Id", "fault-reset-after")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("got %d %q, want the upstream's 200 text/plain", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		first := make([]byte, len("partial"))
		if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "partial" {
			t.Fatalf("first part: got %q (%v), want %q", first, err, "partial")
		}
		close(abort)
		rest, err := io.ReadAll(resp.Body)
		if err == nil {
			t.Errorf("body: got a clean end after %q, want the connection aborted", rest)
		}
		if len(rest) != 0 {
			t.Errorf("body after the upstream broke off: got %q, want nothing (no error injected into a started response)", rest)
		}
		access(t, reply{id: "fault-reset-after"}, "reset-after", http.StatusOK, "abort")
		ready(t)
		resetAfter.Store(false)
		wantServed(t, "upstream fixed", get(t, e.gw+"/reset-after/x", tok))
	})

	t.Run("hanging before headers", func(t *testing.T) {
		r := get(t, e.gw+"/hang/x", tok)
		wantError(t, "hang", r, http.StatusGatewayTimeout, "gateway_timeout")
		access(t, r, "hang", http.StatusGatewayTimeout, "within the route's timeout")
		ready(t)
		hang.Store(false)
		wantServed(t, "upstream answers", get(t, e.gw+"/hang/x", tok))
	})

	t.Run("slow body", func(t *testing.T) {
		req, _ := http.NewRequest("GET", e.gw+"/slow/x", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		defer resp.Body.Close()
		first := make([]byte, len("first;"))
		if _, err := io.ReadFull(resp.Body, first); err != nil {
			t.Fatalf("first part: %v", err)
		}
		close(gotFirst)
		rest, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || err != nil || string(first)+string(rest) != "first;last" {
			t.Errorf("got %d %q (%v), want 200 %q", resp.StatusCode, string(first)+string(rest), err, "first;last")
		}
		ready(t)
	})
}
