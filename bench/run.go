package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// options is everything a run can be told; main fills it from flags.
type options struct {
	Authgate   string        // prebuilt binary; empty: go build ./cmd/authgate
	Duration   time.Duration // per scenario per round
	Warmup     time.Duration // per scenario, once, before the first round
	Rounds     int
	Conns      int
	Load       string   // auto | wrk | go
	Pin        string   // both | pinned | unpinned
	Scenarios  []string // empty: all
	Extras     bool     // idle RSS, idle connections, refetch storm
	IdleConns  int
	StormDelay time.Duration
	Command    string // shown in the report
	Logf       func(format string, args ...any)
}

// mode is one CPU placement: pinned puts the process under test on core 1
// and the load generator and upstream on core 0; unpinned lets the kernel
// place everything.
type mode struct {
	name            string
	proxyCPUs, rest string // taskset lists, "" for none
	threads         int    // wrk threads
}

// env is one mode's set of running processes.
type env struct {
	mode          mode
	upstream      *proc
	bare, gw, gwN *proc
	noCache       error // why the cache-off scenario cannot run, if it cannot
}

func (e *env) stop() {
	for _, p := range []*proc{e.gwN, e.gw, e.bare, e.upstream} {
		p.stop()
	}
}

func (e *env) proc(t target) *proc {
	return [...]*proc{tgtUpstream: e.upstream, tgtBare: e.bare, tgtGW: e.gw, tgtGWNoCache: e.gwN}[t]
}

// sample is one scenario's figures from one round.
type sample struct {
	res       loadResult
	cpuPerReq float64 // microseconds of the measured process's CPU
	peakKiB   int64
	// verified-token cache lookups in the gateway during the run
	cacheHits, cacheLookups int64
}

// runner holds what a run shares across modes.
type runner struct {
	o      options
	dir    string
	bin    string
	is     *issuer
	drv    driver
	scens  []scenario
	peakOK bool
}

// run performs the whole benchmark and returns its report. Any scenario
// whose answers are not all what it expects fails the run.
func run(o options) (*report, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	dir, err := os.MkdirTemp("", "authgate-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	drv, err := chooseDriver(o.Load, dir)
	if err != nil {
		return nil, err
	}
	if _, ok := drv.(wrkDriver); ok {
		// wrk counts whole seconds; the report shows what really ran.
		o.Duration = max(time.Second, o.Duration.Round(time.Second))
		if o.Warmup > 0 {
			o.Warmup = max(time.Second, o.Warmup.Round(time.Second))
		}
	}
	wanted := o.IdleConns
	if o.Extras {
		// Before any child starts: they inherit the limit.
		o.IdleConns = raiseNofile(o.IdleConns)
	}
	r := &runner{o: o, dir: dir, drv: drv, bin: o.Authgate, peakOK: true}
	if r.bin == "" {
		if r.bin, err = buildAuthgate(dir); err != nil {
			return nil, err
		}
	}
	if r.is, err = newIssuer(); err != nil {
		return nil, err
	}
	defer r.is.Close()
	if r.scens, err = buildScenarios(r.is, o.Scenarios); err != nil {
		return nil, err
	}
	rep := &report{Machine: machine(), Authgate: authgateVersion(r.bin), Load: r.drv.name(), Command: o.Command, opts: o, IdleConnsWanted: wanted}
	if o.IdleConns < wanted {
		rep.Notes = append(rep.Notes, fmt.Sprintf("RLIMIT_NOFILE could not be raised: %d idle connections instead of %d", o.IdleConns, wanted))
	}
	for _, m := range modes(o.Pin, rep) {
		o.Logf("mode %s: starting processes", m.name)
		rows, err := r.runMode(m)
		if err != nil {
			return nil, err
		}
		rep.Rows = append(rep.Rows, rows...)
	}
	if o.Extras {
		o.Logf("extras: idle RSS, idle connections, refetch storm")
		if err := r.extras(rep); err != nil {
			return nil, err
		}
	}
	if !r.peakOK {
		rep.Notes = append(rep.Notes, "the kernel refused to reset VmHWM (clear_refs): peak RSS counts from process start")
	}
	return rep, nil
}

// chooseDriver picks the load generator -load asks for.
func chooseDriver(load, dir string) (driver, error) {
	v := wrkVersion()
	switch {
	case load == "go" || (load == "auto" && v == ""):
		return goDriver{dir: dir}, nil
	case v == "":
		return nil, errors.New("-load wrk: wrk is not installed")
	}
	return wrkDriver{dir: dir, version: v}, nil
}

// modes returns the CPU placements -pin asks for; pinning needs taskset
// and at least two cores, or it is skipped with a note.
func modes(pin string, rep *report) []mode {
	unpinned := mode{name: "unpinned", threads: 2}
	pinned := mode{name: "pinned", proxyCPUs: "1", rest: "0", threads: 1}
	_, err := exec.LookPath("taskset")
	canPin := err == nil && rep.Machine.Cores >= 2
	if pin != "unpinned" && !canPin {
		rep.Notes = append(rep.Notes, "pinned mode skipped: it needs taskset and two cores")
		return []mode{unpinned}
	}
	switch pin {
	case "pinned":
		return []mode{pinned}
	case "unpinned":
		return []mode{unpinned}
	}
	return []mode{pinned, unpinned}
}

// buildAuthgate builds ./cmd/authgate from the module root into dir.
func buildAuthgate(dir string) (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	bin := filepath.Join(dir, "authgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/authgate")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/authgate: %w\n%s", err, out)
	}
	return bin, nil
}

