package proxy

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rs/cors"

	"github.com/authgate/authgate/internal/field"
	"github.com/authgate/authgate/internal/headers"
)

// CORS configures cross-origin resource sharing (docs/reference.md §3.7; the Fetch
// standard's CORS protocol). With it, the gateway answers preflights itself,
// without authentication, and puts the CORS headers on every response to an
// allowed origin: upstream answers and the gateway's own errors alike.
type CORS struct {
	// AllowedOrigins lists the origins (http or https://host[:port], no
	// path; see headers.CanonicalOrigin) whose pages may call the gateway.
	// Origins compare case-insensitively and with a default port (:80 for
	// http, :443 for https) ignored, as browsers omit it. "*" alone allows
	// every origin and is refused with AllowCredentials. Wildcards inside
	// an origin are refused. It must not be empty.
	AllowedOrigins []string
	// AllowedMethods lists the methods a page may use, each an upper-case
	// method token. Empty means GET, POST, PUT, PATCH and DELETE. HEAD is
	// allowed whenever GET is.
	AllowedMethods []string
	// AllowedHeaders lists the request headers a page may send. Empty means
	// Authorization and Content-Type; "*" allows any.
	AllowedHeaders []string
	// ExposedHeaders lists the response headers, beyond the CORS-safelisted
	// ones, that scripts may read. The gateway's own WWW-Authenticate,
	// X-Request-Id and Retry-After are always exposed.
	ExposedHeaders []string
	// AllowCredentials lets pages send cookies and read responses to
	// credentialed requests (Access-Control-Allow-Credentials: true).
	AllowCredentials bool
	// MaxAge is how long a browser may cache a preflight answer, sent in
	// whole seconds (rounded up). Zero sends no Access-Control-Max-Age, so
	// browsers use their default of 5 seconds. It must not be negative.
	MaxAge time.Duration
}

// Defaults applied by newCORS, the same as the configuration's (docs/reference.md
// §2.1), so that a Handler built without the config package behaves alike.
var (
	defaultCORSMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	defaultCORSHeaders = []string{"Authorization", "Content-Type"}
)

// gatewayExposed are the response headers the gateway itself sets that a
// browser application needs: the challenge of a 401/403 (RFC 6750 §3), the
// request id to quote in a support request, and the Retry-After of a 503.
// Without them in Access-Control-Expose-Headers, a script sees them as absent.
var gatewayExposed = []string{"WWW-Authenticate", "X-Request-Id", "Retry-After"}

// CORSDefaults returns copies of the methods and headers a CORS block
// without its own lists allows, and the headers the gateway always exposes,
// for check to print the values in force.
func CORSDefaults() (methods, headers, exposed []string) {
	return slices.Clone(defaultCORSMethods), slices.Clone(defaultCORSHeaders), slices.Clone(gatewayExposed)
}

// corsPolicy is a compiled CORS configuration. A nil *corsPolicy means no
// CORS handling; its methods are then no-ops.
type corsPolicy struct {
	rs *cors.Cors
	// methods are the allowed methods exactly as rs/cors holds them, so
	// that preflightVerdict names the cause rs/cors refused for.
	methods []string
}

// newCORS validates o, fills its defaults and compiles it with rs/cors. It
// is the one place the CORS rules and the defaults of AllowedMethods and
// AllowedHeaders are written; errors are *field.Error values with paths
// relative to the cors block (allowed_origins[1], max_age), every problem
// reported.
func newCORS(o CORS) (*corsPolicy, error) {
	var errs []error
	if len(o.AllowedOrigins) == 0 {
		// rs/cors reads an empty list as "every origin": never let a
		// missing list open the gateway to all of them.
		errs = append(errs, field.Errorf("allowed_origins", "must not be empty"))
	}
	origins := make([]string, 0, len(o.AllowedOrigins))
	for i, s := range o.AllowedOrigins {
		path := field.Index("allowed_origins", i)
		if s == "*" {
			if o.AllowCredentials {
				errs = append(errs, field.Errorf(path, `"*" is not allowed with allow_credentials: true; list the origins`))
			}
			origins = append(origins, s)
			continue
		}
		origin, err := headers.CanonicalOrigin(s)
		if err != nil {
			errs = append(errs, &field.Error{Path: path, Err: err})
			continue
		}
		origins = append(origins, origin)
	}

	methods := o.AllowedMethods
	if len(methods) == 0 {
		methods = defaultCORSMethods
	}
	for i, m := range methods {
		if err := checkMethodName(m); err != nil {
			errs = append(errs, &field.Error{Path: field.Index("allowed_methods", i), Err: err})
		}
	}
	// HEAD is GET without a body (RFC 9110 §9.3.2): a page that may GET a
	// resource may ask for its headers too.
	if slices.Contains(methods, http.MethodGet) && !slices.Contains(methods, http.MethodHead) {
		methods = append(slices.Clone(methods), http.MethodHead)
	}

	allowed := o.AllowedHeaders
	if len(allowed) == 0 {
		allowed = defaultCORSHeaders
	}
	errs = append(errs, checkHeaderNames("allowed_headers", allowed), checkHeaderNames("exposed_headers", o.ExposedHeaders))
	exposed := make([]string, 0, len(gatewayExposed)+len(o.ExposedHeaders))
	for _, name := range slices.Concat(gatewayExposed, o.ExposedHeaders) {
		if !slices.ContainsFunc(exposed, func(e string) bool { return strings.EqualFold(e, name) }) {
			exposed = append(exposed, name)
		}
	}

	if o.MaxAge < 0 {
		errs = append(errs, field.Errorf("max_age", "must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &corsPolicy{methods: methods, rs: cors.New(cors.Options{
		AllowedOrigins:   origins,
		AllowedMethods:   methods,
		AllowedHeaders:   allowed,
		ExposedHeaders:   exposed,
		AllowCredentials: o.AllowCredentials,
		MaxAge:           int((o.MaxAge + time.Second - 1) / time.Second),
	})}, nil
}

