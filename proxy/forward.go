package proxy

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/claims"
	"github.com/authgate/authgate/internal/verify"
)

// newReverseProxy builds the route's forwarder. Only Rewrite shapes the
// outbound request: ReverseProxy removes hop-by-hop headers (including those
// the client names in Connection) and client X-Forwarded-* before Rewrite
// runs, so what Rewrite sets reaches the upstream.
func (h *Handler) newReverseProxy(c *route) *httputil.ReverseProxy {
	var rt http.RoundTripper = h.transport
	if c.Credential != nil {
		rt = credentialTransport{next: rt, cred: c.Credential}
	}
	if c.Timeout > 0 {
		// Outside the credential's retry: the timeout bounds both
		// attempts together.
		rt = timeoutTransport{next: rt, timeout: c.Timeout}
	}
	return &httputil.ReverseProxy{
		Rewrite:        c.rewrite,
		Transport:      rt,
		ModifyResponse: h.modifyResponse,
		ErrorHandler:   h.proxyError,
		BufferPool:     copyBuffers,
		// ReverseProxy's own messages (a body copy that broke off) never
		// carry the request URL; keep them in the structured log anyway.
		ErrorLog: slog.NewLogLogger(h.logger.Handler(), slog.LevelWarn),
	}
}

// identityHeaders evaluates the route's header plan against a verified
// identity, whose bearer token was token: the forward.headers in name
// order, then the claims header. A claim that cannot be a header value fails
// the whole request (docs/reference.md §3.5): the error wraps
// reason.ErrUnforwardableClaim.
func (c *route) identityHeaders(id *verify.Identity, token string) ([]ForwardedHeader, error) {
	n := len(c.headers)
	if c.claimsHeader != "" {
		n++
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]ForwardedHeader, 0, n)
	for _, p := range c.headers {
		v, ok := p.sel.Lookup(id.Claims)
		if !ok || v == nil {
			continue // absent (or null) claim: header not set
		}
		s, err := claims.HeaderValue(v)
		if err != nil {
			return nil, fmt.Errorf("claim %s for header %s: %w", p.sel, p.name, err)
		}
		out = append(out, ForwardedHeader{Name: p.name, Value: s, Claim: p.claim})
	}
	if c.claimsHeader != "" {
		if all := claimsHeaderValue(id.Payload, token); all != "" {
			out = append(out, ForwardedHeader{Name: c.claimsHeader, Value: all})
		}
	}
	return out, nil
}

// claimsHeaderValue returns the claims header's value: payload,
// base64url-encoded without padding. A compact JWS already carries exactly
// that as its second part whenever the part is canonical base64url, as the
// verifier requires (RFC 7515 §7.1), so the token's part is used as it is,
// once checked to encode exactly these bytes: the check costs an encoding
// into a stack buffer, the copy it saves an allocation of the payload's
// size. Any other token (another Authenticator's, an opaque one) gets the
// payload encoded anew.
func claimsHeaderValue(payload []byte, token string) string {
	if _, rest, ok := strings.Cut(token, "."); ok {
		if part, _, ok := strings.Cut(rest, "."); ok && encodes(part, payload) {
			return part
		}
	}
	return base64.RawURLEncoding.EncodeToString(payload)
}

// encodes reports whether s is exactly the unpadded base64url encoding of
// b. It encodes b in chunks of a multiple of 3 bytes, each of which encodes
// to the same characters alone as within the whole, and allocates nothing.
func encodes(s string, b []byte) bool {
	enc := base64.RawURLEncoding
	if len(s) != enc.EncodedLen(len(b)) {
		return false
	}
	var buf [512]byte // the encoding of 384 bytes
	for len(b) > 0 {
		n := min(len(b), 384)
		m := enc.EncodedLen(n)
		enc.Encode(buf[:m], b[:n])
		if string(buf[:m]) != s[:m] {
			return false
		}
		b, s = b[n:], s[m:]
	}
	return true
}

