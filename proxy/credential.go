package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// This file is the proxy side of upstream credentials (docs/reference.md §3.8): a
// route with a Credential sends the gateway's own token upstream instead of
// the client's, and retries once with a fresh token when the upstream
// refuses the first with 401.

// Credential supplies the gateway's own token for a route's upstream
// (docs/reference.md §3.8). It must be safe for concurrent use.
type Credential interface {
	// Name is the configured credential name, for errors and metrics.
	Name() string
	// Token returns the access token to send upstream for a request whose
	// verified client token is clientToken ("" when anonymous); a
	// client-credentials source ignores clientToken. An empty token with a
	// nil error sends the request upstream without Authorization (a token
	// exchange has nothing to exchange for an anonymous request). The
	// error's text is logged, never sent to the client, and must hold no
	// secret nor the client token. An error with a Refused method reporting
	// true in its chain refuses the client's token (403 insufficient_scope);
	// any other is a 502 naming the credential.
	Token(ctx context.Context, clientToken string) (string, error)
	// Invalidate drops token after the upstream refused it (401), if it is
	// still the cached one, so that the next Token fetches anew.
	Invalidate(clientToken, token string)
}

// MaxReplayBody is the largest request body the gateway buffers, on a route
// with a Credential, so that it can resend the request after an upstream
// 401 (docs/reference.md §3.8). 64 KiB holds the JSON bodies of API calls with room
// to spare while bounding what a request pins in memory (a few thousand
// concurrent requests pin at most a few hundred MiB). A larger body, one of
// unknown length (chunked, or an HTTP/2 stream without Content-Length) and a
// WebSocket handshake are streamed upstream once, as on any route, and a 401
// to them is relayed to the client as is.
const MaxReplayBody = 64 << 10

// maxDrain bounds how much of a refused (401) first response is read before
// it is closed: a short body is read to its end so its connection returns to
// the pool; a longer one is not worth the wait, and closing it drops the
// connection instead.
const maxDrain = 4 << 10

// upstreamCred is an exchange's upstream credential state.
type upstreamCred struct {
	token string // the token sent on the latest attempt; "" none
}

// credentialError is the cause of a 502 when a route's Credential could not
// supply a token.
type credentialError struct {
	name string
	err  error
}

func (e *credentialError) Error() string {
	return fmt.Sprintf("upstream credential %q: %v", e.name, e.err)
}

func (e *credentialError) Unwrap() error { return e.err }

// refused reports whether err is a Credential's verdict on the client's
// token rather than a failure: a token exchange the token endpoint refused
// for this subject or target (docs/reference.md §3.8). The Credential marks such an
// error with a Refused method reporting true, somewhere in its chain.
func refused(err error) bool {
	var r interface{ Refused() bool }
	return errors.As(err, &r) && r.Refused()
}

// credentialRefusal is the response for a token the route's Credential
// could not supply. A refusal of the client's token (refused) is 403
// insufficient_scope, with the challenge of a policy denial (docs/reference.md §3.6):
// the client may not reach this upstream with this token. Anything else is
// a 502 that names the credential; only the cause (logged, redacted of the
// client token) says why. kind is the upstream error kind, "" for a 403.
func (h *Handler) credentialRefusal(c *route, err *credentialError) (*Refusal, string) {
	if refused(err) {
		desc := fmt.Sprintf("the upstream credential %q was refused for this token", err.name)
		scope := ""
		if c != nil {
			scope = c.scope
		}
		return &Refusal{Status: http.StatusForbidden, Code: "insufficient_scope", Description: desc, cause: err,
			Challenge: challenge(h.realm, "error", "insufficient_scope", "scope", scope, "error_description", desc)}, ""
	}
	return &Refusal{Status: http.StatusBadGateway, Code: "bad_gateway",
		Description: fmt.Sprintf("the upstream credential %q could not be obtained", err.name), cause: err}, "credentials"
}

