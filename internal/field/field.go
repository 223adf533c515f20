// Package field tags a configuration error with the field it is about,
// spelled as in the configuration file: upstream.url,
// jwks.min_refresh_interval, match.methods[1], forward.headers["X User"].
//
// Constructors (proxy.New, jwks.New, verify.NewIssuer, policy.New, …) are the
// one place each configuration rule is written. They return *Error values
// with paths relative to the options they were given; a caller that hands
// nested options on prefixes the paths (Prefix) as it goes, so that the
// configuration layer receives paths from the top of the file and only has
// to turn each into a file and a line.
package field

import (
	"errors"
	"fmt"
	"strconv"
)

// Error is one problem with one field. Its text is "PATH: MESSAGE", or the
// message alone when Path is empty (the options as a whole).
type Error struct {
	// Path names the field in configuration spelling, relative to the
	// options of the constructor that returned the error, then prefixed by
	// each caller that nested those options in its own.
	Path string
	// Err is the cause; its text is the message, which never repeats the
	// path.
	Err error
}

// Error formats e as "PATH: MESSAGE".
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

// Unwrap returns the cause, so errors.Is and errors.As see through e.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error at path whose message is fmt.Sprintf(format,
// args...); a %w verb wraps as fmt.Errorf does.
func Errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Err: fmt.Errorf(format, args...)}
}

// Prefix puts prefix in front of the path of every error in err: each
// *Error of a tree joined with errors.Join keeps its place under prefix, and
// any other error becomes an *Error at prefix itself. It returns nil for a
// nil err. Prefix("routes[2]", upstream.url: …) is routes[2].upstream.url: …
func Prefix(prefix string, err error) error {
	if err == nil {
		return nil
	}
	list := All(err)
	out := make([]error, len(list))
	for i, e := range list {
		out[i] = &Error{Path: Join(prefix, e.Path), Err: e.Err}
	}
	if len(out) == 1 {
		return out[0]
	}
	return errors.Join(out...)
}

// All flattens err, which may join errors with errors.Join at any depth,
// into its *Error values in order. An error that is not an *Error itself is
// returned as one with an empty Path. All(nil) is nil.
func All(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *Error:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, c := range e.Unwrap() {
				walk(c)
			}
		default:
			out = append(out, &Error{Err: err})
		}
	}
	walk(err)
	return out
}

// Join joins two paths: Join("routes[2]", "upstream.url") is
// routes[2].upstream.url, Join("match", "[1]") is match[1], and an empty
// side leaves the other as it is.
func Join(parent, child string) string {
	switch {
	case parent == "":
		return child
	case child == "":
		return parent
	case child[0] == '[':
		return parent + child
	}
	return parent + "." + child
}

// Index is the path of a list element: Index("issuers", 0) is issuers[0].
func Index(parent string, i int) string { return parent + "[" + strconv.Itoa(i) + "]" }

// Key is the path of a mapping entry: forward.headers.X-User for a plain
// key (letters, digits, '-' and '_'), forward.headers["X User"] for any
// other, quoted as strconv.Quote does.
func Key(parent, key string) string {
	plain := key != ""
	for _, c := range key {
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			plain = false
			break
		}
	}
	if !plain {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	return Join(parent, key)
}

// Quote quotes a configured value for a message, cut to 64 bytes so that a
// pasted secret or a huge value cannot flood the output.
func Quote(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "…"
	}
	return strconv.Quote(s)
}

var _ error = (*Error)(nil)
