package testkit

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binOut  []byte
)

// Binary builds cmd/authgate once per test process and returns its path.
// End-to-end tests run the real binary, so they are skipped with -short.
func Binary(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("end-to-end test builds the binary; skipped with -short")
	}
	binOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "authgate-test-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "authgate")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/authgate")
		cmd.Dir = root
		binOut, binErr = cmd.CombinedOutput()
	})
	if binErr != nil {
		tb.Fatalf("go build ./cmd/authgate: %v\n%s", binErr, binOut)
	}
	return binPath
}

// Process is a running authgate binary. Its stderr (JSON logs when the
// configuration says log.format json) is scanned line by line; Stdout and
// Stderr keep everything written.
type Process struct {
	Cmd    *exec.Cmd
	Stdout *LogBuffer
	Stderr *LogBuffer
	lines  chan string
	done   chan error
}

// Start runs bin with args and env added to this process's environment.
// The process is killed when the test ends.
func Start(tb testing.TB, bin string, env []string, args ...string) *Process {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	p := &Process{Cmd: cmd, Stdout: &LogBuffer{}, Stderr: &LogBuffer{}, lines: make(chan string, 4096), done: make(chan error, 1)}
	cmd.Stdout = p.Stdout
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			_, _ = p.Stderr.Write(append(sc.Bytes(), '\n'))
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
	}()
	go func() {
		<-scanned // Wait closes the pipe: read it all first
		p.done <- cmd.Wait()
	}()
	tb.Cleanup(func() { _ = cmd.Process.Kill() })
	return p
}

// WaitLog returns the first JSON log line whose msg is msg that has not
// been consumed by an earlier WaitLog, failing after 20 seconds or when the
// process exits first.
func (p *Process) WaitLog(tb testing.TB, msg string) map[string]any {
	tb.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				tb.Fatalf("process exited before logging %q; stderr:\n%s", msg, p.Stderr)
			}
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
				return m
			}
		case <-deadline:
			tb.Fatalf("no log line %q within 20s; stderr:\n%s", msg, p.Stderr)
		}
	}
}

// Listening waits for the start line and returns the gateway's base URL
// ("http://127.0.0.1:port") and the admin listener's host:port.
func (p *Process) Listening(tb testing.TB) (gw, admin string) {
	tb.Helper()
	m := p.WaitLog(tb, "authgate listening")
	gw, _ = m["listen"].(string)
	admin, _ = m["admin"].(string)
	return "http://" + gw, admin
}

// Wait waits up to 30 seconds for the process to exit and returns its exit
// code.
func (p *Process) Wait(tb testing.TB) int {
	tb.Helper()
	select {
	case <-p.done:
		return p.Cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		tb.Fatal("process did not exit within 30s")
		return -1
	}
}

// WaitReady polls http://admin/readyz until it answers 200, failing after
// 20 seconds.
func WaitReady(tb testing.TB, admin string) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("gateway at %s not ready within 20s", admin)
}
