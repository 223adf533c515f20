package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/authgate/authgate/internal/headers"
	"github.com/authgate/authgate/internal/reason"
)

// statusClientClosed is logged when the client went away before it got an
// answer (nginx's convention); nothing is written to it.
const statusClientClosed = 499

// Refusal is every response the gateway makes itself (docs/reference.md §3.6): a
// Decision's refusal, and the upstream failures found while forwarding. One
// renderer (Handler.render) turns it into the response, and the exchange
// hands its cause and reason to the access line and Observe. Its exported
// fields are exactly what a client gets.
type Refusal struct {
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Code is the body's "error" member (RFC 6750 §3.1 codes where they
	// apply), e.g. "invalid_token".
	Code string `json:"error"`
	// Reason is the access log's and metrics' reason, "" when no
	// authentication decision was made (400 path, 404, an internal error).
	Reason reason.Reason `json:"reason,omitempty"`
	// Description is the body's "error_description" member: client-safe,
	// never token material.
	Description string `json:"error_description"`
	// Challenge is the WWW-Authenticate value, "" when none is sent.
	Challenge string `json:"www_authenticate,omitempty"`
	// RetryAfter, when positive, is sent as Retry-After (seconds).
	RetryAfter int `json:"retry_after,omitempty"`

	cause error // for logs only
}

// Error returns the status, code and cause, for logs: the cause may quote
// claim values. Clients get Description.
func (e *Refusal) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Code, e.cause)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Code)
}

// Unwrap returns the cause: the Authenticator's error, the claim that could
// not be forwarded, the upstream failure; nil when there is none.
func (e *Refusal) Unwrap() error { return e.cause }

// keysRetryAfter is the Retry-After of a 503 while an issuer's keys are
// unavailable: long enough for a background refetch, short enough for a
// client to retry soon.
const keysRetryAfter = 10

// challenge builds a Bearer WWW-Authenticate value (RFC 6750 §3) from
// attribute pairs, quoting each value as an RFC 9110 §5.6.4 quoted-string.
func challenge(realm string, attrs ...string) string {
	var b strings.Builder
	b.WriteString(`Bearer realm=`)
	b.WriteString(quote(realm))
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] == "" {
			continue
		}
		b.WriteString(", ")
		b.WriteString(attrs[i])
		b.WriteByte('=')
		b.WriteString(quote(attrs[i+1]))
	}
	return b.String()
}

// quote returns s as a quoted-string, escaping '"' and '\'.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// DefaultRealm is the realm New uses when Options.Realm is "" (docs/reference.md
// §2.1 server.realm).
const DefaultRealm = "authgate"

