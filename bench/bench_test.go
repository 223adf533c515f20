package main

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary play the bench's child roles: the bench
// re-executes os.Executable(), which under go test is this binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		os.Exit(runChild(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// TestQuickRun runs the whole benchmark briefly with the built-in load
// generator against the real binary and checks the report's shape and that
// every scenario's answers were counted and right. It asserts nothing about
// speed.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the authgate binary; skipped with -short")
	}
	rep, err := run(options{
		Duration: 300 * time.Millisecond, Rounds: 1, Conns: 8, Load: "go", Pin: "unpinned",
		Extras: true, IdleConns: 200, StormDelay: 50 * time.Millisecond,
		Command: "go test ./bench", Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	md := rep.markdown()
	t.Logf("report:\n%s", md)

	want := map[string]int{
		"direct": 200, "bare": 200, "valid": 200, "valid_nocache": 200,
		"bad_sig": 401, "expired": 401, "malformed": 401, "public": 200,
		"storm_base": 200, "storm_valid": 200, "storm_unknown": 401,
	}
	seen := map[string]bool{}
	for _, rw := range rep.Rows {
		code, ok := want[rw.Key]
		if !ok {
			t.Errorf("unexpected row %q", rw.Key)
			continue
		}
		seen[rw.Key] = true
		if !strings.Contains(md, "| "+rw.Mode+" | "+rw.Title+" |") {
			t.Errorf("table has no row %q", rw.Title)
		}
		if rw.Unsupported != "" {
			// Only the cache-off scenario may depend on a newer binary.
			if rw.Key != "valid_nocache" || !strings.Contains(rw.Unsupported, "not supported by this binary") {
				t.Errorf("%s: unsupported: %s", rw.Key, rw.Unsupported)
			}
			continue
		}
		var total int64
		for _, n := range rw.Statuses {
			total += n
		}
		if total == 0 || rw.Statuses[code] != total {
			t.Errorf("%s: answers %s, want every one %d", rw.Key, formatStatuses(rw.Statuses), code)
		}
		if rw.RPS <= 0 || rw.P50 <= 0 || rw.P99 < rw.P50 || rw.P999 < rw.P99 || rw.CPUPerReq <= 0 || rw.PeakKiB <= 0 {
			t.Errorf("%s: implausible figures %+v", rw.Key, rw)
		}
		if rw.Key != "bare" && !rw.NoRatio && (rw.RPSRatio <= 0 || rw.P99Ratio <= 0) {
			t.Errorf("%s: no ratio to the bare proxy: %+v", rw.Key, rw)
		}
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("no row for %s", k)
		}
	}
	if rep.IdleRSSKiB <= 0 {
		t.Errorf("extras: idle RSS %d KiB", rep.IdleRSSKiB)
	}
	for name, h := range map[string]idleHold{"authgate": rep.IdleGW, "bare": rep.IdleBare} {
		if h.Opened != 200 || h.RSSKiB <= 0 || h.BeforeKiB <= 0 {
			t.Errorf("extras, %s: %+v, want 200 idle connections held and RSS read", name, h)
		}
	}
	for _, s := range []string{"Machine: ", "Command: `go test ./bench`", "idle RSS after start", "refetch storm"} {
		if !strings.Contains(md, s) {
			t.Errorf("report lacks %q", s)
		}
	}
}

// TestCheckStatuses checks that a run whose answers are not what its
// scenario expects is refused rather than reported as a number.
func TestCheckStatuses(t *testing.T) {
	tests := []struct {
		name   string
		want   int
		res    loadResult
		wantOK bool
	}{
		{"all expected", 200, loadResult{Requests: 1000, Statuses: map[int]int64{200: 1000}}, true},
		{"cancelled at the end", 401, loadResult{Requests: 1000, Statuses: map[int]int64{401: 990, 499: 10}}, true},
		{"one stray in a thousand", 200, loadResult{Requests: 1000, Statuses: map[int]int64{200: 999, 502: 1}}, true},
		{"all failed", 200, loadResult{Requests: 1000, Statuses: map[int]int64{502: 1000}}, false},
		{"refused when it should pass", 200, loadResult{Requests: 1000, Statuses: map[int]int64{401: 1000}}, false},
		{"passed when it should be refused", 401, loadResult{Requests: 1000, Statuses: map[int]int64{200: 1000}}, false},
		{"wrk's unknown non-2xx", 401, loadResult{Requests: 1000, Statuses: map[int]int64{statusNon2xx: 1000}}, false},
		{"some failures", 200, loadResult{Requests: 1000, Statuses: map[int]int64{200: 900, 503: 100}}, false},
		{"nothing completed", 200, loadResult{Statuses: map[int]int64{}}, false},
		{"socket errors", 200, loadResult{Requests: 1000, Errors: 50, Statuses: map[int]int64{200: 1000}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkStatuses(tt.name, tt.want, tt.res)
			if (err == nil) != tt.wantOK {
				t.Errorf("checkStatuses = %v, want ok %v", err, tt.wantOK)
			}
		})
	}
}

// TestMedian covers odd and even counts.
func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"none", nil, 0},
		{"odd", []float64{3, 1, 2}, 2},
		{"even", []float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := median(tt.in); got != tt.want {
				t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// TestFailingRequestsFailTheRun drives a bare proxy whose upstream is
// gone: every answer is a 502, and measuring it must be an error naming
// the counts, not a fast figure.
func TestFailingRequestsFailTheRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there any more
	p, err := startSelf("", "proxy", "-upstream", dead)
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	r := &runner{o: options{Conns: 2, Logf: t.Logf}, drv: goDriver{dir: t.TempDir()}, peakOK: true}
	e := &env{mode: mode{name: "unpinned", threads: 1}, bare: p}
	s := scenario{key: "bare", title: "bare proxy, upstream gone", target: tgtBare, path: "/api/x", want: 200}
	_, err = r.measure(e, s, 100*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "502×") {
		t.Errorf("measure = %v, want an error counting the 502s", err)
	}
}
