package proxy

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/authgate/authgate/internal/auth"
	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/verify"
	"github.com/authgate/authgate/policy"
)

// Decision is the Handler's verdict on one request: whether it is forwarded,
// with which identity and headers, or refused, with which response, and why.
// Decide computes it before anything is written or forwarded; ServeHTTP
// renders or forwards it, explain prints it, and a forward-auth endpoint
// would answer with it. It holds no token material.
type Decision struct {
	// Route is the route the request takes, as given to New and shared with
	// the Handler: read it, never modify it. It is nil when the request was
	// refused before routing (docs/reference.md §3.1) or matched no route; for a
	// preflight, it is the route the actual request would take, if any.
	Route *Route
	// Preflight reports a CORS preflight (docs/reference.md §3.7), which the gateway
	// answers itself with 204, without authentication: Refusal is nil and
	// Reason "".
	Preflight bool
	// Identity is the verified identity the request is forwarded with; nil
	// when it is forwarded without one (anonymous, public) or refused.
	Identity *verify.Identity
	// Headers are the identity headers the upstream receives, in the order
	// they are set: forward.headers by name, then the claims header.
	Headers []ForwardedHeader
	// Reason is the authentication decision, as the access log and metrics
	// report it: reason.OK, reason.Anonymous, reason.Public or a deny
	// reason; "" when none was made (refused before routing, no route, a
	// preflight, a fault in the authenticator).
	Reason reason.Reason
	// Issuer is the configured name of the issuer that vouched for or
	// refused the token; "" when none is known.
	Issuer string
	// Subject is the verified sub claim, also of a verified token that is
	// refused (policy, an unforwardable claim); "" otherwise.
	Subject string
	// Refusal is the gateway's own response when the request is refused;
	// nil when it is forwarded (or, for a preflight, answered).
	Refusal *Refusal

	route *route // the compiled Route
	token string // the bearer token, kept only to redact it from logged causes
}

// ForwardedHeader is one identity header the route sets upstream.
type ForwardedHeader struct {
	// Name is the canonical header name.
	Name string `json:"name"`
	// Value is the header value exactly as sent.
	Value string `json:"value"`
	// Claim is the claim selector the value comes from; "" for the
	// claims_header, whose value is the whole verified payload,
	// base64url-encoded without padding.
	Claim string `json:"claim,omitempty"`
}

// StepToken is the name of the token step (docs/reference.md §3.3 step 1, §3.2) that
// Decide records in a Trace.
const StepToken = "token"

// Decide returns the verdict on r, in the contract's order: method, host and
// path checks (§3.1) → CORS preflight (§3.7) → route match → the route's
// auth mode and bearer extraction (§3.2, §3.3 step 1) → the route's
// Authenticator (§3.3 steps 2–7) → identity headers (§3.5). It reads r's
// method, host, URL path and headers as given: ServeHTTP passes the request
// with the client-only headers already stripped. With t set, each step is
// recorded for explain; on the request path t is nil and costs nothing.
// Decide writes nothing and forwards nothing; its only effects are the
// Authenticator's (a rate-limited key refetch for an unknown kid). It
// returns a Decision rather than an error because every request gets a
// verdict: a refusal is an answer, not a failure to decide.
func (h *Handler) Decide(r *http.Request, t *verify.Trace) Decision {
	return h.decide(r, h.cors.isPreflight(r), t)
}

// DecideOn is Decide on the route named name as if r had matched it: the
// method, host and path checks and route matching are skipped. It reports
// false when there is no such route. explain uses it for -route NAME.
func (h *Handler) DecideOn(name string, r *http.Request, t *verify.Trace) (Decision, bool) {
	for _, c := range h.routes {
		if c.Name == name {
			return h.decideRoute(c, r, t), true
		}
	}
	return Decision{}, false
}

// decide is Decide with the preflight test given: ServeHTTP makes it on the
// request as the client sent it, before stripping (corsPolicy.begin).
func (h *Handler) decide(r *http.Request, preflight bool, t *verify.Trace) Decision {
	path, e := checkRequest(r.Method, r.Host, r.URL.Path)
	if e != nil {
		return Decision{Refusal: e}
	}
	if preflight {
		// The route is the one the actual request would match, by the
		// requested method, for the access line and metrics only.
		actual := r.WithContext(r.Context()) // shallow copy: only the method differs
		actual.Method = r.Header.Get("Access-Control-Request-Method")
		d := Decision{Preflight: true, route: h.match(actual, path)}
		if d.route != nil {
			d.Route = &d.route.Route
		}
		return d
	}
	c := h.match(r, path)
	if c == nil {
		return Decision{Refusal: notFound()}
	}
	return h.decideRoute(c, r, t)
}

// decideRoute applies the route's mode (docs/reference.md §3.2, §3.3), its
// Authenticator and its header plan.
func (h *Handler) decideRoute(c *route, r *http.Request, t *verify.Trace) Decision {
	d := Decision{Route: &c.Route, route: c}
	if c.Mode == policy.None {
		traceToken(t, true, "not examined: the route's auth mode is none")
		d.Reason = reason.Public
		return d // the Authorization header is not examined at all
	}
	token, err := bearerToken(r.Header)
	if err != nil {
		e := h.bearerError(err)
		traceToken(t, false, e.Description)
		return d.refuse(e)
	}
	if token == "" {
		if c.Mode == policy.Optional {
			traceToken(t, true, "no token: the route's auth mode is optional, so the request is forwarded without identity")
			d.Reason = reason.Anonymous
			return d
		}
		traceToken(t, false, "no token, and the route's auth mode is required")
		return d.refuse(h.missingToken())
	}
	if t != nil {
		traceToken(t, true, fmt.Sprintf("bearer token present (auth mode %s)", c.Mode))
	}
	d.token = token
	res := c.Auth.Authenticate(r.Context(), auth.Request{
		Scheme: auth.SchemeBearer, Credentials: token, Method: r.Method, URL: r.URL,
		DPoP: r.Header["Dpop"], Trace: t,
	})
	// A refusal of a verified token (the policy) comes with its subject,
	// so the access line can say whose request it was.
	d.Issuer, d.Subject = res.Issuer, res.Subject
	if res.Err != nil {
		e := h.authError(c, res.Err)
		if r.Context().Err() != nil {
			d.Reason = e.Reason
			d.Refusal = clientGone(res.Err)
			return d
		}
		return d.refuse(e)
	}
	if res.Identity == nil {
		return d.refuse(h.authError(c, errors.New("authenticator returned neither identity nor error")))
	}
	hv, err := c.identityHeaders(res.Identity, token)
	if err != nil {
		return d.refuse(h.authError(c, err))
	}
	d.Identity, d.Headers, d.Reason = res.Identity, hv, reason.OK
	return d
}

// refuse returns d refused with e, whose reason becomes d's.
func (d Decision) refuse(e *Refusal) Decision {
	d.Refusal, d.Reason = e, e.Reason
	return d
}

// traceToken records the token step; t may be nil.
func traceToken(t *verify.Trace, ok bool, detail string) {
	if t != nil {
		t.Steps = append(t.Steps, verify.Step{Stage: 1, Name: StepToken, OK: ok, Detail: detail})
	}
}

// match returns the first route that matches r, whose checked path (see
// checkPath) is path, or nil.
func (h *Handler) match(r *http.Request, path string) *route {
	for _, c := range h.routes {
		if c.matches(r, path) {
			return c
		}
	}
	return nil
}
