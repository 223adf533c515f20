package field

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestPrefix(t *testing.T) {
	cause := errors.New("boom")
	tests := []struct {
		name   string
		prefix string
		err    error
		want   []string
	}{
		{name: "nil", prefix: "a", err: nil, want: nil},
		{name: "field error", prefix: "routes[2]", err: Errorf("upstream.url", "scheme must be http or https"),
			want: []string{"routes[2].upstream.url: scheme must be http or https"}},
		{name: "index path", prefix: "match", err: Errorf("[1]", "x"), want: []string{"match[1]: x"}},
		{name: "plain error", prefix: "cors", err: cause, want: []string{"cors: boom"}},
		{name: "empty prefix", prefix: "", err: Errorf("name", "x"), want: []string{"name: x"}},
		{name: "joined, nested, mixed", prefix: "issuers[0]",
			err:  errors.Join(Errorf("name", "a"), errors.Join(Errorf("jwks.timeout", "b"), cause)),
			want: []string{"issuers[0].name: a", "issuers[0].jwks.timeout: b", "issuers[0]: boom"}},
		{name: "twice", prefix: "routes[1]", err: Prefix("auth", Errorf("scopes[0]", "x")), want: []string{"routes[1].auth.scopes[0]: x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Prefix(tt.prefix, tt.err)
			var got []string
			for _, e := range All(err) {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if err != nil && err.Error() != strings.Join(tt.want, "\n") {
				t.Errorf("got text %q, want %q", err.Error(), strings.Join(tt.want, "\n"))
			}
		})
	}
	if err := Prefix("a", Errorf("b", "wrapped: %w", cause)); !errors.Is(err, cause) {
		t.Errorf("got %v, want it to wrap the cause", err)
	}
}

func TestPaths(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{Index("issuers", 0), "issuers[0]"},
		{Key("forward.headers", "X-User_Id"), "forward.headers.X-User_Id"},
		{Key("forward.headers", "X User"), `forward.headers["X User"]`},
		{Key("claims", "/realm_access/roles"), `claims["/realm_access/roles"]`},
		{Key("claims", ""), `claims[""]`},
		{Key("", "server"), "server"},
		{Join("routes[0]", "auth.mode"), "routes[0].auth.mode"},
		{Join("", "x"), "x"},
		{Join("x", ""), "x"},
		{Quote("a\"b"), `"a\"b"`},
		{Quote(strings.Repeat("x", 70)), `"` + strings.Repeat("x", 64) + `"…`},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
