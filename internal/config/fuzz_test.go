package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics and every error it returns starts with the
// file name. (That gateway.Build accepts whatever Parse accepts is
// gateway's FuzzBuildAcceptsParsed, seeded from the same inputs.)
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	seeds = append(seeds, "../../config.example.yaml")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(issuersBlock + "routes:\n  - { name: a, match: { path: /a }, upstream: { url: \"http://${H}:$$1\" } }\n"))
	f.Add([]byte("a: &a { <<: *a }\n"))
	f.Add([]byte("server: { max_header_bytes: ${N} }\n---\n"))
	env := mapEnv(map[string]string{"API_AUDIENCE": "api", "H": "host", "N": "1"})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse("f.yaml", data, env)
		for _, line := range errLines(err) {
			if !strings.HasPrefix(line, "f.yaml") && !strings.HasPrefix(line, "environment") {
				t.Fatalf("got error line %q, want it to start with the file name", line)
			}
		}
	})
}
