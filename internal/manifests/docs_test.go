package manifests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/authgate/authgate/internal/config"
)

// docFiles are the Markdown files whose links TestDocLinks follows, relative
// to the repository root.
func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md", "SECURITY.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("no docs/*.md found")
	}
	for _, d := range docs {
		rel, err := filepath.Rel(root, d)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, filepath.ToSlash(rel))
	}
	return files
}

var (
	// mdLink is an inline Markdown link or image: [text](target).
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// fence opens or closes a fenced code block, whose text holds no links.
	fence = regexp.MustCompile("^\\s*```")
	// inlineCode is a code span, whose text holds no links either.
	inlineCode = regexp.MustCompile("`[^`]*`")
	heading    = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*#*\s*$`)
)

// prose returns the lines of a Markdown file with those of fenced code
// blocks blanked, so that indexes stay line numbers.
func prose(text string) []string {
	lines := strings.Split(text, "\n")
	in := false
	for i, line := range lines {
		if fence.MatchString(line) {
			in = !in
			lines[i] = ""
		} else if in {
			lines[i] = ""
		}
	}
	return lines
}

// slug is the anchor GitHub gives a heading: lower case, everything but
// letters, digits, '-' and '_' dropped, spaces turned into '-'.
func slug(h string) string {
	h = strings.ToLower(strings.ReplaceAll(h, "`", ""))
	var b strings.Builder
	for _, r := range h {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors are the heading anchors of a Markdown file.
func anchors(text string) map[string]bool {
	set := map[string]bool{}
	for _, line := range prose(text) {
		if m := heading.FindStringSubmatch(line); m != nil {
			s := slug(m[1])
			for i := 1; set[s]; i++ { // GitHub numbers repeated headings
				s = fmt.Sprintf("%s-%d", slug(m[1]), i)
			}
			set[s] = true
		}
	}
	return set
}

// TestDocLinks: every relative link in the README, SECURITY.md and docs/
// points at a file of the repository, and a #fragment at one of the target
// Markdown file's headings. A moved section breaks its links silently
// otherwise.
func TestDocLinks(t *testing.T) {
	for _, file := range docFiles(t) {
		text := string(read(t, file))
		for n, line := range prose(text) {
			line = inlineCode.ReplaceAllString(line, "")
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				path, frag, _ := strings.Cut(target, "#")
				resolved := file
				if path != "" {
					resolved = filepath.ToSlash(filepath.Join(filepath.Dir(file), path))
					if _, err := os.Stat(filepath.Join(root, resolved)); err != nil {
						t.Errorf("%s:%d: link %q: no such file %s", file, n+1, target, resolved)
						continue
					}
				}
				if frag == "" || !strings.HasSuffix(resolved, ".md") {
					continue
				}
				if !anchors(string(read(t, resolved)))[frag] {
					t.Errorf("%s:%d: link %q: %s has no heading with anchor #%s", file, n+1, target, resolved, frag)
				}
			}
		}
	}
}

// TestSlug pins the anchor rule to headings this repository uses.
func TestSlug(t *testing.T) {
	for _, tc := range []struct{ name, heading, want string }{
		{"numbered", "3.3 Verification, in this order", "33-verification-in-this-order"},
		{"sidecar", "2.3 Environment-only mode (sidecar)", "23-environment-only-mode-sidecar"},
		{"code", "Troubleshooting with `authgate explain`", "troubleshooting-with-authgate-explain"},
		{"colon", "docker compose: the whole stack on one machine", "docker-compose-the-whole-stack-on-one-machine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := slug(tc.heading); got != tc.want {
				t.Errorf("slug(%q): got %q, want %q", tc.heading, got, tc.want)
			}
		})
	}
}

// TestReadmeQuickStartLoads: the README's Kinde quick start is a valid
// configuration as printed, so a new user's first file loads.
func TestReadmeQuickStartLoads(t *testing.T) {
	readme := string(read(t, "README.md"))
	const start = "```yaml\n# authgate.yaml\n"
	i := strings.Index(readme, start)
	if i < 0 {
		t.Fatal("README.md has no ```yaml block starting with # authgate.yaml")
	}
	body := readme[i+len("```yaml\n"):]
	body = body[:strings.Index(body, "```")]
	cfg, err := config.Parse("authgate.yaml", []byte(body), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	is := cfg.Issuers[0]
	if strings.HasSuffix(is.Issuer, "/") {
		t.Errorf("issuer: got %q, want no trailing slash (Kinde's iss has none)", is.Issuer)
	}
	if got := strings.Join(is.ScopeClaims, ","); got != "permissions" {
		t.Errorf("scope_claims: got %q, want %q", got, "permissions")
	}
}
