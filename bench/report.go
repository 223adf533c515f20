package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
)

// row is one line of the table: a scenario's medians over its rounds.
type row struct {
	Mode, Key, Title string
	Unsupported      string // set: the scenario could not run, and why
	NoRatio          bool   // a different load shape: no ratio to the bare proxy
	Rounds           int
	RPS              float64
	P50, P99, P999   float64 // microseconds
	CPUPerReq        float64 // microseconds
	PeakKiB          int64
	Statuses         map[int]int64 // summed over rounds
	CacheHits        int64         // verified-token cache hits, summed over rounds
	CacheLookups     int64
	RPSRatio         float64 // to the bare proxy in the same mode; 0: none
	P99Ratio         float64
}

// fill sets the row's medians and summed status counts from its samples.
func (rw *row) fill(ss []sample) {
	rw.Rounds = len(ss)
	rw.Statuses = map[int]int64{}
	var rps, p50, p99, p999, cpu, peak []float64
	for _, s := range ss {
		rps, p50, p99, p999 = append(rps, s.res.rps()), append(p50, s.res.P50), append(p99, s.res.P99), append(p999, s.res.P999)
		cpu, peak = append(cpu, s.cpuPerReq), append(peak, float64(s.peakKiB))
		rw.CacheHits += s.cacheHits
		rw.CacheLookups += s.cacheLookups
		for k, v := range s.res.Statuses {
			rw.Statuses[k] += v
		}
	}
	rw.RPS, rw.P50, rw.P99, rw.P999 = median(rps), median(p50), median(p99), median(p999)
	rw.CPUPerReq, rw.PeakKiB = median(cpu), int64(median(peak))
}

// median of xs (the mean of the middle two for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// machineInfo describes where the figures were taken.
type machineInfo struct {
	CPU    string
	Cores  int
	Kernel string
	Go     string
}

func machine() machineInfo {
	m := machineInfo{CPU: "unknown", Cores: runtime.NumCPU(), Kernel: "unknown", Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}

// report is the benchmark's result.
type report struct {
	Machine          machineInfo
	Authgate, Load   string
	Command          string
	Rows             []row
	IdleRSSKiB       int64
	IdleConnsWanted  int
	IdleGW, IdleBare idleHold // RSS holding IdleConnsWanted idle connections
	StormFetches     float64
	Notes            []string
	opts             options
}

// ratios sets each row's ratios to the bare proxy row of its mode.
func (rep *report) ratios() {
	bare := map[string]row{}
	for _, rw := range rep.Rows {
		if rw.Key == "bare" && rw.Unsupported == "" {
			bare[rw.Mode] = rw
		}
	}
	for i, rw := range rep.Rows {
		b, ok := bare[rw.Mode]
		if !ok || rw.NoRatio || rw.Unsupported != "" || b.RPS == 0 || b.P99 == 0 {
			continue
		}
		rep.Rows[i].RPSRatio, rep.Rows[i].P99Ratio = rw.RPS/b.RPS, rw.P99/b.P99
	}
}

// markdown renders the report: a header naming the machine and command,
// one table of every scenario, and the extra measurements.
func (rep *report) markdown() string {
	rep.ratios()
	o := rep.opts
	var b strings.Builder
	m := rep.Machine
	fmt.Fprintf(&b, "## authgate load benchmark\n\n")
	fmt.Fprintf(&b, "- Machine: %s, %d cores, %s, %s\n", m.CPU, m.Cores, m.Kernel, m.Go)
	fmt.Fprintf(&b, "- authgate: %s\n", rep.Authgate)
	fmt.Fprintf(&b, "- Command: `%s`\n", rep.Command)
	fmt.Fprintf(&b, "- Load: %s, %d keep-alive connections, %d round(s) of %s per scenario, interleaved; figures are medians over the rounds\n",
		rep.Load, o.Conns, o.Rounds, o.Duration)
	b.WriteString("- pinned: the process under test on core 1, load generator and upstream on core 0; unpinned: no pinning\n")
	b.WriteString("- authgate logs JSON with access lines on, to a file (its stderr redirected), so logging is in its cost\n")
	b.WriteString("- CPU/req: utime+stime of the process under test (the upstream itself for \"upstream direct\") divided by requests\n\n")
	b.WriteString("| CPU placement | Scenario | req/s | req/s ÷ bare | p50 ms | p99 ms | p99 ÷ bare | p99.9 ms | CPU µs/req | peak RSS MiB | answers |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, rw := range rep.Rows {
		if rw.Unsupported != "" {
			fmt.Fprintf(&b, "| %s | %s | %s | | | | | | | | |\n", rw.Mode, rw.Title, rw.Unsupported)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %s | %.2f | %.2f | %s | %.2f | %.1f | %.1f | %s |\n",
			rw.Mode, rw.Title, rw.RPS, ratio(rw.RPSRatio), rw.P50/1e3, rw.P99/1e3, ratio(rw.P99Ratio), rw.P999/1e3,
			rw.CPUPerReq, float64(rw.PeakKiB)/1024, formatStatuses(rw.Statuses))
	}
	if o.Extras {
		b.WriteString("\nExtra measurements (a fresh unpinned gateway):\n\n")
		fmt.Fprintf(&b, "- idle RSS after start: %.1f MiB\n", float64(rep.IdleRSSKiB)/1024)
		for _, h := range []struct {
			who string
			h   idleHold
		}{{"authgate", rep.IdleGW}, {"the bare proxy", rep.IdleBare}} {
			if h.h.Opened > 0 {
				fmt.Fprintf(&b, "- RSS of %s holding %d idle keep-alive client connections (of %d asked for; one valid request each): %.1f MiB (%.1f MiB before, %.1f KiB per connection)\n",
					h.who, h.h.Opened, rep.IdleConnsWanted, float64(h.h.RSSKiB)/1024, float64(h.h.BeforeKiB)/1024, h.h.perConnKiB())
			}
		}
		if s, v := rep.row("storm_base"), rep.row("storm_valid"); s != nil && v != nil && s.P99 > 0 {
			fmt.Fprintf(&b, "- refetch storm (JWKS answering %s late, min_refresh_interval %s, %.0f JWKS fetches per storm run): p99 of valid known-kid requests %.2f ms during the storm against %.2f ms without (%.2f×)\n",
				o.StormDelay, stormMinRefresh, rep.StormFetches, v.P99/1e3, s.P99/1e3, v.P99/s.P99)
		}
	}
	for _, rw := range rep.Rows {
		if strings.HasPrefix(rw.Key, "valid") && rw.Unsupported == "" {
			fmt.Fprintf(&b, "- verify cache in %q (%s): %d hits in %d lookups%s\n", rw.Title, rw.Mode, rw.CacheHits, rw.CacheLookups,
				map[bool]string{true: " (no hits: this binary has no working verify cache, so every request was verified in full)"}[rw.CacheHits == 0])
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "- note: %s\n", n)
	}
	return b.String()
}

// row returns the first row with key, or nil.
func (rep *report) row(key string) *row {
	for i := range rep.Rows {
		if rep.Rows[i].Key == key {
			return &rep.Rows[i]
		}
	}
	return nil
}

func ratio(x float64) string {
	if x == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", x)
}
