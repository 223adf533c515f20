//go:build !race

package proxy

// raceEnabled reports a -race build, whose instrumentation changes
// allocation counts.
const raceEnabled = false
