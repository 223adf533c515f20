package proxy

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/logging"
	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/testkit"
	"github.com/authgate/authgate/policy"
)

func TestUpstreamFailures(t *testing.T) {
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	l.Close()

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })

	g := newGateway(t,
		Route{Name: "down", PathPrefix: "/down", Upstream: mustURL(t, down), Mode: policy.None},
		Route{Name: "slow", PathPrefix: "/slow", Upstream: mustURL(t, slow.URL), Timeout: 100 * time.Millisecond, Mode: policy.None},
	)
	for _, tc := range []struct {
		name   string
		target string
		status int
		code   string
		kind   string
		route  string
	}{
		{name: "unreachable", target: "/down/x?secret=s3cr3t", status: 502, code: "bad_gateway", kind: "unreachable", route: "down"},
		{name: "timeout", target: "/slow/x?secret=s3cr3t", status: 504, code: "gateway_timeout", kind: "timeout", route: "slow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "up-" + tc.name
			start := time.Now()
			resp, body := g.do(t, "GET", tc.target, "X-Request-Id", id)
			if resp.StatusCode != tc.status {
				t.Fatalf("status: got %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if e := errorOf(t, resp, body); e.Error != tc.code {
				t.Errorf("error: got %q, want %q", e.Error, tc.code)
			}
			if tc.kind == "timeout" && time.Since(start) > 5*time.Second {
				t.Errorf("504 took %s, want about the route's 100ms timeout", time.Since(start))
			}
			line := g.log.Access(t, id)
			if got := line["status"]; got != float64(tc.status) {
				t.Errorf("logged status: got %v, want %d", got, tc.status)
			}
			if got, _ := line["error"].(string); got == "" || strings.Contains(got, "s3cr3t") {
				t.Errorf("logged error: got %q, want a cause without the query", got)
			}
			if got := line["upstream_error"]; got != tc.kind {
				t.Errorf("logged upstream_error: got %v, want %q", got, tc.kind)
			}
			if got := line["level"]; got != "WARN" {
				t.Errorf("logged level: got %v, want WARN for a %d", got, tc.status)
			}
			o := g.outcome(t, func(o Outcome) bool { return o.Status == tc.status })
			if o.UpstreamError != tc.kind || o.Route != tc.route {
				t.Errorf("outcome: got %+v, want route %q and upstream error %q", o, tc.route, tc.kind)
			}
			if o.UpstreamDuration <= 0 {
				t.Errorf("outcome upstream duration: got %s, want > 0", o.UpstreamDuration)
			}
		})
	}
}

// outcome waits for an Observe call matching pred.
func (g *gateway) outcome(t testing.TB, pred func(Outcome) bool) Outcome {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		g.mu.Lock()
		for _, o := range g.outcomes {
			if pred(o) {
				g.mu.Unlock()
				return o
			}
		}
		g.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no matching outcome among %+v", g.outcomes)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSlowBodyIsNotATimeout checks that the route timeout bounds only the
// wait for response headers: a body that trickles in afterwards completes.
func TestSlowBodyIsNotATimeout(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "done")
	}))
	t.Cleanup(up.Close)
	g := newGateway(t, Route{Name: "r", PathPrefix: "/", Upstream: mustURL(t, up.URL), Timeout: 100 * time.Millisecond, Mode: policy.None})
	resp, body := g.do(t, "GET", "/x")
	if resp.StatusCode != http.StatusOK || string(body) != "done" {
		t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, "done")
	}
}

// TestServerSentEvents checks that an event stream is flushed as it comes:
// the upstream sends the second event only after the client has read the
// first, so a buffering gateway would deadlock the test.
func TestServerSentEvents(t *testing.T) {
	firstRead := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: one for %s\n\n", r.Header.Get("X-User-Id"))
		http.NewResponseController(w).Flush()
		select {
		case <-firstRead:
		case <-time.After(5 * time.Second):
			return
		}
		io.WriteString(w, "data: two\n\n")
	}))
	t.Cleanup(up.Close)
	g := newGateway(t, Route{Name: "events", PathPrefix: "/events", Upstream: mustURL(t, up.URL),
		Mode: policy.Required, Auth: fixtureAuth(t), Headers: map[string]string{"X-User-Id": "sub"}})

	req, _ := http.NewRequest("GET", g.URL+"/events", nil)
	req.Header.Set("Authorization", "Bearer good")
	resp, err := g.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("Content-Type"); got != "text/event-stream" {
		t.Fatalf("Content-Type: got %q, want text/event-stream", got)
	}
	br := bufio.NewReader(resp.Body)
	readEvent := func() string {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading event: %v", err)
		}
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatalf("reading event end: %v", err)
		}
		return strings.TrimSuffix(line, "\n")
	}
	done := make(chan string)
	go func() { done <- readEvent() }()
	select {
	case got := <-done:
		if got != "data: one for alice" {
			t.Errorf("first event: got %q, want %q", got, "data: one for alice")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("first event not delivered before the stream ended: the gateway buffers")
	}
	close(firstRead)
	if got := readEvent(); got != "data: two" {
		t.Errorf("second event: got %q, want %q", got, "data: two")
	}
}

