package proxy

import (
	"regexp"
	"testing"
)

// TestNewRequestID: generated ids are 32 lower-case hex digits, share the
// process's prefix and never repeat.
func TestNewRequestID(t *testing.T) {
	format := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	for range 100000 {
		id := newRequestID()
		if !format.MatchString(id) {
			t.Fatalf("got %q, want 32 hex digits", id)
		}
		if id[:16] != idPrefix {
			t.Fatalf("got prefix %q, want %q", id[:16], idPrefix)
		}
		if seen[id] {
			t.Fatalf("got %q twice", id)
		}
		seen[id] = true
	}
}

// TestScrambleIsBijective: scramble's inverse undoes it, so distinct
// counters give distinct ids.
func TestScrambleIsBijective(t *testing.T) {
	for _, x := range []uint64{0, 1, 2, 1 << 63, ^uint64(0), 0x0123456789abcdef} {
		if got := unscramble(scramble(x)); got != x {
			t.Errorf("unscramble(scramble(%#x)): got %#x, want %#x", x, got, x)
		}
	}
}

// unscramble inverts scramble: each xorshift undone by repeating it, each
// multiply by the constant's inverse mod 2^64.
func unscramble(x uint64) uint64 {
	x = unshift(x, 31)
	x *= inverse(0x94d049bb133111eb)
	x = unshift(x, 27)
	x *= inverse(0xbf58476d1ce4e5b9)
	return unshift(x, 30)
}

func unshift(y uint64, s uint) uint64 {
	x := y
	for range 64 / s {
		x = y ^ x>>s
	}
	return x
}

// inverse returns the multiplicative inverse of an odd a mod 2^64 (Newton's
// iteration, each step doubling the correct low bits).
func inverse(a uint64) uint64 {
	x := a
	for range 6 {
		x *= 2 - a*x
	}
	return x
}
