package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/testkit"
)

// metricsYAML has one issuer that works (main) and one whose key set can
// never be fetched (dead), and a route per deny reason the test provokes.
const metricsYAML = `
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
log: { access: false }
issuers:
  - { name: main, issuer: %[1]q, audiences: [api], algorithms: [ES256], token_types: [at+jwt], required_claims: [exp, email] }
  - { name: dead, issuer: "https://dead.example", jwks_url: %[3]q, audiences: [api] }
routes:
  - { name: req, match: { path_prefix: /req }, upstream: { url: %[2]q }, auth: { issuers: [main, dead] } }
  - { name: opt, match: { path_prefix: /opt }, upstream: { url: %[2]q }, auth: { mode: optional, issuers: [main] } }
  - { name: pub, match: { path_prefix: /pub }, upstream: { url: %[2]q }, auth: { mode: none } }
  - { name: scoped, match: { path_prefix: /scoped }, upstream: { url: %[2]q }, auth: { issuers: [main], scopes: [admin] } }
  - { name: gold, match: { path_prefix: /gold }, upstream: { url: %[2]q }, auth: { issuers: [main], claims: { tier: gold } } }
  - name: fwd
    match: { path_prefix: /fwd }
    upstream: { url: %[2]q }
    auth: { issuers: [main] }
    forward: { headers: { X-Name: name } }
  - { name: down, match: { path_prefix: /down }, upstream: { url: %[3]q }, auth: { mode: none } }
`

// metricsTable is docs/reference.md §4: every family's type and label names.
var metricsTable = map[string]struct {
	typ    dto.MetricType
	labels []string
}{
	"authgate_requests_total":                      {dto.MetricType_COUNTER, []string{"code", "method", "route"}},
	"authgate_request_duration_seconds":            {dto.MetricType_HISTOGRAM, []string{"route"}},
	"authgate_auth_decisions_total":                {dto.MetricType_COUNTER, []string{"issuer", "reason", "result", "route"}},
	"authgate_upstream_duration_seconds":           {dto.MetricType_HISTOGRAM, []string{"route"}},
	"authgate_upstream_errors_total":               {dto.MetricType_COUNTER, []string{"kind", "route"}},
	"authgate_jwks_fetches_total":                  {dto.MetricType_COUNTER, []string{"issuer", "result"}},
	"authgate_jwks_keys":                           {dto.MetricType_GAUGE, []string{"issuer"}},
	"authgate_jwks_last_success_timestamp_seconds": {dto.MetricType_GAUGE, []string{"issuer"}},
	"authgate_verify_cache_requests_total":         {dto.MetricType_COUNTER, []string{"result"}},
	"authgate_verify_cache_entries":                {dto.MetricType_GAUGE, nil},
	"authgate_credential_fetches_total":            {dto.MetricType_COUNTER, []string{"credential", "result"}},
	"authgate_credential_expiry_timestamp_seconds": {dto.MetricType_GAUGE, []string{"credential"}},
	"authgate_config_reloads_total":                {dto.MetricType_COUNTER, []string{"result"}},
	"authgate_build_info":                          {dto.MetricType_GAUGE, []string{"goversion", "version"}},
}

// credentialFamilies have no series until a route uses upstream
// credentials (a later issue fills them); internal/metrics tests them.
var credentialFamilies = []string{"authgate_credential_fetches_total", "authgate_credential_expiry_timestamp_seconds"}

