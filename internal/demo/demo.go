package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/human"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/gateway"
)

// configTemplate is the demo's configuration. It goes through the same
// parser, validation and discovery/JWKS code as a production file.
const configTemplate = `
server:
  listen: %q
  admin_listen: %q
issuers:
  - name: demo
    issuer: %q                 # jwks_url empty: discovered like a real provider
    audiences: [demo-api]
routes:
  - name: public
    match: { path_prefix: /public }
    upstream: { url: %q }
    auth: { mode: none }
  - name: api
    match: { path_prefix: /api }
    upstream: { url: %q }
    auth: { mode: required, audiences: [demo-api] }
    forward:
      headers: { X-User-Id: sub, X-User-Email: email, X-User-Scopes: scope }
      claims_header: X-Auth-Claims
  - name: admin
    match: { path_prefix: /admin }
    upstream: { url: %q }
    auth: { mode: required, scopes: [admin] }
    forward:
      headers: { X-User-Id: sub, X-User-Scopes: scope }
      authorization: strip
`

// Options configure Run.
type Options struct {
	Listen      string // gateway address, default 127.0.0.1:8080
	AdminListen string // admin address, default 127.0.0.1:9090
	Out         io.Writer
	Logger      *slog.Logger
	LogLevel    *slog.LevelVar
	// Ready, if set, is called once the gateway listens.
	Ready func(listen, admin net.Addr)
	// ConfigDir is where the running configuration is written for
	// `authgate explain`; "" is the system's temporary directory.
	ConfigDir string
}

// Run starts the issuer, the echo upstream and the gateway, prints tokens and
// curl commands to o.Out, and serves until ctx ends or a signal arrives.
func Run(ctx context.Context, o Options) error {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8080"
	}
	if o.AdminListen == "" {
		o.AdminListen = "127.0.0.1:9090"
	}
	is, err := NewIssuer("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo issuer: %w", err)
	}
	defer is.Close()
	up, err := NewEcho("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo upstream: %w", err)
	}
	defer up.Close()

	yaml := fmt.Sprintf(configTemplate, o.Listen, o.AdminListen, is.URL, up.URL, up.URL, up.URL)
	cfg, err := config.Parse("demo.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}
	tokens, err := demoTokens(is)
	if err != nil {
		return err
	}

	// The configuration the demo runs, with the ports it got, goes to a
	// file for `authgate explain -config`; removed when the demo ends.
	f, err := os.CreateTemp(o.ConfigDir, "authgate-demo-*.yaml")
	if err != nil {
		return fmt.Errorf("demo configuration file: %w", err)
	}
	cfgFile := f.Name()
	_ = f.Close()
	defer os.Remove(cfgFile)

	err = gateway.Serve(ctx, gateway.Options{
		Config:   cfg,
		Logger:   o.Logger,
		LogLevel: o.LogLevel,
		Ready: func(listen, admin net.Addr) {
			adminAddr := ""
			if admin != nil {
				adminAddr = admin.String()
			}
			running := fmt.Sprintf(configTemplate, listen.String(), adminAddr, is.URL, up.URL, up.URL, up.URL)
			if err := os.WriteFile(cfgFile, []byte(running), 0o600); err != nil {
				cfgFile = "" // the intro then leaves the explain commands out
			}
			printIntro(o.Out, "http://"+listen.String(), admin, is.URL, up.URL, tokens, cfgFile)
			if o.Ready != nil {
				o.Ready(listen, admin)
			}
		},
	})
	// The demo's addresses come from its flags, not from a file.
	if le := (*gateway.ListenError)(nil); errors.As(err, &le) {
		le.Setting = "-listen"
		if le.Admin {
			le.Setting = "-admin-listen"
		}
	}
	return err
}

// demoToken is a token the intro prints: its name, scopes, what it is
// for, the token, the path its curl command asks for, and when it expires.
type demoToken struct {
	name, scope, about, token, path string
	life                            time.Duration
	exp                             time.Time
}

func demoTokens(is *Issuer) ([]demoToken, error) {
	specs := []struct {
		name, about, path string
		claims            map[string]any
		life              time.Duration
	}{
		{"READER", "allowed on /api, refused (403) on /admin", "/api/orders?limit=5",
			map[string]any{"sub": "user-reader", "email": "reader@example.com", "aud": "demo-api", "scope": "read"}, time.Hour},
		{"ADMIN", "allowed on /api and /admin", "/admin/settings",
			map[string]any{"sub": "user-admin", "email": "admin@example.com", "aud": "demo-api", "scope": "read admin"}, time.Hour},
		{"EXPIRED", "refused (401) everywhere", "/api/orders",
			map[string]any{"sub": "user-reader", "aud": "demo-api", "scope": "read"}, -5 * time.Minute},
	}
	out := make([]demoToken, 0, len(specs))
	for _, s := range specs {
		now := time.Now()
		t, err := is.Token(s.claims, s.life)
		if err != nil {
			return nil, err
		}
		scope, _ := s.claims["scope"].(string)
		out = append(out, demoToken{name: s.name, scope: scope, about: s.about, token: t, path: s.path, life: s.life, exp: now.Add(s.life)})
	}
	return out, nil
}

// lifetime says how long a token is valid, or since when it is not:
// "valid for 1h, until 14:05 UTC", "expired 5m ago, at 13:00 UTC".
func (t demoToken) lifetime() string {
	at := t.exp.UTC().Format("15:04 UTC")
	if t.life < 0 {
		return "expired " + human.Duration(-t.life) + " ago, at " + at
	}
	return "valid for " + human.Duration(t.life) + ", until " + at
}

func printIntro(w io.Writer, gw string, admin net.Addr, issuer, upstream string, tokens []demoToken, cfgFile string) {
	fmt.Fprintf(w, "\nauthgate demo is running.\n\n")
	fmt.Fprintf(w, "  gateway   %s   routes: /public (no auth), /api (audience demo-api), /admin (scope admin)\n", gw)
	if admin != nil {
		fmt.Fprintf(w, "  admin     http://%s   /healthz /readyz\n", admin)
	}
	fmt.Fprintf(w, "  issuer    %s   (discovery + JWKS, ES256 key made at start)\n", issuer)
	fmt.Fprintf(w, "  upstream  %s   (echoes the request it receives)\n", upstream)
	if cfgFile != "" {
		fmt.Fprintf(w, "  config    %s   (the configuration running, removed at exit)\n", cfgFile)
	}
	fmt.Fprintf(w, "\nTry:\n\n  curl -i %s/public/hello\n  curl -i %s/api/orders        # no token: 401\n\n", gw, gw)
	for _, t := range tokens {
		fmt.Fprintf(w, "# %s token (scope %s), %s: %s\n%s_TOKEN=%s\n", t.name, t.scope, t.lifetime(), t.about, t.name, t.token)
		fmt.Fprintf(w, "curl -i -H \"Authorization: Bearer $%s_TOKEN\" '%s%s'\n\n", t.name, gw, t.path)
	}
	if cfgFile != "" {
		fmt.Fprintf(w, "Ask why a token passes or not, step by step, while the demo runs:\n\n")
		for _, t := range tokens {
			if t.name == "ADMIN" {
				continue
			}
			fmt.Fprintf(w, "authgate explain -config %s -route api \"$%s_TOKEN\"\n", shellWord(cfgFile), t.name)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Press Ctrl-C to stop.\n\n")
}

// shellWord quotes s for a POSIX shell when it holds anything but plain
// path characters.
func shellWord(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:@%", r)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}
