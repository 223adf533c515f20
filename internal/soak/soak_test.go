//go:build soak

package soak

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/testkit"
)

// class is a kind of request with a well-defined verdict (see the package
// comment).
type class int

const (
	classValid class = iota
	classRotating
	classExpired
	classForged
	classUnknownKID
	classRetired
	classNoToken
	classPublic
	classH2C
	numClasses
)

// verdict is what a class must get.
type verdict struct {
	name  string
	allow bool // forwarded: 200 from the upstream
	// orRefuse: a 4xx from the gateway itself is acceptable too (h2c).
	orRefuse bool
	// For refusals: status, body error and error_description, and whether
	// the challenge is the bare one (no error attribute).
	status int
	code   string
	desc   string
	bare   bool
}

var classes = [numClasses]verdict{
	classValid:      {name: "valid", allow: true},
	classRotating:   {name: "rotating", allow: true},
	classExpired:    {name: "expired", status: 401, code: "invalid_token", desc: reason.Describe(reason.ErrExpired)},
	classForged:     {name: "forged", status: 401, code: "invalid_token", desc: reason.Describe(reason.ErrBadSignature)},
	classUnknownKID: {name: "unknown_kid", status: 401, code: "invalid_token", desc: reason.Describe(reason.ErrUnknownKey)},
	classRetired:    {name: "retired", status: 401, code: "invalid_token", desc: reason.Describe(reason.ErrUnknownKey)},
	classNoToken:    {name: "no_token", status: 401, code: "unauthorized", desc: reason.Describe(reason.ErrMissing), bare: true},
	classPublic:     {name: "public", allow: true},
	classH2C:        {name: "h2c", allow: true, orRefuse: true},
}

var classByName = func() map[string]class {
	m := map[string]class{}
	for c, v := range classes {
		m[v.name] = class(c)
	}
	return m
}()

// mix is the traffic: request seq has class mix[seq%len(mix)].
var mix = []class{
	classValid, classExpired, classRotating, classForged, classValid,
	classNoToken, classUnknownKID, classPublic, classRotating, classValid,
	classH2C, classForged, classExpired, classRetired, classValid,
	classUnknownKID, classRotating, classNoToken, classPublic, classValid,
}

// Soak settings and their environment variables.
type settings struct {
	duration    time.Duration
	workers     int
	maxRequests uint64
	rotations   int
	reloads     []string // config variants, in order
}

func loadSettings(t *testing.T) settings {
	s := settings{duration: 60 * time.Second, workers: 64, maxRequests: 3_000_000, rotations: 8,
		reloads: []string{"B", "invalid", "A", "B", "invalid", "A"}}
	if v := os.Getenv("AUTHGATE_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("AUTHGATE_SOAK_DURATION=%q: want a positive Go duration", v)
		}
		s.duration = d
	}
	if v := os.Getenv("AUTHGATE_SOAK_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("AUTHGATE_SOAK_WORKERS=%q: want a positive integer", v)
		}
		s.workers = n
	}
	if v := os.Getenv("AUTHGATE_SOAK_MAX_REQUESTS"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			t.Fatalf("AUTHGATE_SOAK_MAX_REQUESTS=%q: want a positive integer", v)
		}
		s.maxRequests = n
	}
	return s
}

// Key set timing of the soak's issuer (see configYAML).
const (
	refreshInterval    = 2 * time.Second
	minRefreshInterval = 250 * time.Millisecond
)

// What the gateway logs after a reload (gateway.reload).
const (
	msgReloaded     = "configuration reloaded"
	msgReloadFailed = "configuration reload failed; the previous configuration keeps serving"
)

// Resource bounds after the soak (see the package comment).
const (
	goroutineSlack = 2
	fdSlack        = 2
	maxPeakRSSMiB  = 256
	maxPeakRSSRace = 2048
)

