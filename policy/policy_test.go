package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/reason"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		rules   Rules
		granted []string
		wantErr bool
		detail  string // substring the error must hold when wantErr
	}{
		{name: "empty rules, no scopes", rules: Rules{}, granted: nil},
		{name: "empty rules, some scopes", rules: Rules{}, granted: []string{"x"}},
		{name: "all granted", rules: Rules{Scopes: []string{"read", "write"}}, granted: []string{"write", "read", "extra"}},
		{name: "one of all missing", rules: Rules{Scopes: []string{"read", "write"}}, granted: []string{"read"}, wantErr: true, detail: "scopes: all of [read write]: missing scope write"},
		{name: "all missing", rules: Rules{Scopes: []string{"read", "write"}}, granted: nil, wantErr: true, detail: "scopes: all of [read write]: missing scopes read write"},
		{name: "scopes are case-sensitive", rules: Rules{Scopes: []string{"Admin"}}, granted: []string{"admin"}, wantErr: true, detail: "missing scope Admin"},
		{name: "no prefix match", rules: Rules{Scopes: []string{"admin"}}, granted: []string{"admin:read"}, wantErr: true},
		{name: "any: one granted", rules: Rules{AnyScopes: []string{"a", "b"}}, granted: []string{"b"}},
		{name: "any: none granted", rules: Rules{AnyScopes: []string{"a", "b"}}, granted: []string{"c"}, wantErr: true, detail: "any_scopes: one of [a b]: none of them granted"},
		{name: "any: nothing granted", rules: Rules{AnyScopes: []string{"a"}}, granted: nil, wantErr: true},
		{name: "all and any both hold", rules: Rules{Scopes: []string{"read"}, AnyScopes: []string{"a", "b"}}, granted: []string{"read", "a"}},
		{name: "all holds, any fails", rules: Rules{Scopes: []string{"read"}, AnyScopes: []string{"a", "b"}}, granted: []string{"read"}, wantErr: true},
		{name: "any holds, all fails", rules: Rules{Scopes: []string{"read"}, AnyScopes: []string{"a"}}, granted: []string{"a"}, wantErr: true},
		{name: "duplicate rules behave as one", rules: Rules{Scopes: []string{"read", "read"}}, granted: []string{"read"}},
		{name: "duplicate granted scopes", rules: Rules{Scopes: []string{"read"}}, granted: []string{"read", "read"}},
		{name: "duplicate rules reported once", rules: Rules{Scopes: []string{"w", "w"}}, granted: nil, wantErr: true, detail: "scopes: all of [w]: missing scope w"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.rules)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			err = p.Check(tt.granted, map[string]any{"sub": "secret-subject"})
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("got %q, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil, want an error")
			}
			if !errors.Is(err, reason.ErrInsufficientScope) {
				t.Errorf("got reason %q, want %q", reason.Of(err), reason.InsufficientScope)
			}
			if got := err.Error(); !strings.Contains(got, tt.detail) {
				t.Errorf("got %q, want it to contain %q", got, tt.detail)
			}
			if strings.Contains(err.Error(), "secret-subject") {
				t.Errorf("got %q, want no claim values", err.Error())
			}
		})
	}
}

func TestNewRejectsBadScopeNames(t *testing.T) {
	tests := []struct {
		name  string
		rules Rules
		field string
	}{
		{name: "empty in scopes", rules: Rules{Scopes: []string{"read", ""}}, field: "scopes[1]"},
		{name: "space inside", rules: Rules{Scopes: []string{"read write"}}, field: "scopes[0]"},
		{name: "tab inside", rules: Rules{AnyScopes: []string{"a\tb"}}, field: "any_scopes[0]"},
		{name: "leading space", rules: Rules{AnyScopes: []string{"ok", " a"}}, field: "any_scopes[1]"},
		{name: "quote", rules: Rules{Scopes: []string{`a"b`}}, field: "scopes[0]"},
		{name: "backslash", rules: Rules{Scopes: []string{`a\b`}}, field: "scopes[0]"},
		{name: "non-ASCII", rules: Rules{Scopes: []string{"lecture·écriture"}}, field: "scopes[0]"},
		{name: "control character", rules: Rules{Scopes: []string{"a\x00"}}, field: "scopes[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.rules)
			if err == nil {
				t.Fatalf("got policy %+v, want an error", p)
			}
			if !strings.HasPrefix(err.Error(), tt.field+":") {
				t.Errorf("got %q, want it to start with %q", err.Error(), tt.field+":")
			}
		})
	}
}

