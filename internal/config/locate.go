package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/authgate/authgate/internal/field"
)

// envSource is the File of errors and warnings about the environment.
const envSource = "environment"

// locator turns field paths into error positions: a line in the file where
// the decoder saw the field, or the environment variable that set it.
type locator struct {
	file string
	// lines maps a field path to the line of its key (or of the item, for
	// list elements). It also records which fields the file set at all.
	lines map[string]int
	// present holds the paths whose value in the file is not null; defaults
	// apply to the others.
	present map[string]bool
	// vars maps a field path to the environment variable that set it
	// (§2.2 overrides, §2.3 environment-only mode).
	vars map[string]string
	// inherited holds the route field paths whose value was merged in from
	// the defaults block (see mergeDefaults).
	inherited map[string]bool
	// blocked are the fields whose problems are already reported another
	// way (see blockedBy), for Config.LocateMore.
	blocked []string
}

func newLocator(file string) *locator {
	return &locator{file: file, lines: map[string]int{}, present: map[string]bool{}, vars: map[string]string{},
		inherited: map[string]bool{}}
}

// isSet reports whether the file or the environment gave path a non-null
// value.
func (l *locator) isSet(path string) bool {
	_, env := l.vars[path]
	return l.present[path] || env
}

// at builds the FieldError for path. A field set by an environment variable
// (or inside one, like an item of a list variable) is reported under that
// variable's name; otherwise the line is the field's, or its nearest
// ancestor's when the field itself is absent (a default, or a required field
// left out), so the reader still lands on the right block.
func (l *locator) at(path, msg string) *FieldError {
	for p := path; p != ""; p = parentPath(p) {
		if v, ok := l.vars[p]; ok {
			return &FieldError{File: envSource, Path: v, Msg: msg}
		}
		if line, ok := l.lines[p]; ok {
			return &FieldError{File: l.file, Line: line, Path: path, Msg: msg}
		}
	}
	return &FieldError{File: l.file, Path: path, Msg: msg}
}

// parentPath strips the last element of a field path: routes[2].upstream.url
// → routes[2].upstream → routes[2] → routes → "".
func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case '.':
			return p[:i]
		case '[':
			if i > 0 {
				return p[:i]
			}
			return ""
		case '"':
			// Skip a quoted map key, which may itself hold dots or brackets.
			if j := lastUnescapedQuote(p[:i]); j > 0 && p[j-1] == '[' {
				i = j
			}
		}
	}
	return ""
}

// lastUnescapedQuote returns the index of the last '"' in s not preceded by
// a backslash, or -1.
func lastUnescapedQuote(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '"' && (i == 0 || s[i-1] != '\\') {
			return i
		}
	}
	return -1
}

// own reports whether the route field at path (routes[i].auth.scopes) holds
// what the route itself wrote, rather than a value inherited from defaults.
func (l *locator) own(path string) bool { return !l.inherited[path] }

// defaultsPath returns the path in the defaults block that the route field
// at path inherited its value from (defaults.forward.headers.Host for
// routes[2].forward.headers.Host), or "" if the route wrote it itself.
func (l *locator) defaultsPath(path string) string {
	rest, ok := strings.CutPrefix(path, "routes[")
	if !ok {
		return ""
	}
	n, rest, ok := strings.Cut(rest, "].")
	if _, err := strconv.Atoi(n); !ok || err != nil {
		return ""
	}
	rp := "routes[" + n + "]."
	for f := range l.inherited {
		name, ok := strings.CutPrefix(f, rp)
		if ok && (rest == name || strings.HasPrefix(rest, name+".") || strings.HasPrefix(rest, name+"[")) {
			return "defaults." + rest
		}
	}
	return ""
}

// routeCheck collects the problems of one route, its constructors' and its
// own, and adds them in the order of the route's blocks (name, match,
// upstream, auth, forward), whichever check found them. It leaves out two
// kinds: one at a field inherited from the defaults block that the block,
// checked on its own, has already reported (atDefaults), so that a bad
// default is reported once, at its line, however many routes inherit it;
// and one at a field whose mapping to the constructor's options failed
// (mapped), so that a route with an upstream URL that does not parse is
// not also one without an upstream.
type routeCheck struct {
	p          *problems
	atDefaults map[FieldError]bool
	mapped     map[string]bool
	buf        []*field.Error
}

// addMapping adds the error of Route.ProxyRoute for the route at rp.
func (rc *routeCheck) addMapping(rp string, err error) {
	for _, e := range field.All(field.Prefix(rp, err)) {
		rc.mapped[e.Path] = true
		rc.buf = append(rc.buf, e)
	}
}

// add adds a constructor's errors under prefix.
func (rc *routeCheck) add(prefix string, err error) {
	for _, e := range field.All(field.Prefix(prefix, err)) {
		if !rc.mapped[e.Path] {
			rc.buf = append(rc.buf, e)
		}
	}
}

// addf adds a problem this package finds.
func (rc *routeCheck) addf(path, format string, args ...any) {
	rc.buf = append(rc.buf, field.Errorf(path, format, args...))
}

// flush adds what was collected for the route at rp, in block order.
func (rc *routeCheck) flush(rp string) {
	slices.SortStableFunc(rc.buf, func(a, b *field.Error) int {
		return cmp.Compare(blockOrder(rp, a.Path), blockOrder(rp, b.Path))
	})
	for _, e := range rc.buf {
		if d := rc.p.loc.defaultsPath(e.Path); d != "" && rc.atDefaults[*rc.p.loc.at(d, e.Err.Error())] {
			continue
		}
		rc.p.addErr("", e)
	}
	rc.buf = rc.buf[:0]
}

// routeBlocks are a route's blocks in the order a route is written.
var routeBlocks = []string{"name", "match", "upstream", "auth", "forward"}

// blockOrder is the place of the block of the route at rp that path is in,
// or len(routeBlocks) for any other path.
func blockOrder(rp, path string) int {
	rest, ok := strings.CutPrefix(path, rp+".")
	if !ok || rp == "" {
		return len(routeBlocks)
	}
	block, _, _ := strings.Cut(rest, ".")
	block, _, _ = strings.Cut(block, "[")
	if i := slices.Index(routeBlocks, block); i >= 0 {
		return i
	}
	return len(routeBlocks)
}