// configYAML renders a configuration variant: "A", "B" (A plus a route, a
// header and another clock skew) or "invalid" (refused at load; it would
// also make /public require a token).
func configYAML(variant string) string {
	skew, algs, publicMode, extraHeader, extraRoute := "30s", "", "none", "", ""
	switch variant {
	case "B":
		skew, extraHeader = "45s", ", X-User-Scope: scope"
		extraRoute = `
  - name: extra
    match: { path_prefix: /extra }
    upstream: { url: "${UPSTREAM}" }
    auth: { mode: none }`
	case "invalid":
		algs, publicMode = "\n    algorithms: [RS256, HS256]", "required"
	}
	return fmt.Sprintf(`# authgate soak test, variant %s
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  shutdown_timeout: 10s
log: { format: json }
issuers:
  - name: soak
    issuer: "${ISSUER}"
    audiences: [soak-api]%s
    clock_skew: %s
    jwks: { refresh_interval: %s, min_refresh_interval: %s, max_stale: 1h, timeout: 5s }
routes:
  - name: public
    match: { path_prefix: /public }
    upstream: { url: "${UPSTREAM}" }
    auth: { mode: %s }
  - name: api
    match: { path_prefix: /api }
    upstream: { url: "${UPSTREAM}", timeout: 20s }
    auth: { scopes: [read] }
    forward: { headers: { X-User-Id: sub%s } }%s
`, variant, algs, skew, refreshInterval, minRefreshInterval, publicMode, extraHeader, extraRoute)
}

// issued is a signed token and the subject it names.
type issued struct{ token, sub string }

// mint signs n tokens with key, subjects prefix-0 … prefix-(n-1).
func mint(t *testing.T, is *testkit.Issuer, key testkit.Key, n int, prefix string, edits map[string]any) []issued {
	out := make([]issued, n)
	for i := range out {
		sub := fmt.Sprintf("%s-%d", prefix, i)
		claims := map[string]any{"sub": sub, "aud": "soak-api", "scope": "read"}
		for k, v := range edits {
			claims[k] = v
		}
		out[i] = issued{token: is.Token(t, key, claims), sub: sub}
	}
	return out
}

// run is one soak: the fixture, the token pools and the counters.
type run struct {
	t        *testing.T
	st       settings
	client   *http.Client
	gw       string // base URL
	gwAddr   string // host:port, for raw connections
	is       *testkit.Issuer
	up       *upstream
	logs     *logSink
	wrong    *violations
	cfgPath  string
	start    time.Time
	deadline time.Time

	stable                           testkit.Key
	rotKeys                          []testkit.Key
	valid, expired, forged, unknown  []issued
	rotTokens                        [][]issued
	rotMu                            sync.RWMutex // read: a rotating request in flight; write: switching keys
	rotCur                           []issued
	rotTimes                         []string                 // per rotation: probe+drain durations
	retired                          atomic.Pointer[[]issued] // nil until two rotations are done
	seq, probes                      atomic.Uint64
	sent, answered, fivexx, transErr atomic.Int64
	sentBy                           [numClasses]atomic.Int64
	rotations, extraOK               atomic.Int64
	reloadOK, reloadFailed           atomic.Int64
}