// TestMetricsScrape drives mixed traffic through a real gateway (every
// deny reason, public, anonymous, an unmatched request, an unreachable
// upstream, a client-invented method, a failed and a successful reload that
// removes a route), scrapes /metrics and checks each family of docs/reference.md §4
// for its type and label names, every label value against its closed set,
// and the counts the traffic must have produced.
func TestMetricsScrape(t *testing.T) {
	key := testkit.NewECKey(t, "ec-1")
	is := testkit.NewIssuer(t, key)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	closed := closedURL(t)
	yaml := fmt.Sprintf(metricsYAML, is.URL, up.URL, closed)
	cfg := parseConfig(t, yaml)

	// The second reload drops route gold: its series must go.
	reloads := make(chan func() (*config.Config, error), 2)
	reloads <- func() (*config.Config, error) { return nil, errors.New("broken on purpose") }
	reloads <- func() (*config.Config, error) {
		return parseConfig(t, strings.Replace(yaml, "  - { name: gold,", "  # - { name: gold,", 1)), nil
	}
	gw, admin := serveReloadable(t, cfg, func() (*config.Config, error) { return (<-reloads)() })

	ec := func(edits map[string]any) string { return signed(t, key, "at+jwt", is.URL, edits) }
	other := testkit.NewECKey(t, "ec-1")
	now := time.Now().Unix()
	good := ec(nil)
	requests := []struct {
		name, method, path, token string
		status                    int
	}{
		{"ok", "GET", "/req/x", good, 200},
		{"ok other method", "BREW", "/req/x", good, 200},
		{"missing", "GET", "/req/x", "", 401},
		{"malformed", "GET", "/req/x", "abc.def", 401},
		{"untrusted_issuer", "GET", "/req/x", ec(map[string]any{"iss": "https://elsewhere.example"}), 401},
		{"alg_not_allowed", "GET", "/req/x", signed(t, testkit.NewEd25519Key(t, "ed-1"), "at+jwt", is.URL, nil), 401},
		{"unknown_key", "GET", "/req/x", signed(t, testkit.NewECKey(t, "nope"), "at+jwt", is.URL, nil), 401},
		{"bad_signature", "GET", "/req/x", signed(t, other, "at+jwt", is.URL, nil), 401},
		{"expired", "GET", "/req/x", ec(map[string]any{"exp": now - 3600}), 401},
		{"not_yet_valid", "GET", "/req/x", ec(map[string]any{"nbf": now + 3600}), 401},
		{"bad_audience", "GET", "/req/x", ec(map[string]any{"aud": "other"}), 401},
		{"missing_claim", "GET", "/req/x", ec(map[string]any{"email": nil}), 401},
		{"bad_type", "GET", "/req/x", signed(t, key, "JWT", is.URL, nil), 401},
		{"keys_unavailable", "GET", "/req/x", signed(t, key, "", "https://dead.example", nil), 503},
		{"insufficient_scope", "GET", "/scoped", good, 403},
		{"claim_mismatch", "GET", "/gold", good, 403},
		{"unforwardable_claim", "GET", "/fwd", ec(map[string]any{"name": "a\nb"}), 401},
		{"public", "GET", "/pub/x", "", 200},
		{"anonymous", "GET", "/opt/x", "", 200},
		{"unmatched", "GET", "/nowhere/alice", "", 404},
		{"upstream down", "GET", "/down", "", 502},
	}
	for _, rq := range requests {
		req, _ := http.NewRequest(rq.method, gw+rq.path, nil)
		if rq.token != "" {
			req.Header.Set("Authorization", "Bearer "+rq.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", rq.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != rq.status {
			t.Errorf("%s: got %d (%s), want %d", rq.name, resp.StatusCode, b, rq.status)
		}
	}
	sighup(t)
	waitMetric(t, admin, `authgate_config_reloads_total{result="failure"} 1`)
	sighup(t)
	waitMetric(t, admin, `authgate_config_reloads_total{result="success"} 1`)

	families := scrape(t, admin)
	closedSets := map[string][]string{
		"route":     {"req", "opt", "pub", "scoped", "fwd", "down", "none"}, // gold was removed by the reload
		"issuer":    {"main", "dead", "none"},
		"method":    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "other"},
		"result":    {"allow", "deny", "success", "error", "not_modified", "hit", "miss", "failure"},
		"reason":    reasonValues,
		"kind":      {"unreachable", "timeout", "credentials"},
		"goversion": nil, "version": nil, // checked below
	}
	for name, want := range metricsTable {
		mf := families[name]
		if mf == nil {
			if !slices.Contains(credentialFamilies, name) {
				t.Errorf("%s: missing from /metrics", name)
			}
			continue
		}
		if mf.GetType() != want.typ {
			t.Errorf("%s: got type %v, want %v", name, mf.GetType(), want.typ)
		}
		for _, m := range mf.GetMetric() {
			var got []string
			for _, lp := range m.GetLabel() {
				got = append(got, lp.GetName())
				v := lp.GetValue()
				switch lp.GetName() {
				case "code":
					if n, err := strconv.Atoi(v); (err != nil || n < 100 || n > 599) && v != "other" {
						t.Errorf("%s: code %q is not 100-599 or other", name, v)
					}
				case "version", "goversion":
					if v == "" || strings.ContainsAny(v, "/ ") {
						t.Errorf("%s: %s %q", name, lp.GetName(), v)
					}
				default:
					if !slices.Contains(closedSets[lp.GetName()], v) {
						t.Errorf("%s: label %s=%q is outside its closed set %q", name, lp.GetName(), v, closedSets[lp.GetName()])
					}
				}
			}
			sort.Strings(got)
			if !slices.Equal(got, want.labels) {
				t.Errorf("%s: got labels %q, want %q", name, got, want.labels)
			}
		}
	}
	if families["go_goroutines"] == nil || families["process_start_time_seconds"] == nil {
		t.Error("the Go or process collector is missing")
	}

	// What the traffic must have counted.
	for _, rs := range requests[:len(requests)-2] { // not unmatched, upstream down
		r := strings.Fields(rs.name)[0]
		route := map[string]string{"insufficient_scope": "scoped", "claim_mismatch": "gold", "unforwardable_claim": "fwd", "public": "pub", "anonymous": "opt"}[r]
		if route == "" {
			route = "req"
		}
		if route == "gold" {
			continue // removed by the reload
		}
		if got := sumWhere(families["authgate_auth_decisions_total"], map[string]string{"route": route, "reason": r}); got < 1 {
			t.Errorf("no decision {route=%q, reason=%q} counted", route, r)
		}
	}
	for _, c := range []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"authgate_requests_total", map[string]string{"route": "req", "method": "GET", "code": "200"}, 1},
		{"authgate_requests_total", map[string]string{"route": "req", "method": "other", "code": "200"}, 1},
		{"authgate_requests_total", map[string]string{"route": "none", "method": "GET", "code": "404"}, 1},
		{"authgate_requests_total", map[string]string{"route": "down", "code": "502"}, 1},
		{"authgate_upstream_errors_total", map[string]string{"route": "down", "kind": "unreachable"}, 1},
		{"authgate_auth_decisions_total", map[string]string{"route": "req", "issuer": "main", "result": "allow", "reason": "ok"}, 2},
		{"authgate_auth_decisions_total", map[string]string{"issuer": "none", "reason": "missing", "result": "deny"}, 1},
		{"authgate_auth_decisions_total", map[string]string{"route": "gold"}, 0},
		{"authgate_requests_total", map[string]string{"route": "gold"}, 0},
		{"authgate_config_reloads_total", map[string]string{"result": "failure"}, 1},
		{"authgate_config_reloads_total", map[string]string{"result": "success"}, 1},
		{"authgate_jwks_keys", map[string]string{"issuer": "main"}, 1},
		{"authgate_build_info", nil, 1},
	} {
		if got := sumWhere(families[c.family], c.labels); got != c.want {
			t.Errorf("%s%v: got %v, want %v", c.family, c.labels, got, c.want)
		}
	}
	if got := sumWhere(families["authgate_jwks_fetches_total"], map[string]string{"issuer": "dead", "result": "error"}); got < 1 {
		t.Errorf("dead issuer: got %v failed fetches, want at least 1", got)
	}
	if got := sumWhere(families["authgate_jwks_last_success_timestamp_seconds"], map[string]string{"issuer": "main"}); got < float64(now-60) {
		t.Errorf("main: last success %v, want about %d", got, now)
	}
	// Every request that presented a token is one verified-token cache
	// lookup: 16 of the requests above did. Token good is presented four
	// times, on routes req, req, scoped and gold, which share the cache:
	// one miss, then three hits (the policy still refuses two of them).
	for result, want := range map[string]float64{"miss": 13, "hit": 3} {
		if got := sumWhere(families["authgate_verify_cache_requests_total"], map[string]string{"result": result}); got != want {
			t.Errorf("verify cache %s: got %v, want %v", result, got, want)
		}
	}
}

