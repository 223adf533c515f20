package proxy

import (
	"fmt"
	"net"
	"net/http"
	"time"
)

// NewTransport returns the upstream transport of a gateway:
// http.DefaultTransport tuned for one (no HTTP_PROXY, larger idle pools,
// no transparent decompression). A process makes one and shares it between
// the Handlers of its successive configurations (Options.Transport), so a
// reload keeps the pooled connections; the caller closes its idle
// connections when the process is done with it.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Upstreams are addressed directly, as Envoy and Caddy do; an
	// HTTP_PROXY meant for the host's egress must not capture them.
	t.Proxy = nil
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	// The default of 2 idle connections per host makes a busy gateway
	// dial the same upstream over and over.
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	// Pass the client's Accept-Encoding and the upstream's encoding
	// through untouched instead of decompressing in the gateway.
	t.DisableCompression = true
	return t
}

// newTransport is the transport New makes when Options.Transport is nil.
func newTransport() *http.Transport { return NewTransport() }

// timeoutTransport bounds the time until the upstream's response headers,
// whatever the underlying RoundTripper, so one transport (and one idle pool)
// serves routes with different timeouts. Past the limit it cancels the
// forwarded request's context, which Handler.forward made cancellable for
// the route (exchange.cancelUpstream), and RoundTrip returns
// errUpstreamTimeout (→ 504). The body can then take as long as it takes:
// SSE streams and upgraded connections live on until forward returns and
// releases the context.
//
// Arming a timer on the exchange's context, rather than deriving a
// context of its own here, spares every forwarded request a copy of the
// request, a body wrapper to release that context and a cancellable
// context: the route's is made once, in forward.
type timeoutTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (t timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ex := exchangeFrom(req.Context()) // always set: only Handler.forward calls the proxy
	timer := time.AfterFunc(t.timeout, ex.upstreamTimedOut)
	res, err := t.next.RoundTrip(req)
	if !timer.Stop() {
		// The timer fired: whatever came back arrived too late or was cut
		// short by the cancellation.
		if err == nil {
			res.Body.Close()
		}
		return nil, fmt.Errorf("%w (%s)", errUpstreamTimeout, t.timeout)
	}
	return res, err
}

// CloseIdleConnections forwards to the underlying transport.
func (t timeoutTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

var _ http.RoundTripper = timeoutTransport{}
