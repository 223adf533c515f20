package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// FieldError is one configuration problem. Its Error text is
// "FILE:LINE: PATH: MSG"; the line is left out when unknown (0) and the path
// when the problem is not about one field (a YAML syntax error). Load, Parse,
// FromEnv and Validate return them joined with errors.Join, sorted by line, so
// callers may errors.As each one.
type FieldError struct {
	File string // the file name, or "environment" in environment-only mode
	Line int    // 1-based line in File, 0 when unknown
	Path string // field path such as routes[2].upstream.url, or a variable name
	Msg  string
}

// Error formats e as "FILE:LINE: PATH: MSG".
func (e *FieldError) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if e.Path != "" {
		s += ": " + e.Path
	}
	return s + ": " + e.Msg
}

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

// problems collects FieldErrors and warnings while a configuration is checked.
type problems struct {
	loc      *locator
	errs     []*FieldError
	warnings []*FieldError
}

func (p *problems) add(path, format string, args ...any) {
	p.errs = append(p.errs, p.loc.at(path, fmt.Sprintf(format, args...)))
}

func (p *problems) warn(path, format string, args ...any) {
	p.warnings = append(p.warnings, p.loc.at(path, fmt.Sprintf(format, args...)))
}

// joinSorted joins errs in line order; errors without a line come last, in
// the order they were found. It returns nil for none.
func joinSorted(errs []*FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	sortByLine(errs)
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

func sortByLine(errs []*FieldError) {
	slices.SortStableFunc(errs, func(a, b *FieldError) int {
		switch {
		case a.Line == b.Line:
			return 0
		case a.Line == 0:
			return 1
		case b.Line == 0:
			return -1
		}
		return cmp.Compare(a.Line, b.Line)
	})
}

// renderWarnings renders warnings the way Config.Warnings holds them, in
// line order.
func renderWarnings(ws []*FieldError) []string {
	sortByLine(ws)
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Error()
	}
	return out
}

// indexPath and keyPath build field paths: issuers[0], forward.headers.X-User
// (or forward.headers["odd key"] when the key is not a plain word).
func indexPath(parent string, i int) string { return parent + "[" + strconv.Itoa(i) + "]" }

func keyPath(parent, key string) string {
	plain := key != ""
	for _, c := range key {
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			plain = false
			break
		}
	}
	switch {
	case !plain:
		return parent + "[" + strconv.Quote(key) + "]"
	case parent == "":
		return key
	}
	return parent + "." + key
}

var _ error = (*FieldError)(nil)
