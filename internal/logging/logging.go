// Package logging builds the gateway's slog.Logger: text through tint (colour
// only when the output is a terminal) or JSON, at a level that a configuration
// reload can change.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/lmittmann/tint"
)

// ParseLevel maps the configuration's level names (debug, info, warn, error)
// to slog levels.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", s)
}

// New returns a logger writing to w in format "text" (tint; colour only when
// w is a terminal, see IsTerminal) or "json" at the level
// held by level, which callers may change later (e.g. on reload). In JSON,
// every duration is a number of seconds ("duration":0.0012), as docs/reference.md §6
// requires; slog's JSON handler alone writes nanoseconds.
func New(w io.Writer, format string, level *slog.LevelVar) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: secondsDurations}))
	}
	return slog.New(tint.NewHandler(w, &tint.Options{
		Level:      level,
		TimeFormat: TextTimeFormat,
		NoColor:    !IsTerminal(w),
	}))
}

// TextTimeFormat is the text format's timestamp: RFC 3339 with exactly
// three fractional digits (2026-12-01T12:15:26.042Z). A date keeps lines
// from different days apart in a container log, the fixed width keeps
// columns aligned, and milliseconds are enough to order a request's lines;
// JSON keeps slog's full RFC 3339 nanosecond time.
const TextTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// secondsDurations is a ReplaceAttr that turns duration values into
// float seconds.
func secondsDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.Float64(a.Key, a.Value.Duration().Seconds())
	}
	return a
}

// IsTerminal reports whether v, a reader or writer, is a character device
// (an *os.File on a terminal). Without a terminal, colour escapes would only
// pollute files, pipes and log collectors; the log's text format and
// `authgate explain` both ask it before colouring.
func IsTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
