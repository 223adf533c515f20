package gateway_test

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/authgate/authgate/internal/demo"
	"github.com/authgate/authgate/internal/testkit"
)

// chromiumPath is Debian's Chromium, which CI installs (.ci/run).
const chromiumPath = "/usr/bin/chromium"

// methodCounter is a reverse proxy in front of a server that counts the
// requests it passes on, by method. In front of the gateway it shows what the
// browser sent, preflights included, which no page script can see; in front
// of the upstream it shows what got through.
type methodCounter struct {
	*httptest.Server
	mu     sync.Mutex
	counts map[string]int
}

func newMethodCounter(t *testing.T, target string) *methodCounter {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	c := &methodCounter{counts: map[string]int{}}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) }}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.counts[r.Method]++
		c.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(c.Close)
	return c
}

// snapshot returns the counts so far.
func (c *methodCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// page is the browser application: it calls the gateway with a bearer token
// and writes the outcome into #out, then marks it done. "user:ID" is the
// X-User-Id the upstream received; "error:STATUS CODE | WWW-Authenticate |
// id=X-Request-Id" is a gateway refusal as a script reads it; "blocked:NAME"
// is a fetch the browser refused (a CORS failure is a TypeError).
var page = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>app</title></head>
<body><div id="out">pending</div>
<script>
(async () => {
  const out = document.getElementById("out");
  try {
    const res = await fetch({{.URL}}, {headers: {Authorization: "Bearer " + {{.Token}}}});
    const body = await res.json();
    if (res.ok) {
      out.textContent = "user:" + body.headers["X-User-Id"][0];
    } else {
      out.textContent = "error:" + res.status + " " + body.error +
        " | " + res.headers.get("WWW-Authenticate") + " | id=" + res.headers.get("X-Request-Id");
    }
  } catch (e) {
    out.textContent = "blocked:" + e.name;
  }
  out.dataset.done = "1";
})();
</script></body></html>`))

// pageServer serves the page at /?case=NAME with that case's URL and token;
// each server is its own origin (its own port). It is not started yet, so
// that its origin can go into the gateway's configuration and the cases can
// be filled in before it serves.
func pageServer(t *testing.T, cases map[string][2]string) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := cases[r.URL.Query().Get("case")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, struct{ URL, Token string }{c[0], c[1]})
	}))
	t.Cleanup(s.Close)
	return s
}

// startBrowser starts headless Chromium and returns its context, ready for
// actions. The flags keep it off the network on a closed machine.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Chromium is required in CI (CI is set): %v (.ci/run installs it)", err)
		}
		// Outside CI a missing browser is a skip, and says so plainly:
		// what did not run, why, and how to run it.
		t.Skipf("SKIPPED: the browser test did not run: Chromium is not installed at %s. "+
			"Install it (apt-get install chromium, or .ci/run --install as root) to run it; "+
			"with CI set, a missing Chromium fails the test instead", chromiumPath)
	}
	// The whole browser's life is bounded; each step has its own timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	// Runs before t.TempDir's cleanup (LIFO), so Chromium has exited when
	// its profile directory is removed.
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
	})
	// The first Run starts the browser; a timeout on it would stop the
	// browser too, so it runs on the browser context itself.
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return browserCtx
}

// visit opens pageURL in a new tab, waits until the page's script is done and
// returns what it wrote.
func visit(t *testing.T, browserCtx context.Context, pageURL string) string {
	t.Helper()
	tab, closeTab := chromedp.NewContext(browserCtx)
	defer closeTab()
	if err := chromedp.Do(tab); err != nil { // opens the tab, without a timeout (see startBrowser)
		t.Fatalf("new tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(pageURL),
		chromedp.WaitReady(chromedp.CSS("#out[data-done]")),
	); err != nil {
		t.Fatalf("page %s: %v", pageURL, err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#out")))
	if err != nil {
		t.Fatalf("reading #out: %v", err)
	}
	return text
}

// TestBrowserCORS drives a real browser against a real gateway: a page on
// one origin calls the gateway on another with a signed bearer token. The
// browser sends the preflight the gateway must answer without a token, then
// the actual request; a page on an origin not in the list is blocked by the
// browser before any request reaches the upstream; and a refusal's body and
// WWW-Authenticate are readable from script (docs/reference.md §3.6, §3.7).
func TestBrowserCORS(t *testing.T) {
	browser := startBrowser(t)

	is := testkit.NewIssuer(t)
	echo, err := demo.NewEcho("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	upstream := newMethodCounter(t, echo.URL)

	// The pages' listeners exist before the gateway, whose configuration
	// names the allowed origin; the servers start once cases, which needs
	// the gateway's URL, is complete.
	cases := map[string][2]string{}
	app := pageServer(t, cases)
	stranger := pageServer(t, cases)
	appOrigin := "http://" + app.Listener.Addr().String()

	gw, admin, _ := serveTest(t, fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
issuers:
  - { name: demo, issuer: %q, audiences: [browser-api] }
cors:
  allowed_origins: [%q]
routes:
  - name: api
    match: { path_prefix: /api }
    upstream: { url: %q }
    forward: { headers: { X-User-Id: sub } }
`, is.URL, appOrigin, upstream.URL))
	front := newMethodCounter(t, gw)
	waitReady(t, admin)

	good := is.Token(t, is.Keys()[0], map[string]any{"sub": "user-42", "aud": "browser-api"})
	now := time.Now()
	expired := is.Token(t, is.Keys()[0], map[string]any{"sub": "user-42", "aud": "browser-api",
		"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})
	cases["ok"] = [2]string{front.URL + "/api/me", good}
	cases["other"] = [2]string{front.URL + "/api/other", good}
	cases["expired"] = [2]string{front.URL + "/api/expired", expired}
	app.Start()
	stranger.Start()

	t.Run("allowed origin", func(t *testing.T) {
		gwBefore, upBefore := front.snapshot(), upstream.snapshot()
		if got, want := visit(t, browser, app.URL+"/?case=ok"), "user:user-42"; got != want {
			t.Fatalf("page shows %q, want %q", got, want)
		}
		gwAfter, upAfter := front.snapshot(), upstream.snapshot()
		if got := gwAfter["OPTIONS"] - gwBefore["OPTIONS"]; got != 1 {
			t.Errorf("preflights at the gateway: got %d, want 1", got)
		}
		if got := gwAfter["GET"] - gwBefore["GET"]; got != 1 {
			t.Errorf("GETs at the gateway: got %d, want 1", got)
		}
		if got := upAfter["OPTIONS"] - upBefore["OPTIONS"]; got != 0 {
			t.Errorf("preflights at the upstream: got %d, want 0 (the gateway answers them)", got)
		}
	})

	t.Run("disallowed origin", func(t *testing.T) {
		gwBefore, upBefore := front.snapshot(), upstream.snapshot()
		if got, want := visit(t, browser, stranger.URL+"/?case=other"), "blocked:TypeError"; got != want {
			t.Fatalf("page shows %q, want %q", got, want)
		}
		gwAfter, upAfter := front.snapshot(), upstream.snapshot()
		if got := gwAfter["OPTIONS"] - gwBefore["OPTIONS"]; got != 1 {
			t.Errorf("preflights at the gateway: got %d, want 1", got)
		}
		if got := gwAfter["GET"] - gwBefore["GET"]; got != 0 {
			t.Errorf("GETs at the gateway: got %d, want 0 (the browser stops after the preflight)", got)
		}
		for m, n := range upAfter {
			if n != upBefore[m] {
				t.Errorf("upstream got %d %s request(s), want none", n-upBefore[m], m)
			}
		}
	})

	t.Run("expired token", func(t *testing.T) {
		upBefore := upstream.snapshot()
		got := visit(t, browser, app.URL+"/?case=expired")
		for _, want := range []string{
			"error:401 invalid_token | ",
			`Bearer realm="authgate", error="invalid_token"`,
		} {
			if !strings.Contains(got, want) {
				t.Errorf("page shows %q, want it to contain %q", got, want)
			}
		}
		if strings.HasSuffix(got, "id=null") || !strings.Contains(got, " | id=") {
			t.Errorf("page shows %q, want the X-Request-Id readable", got)
		}
		if strings.Contains(got, expired) {
			t.Errorf("page shows the token")
		}
		if upAfter := upstream.snapshot(); upAfter["GET"] != upBefore["GET"] {
			t.Errorf("upstream got the refused request")
		}
	})
}
