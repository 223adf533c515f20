package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/reason"
)

// payload decodes a token payload the way internal/verify does: numbers as
// json.Number, so integers keep their exact digits.
func payload(t *testing.T, js string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(js)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("payload %s: %v", js, err)
	}
	return m
}

// claimsPayload exercises every JSON type and the awkward claim names.
const claimsPayload = `{
  "str": "admin", "yes": true, "no": false, "yes_str": "true",
  "one": 1, "one_str": "1", "onefive": 1.5, "big": 9007199254740993, "nul": null,
  "list": ["a", "b", 1, true], "empty": [], "objs": [{"k": "a"}], "nested": [["a"]],
  "obj": {"k": "a"},
  "https://example.com/roles": ["editor"],
  "https:": {"": {"example.com": {"roles": ["pointer-only"]}}},
  "a/b": "slash", "m~n": "tilde"
}`

func TestClaimRules(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		want   any
		ok     bool
		detail string // when !ok
	}{
		{name: "string equals", key: "str", want: "admin", ok: true},
		{name: "string differs", key: "str", want: "Admin", detail: detailMismatch},
		{name: "bool true", key: "yes", want: true, ok: true},
		{name: "bool false", key: "no", want: false, ok: true},
		{name: "true is not the string true", key: "yes_str", want: true, detail: detailMismatch + `: the token holds the string "true", the rule wants the boolean true`},
		{name: "the string true is not true", key: "yes", want: "true", detail: detailMismatch + `: the token holds the boolean true, the rule wants the string "true"`},
		{name: "number is not a string", key: "one_str", want: 1, detail: detailMismatch + `: the token holds the string "1", the rule wants the number 1`},
		{name: "string is not a number", key: "one", want: "1", detail: detailMismatch + `: the token holds the number 1, the rule wants the string "1"`},
		{name: "int equals 1", key: "one", want: 1, ok: true},
		{name: "1.0 equals 1", key: "one", want: 1.0, ok: true},
		{name: "json.Number 1e0 equals 1", key: "one", want: json.Number("1e0"), ok: true},
		{name: "float equals 1.5", key: "onefive", want: 1.5, ok: true},
		{name: "big integer exact", key: "big", want: json.Number("9007199254740993"), ok: true},
		{name: "big integer neighbour differs", key: "big", want: json.Number("9007199254740992"), detail: detailMismatch},
		{name: "int64 neighbour differs", key: "big", want: int64(9007199254740992), detail: detailMismatch},
		{name: "missing claim", key: "absent", want: "x", detail: detailAbsent},
		{name: "null claim never matches", key: "nul", want: "null", detail: detailMismatch},
		{name: "array contains scalar", key: "list", want: "b", ok: true},
		{name: "array contains number", key: "list", want: 1, ok: true},
		{name: "array contains bool", key: "list", want: true, ok: true},
		{name: "array lacks scalar", key: "list", want: "c", detail: detailMismatch},
		{name: "array holds the number, not the string", key: "list", want: "1", detail: detailMismatch + `: the token holds the number 1, the rule wants the string "1"`},
		{name: "array and list share one", key: "list", want: []any{"x", "a"}, ok: true},
		{name: "array and list share none", key: "list", want: []any{"x", "y"}, detail: detailMismatch},
		{name: "scalar claim in list", key: "str", want: []any{"root", "admin"}, ok: true},
		{name: "scalar claim not in list", key: "str", want: []any{"root"}, detail: detailMismatch},
		{name: "[]string list", key: "str", want: []string{"root", "admin"}, ok: true},
		{name: "empty array matches nothing", key: "empty", want: "a", detail: detailMismatch},
		{name: "objects in array never match", key: "objs", want: "a", detail: detailMismatch},
		{name: "nested arrays never match", key: "nested", want: "a", detail: detailMismatch},
		{name: "object claim never matches", key: "obj", want: "a", detail: detailMismatch},
		{name: "pointer into object", key: "/obj/k", want: "a", ok: true},
		{name: "pointer with array index", key: "/objs/0/k", want: "a", ok: true},
		{name: "pointer index out of range", key: "/objs/1/k", want: "a", detail: detailAbsent},
		{name: "pointer to array element", key: "/list/1", want: "b", ok: true},
		{name: "pointer through a scalar", key: "/str/x", want: "a", detail: detailAbsent},
		{name: "dotted name is a top-level claim", key: "https://example.com/roles", want: "editor", ok: true},
		{name: "the same text as a pointer", key: "/https:~1~1example.com~1roles", want: "editor", ok: true},
		{name: "a pointer without escapes walks objects", key: "/https://example.com/roles", want: "pointer-only", ok: true},
		{name: "~1 is a slash", key: "/a~1b", want: "slash", ok: true},
		{name: "~0 is a tilde", key: "/m~0n", want: "tilde", ok: true},
		{name: "top-level name with a slash", key: "a/b", want: "slash", ok: true},
		{name: "top-level name with a tilde", key: "m~n", want: "tilde", ok: true},
	}
	claims := payload(t, claimsPayload)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(Rules{Claims: map[string]any{tt.key: tt.want}})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			err = p.Check(nil, claims)
			if tt.ok {
				if err != nil {
					t.Errorf("got %q, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("got nil, want an error")
			}
			if !errors.Is(err, reason.ErrClaimMismatch) {
				t.Errorf("got reason %q, want %q", reason.Of(err), reason.ClaimMismatch)
			}
			if got := err.Error(); !strings.HasSuffix(got, ": "+tt.detail) || !strings.Contains(got, `claims[`+quote(tt.key)+`]`) {
				t.Errorf("got %q, want the key %q and the detail %q", got, tt.key, tt.detail)
			}
		})
	}
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestNewRejectsBadClaimRules(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want any
		msg  string
	}{
		{name: "empty key", key: "", want: "x", msg: `claims[""]: claim selector is empty`},
		{name: "bad escape", key: "/a~2", want: "x", msg: `claims["/a~2"]: claim selector "/a~2": reference token 1: "~2" is not an escape`},
		{name: "tilde at the end", key: "/a~", want: "x", msg: `"~" at the end`},
		{name: "null", key: "org", want: nil, msg: `claims.org: null value`},
		{name: "empty list", key: "roles", want: []any{}, msg: `claims.roles: empty list: list at least one value`},
		{name: "empty string list", key: "roles", want: []string{}, msg: "empty list"},
		{name: "object", key: "realm_access", want: map[string]any{"roles": "a"}, msg: `claims.realm_access: an object is not allowed`},
		{name: "list with null", key: "roles", want: []any{"a", nil}, msg: `claims.roles: list item 1: null value`},
		{name: "list with list", key: "roles", want: []any{[]any{"a"}}, msg: "list item 0: must be a string, number or boolean, got a list"},
		{name: "list with object", key: "roles", want: []any{map[string]any{}}, msg: "list item 0: must be a string, number or boolean, got an object"},
		{name: "NaN", key: "n", want: nanValue(), msg: "has no JSON form"},
		{name: "not a number", key: "n", want: json.Number("twelve"), msg: `"twelve" is not a number`},
		{name: "other type", key: "n", want: struct{}{}, msg: "got a value of type struct {}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(Rules{Claims: map[string]any{"fine": "x", tt.key: tt.want}})
			if err == nil {
				t.Fatalf("got policy %+v, want an error", p)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %q, want it to contain %q", err.Error(), tt.msg)
			}
			if _, cerr := CompileClaim(tt.key, tt.want); cerr == nil || !strings.Contains(err.Error(), cerr.Error()) {
				t.Errorf("CompileClaim: got %v, want the error New reports (%q)", cerr, err)
			}
		})
	}
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

