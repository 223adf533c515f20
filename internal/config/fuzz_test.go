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

// FuzzSyntaxHint: the indentation reading behind YAML syntax hints never
// panics, and a line it names is one of the file's.
func FuzzSyntaxHint(f *testing.F) {
	f.Add([]byte("issuers:\n  - name: a\n    issuer: x\n   audiences: [a]\n"), 1, "did not find expected '-' indicator")
	f.Add([]byte("server:\n\tlisten: x\n"), 2, "found character that cannot start any token")
	f.Add([]byte("a:\n  b: 1\n\t\n"), 2, "found a tab character that violates indentation")
	f.Add([]byte("a: b: c\n"), 0, "mapping values are not allowed in this context")
	f.Fuzz(func(t *testing.T, data []byte, line int, msg string) {
		got, _ := syntaxHint(data, line, msg)
		if n := strings.Count(string(data), "\n") + 1; got != line && (got < 1 || got > n) {
			t.Fatalf("line %d of a %d-line file", got, n)
		}
	})
}
