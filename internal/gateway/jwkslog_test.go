package gateway_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/authgate/authgate/internal/demo"
	"github.com/authgate/authgate/internal/logging"
	"github.com/authgate/authgate/internal/testkit"
)

// TestKeysUnavailableLogsPerFetch: while an issuer is down, a burst of
// requests that find its keys unavailable gets one access line each and
// nothing more; key set failures are logged once per fetch (a backoff
// step), never once per request. Requests carry a known and an unknown kid,
// so that the unknown-kid refetch path is exercised too.
func TestKeysUnavailableLogsPerFetch(t *testing.T) {
	is := testkit.NewIssuer(t)
	is.SetFault(testkit.ErrorFault(http.StatusServiceUnavailable))
	up, err := demo.NewEcho("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()

	logs := &testkit.LogBuffer{}
	level := new(slog.LevelVar)
	level.Set(slog.LevelDebug)
	logger := logging.New(logs, "json", level)
	gw, _, stop := serveConfig(t, parseConfig(t, fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
issuers:
  - { name: down, issuer: %q, jwks_url: %q, audiences: [api] }
routes:
  - { name: api, match: { path_prefix: / }, upstream: { url: %q } }
`, is.URL, is.JWKSURL(), up.URL)), logger)

	known := is.Token(t, is.Keys()[0], map[string]any{"sub": "alice", "aud": "api"})
	unknown := is.Token(t, testkit.NewRSAKey(t, "rotated-in"), map[string]any{"sub": "bob", "aud": "api"})
	const burst = 200
	var wg sync.WaitGroup
	for i := range burst {
		tok := known
		if i%2 == 1 {
			tok = unknown
		}
		wg.Go(func() {
			req, _ := http.NewRequest("GET", gw+"/x", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("request: %v", err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("status: got %d, want 503", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}

	// Every line but the access lines and the start and stop lines is
	// counted: a per-request log of the failure under any message would
	// show up as hundreds.
	var access, other int
	for _, l := range logs.Lines(t, "") {
		switch l["msg"] {
		case "request":
			access++
		case "authgate listening", "shutting down", "stopped":
		default:
			other++
		}
	}
	if access != burst {
		t.Errorf("access lines: got %d, want %d", access, burst)
	}
	// The burst lasts well under the first backoff steps: a handful of
	// fetches, each logged once.
	if fetches := is.TotalHits(); other == 0 || other > fetches || other > 5 {
		t.Errorf("other log lines over %d requests: got %d, want 1 to 5 and at most one per fetch (%d fetches):\n%s",
			burst, other, fetches, logs)
	}
}
