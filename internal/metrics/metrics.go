// Package metrics holds every Prometheus metric of authgate (docs/reference.md §4) on
// a registry of its own, with the Go and process collectors. Label values
// come only from closed sets: configured route and issuer names (or
// "none"), the reason vocabulary, a fixed list of methods, status codes
// 100–599 and the results and kinds listed below. Never a path, a subject
// or a kid.
//
// The request path does no label lookups in the metric vectors: a Routes,
// built with a runtime, holds for each route and issuer the children it
// may touch, resolved when the runtime is built or, for the status code
// and reason series of a route, on first use through an atomic pointer.
package metrics

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/proxy"
)

// None is the route or issuer label value when there is none: an unmatched
// request, or a decision made before an issuer was known.
const None = "none"

// Metrics is one process's registry and metric families. Make one with New
// and share it between every runtime; its methods are safe for concurrent
// use. A nil *Metrics is valid where documented and records nothing.
type Metrics struct {
	reg *prometheus.Registry

	requests         *prometheus.CounterVec   // route, method, code
	requestDuration  *prometheus.HistogramVec // route
	decisions        *prometheus.CounterVec   // route, issuer, result, reason
	upstreamDuration *prometheus.HistogramVec // route
	upstreamErrors   *prometheus.CounterVec   // route, kind
	jwksFetches      *prometheus.CounterVec   // issuer, result
	jwksKeys         *prometheus.GaugeVec     // issuer
	jwksLastSuccess  *prometheus.GaugeVec     // issuer
	verifyCache      *prometheus.CounterVec   // result
	verifyEntries    prometheus.Gauge
	credFetches      *prometheus.CounterVec // credential, result
	credExpiry       *prometheus.GaugeVec   // credential
	reloads          *prometheus.CounterVec // result

	cacheHit, cacheMiss     prometheus.Counter
	reloadOK, reloadFailed  prometheus.Counter
	mu                      sync.Mutex
	liveRoutes, liveIssuers map[string]bool // label values with series, for Retain
}

// durationBuckets suit a gateway: most of its own work is well under a
// millisecond, and an upstream may take up to the default 30s timeout.
var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New makes the registry, registers the Go and process collectors and every
// family of docs/reference.md §4, and sets authgate_build_info{version, goversion}
// to 1 with version as `authgate version` prints it.
func New(version string) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := promauto.With(reg)
	m := &Metrics{
		reg: reg,
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "authgate_requests_total",
			Help: "Requests answered, by route, method (or other) and status code (or other outside 100-599).",
		}, []string{"route", "method", "code"}),
		requestDuration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "authgate_request_duration_seconds",
			Help:    "Time from receiving a request to finishing its response, by route.",
			Buckets: durationBuckets,
		}, []string{"route"}),
		decisions: f.NewCounterVec(prometheus.CounterOpts{
			Name: "authgate_auth_decisions_total",
			Help: "Authentication decisions, by route, issuer, result (allow, deny) and reason.",
		}, []string{"route", "issuer", "result", "reason"}),
		upstreamDuration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "authgate_upstream_duration_seconds",
			Help:    "Time from forwarding a request until the upstream's response headers or failure, by route.",
			Buckets: durationBuckets,
		}, []string{"route"}),
		upstreamErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "authgate_upstream_errors_total",
			Help: "Upstream failures, by route and kind (unreachable, timeout, credentials).",
		}, []string{"route", "kind"}),
		jwksFetches: f.NewCounterVec(prometheus.CounterOpts{
			Name: "authgate_jwks_fetches_total",
			Help: "Key set fetches, by issuer and result (success, error, not_modified).",
		}, []string{"issuer", "result"}),
		jwksKeys: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "authgate_jwks_keys",
			Help: "Usable keys in the issuer's current key set.",
		}, []string{"issuer"}),
		jwksLastSuccess: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "authgate_jwks_last_success_timestamp_seconds",
			Help: "Unix time of the issuer's last successful (or not_modified) key set fetch.",
		}, []string{"issuer"}),
		verifyCache: f.NewCounterVec(prometheus.CounterOpts{
			Name: "authgate_verify_cache_requests_total",
			Help: "Verified-token cache lookups, by result (hit, miss).",
		}, []string{"result"}),
		verifyEntries: f.NewGauge(prometheus.GaugeOpts{
			Name: "authgate_verify_cache_entries",
			Help: "Entries in the verified-token cache.",
		}),
		credFetches: f.NewCounterVec(prometheus.CounterOpts{
			Name: "authgate_credential_fetches_total",
			Help: "Upstream credential token fetches and exchanges, by credential and result (success, error).",
		}, []string{"credential", "result"}),
		credExpiry: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "authgate_credential_expiry_timestamp_seconds",
			Help: "Unix time at which the credential's current client-credentials token expires.",
		}, []string{"credential"}),
		reloads: f.NewCounterVec(prometheus.CounterOpts{
			Name: "authgate_config_reloads_total",
			Help: "Configuration reloads, by result (success, failure).",
		}, []string{"result"}),
		liveRoutes:  map[string]bool{},
		liveIssuers: map[string]bool{},
	}
	f.NewGaugeVec(prometheus.GaugeOpts{
		Name: "authgate_build_info",
		Help: "Always 1; the labels say which build is running.",
	}, []string{"version", "goversion"}).WithLabelValues(version, runtime.Version()).Set(1)
	m.cacheHit = m.verifyCache.WithLabelValues("hit")
	m.cacheMiss = m.verifyCache.WithLabelValues("miss")
	m.reloadOK = m.reloads.WithLabelValues("success")
	m.reloadFailed = m.reloads.WithLabelValues("failure")
	return m
}