// checkRealm is the rule for the realm: it is sent in a quoted-string of
// every WWW-Authenticate challenge (RFC 9110 §11.6.1). quote would escape
// '"' and '\', but a realm is configured text that clients show and match
// as written, and some read challenges naively, so neither is allowed, nor
// any control character (headers.IsCTL, HTAB included). "" stands for
// DefaultRealm.
func checkRealm(realm string) error {
	if strings.ContainsAny(realm, `"\`) || headers.HasCTL(realm) {
		return errors.New("must not contain quotes, backslashes or control characters")
	}
	return nil
}

func badPath(cause error) *Refusal {
	return &Refusal{Status: http.StatusBadRequest, Code: "invalid_request",
		Description: "the request path is not acceptable", cause: cause}
}

// badHost is the 400 for a Host header docs/reference.md §3.1's host matching
// cannot read as one name.
func badHost(cause error) *Refusal {
	return &Refusal{Status: http.StatusBadRequest, Code: "invalid_request",
		Description: "the request host is not acceptable", cause: cause}
}

// methodNotAllowed is the 405 for TRACE and CONNECT (docs/reference.md §3.1, §3.6).
// It has no Allow header: which methods a path takes depends on routes the
// request never reached.
func methodNotAllowed() *Refusal {
	return &Refusal{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
		Description: "the request method is not allowed"}
}

func notFound() *Refusal {
	return &Refusal{Status: http.StatusNotFound, Code: "not_found",
		Description: "no route matches the request"}
}

// bearerError is a 400 for §3.2 syntax; RFC 6750 §3.1 gives it a challenge
// with error="invalid_request".
func (h *Handler) bearerError(cause error) *Refusal {
	desc := cause.Error() // errManyAuthorization / errBearerSyntax: fixed, client-safe text
	return &Refusal{Status: http.StatusBadRequest, Code: "invalid_request", Reason: reason.Malformed,
		Description: desc, cause: cause,
		Challenge: challenge(h.realm, "error", "invalid_request", "error_description", desc)}
}

// missingToken is the 401 for a required route without a token: a bare
// challenge, no error attribute (RFC 6750 §3.1).
func (h *Handler) missingToken() *Refusal {
	return &Refusal{Status: http.StatusUnauthorized, Code: "unauthorized", Reason: reason.Missing,
		Description: reason.Describe(reason.ErrMissing), cause: reason.ErrMissing,
		Challenge: challenge(h.realm)}
}

// authError maps an Authenticate (or claim forwarding) error to its response
// by the reason sentinel it wraps. The description is always
// reason.Describe(err), never err.Error(), which may quote claim values.
func (h *Handler) authError(c *route, err error) *Refusal {
	r := reason.Of(err)
	desc := reason.Describe(err)
	switch r {
	case reason.Missing:
		e := h.missingToken()
		e.cause = err
		return e
	case reason.InsufficientScope, reason.ClaimMismatch:
		return &Refusal{Status: http.StatusForbidden, Code: "insufficient_scope", Reason: r, Description: desc, cause: err,
			Challenge: challenge(h.realm, "error", "insufficient_scope", "scope", c.scope, "error_description", desc)}
	case reason.KeysUnavailable:
		return &Refusal{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Reason: r,
			Description: desc, cause: err, RetryAfter: keysRetryAfter}
	case "", reason.OK, reason.Anonymous, reason.Public:
		// An error without a deny reason is a fault in the authenticator,
		// not a verdict on the token: fail closed, and say so honestly.
		return &Refusal{Status: http.StatusInternalServerError, Code: "server_error",
			Description: "the request could not be authenticated because of an internal error", cause: err}
	}
	return &Refusal{Status: http.StatusUnauthorized, Code: "invalid_token", Reason: r, Description: desc, cause: err,
		Challenge: challenge(h.realm, "error", "invalid_token", "error_description", desc)}
}

// errUpstreamTimeout is the cause of a 504: no response headers in time.
var errUpstreamTimeout = errors.New("no response headers from the upstream within the route's timeout")

// upstreamError maps a ReverseProxy failure to its response and the
// metrics' upstream error kind.
func (h *Handler) upstreamError(c *route, err error) (*Refusal, string) {
	var ce *credentialError
	if errors.As(err, &ce) {
		// The token refetch for a retry (credentialTransport) failed.
		return h.credentialRefusal(c, ce)
	}
	if errors.Is(err, errSwitchRefused) {
		// The upstream answered, so it is neither unreachable nor slow:
		// no upstream error kind.
		return &Refusal{Status: http.StatusBadGateway, Code: "bad_gateway",
			Description: "the upstream service switched protocols, which the gateway does not allow", cause: err}, ""
	}
	if isTimeout(err) {
		return &Refusal{Status: http.StatusGatewayTimeout, Code: "gateway_timeout",
			Description: "the upstream service did not respond in time", cause: err}, "timeout"
	}
	return &Refusal{Status: http.StatusBadGateway, Code: "bad_gateway",
		Description: "the upstream service is unreachable", cause: err}, "unreachable"
}

// isTimeout reports whether err means the upstream was reached but did not
// answer in time. A timeout while dialling means it was not reached at all.
func isTimeout(err error) bool {
	if errors.Is(err, errUpstreamTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// clientGone is the "error" of a request whose client went away: logged as
// 499, nothing written.
func clientGone(cause error) *Refusal {
	return &Refusal{Status: statusClientClosed, Code: "client_closed_request", cause: cause}
}

// errorBody is the JSON body of every error response (docs/reference.md §3.6).
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// render is the one place a Refusal becomes a response. It records the
// error on the exchange for the access line and Observe, and writes nothing
// when the client is gone or the response has already begun (an upgraded
// connection, a failure after the headers went out).
func (h *Handler) render(ex *exchange, e *Refusal) {
	ex.err = e
	if e.Reason != "" {
		ex.reason = e.Reason
	}
	w := &ex.rec
	if e.Status == statusClientClosed {
		ex.rec.status = statusClientClosed
		return
	}
	if w.status != 0 || w.hijacked {
		return
	}
	body, _ := json.Marshal(errorBody{Error: e.Code, Description: e.Description}) // two strings: cannot fail
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Length", strconv.Itoa(len(body)+1))
	if e.Challenge != "" {
		hdr.Set("WWW-Authenticate", e.Challenge)
	}
	if e.RetryAfter > 0 {
		hdr.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	ex.closeConnection()
	w.WriteHeader(e.Status)
	_, _ = w.Write(append(body, '\n'))
}
