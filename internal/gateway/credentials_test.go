package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/metrics"
)

// credentialConfig is a configuration with one client_credentials
// credential reading its secret from file, used by a route.
func credentialConfig(t *testing.T, tokenURL, file, scope string) *config.Config {
	t.Helper()
	src := fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "" }
credentials:
  - name: billing
    client_credentials:
      token_url: %s
      client_id: gw
      client_secret_file: %s
      auth_method: client_secret_post
      scopes: [%s]
routes:
  - { name: api, match: { path_prefix: / }, upstream: { url: "http://127.0.0.1:1", credentials: billing }, auth: { mode: none } }
`, tokenURL, file, scope)
	cfg, err := config.Parse("test.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestBuildRereadsCredentialSecret: every Build reads the secret file, so
// a reload after the secret was rotated in place builds a new token source
// that sends the new secret; a reload with nothing changed keeps the
// source (and its cached token); a changed setting builds a new one.
func TestBuildRereadsCredentialSecret(t *testing.T) {
	var mu sync.Mutex
	var secrets []string
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		secrets = append(secrets, r.PostForm.Get("client_secret"))
		n := len(secrets)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":3600}`, n)
	}))
	defer idp.Close()
	file := filepath.Join(t.TempDir(), "billing")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	build := func(prev *Runtime, scope string) *Runtime {
		t.Helper()
		rt, err := Build(credentialConfig(t, idp.URL, file, scope), prev, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	token := func(rt *Runtime) string {
		t.Helper()
		tok, err := rt.credentials["billing"].Token(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	write("first-secret")
	rt1 := build(nil, "a")
	if got := token(rt1); got != "tok-1" {
		t.Fatalf("got %q, want tok-1", got)
	}
	if n := len(rt1.jobs); n != 1 {
		t.Errorf("got %d jobs, want 1 (the credential refresh)", n)
	}

	rt2 := build(rt1, "a")
	if rt2.credentials["billing"] != rt1.credentials["billing"] {
		t.Error("unchanged reload built a new token source, want the running one kept")
	}

	write("second-secret")
	rt3 := build(rt2, "a")
	if rt3.credentials["billing"] == rt2.credentials["billing"] {
		t.Fatal("reload after the secret changed kept the old token source")
	}
	if got := token(rt3); got != "tok-2" {
		t.Fatalf("got %q, want tok-2", got)
	}

	rt4 := build(rt3, "b")
	if rt4.credentials["billing"] == rt3.credentials["billing"] {
		t.Error("reload with other scopes kept the old token source")
	}

	mu.Lock()
	defer mu.Unlock()
	if got, want := strings.Join(secrets, ","), "first-secret,second-secret"; got != want {
		t.Errorf("secrets sent: got %q, want %q", got, want)
	}
}

// TestBuildCredentialErrorsCarryLines: a secret that cannot be read is
// reported at the credential's line, naming the file and not any content.
func TestBuildCredentialErrorsCarryLines(t *testing.T) {
	file := filepath.Join(t.TempDir(), "missing")
	_, err := Build(credentialConfig(t, "https://idp.example.com/token", file, "a"), nil, Deps{})
	if err == nil {
		t.Fatal("Build succeeded, want an error")
	}
	if want := "test.yaml:8: credentials[0].client_credentials.client_secret_file: client secret unavailable: open " + file; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %q, want it to start with %q", err, want)
	}
}

// TestCredentialMetrics: a credential's fetches and its token's expiry
// reach the process's metrics under its name.
func TestCredentialMetrics(t *testing.T) {
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"tok","token_type":"Bearer","expires_in":3600}`)
	}))
	defer idp.Close()
	file := filepath.Join(t.TempDir(), "billing")
	if err := os.WriteFile(file, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := metrics.New("test")
	now := time.Unix(1_700_000_000, 0)
	rt, err := Build(credentialConfig(t, idp.URL, file, "a"), nil, Deps{Metrics: m, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.credentials["billing"].Token(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, s := range f.GetMetric() {
			labels := ""
			for _, l := range s.GetLabel() {
				labels += l.GetName() + "=" + l.GetValue() + ","
			}
			switch f.GetName() {
			case "authgate_credential_fetches_total":
				got[f.GetName()+"{"+labels+"}"] = s.GetCounter().GetValue()
			case "authgate_credential_expiry_timestamp_seconds":
				got[f.GetName()+"{"+labels+"}"] = s.GetGauge().GetValue()
			}
		}
	}
	want := map[string]float64{
		"authgate_credential_fetches_total{credential=billing,result=success,}": 1,
		"authgate_credential_expiry_timestamp_seconds{credential=billing,}":     float64(now.Add(time.Hour).Unix()),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}
