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
	msg, _, _ = strings.Cut(msg, " (valid: ")
	return fmt.Errorf("authgate check: %s", msg)
}

// snapshot is what the bench reads from the gateway's /metrics: answers by
// status code (authgate_requests_total summed over routes and methods, the
// gateway's own exact count) and verified-token cache lookups.
type snapshot struct {
	codes         map[int]int64
	hits, lookups int64
}

// scrape reads a snapshot from the admin listener.
func scrape(admin string) (snapshot, error) {
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		return snapshot{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return snapshot{}, err
	}
	snap := snapshot{codes: map[int]int64{}}
	for line := range strings.Lines(string(body)) {
		name, rest, ok := strings.Cut(line, "{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch name {
		case "authgate_requests_total":
			n, err := strconv.Atoi(label(labels, "code"))
			if err != nil {
				n = statusNon2xx // "other": not a code between 100 and 599
			}
			snap.codes[n] += int64(v)
		case "authgate_verify_cache_requests_total":
			snap.lookups += int64(v)
			if label(labels, "result") == "hit" {
				snap.hits += int64(v)
			}
		}
	}
	return snap, nil
}

// label is the value of name in a Prometheus label list.
func label(labels, name string) string {
	_, v, _ := strings.Cut(labels, name+`="`)
	v, _, _ = strings.Cut(v, `"`)
	return v
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
