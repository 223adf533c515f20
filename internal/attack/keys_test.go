package attack

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
)

// testKeys floods the gateway with unknown kids (docs/reference.md §3.3 step 5): each
// is refused 401 at once, and none causes a key fetch, since the last fetch
// (the initial one) is younger than min_refresh_interval (10m).
func testKeys(t *testing.T, f *fixture) {
	t.Run("concurrent unknown kids cause no refetch", func(t *testing.T) {
		payload := object(claims(f.main.URL)...)
		second := object(claims(f.second.URL)...)
		before, m := f.trustedKeyHits(), f.up.mark()
		const n = 24
		type result struct {
			resp *http.Response
			body []byte
			err  error
		}
		results := make([]result, n)
		var wg sync.WaitGroup
		for i := range n {
			p := payload
			if i%2 == 1 {
				p = second
			}
			tok := f.jws(t, "RS256", f.mainRSA.Private, fmt.Sprintf(`{"alg":"RS256","kid":"rotated-%d"}`, i), p)
			wg.Add(1)
			go func() {
				defer wg.Done()
				// No t.Fatal off the test goroutine: errors are collected.
				nc, err := net.DialTimeout("tcp", f.gw, ioTimeout)
				if err != nil {
					results[i].err = err
					return
				}
				defer nc.Close()
				c := &raw{tb: t, c: nc, br: bufio.NewReader(nc)}
				if _, err := io.WriteString(nc, request("GET", "/api/kid", bearer(tok))); err != nil {
					results[i].err = err
					return
				}
				resp, body, err := c.tryResponse("GET")
				results[i] = result{resp, body, err}
			}()
		}
		wg.Wait()
		for i, r := range results {
			if r.err != nil {
				t.Errorf("request %d: %v", i, r.err)
				continue
			}
			wantError(t, r.resp, r.body, 401, "invalid_token")
			f.wantReason(t, r.resp, "unknown_key")
		}
		wantNothing(t, f.up.since(m))
		if got := f.trustedKeyHits() - before; got != 0 {
			t.Errorf("key fetches caused by %d unknown kids: got %d, want 0", n, got)
		}
	})
}
