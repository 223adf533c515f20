package policy

import (
	"strings"
	"testing"
)

func TestMissingScopes(t *testing.T) {
	p, err := New(Rules{Scopes: []string{"read", "write"}, AnyScopes: []string{"a", "b", "read"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		granted []string
		want    string
	}{
		{"all granted", []string{"read", "write", "a"}, ""},
		{"one of all missing", []string{"read", "a"}, "write"},
		{"none of any", []string{"write"}, "read a b"},
		{"nothing granted", nil, "read write a b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(p.MissingScopes(tc.granted), " "); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestScopeHint(t *testing.T) {
	std := []string{"scope", "scp"}
	for _, tc := range []struct {
		name        string
		payload     string
		missing     []string
		scopeClaims []string
		want        string
	}{
		{
			name:    "kinde permissions",
			payload: `{"scope": "openid profile", "permissions": ["read:orders", "create:orders"], "sub": "kp_1"}`,
			missing: []string{"read:orders"}, scopeClaims: std,
			want: `scopes read from scope, scp (scope: "openid profile"); permissions holds read:orders: set scope_claims: [permissions]`,
		},
		{
			name:    "kinde token as issued",
			payload: kindeToken, missing: []string{"read:orders", "create:orders"}, scopeClaims: std,
			want: `scopes read from scope, scp (scp: ["openid","profile","email","offline"]); permissions holds read:orders create:orders: set scope_claims: [permissions]`,
		},
		{
			name:    "no scope claim present, held in a string",
			payload: `{"perms": "a b write"}`, missing: []string{"write"}, scopeClaims: std,
			want: `scopes read from scope, scp (none of them present); perms holds write: set scope_claims: [perms]`,
		},
		{
			name:    "held nowhere",
			payload: `{"scope": "read"}`, missing: []string{"write"}, scopeClaims: std,
			want: `scopes read from scope, scp (scope: "read")`,
		},
		{
			name:    "objects and numbers hold nothing",
			payload: `{"roles": [{"key": "write"}], "n": 7, "nested": [["write"]]}`, missing: []string{"write"}, scopeClaims: []string{"permissions"},
			want: `scopes read from permissions (none of them present)`,
		},
		{
			name:    "odd claim name is quoted",
			payload: `{"https://example.com/perms\u001b": ["write"]}`, missing: []string{"write"}, scopeClaims: std,
			want: `scopes read from scope, scp (none of them present); "https://example.com/perms\x1b" holds write: set scope_claims: ["https://example.com/perms\x1b"]`,
		},
		{
			name:    "long value is cut",
			payload: `{"scope": "` + strings.Repeat("x", 100) + `"}`, missing: []string{"write"}, scopeClaims: std,
			want: `scopes read from scope, scp (scope: "` + strings.Repeat("x", 63) + `…)`,
		},
		{
			name:    "several holders, sorted, at most three",
			payload: `{"d": "w", "c": ["w"], "b": "w", "a": "w"}`, missing: []string{"w"}, scopeClaims: std,
			want: `scopes read from scope, scp (none of them present); a holds w; b holds w; c holds w: set scope_claims: [a, b, c]`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ScopeHint(tc.missing, payload(t, tc.payload), tc.scopeClaims); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestScopeHintBounded: a token with many claims and long arrays costs
// bounded work and output.
func TestScopeHintBounded(t *testing.T) {
	c := map[string]any{}
	long := make([]any, 10000)
	for i := range long {
		long[i] = "x"
	}
	long[len(long)-1] = "write" // past maxHintElements: not found
	c["big"] = long
	for i := range 1000 {
		c[strings.Repeat("k", i%50)+string(rune('a'+i%26))] = "write"
	}
	got := ScopeHint([]string{"write"}, c, []string{"scope"})
	if strings.Count(got, " holds ") > maxHintHolders || len(got) > 1024 || strings.Contains(got, "big holds") {
		t.Errorf("unbounded hint: %q", got)
	}
}
