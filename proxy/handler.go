// Package proxy is authgate's HTTP front: it assigns request ids, strips
// identity and client forwarding headers, refuses unsafe upgrades and
// framing, decides each request (Decide: method, host and path checks,
// routing, the route's auth mode and its Authenticator, identity headers),
// renders every refusal, and forwards with httputil.ReverseProxy (docs/reference.md
// §3). Verification itself is behind the Authenticator interface.
package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/auth"
	"github.com/authgate/authgate/internal/field"
	"github.com/authgate/authgate/internal/headers"
)

// Authenticator authenticates a request's credentials for a route (docs/reference.md
// §3.3 steps 2–7); internal/auth's Authenticator is the gateway's. Its
// Result holds the verified identity, or the refusal, an error wrapping one
// reason sentinel (reason.Of): the proxy maps the reason to the response and
// uses only reason.Describe(err) as client text. Issuer and Subject go to
// the access log and Observe, on a refusal too. It must be safe for
// concurrent use and should return promptly when ctx ends.
type Authenticator interface {
	Authenticate(ctx context.Context, req auth.Request) auth.Result
}

// Options configure New.
type Options struct {
	// Routes are tried in order; the first that matches wins.
	Routes []Route
	// Realm is the realm of every WWW-Authenticate challenge; "" means
	// "authgate".
	Realm string
	// Logger receives access lines and errors; nil discards them.
	Logger *slog.Logger
	// AccessLog enables one "request" line per request (docs/reference.md §6).
	AccessLog bool
	// Observe, if set, is called once per request after the response is
	// written (for metrics). It must be safe for concurrent use.
	Observe func(Outcome)
	// Transport carries upstream requests. Nil means a clone of
	// http.DefaultTransport tuned for a gateway, owned by the Handler.
	// Route timeouts apply whatever the transport.
	Transport http.RoundTripper
	// CORS, if set, makes the gateway answer CORS preflights itself and put
	// CORS headers on every response (docs/reference.md §3.7). Nil: no CORS handling
	// at all; OPTIONS is routed and authenticated like any other method.
	CORS *CORS
}

// Handler is the gateway's http.Handler for one configuration. It is
// immutable after New and safe for concurrent use.
type Handler struct {
	routes    []*route
	realm     string
	logger    *slog.Logger
	accessLog bool
	observe   func(Outcome)
	transport http.RoundTripper
	owned     *http.Transport // the transport New made, closed by Close
	cors      *corsPolicy     // nil: no CORS handling
	// strip holds every header any route sets, canonical: removed from
	// every incoming request.
	strip map[string]bool
}

// New validates o (see Options.Validate) and compiles the routes: matchers,
// the set of identity headers to strip, claim selectors and one reverse
// proxy per route. Errors are *field.Error values (routes[2].upstream.url).
func New(o Options) (*Handler, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{
		realm:     o.Realm,
		logger:    o.Logger,
		accessLog: o.AccessLog,
		observe:   o.Observe,
		transport: o.Transport,
		strip:     map[string]bool{},
	}
	if h.realm == "" {
		h.realm = DefaultRealm
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if o.CORS != nil {
		p, err := newCORS(*o.CORS)
		if err != nil {
			return nil, fmt.Errorf("cors: %w", err)
		}
		h.cors = p
	}
	if h.transport == nil {
		h.owned = newTransport()
		h.transport = h.owned
	}
	for i, r := range o.Routes {
		c, err := compileRoute(r)
		if err != nil {
			return nil, field.Prefix(field.Index("routes", i), err)
		}
		for _, p := range c.headers {
			h.strip[p.name] = true
		}
		if c.claimsHeader != "" {
			h.strip[c.claimsHeader] = true
		}
		c.index = i
		c.proxy = h.newReverseProxy(c)
		h.routes = append(h.routes, c)
	}
	return h, nil
}

// ServeHTTP handles one request: request id → CORS headers → strip client
// headers → Decide → render the refusal, answer the preflight or forward. It
// writes exactly one access line, after the response.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := &exchange{start: time.Now(), rec: recorder{ResponseWriter: w}, upgrade: upgradeOf(r), close: mustClose(r)}
	ex.requestID = requestID(r.Header)
	w.Header()["X-Request-Id"] = ex.headerSlot(slotRequestID, ex.requestID)
	defer func() {
		if p := recover(); p != nil {
			// ReverseProxy aborts with ErrAbortHandler when a response
			// body breaks off; the server handles that panic, but the
			// request still gets its access line.
			if ex.rec.status == 0 {
				ex.rec.status = http.StatusInternalServerError
			}
			if r.Context().Err() != nil {
				ex.rec.status = statusClientClosed
			}
			if ex.err == nil {
				ex.err = &Refusal{cause: fmt.Errorf("response aborted: %v", p)}
			}
			h.finish(ex, r)
			panic(p)
		}
		h.finish(ex, r)
	}()

	preflight := h.cors.begin(&ex.rec, r)
	if !preflight {
		ex.cors, ex.corsRefused = h.cors.requestVerdict(r)
	}
	r = h.stripClientHeaders(r, ex.upgrade == webSocket)
	d := h.decide(r, preflight, nil)
	ex.route, ex.token = d.route, d.token
	ex.issuer, ex.subject, ex.reason = d.Issuer, d.Subject, d.Reason
	switch {
	case d.Refusal != nil:
		if preflight {
			// Refused too: answering it would let the browser send a
			// request that can never be served.
			h.cors.refusedPreflight(&ex.rec)
		}
		h.render(ex, d.Refusal)
	case d.Preflight:
		h.preflight(ex, r)
	default:
		h.forward(ex, d.route, r, d.Headers)
	}
}

