package proxy

import (
	"context"
	"fmt"
	"io"
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
// serves routes with different timeouts. Past the limit the request's
// context is cancelled and RoundTrip returns errUpstreamTimeout (→ 504).
// The body can then take as long as it takes: SSE streams and upgraded
// connections live on.
type timeoutTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (t timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(t.timeout, func() { cancel(errUpstreamTimeout) })
	res, err := t.next.RoundTrip(req.WithContext(ctx))
	if !timer.Stop() {
		// The timer fired: whatever came back arrived too late or was cut
		// short by the cancellation.
		if err == nil {
			res.Body.Close()
		}
		cancel(nil)
		return nil, fmt.Errorf("%w (%s)", errUpstreamTimeout, t.timeout)
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	// The context must outlive RoundTrip (the body is read later) and be
	// released when the body is closed. An upgraded connection's body is
	// also its write side, which ReverseProxy needs to see.
	if rwc, ok := res.Body.(io.ReadWriteCloser); ok {
		res.Body = &cancelReadWriteCloser{ReadWriteCloser: rwc, cancel: cancel}
	} else {
		res.Body = &cancelReadCloser{ReadCloser: res.Body, cancel: cancel}
	}
	return res, nil
}

// CloseIdleConnections forwards to the underlying transport.
func (t timeoutTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

type cancelReadCloser struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (b *cancelReadCloser) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}

type cancelReadWriteCloser struct {
	io.ReadWriteCloser
	cancel context.CancelCauseFunc
}

func (b *cancelReadWriteCloser) Close() error {
	err := b.ReadWriteCloser.Close()
	b.cancel(nil)
	return err
}

var _ http.RoundTripper = timeoutTransport{}