// TestWebSocket checks that an upgrade handshake is authenticated like any
// request and then proxied both ways, with a raw handshake and an upstream
// that hijacks and echoes.
func TestWebSocket(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Seen-User: %s\r\n\r\n", r.Header.Get("X-User-Id"))
		brw.Flush()
		io.Copy(conn, brw) // echo until the client closes
	}))
	t.Cleanup(up.Close)
	g := newGateway(t, Route{Name: "ws", PathPrefix: "/ws", Upstream: mustURL(t, up.URL),
		Mode: policy.Required, Auth: fixtureAuth(t), Headers: map[string]string{"X-User-Id": "sub"}})

	handshake := func(auth string) (net.Conn, *bufio.Reader, *http.Response) {
		conn, err := net.Dial("tcp", g.addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		req := "GET /ws HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Request-Id: ws-" + auth + "\r\n"
		if auth != "" {
			req += "Authorization: Bearer " + auth + "\r\n"
		}
		if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatal(err)
		}
		return conn, br, resp
	}

	t.Run("no token", func(t *testing.T) {
		_, _, resp := handshake("")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status: got %d, want 401", resp.StatusCode)
		}
	})
	t.Run("valid token", func(t *testing.T) {
		conn, br, resp := handshake("good")
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("status: got %d, want 101", resp.StatusCode)
		}
		if got := resp.Header.Get("X-Seen-User"); got != "alice" {
			t.Errorf("upstream X-User-Id on the handshake: got %q, want %q", got, "alice")
		}
		for _, msg := range []string{"hello\n", "again\n"} {
			if _, err := io.WriteString(conn, msg); err != nil {
				t.Fatal(err)
			}
			got, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if got != msg {
				t.Errorf("echo: got %q, want %q", got, msg)
			}
		}
		conn.Close()
		if line := g.log.Access(t, "ws-good"); line["status"] != float64(101) {
			t.Errorf("logged status: got %v, want 101", line["status"])
		}
	})
}

// TestClientGone checks that a client that leaves is logged as 499, both
// while the upstream is working and while the token is being verified.
func TestClientGone(t *testing.T) {
	arrived := make(chan struct{}, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(up.Close)
	g := newGateway(t,
		Route{Name: "slow", PathPrefix: "/slow", Upstream: mustURL(t, up.URL), Mode: policy.None},
		Route{Name: "auth", PathPrefix: "/auth", Upstream: mustURL(t, up.URL), Mode: policy.Required, Auth: fixtureAuth(t)},
	)
	for _, tc := range []struct {
		name   string
		target string
		auth   string
		reason string
	}{
		{name: "during upstream", target: "/slow/x", reason: "public"},
		{name: "during verification", target: "/auth/x", auth: "Bearer block", reason: "keys_unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "gone-" + strings.ReplaceAll(tc.name, " ", "-")
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "GET", g.URL+tc.target, nil)
			req.Header.Set("X-Request-Id", id)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
				time.AfterFunc(100*time.Millisecond, cancel)
			} else {
				go func() {
					<-arrived
					cancel()
				}()
			}
			if _, err := g.Client().Do(req); err == nil {
				t.Fatal("request succeeded, want it cancelled")
			}
			line := g.log.Access(t, id)
			if got := line["status"]; got != float64(statusClientClosed) {
				t.Errorf("logged status: got %v, want 499", got)
			}
			if got := line["reason"]; got != tc.reason {
				t.Errorf("logged reason: got %q, want %q", got, tc.reason)
			}
		})
	}
}