// stripClientHeaders removes, in one pass and on every request and route
// (public ones included), every header a client must not be able to send
// upstream (docs/reference.md §3.5):
//   - every header any route may set (h.strip). Without this a client could
//     send "X-User-Id: admin" to an optional or public route, or to a route
//     that does not set that header, and an upstream that trusts the
//     gateway's headers would take it as verified;
//   - the forwarding, client-address and override headers of
//     headers.Dropped: X-Forwarded-*, Forwarded, X-Real-IP and the like,
//     which the gateway sets itself, and X-Original-URL and the like, which
//     make an upstream serve another path or method than the one routed;
//   - Upgrade, unless keepUpgrade (the request is a WebSocket handshake,
//     see upgradeOf), so that an h2c or other upgrade goes upstream as
//     plain HTTP/1.1.
//
// Names are also matched with "_" read as "-": some upstream stacks (CGI,
// WSGI, nginx) fold the two, so "X-User_Id" or "X_Forwarded_Prefix" would
// arrive as X-User-Id or X-Forwarded-Prefix. A name in such a spelling is
// dropped as well when its folded form is one the protocol or the gateway
// owns (headers.Reserved: "Transfer_Encoding", "X_Request_Id"): no client
// sends one for a good reason. The caller's request is not modified; a copy
// with its own header map is returned when needed.
func (h *Handler) stripClientHeaders(r *http.Request, keepUpgrade bool) *http.Request {
	var hdr http.Header
	for k := range r.Header {
		if !h.isClientOnly(k, keepUpgrade) {
			continue
		}
		if hdr == nil {
			hdr = r.Header.Clone()
		}
		delete(hdr, k)
	}
	if hdr == nil {
		return r
	}
	r2 := r.WithContext(r.Context())
	r2.Header = hdr
	return r2
}

// isClientOnly reports whether stripClientHeaders removes the header named
// k; keepUpgrade spares Upgrade (a WebSocket handshake). It does not
// allocate for a canonical name without "_".
func (h *Handler) isClientOnly(k string, keepUpgrade bool) bool {
	if h.strip[k] || headers.Dropped(k) || k == "Upgrade" && !keepUpgrade {
		return true
	}
	if strings.IndexByte(k, '_') >= 0 || k != textproto.CanonicalMIMEHeaderKey(k) {
		folded := textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(k, "_", "-"))
		return h.strip[folded] || headers.Reserved(folded)
	}
	return false
}

// forward sends the request upstream with the decision's identity headers
// and, on a route with a Credential, the gateway's own token.
func (h *Handler) forward(ex *exchange, c *route, r *http.Request, identity []ForwardedHeader) {
	ex.identity = identity
	ex.upstreamStart = time.Now()
	if c.Credential != nil {
		var e *Refusal
		if r, e = h.upstreamToken(ex, c, r); e != nil {
			ex.upstreamDur = time.Since(ex.upstreamStart)
			h.render(ex, e)
			return
		}
	}
	ex.client, ex.Context = r.Context(), r.Context()
	if c.Timeout > 0 {
		// For timeoutTransport, which cancels it when the upstream is too
		// slow to answer; released once the response is relayed.
		ctx, cancel := context.WithCancelCause(ex.client)
		ex.Context, ex.cancelUpstream = ctx, cancel
		defer cancel(nil)
	}
	c.proxy.ServeHTTP(&ex.rec, r.WithContext(ex))
}

// Close releases the idle upstream connections of the transport New
// created. In-flight requests are unaffected; call it when a configuration
// is swapped out. A caller-supplied Transport is left alone, as it may be
// shared.
func (h *Handler) Close() {
	if h.owned != nil {
		h.owned.CloseIdleConnections()
	}
}

var (
	_ http.Handler  = (*Handler)(nil)
	_ Authenticator = (*auth.Authenticator)(nil)
)
