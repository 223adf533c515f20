package gateway_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docMetricRE finds metric names in prose and code blocks alike.
var docMetricRE = regexp.MustCompile(`\bauthgate_[a-z_]+[a-z]\b`)

// TestMetricRefsDocs: every metric name the README and docs/ mention is one
// the gateway exposes, and the reference's metric table lists every family,
// so a renamed metric cannot linger in the documentation.
func TestMetricRefsDocs(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil || len(files) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	files = append(files, "../../README.md")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range docMetricRE.FindAllString(string(b), -1) {
			if family, _ := metricFamily(name); contractMetrics[family].typ == "" {
				t.Errorf("%s: %s is not a metric authgate exposes", filepath.Base(f), name)
			}
		}
	}
	ref, err := os.ReadFile("../../docs/reference.md")
	if err != nil {
		t.Fatal(err)
	}
	for family, m := range contractMetrics {
		if row := "| `" + family + "` | " + m.typ + " |"; !strings.Contains(string(ref), row) {
			t.Errorf("docs/reference.md: no metric table row %q", row)
		}
	}
}
