//go:build soak

package soak

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// report prints the summary block and then asserts every pass criterion
// of the package comment.
func (r *run) report(elapsed time.Duration, before, peak, after gauges, s *sampler, jwksHits, discoveryHits int) {
	t := r.t
	// Unknown kids ask for a refetch at most once per min_refresh_interval
	// from the previous fetch of any kind; the periodic refresh adds one per
	// refresh_interval; a little slack covers the start and the rotations'
	// probes, which only ever use that same allowance.
	maxJWKS := int(elapsed/minRefreshInterval) + int(elapsed/refreshInterval) + 10
	rssBound := maxPeakRSSMiB
	if raceEnabled {
		rssBound = maxPeakRSSRace
	}
	peakG, peakFD := max(int(s.peakG.Load()), peak.goroutines), max(int(s.peakFD.Load()), peak.fds)
	mib := func(kib int) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

	var b strings.Builder
	fmt.Fprintf(&b, "soak summary: %s of traffic, %d workers, %d requests (%.0f/s), race detector %v\n",
		elapsed.Round(time.Millisecond), r.st.workers, r.sent.Load(), float64(r.sent.Load())/elapsed.Seconds(), raceEnabled)
	fmt.Fprintf(&b, "  %-12s %9s %9s  %s\n", "class", "sent", "upstream", "verdict")
	for c := range numClasses {
		v := classes[c]
		want := fmt.Sprintf("%d %s", v.status, v.code)
		switch {
		case v.orRefuse:
			want = "200 from upstream, or refused; never 101"
		case v.allow:
			want = "200 from upstream"
		}
		fmt.Fprintf(&b, "  %-12s %9d %9d  %s\n", v.name, r.sentBy[c].Load(), r.up.byClass[c].Load(), want)
	}
	wrong := r.wrong.total()
	fmt.Fprintf(&b, "  wrong decisions: %d", wrong)
	r.wrong.mu.Lock()
	kinds := make([]string, 0, len(r.wrong.counts))
	for k, n := range r.wrong.counts {
		kinds = append(kinds, fmt.Sprintf("%s: %d", k, n))
	}
	examples := append([]string(nil), r.wrong.examples...)
	r.wrong.mu.Unlock()
	sort.Strings(kinds)
	if len(kinds) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(kinds, "; "))
	}
	fmt.Fprintf(&b, "\n  5xx: %d; transport errors: %d; probes: %d\n", r.fivexx.Load(), r.transErr.Load(), r.probes.Load())
	fmt.Fprintf(&b, "  access lines: %d for %d answered requests; log lines with token material: %d; log levels: ERROR %d, WARN %d\n",
		r.logs.access.Load(), r.answered.Load(), r.logs.leaks.Load(), r.logs.level("ERROR"), r.logs.level("WARN"))
	fmt.Fprintf(&b, "  key rotations: %d of %d; key set fetches: %d (bound %d), discovery fetches: %d\n",
		r.rotations.Load(), r.st.rotations, jwksHits, maxJWKS, discoveryHits)
	fmt.Fprintf(&b, "  rotation probe+drain times: %s\n", strings.Join(r.rotTimes, " "))
	fmt.Fprintf(&b, "  reloads: %d applied (one before traffic), %d refused; /extra as expected after %d of %d\n",
		r.reloadOK.Load(), r.reloadFailed.Load(), r.extraOK.Load(), len(r.st.reloads))
	fmt.Fprintf(&b, "  %-11s %12s %12s %12s   bound\n", "", "before", "peak", "after")
	fmt.Fprintf(&b, "  %-11s %12d %12d %12d   after <= before+%d\n", "goroutines", before.goroutines, peakG, after.goroutines, goroutineSlack)
	fmt.Fprintf(&b, "  %-11s %12d %12d %12d   after <= before+%d\n", "fds", before.fds, peakFD, after.fds, fdSlack)
	fmt.Fprintf(&b, "  %-11s %12s %12s %12s   peak <= %d MiB\n", "RSS", mib(before.rssKiB), mib(peak.hwmKiB), mib(after.rssKiB), rssBound)
	t.Log("\n" + b.String())

	if wrong > 0 {
		t.Errorf("%d wrong decisions; first ones:\n  %s", wrong, strings.Join(examples, "\n  "))
	}
	if n := r.fivexx.Load(); n > 0 {
		t.Errorf("5xx answers: got %d, want 0 (the issuer and the upstream were up throughout)", n)
	}
	if n := r.transErr.Load(); n > 0 {
		t.Errorf("transport errors: got %d, want 0", n)
	}
	if a, n := r.logs.access.Load(), r.answered.Load(); a != n {
		t.Errorf("access lines: got %d, want one per answered request, %d", a, n)
	}
	if n := r.logs.leaks.Load(); n > 0 {
		t.Errorf("log lines with token material: got %d, want 0", n)
	}
	if e, w := r.logs.level("ERROR"), r.logs.level("WARN"); e != int(r.reloadFailed.Load()) || w != 0 {
		t.Errorf("log levels: got ERROR %d, WARN %d, want ERROR only for the %d refused reloads; last lines:\n%s",
			e, w, r.reloadFailed.Load(), r.logs.lastLines())
	}
	// Rotations run on a fixed schedule; on a starved machine the last ones
	// may not fit before the deadline, but at least three must complete:
	// the retired class starts after the second.
	if n := r.rotations.Load(); n < min(3, int64(r.st.rotations)) {
		t.Errorf("key rotations: got %d of %d, want at least 3", n, r.st.rotations)
	}
	if jwksHits > maxJWKS {
		t.Errorf("key set fetches: got %d, want at most %d (min_refresh_interval %s)", jwksHits, maxJWKS, minRefreshInterval)
	}
	if after.goroutines > before.goroutines+goroutineSlack {
		t.Errorf("goroutines after the soak: got %d, want at most %d+%d", after.goroutines, before.goroutines, goroutineSlack)
	}
	if after.fds > before.fds+fdSlack {
		t.Errorf("open fds after the soak: got %d, want at most %d+%d", after.fds, before.fds, fdSlack)
	}
	if peak.hwmKiB > rssBound<<10 {
		t.Errorf("peak RSS: got %s, want at most %d MiB", mib(peak.hwmKiB), rssBound)
	}
}
