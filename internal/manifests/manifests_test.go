package manifests

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/authgate/authgate/internal/config"
)

// root is the repository root, from this package's directory.
const root = "../.."

func read(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decode reads the YAML documents of rel into generic values.
func decode(t *testing.T, rel string) []map[string]any {
	t.Helper()
	var docs []map[string]any
	d := yaml.NewDecoder(bytes.NewReader(read(t, rel)))
	for {
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return docs
			}
			t.Fatalf("%s: %v", rel, err)
		}
		docs = append(docs, m)
	}
}

// at walks v along keys (string for maps, int for lists); nil when absent.
func at(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// readEnvFile parses deploy/kubernetes/authgate.env: NAME=value lines,
// blank lines and # comments, in order.
func readEnvFile(t *testing.T) [][2]string {
	t.Helper()
	var out [][2]string
	sc := bufio.NewScanner(bytes.NewReader(read(t, "deploy/kubernetes/authgate.env")))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok || !regexp.MustCompile(`^AUTHGATE_[A-Z_]+$`).MatchString(name) {
			t.Fatalf("authgate.env:%d: got %q, want AUTHGATE_NAME=value", n, line)
		}
		out = append(out, [2]string{name, value})
	}
	return out
}

// sidecar returns the Deployment's pod spec and its authgate container.
func sidecar(t *testing.T) (pod, container map[string]any) {
	t.Helper()
	for _, doc := range decode(t, "deploy/kubernetes/deployment.yaml") {
		if doc["kind"] != "Deployment" {
			continue
		}
		pod, _ = at(doc, "spec", "template", "spec").(map[string]any)
		cs, _ := pod["containers"].([]any)
		for _, c := range cs {
			if m, _ := c.(map[string]any); m["name"] == "authgate" {
				return pod, m
			}
		}
	}
	t.Fatal("deployment.yaml: no Deployment with an authgate container")
	return nil, nil
}

// TestSidecarEnvMatchesFile: the env file .ci/configs checks is the
// environment the manifest sets, name for name and value for value.
func TestSidecarEnvMatchesFile(t *testing.T) {
	_, c := sidecar(t)
	var manifest [][2]string
	for _, e := range c["env"].([]any) {
		m := e.(map[string]any)
		if _, ok := m["value"].(string); !ok {
			t.Errorf("env %v: want a literal value (valueFrom cannot be checked)", m["name"])
			continue
		}
		manifest = append(manifest, [2]string{m["name"].(string), m["value"].(string)})
	}
	if file := readEnvFile(t); !slices.Equal(manifest, file) {
		t.Errorf("deployment.yaml env and authgate.env differ:\n manifest: %q\n file:     %q", manifest, file)
	}
}

// TestSidecarEnvLoads: the environment builds a valid environment-only
// configuration (.ci/configs checks the same with the built binary).
func TestSidecarEnvLoads(t *testing.T) {
	env := map[string]string{}
	for _, kv := range readEnvFile(t) {
		env[kv[0]] = kv[1]
	}
	cfg, err := config.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	if got := cfg.Routes[0].Upstream.URL; !strings.HasPrefix(got, "http://127.0.0.1:") {
		t.Errorf("upstream: got %q, want the app over loopback", got)
	}
	// The grace period must outlast the preStop pause plus shutdown.
	pod, c := sidecar(t)
	grace, _ := pod["terminationGracePeriodSeconds"].(int)
	pause, _ := at(c, "lifecycle", "preStop", "sleep", "seconds").(int)
	if need := time.Duration(pause)*time.Second + cfg.Server.ShutdownTimeout; time.Duration(grace)*time.Second <= need {
		t.Errorf("terminationGracePeriodSeconds: got %d, want more than preStop %ds + shutdown_timeout %s", grace, pause, cfg.Server.ShutdownTimeout)
	}
}

