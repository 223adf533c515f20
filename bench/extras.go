package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// stormMinRefresh is the extras gateway's jwks.min_refresh_interval: short,
// so that a stream of unknown kids keeps a slow refetch in flight nearly all
// the time instead of one fetch per default 30 s.
const stormMinRefresh = 100 * time.Millisecond

// raiseNofile lifts RLIMIT_NOFILE so the bench can hold n connections; the
// authgate children inherit it. It returns how many connections fit.
func raiseNofile(n int) int {
	need := uint64(n + 4096)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return n
	}
	if lim.Cur < need {
		lim.Cur = need
		lim.Max = max(lim.Max, need)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
		}
	}
	return max(0, min(n, int(lim.Cur)-4096))
}

// extras runs, on a fresh unpinned gateway: idle RSS after start, RSS while
// holding many idle keep-alive client connections (and the bare proxy's
// RSS holding as many), and the p99 of valid requests with and without a
// refetch storm.
func (r *runner) extras(rep *report) (err error) {
	e := &env{mode: mode{name: "unpinned", threads: 2}}
	defer e.stop()
	if e.upstream, err = startSelf("", "upstream"); err != nil {
		return err
	}
	cfg := gwConfig{issuer: r.is.URL, upstream: "http://" + e.upstream.addr, minRefresh: stormMinRefresh}
	if e.gw, err = r.startGW(e.mode, "gw-extras", cfg); err != nil {
		return err
	}
	pid := e.gw.pid()
	time.Sleep(500 * time.Millisecond) // let start-up garbage settle
	if rep.IdleRSSKiB, err = statusKiB(pid, "VmRSS"); err != nil {
		return err
	}
	tok, err := r.is.token(tokValid, 0)
	if err != nil {
		return err
	}
	if rep.IdleGW, err = r.idleConns(e.gw, tok); err != nil {
		return err
	}
	// The bare proxy holding as many, for comparison.
	if e.bare, err = startSelf("", "proxy", "-upstream", cfg.upstream); err != nil {
		return err
	}
	if rep.IdleBare, err = r.idleConns(e.bare, tok); err != nil {
		return err
	}
	e.bare.stop()
	e.bare = nil
	return r.storm(e, rep)
}

// idleHold is the RSS of a process before and while it holds idle
// keep-alive client connections.
type idleHold struct {
	Opened            int
	BeforeKiB, RSSKiB int64
}

// perConnKiB is the RSS increase per connection held.
func (h idleHold) perConnKiB() float64 {
	if h.Opened == 0 {
		return 0
	}
	return float64(h.RSSKiB-h.BeforeKiB) / float64(h.Opened)
}

