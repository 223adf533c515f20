// Package human formats values for people reading check, explain and demo
// output.
package human

import (
	"strings"
	"time"
)

// Duration formats d as time.Duration.String does, without its zero tails:
// 15m, 24h, 1m30s, 100ms. Callers round first when they want whole seconds.
func Duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Age formats |d| to the second without zero tails: "3m12s", "2m", "1h".
func Age(d time.Duration) string { return Duration(d.Abs().Round(time.Second)) }