// TestSidecarHardening: probes on the admin port's /healthz and /readyz,
// and a container that runs non-root, read-only, unprivileged.
func TestSidecarHardening(t *testing.T) {
	pod, c := sidecar(t)
	for _, tc := range []struct {
		name string
		got  any
		want any
	}{
		{"livenessProbe path", at(c, "livenessProbe", "httpGet", "path"), "/healthz"},
		{"livenessProbe port", at(c, "livenessProbe", "httpGet", "port"), "admin"},
		{"readinessProbe path", at(c, "readinessProbe", "httpGet", "path"), "/readyz"},
		{"readinessProbe port", at(c, "readinessProbe", "httpGet", "port"), "admin"},
		{"pod runAsNonRoot", at(pod, "securityContext", "runAsNonRoot"), true},
		{"readOnlyRootFilesystem", at(c, "securityContext", "readOnlyRootFilesystem"), true},
		{"allowPrivilegeEscalation", at(c, "securityContext", "allowPrivilegeEscalation"), false},
		{"capabilities.drop", at(c, "securityContext", "capabilities", "drop", 0), "ALL"},
		{"memory limit set", at(c, "resources", "limits", "memory") != nil, true},
		{"cpu request set", at(c, "resources", "requests", "cpu") != nil, true},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

// TestDockerfileGoVersion: the build image's Go is go.mod's go line, so
// the container is built with the toolchain CI tests with.
func TestDockerfileGoVersion(t *testing.T) {
	mod := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(read(t, "go.mod"))
	from := regexp.MustCompile(`(?m)^FROM golang:(\S+?)(-\S+)? AS build$`).FindSubmatch(read(t, "Dockerfile"))
	if mod == nil || from == nil {
		t.Fatalf("go line %q, FROM golang line %q: want both", mod, from)
	}
	if string(mod[1]) != string(from[1]) {
		t.Errorf("Dockerfile golang:%s, go.mod go %s: want them equal", from[1], mod[1])
	}
}

// TestComposeImagesPinned: every image of docker-compose.yml names an
// exact version, and authgate mounts the configuration CI checks.
func TestComposeImagesPinned(t *testing.T) {
	docs := decode(t, "docker-compose.yml")
	services, _ := at(docs[0], "services").(map[string]any)
	if len(services) == 0 {
		t.Fatal("docker-compose.yml: no services")
	}
	pinned := regexp.MustCompile(`:v?\d+\.\d+\.\d+$`)
	for name, s := range services {
		img, _ := at(s, "image").(string)
		if at(s, "build") != nil {
			continue // built here from the Dockerfile
		}
		if !pinned.MatchString(img) {
			t.Errorf("service %s: image %q, want an exact version tag", name, img)
		}
	}
	vols := at(services["authgate"], "volumes")
	if !slices.Contains(anyStrings(vols), "./deploy/compose/authgate.yaml:/etc/authgate/authgate.yaml:ro") {
		t.Errorf("authgate volumes: got %v, want deploy/compose/authgate.yaml mounted", vols)
	}
	cmd := strings.Join(anyStrings(at(services["authgate"], "command")), " ")
	if cmd != "serve -config /etc/authgate/authgate.yaml" {
		t.Errorf("authgate command: got %q", cmd)
	}
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestComposeConfigLoads: the stack's configuration is valid, and its
// issuer is the one Keycloak's KC_HOSTNAME makes tokens carry.
func TestComposeConfigLoads(t *testing.T) {
	cfg, err := config.Load(filepath.Join(root, "deploy/compose/authgate.yaml"), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	services, _ := at(decode(t, "docker-compose.yml")[0], "services").(map[string]any)
	host, _ := at(services["keycloak"], "environment", "KC_HOSTNAME").(string)
	if want := host + "/realms/authgate"; cfg.Issuers[0].Issuer != want {
		t.Errorf("issuer: got %q, want %q (KC_HOSTNAME + realm)", cfg.Issuers[0].Issuer, want)
	}
}