// upstreamToken obtains the first upstream token of a request on a route
// with a Credential, before anything is sent upstream, and buffers a small
// request body so that the request can be resent (see MaxReplayBody). It
// returns the request to forward, or the refusal to render instead.
func (h *Handler) upstreamToken(ex *exchange, c *route, r *http.Request) (*http.Request, *Refusal) {
	tok, err := c.Credential.Token(r.Context(), ex.token)
	if err != nil {
		if r.Context().Err() != nil {
			return nil, clientGone(err)
		}
		e, kind := h.credentialRefusal(c, &credentialError{name: c.Credential.Name(), err: err})
		ex.upstreamErr = kind
		return nil, e
	}
	ex.upstream = &upstreamCred{token: tok}
	if ex.upgrade == webSocket || r.ContentLength <= 0 || r.ContentLength > MaxReplayBody || len(r.TransferEncoding) > 0 {
		return r, nil // no body, or one sent once, streaming
	}
	buf := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(r.Body, buf); err != nil {
		if r.Context().Err() != nil {
			return nil, clientGone(err)
		}
		return nil, &Refusal{Status: http.StatusBadRequest, Code: "invalid_request",
			Description: "the request body could not be read", cause: fmt.Errorf("buffering the request body: %w", err)}
	}
	r2 := r.WithContext(r.Context()) // shallow copy: the server owns r
	r2.Body = io.NopCloser(bytes.NewReader(buf))
	r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return r2, nil
}

// credentialTransport attaches a route's upstream token and retries once on
// a 401 (docs/reference.md §3.8). It sits below ReverseProxy, so ReverseProxy only
// ever sees the response it relays: the first 401 of a retried request is
// drained and closed here. The route's timeout (timeoutTransport) wraps it,
// so the timeout bounds both attempts and the token refetch between them
// together: it is the time the client waits for response headers.
type credentialTransport struct {
	next http.RoundTripper
	cred Credential
}

// RoundTrip sends req, which Rewrite gave the exchange's upstream token
// (obtained by Handler.upstreamToken, which always runs first on a route
// with a Credential). On a 401 to a replayable request (no body, or a
// body buffered with GetBody; never a WebSocket handshake), it invalidates
// that token, gets a new one and resends once; the second response, 401 or
// not, is returned as is. A failure to get the new token is a
// *credentialError (→ 502 bad_gateway, kind credentials; 403 when the
// Credential refused the client's token).
func (t credentialTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ex := exchangeFrom(req.Context()) // always set: only Handler.forward calls the proxy
	tok := ex.upstream.token
	res, err := t.next.RoundTrip(req)
	if err != nil || res.StatusCode != http.StatusUnauthorized || tok == "" || !replayable(ex, req) {
		return res, err
	}
	// The body of the 401 is not relayed: read what is cheap to read so
	// the connection can be reused, and close it in any case.
	_, _ = io.CopyN(io.Discard, res.Body, maxDrain)
	res.Body.Close()

	t.cred.Invalidate(ex.token, tok)
	tok, err = t.cred.Token(req.Context(), ex.token)
	if err != nil {
		return nil, &credentialError{name: t.cred.Name(), err: err}
	}
	ex.upstream.token = tok
	body := req.Body
	if req.GetBody != nil {
		if body, err = req.GetBody(); err != nil {
			return nil, err // cannot happen: the buffer's reader
		}
	}
	return t.next.RoundTrip(withBearer(req, tok, body))
}

// replayable reports whether req can be sent again: it has no body, or one
// the gateway buffered, and is not a WebSocket handshake.
func replayable(ex *exchange, req *http.Request) bool {
	if ex.upgrade == webSocket {
		return false
	}
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// withBearer returns a copy of req, which RoundTrip must not modify, with
// Authorization: Bearer tok (none when tok is "": Rewrite has already
// removed the client's) and the given body.
func withBearer(req *http.Request, tok string, body io.ReadCloser) *http.Request {
	r2 := req.WithContext(req.Context())
	r2.Header = req.Header.Clone()
	r2.Header.Del("Authorization")
	if tok != "" {
		r2.Header["Authorization"] = []string{"Bearer " + tok}
	}
	r2.Body = body
	return r2
}

// CloseIdleConnections forwards to the underlying transport.
func (t credentialTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

var _ http.RoundTripper = credentialTransport{}