func checkHeaderNames(path string, names []string) error {
	var errs []error
	for i, n := range names {
		if !headers.IsToken(n) {
			errs = append(errs, field.Errorf(field.Index(path, i), "%s is not a header name", field.Quote(n)))
		}
	}
	return errors.Join(errs...)
}

// begin runs first for every request. It reports whether r is a preflight
// (isPreflight), which Decide then checks and routes like any request and
// the caller answers with preflight. For any
// other request it sets the CORS headers of an actual request now, before
// anything can write a response, so the gateway's own errors carry them as
// well as upstream answers (docs/reference.md §3.6): an allowed origin gets
// Access-Control-Allow-Origin (and -Allow-Credentials, -Expose-Headers),
// every request gets "Vary: Origin" so that no cache hands one origin's
// answer to another. It reads the client's request as sent.
func (p *corsPolicy) begin(w http.ResponseWriter, r *http.Request) (preflight bool) {
	if p == nil {
		return false
	}
	if p.isPreflight(r) {
		return true
	}
	if r.Header.Get("Origin") == "" {
		// All rs/cors would do, and its HandlerFunc would take an OPTIONS
		// with Access-Control-Request-Method but no Origin for a
		// preflight, which the contract says it is not.
		w.Header().Add("Vary", "Origin")
		return false
	}
	p.rs.HandlerFunc(w, r) // not a preflight, so this only sets headers
	return false
}

// refusedPreflight adds "Vary: Origin" to the gateway's refusal of a
// preflight (a path §3.1 refuses), which gets no other CORS header: with
// CORS configured, every response carries it.
func (p *corsPolicy) refusedPreflight(w http.ResponseWriter) {
	if p != nil {
		w.Header().Add("Vary", "Origin")
	}
}

// isPreflight reports whether r is a CORS preflight (docs/reference.md §3.7: OPTIONS
// with Origin and Access-Control-Request-Method) that the gateway answers
// itself; never without CORS configured.
func (p *corsPolicy) isPreflight(r *http.Request) bool {
	return p != nil && r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// preflight answers a CORS preflight with 204, without authentication:
// browsers never send credentials on a preflight, so a required route would
// otherwise refuse the very request that lets the real one through. It is
// answered whether or not a route matches, so that the actual request gets
// the gateway's readable 404 rather than an opaque CORS failure. An allowed
// origin, method and header list get Access-Control-Allow-Origin,
// -Allow-Methods (the requested one), -Allow-Headers (the requested ones),
// -Allow-Credentials and -Max-Age; anything else gets the 204 without them,
// which the browser treats as a refusal. For the access line and metrics the
// route is the one the actual request would match (by the requested method),
// or "none", as Decide found it; no authentication decision is made, so the
// reason is empty.
func (h *Handler) preflight(ex *exchange, r *http.Request) {
	ex.closeConnection()
	h.cors.rs.HandlerFunc(&ex.rec, r) // a preflight: sets the headers and writes 204
	ex.cors, ex.corsRefused = h.cors.preflightVerdict(ex.rec.Header(), r)
}

// The access line's cors and cors_refused values: closed sets, so that a
// refused browser call is easy to find and count without logging the
// Origin, the requested method or the header list, which a client chooses
// freely.
const (
	corsAllowed = "allowed"
	corsRefused = "refused"

	corsOriginNotAllowed = "origin_not_allowed"
	corsMethodNotAllowed = "method_not_allowed"
	corsHeaderNotAllowed = "header_not_allowed"
)

// requestVerdict is the access line's CORS verdict on an actual request
// (not a preflight): "" without CORS or without Origin, else allowed, or
// refused with origin_not_allowed (the only check an actual request gets).
func (p *corsPolicy) requestVerdict(r *http.Request) (verdict, cause string) {
	if p == nil || r.Header.Get("Origin") == "" {
		return "", ""
	}
	if !p.rs.OriginAllowed(r) {
		return corsRefused, corsOriginNotAllowed
	}
	return corsAllowed, ""
}

// preflightVerdict is the access line's CORS verdict on a preflight that
// rs/cors answered with answered as its headers. rs/cors decides; this only
// names the step it stopped at, in its order: origin, method, headers. A
// preflight is allowed exactly when it got Access-Control-Allow-Origin.
func (p *corsPolicy) preflightVerdict(answered http.Header, r *http.Request) (verdict, cause string) {
	switch {
	case answered.Get("Access-Control-Allow-Origin") != "":
		return corsAllowed, ""
	case !p.rs.OriginAllowed(r):
		return corsRefused, corsOriginNotAllowed
	case !slices.Contains(p.methods, r.Header.Get("Access-Control-Request-Method")) &&
		r.Header.Get("Access-Control-Request-Method") != http.MethodOptions:
		return corsRefused, corsMethodNotAllowed
	}
	return corsRefused, corsHeaderNotAllowed
}

// stripUpstreamCORS removes an upstream response's own Access-Control-*
// headers when the gateway handles CORS. ReverseProxy adds the upstream's
// header values to those already on the response, so an upstream's
// Access-Control-Allow-Origin next to the gateway's would make two, which
// browsers reject, and its -Allow-Credentials or -Expose-Headers could widen
// what the configuration allows.
func stripUpstreamCORS(h http.Header) {
	for k := range h {
		if len(k) >= len("Access-Control-") &&
			strings.EqualFold(k[:len("Access-Control-")], "Access-Control-") {
			delete(h, k)
		}
	}
}