var reasonValues = []string{
	"ok", "anonymous", "public", "missing", "malformed", "untrusted_issuer", "alg_not_allowed",
	"unknown_key", "bad_signature", "expired", "not_yet_valid", "bad_audience", "missing_claim",
	"bad_type", "unforwardable_claim", "insufficient_scope", "claim_mismatch", "keys_unavailable",
}

// signed makes an ES256/EdDSA token of key with typ (none when ""), iss,
// aud api, an email, iat now and exp in an hour, then edits (nil deletes).
func signed(t *testing.T, key testkit.Key, typ, iss string, edits map[string]any) string {
	t.Helper()
	now := time.Now().Unix()
	c := map[string]any{"iss": iss, "sub": "alice", "aud": "api", "email": "a@example.com", "iat": now, "exp": now + 3600}
	for k, v := range edits {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	hdr := map[string]any{"kid": key.KID}
	if typ != "" {
		hdr["typ"] = typ
	}
	return testkit.SignJWS(t, key.Alg, key.Private, hdr, payload)
}

// closedURL is an http URL on loopback where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// serveReloadable runs Serve with a Reload function, waits until it
// listens and returns the gateway and admin URLs. The keys of issuer main
// are in once a request on route req gets through.
func serveReloadable(t *testing.T, cfg *config.Config, reload func() (*config.Config, error)) (gw, admin string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- gateway.Serve(ctx, gateway.Options{
			Config: cfg, Reload: reload, Logger: slog.New(slog.DiscardHandler), Version: "v0.0.0-test",
			Ready: func(l, a net.Addr) { ready <- [2]net.Addr{l, a} },
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	select {
	case a := <-ready:
		gw, admin = "http://"+a[0].String(), "http://"+a[1].String()
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	waitMetric(t, admin, `authgate_jwks_keys{issuer="main"} 1`)
	return gw, admin
}

func sighup(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// waitMetric polls /metrics until a line of it is exactly line.
func waitMetric(t *testing.T, admin, line string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(admin + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if slices.Contains(strings.Split(string(b), "\n"), line) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics: no line %q within 15s", line)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape reads /metrics in the text format and parses it with expfmt.
func scrape(t *testing.T, admin string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// sumWhere adds up the counter or gauge values (a histogram's sample
// count) of mf's series whose labels include every one of want.
func sumWhere(mf *dto.MetricFamily, want map[string]string) float64 {
	var sum float64
	for _, m := range mf.GetMetric() {
		ok := true
		for k, v := range want {
			if !slices.ContainsFunc(m.GetLabel(), func(lp *dto.LabelPair) bool { return lp.GetName() == k && lp.GetValue() == v }) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}
