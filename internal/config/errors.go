package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/authgate/authgate/internal/field"
)

// FieldError is one configuration problem. Its Error text is
// "FILE:LINE: PATH: MSG"; the line is left out when unknown (0) and the path
// when the problem is not about one field (a YAML syntax error). Load, Parse,
// FromEnv and Config.Locate return them joined with errors.Join, sorted by
// line, so callers may errors.As each one.
type FieldError struct {
	File string // the file name, or "environment" in environment-only mode
	Line int    // 1-based line in File, 0 when unknown
	Path string // field path such as routes[2].upstream.url, or a variable name
	Msg  string

	// err is the constructor's error Msg was made from, if any, so that
	// errors.Is and errors.As see through a located error (Unwrap).
	err error
}

// Unwrap returns the constructor's error e was made from, or nil.
func (e *FieldError) Unwrap() error { return e.err }

// plain is e without its cause: the comparable form two errors of equal
// text share, for the maps that tell an error already reported.
func (e FieldError) plain() FieldError {
	e.err = nil
	return e
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

// problems collects FieldErrors and warnings while a configuration is checked.
type problems struct {
	loc      *locator
	errs     []*FieldError
	warnings []*FieldError
}

func (p *problems) add(path, format string, args ...any) {
	p.errs = append(p.errs, p.loc.at(path, fmt.Sprintf(format, args...)))
}

// addErr adds every error in err, a constructor's (see package field),
// under prefix: addErr("routes[2]", upstream.url: …) reports
// routes[2].upstream.url.
func (p *problems) addErr(prefix string, err error) {
	for _, e := range field.All(field.Prefix(prefix, err)) {
		fe := p.loc.at(configPath(e.Path), e.Err.Error())
		fe.err = e.Err
		p.errs = append(p.errs, fe)
	}
}

func (p *problems) warn(path, format string, args ...any) {
	p.warnings = append(p.warnings, p.loc.at(path, fmt.Sprintf(format, args...)))
}

// joinSorted joins errs in line order; errors without a line come last, in
// the order they were found. An error equal to an earlier one is left out:
// two constructors may refuse one field for one reason (an empty issuer is
// refused by the key cache and by the verifier alike), and a value that
// several routes inherit breaks the same rule in each. It returns nil for
// none.
func joinSorted(errs []*FieldError) error {
	sortByLine(errs)
	seen := make(map[FieldError]bool, len(errs))
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		k := e.plain() // equal text from two constructors is one error
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
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

// Locate places the errors in err in c's source as Load places its own: each
// *field.Error (see package field; gateway.Build returns constructors'
// errors with paths from the top of the configuration, routes[2].upstream.url)
// becomes a *FieldError with the line of the field, or the environment
// variable that set it, and any other error one about the configuration as a
// whole. The result is nil for a nil err, and otherwise joins *FieldError
// values sorted by line. The path realm, as proxy.Options spells it, is
// server.realm.
func (c *Config) Locate(err error) error {
	if err == nil {
		return nil
	}
	loc := c.loc
	if loc == nil { // built in code rather than loaded
		loc = newLocator(cmp.Or(c.Source, "configuration"))
	}
	p := &problems{loc: loc}
	p.addErr("", err)
	return joinSorted(p.errs)
}

// configPath turns a path in the spelling of an options struct this
// package fills (ProxyOptions) into the configuration's: proxy.Options.Realm
// is server.realm; every other path is spelled alike already.
func configPath(path string) string {
	if path == "realm" {
		return "server.realm"
	}
	return path
}

var _ error = (*FieldError)(nil)

// LocateMore adds the errors of a later phase to those of Diagnose, for a
// check that reports everything in one run: more (gateway.Build's, run on
// the Config Diagnose returned) is placed as Locate places errors, and an
// error of more at a field that prev already reports, or inside one, is
// left out as a consequence of that one. The result joins prev's errors and
// the rest in line order; it is nil when both are. So is one inside a
// field that loading left out as a repeat (the field a misspelt key was
// meant to be).
func (c *Config) LocateMore(prev, more error) error {
	errs := flatten(prev, nil)
	var add []*FieldError
	var blocked []string
	if c.loc != nil {
		blocked = c.loc.blocked
	}
	for _, e := range flatten(more, c) {
		if !reportedAt(e, errs) && !(e.File != envSource && blockedBy(e.Path, blocked)) {
			add = append(add, e)
		}
	}
	return joinSorted(append(errs, add...))
}

// flatten unwraps a joined error into FieldErrors; a piece that is not one
// is placed by c.Locate (or, with c nil, kept as a message about the whole).
func flatten(err error, c *Config) []*FieldError {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*FieldError
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e, c)...)
		}
		return out
	}
	var fe *FieldError
	switch {
	case errors.As(err, &fe):
		return []*FieldError{fe}
	case c != nil:
		return flatten(c.Locate(err), nil)
	}
	return []*FieldError{{File: "configuration", Msg: err.Error()}}
}

// reportedAt reports whether one of errs is about e's field or a field e's
// lies inside, in the same source.
func reportedAt(e *FieldError, errs []*FieldError) bool {
	for _, r := range errs {
		if r.File == e.File && r.Path != "" && blockedBy(e.Path, []string{r.Path}) {
			return true
		}
	}
	return false
}