// Registry is the registry every family is on (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the Prometheus exposition of the registry (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Reloaded counts one configuration reload, successful or not. Nil m: no-op.
func (m *Metrics) Reloaded(ok bool) {
	switch {
	case m == nil:
	case ok:
		m.reloadOK.Inc()
	default:
		m.reloadFailed.Inc()
	}
}

// VerifyCacheLookup counts one verified-token cache lookup: hit when the
// cache answered (verify.CacheOptions.Lookup).
func (m *Metrics) VerifyCacheLookup(hit bool) {
	if hit {
		m.cacheHit.Inc()
	} else {
		m.cacheMiss.Inc()
	}
}

// SetVerifyCacheEntries sets authgate_verify_cache_entries.
func (m *Metrics) SetVerifyCacheEntries(n int) { m.verifyEntries.Set(float64(n)) }

// CredentialFetched counts one token fetch or exchange of the named
// credential; ok selects result success or error.
func (m *Metrics) CredentialFetched(credential string, ok bool) {
	result := "error"
	if ok {
		result = "success"
	}
	m.credFetches.WithLabelValues(credential, result).Inc()
}

// SetCredentialExpiry records when the credential's current
// client-credentials token expires.
func (m *Metrics) SetCredentialExpiry(credential string, t time.Time) {
	m.credExpiry.WithLabelValues(credential).Set(float64(t.UnixNano()) / 1e9)
}

// KeySetObserver returns the jwks.Options.Observe hook of the named issuer:
// it counts the fetch, sets the key count and, on success or not_modified,
// the last-success time from now. The children are resolved here, once.
func (m *Metrics) KeySetObserver(issuer string, now func() time.Time) func(result string, keys int) {
	m.markLive(nil, []string{issuer})
	success := m.jwksFetches.WithLabelValues(issuer, "success")
	failed := m.jwksFetches.WithLabelValues(issuer, "error")
	notModified := m.jwksFetches.WithLabelValues(issuer, "not_modified")
	keys := m.jwksKeys.WithLabelValues(issuer)
	last := m.jwksLastSuccess.WithLabelValues(issuer)
	return func(result string, n int) {
		switch result {
		case "success":
			success.Inc()
		case "not_modified":
			notModified.Inc()
		default:
			failed.Inc()
			keys.Set(float64(n))
			return
		}
		keys.Set(float64(n))
		last.Set(float64(now().UnixNano()) / 1e9)
	}
}

