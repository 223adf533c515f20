package policy

import (
	"encoding/json"
	"strings"
	"testing"
)

// BenchmarkCheck measures one policy evaluation on the request path: the
// claims as verify decodes them (json.Number), scopes already split. Each
// case allows the request, so no error is built; "deny" measures the
// refusal, whose error text is built on every call.
func BenchmarkCheck(b *testing.B) {
	var claims map[string]any
	d := json.NewDecoder(strings.NewReader(`{"sub":"alice","tenant":"acme","level":3,` +
		`"realm_access":{"roles":["reader","writer","admin"]},"https://example.com/groups":["g1","g2"]}`))
	d.UseNumber()
	if err := d.Decode(&claims); err != nil {
		b.Fatal(err)
	}
	granted := []string{"openid", "profile", "orders:read", "orders:write"}
	for _, bc := range []struct {
		name  string
		rules Rules
	}{
		{name: "empty", rules: Rules{}},
		{name: "scopes", rules: Rules{Scopes: []string{"orders:read", "orders:write"}, AnyScopes: []string{"profile", "email"}}},
		{name: "claims", rules: Rules{Claims: map[string]any{
			"tenant": "acme", "level": 3, "/realm_access/roles": "admin", "https://example.com/groups": []any{"g0", "g2"},
		}}},
		{name: "deny", rules: Rules{Scopes: []string{"orders:delete"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p, err := New(bc.rules)
			if err != nil {
				b.Fatal(err)
			}
			wantErr := bc.name == "deny"
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Check(granted, claims); (err != nil) != wantErr {
					b.Fatalf("Check: got %v, want error %v", err, wantErr)
				}
			}
		})
	}
}
