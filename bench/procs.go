package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports; reading it needs sysconf,
// which would need cgo.
const clockTicks = 100

// proc is a child process the bench started: an upstream, a bare proxy or
// an authgate binary. Only these processes are ever signalled, by their pid.
type proc struct {
	name  string
	cmd   *exec.Cmd
	addr  string // host:port it serves on
	admin string // authgate only: the admin listener's host:port
	log   string // authgate only: the file its stderr (logs) goes to
	done  chan struct{}
}

// pid is the process id of the measured program: taskset execs it in place,
// so it is the pid of the command started.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// command builds a command, prefixed with taskset when cpus is set. The
// child gets SIGTERM if the bench dies first, so no process outlives a
// killed run (taskset execs the program, which keeps the setting).
func command(ctx context.Context, cpus string, name string, args ...string) *exec.Cmd {
	if cpus != "" {
		name, args = "taskset", append([]string{"-c", cpus, name}, args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	return cmd
}

// startSelf re-executes the bench binary as a child of role (upstream or
// proxy), which prints "LISTEN host:port" first thing on stdout. Its own
// process keeps its CPU apart from the process measured.
func startSelf(cpus, role string, args ...string) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := command(context.Background(), cpus, self, append([]string{childArg, role}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", role, err)
	}
	p := &proc{name: role, cmd: cmd, done: make(chan struct{})}
	br := bufio.NewReader(out)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "LISTEN ") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("%s did not report its address (%q): %v", role, line, err)
	}
	p.addr = strings.TrimSpace(strings.TrimPrefix(line, "LISTEN "))
	go func() {
		_, _ = io.Copy(io.Discard, br)
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// startAuthgate runs `authgate serve -config cfg` with its stderr, where the
// JSON logs (access lines included) go, written to logPath, and waits until
// it listens and /readyz answers 200.
func startAuthgate(cpus, bin, name, cfg, logPath string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	cmd := command(context.Background(), cpus, bin, "serve", "-config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start authgate: %w", err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	fail := func(err error) (*proc, error) {
		p.stop()
		return nil, fmt.Errorf("authgate %s: %w; log:\n%s", name, err, tail(logPath, 2000))
	}
	deadline := time.Now().Add(20 * time.Second)
	for p.addr == "" {
		select {
		case <-p.done:
			return fail(errors.New("exited before listening"))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fail(errors.New("no \"authgate listening\" line within 20s"))
		}
		p.addr, p.admin = listeningLine(logPath)
	}
	for {
		resp, err := http.Get("http://" + p.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			return fail(errors.New("not ready within 20s"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listeningLine finds the gateway's start line in its JSON log and returns
// the main and admin addresses, or "" while it is not there yet.
func listeningLine(path string) (addr, admin string) {
	b, _ := os.ReadFile(path)
	for line := range bytes.Lines(b) {
		var m struct{ Msg, Listen, Admin string }
		if json.Unmarshal(line, &m) == nil && m.Msg == "authgate listening" {
			return m.Listen, m.Admin
		}
	}
	return "", ""
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// stop sends SIGTERM, then SIGKILL after 5 seconds, and waits for the exit.
func (p *proc) stop() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// cpuTicks is utime+stime of the whole process (every thread), in clock
// ticks, from /proc/PID/stat (fields 14 and 15, proc(5)).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it start at
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return u + s, nil
}

// statusKiB reads a "Vm…:" line (VmRSS, VmHWM) of /proc/PID/status in KiB.
func statusKiB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// resetPeak resets VmHWM to the current RSS (writing 5 to clear_refs,
// proc(5)), so each scenario's peak is its own. It reports whether the
// kernel allowed it; if not, peaks accumulate from process start.
func resetPeak(pid int) bool {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
}

// writeFile writes a file into dir and returns its path.
func writeFile(dir, name, content string) (string, error) {
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, []byte(content), 0o600)
}
