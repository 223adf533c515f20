package proxy

import (
	"errors"
	"net/http"
	"net/textproto"
	"strings"
)

// This file holds the HTTP/1 protocol edges: which upgrades are passed on,
// which 101 responses are relayed, and which connections are closed after
// their response. Each rule exists because a proxy and the server behind it
// that disagree about where one request ends and the next begins, or about
// whether a connection still speaks HTTP, let a client send the upstream a
// request the gateway never routed or authenticated.

// upgrade is what a request asks to switch its connection to.
type upgrade uint8

const (
	noUpgrade    upgrade = iota // no Upgrade header
	webSocket                   // a WebSocket handshake, verified and then proxied
	otherUpgrade                // anything else: forwarded as plain HTTP/1.1
)

// upgradeOf classifies r (docs/reference.md §3.5). A request is a WebSocket
// handshake only when it is an HTTP/1.1 GET without a Transfer-Encoding
// (RFC 6455 §4.1; RFC 9110 §7.8: an HTTP/1.0 Upgrade is ignored), with
// exactly one Upgrade field that is the token "websocket" and a Connection
// that holds the token "upgrade", both case-insensitive. Every other request
// with an Upgrade header (h2c, made-up tokens, "websocket, h2c", no
// "Connection: upgrade") is otherUpgrade: the gateway forwards it without
// Upgrade, so no upstream can switch it to a protocol the gateway cannot
// inspect. An h2c upgrade the upstream accepted would give the client an
// HTTP/2 connection to the upstream on which every further request skips
// routing and authentication (the "h2c smuggling" attack).
func upgradeOf(r *http.Request) upgrade {
	up, ok := r.Header["Upgrade"]
	if !ok {
		return noUpgrade
	}
	if len(up) == 1 && asciiEqualFold(textproto.TrimString(up[0]), "websocket") &&
		hasToken(r.Header["Connection"], "upgrade") && r.Method == http.MethodGet &&
		r.ProtoMajor == 1 && r.ProtoMinor >= 1 && len(r.TransferEncoding) == 0 {
		return webSocket
	}
	return otherUpgrade
}

// hasToken reports whether a comma-separated header field (RFC 9110 §5.6.1)
// holds token, case-insensitively.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if asciiEqualFold(textproto.TrimString(part), token) {
				return true
			}
		}
	}
	return false
}

// errSwitchRefused is the cause of the 502 for an upstream 101 Switching
// Protocols that the gateway does not relay.
var errSwitchRefused = errors.New("the upstream switched protocols, which the request did not ask for")

// checkSwitch runs on every upstream 101 (from modifyResponse). It is relayed
// only when the request was a WebSocket handshake and the response's single
// Upgrade is "websocket"; any other 101 becomes a 502, and ReverseProxy then
// closes the upstream connection. An upstream that switches a request the
// gateway forwarded as plain HTTP (h2c with its Upgrade removed, or a 101
// without any Upgrade, which ReverseProxy would tunnel because the request's
// and the response's upgrade types are both "") would otherwise get a raw
// tunnel to the client that no later request on it passes through the
// gateway's checks.
func checkSwitch(ex *exchange, res *http.Response) error {
	up := res.Header["Upgrade"]
	if ex.upgrade == webSocket && len(up) == 1 && asciiEqualFold(textproto.TrimString(up[0]), "websocket") {
		return nil
	}
	return errSwitchRefused
}

// mustClose reports whether the client connection of r is closed after its
// response (docs/reference.md §3.1, §3.5; RFC 9112 §6.1, §9.6):
//
//   - r has a Transfer-Encoding. Go's server takes a request with both
//     "Transfer-Encoding: chunked" and Content-Length as chunked, silently
//     deletes the Content-Length and keeps the connection open, so the
//     handler cannot tell it from a plain chunked request. A front proxy
//     that framed it by Content-Length sees different request boundaries
//     from the gateway, and what it took for body bytes the gateway would
//     read as the next request (request smuggling). Closing every
//     connection that carried a Transfer-Encoding costs chunked uploads
//     their keep-alive, and means no second request is ever read behind an
//     ambiguous one. (Go answers every other Transfer-Encoding, and
//     conflicting Content-Lengths, with 400 or 501 and a close itself.)
//   - r is HTTP/1.0. RFC 9112 §6.1 makes a Transfer-Encoding in HTTP/1.0
//     faulty framing that requires a close, but Go's server drops that
//     header from an HTTP/1.0 request before the handler runs, frames the
//     body by Content-Length and keeps a keep-alive connection open. The
//     handler cannot see it, so every HTTP/1.0 connection is closed.
//   - r asked to upgrade. A client that asked to switch protocols may send
//     bytes of the other protocol next; whatever the answer (a refusal, a
//     plain response to an h2c request, an upstream's non-101 to a
//     handshake), nothing further on the connection is read as a request or
//     relayed as a tunnel. A WebSocket handshake the upstream accepts (101)
//     is the one exception: the connection becomes the tunnel. CONNECT,
//     which asks for a tunnel too and is always refused, is closed alike.
//
// Setting "Connection: close" is enough, and guaranteed: when a handler's
// response carries exactly that header, net/http's server sets
// closeAfterReply while writing the response header, shouldReuseConnection
// then reports false, and the connection loop returns and closes the
// connection without parsing anything more from it, even when the client's
// next request already sits in the read buffer. It also skips draining the
// rest of the request body as the start of a next request.
//
// HTTP/2 requests never qualify: HTTP/2 refuses Transfer-Encoding and
// Upgrade in requests, its framing has no such ambiguity, and a CONNECT
// there is one stream, not the connection. (net/http reads a handler's
// "Connection: close" on HTTP/2 as a request to shut the whole connection
// down, which one stream's refusal must not cause.)
func mustClose(r *http.Request) bool {
	if r.ProtoMajor != 1 {
		return false
	}
	return len(r.TransferEncoding) > 0 || r.ProtoMinor == 0 ||
		r.Header["Upgrade"] != nil || strings.EqualFold(r.Method, http.MethodConnect)
}

// closeConnection puts "Connection: close" on the response when the
// exchange's connection must be closed (see mustClose). Every writer of a
// response calls it just before the status goes out: render, the CORS
// preflight answer and, for upstream responses, modifyResponse (not for a
// relayed 101, which the header would break).
func (ex *exchange) closeConnection() {
	if ex.close {
		ex.rec.Header().Set("Connection", "close")
	}
}