// TestLogHygiene checks that no log line, at any level and in either
// format, holds a token, any part of one, a query string or a client
// secret, over allowed and denied requests, an upstream failure and a
// refused CORS preflight; even when the authenticator's error quotes the
// token.
func TestLogHygiene(t *testing.T) {
	const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
	// A client sending an OAuth client's credentials (RFC 6749 §2.3.1)
	// by mistake: another scheme counts as no token, and is never logged.
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("demo-client:cl13nt-s3cr3t"))
	secrets := append([]string{"qs-secret", "access_token", "client_secret", "cl13nt-s3cr3t", "ZGVtby1jbGllbnQ6",
		"password", "good", token, otherOrigin}, strings.Split(token, ".")...)

	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			up := newEcho(t)
			buf := &testkit.LogBuffer{}
			level := new(slog.LevelVar)
			level.Set(slog.LevelDebug)
			routes := append(fixtureRoutes(t, up.URL),
				Route{Name: "down", PathPrefix: "/down", Upstream: mustURL(t, closedURL(t)), Mode: policy.Required, Auth: fixtureAuth(t)})
			g := newGatewayLogger(t, logging.New(buf, format, level), &CORS{AllowedOrigins: []string{appOrigin}}, routes...)
			g.log = buf

			requests := []struct {
				id, method, target string
				hdr                []string
				status             int
			}{
				{"hyg-bad", "GET", "/api/orders?access_token=qs-secret&x=1", []string{"Authorization", "Bearer " + token}, 401},
				{"hyg-public", "GET", "/public/x?password=qs-secret", []string{"Authorization", "Bearer " + token}, 200},
				{"hyg-ok", "GET", "/api/orders?client_secret=qs-secret", []string{"Authorization", "Bearer good"}, 200},
				{"hyg-expired", "GET", "/api/x?access_token=qs-secret", []string{"Authorization", "Bearer tkExpired"}, 401},
				{"hyg-scope", "GET", "/admin?access_token=qs-secret", []string{"Authorization", "Bearer noscope"}, 403},
				{"hyg-basic", "POST", "/api/token?grant_type=client_credentials&client_secret=qs-secret", []string{"Authorization", basic}, 401},
				{"hyg-down", "GET", "/down/x?access_token=qs-secret", []string{"Authorization", "Bearer good"}, 502},
				{"hyg-cors", "OPTIONS", "/api/x?access_token=qs-secret",
					[]string{"Origin", otherOrigin, "Access-Control-Request-Method", "GET"}, 204},
			}
			for _, rq := range requests {
				resp, body := g.do(t, rq.method, rq.target, append(rq.hdr, "X-Request-Id", rq.id)...)
				if resp.StatusCode != rq.status {
					t.Errorf("%s: got %d, want %d: %s", rq.id, resp.StatusCode, rq.status, body)
				}
			}
			lines := waitLines(t, buf, len(requests))
			all := buf.String()
			for _, secret := range secrets {
				if strings.Contains(all, secret) {
					t.Errorf("log holds %q:\n%s", secret, all)
				}
			}
			if format == "text" {
				for _, want := range []string{
					"request_id=hyg-down", "upstream_error=unreachable", "status=502",
					"cors=refused", "cors_refused=origin_not_allowed", "error=\"", "[token]",
				} {
					if !strings.Contains(all, want) {
						t.Errorf("text log lacks %q:\n%s", want, all)
					}
				}
				for _, l := range lines {
					if strings.Contains(l, "request_id=hyg-down") != strings.Contains(l, " WRN ") {
						t.Errorf("text line: got %q, want WRN exactly on the 502", l)
					}
				}
				return
			}
			line := g.log.Access(t, "hyg-bad")
			if got := line["reason"]; got != string(reason.BadSignature) {
				t.Errorf("reason: got %q, want %q", got, reason.BadSignature)
			}
			if got := line["path"]; got != "/api/orders" {
				t.Errorf("path: got %q, want %q", got, "/api/orders")
			}
			if got, _ := line["error"].(string); !strings.Contains(got, "[token]") {
				t.Errorf("error: got %q, want the token redacted", got)
			}
			want := []string{"request_id", "method", "path", "route", "status", "duration", "issuer", "sub", "reason",
				"upstream_error", "cors", "cors_refused", "error", "time", "level", "msg"}
			for _, rq := range requests {
				for k := range g.log.Access(t, rq.id) {
					if !slices.Contains(want, k) {
						t.Errorf("%s: access line has unexpected field %q", rq.id, k)
					}
				}
			}
		})
	}
}

