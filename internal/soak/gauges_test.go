//go:build soak

package soak

import (
	"bytes"
	"encoding/json"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// gauges is one reading of the process's resources.
type gauges struct {
	goroutines int
	fds        int
	rssKiB     int // VmRSS
	hwmKiB     int // VmHWM: peak RSS since start or the last reset
}

func readGauges() gauges {
	g := gauges{goroutines: runtime.NumGoroutine(), fds: countFDs()}
	g.rssKiB, g.hwmKiB = statusKiB("VmRSS"), statusKiB("VmHWM")
	return g
}

// countFDs counts this process's open file descriptors (the directory
// handle used to list them included, in every reading alike).
func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// statusKiB reads a "Name:  1234 kB" line of /proc/self/status.
func statusKiB(name string) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return -1
}

// resetPeakRSS makes VmHWM start again from the current RSS (Linux
// clear_refs "5"), so the peak covers the soak, not the key generation
// before it. Where that is not allowed the peak covers the whole process,
// which only makes the bound stricter.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// sampler records the peak goroutine and fd counts until stopped.
type sampler struct {
	peakG, peakFD atomic.Int64
	stop          chan struct{}
	done          chan struct{}
}

func startSampler(every time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			g, fd := int64(runtime.NumGoroutine()), int64(countFDs())
			if g > s.peakG.Load() {
				s.peakG.Store(g)
			}
			if fd > s.peakFD.Load() {
				s.peakFD.Store(fd)
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *sampler) Stop() {
	close(s.stop)
	<-s.done
}

// logSink is the gateway's log writer (JSON, one record per Write). It
// counts access lines, counts every other message by text and level, keeps
// the last few for failure reports, and counts lines holding what looks
// like token material: every JWS header starts with base64url '{"', "eyJ".
type logSink struct {
	access atomic.Int64
	leaks  atomic.Int64

	mu     sync.Mutex
	msgs   map[string]int
	levels map[string]int
	tail   []string
}

func newLogSink() *logSink { return &logSink{msgs: map[string]int{}, levels: map[string]int{}} }

func (s *logSink) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("eyJ")) {
		s.leaks.Add(1)
	}
	if bytes.Contains(p, []byte(`"msg":"request"`)) {
		s.access.Add(1)
		return len(p), nil
	}
	var rec struct{ Msg, Level string }
	_ = json.Unmarshal(p, &rec)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs[rec.Msg]++
	s.levels[rec.Level]++
	if len(s.tail) == 30 {
		s.tail = s.tail[1:]
	}
	s.tail = append(s.tail, strings.TrimSpace(string(p)))
	return len(p), nil
}

func (s *logSink) count(msg string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.msgs[msg]
}

func (s *logSink) level(l string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.levels[l]
}

func (s *logSink) lastLines() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.tail, "\n")
}