func TestRequiredScopes(t *testing.T) {
	tests := []struct {
		name  string
		rules Rules
		want  []string
	}{
		{name: "none", rules: Rules{}, want: []string{}},
		{name: "scopes then any", rules: Rules{Scopes: []string{"b", "a"}, AnyScopes: []string{"c", "d"}}, want: []string{"b", "a", "c", "d"}},
		{name: "duplicates across lists", rules: Rules{Scopes: []string{"a", "a"}, AnyScopes: []string{"b", "a"}}, want: []string{"a", "b"}},
		{name: "URL-like scopes", rules: Rules{Scopes: []string{"https://api.example.com/read"}}, want: []string{"https://api.example.com/read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.rules)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := p.RequiredScopes(); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewDoesNotAliasRules(t *testing.T) {
	scopes := []string{"read"}
	p, err := New(Rules{Scopes: scopes})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	scopes[0] = "write"
	if err := p.Check([]string{"read"}, nil); err != nil {
		t.Errorf("got %q, want nil: the policy must not share the caller's slice", err)
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Mode
		wantErr bool
	}{
		{name: "required", in: "required", want: Required},
		{name: "optional", in: "optional", want: Optional},
		{name: "none", in: "none", want: None},
		{name: "empty is the default", in: "", want: Required},
		{name: "case matters", in: "Required", wantErr: true},
		{name: "unknown", in: "off", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMode(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMode(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if tt.in != "" && got.String() != tt.in {
				t.Errorf("got %q, want %q", got.String(), tt.in)
			}
		})
	}
	if got := Mode(7).String(); got != "Mode(7)" {
		t.Errorf("got %q, want %q", got, "Mode(7)")
	}
}

// TestIsScopeToken pins RFC 6749 §3.3 exactly: %x21 / %x23-5B / %x5D-7E.
func TestIsScopeToken(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c == 0x21 || c >= 0x23 && c <= 0x5b || c >= 0x5d && c <= 0x7e
		if got := IsScopeToken(string([]byte{byte(c)})); got != want {
			t.Errorf("IsScopeToken(%q): got %v, want %v", []byte{byte(c)}, got, want)
		}
	}
	for _, s := range []string{"", "read write", "é", "a\tb"} {
		if IsScopeToken(s) {
			t.Errorf("IsScopeToken(%q): got true, want false", s)
		}
	}
	if !IsScopeToken("invoices:read") {
		t.Errorf("IsScopeToken(%q): got false, want true", "invoices:read")
	}
}

// TestNewReportsEveryBadRule: New names every bad entry, not only the
// first, so that check lists them all at once.
func TestNewReportsEveryBadRule(t *testing.T) {
	_, err := New(Rules{Scopes: []string{"ok", "a b"}, AnyScopes: []string{`x"`}, Claims: map[string]any{"a": nil, "/b~2": "x"}})
	got := strings.Split(fmt.Sprint(err), "\n")
	want := []string{
		"scopes[1]: must be a scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)",
		"any_scopes[0]: must be a scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)",
		`claims["/b~2"]: claim selector "/b~2": reference token 1: "~2" is not an escape (use "~0" for "~", "~1" for "/")`,
		"claims.a: null value: a claim is never required to be null; give a string, number or boolean",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
