package human

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{15 * time.Minute, "15m"},
		{24 * time.Hour, "24h"},
		{90 * time.Second, "1m30s"},
		{100 * time.Millisecond, "100ms"},
		{time.Hour + 30*time.Second, "1h0m30s"},
		{0, "0s"},
	}
	for _, tt := range tests {
		if got := Duration(tt.d); got != tt.want {
			t.Errorf("Duration(%v): got %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestAge(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{1500 * time.Millisecond, "2s"},
		{-(3*time.Minute + 12*time.Second), "3m12s"},
		{2 * time.Minute, "2m"},
		{time.Minute + 10*time.Second, "1m10s"},
		{time.Hour, "1h"},
		{time.Hour + 10*time.Minute, "1h10m"},
		{49 * time.Hour, "49h"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := Age(tc.d); got != tc.want {
				t.Errorf("Age(%v): got %q, want %q", tc.d, got, tc.want)
			}
		})
	}
}