// waitLines waits until buf holds at least n lines and returns them.
func waitLines(t testing.TB, buf *testkit.LogBuffer, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) >= n || time.Now().After(deadline) {
			return lines
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAccessLevel checks the access line's level: info below 500, warn
// for a 5xx, with reason kept as the authentication decision next to
// upstream_error.
func TestAccessLevel(t *testing.T) {
	up := newEcho(t)
	routes := append(fixtureRoutes(t, up.URL),
		Route{Name: "down", PathPrefix: "/down", Upstream: mustURL(t, closedURL(t)), Mode: policy.Required, Auth: fixtureAuth(t)})
	g := newGateway(t, routes...)
	for _, tc := range []struct {
		name, target, token string
		status              int
		level, reason, kind string
	}{
		{"allowed", "/api/x", "good", 200, "INFO", "ok", ""},
		{"denied", "/api/x", "tkExpired", 401, "INFO", "expired", ""},
		{"no route", "/nowhere", "", 404, "INFO", "", ""},
		{"keys unavailable", "/api/x", "nokeys", 503, "WARN", "keys_unavailable", ""},
		{"upstream down after ok", "/down/x", "good", 502, "WARN", "ok", "unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "lvl-" + strings.ReplaceAll(tc.name, " ", "-")
			hdr := []string{"X-Request-Id", id}
			if tc.token != "" {
				hdr = append(hdr, "Authorization", "Bearer "+tc.token)
			}
			if resp, _ := g.do(t, "GET", tc.target, hdr...); resp.StatusCode != tc.status {
				t.Fatalf("status: got %d, want %d", resp.StatusCode, tc.status)
			}
			line := g.log.Access(t, id)
			kind, _ := line["upstream_error"].(string)
			if line["level"] != tc.level || line["reason"] != tc.reason || kind != tc.kind {
				t.Errorf("access line: got level=%v reason=%v upstream_error=%q, want level=%s reason=%s upstream_error=%q",
					line["level"], line["reason"], kind, tc.level, tc.reason, tc.kind)
			}
		})
	}
}

func TestObserve(t *testing.T) {
	up := newEcho(t)
	g := newGateway(t, fixtureRoutes(t, up.URL)...)
	g.do(t, "GET", "/api/x", "Authorization", "Bearer good")
	g.do(t, "BREW", "/nowhere")
	o := g.outcome(t, func(o Outcome) bool { return o.Route == "api" })
	if o.Status != 200 || o.Method != "GET" || o.Issuer != "main" || o.Reason != reason.OK || o.UpstreamError != "" ||
		o.Duration <= 0 || o.UpstreamDuration <= 0 || o.UpstreamDuration > o.Duration {
		t.Errorf("api outcome: got %+v", o)
	}
	o = g.outcome(t, func(o Outcome) bool { return o.Route == "none" })
	if o.Status != 404 || o.Method != "OTHER" || o.Reason != "" || o.UpstreamDuration != 0 {
		t.Errorf("unmatched outcome: got %+v", o)
	}
}

// TestUpstreamBodyBreaksOff checks that a response cut short by the
// upstream still gets its access line, with the abort as its error.
func TestUpstreamBodyBreaksOff(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "only ten b")
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler) // the server drops the connection
	}))
	t.Cleanup(up.Close)
	g := newGateway(t, Route{Name: "r", PathPrefix: "/", Upstream: mustURL(t, up.URL), Timeout: time.Second, Mode: policy.None})
	req, _ := http.NewRequest("GET", g.URL+"/x", nil)
	req.Header.Set("X-Request-Id", "abort-1")
	// The gateway may not have flushed the headers before the abort, so
	// the client sees either a failed request or a truncated body.
	if resp, err := g.Client().Do(req); err == nil {
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Error("reading the body: got no error, want it cut short")
		}
		resp.Body.Close()
	}
	line := g.log.Access(t, "abort-1")
	if got := line["status"]; got != float64(200) {
		t.Errorf("logged status: got %v, want 200 (the upstream's status, already written)", got)
	}
	if got, _ := line["error"].(string); !strings.Contains(got, "abort") {
		t.Errorf("logged error: got %q, want the abort", got)
	}
}
