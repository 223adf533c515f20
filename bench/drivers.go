package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// driver runs one load stream against a URL and reports what it measured.
// cpus pins the load generator (taskset list, "" for none); threads is the
// number of load threads where the driver has a notion of it.
type driver interface {
	name() string
	run(s loadSpec, cpus string, threads int) (loadResult, error)
}

// seq numbers the scratch files drivers write, so concurrent streams never
// share one.
var seq atomic.Int64

// runTimeout bounds one load process: its duration plus a generous margin
// for start and teardown, so a hung child cannot hang the benchmark.
func runTimeout(d time.Duration) time.Duration { return d + 30*time.Second }

// goDriver runs the built-in load generator in a child process of its own,
// so it can be pinned apart from the proxy like wrk.
type goDriver struct{ dir string }

func (goDriver) name() string { return "built-in Go load generator" }

func (g goDriver) run(s loadSpec, cpus string, _ int) (loadResult, error) {
	self, err := os.Executable()
	if err != nil {
		return loadResult{}, err
	}
	args := []string{childArg, "load", "-url", s.URL, "-c", strconv.Itoa(s.Conns), "-d", s.Duration.String()}
	if len(s.Tokens) > 0 {
		p, err := writeFile(g.dir, fmt.Sprintf("tokens-%d.txt", seq.Add(1)), strings.Join(s.Tokens, "\n"))
		if err != nil {
			return loadResult{}, err
		}
		args = append(args, "-tokens", p)
	}
	out, err := runCmd(runTimeout(s.Duration), cpus, self, args...)
	if err != nil {
		return loadResult{}, err
	}
	var res loadResult
	if err := json.Unmarshal(out, &res); err != nil {
		return loadResult{}, fmt.Errorf("load child output %q: %w", out, err)
	}
	return res, nil
}

// wrkDriver runs wrk with a generated Lua script that cycles through the
// tokens and prints the figures as one JSON line from done().
type wrkDriver struct {
	dir     string
	version string
}

func (w wrkDriver) name() string { return w.version }

// wrkScript is the Lua script; %s is the list of tokens. Requests are
// formatted once in init, so request() only picks one. Latencies from wrk
// are in microseconds; summary.errors.status counts non-2xx/3xx answers.
const wrkScript = `local tokens = { %s }
local reqs, n, i = {}, 0, 0
init = function(args)
  for k, t in ipairs(tokens) do
    reqs[k] = wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. t })
  end
  n = #reqs
end
%s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCHJSON {"Requests":%%d,"Seconds":%%.6f,"Non2xx":%%d,"Errors":%%d,"P50":%%.1f,"P99":%%.1f,"P999":%%.1f,"Max":%%.1f}\n',
    summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
`

// wrkRequest cycles through the formatted requests; without tokens it is
// left out and wrk sends its static request.
const wrkRequest = `request = function()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end`

func (w wrkDriver) run(s loadSpec, cpus string, threads int) (loadResult, error) {
	quoted := make([]string, len(s.Tokens))
	for i, t := range s.Tokens {
		quoted[i] = strconv.Quote(t)
	}
	req := ""
	if len(s.Tokens) > 0 {
		req = wrkRequest
	}
	script, err := writeFile(w.dir, fmt.Sprintf("load-%d.lua", seq.Add(1)), fmt.Sprintf(wrkScript, strings.Join(quoted, ", "), req))
	if err != nil {
		return loadResult{}, err
	}
	threads = max(1, min(threads, s.Conns))
	secs := strconv.Itoa(max(1, int(s.Duration.Round(time.Second)/time.Second)))
	out, err := runCmd(runTimeout(s.Duration), cpus, "wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(s.Conns),
		"-d", secs+"s", "-s", script, s.URL)
	if err != nil {
		return loadResult{}, err
	}
	_, line, ok := bytes.Cut(out, []byte("BENCHJSON "))
	if !ok {
		return loadResult{}, fmt.Errorf("wrk printed no result:\n%s", out)
	}
	line, _, _ = bytes.Cut(line, []byte("\n"))
	var r struct {
		loadResult
		Non2xx int64
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return loadResult{}, fmt.Errorf("wrk result %q: %w", line, err)
	}
	res := r.loadResult
	res.Statuses = map[int]int64{}
	if ok := res.Requests - r.Non2xx; ok > 0 {
		res.Statuses[200] = ok // wrk only knows "2xx or 3xx"; the upstream only answers 200
	}
	if r.Non2xx > 0 {
		res.Statuses[statusNon2xx] = r.Non2xx
	}
	return res, nil
}

// runCmd runs a command (pinned when cpus is set) and returns its stdout,
// or an error carrying its stderr.
func runCmd(timeout time.Duration, cpus, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := command(ctx, cpus, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return out, nil
}

// wrkVersion returns wrk's version line, or "" when wrk is not installed.
func wrkVersion() string {
	if _, err := exec.LookPath("wrk"); err != nil {
		return ""
	}
	out, _ := exec.Command("wrk", "-v").CombinedOutput()
	v, _, _ := strings.Cut(string(out), " [")
	v = strings.TrimSpace(v)
	if v == "" {
		v = "wrk"
	}
	return v
}
