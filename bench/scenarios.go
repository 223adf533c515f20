package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// target names the process a scenario sends its load to.
type target int

const (
	tgtUpstream  target = iota // the upstream itself
	tgtBare                    // httputil.ReverseProxy in front of it
	tgtGW                      // authgate, default configuration
	tgtGWNoCache               // authgate with verify_cache {size: 0}
)

// scenario is one kind of load: where it goes, with which tokens, and the
// one status code every answer must have.
type scenario struct {
	key, title string
	target     target
	path       string
	tokens     []string
	want       int
}

// scenarioKeys lists every scenario in table order.
var scenarioKeys = []string{"direct", "bare", "valid", "valid_nocache", "bad_sig", "expired", "malformed", "public"}

// poolSize is how many distinct tokens a scenario cycles through: distinct
// subjects, as real traffic has, but few enough that the verify cache holds
// them all.
const poolSize = 64

// buildScenarios signs the tokens and returns the scenarios named by keys
// (all when empty), in table order.
func buildScenarios(is *issuer, keys []string) ([]scenario, error) {
	want := map[string]bool{}
	for _, k := range keys {
		if !slices.Contains(scenarioKeys, k) {
			return nil, fmt.Errorf("unknown scenario %q (known: %s)", k, strings.Join(scenarioKeys, ", "))
		}
		want[k] = true
	}
	pools := map[tokenKind][]string{}
	for _, k := range []tokenKind{tokValid, tokBadSig, tokExpired} {
		p, err := is.tokens(k, poolSize)
		if err != nil {
			return nil, err
		}
		pools[k] = p
	}
	all := []scenario{
		// direct and bare carry the same Authorization header as the valid
		// scenarios, so every one sends the same bytes.
		{"direct", "upstream direct", tgtUpstream, "/api/x", pools[tokValid], 200},
		{"bare", "bare httputil.ReverseProxy", tgtBare, "/api/x", pools[tokValid], 200},
		{"valid", "authgate, valid RS256, verify cache on", tgtGW, "/api/x", pools[tokValid], 200},
		{"valid_nocache", "authgate, valid RS256, verify cache off", tgtGWNoCache, "/api/x", pools[tokValid], 200},
		{"bad_sig", "authgate, refusing a bad signature", tgtGW, "/api/x", pools[tokBadSig], 401},
		{"expired", "authgate, refusing an expired token", tgtGW, "/api/x", pools[tokExpired], 401},
		{"malformed", "authgate, refusing a malformed token", tgtGW, "/api/x", []string{malformedToken}, 401},
		{"public", "authgate, public route (auth none)", tgtGW, "/public/x", nil, 200},
	}
	var out []scenario
	for _, s := range all {
		if len(want) == 0 || want[s.key] {
			out = append(out, s)
		}
	}
	return out, nil
}

// checkStatuses fails loudly unless the run completed requests and they all
// got the status the scenario expects: a benchmark of failing requests
// must not report a fast number. 499 (the load generator closing a
// connection with a request in flight at the end) is tolerated, and so is
// one unexpected answer in a thousand.
func checkStatuses(name string, want int, res loadResult) error {
	var total int64
	for _, v := range res.Statuses {
		total += v
	}
	got := res.Statuses[want]
	bad := total - got - res.Statuses[499]
	if res.Requests == 0 || got == 0 || float64(bad) > 0.001*float64(total) {
		return fmt.Errorf("%s: want every answer %d, got %s (%d requests, %d socket errors)",
			name, want, formatStatuses(res.Statuses), res.Requests, res.Errors)
	}
	if float64(res.Errors) > 0.01*float64(res.Requests) {
		return fmt.Errorf("%s: %d socket errors for %d requests", name, res.Errors, res.Requests)
	}
	return nil
}

// formatStatuses renders status counts as "200×1234, 401×5".
func formatStatuses(st map[int]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(st)) {
		code := fmt.Sprint(k)
		if k == statusNon2xx {
			code = "non-2xx"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", code, st[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