// rewrite shapes the outbound request (docs/reference.md §3.5).
func (c *route) rewrite(pr *httputil.ProxyRequest) {
	ex := exchangeFrom(pr.In.Context()) // always set: only Handler.forward calls the proxy
	path, rawPath := c.upstreamPath(pr.In.URL)
	pr.Out.URL = &url.URL{
		Scheme:  c.Upstream.Scheme,
		Host:    c.Upstream.Host,
		Path:    path,
		RawPath: rawPath,
		// Verbatim, including parameters ReverseProxy would drop as
		// unparsable: the gateway never reads the query, so it cannot
		// disagree with the upstream about it.
		RawQuery: pr.In.URL.RawQuery,
	}
	pr.Out.Host = "" // the upstream URL's host
	if c.PreserveHost {
		// The host the route matched on. For an absolute-form request
		// ("GET http://a.example/x") net/http has already set it from the
		// URL and ignored the Host header, as RFC 9112 §3.2.2 requires,
		// so routing, this Host and X-Forwarded-Host name the same host.
		pr.Out.Host = pr.In.Host
	}
	out := pr.Out.Header
	// The client's forwarding headers were stripped before routing
	// (stripClientHeaders) and ReverseProxy removed them again before
	// Rewrite; these are the gateway's, what pr.SetXForwarded would set,
	// without its allocation per value.
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		out["X-Forwarded-For"] = ex.headerSlot(slotForwardedFor, ip)
		out["X-Real-Ip"] = ex.headerSlot(slotRealIP, ip)
	}
	out["X-Forwarded-Host"] = ex.headerSlot(slotForwardedHost, pr.In.Host)
	proto := "http"
	if pr.In.TLS != nil {
		proto = "https"
	}
	out["X-Forwarded-Proto"] = ex.headerSlot(slotForwardedProto, proto)
	out["X-Request-Id"] = ex.headerSlot(slotUpRequestID, ex.requestID)
	if c.StripAuthorization || c.Credential != nil {
		// With a Credential the upstream gets the gateway's own token:
		// the client's must never reach it.
		delete(out, "Authorization")
	}
	if c.Credential != nil && ex.upstream.token != "" {
		// The first attempt's token, set here so that credentialTransport
		// copies the request only for a retry.
		out["Authorization"] = ex.headerSlot(slotAuthorization, "Bearer "+ex.upstream.token)
	}
	if len(ex.identity) > 0 {
		// One backing array for all identity values, each field of
		// capacity one as in headerSlot.
		vals := make([]string, len(ex.identity))
		for i, hv := range ex.identity {
			vals[i] = hv.Value
			out[hv.Name] = vals[i : i+1 : i+1]
		}
	}
}

// upstreamPath returns the outbound path, decoded and escaped. The escaped
// form is the client's own (docs/reference.md §3.1: %2F stays %2F); with StripPrefix
// the matched prefix is cut from it, with the ";parameters" of the segments
// it covers ("/api;x/y" sends "/y"), and a request for exactly the prefix
// goes to the upstream's base path.
func (c *route) upstreamPath(in *url.URL) (path, rawPath string) {
	dec, esc := in.Path, in.EscapedPath()
	if c.StripPrefix && c.prefix != "/" {
		n := afterPrefix(dec, len(c.prefix)) // the prefix and its parameters
		dec = dec[n:]
		esc = cutEscapedPrefix(esc, n)
	}
	return joinPath(c.base, dec), joinPath(c.baseRaw, esc)
}

// cutEscapedPrefix removes from an escaped path the shortest prefix that
// decodes to n bytes: the escaped form of the matched decoded prefix (for
// "/api/%6Frders" and the prefix "/api/orders", all of it). If the rest
// starts with an escaped slash, the match treated that slash as the segment
// boundary, so it is sent as the "/" it stood for; otherwise the upstream
// would get a path not starting with "/".
func cutEscapedPrefix(esc string, n int) string {
	i := 0
	for ; n > 0 && i < len(esc); n-- {
		if esc[i] == '%' && i+2 < len(esc) {
			i += 3
		} else {
			i++
		}
	}
	rest := esc[i:]
	if len(rest) >= 3 && rest[0] == '%' && rest[1] == '2' && (rest[2] == 'F' || rest[2] == 'f') {
		rest = "/" + rest[3:]
	}
	return rest
}

// joinPath appends a request path (empty, or starting with "/") to a base
// path with exactly one slash between them; an empty result is "/".
func joinPath(base, p string) string {
	switch {
	case p == "":
		if base == "" {
			return "/"
		}
		return base
	case strings.HasSuffix(base, "/"):
		return base + p[1:]
	}
	return base + p
}

// modifyResponse runs when the upstream's response headers arrive. An error
// makes ReverseProxy close the response body (for a 101, the upstream
// connection) and call proxyError.
func (h *Handler) modifyResponse(res *http.Response) error {
	ex := exchangeFrom(res.Request.Context()) // always set: only Handler.forward calls the proxy
	ex.upstreamDur = time.Since(ex.upstreamStart)
	if res.StatusCode == http.StatusSwitchingProtocols {
		if err := checkSwitch(ex, res); err != nil {
			return err
		}
	}
	if ex.rec.Header().Get("X-Request-Id") == "" {
		// An interim response (103 Early Hints) went out with the
		// headers set before forwarding, and ReverseProxy cleared them
		// afterwards; the final response needs them too. The outbound
		// request has the client's method and Origin.
		ex.rec.Header()["X-Request-Id"] = ex.headerSlot(slotRequestID, ex.requestID)
		h.cors.begin(&ex.rec, res.Request)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		ex.closeConnection()
	}
	// The gateway's X-Request-Id is already on the response; an upstream
	// copy would make two.
	res.Header.Del("X-Request-Id")
	if h.cors != nil {
		stripUpstreamCORS(res.Header) // the gateway's CORS headers are already on the response
	}
	return nil
}

// proxyError is ReverseProxy's ErrorHandler: the upstream could not be
// reached, timed out, or the client went away meanwhile.
func (h *Handler) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	ex := exchangeFrom(r.Context())
	ex.upstreamDur = time.Since(ex.upstreamStart)
	// The client's context, not r's, which a route timeout cancels too.
	if ex.client.Err() != nil {
		h.render(ex, clientGone(err))
		return
	}
	e, kind := h.upstreamError(ex.route, unwrapURLError(err))
	ex.upstreamErr = kind
	h.render(ex, e)
}

// unwrapURLError drops a *url.Error wrapper, whose text quotes the full
// URL, query string included, which must never reach a log.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
