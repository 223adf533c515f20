//go:build unix

package gateway_test

import (
	"syscall"
	"time"
)

// processCPU is the user and system CPU time the test process has used so
// far. The benchmarks report it per request (cpu-ns/op) next to wall time,
// which on a shared machine measures the neighbours as much as the code.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
