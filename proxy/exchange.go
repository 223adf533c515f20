package proxy

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/authgate/authgate/internal/reason"
)

// exchange is the state of one request as it moves through the handler, the
// reverse proxy's hooks and the access line. It never leaves the request.
//
// It is also the context of the request it forwards (Handler.forward): the
// request's own context, with exchangeFrom finding the exchange in it. That
// is context.WithValue without the allocation of a context of its own.
type exchange struct {
	// Context is the forwarded request's parent context: the client's,
	// or on a route with a timeout one that timeoutTransport can cancel;
	// nil until forward. Only Value is overridden, and Value reads no
	// other field, so the exchange is as safe for concurrent use as a
	// context must be.
	context.Context
	// client is the client request's context, set by forward: when it is
	// done, the client went away (proxyError).
	client context.Context
	// cancelUpstream cancels Context on a route with a timeout (nil on
	// others); see upstreamTimedOut.
	cancelUpstream context.CancelCauseFunc

	start     time.Time
	requestID string
	rec       recorder
	route     *route // nil until one matches

	token    string // kept only to redact it from logged causes
	issuer   string
	subject  string
	reason   reason.Reason
	identity []ForwardedHeader // set by forward, read by Rewrite
	// upstream is the route Credential's token the upstream gets, set by
	// forward and renewed by credentialTransport on a retry; nil on routes
	// without a Credential. A pointer keeps the exchange in its size
	// class for the routes that have none.
	upstream *upstreamCred
	err      *Refusal

	upstreamStart time.Time
	upstreamDur   time.Duration
	upstreamErr   string

	// cors and corsRefused are the access line's CORS verdict and, when
	// refused, its cause (cors.go); "" without CORS or Origin.
	cors, corsRefused string

	upgrade upgrade // what the client asked to switch to (upgradeOf)
	close   bool    // answer with "Connection: close" (mustClose)
	// vals backs the header values the gateway sets itself (see
	// headerSlot), so that setting them costs no allocation of their own.
	vals [numSlots]string
}

// The header values an exchange holds in its vals.
const (
	slotRequestID      = iota // the response's X-Request-Id
	slotUpRequestID           // the upstream's X-Request-Id
	slotRealIP                // X-Real-Ip
	slotForwardedFor          // X-Forwarded-For
	slotForwardedHost         // X-Forwarded-Host
	slotForwardedProto        // X-Forwarded-Proto
	slotAuthorization         // the upstream's Authorization on a route with a Credential
	numSlots
)

// headerSlot stores v in the exchange's slot i and returns it as a one-value
// header field backed by the exchange. Its capacity is one, so a later Add
// to the field appends to a copy and never writes into another slot. Each
// map gets a slot of its own, so no two header maps share a value.
func (ex *exchange) headerSlot(i int, v string) []string {
	ex.vals[i] = v
	return ex.vals[i : i+1 : i+1]
}

// exchangeKey carries the exchange from ServeHTTP to the ReverseProxy hooks,
// which only see the request. It holds verified values to forward, never a
// failure: every refusal is decided (Decide) and rendered before forwarding
// starts.
type exchangeKey struct{}

func exchangeFrom(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	return ex
}

// upstreamTimedOut is the timer function of timeoutTransport: it aborts
// the upstream round trip.
func (ex *exchange) upstreamTimedOut() { ex.cancelUpstream(errUpstreamTimeout) }

// Value returns the exchange itself for exchangeKey and asks the parent
// context otherwise.
func (ex *exchange) Value(key any) any {
	if _, ok := key.(exchangeKey); ok {
		return ex
	}
	return ex.Context.Value(key)
}

// maxRequestIDLen bounds a client-supplied X-Request-Id (docs/reference.md §3.5).
const maxRequestIDLen = 128

// requestID keeps the client's X-Request-Id when there is exactly one of 1 to
// 128 visible ASCII characters (0x21–0x7E), and otherwise makes one
// (newRequestID). The bound keeps log lines and upstream headers sane; the
// charset keeps the id from forging log structure.
func requestID(h http.Header) string {
	if vals := h.Values("X-Request-Id"); len(vals) == 1 && validRequestID(vals[0]) {
		return vals[0]
	}
	return newRequestID()
}

// idPrefix and idKey are drawn once per process: the first half of every
// generated request id, and the key that scrambles the second.
var (
	idPrefix string
	idKey    uint64
	idCount  atomic.Uint64
)

func init() {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	idPrefix = hex.EncodeToString(b[:8])
	idKey = binary.BigEndian.Uint64(b[8:])
}

// newRequestID returns 32 hex digits: the process's random idPrefix, then a
// per-process counter passed through a bijection of uint64 (scramble), so
// that no request reads crypto/rand.
//
// Unique: within a process the counter never repeats (2^64 requests), and
// scramble, being a bijection, keeps it so; across processes and restarts,
// two of n processes share a 64-bit random prefix with probability about
// n²/2^65. Unguessable enough: a request id only correlates log lines and
// is never a credential, since any client may choose its own (it is kept,
// above); scrambling just keeps the ids from reading as a sequence that
// counts the gateway's traffic.
func newRequestID() string {
	var b [32]byte
	copy(b[:16], idPrefix)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], scramble(idCount.Add(1)^idKey))
	hex.Encode(b[16:], n[:])
	return string(b[:])
}

// scramble is the SplitMix64 finaliser: each step (an xorshift, a multiply
// by an odd constant) is invertible, so distinct inputs give distinct
// outputs.
func scramble(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func validRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// recorder remembers the status the client was sent. It passes Flush and
// Hijack through (ReverseProxy needs both, for SSE and WebSocket) and exposes
// the writer underneath to http.ResponseController via Unwrap.
type recorder struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (w *recorder) WriteHeader(code int) {
	// 1xx responses (100 Continue, 103 Early Hints) precede the final one.
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// FlushError flushes buffered data to the client, as
// http.ResponseController expects.
func (w *recorder) FlushError() error {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush is http.Flusher for callers that assert it directly.
func (w *recorder) Flush() { _ = w.FlushError() }

// Hijack takes over the connection for a protocol switch; ReverseProxy then
// writes the upstream's 101 itself, so the recorder notes it here.
func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
		if w.status == 0 {
			w.status = http.StatusSwitchingProtocols
		}
	}
	return conn, brw, err
}

// Unwrap returns the underlying writer for http.ResponseController.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var (
	_ http.Flusher  = (*recorder)(nil)
	_ http.Hijacker = (*recorder)(nil)
)