func TestCompileClaimCondition(t *testing.T) {
	tests := []struct {
		name string
		want any
		cond string
	}{
		{name: "string", want: "org_123", cond: `"org_123"`},
		{name: "bool", want: true, cond: "true"},
		{name: "integer float", want: 1.0, cond: "1"},
		{name: "big json.Number", want: json.Number("12345678901234567890123"), cond: "12345678901234567890123"},
		{name: "list", want: []any{"admin", "support", "admin"}, cond: `one of ["admin" "support"]`},
		{name: "list of one", want: []any{"admin"}, cond: `one of ["admin"]`},
		{name: "mixed list", want: []any{"1", 1, true}, cond: `one of ["1" 1 true]`},
		{name: "quotes escaped", want: `a"b`, cond: `"a\"b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CompileClaim("k", tt.want)
			if err != nil {
				t.Fatalf("CompileClaim: %v", err)
			}
			if got != tt.cond {
				t.Errorf("got %q, want %q", got, tt.cond)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	p, err := New(Rules{
		Scopes:    []string{"read", "write"},
		AnyScopes: []string{"a", "b"},
		Claims: map[string]any{
			"org_code":            "org_123",
			"/realm_access/roles": []any{"admin"},
			"email_verified":      true,
			"tier":                "secret-tier",
		},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	claims := payload(t, `{"org_code": "org_999", "realm_access": {"roles": ["admin"]}, "email_verified": true, "sub": "alice"}`)
	got := p.Explain([]string{"read", "b"}, claims)
	want := []Result{
		{Requirement: "scopes: all of [read write]", Reason: reason.InsufficientScope, Detail: "missing scope write"},
		{Requirement: "any_scopes: one of [a b]", Reason: reason.InsufficientScope, OK: true},
		{Requirement: `claims["/realm_access/roles"]: one of ["admin"]`, Reason: reason.ClaimMismatch, OK: true},
		{Requirement: `claims["email_verified"]: true`, Reason: reason.ClaimMismatch, OK: true},
		{Requirement: `claims["org_code"]: "org_123"`, Reason: reason.ClaimMismatch, Detail: detailMismatch},
		{Requirement: `claims["tier"]: "secret-tier"`, Reason: reason.ClaimMismatch, Detail: detailAbsent},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d results %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("result %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	// Check reports the first failing Result, wrapping its reason.
	err = p.Check([]string{"read", "b"}, claims)
	if !errors.Is(err, reason.ErrInsufficientScope) || !strings.Contains(err.Error(), "scopes: all of [read write]: missing scope write") {
		t.Errorf("got %q, want the scope failure first", err)
	}
	err = p.Check([]string{"read", "write", "a"}, claims)
	if !errors.Is(err, reason.ErrClaimMismatch) || !strings.Contains(err.Error(), `claims["org_code"]: "org_123": claim value does not match`) {
		t.Errorf("got %q, want the org_code failure", err)
	}
	if strings.Contains(err.Error(), "org_999") {
		t.Errorf("got %q, want no claim values from the token", err)
	}
}

// TestCheckAgreesWithExplain: Check fails exactly when some Result of
// Explain is not OK, and then with that Result's requirement.
func TestCheckAgreesWithExplain(t *testing.T) {
	p, err := New(Rules{Scopes: []string{"r"}, Claims: map[string]any{"a": 1, "b": []any{"x", "y"}}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, tc := range []struct {
		name   string
		scopes []string
		js     string
	}{
		{name: "all hold", scopes: []string{"r"}, js: `{"a": 1.0, "b": ["y"]}`},
		{name: "scope missing", js: `{"a": 1, "b": "x"}`},
		{name: "a wrong type", scopes: []string{"r"}, js: `{"a": "1", "b": "x"}`},
		{name: "b absent", scopes: []string{"r"}, js: `{"a": 1}`},
		{name: "nothing", js: `{}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := p.Explain(tc.scopes, payload(t, tc.js))
			err := p.Check(tc.scopes, payload(t, tc.js))
			var firstFail *Result
			for i := range res {
				if !res[i].OK {
					firstFail = &res[i]
					break
				}
			}
			switch {
			case firstFail == nil && err != nil:
				t.Errorf("got %q, want nil: every result is OK", err)
			case firstFail != nil && err == nil:
				t.Errorf("got nil, want the failure of %q", firstFail.Requirement)
			case firstFail != nil && !strings.HasSuffix(err.Error(), firstFail.Requirement+": "+firstFail.Detail):
				t.Errorf("got %q, want it to end with %q", err, firstFail.Requirement+": "+firstFail.Detail)
			}
		})
	}
}

func TestNewDoesNotAliasClaimLists(t *testing.T) {
	list := []any{"admin"}
	p, err := New(Rules{Claims: map[string]any{"role": list}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	list[0] = "guest"
	if err := p.Check(nil, map[string]any{"role": "admin"}); err != nil {
		t.Errorf("got %q, want nil: the policy must not share the caller's list", err)
	}
}

func BenchmarkCheckClaims(b *testing.B) {
	p, err := New(Rules{Scopes: []string{"read"}, Claims: map[string]any{
		"/realm_access/roles": []any{"admin", "ops"},
		"org_code":            "org_123",
		"tier":                1,
	}})
	if err != nil {
		b.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(`{"realm_access": {"roles": ["offline_access", "uma_authorization", "ops"]}, "org_code": "org_123", "tier": 1}`))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		b.Fatal(err)
	}
	scopes := []string{"openid", "read"}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Check(scopes, claims); err != nil {
			b.Fatal(err)
		}
	}
}
