package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "": slog.LevelInfo, "INFO": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		got, err := ParseLevel(in)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q): got %v, %v, want %v", in, got, err, want)
		}
	}
	if _, err := ParseLevel("verbose"); err == nil {
		t.Error("ParseLevel(verbose): want an error")
	}
}

func TestFormats(t *testing.T) {
	level := new(slog.LevelVar)
	var buf bytes.Buffer
	New(&buf, "json", level).Info("hello", "k", "v")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["msg"] != "hello" || m["k"] != "v" {
		t.Errorf("json line: got %q (%v)", buf.String(), err)
	}

	// Text to a non-terminal: no colour escapes; a raised level filters.
	buf.Reset()
	lg := New(&buf, "text", level)
	lg.Info("plain")
	if strings.Contains(buf.String(), "\x1b[") || !strings.Contains(buf.String(), "plain") {
		t.Errorf("text line: got %q, want no escapes", buf.String())
	}
	buf.Reset()
	level.Set(slog.LevelWarn)
	lg.Info("hidden")
	if buf.Len() != 0 {
		t.Errorf("info at warn level: got %q, want nothing", buf.String())
	}
}

// TestJSONDurationsInSeconds is a regression test: the JSON handler wrote
// durations as nanoseconds ("duration":1200000), so every access line's
// duration was off by 1e9 for a log collector reading seconds (docs/reference.md §6).
func TestJSONDurationsInSeconds(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, "json", new(slog.LevelVar)).Info("request", "duration", 1200*time.Microsecond,
		slog.Group("g", slog.Duration("retry_in", 2*time.Second)))
	var m struct {
		Duration json.Number `json:"duration"`
		G        struct {
			RetryIn json.Number `json:"retry_in"`
		} `json:"g"`
	}
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m.Duration != "0.0012" {
		t.Errorf("duration: got %q, want %q", m.Duration, "0.0012")
	}
	if m.G.RetryIn != "2" {
		t.Errorf("g.retry_in: got %q, want %q", m.G.RetryIn, "2")
	}
}

// TestTextTime checks the text format's timestamp: RFC 3339 with
// milliseconds, so that lines of one request can be ordered and a
// container log's days told apart.
func TestTextTime(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, "text", new(slog.LevelVar)).Info("tick")
	stamp, _, _ := strings.Cut(buf.String(), " ")
	if _, err := time.Parse(TextTimeFormat, stamp); err != nil || len(stamp) != len("2006-01-02T15:04:05.000Z") && len(stamp) != len(TextTimeFormat) {
		t.Errorf("text time: got %q, want the layout %s (%v)", stamp, TextTimeFormat, err)
	}
}
