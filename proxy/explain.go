package proxy

import (
	"fmt"
	"net/http"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/verify"
)

// This file lets `authgate explain` ask the Handler what it would do with a
// request, one decision at a time, through the same code ServeHTTP runs:
// the path check and matcher, bearer extraction, the error mapping and the
// header plan. None of it changes how requests are served.

// Refusal is a response the Handler makes itself (CONTRACT §3.6), as explain
// reports it.
type Refusal struct {
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Code is the body's "error" member, e.g. "invalid_token".
	Code string `json:"error"`
	// Reason is the access log's and metrics' reason, "" when no
	// authentication decision was made (400 path, 404).
	Reason reason.Reason `json:"reason,omitempty"`
	// Description is the body's "error_description" member.
	Description string `json:"error_description"`
	// Challenge is the WWW-Authenticate value, "" when none is sent.
	Challenge string `json:"www_authenticate,omitempty"`
	// RetryAfter is the Retry-After value in seconds, 0 when none is sent.
	RetryAfter int `json:"retry_after,omitempty"`
}

// Error returns the status, code and description.
func (r *Refusal) Error() string {
	return fmt.Sprintf("%d %s: %s", r.Status, r.Code, r.Description)
}

func refusal(e *httpError) *Refusal {
	return &Refusal{Status: e.status, Code: e.code, Reason: e.reason, Description: e.desc,
		Challenge: e.challenge, RetryAfter: e.retryAfter}
}

// Route returns the name of the route that a request with this method, host
// (port optional) and decoded path would take, with ServeHTTP's own checks
// and trying routes in order as it does. The error is a *Refusal: 405
// method_not_allowed for TRACE and CONNECT, 400 invalid_request for a path
// that CONTRACT §3.1 refuses, 404 not_found when no route matches.
func (h *Handler) Route(method, host, path string) (string, error) {
	path, e := checkRequest(method, host, path)
	if e != nil {
		return "", refusal(e)
	}
	r := &http.Request{Method: method, Host: host}
	for _, c := range h.routes {
		if c.matches(r, path) {
			return c.Name, nil
		}
	}
	return "", refusal(notFound())
}

// Lookup returns the route named name as it was given to New.
func (h *Handler) Lookup(name string) (Route, bool) {
	if c := h.byName(name); c != nil {
		return c.Route, true
	}
	return Route{}, false
}

// Bearer reads a token from an Authorization header value as ServeHTTP
// does (CONTRACT §3.2): "" when the value is not of the Bearer scheme, a
// *Refusal (400 invalid_request) when its credentials are empty or not
// RFC 6750 b64token syntax.
func (h *Handler) Bearer(authorization string) (string, error) {
	tok, err := bearerToken(http.Header{"Authorization": {authorization}})
	if err != nil {
		return "", refusal(h.bearerError(err))
	}
	return tok, nil
}

// Refuse returns the response ServeHTTP sends on the route named name when its
// Authenticator returns err; an err wrapping reason.ErrMissing gives the
// response to a request without a token. The mapping is ServeHTTP's own, so
// status, description and WWW-Authenticate are exactly what a client gets.
func (h *Handler) Refuse(name string, err error) *Refusal {
	c := h.byName(name)
	if c == nil {
		c = &route{}
	}
	return refusal(h.authError(c, err))
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

// IdentityHeaders returns the identity headers route would send upstream
// for id, in the order it sets them. An error wraps
// reason.ErrUnforwardableClaim: ServeHTTP would refuse the request (see
// Refuse) rather than forward it.
func (h *Handler) IdentityHeaders(route string, id *verify.Identity) ([]ForwardedHeader, error) {
	c := h.byName(route)
	if c == nil {
		return nil, fmt.Errorf("no route named %q", route)
	}
	hv, all, err := c.identityHeaders(id)
	if err != nil {
		return nil, err
	}
	out := make([]ForwardedHeader, 0, len(hv)+1)
	for _, v := range hv {
		f := ForwardedHeader{Name: v.name, Value: v.value}
		for _, p := range c.headers { // names are unique per route
			if p.name == v.name {
				f.Claim = p.sel.String()
			}
		}
		out = append(out, f)
	}
	if c.claimsHeader != "" {
		out = append(out, ForwardedHeader{Name: c.claimsHeader, Value: all})
	}
	return out, nil
}

func (h *Handler) byName(name string) *route {
	for _, c := range h.routes {
		if c.Name == name {
			return c
		}
	}
	return nil
}
