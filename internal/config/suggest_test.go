package config

import "testing"

func TestClosest(t *testing.T) {
	fields := []string{"audiences", "algorithms", "issuer", "jwks_url", "name", "tls"}
	tests := []struct {
		name, in, want string
	}{
		{"substitution and insertion", "audiance", "audiences"},
		{"swap of neighbours", "isuser", "issuer"},
		{"case ignored", "JWKS_URL", "jwks_url"},
		{"short name, one edit", "tsl", "tls"},
		{"too far", "upstream", ""},
		{"exact", "name", "name"},
		{"variable, one letter more", "AUTHGATE_AUDIENCES", "AUTHGATE_AUDIENCE"},
	}
	vars := []string{"AUTHGATE_AUDIENCE", "AUTHGATE_ALGORITHMS"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cands := fields
			if len(tt.in) > 9 && tt.in[:9] == "AUTHGATE_" {
				cands = vars
			}
			if got := closest(tt.in, cands); got != tt.want {
				t.Errorf("closest(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		name, a, b string
		want       int
	}{
		{"equal", "abc", "abc", 0},
		{"empty", "", "abc", 3},
		{"swap", "ab", "ba", 1},
		{"kitten", "kitten", "sitting", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := editDistance(tt.a, tt.b); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}
