package testkit

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// BreakConn answers a request by writing raw (which may be "", or a
// partial response) on the bare connection and closing it: with reset, by
// a TCP reset (RST) instead of an orderly close. For handlers and SetFault
// functions that simulate a peer that breaks off.
func BreakConn(w http.ResponseWriter, raw string, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err) // only HTTP/1 servers are used in tests
	}
	if raw != "" {
		_, _ = io.WriteString(conn, raw)
	}
	if tc, ok := conn.(*net.TCPConn); ok && reset {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// SwitchServer is an httptest.Server on loopback that can go down and come
// back on the same address while a test runs: down, nothing listens on its
// port, so a dial is refused, and its open connections are dropped; up
// again, the same URL answers. It stops when the test ends.
type SwitchServer struct {
	*httptest.Server
	tb   testing.TB
	gate *gateListener
}

// NewSwitchServer starts a SwitchServer, up, serving h.
func NewSwitchServer(tb testing.TB, h http.Handler) *SwitchServer {
	tb.Helper()
	return newSwitchServer(tb, h, false)
}

// newSwitchServer is NewSwitchServer, on https with useTLS.
func newSwitchServer(tb testing.TB, h http.Handler, useTLS bool) *SwitchServer {
	tb.Helper()
	srv := httptest.NewUnstartedServer(h)
	g := &gateListener{addr: srv.Listener.Addr(), cur: srv.Listener}
	srv.Listener = g
	if useTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	tb.Cleanup(srv.Close)
	return &SwitchServer{Server: srv, tb: tb, gate: g}
}

// SetDown closes the server's port and drops its connections (true), or
// listens on the same address again (false). Setting the state it is
// already in does nothing. Call it from the test's goroutine: reopening
// fails the test if another process took the port meanwhile.
func (s *SwitchServer) SetDown(down bool) {
	s.tb.Helper()
	if down {
		if s.gate.down() {
			s.CloseClientConnections()
		}
		return
	}
	if err := s.gate.up(); err != nil {
		s.tb.Fatalf("reopen %s: %v", s.gate.addr, err)
	}
}

// gateListener is a net.Listener whose underlying listener can be closed
// and replaced by a new one on the same address. Accept waits while it is
// down instead of failing, so the http.Server on it keeps running.
type gateListener struct {
	addr net.Addr

	mu     sync.Mutex
	cur    net.Listener  // nil while down
	wake   chan struct{} // closed when cur is set again or the gate closes
	closed bool
}

func (g *gateListener) Accept() (net.Conn, error) {
	for {
		g.mu.Lock()
		l, wake, closed := g.cur, g.wake, g.closed
		g.mu.Unlock()
		switch {
		case closed:
			return nil, net.ErrClosed
		case l == nil:
			<-wake
			continue
		}
		c, err := l.Accept()
		if err == nil {
			return c, nil
		}
		g.mu.Lock()
		replaced := g.cur != l && !g.closed
		g.mu.Unlock()
		if !replaced {
			return nil, err
		}
		// down closed l under us: wait for up.
	}
}

// down closes the port; it reports whether it was up.
func (g *gateListener) down() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur == nil || g.closed {
		return false
	}
	_ = g.cur.Close()
	g.cur, g.wake = nil, make(chan struct{})
	return true
}

// up listens on the address again.
func (g *gateListener) up() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur != nil || g.closed {
		return nil
	}
	l, err := net.Listen(g.addr.Network(), g.addr.String())
	if err != nil {
		return err
	}
	g.cur = l
	close(g.wake)
	return nil
}

func (g *gateListener) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	if g.cur == nil {
		close(g.wake)
		return nil
	}
	return g.cur.Close()
}

func (g *gateListener) Addr() net.Addr { return g.addr }
