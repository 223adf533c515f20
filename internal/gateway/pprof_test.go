package gateway_test

import (
	"fmt"
	"net/http"
	"testing"
)

// TestPprof checks that /debug/pprof/ is absent from the admin listener by
// default and served there with server.pprof: true, and never on the
// gateway's own listener.
func TestPprof(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pprof bool
		want  int
	}{
		{"default", false, http.StatusNotFound},
		{"on", true, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw, admin, _ := serveTest(t, fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", pprof: %t }
routes:
  - { name: nowhere, match: { path: /x }, upstream: { url: "http://127.0.0.1:1" }, auth: { mode: none } }
`, tc.pprof))
			for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=1"} {
				if resp, _ := fetch(t, "GET", admin+path, ""); resp.StatusCode != tc.want {
					t.Errorf("admin %s: got %d, want %d", path, resp.StatusCode, tc.want)
				}
			}
			if resp, _ := fetch(t, "GET", gw+"/debug/pprof/", ""); resp.StatusCode != http.StatusNotFound {
				t.Errorf("gateway /debug/pprof/: got %d, want 404 (no route)", resp.StatusCode)
			}
		})
	}
}