// Retain deletes every series of a route or issuer that rs, the runtime
// just installed, no longer has, so a reload that removes a route or an
// issuer removes its series. A request still in flight on the old runtime
// counts on children already deleted (the count is lost) and never
// recreates them (see inc).
func (m *Metrics) Retain(rs *Routes) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name := range m.liveRoutes {
		if name == None || rs.routeNames[name] {
			continue
		}
		l := prometheus.Labels{"route": name}
		m.requests.DeletePartialMatch(l)
		m.requestDuration.DeletePartialMatch(l)
		m.decisions.DeletePartialMatch(l)
		m.upstreamDuration.DeletePartialMatch(l)
		m.upstreamErrors.DeletePartialMatch(l)
		delete(m.liveRoutes, name)
	}
	for name := range m.liveIssuers {
		if name == None || rs.issuerNames[name] {
			continue
		}
		l := prometheus.Labels{"issuer": name}
		m.decisions.DeletePartialMatch(l)
		m.jwksFetches.DeletePartialMatch(l)
		m.jwksKeys.DeletePartialMatch(l)
		m.jwksLastSuccess.DeletePartialMatch(l)
		delete(m.liveIssuers, name)
	}
}

func (m *Metrics) markLive(routes, issuers []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range routes {
		m.liveRoutes[r] = true
	}
	for _, i := range issuers {
		m.liveIssuers[i] = true
	}
}

// RouteSpec names one route of a runtime and the issuers it accepts
// (empty for an auth mode none route).
type RouteSpec struct {
	Name    string
	Issuers []string
}

// Routes is one runtime's request metrics: per route, the children its
// requests touch. Its Observe is the runtime's proxy.Options.Observe.
type Routes struct {
	m           *Metrics
	byIndex     []*routeSeries // in the order of the runtime's routes
	none        *routeSeries
	routeNames  map[string]bool
	issuerNames map[string]bool
}

// The closed label sets the request path indexes by.
var (
	methods = [...]string{
		http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodTrace, http.MethodConnect, "other",
	}
	reasons = [...]reason.Reason{
		reason.OK, reason.Anonymous, reason.Public, reason.Missing, reason.Malformed,
		reason.UntrustedIssuer, reason.AlgNotAllowed, reason.UnknownKey, reason.BadSignature,
		reason.Expired, reason.NotYetValid, reason.BadAudience, reason.MissingClaim,
		reason.BadType, reason.UnforwardableClaim, reason.InsufficientScope,
		reason.ClaimMismatch, reason.KeysUnavailable,
	}
	kinds = [...]string{"unreachable", "timeout", "credentials"}
)

const (
	minCode, maxCode = 100, 599
	otherCode        = maxCode - minCode + 1 // index of code "other"
)

// routeSeries is one route's children. The fixed ones are resolved by
// NewRoutes; the (method, code) and (issuer, reason) ones on first use.
type routeSeries struct {
	name     string
	duration prometheus.Observer
	upstream prometheus.Observer
	errors   [len(kinds)]prometheus.Counter
	codes    [len(methods)]atomic.Pointer[codeSlots]
	// issuers are the route's issuers and, last, None.
	issuers []issuerSeries
}

type codeSlots [otherCode + 1]lazyCounter

type issuerSeries struct {
	name    string
	reasons [len(reasons)]lazyCounter
}

// lazyCounter is a child made on first use; concurrent first uses get the
// same child from the vector, so losing the race is harmless.
type lazyCounter struct {
	p atomic.Pointer[prometheus.Counter]
}

// inc is the slow path of a lazy child, taken once per child: callers try
// l.p.Load first, so that the variadic labels are not built per request.
// It makes the child only while route and issuer ("" for none) are live,
// under the lock Retain deletes with, so that a request finishing on a
// retired runtime cannot recreate series Retain has deleted; that request
// goes uncounted.
func (m *Metrics) inc(l *lazyCounter, vec *prometheus.CounterVec, route, issuer string, labels ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.liveRoutes[route] || (issuer != "" && !m.liveIssuers[issuer]) {
		return
	}
	c := vec.WithLabelValues(labels...)
	if !l.p.CompareAndSwap(nil, &c) {
		c = *l.p.Load()
	}
	c.Inc()
}

