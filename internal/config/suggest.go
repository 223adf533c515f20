package config

import "strings"

// closest returns the candidate nearest to name, for "did you mean …?", or
// "" when none is near enough to be a likely typo. It is the one rule for
// suggestions: unknown fields in a file and unknown AUTHGATE_* variables
// both use it. Case is ignored; a candidate is near enough when its edit
// distance (insertions, deletions, substitutions and swaps of neighbours,
// each counting one) is at most a third of name's length, and at least 1.
// Ties go to the earlier candidate, so callers pass them in a fixed order.
func closest(name string, candidates []string) string {
	limit := max(1, len(name)/3)
	best, bestD := "", limit+1
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(name), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b,
// in bytes: Levenshtein's, plus the swap of two neighbouring characters as
// one edit, the commonest typo ("audeince").
func editDistance(a, b string) int {
	// Three rows suffice: the swap looks two rows back.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