// idleConns opens r.o.IdleConns connections to p, sends one valid request
// on each, keeps them all open and idle, and reads p's RSS.
func (r *runner) idleConns(p *proc, tok string) (idleHold, error) {
	n := r.o.IdleConns
	before, err := statusKiB(p.pid(), "VmRSS")
	if err != nil {
		return idleHold{}, err
	}
	u, _ := url.Parse("http://" + p.addr + "/api/x")
	req := prebuilt(u, []string{tok})[0]
	var (
		mu    sync.Mutex
		conns []net.Conn
		bad   atomic.Int64
		wg    sync.WaitGroup
		next  atomic.Int64
	)
	for range 64 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				c, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
				if err != nil {
					bad.Add(1)
					continue
				}
				code, keep, err := roundTrip(c, bufio.NewReaderSize(c, 512), req)
				if err != nil || code != http.StatusOK || !keep {
					bad.Add(1)
					c.Close()
					continue
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	time.Sleep(time.Second) // the server's per-connection state is in place
	rss, err := statusKiB(p.pid(), "VmRSS")
	if err != nil {
		return idleHold{}, err
	}
	if len(conns) == 0 {
		return idleHold{}, fmt.Errorf("idle connections to %s: none of %d opened (%d failed)", p.name, n, bad.Load())
	}
	return idleHold{Opened: len(conns), BeforeKiB: before, RSSKiB: rss}, nil
}

// storm compares the valid stream alone with the valid stream next to a
// second stream of tokens with unknown kids while the JWKS endpoint answers
// StormDelay late, interleaved for Rounds rounds.
func (r *runner) storm(e *env, rep *report) error {
	p := e.gw
	valid, err := r.is.tokens(tokValid, poolSize)
	if err != nil {
		return err
	}
	unknown, err := r.is.tokens(tokUnknownKID, 4*poolSize)
	if err != nil {
		return err
	}
	half := max(1, r.o.Conns/2)
	vs := loadSpec{URL: "http://" + p.addr + "/api/x", Conns: half, Duration: r.o.Duration, Tokens: valid}
	us := vs
	us.Tokens = unknown
	var base, during, unk []sample
	var fetches []float64
	for round := range r.o.Rounds {
		r.o.Logf("extras round %d/%d: refetch storm", round+1, r.o.Rounds)
		b, err := r.measureStreams(p, vs, nil)
		if err != nil {
			return fmt.Errorf("storm baseline: %w", err)
		}
		f0 := r.is.fetches.Load()
		r.is.setDelay(r.o.StormDelay)
		d, err := r.measureStreams(p, vs, &us)
		r.is.setDelay(0)
		if err != nil {
			return fmt.Errorf("storm: %w", err)
		}
		fetches = append(fetches, float64(r.is.fetches.Load()-f0))
		base, during, unk = append(base, b[0]), append(during, d[0]), append(unk, d[1])
	}
	rows := []struct {
		key, title string
		s          []sample
	}{
		{"storm_base", fmt.Sprintf("authgate, valid, %d conns, no storm", half), base},
		{"storm_valid", fmt.Sprintf("authgate, valid, %d conns, during refetch storm", half), during},
		{"storm_unknown", fmt.Sprintf("authgate, unknown kids, %d conns (the storm)", half), unk},
	}
	for _, x := range rows {
		rw := row{Mode: "unpinned, extras", Key: x.key, Title: x.title, NoRatio: true}
		rw.fill(x.s)
		rep.Rows = append(rep.Rows, rw)
	}
	rep.StormFetches = median(fetches)
	return nil
}

// measureStreams runs the valid stream, and the storm stream next to it
// when given, and checks every answer: 200 for valid, 401 for unknown
// kids. With wrk, which only knows "not 2xx", the gateway's own counts
// must hold nothing but 200 and 401, so "not 2xx" was 401. CPU time and
// peak RSS are the gateway's over both streams.
func (r *runner) measureStreams(p *proc, vs loadSpec, us *loadSpec) ([]sample, error) {
	pid := p.pid()
	r.peakOK = resetPeak(pid) && r.peakOK
	before, err := scrape(p.admin)
	if err != nil {
		return nil, err
	}
	t0, err := cpuTicks(pid)
	if err != nil {
		return nil, err
	}
	specs := []loadSpec{vs}
	if us != nil {
		specs = append(specs, *us)
	}
	res := make([]loadResult, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Go(func() { res[i], errs[i] = r.drv.run(s, "", 1) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	t1, err := cpuTicks(pid)
	if err != nil {
		return nil, err
	}
	hwm, err := statusKiB(pid, "VmHWM")
	if err != nil {
		return nil, err
	}
	after, err := scrape(p.admin)
	if err != nil {
		return nil, err
	}
	codes := subCodes(after.codes, before.codes)
	for c := range codes {
		if c != 200 && c != 401 && c != 499 {
			return nil, fmt.Errorf("gateway answered %s", formatStatuses(codes))
		}
	}
	var total int64
	for i, want := range []int{200, 401}[:len(res)] {
		if n := res[i].Statuses[statusNon2xx]; n > 0 && !res[i].StatusExact {
			delete(res[i].Statuses, statusNon2xx)
			res[i].Statuses[401] += n
		}
		if err := checkStatuses(fmt.Sprintf("stream %d", i+1), want, res[i]); err != nil {
			return nil, err
		}
		total += res[i].Requests
	}
	out := make([]sample, len(res))
	for i := range res {
		out[i] = sample{res: res[i], cpuPerReq: float64(t1-t0) * 1e6 / clockTicks / float64(total), peakKiB: hwm}
	}
	return out, nil
}