func TestSoak(t *testing.T) {
	st := loadSettings(t)
	// Subscribe to SIGHUP before anything else: the reloads signal this
	// process, and without a subscriber SIGHUP would end it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	r := &run{t: t, st: st, wrong: newViolations(), logs: newLogSink()}
	// Keys are generated before the baseline, and so is the network
	// poller's one-time setup; tokens are signed once the issuer's URL is
	// known. Nothing is signed while traffic runs.
	r.stable = testkit.NewRSAKey(t, "stable")
	attacker := testkit.NewRSAKey(t, "stable") // a trusted kid, an untrusted key
	stranger := testkit.NewECKey(t, "")
	for k := 0; k <= st.rotations; k++ {
		r.rotKeys = append(r.rotKeys, testkit.NewECKey(t, fmt.Sprintf("rot%d", k)))
	}
	warmNetwork(t)
	runtime.GC()
	before := readGauges()
	resetPeakRSS()
	samples := startSampler(50 * time.Millisecond)

	r.is = testkit.NewIssuer(t, r.stable, r.rotKeys[0])
	r.up = newUpstream(t, st.maxRequests, r.wrong)
	// Tokens outlive the run; expired ones are two hours past exp.
	now := time.Now()
	exp := now.Add(st.duration + time.Hour).Unix()
	r.valid = mint(t, r.is, r.stable, 64, "user", map[string]any{"exp": exp})
	r.expired = mint(t, r.is, r.stable, 16, "late", map[string]any{"exp": now.Add(-2 * time.Hour).Unix(), "iat": now.Add(-3 * time.Hour).Unix()})
	r.forged = mint(t, r.is, attacker, 16, "forged", map[string]any{"exp": exp})
	for i := range 64 {
		k := stranger
		k.KID = fmt.Sprintf("never-published-%d", i)
		r.unknown = append(r.unknown, mint(t, r.is, k, 1, "stranger", map[string]any{"exp": exp})...)
	}
	for k, key := range r.rotKeys {
		r.rotTokens = append(r.rotTokens, mint(t, r.is, key, 16, fmt.Sprintf("rot%d-user", k), map[string]any{"exp": exp}))
	}
	r.rotCur = r.rotTokens[0]

	r.cfgPath = filepath.Join(t.TempDir(), "authgate.yaml")
	r.writeConfig("A")
	env := map[string]string{"ISSUER": r.is.URL, "UPSTREAM": r.up.URL}
	load := func() (*config.Config, error) {
		return config.Load(r.cfgPath, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	}
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	stopGateway := r.startGateway(cfg, load)

	tr := &http.Transport{MaxIdleConns: 2 * st.workers, MaxIdleConnsPerHost: 2 * st.workers, DisableCompression: true}
	r.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	r.armReload()

	r.start = time.Now()
	r.deadline = r.start.Add(st.duration)
	ctx, cancel := context.WithDeadline(context.Background(), r.deadline)
	defer cancel()
	var workers, drivers sync.WaitGroup
	for range st.workers {
		workers.Go(r.work)
	}
	drivers.Go(func() { r.rotate(ctx) })
	drivers.Go(func() { r.reload(ctx) })
	workers.Wait()
	elapsed := time.Since(r.start)
	drivers.Wait()

	// Close everything this test opened, then wait for the process to
	// come back to its baseline.
	tr.CloseIdleConnections()
	if err := stopGateway(); err != nil {
		t.Errorf("Serve: %v", err)
	}
	jwksHits, discoveryHits := r.is.Hits(testkit.JWKSPath), r.is.Hits(testkit.DiscoveryPath)
	r.up.Close()
	r.is.Close()
	samples.Stop()
	peak := readGauges()
	after := settle(before)

	r.report(elapsed, before, peak, after, samples, jwksHits, discoveryHits)
}

// warmNetwork does the process's one-time network setup (the poller's
// descriptors) so that the baseline already includes it.
func warmNetwork(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err == nil {
		c.Close()
	}
	ln.Close()
}

// settle polls until goroutines and fds are back within the slack of the
// baseline, for up to 15 seconds, and returns the last reading.
func settle(before gauges) gauges {
	deadline := time.Now().Add(15 * time.Second)
	for {
		runtime.GC()
		g := readGauges()
		if g.goroutines <= before.goroutines+goroutineSlack && g.fds <= before.fds+fdSlack || time.Now().After(deadline) {
			return g
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// work sends requests until the deadline or the request cap.
func (r *run) work() {
	for {
		seq := r.seq.Add(1)
		if seq > r.st.maxRequests || time.Now().After(r.deadline) {
			return
		}
		r.send(mix[seq%uint64(len(mix))], seq)
	}
}

// send sends request seq of class c and checks the answer.
func (r *run) send(c class, seq uint64) {
	var tk issued
	path := fmt.Sprintf("/api/items/%d", seq)
	switch c {
	case classValid:
		tk = r.valid[seq%uint64(len(r.valid))]
	case classRotating:
		r.rotMu.RLock()
		defer r.rotMu.RUnlock()
		tk = r.rotCur[seq%uint64(len(r.rotCur))]
	case classExpired:
		tk = r.expired[seq%uint64(len(r.expired))]
	case classForged:
		tk = r.forged[seq%uint64(len(r.forged))]
	case classUnknownKID:
		tk = r.unknown[seq%uint64(len(r.unknown))]
	case classRetired:
		p := r.retired.Load()
		if p == nil { // too early: no key is certainly gone yet
			c, tk = classUnknownKID, r.unknown[seq%uint64(len(r.unknown))]
			break
		}
		tk = (*p)[seq%uint64(len(*p))]
	case classPublic:
		path = fmt.Sprintf("/public/items/%d", seq)
	case classH2C:
		path = fmt.Sprintf("/public/h2c/%d", seq)
		if seq%2 == 1 {
			path, tk = fmt.Sprintf("/api/h2c/%d", seq), r.valid[seq%uint64(len(r.valid))]
		}
	}
	sub := tk.sub
	if !classes[c].allow {
		sub = "" // it must never arrive; if it does, no identity is right
	}
	id := fmt.Sprintf("s.%s.%d.%s", classes[c].name, seq, sub)
	r.sent.Add(1)
	r.sentBy[c].Add(1)
	if c == classH2C {
		r.sendH2C(c, id, path, tk.token)
		return
	}
	req, _ := http.NewRequest(http.MethodGet, r.gw+path, nil)
	req.Header.Set("X-Request-Id", id)
	req.Header.Set("X-User-Id", "spoofed")
	if tk.token != "" {
		req.Header.Set("Authorization", "Bearer "+tk.token)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.transportError(id, err)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		r.transportError(id, err)
		return
	}
	r.answered.Add(1)
	r.check(c, id, resp.StatusCode, resp.Header, body)
}

// sendH2C asks, on a fresh connection, to upgrade to h2c (RFC 7540 §3.2)
// the way curl --http2 does.
func (r *run) sendH2C(c class, id, path, token string) {
	conn, err := net.DialTimeout("tcp", r.gwAddr, 10*time.Second)
	if err != nil {
		r.transportError(id, err)
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, r.gwAddr)
	b.WriteString("Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n")
	fmt.Fprintf(&b, "X-Request-Id: %s\r\nX-User-Id: spoofed\r\n", id)
	if token != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", token)
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		r.transportError(id, err)
		return
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		r.transportError(id, err)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		r.transportError(id, err)
		return
	}
	r.answered.Add(1)
	if resp.StatusCode == http.StatusSwitchingProtocols {
		r.wrong.add(wrongUpgrade, "%s: the client got 101 %q: a tunnel past the gateway", id, resp.Header.Get("Upgrade"))
		return
	}
	r.check(c, id, resp.StatusCode, resp.Header, body)
}

func (r *run) transportError(id string, err error) {
	r.transErr.Add(1)
	r.wrong.add(wrongAnswer, "%s: no answer: %v", id, err)
}

// check compares an answer with its class's verdict.
func (r *run) check(c class, id string, status int, h http.Header, body []byte) {
	v := classes[c]
	fromUpstream := h.Get("X-Soak-Upstream") == "1"
	if status >= 500 {
		r.fivexx.Add(1)
	}
	if got := h.Get("X-Request-Id"); got != id {
		r.wrong.add(wrongAnswer, "%s: X-Request-Id came back as %q", id, got)
	}
	switch {
	case fromUpstream && status == http.StatusOK:
		if !v.allow {
			return // the upstream counted it as allowed wrongly
		}
	case v.allow && v.orRefuse && status >= 400 && status < 500:
		r.checkErrorBody(id, status, h, body, "", "")
	case v.allow && (status == http.StatusUnauthorized || status == http.StatusForbidden):
		r.wrong.add(wrongRefused, "%s: %d %s", id, status, body)
	case v.allow:
		r.wrong.add(wrongAnswer, "%s: %d %s, want 200 from the upstream", id, status, body)
	case status != v.status:
		r.wrong.add(wrongAnswer, "%s: %d %s, want %d", id, status, body, v.status)
	default:
		r.checkErrorBody(id, status, h, body, v.code, v.desc)
		challenge := h.Get("WWW-Authenticate")
		switch {
		case v.bare && challenge != `Bearer realm="authgate"`:
			r.wrong.add(wrongAnswer, "%s: WWW-Authenticate %q, want the bare challenge", id, challenge)
		case !v.bare && !strings.Contains(challenge, `error="`+v.code+`"`):
			r.wrong.add(wrongAnswer, "%s: WWW-Authenticate %q, want error=%q", id, challenge, v.code)
		}
	}
}

// checkErrorBody checks a refusal's JSON body and headers (docs/reference.md §3.6);
// code and desc are checked when not empty.
func (r *run) checkErrorBody(id string, status int, h http.Header, body []byte, code, desc string) {
	var e struct {
		Error string `json:"error"`
		Desc  string `json:"error_description"`
	}
	switch {
	case json.Unmarshal(body, &e) != nil || e.Error == "":
		r.wrong.add(wrongAnswer, "%s: %d with body %q, want a JSON error", id, status, body)
	case code != "" && e.Error != code:
		r.wrong.add(wrongAnswer, "%s: error %q, want %q", id, e.Error, code)
	case desc != "" && e.Desc != desc:
		r.wrong.add(wrongAnswer, "%s: error_description %q, want %q", id, e.Desc, desc)
	case strings.Contains(string(body), "eyJ"):
		r.wrong.add(wrongAnswer, "%s: the error body holds token material", id)
	case h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "no-store":
		r.wrong.add(wrongAnswer, "%s: Content-Type %q, Cache-Control %q", id, h.Get("Content-Type"), h.Get("Cache-Control"))
	}
}