// authgateVersion is the first line of `authgate version`.
func authgateVersion(bin string) string {
	out, _ := exec.Command(bin, "version").Output()
	v, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return v
}

// startEnv starts the upstream (with the load generator's CPUs), the bare
// proxy and the authgate instances (with the CPUs under test).
func (r *runner) startEnv(m mode) (_ *env, err error) {
	e := &env{mode: m}
	defer func() {
		if err != nil {
			e.stop()
		}
	}()
	if e.upstream, err = startSelf(m.rest, "upstream"); err != nil {
		return nil, err
	}
	up := "http://" + e.upstream.addr
	if e.bare, err = startSelf(m.proxyCPUs, "proxy", "-upstream", up); err != nil {
		return nil, err
	}
	cfg := gwConfig{issuer: r.is.URL, upstream: up}
	if e.gw, err = r.startGW(m, "gw", cfg); err != nil {
		return nil, err
	}
	if r.wants(tgtGWNoCache) {
		cfg.noCache = true
		e.gwN, err = r.startGW(m, "gw-nocache", cfg)
		var unsupported errUnsupported
		if errors.As(err, &unsupported) {
			e.noCache, err = err, nil
		}
	}
	return e, err
}

// errUnsupported is a configuration the binary's check refuses.
type errUnsupported struct{ err error }

func (e errUnsupported) Error() string { return "not supported by this binary: " + e.err.Error() }

// startGW writes a configuration, has `authgate check` validate it and
// starts the gateway with it. A configuration check refuses is reported as
// errUnsupported: the binary predates a key the bench uses.
func (r *runner) startGW(m mode, name string, cfg gwConfig) (*proc, error) {
	path, err := writeFile(r.dir, name+"-"+m.name+".yaml", cfg.yaml())
	if err != nil {
		return nil, err
	}
	if err := check(r.bin, path); err != nil {
		return nil, errUnsupported{err}
	}
	return startAuthgate(m.proxyCPUs, r.bin, name, path, filepath.Join(r.dir, name+"-"+m.name+".log"))
}

func (r *runner) wants(t target) bool {
	return slices.ContainsFunc(r.scens, func(s scenario) bool { return s.target == t })
}

// runMode starts one mode's processes, warms every scenario up, runs the
// interleaved rounds and returns one row of medians per scenario.
func (r *runner) runMode(m mode) ([]row, error) {
	e, err := r.startEnv(m)
	if err != nil {
		return nil, err
	}
	defer e.stop()
	samples := map[string][]sample{}
	if r.o.Warmup > 0 {
		for _, s := range r.scens {
			if e.proc(s.target) == nil {
				continue
			}
			if _, err := r.measure(e, s, r.o.Warmup); err != nil {
				return nil, fmt.Errorf("warm-up: %w", err)
			}
		}
	}
	for round := range r.o.Rounds {
		// Each round starts one scenario later, so none always runs first.
		for i := range r.scens {
			s := r.scens[(i+round)%len(r.scens)]
			if e.proc(s.target) == nil {
				continue
			}
			r.o.Logf("mode %s round %d/%d: %s", m.name, round+1, r.o.Rounds, s.title)
			smp, err := r.measure(e, s, r.o.Duration)
			if err != nil {
				return nil, err
			}
			samples[s.key] = append(samples[s.key], smp)
		}
	}
	var rows []row
	for _, s := range r.scens {
		rw := row{Mode: m.name, Key: s.key, Title: s.title}
		if s.target == tgtGWNoCache && e.noCache != nil {
			rw.Unsupported = e.noCache.Error()
		} else {
			rw.fill(samples[s.key])
		}
		rows = append(rows, rw)
	}
	return rows, nil
}

// measure runs one scenario's load for d and reads the measured process's
// CPU time and peak RSS around it. When the driver cannot tell status codes
// apart (wrk) and the target is authgate, the gateway's own count of
// answers by code is used instead.
func (r *runner) measure(e *env, s scenario, d time.Duration) (sample, error) {
	p := e.proc(s.target)
	pid := p.pid()
	r.peakOK = resetPeak(pid) && r.peakOK
	var before, after snapshot
	var err error
	if p.admin != "" {
		if before, err = scrape(p.admin); err != nil {
			return sample{}, err
		}
	}
	t0, err := cpuTicks(pid)
	if err != nil {
		return sample{}, err
	}
	spec := loadSpec{URL: "http://" + p.addr + s.path, Conns: r.o.Conns, Duration: d, Tokens: s.tokens}
	res, err := r.drv.run(spec, e.mode.rest, e.mode.threads)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", s.title, err)
	}
	t1, err := cpuTicks(pid)
	if err != nil {
		return sample{}, err
	}
	hwm, err := statusKiB(pid, "VmHWM")
	if err != nil {
		return sample{}, err
	}
	if p.admin != "" {
		if after, err = scrape(p.admin); err != nil {
			return sample{}, err
		}
		if !res.StatusExact {
			res.Statuses, res.StatusExact = subCodes(after.codes, before.codes), true
		}
	}
	if err := checkStatuses(e.mode.name+", "+s.title, s.want, res); err != nil {
		return sample{}, err
	}
	return sample{res: res, cpuPerReq: float64(t1-t0) * 1e6 / clockTicks / float64(res.Requests), peakKiB: hwm,
		cacheHits: after.hits - before.hits, cacheLookups: after.lookups - before.lookups}, nil
}
