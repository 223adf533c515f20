package demo

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestLifetime(t *testing.T) {
	exp := time.Date(2026, 12, 1, 14, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		life time.Duration
		want string
	}{
		{"valid", time.Hour, "valid for 1h, until 14:05 UTC"},
		{"expired", -5 * time.Minute, "expired 5m ago, at 14:05 UTC"},
		{"seconds", 30 * time.Second, "valid for 30s, until 14:05 UTC"},
		{"mixed", 90 * time.Minute, "valid for 1h30m, until 14:05 UTC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (demoToken{life: tc.life, exp: exp}).lifetime(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestShellWord(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/tmp/authgate-demo-123.yaml", "/tmp/authgate-demo-123.yaml"},
		{"/tmp/my dir/a.yaml", `'/tmp/my dir/a.yaml'`},
		{"/tmp/it's.yaml", `'/tmp/it'\''s.yaml'`},
	} {
		if got := shellWord(tc.in); got != tc.want {
			t.Errorf("shellWord(%q): got %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestIntro: the intro names the configuration file and prints an explain
// command per token but the admin one, and each token's lifetime.
func TestIntro(t *testing.T) {
	exp := time.Date(2026, 12, 1, 14, 5, 0, 0, time.UTC)
	var b bytes.Buffer
	printIntro(&b, "http://127.0.0.1:1", nil, "http://127.0.0.1:2", "http://127.0.0.1:3", []demoToken{
		{name: "READER", scope: "read", about: "allowed on /api", token: "r.r.r", path: "/api/x", life: time.Hour, exp: exp},
		{name: "ADMIN", scope: "read admin", about: "allowed on /admin", token: "a.a.a", path: "/admin/x", life: time.Hour, exp: exp},
	}, "/tmp/authgate-demo-1.yaml")
	out := b.String()
	for _, want := range []string{
		"  config    /tmp/authgate-demo-1.yaml   (the configuration running, removed at exit)\n",
		"# READER token (scope read), valid for 1h, until 14:05 UTC: allowed on /api\nREADER_TOKEN=r.r.r\n",
		"# ADMIN token (scope read admin), valid for 1h, until 14:05 UTC: allowed on /admin\n",
		"authgate explain -config /tmp/authgate-demo-1.yaml -route api \"$READER_TOKEN\"\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("intro lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `"$ADMIN_TOKEN"`) {
		t.Errorf("intro explains the admin token on /api:\n%s", out)
	}
}
