package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/proxy"
)

var allowed = proxy.Outcome{
	Route: "api", RouteIndex: 0, Method: "GET", Status: 200, Issuer: "main", Reason: reason.OK,
	Duration: time.Millisecond, UpstreamDuration: 500 * time.Microsecond,
}

func newTestRoutes() (*Metrics, *Routes) {
	m := New("test")
	return m, m.NewRoutes([]RouteSpec{{Name: "api", Issuers: []string{"main"}}, {Name: "public"}}, []string{"main"})
}

// TestObserveAllocs pins the point of pre-resolved children: once a
// route's (method, code) and (issuer, reason) children exist, recording a
// request allocates nothing.
func TestObserveAllocs(t *testing.T) {
	_, rs := newTestRoutes()
	rs.Observe(allowed)
	if n := testing.AllocsPerRun(100, func() { rs.Observe(allowed) }); n != 0 {
		t.Errorf("got %v allocs per Observe, want 0", n)
	}
}

func TestObserveLabels(t *testing.T) {
	m, rs := newTestRoutes()
	rs.Observe(allowed)
	rs.Observe(proxy.Outcome{Route: "none", RouteIndex: -1, Method: "OTHER", Status: 999, Reason: ""})
	rs.Observe(proxy.Outcome{Route: "api", RouteIndex: 0, Method: "POST", Status: 401, Issuer: "", Reason: reason.Malformed})
	rs.Observe(proxy.Outcome{Route: "api", RouteIndex: 0, Method: "GET", Status: 502, Issuer: "main", Reason: reason.OK,
		UpstreamDuration: time.Millisecond, UpstreamError: "unreachable"})
	for _, tc := range []struct {
		name string
		got  float64
		want float64
	}{
		{"requests api GET 200", testutil.ToFloat64(m.requests.WithLabelValues("api", "GET", "200")), 1},
		{"requests none other other", testutil.ToFloat64(m.requests.WithLabelValues("none", "other", "other")), 1},
		{"decision deny malformed issuer none", testutil.ToFloat64(m.decisions.WithLabelValues("api", "none", "deny", "malformed")), 1},
		{"decision allow ok", testutil.ToFloat64(m.decisions.WithLabelValues("api", "main", "allow", "ok")), 2},
		{"upstream unreachable", testutil.ToFloat64(m.upstreamErrors.WithLabelValues("api", "unreachable")), 1},
		// The cache counts its own lookups; Observe does not.
		{"verify cache miss", testutil.ToFloat64(m.cacheMiss), 0},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestRetainDeletesRemovedRoutes(t *testing.T) {
	m, rs := newTestRoutes()
	rs.Observe(allowed)
	m.KeySetObserver("main", time.Now)("success", 2)
	next := m.NewRoutes([]RouteSpec{{Name: "public"}}, nil)
	m.Retain(next)
	// A request finishing on the retired runtime must not bring route api
	// back, not even through a child it has not made yet.
	late := allowed
	late.Status = 201
	rs.Observe(late)
	if n := testutil.CollectAndCount(m.requests); n != 0 {
		t.Errorf("got %d request series after removing route api, want 0", n)
	}
	if n := testutil.CollectAndCount(m.jwksKeys); n != 0 {
		t.Errorf("got %d jwks_keys series after removing issuer main, want 0", n)
	}
	if n := testutil.CollectAndCount(m.requestDuration); n != 2 { // public, none
		t.Errorf("got %d duration series, want 2 (public, none)", n)
	}
}

// BenchmarkObserve is the metrics cost of one request once its children
// exist: it must report 0 allocs/op.
func BenchmarkObserve(b *testing.B) {
	_, rs := newTestRoutes()
	rs.Observe(allowed)
	b.ReportAllocs()
	for b.Loop() {
		rs.Observe(allowed)
	}
}

// BenchmarkWithLabelValues is the same work through the vectors' label
// lookups, for comparison.
func BenchmarkWithLabelValues(b *testing.B) {
	m, _ := newTestRoutes()
	b.ReportAllocs()
	for b.Loop() {
		m.requests.WithLabelValues("api", "GET", "200").Inc()
		m.requestDuration.WithLabelValues("api").Observe(0.001)
		m.upstreamDuration.WithLabelValues("api").Observe(0.0005)
		m.decisions.WithLabelValues("api", "main", "allow", "ok").Inc()
		m.cacheMiss.Inc()
	}
}

// TestLaterFamilies fills the families later issues use (credentials, the
// verified-token cache) and checks they gather with docs/reference.md §4's labels.
func TestLaterFamilies(t *testing.T) {
	m := New("test")
	m.CredentialFetched("billing", true)
	m.CredentialFetched("billing", false)
	m.SetCredentialExpiry("billing", time.Unix(1700000000, 0))
	m.VerifyCacheLookup(true)
	m.SetVerifyCacheEntries(3)
	m.Reloaded(true)
	var nilMetrics *Metrics
	nilMetrics.Reloaded(false) // must not panic
	for _, tc := range []struct {
		name string
		got  float64
		want float64
	}{
		{"credential success", testutil.ToFloat64(m.credFetches.WithLabelValues("billing", "success")), 1},
		{"credential error", testutil.ToFloat64(m.credFetches.WithLabelValues("billing", "error")), 1},
		{"credential expiry", testutil.ToFloat64(m.credExpiry.WithLabelValues("billing")), 1700000000},
		{"cache hit", testutil.ToFloat64(m.cacheHit), 1},
		{"cache entries", testutil.ToFloat64(m.verifyEntries), 3},
		{"reload success", testutil.ToFloat64(m.reloadOK), 1},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}