// NewRoutes resolves the children of a runtime's routes (and of route
// "none") and records the runtime's route and issuer names, which Retain
// keeps. routes must be in the order of proxy.Options.Routes: Observe
// finds them by proxy.Outcome.RouteIndex. issuers are all the runtime's
// configured issuers.
func (m *Metrics) NewRoutes(routes []RouteSpec, issuers []string) *Routes {
	rs := &Routes{m: m, byIndex: make([]*routeSeries, 0, len(routes)),
		routeNames: map[string]bool{None: true}, issuerNames: map[string]bool{None: true}}
	names := []string{None}
	for _, r := range routes {
		rs.byIndex = append(rs.byIndex, m.newRouteSeries(r))
		rs.routeNames[r.Name] = true
		names = append(names, r.Name)
	}
	rs.none = m.newRouteSeries(RouteSpec{Name: None})
	for _, i := range issuers {
		rs.issuerNames[i] = true
	}
	m.markLive(names, append(issuers, None))
	return rs
}

func (m *Metrics) newRouteSeries(r RouteSpec) *routeSeries {
	s := &routeSeries{
		name:     r.Name,
		duration: m.requestDuration.WithLabelValues(r.Name),
		upstream: m.upstreamDuration.WithLabelValues(r.Name),
	}
	for i, k := range kinds {
		s.errors[i] = m.upstreamErrors.WithLabelValues(r.Name, k)
	}
	s.issuers = make([]issuerSeries, len(r.Issuers)+1)
	for i, name := range r.Issuers {
		s.issuers[i].name = name
	}
	s.issuers[len(r.Issuers)].name = None
	return s
}

// Observe records one request's Outcome: authgate_requests_total, the
// request and upstream durations, upstream errors and the authentication
// decision. The verified-token cache counts its own lookups
// (VerifyCacheLookup). It finds the route by o.RouteIndex: no lookup by
// name, no allocation.
func (rs *Routes) Observe(o proxy.Outcome) {
	s := rs.none
	if o.RouteIndex >= 0 && o.RouteIndex < len(rs.byIndex) {
		s = rs.byIndex[o.RouteIndex]
	}
	m := rs.m
	mi := methodIndex(o.Method)
	slots := s.codes[mi].Load()
	if slots == nil {
		s.codes[mi].CompareAndSwap(nil, new(codeSlots))
		slots = s.codes[mi].Load()
	}
	ci := otherCode
	if o.Status >= minCode && o.Status <= maxCode {
		ci = o.Status - minCode
	}
	if c := slots[ci].p.Load(); c != nil {
		(*c).Inc()
	} else {
		m.inc(&slots[ci], m.requests, s.name, "", s.name, methods[mi], codeLabel(ci))
	}
	s.duration.Observe(o.Duration.Seconds())
	if o.UpstreamDuration > 0 {
		s.upstream.Observe(o.UpstreamDuration.Seconds())
	}
	switch o.UpstreamError {
	case "":
	case kinds[0]:
		s.errors[0].Inc()
	case kinds[1]:
		s.errors[1].Inc()
	case kinds[2]:
		s.errors[2].Inc()
	}
	ri := reasonIndex(o.Reason)
	if ri < 0 {
		return
	}
	is := &s.issuers[len(s.issuers)-1]
	if o.Issuer != "" {
		for i := range s.issuers[:len(s.issuers)-1] {
			if s.issuers[i].name == o.Issuer {
				is = &s.issuers[i]
				break
			}
		}
	}
	result := "deny"
	switch o.Reason {
	case reason.OK, reason.Public, reason.Anonymous:
		result = "allow"
	}
	if c := is.reasons[ri].p.Load(); c != nil {
		(*c).Inc()
	} else {
		m.inc(&is.reasons[ri], m.decisions, s.name, is.name, s.name, is.name, result, string(o.Reason))
	}
}

func codeLabel(i int) string {
	if i == otherCode {
		return "other"
	}
	return strconv.Itoa(i + minCode)
}

// methodIndex maps a method to its index in methods; anything else
// (proxy.Outcome says "OTHER") is "other".
func methodIndex(m string) int {
	switch m {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodPatch:
		return 4
	case http.MethodDelete:
		return 5
	case http.MethodOptions:
		return 6
	case http.MethodTrace:
		return 7
	case http.MethodConnect:
		return 8
	}
	return len(methods) - 1
}

// reasonIndex maps r to its index in reasons, or -1 when no decision was
// made ("").
func reasonIndex(r reason.Reason) int {
	for i, x := range reasons {
		if x == r {
			return i
		}
	}
	return -1
}
