package main

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// gwConfig is what varies between the authgate configurations the bench
// generates.
type gwConfig struct {
	issuer, upstream string
	noCache          bool          // verify_cache: {size: 0}
	minRefresh       time.Duration // issuer jwks.min_refresh_interval; 0: the default
}

// yaml renders the configuration file: one issuer, a required route that
// forwards sub as X-User-Id, a public route, JSON access logs on (they are
// part of the real cost; they go to the file stderr is redirected to).
func (c gwConfig) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, `server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", shutdown_timeout: 2s }
log: { level: info, format: json, access: true }
issuers:
  - name: bench
    issuer: %q
    audiences: [%s]
`, c.issuer, audience)
	if c.minRefresh > 0 {
		fmt.Fprintf(&b, "    jwks: { min_refresh_interval: %s }\n", c.minRefresh)
	}
	if c.noCache {
		b.WriteString("verify_cache: { size: 0 }\n")
	}
	fmt.Fprintf(&b, `routes:
  - name: api
    match: { path_prefix: /api }
    upstream: { url: %q }
    auth: { mode: required }
    forward:
      headers: { X-User-Id: sub }
  - name: public
    match: { path_prefix: /public }
    upstream: { url: %q }
    auth: { mode: none }
`, c.upstream, c.upstream)
	return b.String()
}

// check runs `authgate check` on a configuration file and returns its
// verdict: nil, or an error holding the first line of what it printed.
func check(bin, cfg string) error {
	out, err := exec.Command(bin, "check", "-config", cfg).CombinedOutput()
	if err == nil {
		return nil
	}
	msg, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	// Drop "authgate: /tmp/…/x.yaml:7: ": the scratch path says nothing.
	if _, after, ok := strings.Cut(msg, ".yaml:"); ok {
		if _, rest, ok := strings.Cut(after, ": "); ok {
			msg = rest
		}
	}
	return fmt.Errorf("authgate check: %s (%v)", msg, err)
}

// scrapeCodes sums authgate_requests_total by status code from the admin
// listener's /metrics, the gateway's own exact count of what it answered.
func scrapeCodes(admin string) (map[int]int64, error) {
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	codes := map[int]int64{}
	for line := range strings.Lines(string(body)) {
		rest, ok := strings.CutPrefix(line, "authgate_requests_total{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		_, code, _ := strings.Cut(labels, `code="`)
		code, _, _ = strings.Cut(code, `"`)
		n, err1 := strconv.Atoi(code)
		v, err2 := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err1 != nil || err2 != nil {
			n = statusNon2xx // "other": not a code between 100 and 599
		}
		codes[n] += int64(v)
	}
	return codes, nil
}

// subCodes is after minus before, dropping codes that did not change.
func subCodes(after, before map[int]int64) map[int]int64 {
	out := map[int]int64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}
